"""Chat gateway: the widget's only door. Forwards to Rasa's REST channel unless a human has the conversation."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sse_starlette.sse import EventSourceResponse

from api import errors
from api.chat_messages import ChatMessage, declined_message, merge_rasa_output
from api.conversations import ConversationStore, HistoryEntry, Unanswered
from api.deps import ConversationsDep, RasaDep, SettingsDep
from api.events import event_stream
from api.iso_dates import IsoDate
from api.rasa_client import RasaClient, RasaUnavailable
from knowledge.sources import Region

router = APIRouter(prefix="/v1/chat", tags=["chat"])
logger = logging.getLogger(__name__)

SESSION_ID = r"^[A-Za-z0-9_-]{1,64}$"
MAX_MESSAGE = 500
HANDOFF_ACK = "已为您转接人工客服，客服看到后会在这里回复您。"


class ChatMetadata(BaseModel):
    """What a client may tell the dialogue about a turn: small and typed (it is stored with the turn)."""

    model_config = ConfigDict(extra="forbid")

    channel: str | None = Field(
        None, pattern=r"^[a-z0-9_-]{1,32}$", description="widget / operator / wechat …"
    )
    as_of: IsoDate | None = Field(
        None, description="按哪一天有效的文件作答（接线员“按2024年的规定”），YYYY-MM-DD"
    )
    region: Region | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    session_id: str = Field(pattern=SESSION_ID, description="会话 id（字母、数字、-、_，最多 64 个）")
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)
    metadata: ChatMetadata | None = Field(None, strict=False)

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("消息不能为空")
        return value.strip()


class ChatResponse(BaseModel):
    messages: list[ChatMessage]


class HistoryResponse(BaseModel):
    session_id: str
    handoff_active: bool
    entries: list[HistoryEntry]


@router.post("", response_model=ChatResponse, responses=errors.responses(503))
def chat(
    body: ChatRequest, conversations: ConversationsDep, rasa: RasaDep, settings: SettingsDep
) -> ChatResponse:
    sid = body.session_id
    # Personal data (ID, phone, card numbers, e-mail) is masked before the message is stored, published or sent
    # to Rasa: history, tracker, logs and insights only ever hold the masks. The values as typed are kept apart
    # for a day, for an operator handling a hand-off to reveal one (audited).
    resident = conversations.resident_entry(sid, body.message)
    text = resident.text
    if conversations.active_ticket(sid) is not None:
        conversations.append(sid, resident)
        conversations.publish(
            "resident_message", {"session_id": sid, "text": text, "entry": resident.model_dump()}
        )
        return ChatResponse(messages=[])  # the operator answers; the widget shows it via history/events
    if declined := declined_message(text):  # never reaches the form, whatever NLU would say
        message, reason = declined
        conversations.append(sid, resident, HistoryEntry(role="bot", text=message.text, message=message))
        conversations.record_unanswered(Unanswered(question=text, reason=reason))
        return ChatResponse(messages=[message])
    # Undelivered until Rasa has it; marked by this entry's id, so concurrent turns never mark each other's.
    entry_id = conversations.start_delivery(sid, resident)
    try:
        sender = _current_sender(sid, conversations, rasa, settings.tracker_rotate_turns)
        metadata = body.metadata.model_dump(mode="json", exclude_none=True) if body.metadata else None
        output = rasa.send(sender, text, metadata)
    except RasaUnavailable as exc:
        conversations.delivery_failed(sid, entry_id)  # kept; a resend claims it instead of storing it twice
        raise HTTPException(
            503, "对话服务暂时不可用，您的消息已保存，请稍后重试。(dialogue server unavailable)"
        ) from exc
    conversations.delivered(sid, entry_id)
    conversations.count_turn(sid)
    messages = merge_rasa_output(output)
    conversations.append(sid, *[HistoryEntry(role="bot", text=m.text, message=m) for m in messages])
    return ChatResponse(messages=messages)


def _current_sender(
    session_id: str, conversations: ConversationStore, rasa: RasaClient, rotate_after: int
) -> str:
    """Bound the Rasa tracker: past ``rotate_after`` turns (and not inside a form) continue in a new one, slots kept."""
    sender, turns = conversations.rasa_sender(session_id)
    if turns < rotate_after:
        return sender
    try:
        slots, form_active = rasa.tracker_state(sender)
        if form_active:
            return sender  # never cut a running eligibility form in half
        fresh = conversations.upcoming_sender(session_id)
        rasa.set_slots(fresh, slots)  # seed first: the switch below is the commit
        conversations.next_epoch(session_id)
    except Exception:  # noqa: BLE001 - bounding the tracker is an optimisation; never fail the resident's turn for it
        logger.exception("tracker rotation failed for %s; continuing in %s", session_id, sender)
        return sender
    return fresh


@router.get("/{session_id}/history", response_model=HistoryResponse)
def history(
    session_id: Annotated[str, Path(pattern=SESSION_ID)], conversations: ConversationsDep
) -> HistoryResponse:
    return HistoryResponse(
        session_id=session_id,
        handoff_active=conversations.active_ticket(session_id) is not None,
        entries=conversations.history(session_id),
    )


@router.get("/{session_id}/events", response_class=EventSourceResponse, responses=errors.EVENT_STREAM)
async def events(
    session_id: Annotated[str, Path(pattern=SESSION_ID)], settings: SettingsDep
) -> EventSourceResponse:
    """Live messages for one resident while a human has the conversation (operator replies, bot resumed)."""

    def keep(event: dict) -> dict | None:
        data = event.get("data", {})
        if (
            event.get("event") in ("operator_message", "session_resumed")
            and data.get("session_id") == session_id
        ):
            return data["entry"]
        return None

    return EventSourceResponse(event_stream(settings, keep, event_name="message"), ping=15)
