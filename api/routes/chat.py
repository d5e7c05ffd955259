"""Chat gateway: the widget's only door. Forwards to Rasa's REST channel unless a human has the conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sse_starlette.sse import EventSourceResponse

from api import errors
from api.chat_gateway import RasaUnavailable, converse
from api.chat_messages import ChatMessage
from api.conversations import HistoryEntry
from api.deps import ConversationsDep, RasaDep, SettingsDep
from api.events import event_stream
from api.iso_dates import IsoDate
from knowledge.sources import Region

router = APIRouter(prefix="/v1/chat", tags=["chat"])

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
    metadata = body.metadata.model_dump(mode="json", exclude_none=True) if body.metadata else None
    try:  # the one conversation engine, shared with the WeChat channel (api/chat_gateway.py)
        messages = converse(
            body.session_id, body.message, conversations, rasa, settings.tracker_rotate_turns, metadata
        )
    except RasaUnavailable as exc:
        raise HTTPException(
            503, "对话服务暂时不可用，您的消息已保存，请稍后重试。(dialogue server unavailable)"
        ) from exc
    return ChatResponse(messages=messages)


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
