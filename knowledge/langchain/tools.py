"""Minsheng as LangChain tools for an agent: ``search_plans``, ``check_entitlements``, ``list_services``.

Each tool has a pydantic args schema and a description written for the model that calls it, and answers with
``(content, artifact)``: ``content`` is compact Chinese text the model reads (every passage with its document,
section and period), ``artifact`` the full JSON the API returns (citations with offsets) for the application.
``minsheng_tools()`` builds the three in-process; ``minsheng_tools(base_url=...)`` over HTTP.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, Field

from knowledge.catalogue.models import COST_LABELS, Category, LifeEvent
from knowledge.catalogue.profile import ResidentProfile
from knowledge.dating import STATUS_LABELS
from knowledge.errors import KnowledgeError
from knowledge.langchain.backends import Backend, HttpBackend, InProcessBackend
from knowledge.sources import REGION_NAMES, Region

SHOWN = 10  # items per group a tool's text lists (the artifact has them all)


class SearchPlansInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1, max_length=500, description="The resident's question in Chinese, e.g. 孕前检查免费吗"
    )
    region: Region | None = Field(
        None, description="Only this plan: guangxi (广西) or ningxia (宁夏). Leave empty when unknown."
    )
    top_k: int = Field(3, ge=1, le=10, description="How many passages to return.")


class CheckEntitlementsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: ResidentProfile = Field(
        default_factory=ResidentProfile,
        description="What the resident has said about themselves. Fill only fields they stated; never guess.",
    )
    region: Region | None = Field(None, description="Only services of this plan: guangxi or ningxia.")
    services: list[str] | None = Field(
        None,
        max_length=50,
        description="Only these service ids (from search_plans or list_services), e.g. gx-preconception-check.",
    )


class ListServicesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: Region | None = Field(None, description="guangxi or ningxia")
    category: Category | None = Field(None, description="One of the plans' nine areas, e.g. 病有所医")
    life_event: LifeEvent | None = Field(None, description="A life event, e.g. 怀孕, 养老, 残疾")
    q: str | None = Field(
        None, max_length=100, description="A word in the service's name or content, e.g. 低保"
    )


SEARCH_DESCRIPTION = """Search the official Guangxi and Ningxia public-service plans (广西/宁夏公共服务“十四五”规划) for \
passages that answer a resident's question. Returns numbered verbatim quotes, each with its document, section, \
period and whether that document is in force, plus ids of catalogue services the question matched. Answer only \
from these quotes and cite them; if none answers, say the plans do not say. Never state a figure, amount or \
place that is not in a quote."""

CHECK_DESCRIPTION = """Check which public services a resident may be entitled to, from what they told you \
(hukou region, age, pregnancy, income status, disability …). Returns services that are eligible, that need more \
information (with the question to ask next) and that are not eligible, each with its reasons. Pass only facts \
the resident stated; unknown fields make a service 'needs info', never a guess."""

LIST_DESCRIPTION = """List the service catalogue built from the two plans (136 services): id, name, region, \
category, what you get and the cost as the plan states it. Filter by region, category, life event or a word. \
Use it to find service ids for check_entitlements or to show what exists."""


def _period(hit: dict[str, Any]) -> str:
    return f"{str(hit.get('valid_from', ''))[:4]}—{str(hit.get('valid_to', ''))[:4]}年"


def format_search(result: dict[str, Any]) -> str:
    hits = result.get("hits", [])
    if not hits:
        return "规划里没有找到相关原文。请如实告诉居民规划没有写，不要自行回答。"
    lines = []
    for i, h in enumerate(hits, 1):
        status = STATUS_LABELS.get(h.get("status") or "", "")
        where = f"{h['title']}（{REGION_NAMES.get(h['region'], h['region'])}，{_period(h)}"
        where += f"，{status}）" if status else "）"
        lines.append(f"[{i}] {where} {h['section']}\n原文：{h.get('text') or h['quote']}")
    services = [s["service_id"] for s in result.get("services", [])[:3]]
    if services:
        lines.append("问题可能对应的服务 id：" + "、".join(services))
    return "\n".join(lines)


def _names(results: list[dict[str, Any]], with_reasons: bool) -> list[str]:
    lines = []
    for r in results[:SHOWN]:
        line = f"- {r['name']} [{r['service_id']}]"
        if with_reasons:
            line += "：" + "；".join(r["reasons"][:3])
        lines.append(line)
    if len(results) > SHOWN:
        lines.append(f"- …还有 {len(results) - SHOWN} 项")
    return lines


