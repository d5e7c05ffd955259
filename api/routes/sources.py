"""Source documents as the widget's citation panel needs them: a quote inside its surrounding paragraph."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from api import errors
from api.deps import RetrieverDep, SourceTextsDep

router = APIRouter(prefix="/v1/sources", tags=["sources"])


class QuoteContext(BaseModel):
    source: str
    title: str
    section: str
    before: str
    quote: str
    after: str
    valid_from: date | None
    valid_to: date | None


def paragraph_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The paragraph (blank-line delimited) around [start, end)."""
    para_start = text.rfind("\n\n", 0, start)
    para_end = text.find("\n\n", end)
    return (0 if para_start < 0 else para_start + 2), (len(text) if para_end < 0 else para_end)


@router.get("/{source}/context", response_model=QuoteContext, responses=errors.responses(404, 503))
def context(
    source: str,
    sources: SourceTextsDep,
    retriever: RetrieverDep,
    start: Annotated[int, Query(ge=0)],
    end: Annotated[int, Query(ge=1)],
) -> QuoteContext:
    text = sources.get(source)
    if text is None:
        raise HTTPException(404, f"no source document {source!r}")
    if not start < end <= len(text):
        raise HTTPException(422, f"offsets must satisfy 0 <= start < end <= {len(text)}")
    a, b = paragraph_bounds(text, start, end)
    chunk = next(
        (c for c in retriever.snapshot().chunks if c.source == source and c.start <= start < c.end), None
    )
    return QuoteContext(
        source=source,
        title=chunk.title if chunk else source,
        section=chunk.section if chunk else "",
        before=text[a:start],
        quote=text[start:end],
        after=text[end:b],
        valid_from=chunk.valid_from if chunk else None,
        valid_to=chunk.valid_to if chunk else None,
    )
