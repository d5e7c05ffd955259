"""Hotline operators: the live hand-off queue, transcripts, replying into a resident's chat, closing."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from api.chat_messages import ChatMessage
from api.conversations import HistoryEntry, Ticket
from api.deps import AuditDep, ConversationsDep, OperatorSession, SettingsDep
from api.events import event_stream
from api.routes.handoff import TicketView

router = APIRouter(prefix="/v1/operator", tags=["operator"])
RESUMED = "人工服务已结束，智能助手继续为您服务。"


class ReplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str = Field(min_length=1, max_length=2000)


def _open_ticket(conversations, ticket_id: str) -> Ticket:
    ticket = conversations.get_ticket(ticket_id)
    if ticket is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    return ticket


@router.get("/tickets", response_model=list[Ticket])
def tickets(
    _: OperatorSession, conversations: ConversationsDep, status: Literal["open", "closed", "all"] = "open"
) -> list[Ticket]:
    return conversations.list_tickets(status)


@router.get("/tickets/{ticket_id}", response_model=TicketView)
def ticket(ticket_id: str, _: OperatorSession, conversations: ConversationsDep) -> TicketView:
    found = _open_ticket(conversations, ticket_id)
    return TicketView(ticket=found, transcript=conversations.history(found.session_id))


@router.post("/tickets/{ticket_id}/reply", response_model=HistoryEntry)
def reply(
    ticket_id: str,
    body: ReplyRequest,
    session: OperatorSession,
    conversations: ConversationsDep,
    audit: AuditDep,
) -> HistoryEntry:
    found = _open_ticket(conversations, ticket_id)
    if found.status != "open":
        raise HTTPException(409, "this ticket is closed")
    if found.assigned_to is None:
        found.assigned_to = session.username
        conversations.save_ticket(found)
    text = body.text.strip()
    if not text:
        raise HTTPException(422, "回复不能为空")
    entry = HistoryEntry(role="operator", text=text, message=ChatMessage(kind="operator", text=text))
    conversations.append(found.session_id, entry)
    audit.record(session.username, session.role, "ticket.reply", found.id, after={"text": text})
    conversations.publish(
        "operator_message",
        {
            "session_id": found.session_id,
            "ticket_id": found.id,
            "by": session.username,
            "entry": entry.model_dump(),
        },
    )
    return entry


@router.post("/tickets/{ticket_id}/close", response_model=Ticket)
def close(
    ticket_id: str, session: OperatorSession, conversations: ConversationsDep, audit: AuditDep
) -> Ticket:
    found = _open_ticket(conversations, ticket_id)
    if found.status != "open":
        return found
    entry = HistoryEntry(role="system", text=RESUMED, message=ChatMessage(kind="smalltalk", text=RESUMED))
    conversations.append(found.session_id, entry)
    closed = conversations.close_ticket(found, by=session.username)
    audit.record(
        session.username,
        session.role,
        "ticket.close",
        found.id,
        before={"status": "open"},
        after={"status": "closed"},
    )
    conversations.publish(
        "session_resumed",
        {"session_id": found.session_id, "ticket_id": found.id, "entry": entry.model_dump()},
    )
    return closed


@router.get("/events")
async def events(_: OperatorSession, settings: SettingsDep) -> EventSourceResponse:
    """Live queue: ticket_opened, ticket_closed, resident_message, operator_message."""
    kinds = {"ticket_opened", "ticket_closed", "resident_message", "operator_message"}
    return EventSourceResponse(event_stream(settings, lambda e: e if e["event"] in kinds else None), ping=15)
