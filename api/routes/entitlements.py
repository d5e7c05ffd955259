from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CatalogueDep
from knowledge.catalogue.entitlements import (
    EntitlementReport,
    MissingField,
    check_entitlements,
    most_needed_fields,
)
from knowledge.catalogue.profile import ResidentProfile, field_label, field_question
from knowledge.sources import Region

router = APIRouter(prefix="/v1/entitlements", tags=["entitlements"])


class EntitlementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    profile: ResidentProfile
    region: Region | None = Field(None, description="只检查该地区规划中的服务")
    services: list[str] | None = Field(None, max_length=200, description="只检查这些服务 id")


class EntitlementResponse(EntitlementReport):
    ask_next: list[MissingField] = Field(description="最能帮助判断的下一批问题（按影响的服务数排序）")


@router.post("/check", response_model=EntitlementResponse)
def check(body: EntitlementRequest, catalogue: CatalogueDep) -> EntitlementResponse:
    report = check_entitlements(catalogue, body.profile, service_ids=body.services, region=body.region)
    ask = [
        MissingField(field=f, label=field_label(f), question=field_question(f))
        for f in most_needed_fields(report)
    ]
    return EntitlementResponse(**report.model_dump(), ask_next=ask)
