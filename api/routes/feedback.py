"""👍/👎 with an optional comment, stored per answer (insights for admins)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.conversations import Feedback
from api.deps import ConversationsDep
from api.routes.chat import SESSION_ID

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    session_id: str = Field(pattern=SESSION_ID)
    message_id: str | None = Field(None, max_length=64, description="被评价的回答；为空时指最近一条回答")
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=500)


class FeedbackAck(BaseModel):
    stored: bool
    message_id: str | None


@router.post("", response_model=FeedbackAck)
def give_feedback(body: FeedbackRequest, conversations: ConversationsDep) -> FeedbackAck:
    history = conversations.history(body.session_id)
    answer_index = next(
        (
            i
            for i in range(len(history) - 1, -1, -1)
            if history[i].message
            and (
                history[i].message.id == body.message_id
                or (body.message_id is None and history[i].message.kind == "answer")
            )
        ),
        None,
    )
    answer = history[answer_index] if answer_index is not None else None
    question = next((h.text for h in reversed(history[: answer_index or 0]) if h.role == "user"), None)
    conversations.add_feedback(
        Feedback(
            session_id=body.session_id,
            message_id=answer.message.id if answer and answer.message else body.message_id,
            rating=body.rating,
            comment=body.comment,
            question=question,
            answer=answer.text if answer else None,
        )
    )
    return FeedbackAck(
        stored=True, message_id=answer.message.id if answer and answer.message else body.message_id
    )
