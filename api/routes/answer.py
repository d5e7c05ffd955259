"""Grounded answers for the dialogue manager (and anyone else): cited sentences, or a refusal."""

from __future__ import annotations

import copy
from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api import errors
from api.conversations import Unanswered
from api.deps import (
    AnswerCacheDep,
    CatalogueStoreDep,
    ConversationsDep,
    InternalCaller,
    LibraryDep,
    PhraserDep,
    RetrieverDep,
    RouteDep,
    SourceTextsDep,
)
from api.iso_dates import IsoDate
from knowledge.answering import Context, Reply, compose_answer
from knowledge.privacy import mask
from knowledge.retrieval import MAX_QUERY_CHARS, Retriever
from knowledge.sources import Region

router = APIRouter(prefix="/v1", tags=["answer"])


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    region: Region | None = None
    context: Context = Field(default_factory=Context)
    as_of: IsoDate | None = Field(
        None, strict=False, description="按哪一天有效的文件作答（YYYY-MM-DD，默认今天）"
    )


class AnswerReply(Reply):
    index_version: str | None = Field(
        None,
        description="作答所依据的索引版本（整条回答只来自这一个版本）(the index version this answer was composed from)",
    )


def pinned(retriever: Retriever) -> tuple[Retriever, str]:
    """A view of the retriever that answers every call of one composition from the version current now, and
    that version. The composer reads the index several times (search, dating, chunks); were a publish to switch
    the pointer between two reads, one answer could quote two versions — pinned, it cannot, and the version
    the reply reports (and the memo key holds) is the one it was made from. A version pruned under us (three
    publishes during one answer) is the one case left to the retriever's own reload."""
    snap = retriever.snapshot()
    view = copy.copy(retriever)  # shares the model, the store and the lock; only snapshot() differs

    def snapshot(force_check: bool = False):
        return retriever.snapshot(force_check=True) if force_check else snap

    view.snapshot = snapshot  # type: ignore[method-assign]
    return view, snap.version


@router.post("/answer", response_model=AnswerReply, responses=errors.responses(503))
def answer(
    body: AnswerRequest,
    retriever: RetrieverDep,
    route: RouteDep,
    catalogue_store: CatalogueStoreDep,
    sources: SourceTextsDep,
    conversations: ConversationsDep,
    cache: AnswerCacheDep,
    library: LibraryDep,
    internal: InternalCaller,
    phraser: PhraserDep,
) -> AnswerReply:
    catalogue = catalogue_store.snapshot()
    question = mask(body.question)  # a direct caller's personal data is neither cached nor kept in clear
    retriever, version = pinned(retriever)
    key = (
        version,
        catalogue.revision,
        question,
        body.region,
        body.context.model_dump_json(),
        body.as_of or date.today(),
        library.dating_revision(),  # an admin's dating edit on any replica changes answers
        phraser.cache_token() if phraser else None,  # a reply composed while the LLM was down is not kept
    )
    reply = cache.get_or_compose(
        key,
        lambda: compose_answer(
            question,
            retriever=retriever,
            catalogue=catalogue.catalogue,
            source_texts=sources,
            region=body.region,
            context=body.context,
            route=route,
            as_of=body.as_of,
            phraser=phraser,
        ),
    )
    # What the knowledge base is missing, for the admins' insights page: residents' questions only (they come
    # through the action server, with the internal token); anonymous callers cannot fill the page.
    if reply.kind == "refuse" and internal:
        conversations.record_unanswered(
            Unanswered(question=question, reason=reply.reason, region=body.region or reply.region)
        )
    return AnswerReply(**reply.model_dump(), index_version=version)
