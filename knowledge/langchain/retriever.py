"""``MinshengRetriever``: Minsheng's hybrid retrieval as a LangChain retriever, every document a citation."""

from __future__ import annotations

from datetime import date
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from knowledge.langchain.backends import Backend, HttpBackend, InProcessBackend
from knowledge.sources import Region

# What a document's metadata always carries: the full citation, as POST /v1/search returns it.
CITATION_KEYS = (
    "source",
    "title",
    "region",
    "section",
    "quote",
    "start",
    "end",
    "valid_from",
    "valid_to",
    "status",
    "score",
)
# And, for whoever wants to look closer: which chunk, what kind of block, how close in meaning.
EXTRA_KEYS = ("chunk_id", "doc_id", "kind", "similarity", "section_titles", "fields")


def hit_document(hit: dict[str, Any], *, version: str | None = None, as_of: str | None = None) -> Document:
    """One search hit (the API's JSON shape) as a Document: the passage as display text, the citation as
    metadata (``quote`` is ``source_text[start:end]`` verbatim; dates are ISO strings)."""
    metadata = {key: hit.get(key) for key in CITATION_KEYS}
    metadata.update({key: hit[key] for key in EXTRA_KEYS if hit.get(key) is not None})
    metadata["index_version"] = version
    metadata["as_of"] = as_of
    return Document(id=hit.get("chunk_id"), page_content=hit.get("text") or hit["quote"], metadata=metadata)


def result_documents(result: dict[str, Any]) -> list[Document]:
    return [hit_document(h, version=result.get("version"), as_of=result.get("as_of")) for h in result["hits"]]


class MinshengRetriever(BaseRetriever):
    """Cited passages of the published plans for a question.

    In-process by default (``knowledge``'s retriever over the current index version, with the question → service
    route); over HTTP when ``base_url`` is set (the API's ``POST /v1/search``). ``region`` restricts to one plan
    (``"guangxi"`` / ``"ningxia"``; unset, a place named in the question boosts its region), ``top_k`` is the
    number of passages, ``as_of`` the date whose documents in force rank first (default today). Each may also be
    given per call: ``retriever.invoke("低保", region="ningxia")``.

    >>> MinshengRetriever().invoke("孕前检查免费吗")[0].metadata["quote"]  # doctest: +SKIP
    '2.免费孕前优生健康服务。为计划怀孕的夫妇…'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    region: Region | None = None
    top_k: int = Field(5, ge=1, le=50)
    as_of: date | None = None
    # Over HTTP: the API's address (headers go with every call, e.g. X-Minsheng-Internal-Token).
    base_url: str | None = None
    timeout: float = Field(30.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    http_client: Any = Field(default=None, exclude=True)  # an httpx.Client of your own (or a TestClient)
    # In-process: your own knowledge.retrieval.Retriever / route index (default: knowledge.default_retriever()).
    retriever: Any = Field(default=None, exclude=True)
    route: Any = Field(default=None, exclude=True)
    use_route: bool = True
    backend: Any = Field(default=None, exclude=True)  # any knowledge.langchain.backends.Backend

    _backend: Backend | None = PrivateAttr(default=None)

    def get_backend(self) -> Backend:
        if self._backend is None:
            if self.backend is not None:
                self._backend = self.backend
            elif self.base_url or self.http_client is not None:
                self._backend = HttpBackend(
                    self.base_url, client=self.http_client, timeout=self.timeout, headers=self.headers
                )
            else:
                self._backend = InProcessBackend(self.retriever, self.route, use_route=self.use_route)
        return self._backend

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        region: Region | None = None,
        top_k: int | None = None,
        as_of: date | None = None,
        **_: Any,
    ) -> list[Document]:
        result = self.get_backend().search(
            query,
            top_k=top_k or self.top_k,
            region=region or self.region,
            as_of=as_of or self.as_of,
        )
        return result_documents(result)
