from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api import errors
from api.deps import CatalogueDep, RetrieverDep
from api.iso_dates import IsoDate
from knowledge.catalogue.entitlements import (
    EntitlementReport,
    MissingField,
    check_entitlements,
    most_needed_fields,
)
from knowledge.catalogue.profile import ResidentProfile, field_label, field_question
from knowledge.dating import DocumentBasis, document_bases
from knowledge.errors import IndexNotReady
from knowledge.sources import Region

router = APIRouter(prefix="/v1/entitlements", tags=["entitlements"])


class EntitlementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    profile: ResidentProfile
    region: Region | None = Field(None, description="只检查该地区规划中的服务")
    services: list[str] | None = Field(None, max_length=200, description="只检查这些服务 id")
    as_of: IsoDate | None = Field(
        None, strict=False, description="按哪一天有效的文件判断（YYYY-MM-DD，默认今天）"
    )


class EntitlementResponse(EntitlementReport):
    ask_next: list[MissingField] = Field(description="最能帮助判断的下一批问题（按影响的服务数排序）")
    as_of: date
    sources: list[DocumentBasis] = Field(description="结果所依据的文件、期限及其在 as_of 当日的状态")


@router.post("/check", response_model=EntitlementResponse, responses=errors.responses(404))
def check(body: EntitlementRequest, catalogue: CatalogueDep, retriever: RetrieverDep) -> EntitlementResponse:
    as_of = body.as_of or date.today()
    try:
        bases = document_bases(retriever.dating(), as_of)
    except IndexNotReady:  # rules need no index: without one, no document is known to be replaced
        bases = []
    # A service resting on a document that a newer one in force replaced is not checked unless asked for.
    replaced = {b.title for b in bases if b.status == "superseded"}
    wanted = body.services or [
        sid for sid, e in catalogue.entries.items() if e.citations[0].title not in replaced
    ]
    report = check_entitlements(catalogue, body.profile, service_ids=wanted, region=body.region)
    ask = [
        MissingField(field=f, label=field_label(f), question=field_question(f))
        for f in most_needed_fields(report)
    ]
    cited = {
        c.title
        for group in (report.eligible, report.needs_info, report.not_eligible)
        for r in group
        for c in r.citations
    }
    return EntitlementResponse(
        **report.model_dump(), ask_next=ask, as_of=as_of, sources=[b for b in bases if b.title in cited]
    )
