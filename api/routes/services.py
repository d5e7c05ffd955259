from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api import errors
from api.deps import CatalogueDep, RetrieverDep
from knowledge.catalogue.models import Category, LifeEvent, ResolvedCitation, Service
from knowledge.dating import DocumentBasis, document_bases
from knowledge.errors import IndexNotReady
from knowledge.sources import Region

router = APIRouter(prefix="/v1/services", tags=["services"])


class ServiceList(BaseModel):
    count: int
    services: list[Service]


class ServiceDetail(BaseModel):
    service: Service
    citations: list[ResolvedCitation]
    sources: list[DocumentBasis] = Field(
        default_factory=list,
        description="这项服务所依据的文件、规划期及其今天的状态（现行有效/规划期已结束/已被替代）",
    )


def _matches_text(service: Service, q: str) -> bool:
    haystack = [service.name, *service.aliases, service.audience, service.what_you_get]
    return any(q in h or h in q for h in haystack if h)


@router.get("", response_model=ServiceList)
def list_services(
    catalogue: CatalogueDep,
    region: Region | None = None,
    category: Category | None = None,
    life_event: LifeEvent | None = None,
    q: Annotated[str | None, Query(max_length=100, description="名称、俗称或内容中的词")] = None,
) -> ServiceList:
    found = [
        s
        for s in catalogue.services()
        if (region is None or s.region == region)
        and (category is None or s.category == category)
        and (life_event is None or life_event in s.life_events)
        and (not q or not q.strip() or _matches_text(s, q.strip()))
    ]
    return ServiceList(count=len(found), services=found)


@router.get("/{service_id}", response_model=ServiceDetail, responses=errors.responses(404))
def get_service(service_id: str, catalogue: CatalogueDep, retriever: RetrieverDep) -> ServiceDetail:
    entry = catalogue.get(service_id)
    try:
        bases = document_bases(retriever.dating(), date.today())
    except IndexNotReady:  # the catalogue needs no index; without one, the period is still in the citations
        bases = []
    cited = {c.title for c in entry.citations}
    return ServiceDetail(
        service=entry.service, citations=entry.citations, sources=[b for b in bases if b.title in cited]
    )
