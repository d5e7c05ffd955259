from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api import errors
from api.deps import RetrieverDep, RouteDep
from api.iso_dates import IsoDate
from knowledge.retrieval import MAX_QUERY_CHARS, MAX_TOP_K, Hit
from knowledge.service_route import ServiceMatch
from knowledge.sources import Region

router = APIRouter(prefix="/v1", tags=["search"])


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="居民或接线员的问题")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    region: Region | None = Field(None, description="只检索该地区的规划；为空时按问题中的地名加权")
    as_of: IsoDate | None = Field(
        None, strict=False, description="按哪一天有效的文件作答（YYYY-MM-DD，默认今天）：现行文件优先"
    )

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("问题不能为空")
        return value


class SearchResponse(BaseModel):
    hits: list[Hit]
    version: str
    detected_regions: list[Region]
    services: list[ServiceMatch] = Field(default_factory=list, description="问题→服务路由匹配到的目录服务")
    as_of: date | None = Field(None, description="判断文件是否有效所依据的日期")


@router.post("/search", response_model=SearchResponse, responses=errors.responses(503))
def search(body: SearchRequest, retriever: RetrieverDep, route: RouteDep) -> SearchResponse:
    result = retriever.search(body.query, top_k=body.top_k, region=body.region, route=route, as_of=body.as_of)
    return SearchResponse(
        hits=result.hits,
        version=result.version,
        detected_regions=result.detected_regions,
        services=result.services,
        as_of=result.as_of,
    )
