"""What the knowledge base is missing: declined questions and 👎 answers, grouped by meaning."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import AdminSession, ConversationsDep, RetrieverDep
from knowledge.insights import Group, Item, group_items

router = APIRouter(prefix="/v1/admin/insights", tags=["admin"])


class Insights(BaseModel):
    refused_total: int
    downvoted_total: int
    groups: list[Group]


@router.get("", response_model=Insights)
def insights(
    _: AdminSession,
    conversations: ConversationsDep,
    retriever: RetrieverDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> Insights:
    refused = [
        Item(text=u.question, kind="refused", reason=u.reason, ts=u.ts)
        for u in conversations.unanswered(limit)
    ]
    downvoted = [
        Item(text=f.question, kind="downvoted", ts=f.ts, comment=f.comment)
        for f in conversations.feedback(limit)
        if f.rating == "down" and f.question
    ]
    groups = group_items(refused + downvoted, retriever.embedder.embed_queries)
    return Insights(refused_total=len(refused), downvoted_total=len(downvoted), groups=groups)
