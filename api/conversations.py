"""Conversation state in Redis: chat history, hand-off tickets, feedback, and an event channel.

Keys (prefix from settings):
  {p}:chat:{sid}          list of JSON history entries (bounded, expires with the session)
  {p}:handoff:{sid}       id of the open ticket while a human has the conversation
  {p}:ticket:{id}         JSON ticket
  {p}:tickets:open        sorted set of open ticket ids by creation time
  {p}:tickets:all         sorted set of all ticket ids
  {p}:feedback            list of JSON feedback records
  {p}:unanswered          list of JSON questions the bot declined (capped), for admin insights
  {p}:events              pub/sub channel (ticket opened/closed, operator messages) for live consoles
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field

from api.chat_messages import ChatMessage
from knowledge.settings import Settings


class HistoryEntry(BaseModel):
    role: Literal["user", "bot", "operator", "system"]
    ts: float = Field(default_factory=time.time)
    text: str
    message: ChatMessage | None = None  # bot/operator messages keep kind, citations and buttons
    delivered: bool = True  # a user message Rasa never received (it was down) is kept, marked undelivered


class Ticket(BaseModel):
    id: str
    session_id: str
    status: Literal["open", "closed"] = "open"
    reason: str = ""
    profile: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)
    closed_at: float | None = None
    closed_by: str | None = None
    assigned_to: str | None = None


class Feedback(BaseModel):
    session_id: str
    message_id: str | None = None
    rating: Literal["up", "down"]
    comment: str | None = None
    question: str | None = None
    answer: str | None = None
    ts: float = Field(default_factory=time.time)


class Unanswered(BaseModel):
    question: str
    reason: str | None = None
    region: str | None = None
    ts: float = Field(default_factory=time.time)


UNANSWERED_KEPT = 5000


class ConversationStore:
    def __init__(self, settings: Settings, client: redis.Redis | None = None):
        self.settings = settings
        self.redis = client or redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.p = settings.redis_prefix

    # --- history -------------------------------------------------------------------------------
    def _chat_key(self, session_id: str) -> str:
        return f"{self.p}:chat:{session_id}"

    def append(self, session_id: str, *entries: HistoryEntry) -> None:
        if not entries:
            return
        key = self._chat_key(session_id)
        with self.redis.pipeline() as pipe:
            pipe.rpush(key, *[e.model_dump_json() for e in entries])
            pipe.ltrim(key, -self.settings.history_limit, -1)
            pipe.expire(key, self.settings.session_ttl_seconds)
            pipe.execute()

    def history(self, session_id: str) -> list[HistoryEntry]:
        return [
            HistoryEntry.model_validate_json(raw)
            for raw in self.redis.lrange(self._chat_key(session_id), 0, -1)
        ]

    def mark_last_delivered(self, session_id: str, text: str) -> bool:
        """A retried message that was kept as undelivered is marked delivered instead of stored twice."""
        key = self._chat_key(session_id)
        tail = self.redis.lrange(key, -5, -1)  # the bot may already have added entries after it (hand-off)
        for offset, raw in enumerate(reversed(tail), start=1):
            entry = HistoryEntry.model_validate_json(raw)
            if entry.role != "user":
                continue
            if not entry.delivered and entry.text == text:
                entry.delivered = True
                self.redis.lset(key, -offset, entry.model_dump_json())
                return True
            return False
        return False

    def last_bot_answer(self, session_id: str) -> HistoryEntry | None:
        for entry in reversed(self.history(session_id)):
            if entry.role == "bot" and entry.message and entry.message.kind == "answer":
                return entry
        return None

    # --- Rasa conversation epochs -------------------------------------------------------------------
    def _epoch(self, session_id: str) -> tuple[int, int]:
        epoch, turns = self.redis.hmget(f"{self.p}:epoch:{session_id}", "epoch", "turns")
        return int(epoch or 0), int(turns or 0)

    @staticmethod
    def _sender(session_id: str, epoch: int) -> str:
        return session_id if epoch == 0 else f"{session_id}~{epoch}"

    def rasa_sender(self, session_id: str) -> tuple[str, int]:
        """The Rasa conversation id for this session now, and how many turns it has had."""
        epoch, turns = self._epoch(session_id)
        return self._sender(session_id, epoch), turns

    def upcoming_sender(self, session_id: str) -> str:
        """The id the next epoch will use, so it can be prepared before the switch is committed."""
        return self._sender(session_id, self._epoch(session_id)[0] + 1)

    def count_turn(self, session_id: str) -> None:
        key = f"{self.p}:epoch:{session_id}"
        with self.redis.pipeline() as pipe:
            pipe.hincrby(key, "turns", 1)
            pipe.expire(key, self.settings.session_ttl_seconds)
            pipe.execute()

    def next_epoch(self, session_id: str) -> str:
        key = f"{self.p}:epoch:{session_id}"
        with self.redis.pipeline() as pipe:
            pipe.hincrby(key, "epoch", 1)
            pipe.hset(key, "turns", 0)
            pipe.expire(key, self.settings.session_ttl_seconds)
            epoch = pipe.execute()[0]
        return self._sender(session_id, epoch)

    # --- hand-off ------------------------------------------------------------------------------
    def active_ticket(self, session_id: str) -> Ticket | None:
        ticket_id = self.redis.get(f"{self.p}:handoff:{session_id}")
        return self.get_ticket(ticket_id) if ticket_id else None

    def open_ticket(self, session_id: str, reason: str, profile: dict[str, Any]) -> Ticket:
        existing = self.active_ticket(session_id)
        if existing and existing.status == "open":
            return existing  # asking twice must not queue the resident twice
        ticket = Ticket(id=uuid.uuid4().hex[:12], session_id=session_id, reason=reason, profile=profile)
        with self.redis.pipeline() as pipe:
            pipe.set(f"{self.p}:ticket:{ticket.id}", ticket.model_dump_json())
            pipe.zadd(f"{self.p}:tickets:open", {ticket.id: ticket.created_at})
            pipe.zadd(f"{self.p}:tickets:all", {ticket.id: ticket.created_at})
            pipe.set(f"{self.p}:handoff:{session_id}", ticket.id, ex=self.settings.session_ttl_seconds)
            pipe.execute()
        self.publish("ticket_opened", ticket.model_dump())
        return ticket

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        raw = self.redis.get(f"{self.p}:ticket:{ticket_id}")
        return Ticket.model_validate_json(raw) if raw else None

    def list_tickets(
        self, status: Literal["open", "closed", "all"] = "open", limit: int = 100
    ) -> list[Ticket]:
        key = f"{self.p}:tickets:{'open' if status == 'open' else 'all'}"
        ids = self.redis.zrevrange(key, 0, limit - 1)
        tickets = [t for t in (self.get_ticket(i) for i in ids) if t is not None]
        return [t for t in tickets if status == "all" or t.status == status]

    def save_ticket(self, ticket: Ticket) -> None:
        self.redis.set(f"{self.p}:ticket:{ticket.id}", ticket.model_dump_json())

    def close_ticket(self, ticket: Ticket, by: str | None) -> Ticket:
        ticket.status, ticket.closed_at, ticket.closed_by = "closed", time.time(), by
        with self.redis.pipeline() as pipe:
            pipe.set(f"{self.p}:ticket:{ticket.id}", ticket.model_dump_json())
            pipe.zrem(f"{self.p}:tickets:open", ticket.id)
            pipe.delete(f"{self.p}:handoff:{ticket.session_id}")
            pipe.execute()
        self.publish("ticket_closed", ticket.model_dump())
        return ticket

    # --- feedback and events ---------------------------------------------------------------------
    def add_feedback(self, feedback: Feedback) -> None:
        self.redis.rpush(f"{self.p}:feedback", feedback.model_dump_json())

    def feedback(self, limit: int = 500) -> list[Feedback]:
        return [Feedback.model_validate_json(r) for r in self.redis.lrange(f"{self.p}:feedback", -limit, -1)]

    def record_unanswered(self, item: Unanswered) -> None:
        key = f"{self.p}:unanswered"
        with self.redis.pipeline() as pipe:
            pipe.rpush(key, item.model_dump_json())
            pipe.ltrim(key, -UNANSWERED_KEPT, -1)
            pipe.execute()

    def unanswered(self, limit: int = 1000) -> list[Unanswered]:
        return [
            Unanswered.model_validate_json(r) for r in self.redis.lrange(f"{self.p}:unanswered", -limit, -1)
        ]

    def publish(self, event: str, data: dict[str, Any]) -> None:
        self.redis.publish(
            f"{self.p}:events", json.dumps({"event": event, "data": data}, ensure_ascii=False, default=str)
        )
