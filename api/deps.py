"""Named dependencies. Heavy objects are built once per app (lifespan) and reached through request.app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from api.conversations import ConversationStore
from api.rasa_client import RasaClient
from knowledge.catalogue.loader import Catalogue
from knowledge.retrieval import Retriever
from knowledge.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_retriever(request: Request) -> Retriever:
    return request.app.state.retriever


def get_catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue


def get_conversations(request: Request) -> ConversationStore:
    return request.app.state.conversations


def get_rasa(request: Request) -> RasaClient:
    return request.app.state.rasa


def get_source_texts(request: Request) -> dict[str, str]:
    return request.app.state.source_texts


def require_internal(
    request: Request, x_minsheng_internal_token: Annotated[str | None, Header()] = None
) -> None:
    """Endpoints only our action server may call."""
    if x_minsheng_internal_token != request.app.state.settings.internal_token:
        raise HTTPException(401, "internal endpoint: missing or wrong X-Minsheng-Internal-Token")


SettingsDep = Annotated[Settings, Depends(get_settings)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
ConversationsDep = Annotated[ConversationStore, Depends(get_conversations)]
RasaDep = Annotated[RasaClient, Depends(get_rasa)]
SourceTextsDep = Annotated[dict[str, str], Depends(get_source_texts)]
InternalOnly = Depends(require_internal)
