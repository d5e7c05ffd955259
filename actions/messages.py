"""Chat messages as the API's gateway expects them in a custom payload (kind, text, citations, buttons)."""

from typing import Any

HANDOFF_BUTTON = {"title": "转人工", "payload": "/human_handoff"}
CITATION_FIELDS = ("source", "title", "section", "quote", "start", "end", "valid_from", "valid_to", "region")

PROFILE_SLOTS = (
    "hukou_region", "residence_region", "age", "planning_marriage", "planning_pregnancy", "pregnant", "children_ages",
    "school_stage", "income_status", "disability", "employment_status", "medical_insurance", "housing_status", "veteran",
)  # fmt: skip


def message(
    kind: str,
    text: str,
    citations: list[dict[str, Any]] | None = None,
    buttons: list[dict[str, str]] | None = None,
    produced_by: str | None = None,
    services: list[str] | None = None,
    index_version: str | None = None,
) -> dict[str, Any]:
    """``produced_by``/``services`` say how the answer service made the reply (template lead line,
    extractive, listing, indicator row, declined …) so the operator transcript can show why;
    ``index_version`` which index version it was composed from (the gateway passes it on to the client)."""
    cites = [{k: c.get(k) for k in CITATION_FIELDS} for c in citations or []]
    out: dict[str, Any] = {"kind": kind, "text": text, "citations": cites, "buttons": buttons or []}
    if produced_by:
        out["produced_by"] = produced_by
        out["services"] = services or []
    if index_version:
        out["index_version"] = index_version
    return out


_CHOICES = {
    "hukou_region": {"guangxi", "ningxia", "other"},
    "residence_region": {"guangxi", "ningxia", "other"},
    "school_stage": {"none", "preschool", "primary", "junior", "senior", "vocational", "university"},
    "income_status": {"none", "low_income", "dibao", "tekun"},
    "employment_status": {"employed", "unemployed", "self_employed", "retired", "student", "farmer"},
    "medical_insurance": {"employee", "resident", "none"},
    "housing_status": {"own", "renting", "housing_difficulty"},
}


def is_normalised(name: str, value: Any) -> bool:
    """A slot value that validation has already turned into an API value (not the raw answer text)."""
    if name in _CHOICES:
        return value in _CHOICES[name]
    if name == "age":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "children_ages":
        return isinstance(value, list)
    return isinstance(value, bool)


def profile_from_slots(slots: dict[str, Any]) -> dict[str, Any]:
    """Only normalised values are facts; raw text still waiting for validation is not."""
    return {
        name: slots[name]
        for name in PROFILE_SLOTS
        if slots.get(name) is not None and is_normalised(name, slots[name])
    }


def entitlement_summary(result: dict[str, Any], limit: int = 6) -> dict[str, Any]:
    """A short result: what you can get, what we still need to know, what does not apply — with citations."""
    lines: list[str] = ["根据您提供的信息，按规划原文核对的结果："]
    eligible, needs, no = (
        result.get("eligible", []),
        result.get("needs_info", []),
        result.get("not_eligible", []),
    )
    if eligible:
        names = "、".join(r["name"] for r in eligible[:limit]) + (
            f" 等 {len(eligible)} 项" if len(eligible) > limit else ""
        )
        lines.append(f"✅ 可以享受：{names}")
    if needs:
        asks = "；".join(
            f"{r['name']}（还需了解：{r['questions'][0]['label']}）" for r in needs[:3] if r.get("questions")
        )
        lines.append(f"❓ 还需确认 {len(needs)} 项" + (f"：{asks}" if asks else ""))
    if no:
        why = "；".join(
            f"{r['name']}：{next((x for x in r['reasons'] if x.startswith('不符合')), '')}" for r in no[:3]
        )
        lines.append(f"❌ 不符合 {len(no)} 项" + (f"，例如 {why}" if why else ""))
    if not (eligible or needs or no):
        lines.append("没有找到可以核对的服务。")
    lines.append("以上依据规划原文，具体标准和办理方式请以当地部门为准。")
    citations = [r["citations"][0] for r in eligible[:limit] if r.get("citations")]
    return message("answer", "\n".join(lines), citations, [HANDOFF_BUTTON])


def api_failure(status: int | None) -> dict[str, Any]:
    """What the resident is told when the API did not answer. Only an outage (no answer, 5xx, 429) is reported as
    one; a 4xx means the API refused this message (too long, malformed), which waiting will not fix."""
    if status is not None and 400 <= status < 500 and status != 429:
        return message(
            "refuse",
            "抱歉，这句话我没能处理（可能太长或包含无法识别的内容）。请换个简短的说法再问一次，或转人工客服。",
            buttons=[HANDOFF_BUTTON],
        )
    return message(
        "refuse", "抱歉，知识库暂时无法访问。您可以稍后再问，或转人工客服。", buttons=[HANDOFF_BUTTON]
    )
