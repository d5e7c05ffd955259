"""Named dependencies. Heavy objects are built once per app (lifespan) and reached through request.app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from knowledge.catalogue.loader import Catalogue
from knowledge.retrieval import Retriever
from knowledge.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_retriever(request: Request) -> Retriever:
    return request.app.state.retriever


def get_catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue


SettingsDep = Annotated[Settings, Depends(get_settings)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
