"""Named dependencies. Heavy objects are built once per app (lifespan) and reached through request.app.state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from api.answer_cache import AnswerCache
from api.audit import AuditLog
from api.auth import CSRF_COOKIE, SESSION_COOKIE, AuthStore, Session
from api.conversations import ConversationStore
from api.deployment import internal_token_ok
from api.errors import raises
from api.jobs import JobRunner
from api.rasa_client import RasaClient
from api.rate_limits import is_internal_caller
from api.wechat.channel import WeChatChannel
from knowledge.catalogue.editing import CatalogueStore
from knowledge.catalogue.loader import Catalogue
from knowledge.library import DocumentLibrary
from knowledge.llm_phrasing import LeadPhraser
from knowledge.retrieval import Retriever
from knowledge.service_route import RouteIndex
from knowledge.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_retriever(request: Request) -> Retriever:
    return request.app.state.retriever


def get_catalogue_store(request: Request) -> CatalogueStore:
    return request.app.state.catalogue_store


def get_catalogue(request: Request) -> Catalogue:
    # The store re-reads its revision pointer at most once a second, so a catalogue edit published by
    # any replica is served here without a restart.
    return request.app.state.catalogue_store.catalogue()


def get_route(request: Request) -> RouteIndex:
    """The question → service route of the catalogue revision being served (rebuilt when it changes)."""
    return request.app.state.route.index(request.app.state.catalogue_store.catalogue())


def get_conversations(request: Request) -> ConversationStore:
    return request.app.state.conversations


def get_rasa(request: Request) -> RasaClient:
    return request.app.state.rasa


def get_source_texts(request: Request) -> Mapping[str, str]:
    return request.app.state.source_texts


def get_answer_cache(request: Request) -> AnswerCache:
    return request.app.state.answer_cache


def get_audit(request: Request) -> AuditLog:
    return request.app.state.audit


def get_library(request: Request) -> DocumentLibrary:
    return request.app.state.library


def get_jobs(request: Request) -> JobRunner:
    return request.app.state.jobs


def get_phraser(request: Request) -> LeadPhraser | None:
    """The optional LLM lead line (knowledge/llm_phrasing.py): None unless MINSHENG_LLM_* configure one."""
    return getattr(request.app.state, "phraser", None)


def get_wechat(request: Request) -> WeChatChannel:
    return request.app.state.wechat


@raises(401)  # declared in the OpenAPI schema of every route using it (api/errors.py)
def require_internal(
    request: Request, x_minsheng_internal_token: Annotated[str | None, Header()] = None
) -> None:
    """Endpoints only our action server may call."""
    if not internal_token_ok(request.app.state.settings, x_minsheng_internal_token):
        raise HTTPException(401, "internal endpoint: missing or wrong X-Minsheng-Internal-Token")


def get_auth(request: Request) -> AuthStore:
    return request.app.state.auth


@raises(401, 403)
def current_session(request: Request, authorization: Annotated[str | None, Header()] = None) -> Session:
    """The signed-in staff session from a Bearer token or the session cookie; 401 otherwise.

    Cookie sessions must echo the CSRF token on anything that changes state (double-submit)."""
    auth: AuthStore = request.app.state.auth
    bearer = authorization[7:] if authorization and authorization.lower().startswith("bearer ") else None
    token = bearer or request.cookies.get(SESSION_COOKIE)
    session = auth.session(token) if token else None
    if session is None:
        raise HTTPException(401, "请先登录 (authentication required)", headers={"WWW-Authenticate": "Bearer"})
    if bearer is None and request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get("x-csrf-token")
        if not sent or sent != session.csrf_token or request.cookies.get(CSRF_COOKIE) != session.csrf_token:
            raise HTTPException(403, "CSRF token missing or wrong")
    return session


def require_role(*roles: str):
    def check(session: Annotated[Session, Depends(current_session)]) -> Session:
        if session.role not in roles:
            raise HTTPException(403, f"需要 {' 或 '.join(roles)} 权限 (forbidden for role {session.role})")
        return session

    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
RouteDep = Annotated[RouteIndex, Depends(get_route)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
CatalogueStoreDep = Annotated[CatalogueStore, Depends(get_catalogue_store)]
ConversationsDep = Annotated[ConversationStore, Depends(get_conversations)]
RasaDep = Annotated[RasaClient, Depends(get_rasa)]
SourceTextsDep = Annotated[Mapping[str, str], Depends(get_source_texts)]
InternalOnly = Depends(require_internal)
InternalCaller = Annotated[bool, Depends(is_internal_caller)]  # True when the call carries the internal token
AuthDep = Annotated[AuthStore, Depends(get_auth)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
AnswerCacheDep = Annotated[AnswerCache, Depends(get_answer_cache)]
LibraryDep = Annotated[DocumentLibrary, Depends(get_library)]
JobsDep = Annotated[JobRunner, Depends(get_jobs)]
PhraserDep = Annotated[LeadPhraser | None, Depends(get_phraser)]
WeChatDep = Annotated[WeChatChannel, Depends(get_wechat)]
OperatorSession = Annotated[Session, Depends(require_role("operator", "admin"))]
AdminSession = Annotated[Session, Depends(require_role("admin"))]
