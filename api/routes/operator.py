"""Hotline operators: the live hand-off queue, transcripts, replying into a resident's chat, closing.

Transcripts show residents' personal data masked; an operator handling an open hand-off may reveal one
masked value at a time (``POST /v1/operator/tickets/{id}/reveal``), and each reveal is audited."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, BackgroundTasks, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from api import errors
from api.chat_messages import ChatMessage
from api.conversations import HistoryEntry, Ticket
from api.deps import AuditDep, ConversationsDep, OperatorSession, SettingsDep, WeChatDep
from api.events import event_stream
from api.routes.handoff import TicketView
from knowledge.privacy import Kind, mask

router = APIRouter(prefix="/v1/operator", tags=["operator"])
RESUMED = "人工服务已结束，智能助手继续为您服务。"


class ReplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str = Field(min_length=1, max_length=2000)


class RevealRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    ref: str = Field(pattern=r"^[0-9a-f]{8,32}$", description="transcript entry's masked[].ref")


class Revealed(BaseModel):
    ref: str
    kind: Kind
    value: str


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


@router.get("/tickets/{ticket_id}", response_model=TicketView, responses=errors.responses(404))
def ticket(ticket_id: str, _: OperatorSession, conversations: ConversationsDep) -> TicketView:
    found = _open_ticket(conversations, ticket_id)
    return TicketView(ticket=found, transcript=conversations.history(found.session_id))


@router.post("/tickets/{ticket_id}/reply", response_model=HistoryEntry, responses=errors.responses(404, 409))
def reply(
    ticket_id: str,
    body: ReplyRequest,
    session: OperatorSession,
    conversations: ConversationsDep,
    audit: AuditDep,
    wechat: WeChatDep,
    background: BackgroundTasks,
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
    # the audit log is kept for good: it holds the reply with any personal data masked
    audit.record(session.username, session.role, "ticket.reply", found.id, after={"text": mask(text)})
    conversations.publish(
        "operator_message",
        {
            "session_id": found.session_id,
            "ticket_id": found.id,
            "by": session.username,
            "entry": entry.model_dump(),
        },
    )
    background.add_task(wechat.deliver_to_session, found.session_id, text)  # a 客服消息 for WeChat residents
    return entry


@router.post(
    "/tickets/{ticket_id}/reveal",
    response_model=Revealed,
    responses={404: {"description": "no such ticket, or the value expired"}, 409: {"description": "closed"}},
)
def reveal(
    ticket_id: str,
    body: RevealRequest,
    session: OperatorSession,
    conversations: ConversationsDep,
    audit: AuditDep,
) -> Revealed:
    """One masked value of this hand-off's resident, as typed. Audited (who, ticket, kind; never the value)."""
    found = _open_ticket(conversations, ticket_id)
    if found.status != "open":
        raise HTTPException(409, "会话已结束，不能再查看原始信息 (ticket closed)")
    if found.assigned_to not in (None, session.username) and session.role != "admin":
        raise HTTPException(403, "该会话由其他客服处理 (ticket assigned to another operator)")
    revealed = conversations.reveal(found.session_id, body.ref)
    if revealed is None:
        raise HTTPException(404, "该信息不存在或已过期 (unknown or expired value)")
    kind, value = revealed
    audit.record(
        session.username, session.role, "ticket.reveal", found.id, after={"kind": kind, "ref": body.ref}
    )
    return Revealed(ref=body.ref, kind=kind, value=value)


@router.post("/tickets/{ticket_id}/close", response_model=Ticket, responses=errors.responses(404))
def close(
    ticket_id: str,
    session: OperatorSession,
    conversations: ConversationsDep,
    audit: AuditDep,
    wechat: WeChatDep,
    background: BackgroundTasks,
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
    background.add_task(wechat.deliver_to_session, found.session_id, RESUMED, operator=False)
    return closed


@router.get("/events", response_class=EventSourceResponse, responses=errors.EVENT_STREAM)
async def events(_: OperatorSession, settings: SettingsDep) -> EventSourceResponse:
    """Live queue: ticket_opened, ticket_closed, resident_message, operator_message."""
    kinds = {"ticket_opened", "ticket_closed", "resident_message", "operator_message"}
    return EventSourceResponse(event_stream(settings, lambda e: e if e["event"] in kinds else None), ping=15)
