"""Minsheng knowledge base: sources, parsing, chunking, embeddings, hybrid retrieval, catalogue.

``knowledge.search("孕前检查免费吗", region="guangxi")`` is the one-call entry point.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge.retrieval import Retriever, SearchResult
    from knowledge.service_route import RouteIndex


@cache
def default_retriever() -> Retriever:
    from knowledge.library import DocumentLibrary
    from knowledge.retrieval import Retriever
    from knowledge.settings import get_settings

    retriever = Retriever(get_settings())
    # The admins' dating edits (docs/dating.md) apply to the CLI as they do to the API.
    retriever.dating_overrides = DocumentLibrary(retriever.settings, retriever.store).dating_overrides
    return retriever


@cache
def default_route() -> RouteIndex:
    """The question → service route of the shipped catalogue (the API serves its published revision)."""
    from knowledge.catalogue.loader import load_catalogue
    from knowledge.service_route import ServiceRoute
    from knowledge.settings import get_settings
    from knowledge.sources import load_sources

    retriever = default_retriever()
    catalogue = load_catalogue(load_sources(get_settings().sources_dir))
    return ServiceRoute(retriever.embedder, retriever.store.client).index(catalogue)


def search(query: str, top_k: int = 5, region: str | None = None, as_of: date | None = None) -> SearchResult:
    """Hybrid search (with the question → service route) over the current index version, default settings;
    documents in force on ``as_of`` (default today) rank first."""
    return default_retriever().search(query, top_k=top_k, region=region, route=default_route(), as_of=as_of)


__all__ = ["default_retriever", "default_route", "search"]
