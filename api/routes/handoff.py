"""Hand-off tickets: created by the bot (action server) when a resident asks for a human.

Operators read and answer them through api/routes/operator.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.chat_messages import ChatMessage
from api.conversations import HistoryEntry, Ticket
from api.deps import ConversationsDep, InternalOnly
from api.routes.chat import SESSION_ID

router = APIRouter(prefix="/v1/handoff", tags=["handoff"])


class TicketRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    session_id: str = Field(pattern=SESSION_ID)
    reason: str = Field("", max_length=500)
    profile: dict[str, Any] = Field(default_factory=dict)


class TicketView(BaseModel):
    ticket: Ticket
    transcript: list[HistoryEntry]


@router.post("/tickets", response_model=Ticket, dependencies=[InternalOnly])
def create_ticket(body: TicketRequest, conversations: ConversationsDep) -> Ticket:
    ticket = conversations.open_ticket(body.session_id, body.reason, body.profile)
    message = ChatMessage(kind="handoff", text="（已转人工）")
    conversations.append(body.session_id, HistoryEntry(role="system", text=message.text, message=message))
    return ticket
