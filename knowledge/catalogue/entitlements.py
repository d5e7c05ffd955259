"""Entitlement check: profile × service → eligible / needs_info / not_eligible, with reasons and citations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel

from knowledge.catalogue.loader import Catalogue
from knowledge.catalogue.models import CatalogueEntry, ResolvedCitation
from knowledge.catalogue.profile import PROFILE_FIELDS, ResidentProfile, field_label, field_question
from knowledge.catalogue.rules import evaluate, profile_facts

Status = Literal["eligible", "needs_info", "not_eligible"]


class MissingField(BaseModel):
    field: str
    label: str
    question: str


class ServiceResult(BaseModel):
    service_id: str
    name: str
    region: str
    category: str
    status: Status
    reasons: list[str]
    missing_fields: list[str]
    questions: list[MissingField]
    next_question: str | None = None
    citations: list[ResolvedCitation]


class EntitlementReport(BaseModel):
    eligible: list[ServiceResult]
    needs_info: list[ServiceResult]
    not_eligible: list[ServiceResult]


def check_service(
    entry: CatalogueEntry,
    profile: ResidentProfile,
    facts: dict[str, object] | None = None,
    memo: dict[str, bool] | None = None,
) -> ServiceResult:
    facts = profile_facts(profile) if facts is None else facts
    outcomes = [evaluate(c, facts, memo) for c in entry.conditions]
    reasons: list[str] = []
    missing: list[str] = []
    for o in outcomes:
        because = o.condition.because + (f"（依据：{o.condition.basis}）" if o.condition.basis else "")
        if o.value is True:
            reasons.append(f"符合：{because}")
        elif o.value is False:
            reasons.append(f"不符合：{because}")
        else:
            reasons.append(f"待确认：{because}")
            missing.extend(f for f in o.missing if f not in missing)
    values = [o.value for o in outcomes]
    status: Status = "not_eligible" if False in values else ("needs_info" if None in values else "eligible")
    if status == "not_eligible":
        missing = []  # a failed condition decides; asking more would waste the resident's time
    if not outcomes:
        reasons.append("规划未对该服务设定具体条件")
    questions = [MissingField(field=f, label=field_label(f), question=field_question(f)) for f in missing]
    s = entry.service
    return ServiceResult(
        service_id=s.id,
        name=s.name,
        region=s.region,
        category=s.category,
        status=status,
        reasons=reasons,
        missing_fields=missing,
        questions=questions,
        next_question=questions[0].question if questions else None,
        citations=entry.citations,
    )


def check_entitlements(
    catalogue: Catalogue,
    profile: ResidentProfile,
    service_ids: Iterable[str] | None = None,
    region: str | None = None,
) -> EntitlementReport:
    entries = [catalogue.get(i) for i in service_ids] if service_ids else list(catalogue.entries.values())
    if region:
        entries = [e for e in entries if e.service.region == region]
    facts, memo = profile_facts(profile), {}
    results = [check_service(e, profile, facts, memo) for e in entries]
    return EntitlementReport(
        eligible=[r for r in results if r.status == "eligible"],
        needs_info=[r for r in results if r.status == "needs_info"],
        not_eligible=[r for r in results if r.status == "not_eligible"],
    )


def most_needed_fields(report: EntitlementReport, limit: int = 3) -> list[str]:
    """Which unknown fields would settle the most services: what a form should ask first."""
    counts: dict[str, int] = {}
    for r in report.needs_info:
        for f in r.missing_fields:
            counts[f] = counts.get(f, 0) + 1
    ordered = sorted(counts, key=lambda f: (-counts[f], PROFILE_FIELDS.index(f)))
    return ordered[:limit]
