"""Everyday wording of catalogue services: the names residents use and the questions they ask.

Written by reading the plans and the catalogue (``knowledge/catalogue/colloquial/*.yaml``), never from an
evaluation set's failures. Each file maps a service id to
- ``names``: what residents call the service (简称/俗称/旧称) — synonyms of that service's official name;
- ``terms``: a colloquial word → the plan's own term it stands for (the term must occur in the plan);
- ``questions``: how residents ask about it.
The provenance is the structure itself: every name and question belongs to exactly one service.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from knowledge.catalogue.loader import Catalogue, CatalogueError

COLLOQUIAL_DIR = Path(__file__).resolve().parent / "colloquial"
MIN_QUESTIONS = 3


class ServiceWording(BaseModel):
    model_config = ConfigDict(extra="forbid")

    names: list[str] = Field(default_factory=list)
    terms: dict[str, str] = Field(default_factory=dict)
    questions: list[str] = Field(default_factory=list)


@cache
def load_wording(directory: Path = COLLOQUIAL_DIR) -> dict[str, ServiceWording]:
    """Service id → its everyday wording, merged over all files (a service may appear in one file only)."""
    wording: dict[str, ServiceWording] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for service_id, raw in data.items():
            if service_id in wording:
                problems.append(f"{path.name}: {service_id} is worded in another file too")
                continue
            try:
                wording[service_id] = ServiceWording.model_validate(raw or {})
            except ValidationError as exc:
                problems.append(f"{path.name}: {service_id}: {exc.errors()[0]['msg']}")
    if problems:
        raise CatalogueError(problems)
    return wording


def wording_problems(
    wording: dict[str, ServiceWording], catalogue: Catalogue, source_texts: dict[str, str]
) -> list[str]:
    """Unknown services, services without wording, too few questions, terms the plan does not use."""
    problems = [f"{sid}: not in the catalogue" for sid in wording if sid not in catalogue.entries]
    for sid, entry in catalogue.entries.items():
        w = wording.get(sid)
        if w is None:
            problems.append(f"{sid}: no everyday wording")
            continue
        if len(w.questions) < MIN_QUESTIONS:
            problems.append(f"{sid}: {len(w.questions)} questions, at least {MIN_QUESTIONS} needed")
        plan = "".join(source_texts.get(c.source, "") for c in entry.citations)
        problems += [
            f"{sid}: term {official!r} (for {word!r}) is not in its plan"
            for word, official in w.terms.items()
            if official not in plan
        ]
    return problems


@cache
def colloquial_terms(directory: Path = COLLOQUIAL_DIR) -> dict[str, list[str]]:
    """Colloquial word → official terms, over every service (for query expansion)."""
    terms: dict[str, list[str]] = {}
    for w in load_wording(directory).values():
        for word, official in w.terms.items():
            terms.setdefault(word, [])
            if official not in terms[word]:
                terms[word].append(official)
    return terms
