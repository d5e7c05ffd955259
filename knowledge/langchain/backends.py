"""Where the LangChain retriever and tools get their answers: this process, or a Minsheng API over HTTP.

Both backends return the API's JSON shapes (``POST /v1/search``, ``GET /v1/services``,
``POST /v1/entitlements/check``), so the retriever and the tools read one format whichever way they run.
In-process, the heavy objects (model, index, catalogue) are built on first use, not on import.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from knowledge.errors import IndexNotReady, KnowledgeError

if TYPE_CHECKING:
    import httpx

    from knowledge.catalogue.loader import Catalogue
    from knowledge.retrieval import Retriever
    from knowledge.service_route import RouteIndex


class MinshengAPIError(KnowledgeError):
    """The Minsheng API refused a call (bad input, rate limit, not ready); ``detail`` is its readable reason."""

    def __init__(self, status_code: int, detail: str, retry_after: str | None = None):
        self.status_code, self.detail, self.retry_after = status_code, detail, retry_after
        wait = f" (retry after {retry_after} s)" if retry_after else ""
        super().__init__(f"Minsheng API {status_code}: {detail}{wait}")


class Backend(Protocol):
    def search(self, query: str, *, top_k: int, region: str | None, as_of: date | None) -> dict[str, Any]: ...

    def services(
        self,
        *,
        region: str | None = None,
        category: str | None = None,
        life_event: str | None = None,
        q: str | None = None,
    ) -> dict[str, Any]: ...

    def check(
        self,
        profile: dict[str, Any],
        *,
        region: str | None = None,
        services: list[str] | None = None,
        as_of: date | None = None,
    ) -> dict[str, Any]: ...


def _service_matches_text(service, q: str) -> bool:
    """The catalogue's text filter, as ``GET /v1/services?q=`` applies it."""
    haystack = [service.name, *service.aliases, service.audience, service.what_you_get]
    return any(q in h or h in q for h in haystack if h)


