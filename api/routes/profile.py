"""Resident-profile helpers for the dialogue: the fields and their questions, and answer normalisation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from knowledge.catalogue.hints import profile_hints
from knowledge.catalogue.normalize import Normalized, normalize_answer
from knowledge.catalogue.profile import PROFILE_FIELDS, field_label, field_question
from knowledge.sources import Region

router = APIRouter(prefix="/v1/profile", tags=["profile"])


class FieldInfo(BaseModel):
    field: str
    label: str
    question: str


class NormalizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    field: str = Field(max_length=64)
    text: str = Field(min_length=1, max_length=200)


class HintsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    messages: list[Annotated[str, Field(max_length=500)]] = Field(
        max_length=50, description="居民说过的话，从早到晚"
    )
    region: Region | None = Field(None, description="对话已确定的地区（居民说过的地名）")


class HintsResponse(BaseModel):
    profile: dict[str, Any] = Field(description="居民已经说明的资料（表单不再重复询问）")


@router.post("/hints", response_model=HintsResponse)
def hints(body: HintsRequest) -> HintsResponse:
    return HintsResponse(profile=profile_hints(body.messages, body.region))


@router.get("/fields", response_model=list[FieldInfo])
def fields() -> list[FieldInfo]:
    return [FieldInfo(field=f, label=field_label(f), question=field_question(f)) for f in PROFILE_FIELDS]


@router.post("/normalize", response_model=Normalized)
def normalize(body: NormalizeRequest) -> Normalized:
    if body.field not in PROFILE_FIELDS:
        raise HTTPException(422, f"不认识的资料字段 {body.field!r}")
    return normalize_answer(body.field, body.text)
