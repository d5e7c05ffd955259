"""Life-event journeys over the catalogue (pure, data from life_events.yaml)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel

from knowledge.catalogue.loader import Catalogue
from knowledge.catalogue.models import LIFE_EVENTS, Service
from knowledge.errors import NotFound

LIFE_EVENTS_FILE = Path(__file__).resolve().parent / "life_events.yaml"


class LifeEventDef(BaseModel):
    id: str
    title: str
    then: list[str]


class Stage(BaseModel):
    event: str
    title: str
    services: list[Service]


class Journey(BaseModel):
    event: str
    title: str
    region: str | None
    stages: list[Stage]


@cache
def life_event_defs(path: Path = LIFE_EVENTS_FILE) -> dict[str, LifeEventDef]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["events"]
    defs = {d.id: d for d in (LifeEventDef.model_validate(e) for e in raw)}
    unknown = {e for d in defs.values() for e in [d.id, *d.then]} - set(LIFE_EVENTS)
    if unknown:
        raise ValueError(f"life_events.yaml names unknown events: {sorted(unknown)}")
    return defs


def services_for(catalogue: Catalogue, event: str, region: str | None = None) -> list[Service]:
    return [
        s for s in catalogue.services() if event in s.life_events and (region is None or s.region == region)
    ]


def journey(catalogue: Catalogue, event: str, region: str | None = None) -> Journey:
    defs = life_event_defs()
    if event not in defs:
        raise NotFound(f"unknown life event {event!r}; known: {', '.join(defs)}")
    start = defs[event]
    stages = [
        Stage(event=e, title=defs[e].title, services=services_for(catalogue, e, region))
        for e in [start.id, *start.then]
    ]
    return Journey(event=start.id, title=start.title, region=region, stages=stages)
