"""Catalogue schema: services of both plans as cited data, with declarative eligibility conditions."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from knowledge.sources import Region

Category = Literal[
    "幼有所育",
    "学有所教",
    "劳有所得",
    "病有所医",
    "老有所养",
    "住有所居",
    "弱有所扶",
    "优军服务保障",
    "文体服务保障",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

LifeEvent = Literal[
    "结婚",
    "备孕",
    "怀孕",
    "生育",
    "育儿",
    "入学",
    "就业失业",
    "工伤",
    "患病",
    "养老",
    "残疾",
    "住房困难",
    "生活困难",
    "退役",
    "文体",
]
LIFE_EVENTS: tuple[str, ...] = LifeEvent.__args__  # type: ignore[attr-defined]

Cost = Literal["free", "subsidy", "reduced", "insurance", "not_stated"]
COST_LABELS = {
    "free": "免费",
    "subsidy": "补助/补贴",
    "reduced": "减免",
    "insurance": "保险待遇",
    "not_stated": "文件未说明费用",
}
Tier = Literal["basic", "non_basic"]


class CitationRef(BaseModel):
    """A verbatim quote from a source plan; resolved to offsets and a section path at load time."""

    model_config = ConfigDict(extra="forbid")
    source: str
    quote: str = Field(min_length=4, max_length=400)


class Condition(BaseModel):
    """One eligibility condition: a rule-engine expression over profile fields, or an any/all group.

    ``because`` states the requirement in plain Chinese ("为广西户籍"); ``cite`` points into the
    service's citations at the text that sets it.
    """

    model_config = ConfigDict(extra="forbid")
    when: str | None = None
    any: list[Condition] | None = None
    all: list[Condition] | None = None
    because: str = Field(min_length=2, max_length=200)
    cite: int = Field(0, ge=0)
    # Set only when the threshold is not in the plan but in a statute, e.g. 老年人 = 60 周岁以上
    # (《中华人民共和国老年人权益保障法》第二条); the reason then names that basis openly.
    basis: str | None = Field(None, max_length=120)

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [x for x in (self.when, self.any, self.all) if x is not None]
        if len(forms) != 1:
            raise ValueError("a condition needs exactly one of `when`, `any`, `all`")
        return self


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^(gx|nx)-[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)
    name: str = Field(min_length=2, max_length=60)
    aliases: list[str] = Field(default_factory=list)
    region: Region
    category: Category
    tier: Tier = "basic"
    audience: str = Field(min_length=2, max_length=300)
    what_you_get: str = Field(min_length=2, max_length=600)
    cost: Cost = "not_stated"
    limits: list[str] = Field(default_factory=list)
    department: str | None = None
    how_to_apply: str | None = None  # None: the plan does not say; never filled in from outside knowledge
    life_events: list[LifeEvent] = Field(default_factory=list)
    eligibility: list[Condition] = Field(default_factory=list)
    citations: list[CitationRef] = Field(min_length=1)
    notes: str | None = None
    valid_from: date | None = None  # defaults to the source plan's period
    valid_to: date | None = None

    @model_validator(mode="after")
    def _cites_exist(self) -> Service:
        def walk(conds: list[Condition]) -> None:
            for c in conds:
                if c.cite >= len(self.citations):
                    raise ValueError(
                        f"condition {c.because!r} cites #{c.cite}, but there are {len(self.citations)} citations"
                    )
                walk(c.any or [])
                walk(c.all or [])

        walk(self.eligibility)
        return self


class ResolvedCitation(BaseModel):
    source: str
    title: str
    region: Region
    section: str
    quote: str
    start: int
    end: int
    valid_from: date
    valid_to: date


class CatalogueEntry(BaseModel):
    """A service as served by the API: its data plus resolved citations."""

    service: Service
    citations: list[ResolvedCitation]
    conditions: list[Condition]  # the service's conditions plus the implied region condition
