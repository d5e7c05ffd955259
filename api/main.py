"""FastAPI application: routers are included here and only here."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import errors
from api.answer_cache import AnswerCache
from api.audit import AuditLog
from api.auth import AuthStore
from api.body_limit import BodyLimitMiddleware
from api.conversations import ConversationStore
from api.deployment import check_deployment
from api.jobs import JobRunner
from api.json_logs import configure_logging
from api.metrics import Metrics, MetricsMiddleware
from api.rasa_client import RasaClient
from api.rate_limits import RateLimiter, rate_limited
from api.request_id import RequestIdMiddleware
from api.routes import (
    admin_audit,
    admin_catalogue,
    admin_documents,
    admin_insights,
    admin_jobs,
    admin_versions,
    answer,
    chat,
    entitlements,
    feedback,
    handoff,
    health,
    life_events,
    operator,
    profile,
    search,
    services,
    sources,
    wechat,
)
from api.routes import auth as auth_routes
from api.routes import metrics as metrics_routes
from api.security_headers import SecurityHeadersMiddleware
from api.wechat.channel import WeChatChannel
from knowledge.catalogue.editing import CatalogueStore
from knowledge.library import DocumentLibrary
from knowledge.llm_phrasing import lead_phraser_from_settings
from knowledge.retrieval import Retriever
from knowledge.service_route import ServiceRoute
from knowledge.settings import REPO_ROOT, Settings, get_settings
from knowledge.sources import load_sources

WEB_DIR = REPO_ROOT / "web"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # JSON lines with the request id, personal data masked (api/json_logs.py); uvicorn's loggers included.
    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        check_deployment(settings)  # no published secret outside a loopback demo (api/deployment.py)
        docs = load_sources(settings.sources_dir)  # the catalogue cites the shipped plans
        # Published catalogue revisions live in data_dir (seeded from the shipped YAML on first use).
        app.state.catalogue_store = CatalogueStore(settings, docs)
        app.state.catalogue_store.catalogue()  # load and validate now, not on the first request
        app.state.conversations = ConversationStore(settings)
        app.state.rasa = RasaClient(settings, round_trip=metrics.rasa_rtt)  # Rasa RTT histogram (issue 16)
        app.state.auth = AuthStore(settings)
        app.state.rate_limiter = RateLimiter(settings)
        # WeChat 公众号 callbacks (api/wechat/): the same conversation engine as the widget
        app.state.wechat = WeChatChannel(
            settings, app.state.conversations, app.state.rasa, app.state.rate_limiter
        )
        app.state.audit = AuditLog(settings)
        app.state.answer_cache = AnswerCache()
        # Optional LLM lead line, off unless MINSHENG_LLM_BASE_URL and _MODEL are set (docs/langchain.md).
        app.state.phraser = lead_phraser_from_settings(settings)
        app.state.retriever = Retriever(settings)
        app.state.route = ServiceRoute(app.state.retriever.embedder, app.state.retriever.store.client)
        if app.state.retriever.store.current_version():
            app.state.retriever.embedder.load()  # pay the model load at start, not on the first question
            app.state.route.index(app.state.catalogue_store.catalogue())  # and the route's index
        # Citations resolve against every text ever published (uploads included), not the shipped dir.
        app.state.library = DocumentLibrary(settings, app.state.retriever.store)
        app.state.retriever.dating_overrides = app.state.library.dating_overrides  # admins' dating changes
        app.state.library.ensure_seeded()
        app.state.source_texts = app.state.library.texts
        app.state.jobs = JobRunner(
            settings,
            app.state.library,
            embedder=app.state.retriever.embedder,  # one model in memory, shared with queries
            audit=app.state.audit,
            after_switch=lambda: app.state.retriever.snapshot(force_check=True),
        ).start()
        metrics.watch_state(app.state)  # issue 16: gauges read from shared state at scrape time
        yield
        app.state.jobs.stop()
        if app.state.phraser is not None:
            app.state.phraser.close()
        app.state.wechat.close()
        app.state.rasa.close()

    app = FastAPI(
        title="民生服务助手 Minsheng API",
        version="0.1.0",
        description="Grounded, cited answers about public services in the Guangxi and Ningxia 14th Five-Year plans.",
        lifespan=lifespan,
    )
    errors.install(app)
    # Scale-out (issue 16): Prometheus metrics of this replica at /metrics (api/metrics.py). Added first, so it
    # runs innermost and sees the matched route's template.
    metrics = app.state.metrics = Metrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # 64 KB bodies (the document uploads: the upload cap), refused without buffering (api/body_limit.py).
    # Added before CORS, so it runs inside it: a page embedding the widget can read the 413.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    # The widget is embedded on other sites: let them call the resident endpoints, never with credentials.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST"],
        allow_headers=["content-type"],
        expose_headers=["retry-after", "x-request-id"],
    )
    # The client address (rate limits, staff-login limit, audit) from X-Forwarded-For only when the peer is
    # one of MINSHENG_TRUSTED_PROXIES; our servers run uvicorn with --no-proxy-headers: this is the only place.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.add_middleware(SecurityHeadersMiddleware, web_dir=WEB_DIR, embed_origins=settings.cors_origins)
    # Added last, so it runs outermost: every answer (a 413, a 429, a CORS refusal) carries the request id and
    # gets its access line (api/request_id.py).
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    app.include_router(metrics_routes.router)  # issue 16
    app.include_router(search.router, dependencies=[Depends(rate_limited("search"))])
    app.include_router(services.router)
    app.include_router(life_events.router)
    app.include_router(entitlements.router)
    app.include_router(profile.router)
    app.include_router(answer.router, dependencies=[Depends(rate_limited("answer"))])
    app.include_router(chat.router, dependencies=[Depends(rate_limited("chat"))])
    app.include_router(handoff.router)
    app.include_router(feedback.router, dependencies=[Depends(rate_limited("feedback"))])
    app.include_router(sources.router)
    app.include_router(auth_routes.router)
    app.include_router(operator.router)
    app.include_router(admin_documents.router)
    app.include_router(admin_jobs.router)
    app.include_router(admin_versions.router)
    app.include_router(admin_catalogue.router)
    app.include_router(admin_audit.router)
    app.include_router(admin_insights.router)
    app.include_router(wechat.router)  # signed by WeChat, not rate limited per address (one sender)
    _mount_pages(app)
    errors.document(app)  # the one error model for every status each operation returns (after all routers)
    return app


def _mount_pages(app: FastAPI) -> None:
    """The resident widget (standalone page at /, embeddable script under /static) and the operator console."""
    if not WEB_DIR.is_dir():
        return
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")

    @app.get("/operator", include_in_schema=False)
    def operator_console() -> FileResponse:
        return FileResponse(WEB_DIR / "operator" / "index.html")

    @app.get("/admin", include_in_schema=False)
    def admin_console() -> FileResponse:
        return FileResponse(WEB_DIR / "admin" / "index.html")


app = create_app()
