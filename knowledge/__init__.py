"""Minsheng knowledge base: sources, parsing, chunking, embeddings, hybrid retrieval, catalogue.

``knowledge.search("孕前检查免费吗", region="guangxi")`` is the one-call entry point.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge.retrieval import Retriever, SearchResult


@cache
def default_retriever() -> Retriever:
    from knowledge.retrieval import Retriever
    from knowledge.settings import get_settings

    return Retriever(get_settings())


def search(query: str, top_k: int = 5, region: str | None = None) -> SearchResult:
    """Hybrid search over the current index version with the default settings."""
    return default_retriever().search(query, top_k=top_k, region=region)


__all__ = ["default_retriever", "search"]