class InProcessBackend:
    """Minsheng in this process: ``knowledge``'s retriever, question → service route and catalogue.

    Defaults are the ones ``knowledge.search`` uses (settings from the environment, the current index version,
    the shipped catalogue); pass your own to share them (the API's, a test's). ``catalogue`` may be a callable
    returning the catalogue to serve (e.g. ``CatalogueStore.catalogue`` for the published revision)."""

    def __init__(
        self,
        retriever: Retriever | None = None,
        route: RouteIndex | None = None,
        catalogue: Catalogue | Callable[[], Catalogue] | None = None,
        *,
        use_route: bool = True,
    ):
        self._retriever = retriever
        self._route = route
        self._catalogue = catalogue
        self.use_route = use_route

    # --- the objects, built on first use ------------------------------------------------------------
    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            from knowledge import default_retriever

            self._retriever = default_retriever()
        return self._retriever

    @property
    def route(self) -> RouteIndex | None:
        if not self.use_route:
            return None
        if self._route is None:
            if self._retriever is not None:
                # A retriever of one's own: index the route beside it (its model, its Chroma), not the default's.
                from knowledge.service_route import ServiceRoute

                self._route = ServiceRoute(self._retriever.embedder, self._retriever.store.client).index(
                    self.catalogue
                )
            else:
                from knowledge import default_route

                self._route = default_route()
        return self._route

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            from knowledge.catalogue.loader import load_catalogue
            from knowledge.settings import get_settings
            from knowledge.sources import load_sources

            settings = self._retriever.settings if self._retriever is not None else get_settings()
            self._catalogue = load_catalogue(load_sources(settings.sources_dir))
        return self._catalogue() if callable(self._catalogue) else self._catalogue

    # --- the calls ------------------------------------------------------------------------------------
    def search(self, query: str, *, top_k: int, region: str | None, as_of: date | None) -> dict[str, Any]:
        result = self.retriever.search(query, top_k=top_k, region=region, route=self.route, as_of=as_of)
        return result.model_dump(mode="json")

    def services(
        self,
        *,
        region: str | None = None,
        category: str | None = None,
        life_event: str | None = None,
        q: str | None = None,
    ) -> dict[str, Any]:
        q = (q or "").strip()
        found = [
            s
            for s in self.catalogue.services()
            if (region is None or s.region == region)
            and (category is None or s.category == category)
            and (life_event is None or life_event in s.life_events)
            and (not q or _service_matches_text(s, q))
        ]
        return {"count": len(found), "services": [s.model_dump(mode="json") for s in found]}

    def check(
        self,
        profile: dict[str, Any],
        *,
        region: str | None = None,
        services: list[str] | None = None,
        as_of: date | None = None,
    ) -> dict[str, Any]:
        """What ``POST /v1/entitlements/check`` answers: a service resting on a superseded document is left out
        unless asked for; ``ask_next`` are the questions that would settle the most services."""
        from knowledge.catalogue.entitlements import MissingField, check_entitlements, most_needed_fields
        from knowledge.catalogue.profile import ResidentProfile, field_label, field_question
        from knowledge.dating import document_bases

        as_of = as_of or date.today()
        resident = ResidentProfile.model_validate(profile)
        catalogue = self.catalogue
        try:
            bases = document_bases(self.retriever.dating(), as_of)
        except IndexNotReady:  # the rules need no index: without one, no document is known to be replaced
            bases = []
        replaced = {b.title for b in bases if b.status == "superseded"}
        wanted = services or [
            sid for sid, e in catalogue.entries.items() if e.citations[0].title not in replaced
        ]
        report = check_entitlements(catalogue, resident, service_ids=wanted, region=region)
        ask = [
            MissingField(field=f, label=field_label(f), question=field_question(f))
            for f in most_needed_fields(report)
        ]
        results = [r for group in (report.eligible, report.needs_info, report.not_eligible) for r in group]
        cited = {c.title for r in results for c in r.citations}
        return {
            **report.model_dump(mode="json"),
            "ask_next": [m.model_dump(mode="json") for m in ask],
            "as_of": as_of.isoformat(),
            "sources": [b.model_dump(mode="json") for b in bases if b.title in cited],
        }


class HttpBackend:
    """A Minsheng API over HTTP (``base_url``, e.g. http://127.0.0.1:8000), through httpx.

    ``headers`` go with every call — an integrator's service trusted by the deployment sends
    ``X-Minsheng-Internal-Token`` so its calls are not rate-limited as an anonymous caller's are.
    ``client`` may be any ``httpx.Client`` (a FastAPI ``TestClient`` too) with its own base URL."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
    ):
        if client is None:
            if not base_url:
                raise ValueError("HttpBackend needs a base_url or an httpx client")
            import httpx

            client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self.client = client
        self.headers = dict(headers or {})

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.client.request(method, path, headers=self.headers, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise MinshengAPIError(response.status_code, str(detail), response.headers.get("retry-after"))
        return response.json()

    def search(self, query: str, *, top_k: int, region: str | None, as_of: date | None) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "top_k": top_k, "region": region}
        if as_of is not None:
            body["as_of"] = as_of.isoformat()
        return self._call("POST", "/v1/search", json=body)

    def services(
        self,
        *,
        region: str | None = None,
        category: str | None = None,
        life_event: str | None = None,
        q: str | None = None,
    ) -> dict[str, Any]:
        params = {"region": region, "category": category, "life_event": life_event, "q": q}
        return self._call("GET", "/v1/services", params={k: v for k, v in params.items() if v})

    def check(
        self,
        profile: dict[str, Any],
        *,
        region: str | None = None,
        services: list[str] | None = None,
        as_of: date | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"profile": profile}
        if region is not None:
            body["region"] = region
        if services:
            body["services"] = services
        if as_of is not None:
            body["as_of"] = as_of.isoformat()
        return self._call("POST", "/v1/entitlements/check", json=body)

    def close(self) -> None:
        self.client.close()
