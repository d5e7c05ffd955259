"""Conversation state in Redis: chat history, hand-off tickets, feedback, and an event channel.

Keys (prefix from settings):
  {p}:chat:{sid}          list of JSON history entries (bounded, expires with the session; append-only)
  {p}:chat:{sid}:pending  hash entry id → "sending" | "failed": resident messages not (yet) delivered to Rasa
  {p}:handoff:{sid}       id of the open ticket while a human has the conversation
  {p}:ticket:{id}         JSON ticket (open: kept; closed: expires handoff_retention_days after closing)
  {p}:tickets:open        sorted set of open ticket ids by creation time
  {p}:tickets:all         sorted set of all ticket ids by creation time (closed ones leave with their ticket)
  {p}:tickets:closed      sorted set of closed ticket ids by closing time (to drop them from tickets:all)
  {p}:feedback            list of JSON feedback records (capped, each kept insights_retention_days)
  {p}:unanswered          list of JSON questions the bot declined (capped, each kept insights_retention_days)
  {p}:pii:{sid}:{ref}     one personal value as the resident typed it (expires after pii_reveal_ttl_seconds)
  {p}:events              pub/sub channel (ticket opened/closed, operator messages) for live consoles

Personal data (knowledge/privacy.py) is masked here, on every write of resident text: history entries of
role "user", ticket reasons and profiles, feedback questions and comments, declined questions. Reads mask
again, so records written before masking existed never leave the store in clear. The clear value of each
masked span in a resident's message is kept only in its own short-lived key, for an operator to reveal.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field

from api.chat_messages import ChatMessage
from knowledge.privacy import Kind, mask, mask_data, redact
from knowledge.settings import Settings

# Drops list records older than ARGV[1] from the head (records are appended in time order), atomically.
_PRUNE_OLDER = """
local dropped = 0
while dropped < 1000 do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local ok, item = pcall(cjson.decode, head)
  if ok and type(item) == 'table' and type(item.ts) == 'number' and item.ts >= tonumber(ARGV[1]) then break end
  redis.call('LPOP', KEYS[1])
  dropped = dropped + 1
end
return dropped
"""
# Claims a message that failed to reach the dialogue for its resend: only one concurrent resend gets it.
_CLAIM_FAILED = """
if redis.call('HGET', KEYS[1], ARGV[1]) == 'failed' then
  redis.call('HSET', KEYS[1], ARGV[1], 'sending')
  return 1
end
return 0
"""
# Marks a message that is still being sent as failed (never one already delivered).
_MARK_FAILED = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], 'failed')
  return 1
end
return 0
"""


class MaskedValue(BaseModel):
    """A masked personal value inside an entry's text; ``ref`` lets an operator reveal it (audited)."""

    ref: str
    kind: Kind
    start: int
    end: int
    masked: str


