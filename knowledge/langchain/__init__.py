"""Minsheng for LangChain: a retriever whose documents are citations, and tools for an agent (docs/langchain.md).

``MinshengRetriever().invoke("孕前检查免费吗")`` returns ``Document``s whose metadata is the full citation (source,
title, region, section, verbatim quote with offsets, the document's period and status, score);
``minsheng_tools()`` gives ``search_plans``, ``check_entitlements`` and ``list_services``. Both run in this process
or, with ``base_url``, against a Minsheng API. (This package is ``knowledge.langchain``; it does not shadow the
``langchain`` distribution, which is imported by absolute name everywhere.)
"""

from __future__ import annotations

from knowledge.langchain.agent import AGENT_INSTRUCTIONS, run_agent
from knowledge.langchain.backends import HttpBackend, InProcessBackend, MinshengAPIError
from knowledge.langchain.retriever import CITATION_KEYS, MinshengRetriever, hit_document
from knowledge.langchain.tools import minsheng_tools

__all__ = [
    "AGENT_INSTRUCTIONS",
    "CITATION_KEYS",
    "HttpBackend",
    "InProcessBackend",
    "MinshengAPIError",
    "MinshengRetriever",
    "hit_document",
    "minsheng_tools",
    "run_agent",
]
