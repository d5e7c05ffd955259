"""Small synthetic plan documents (章/节 headings, a few paragraphs) so ingest stays fast in tests."""

from __future__ import annotations

import json
from datetime import date

from knowledge.retrieval import Hit


def plan_text(title: str, service: str, extra: str = "") -> str:
    return (
        f"{title}\n\n第一章 总体要求\n\n第一节 指导思想\n\n"
        f"坚持以人民为中心的发展思想，推动{service}向基层延伸，让群众办事更方便。\n\n"
        f"第二章 重点任务\n\n第一节 {service}\n\n"
        f"为辖区内常住居民免费提供{service}，每年不少于一次，所需经费由财政保障。{extra}\n\n"
        f"第二节 组织保障\n\n各地要明确责任分工，加强督促检查，确保{service}落到实处。\n"
    )


def plan_meta(doc_id: str, title: str, region: str = "guangxi", **overrides) -> dict:
    meta = {
        "doc_id": doc_id,
        "title": title,
        "short_title": title.strip("《》")[:12],
        "region": region,
        "period": {"start": 2021, "end": 2025},
        "valid_from": "2021-01-01",
        "valid_to": "2025-12-31",
    }
    return {**meta, **overrides}


def meta_json(doc_id: str, title: str, region: str = "guangxi", **overrides) -> str:
    return json.dumps(plan_meta(doc_id, title, region, **overrides), ensure_ascii=False)


def make_hit(
    chunk_id: str, quote: str, score: float, kind: str = "paragraph", similarity: float | None = 0.9
) -> Hit:
    """A retrieval hit on a Guangxi plan, for the pure answer and passage logic."""
    return Hit(
        chunk_id=chunk_id,
        text=quote,
        quote=quote,
        source="plan.txt",
        title="《规划》",
        region="guangxi",
        section="第三章",
        section_titles=["第三章"],
        kind=kind,
        start=0,
        end=len(quote),
        score=score,
        similarity=similarity,
        valid_from=date(2021, 1, 1),
        valid_to=date(2025, 12, 31),
    )