class HistoryEntry(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    role: Literal["user", "bot", "operator", "system"]
    ts: float = Field(default_factory=time.time)
    text: str
    message: ChatMessage | None = None  # bot/operator messages keep kind, citations and buttons
    # False while a resident's message is on its way to Rasa, and when Rasa never received it (it was down):
    # such a message is kept, and a resend of it is not stored twice. Kept beside the list, by entry id
    # (``{p}:chat:{sid}:pending``), so concurrent turns never rewrite each other's entries.
    delivered: bool = True
    masked: list[MaskedValue] = Field(default_factory=list)  # personal values masked in ``text``


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


class ConversationStore:
    def __init__(self, settings: Settings, client: redis.Redis | None = None):
        self.settings = settings
        self.redis = client or redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.p = settings.redis_prefix
        self._prune = self.redis.register_script(_PRUNE_OLDER)
        self._claim_failed = self.redis.register_script(_CLAIM_FAILED)
        self._mark_failed = self.redis.register_script(_MARK_FAILED)

    # --- personal data -----------------------------------------------------------------------------
    def _pii_key(self, session_id: str, ref: str) -> str:
        return f"{self.p}:pii:{session_id}:{ref}"

    def resident_entry(self, session_id: str, text: str, delivered: bool = True) -> HistoryEntry:
        """A resident's message as it may be stored and forwarded: personal values masked.

        Each value as typed goes to its own key that expires after ``pii_reveal_ttl_seconds``; the entry
        carries only the masks and their refs, which operators may reveal one at a time."""
        redaction = redact(text)
        masked = [
            MaskedValue(ref=uuid.uuid4().hex[:16], kind=s.kind, start=s.start, end=s.end, masked=s.masked)
            for s in redaction.spans
        ]
        if masked:
            with self.redis.pipeline() as pipe:
                for ref, span in zip(masked, redaction.spans, strict=True):
                    pipe.set(
                        self._pii_key(session_id, ref.ref),
                        json.dumps({"kind": span.kind, "value": span.value}, ensure_ascii=False),
                        ex=self.settings.pii_reveal_ttl_seconds,
                    )
                pipe.execute()
        return HistoryEntry(role="user", text=redaction.text, delivered=delivered, masked=masked)

    def reveal(self, session_id: str, ref: str) -> tuple[str, str] | None:
        """(kind, value as typed) of one masked value of this session, or None when unknown or expired."""
        raw = self.redis.get(self._pii_key(session_id, ref))
        if not raw:
            return None
        item = json.loads(raw)
        return item["kind"], item["value"]

    @staticmethod
    def _masked_entry(entry: HistoryEntry) -> HistoryEntry:
        if entry.role != "user":
            return entry  # bot answers cite offices' public numbers; operators write their own replies
        text = mask(entry.text)
        return entry if text == entry.text else entry.model_copy(update={"text": text})

    # --- history -------------------------------------------------------------------------------
    def _chat_key(self, session_id: str) -> str:
        return f"{self.p}:chat:{session_id}"

    def append(self, session_id: str, *entries: HistoryEntry) -> None:
        if not entries:
            return
        key = self._chat_key(session_id)
        with self.redis.pipeline() as pipe:
            pipe.rpush(key, *[self._masked_entry(e).model_dump_json() for e in entries])
            pipe.ltrim(key, -self.settings.history_limit, -1)
            pipe.expire(key, self.settings.session_ttl_seconds)
            pipe.execute()

    def history(self, session_id: str) -> list[HistoryEntry]:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(self._chat_key(session_id), 0, -1)
            pipe.hgetall(self._pending_key(session_id))
            raws, pending = pipe.execute()
        entries = [self._masked_entry(HistoryEntry.model_validate_json(raw)) for raw in raws]
        return [e.model_copy(update={"delivered": False}) if e.id in pending else e for e in entries]

    # --- delivery of residents' messages to the dialogue (by entry id, so concurrent turns stay apart) -------
    def _pending_key(self, session_id: str) -> str:
        return f"{self.p}:chat:{session_id}:pending"

    def start_delivery(self, session_id: str, entry: HistoryEntry) -> str:
        """Store a resident's message that is about to be sent to the dialogue, undelivered until
        ``delivered(id)``; returns its entry id. A resend of the last message after the dialogue server failed
        (same text) is that message again, claimed atomically: stored once, however many resends race."""
        key, pending = self._chat_key(session_id), self._pending_key(session_id)
        text = mask(entry.text)
        for raw in reversed(self.redis.lrange(key, -5, -1)):  # the bot may have added entries after it
            last = HistoryEntry.model_validate_json(raw)
            if last.role != "user":
                continue
            if last.text == text and self._claim_failed(keys=[pending], args=[last.id]):
                return last.id
            break
        ttl = self.settings.session_ttl_seconds
        with self.redis.pipeline(transaction=True) as pipe:  # the entry and its mark appear together
            pipe.rpush(
                key, self._masked_entry(entry).model_copy(update={"delivered": True}).model_dump_json()
            )
            pipe.ltrim(key, -self.settings.history_limit, -1)
            pipe.expire(key, ttl)
            pipe.hset(pending, entry.id, "sending")
            pipe.expire(pending, ttl)
            pipe.execute()
        return entry.id

    def delivered(self, session_id: str, entry_id: str) -> None:
        """The dialogue received this message."""
        self.redis.hdel(self._pending_key(session_id), entry_id)

    def delivery_failed(self, session_id: str, entry_id: str) -> None:
        """The dialogue server could not be reached: the message stays undelivered, a resend claims it."""
        self._mark_failed(keys=[self._pending_key(session_id)], args=[entry_id])

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
        ticket = Ticket(
            id=uuid.uuid4().hex[:12], session_id=session_id, reason=mask(reason), profile=mask_data(profile)
        )
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
        if not raw:
            return None
        ticket = Ticket.model_validate_json(raw)
        ticket.reason, ticket.profile = mask(ticket.reason), mask_data(ticket.profile)
        return ticket

    def list_tickets(
        self, status: Literal["open", "closed", "all"] = "open", limit: int = 100
    ) -> list[Ticket]:
        self._forget_closed_tickets()
        key = f"{self.p}:tickets:{'open' if status == 'open' else 'all'}"
        ids = self.redis.zrevrange(key, 0, limit - 1)
        tickets = [t for t in (self.get_ticket(i) for i in ids) if t is not None]
        return [t for t in tickets if status == "all" or t.status == status]

    def save_ticket(self, ticket: Ticket) -> None:
        ticket.reason, ticket.profile = mask(ticket.reason), mask_data(ticket.profile)
        self.redis.set(f"{self.p}:ticket:{ticket.id}", ticket.model_dump_json(), keepttl=True)

    def close_ticket(self, ticket: Ticket, by: str | None) -> Ticket:
        ticket.status, ticket.closed_at, ticket.closed_by = "closed", time.time(), by
        ticket.reason, ticket.profile = mask(ticket.reason), mask_data(ticket.profile)
        retention = self.settings.handoff_retention_days * 86400
        with self.redis.pipeline() as pipe:
            pipe.set(f"{self.p}:ticket:{ticket.id}", ticket.model_dump_json(), ex=retention)
            pipe.zrem(f"{self.p}:tickets:open", ticket.id)
            pipe.zadd(f"{self.p}:tickets:closed", {ticket.id: ticket.closed_at})
            pipe.delete(f"{self.p}:handoff:{ticket.session_id}")
            pipe.execute()
        self._forget_closed_tickets()
        self.publish("ticket_closed", ticket.model_dump())
        return ticket

    def _forget_closed_tickets(self) -> None:
        """Drop the ids of tickets closed longer ago than the retention from the indexes (their keys expired)."""
        cutoff = time.time() - self.settings.handoff_retention_days * 86400
        closed = f"{self.p}:tickets:closed"
        expired = self.redis.zrangebyscore(closed, "-inf", cutoff, start=0, num=1000)
        if expired:
            with self.redis.pipeline() as pipe:
                pipe.zrem(f"{self.p}:tickets:all", *expired)
                pipe.zrem(closed, *expired)
                pipe.execute()

    # --- feedback and declined questions (admin insights): capped, each record kept a limited time ------
    def _cutoff(self) -> float:
        return time.time() - self.settings.insights_retention_days * 86400

    def _keep(self, key: str, record: BaseModel) -> None:
        self._prune(keys=[key], args=[self._cutoff()])
        with self.redis.pipeline() as pipe:
            pipe.rpush(key, record.model_dump_json())
            pipe.ltrim(key, -self.settings.insights_kept, -1)
            pipe.expire(key, self.settings.insights_retention_days * 86400)
            pipe.execute()

    def add_feedback(self, feedback: Feedback) -> None:
        self._keep(f"{self.p}:feedback", self._masked_feedback(feedback))

    @staticmethod
    def _masked_feedback(f: Feedback) -> Feedback:
        # the answer is the bot's own text (public office numbers stay); what the resident typed is masked
        return f.model_copy(
            update={"question": f.question and mask(f.question), "comment": f.comment and mask(f.comment)}
        )

    def feedback(self, limit: int = 500) -> list[Feedback]:
        cutoff = self._cutoff()
        records = (
            Feedback.model_validate_json(r) for r in self.redis.lrange(f"{self.p}:feedback", -limit, -1)
        )
        return [self._masked_feedback(f) for f in records if f.ts >= cutoff]

    def record_unanswered(self, item: Unanswered) -> None:
        self._keep(f"{self.p}:unanswered", item.model_copy(update={"question": mask(item.question)}))

    def unanswered(self, limit: int = 1000) -> list[Unanswered]:
        cutoff = self._cutoff()
        records = (
            Unanswered.model_validate_json(r) for r in self.redis.lrange(f"{self.p}:unanswered", -limit, -1)
        )
        return [u.model_copy(update={"question": mask(u.question)}) for u in records if u.ts >= cutoff]

    def publish(self, event: str, data: dict[str, Any]) -> None:
        self.redis.publish(
            f"{self.p}:events", json.dumps({"event": event, "data": data}, ensure_ascii=False, default=str)
        )
