from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api import errors
from api.deps import CatalogueDep
from knowledge.catalogue.life_events import Journey, journey, life_event_defs, services_for
from knowledge.sources import REGIONS, Region

router = APIRouter(prefix="/v1/life-events", tags=["life-events"])


class LifeEventSummary(BaseModel):
    id: str
    title: str
    then: list[str]
    service_counts: dict[str, int]


@router.get("", response_model=list[LifeEventSummary])
def list_life_events(catalogue: CatalogueDep) -> list[LifeEventSummary]:
    return [
        LifeEventSummary(
            id=d.id,
            title=d.title,
            then=d.then,
            service_counts={r: len(services_for(catalogue, d.id, r)) for r in REGIONS},
        )
        for d in life_event_defs().values()
    ]


@router.get("/{event}", response_model=Journey, responses=errors.responses(404))
def get_life_event(event: str, catalogue: CatalogueDep, region: Region | None = None) -> Journey:
    return journey(catalogue, event, region)