def format_check(report: dict[str, Any]) -> str:
    lines = [f"可以享受（{len(report['eligible'])} 项）："] + _names(report["eligible"], False)
    lines += [f"需要补充信息（{len(report['needs_info'])} 项）："] + _names(report["needs_info"], True)
    lines += [f"不符合（{len(report['not_eligible'])} 项）："] + _names(report["not_eligible"], True)
    if report.get("ask_next"):
        lines.append("下一步可以问居民：" + "；".join(m["question"] for m in report["ask_next"]))
    if report.get("sources"):
        basis = "、".join(f"{b['title']}（{b['period']}，{b['status_label']}）" for b in report["sources"])
        lines.append(f"依据：{basis}")
    return "\n".join(lines)


def format_services(listing: dict[str, Any], limit: int = 20) -> str:
    services = listing.get("services", [])
    if not services:
        return "目录里没有符合条件的服务。"
    lines = [f"共 {listing['count']} 项服务："]
    for s in services[:limit]:
        what = s["what_you_get"] if len(s["what_you_get"]) <= 60 else s["what_you_get"][:59] + "…"
        region = REGION_NAMES.get(s["region"], s["region"])
        lines.append(
            f"- [{s['id']}] {s['name']}（{region}，{s['category']}，费用：{COST_LABELS[s['cost']]}）：{what}"
        )
    if len(services) > limit:
        lines.append(f"…还有 {len(services) - limit} 项；可按地区、类别或关键词缩小范围。")
    return "\n".join(lines)


def _tool_error(exc: Exception) -> ToolException:
    return ToolException(str(exc))


def _argument_error(exc: Exception) -> str:
    """What the model is told when its arguments do not fit the schema: which field and why."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "参数有误：" + "；".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors(include_url=False)
        )
    return f"参数有误：{exc}"


def minsheng_tools(
    *,
    base_url: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    http_client: Any = None,
    retriever: Any = None,
    route: Any = None,
    catalogue: Any = None,
    as_of: date | None = None,
    backend: Backend | None = None,
) -> list[BaseTool]:
    """The three tools, in-process (``knowledge``'s defaults, or your own ``retriever``/``route``/``catalogue``)
    or over HTTP when ``base_url`` (or an httpx ``http_client``) is given. ``as_of`` dates every call."""
    if backend is None:
        if base_url or http_client is not None:
            backend = HttpBackend(base_url, client=http_client, timeout=timeout, headers=headers)
        else:
            backend = InProcessBackend(retriever, route, catalogue)

    def search_plans(query: str, region: Region | None = None, top_k: int = 3) -> tuple[str, dict[str, Any]]:
        try:
            result = backend.search(query, top_k=top_k, region=region, as_of=as_of)
        except KnowledgeError as exc:
            raise _tool_error(exc) from exc
        return format_search(result), result

    def check_entitlements(
        profile: ResidentProfile | None = None,
        region: Region | None = None,
        services: list[str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        facts = (profile or ResidentProfile()).model_dump(mode="json", exclude_none=True)
        try:
            report = backend.check(facts, region=region, services=services, as_of=as_of)
        except KnowledgeError as exc:
            raise _tool_error(exc) from exc
        return format_check(report), report

    def list_services(
        region: Region | None = None,
        category: str | None = None,
        life_event: str | None = None,
        q: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        try:
            listing = backend.services(region=region, category=category, life_event=life_event, q=q)
        except KnowledgeError as exc:
            raise _tool_error(exc) from exc
        return format_services(listing), listing

    return [
        StructuredTool.from_function(
            func=func,
            name=func.__name__,
            description=description,
            args_schema=schema,
            response_format="content_and_artifact",
            # a refused call (bad arguments, unknown service id, rate limit) is told to the model
            handle_tool_error=True,
            handle_validation_error=_argument_error,
        )
        for func, description, schema in (
            (search_plans, SEARCH_DESCRIPTION, SearchPlansInput),
            (check_entitlements, CHECK_DESCRIPTION, CheckEntitlementsInput),
            (list_services, LIST_DESCRIPTION, ListServicesInput),
        )
    ]
