"""Grounded answers: retrieve, pick the sentences that answer, cite each one verbatim — or decline.

No generation: every sentence shown to a resident is a span of a plan, with its offsets. The answer
is short (a few sentences per region), names the matching catalogue services, separates the two
regions when the question does not say which one it is about, and declines when the plans do not
answer (low retrieval confidence, a money amount the plans never state, requests out of scope).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from knowledge.catalogue.loader import Catalogue
from knowledge.catalogue.models import COST_LABELS, ResolvedCitation, Service
from knowledge.chunking import display_text, sentence_spans
from knowledge.guardrails import asks_for_amount, check_question, states_money_figure
from knowledge.lexical import char_bigrams, expand_query, word_tokens
from knowledge.regions import detect_regions
from knowledge.retrieval import Hit, Retriever
from knowledge.sources import REGION_NAMES, REGIONS, Region

ReplyKind = Literal["answer", "clarify", "refuse", "handoff", "form", "smalltalk"]
# Short names for the two shipped plans; any other (uploaded) document is named by its own title, so an
# answer never attributes a quote to the wrong document.
SHORT_TITLES = {
    "《广西公共服务“十四五”规划》": "广西规划",
    "《宁夏回族自治区公共服务发展“十四五”规划》": "宁夏规划",
}


def doc_label(title: str) -> str:
    return SHORT_TITLES.get(title, title)


# Calibrated on the development set (docs/benchmarks.md): an in-scope question's best hit is seen by
# several rankers (fused score) and is close to the question in embedding space (similarity).
MIN_FUSED = 0.028
MIN_SIMILARITY = 0.855
REGION_SHARE = 0.72  # a region gets its own section when its best hit scores this share of the best overall
PASSAGES_PER_REGION = 2
FIRST_PASSAGE_CHARS = 240  # the best passage may show up to about three sentences
OTHER_PASSAGE_CHARS = 140

HANDOFF_BUTTON = {"title": "转人工", "payload": "/human_handoff"}
CHECK_BUTTON = {"title": "帮我看看能不能享受", "payload": "/check_eligibility"}


Citation = ResolvedCitation  # one citation shape for answers, services and entitlements


class Button(BaseModel):
    title: str
    payload: str


class Reply(BaseModel):
    kind: ReplyKind
    text: str
    citations: list[Citation] = Field(default_factory=list)
    buttons: list[Button] = Field(default_factory=list)
    # Context for the next turn (kept by the dialogue manager)
    query: str | None = None
    region: Region | None = None
    services: list[str] = Field(default_factory=list)
    reason: str | None = None  # why it declined, for insights


class Context(BaseModel):
    last_query: str | None = None
    region: Region | None = None


def refuse(message: str, reason: str) -> Reply:
    return Reply(
        kind="refuse",
        text=f"{message}如需进一步帮助，可以转人工客服。",
        buttons=[Button(**HANDOFF_BUTTON)],
        reason=reason,
    )


# --- follow-ups ------------------------------------------------------------------------------
_REGION_ONLY = re.compile(
    r"^(那|那么|我|我们|我家|俺)?(在|是|住|住在|户口在)?(?P<place>[\u4e00-\u9fff]{2,5}?)(市|县|区)?(的|人|这边|那边)?(呢|咋样|怎么样|如何)?[？?。！!，,]*$"
)


def region_choice(question: str) -> Region | None:
    """The region a message consisting only of a place ("广西", "我在银川", "柳州的", "宁夏呢") picks."""
    m = _REGION_ONLY.match(question.strip())
    if not m:
        return None
    from knowledge.regions import place_names

    return place_names().get(m.group("place"))


_FOLLOW_UP_LEAD = re.compile(r"^(那|那么|还有|另外|那要是|如果是)")
_TOPIC_TERMS = re.compile(r"[\u4e00-\u9fff]{2,}")


def resolve_follow_up(question: str, context: Context) -> tuple[str, Region | None]:
    """The question to search for, and a region the follow-up itself switches to ("宁夏呢")."""
    q = question.strip()
    if not context.last_query:
        return q, None
    if chosen := region_choice(q):
        return context.last_query, chosen
    content = [
        t for t in word_tokens(q) if len(t) >= 2 and t not in ("免费", "多少", "怎么", "办理", "要钱", "收费")
    ]
    if len(q) <= 12 and (not content or _FOLLOW_UP_LEAD.match(q) and len(content) <= 1):
        # "要钱吗" / "怎么办理" have no topic of their own; "那婚检呢" brings one: keep the question's frame only then
        if content:
            return f"{q} {_frame(context.last_query)}", None
        return f"{context.last_query} {q}", None
    return q, None


def _frame(last_query: str) -> str:
    """What kind of question the last one was (免费? 检查? 条件?), without its topic."""
    return " ".join(w for w in ("免费", "检查", "补贴", "条件", "怎么办", "要钱") if w in last_query)


# --- sentence selection ------------------------------------------------------------------------
_GENERIC = frozenset(
    "规划 服务 政府 国家 能不能 怎么办 办法 情况 问题 东西 这块 那块 啥 有啥 咋 咋管 管管 帮着 一点 还有 以后 现在 好几 几年".split()
)


def _query_terms(query: str) -> tuple[set[str], set[str]]:
    """Content words (no place names, no filler) and character bigrams of the expanded question."""
    from knowledge.regions import place_names

    places = place_names()
    expanded = expand_query(query)
    words = {w for w in word_tokens(expanded) if len(w) >= 2 and w not in _GENERIC and w not in places}
    bigrams = {g for g in char_bigrams(expanded) if not any(g in p for p in places if len(p) >= 2)}
    return words, bigrams


def overlap(text: str, terms: tuple[set[str], set[str]]) -> float:
    """How much of the question a passage speaks to: longer shared words count more."""
    words, bigrams = terms
    return sum(len(w) for w in words if w in text) + 0.5 * sum(1 for g in bigrams if g in text)


def rerank(hits: list[Hit], terms: tuple[set[str], set[str]]) -> list[Hit]:
    """Order retrieval hits for answering: half fused rank score, half best-sentence overlap with the question."""
    if not hits:
        return hits
    spans = {h.chunk_id: best_span(h, terms) for h in hits}
    ov = {
        h.chunk_id: overlap(h.quote[spans[h.chunk_id][0] - h.start : spans[h.chunk_id][1] - h.start], terms)
        for h in hits
    }
    top_score, top_ov = hits[0].score or 1.0, max(ov.values()) or 1.0
    return sorted(hits, key=lambda h: -(0.5 * h.score / top_score + 0.5 * ov[h.chunk_id] / top_ov))


def best_span(hit: Hit, terms: tuple[set[str], set[str]], limit: int = 160) -> tuple[int, int]:
    """Adjacent sentences of a hit around the one that shares most with the question, grown while they
    still share something and fit in ``limit`` characters (offsets into the source)."""
    if hit.kind == "table_row" or len(hit.quote) <= 90:
        return hit.start, hit.end
    spans = sentence_spans(hit.quote, 0, len(hit.quote))
    scores = [overlap(hit.quote[a:b], terms) for a, b in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    lo = hi = best
    while True:
        options = [i for i in (lo - 1, hi + 1) if 0 <= i < len(spans) and scores[i] > 0]
        options = [i for i in options if spans[max(hi, i)][1] - spans[min(lo, i)][0] <= limit]
        if not options:
            break
        pick = max(options, key=lambda i: scores[i])
        lo, hi = min(lo, pick), max(hi, pick)
    a, b = spans[lo][0], spans[hi][1]
    # A box item's sentence without its title loses its subject: keep the title sentence.
    if hit.kind == "box_item" and lo == 1:
        a = spans[0][0]
    return hit.start + a, hit.start + b


def _citation(hit: Hit, start: int, end: int, source_text: str) -> Citation:
    return Citation(
        source=hit.source,
        title=hit.title,
        region=hit.region,
        section=hit.section,
        quote=source_text[start:end],
        start=start,
        end=end,
        valid_from=hit.valid_from,
        valid_to=hit.valid_to,
    )


def _render(hit: Hit, quote: str) -> str:
    if hit.kind == "table_row" and hit.fields:
        f = hit.fields
        name = f.get("指标", "")
        unit = f.get("单位", "")
        values = "，".join(
            f"{k} {v}{unit if v and v[-1].isdigit() else ''}"
            for k, v in f.items()
            if k[:2].isdigit() or k == "目标值"
        )
        kind = f.get("指标性质") or f.get("属性") or ""
        return f"{name}：{values}" + (f"（{kind}）" if kind else "")
    text = display_text(quote)
    return re.sub(r"^-?\s*\d+[.．、]\s*", "", text)


# --- services ------------------------------------------------------------------------------------
def matching_services(
    catalogue: Catalogue, query: str, region: Region | None, cited: list[Citation]
) -> list[Service]:
    """Catalogue services the question names (by name or alias) or whose citation the answer quotes."""
    found: list[Service] = []
    for entry in catalogue.entries.values():
        s = entry.service
        if region and s.region != region:
            continue
        named = any(alias in query for alias in [s.name, *s.aliases] if len(alias) >= 2)
        quoted = any(
            c.source == cc.source and c.start < cc.end and cc.start < c.end
            for c in entry.citations
            for cc in cited
        )
        if named or quoted:
            found.append(s)
    return found[:4]


def _service_line(s: Service) -> str:
    cost = COST_LABELS[s.cost]
    return f"{s.name}（{cost}）" if s.cost != "not_stated" else s.name


# --- box listings (operators: "专栏3 一共几项？分别是什么？") ---------------------------------------
_LIST_QUESTION = re.compile(r"(几项|多少项|哪几项|哪些项目|分别是|都有哪些|包括哪些|一共几)")


def box_listing(hits: list[Hit], retriever: Retriever) -> tuple[str, list[Hit]] | None:
    top = hits[0]
    if top.kind != "box_item" or "专栏" not in top.section:
        return None
    box_path = top.section.rsplit(" › ", 1)[0]
    items = [
        c
        for c in retriever.snapshot().chunks
        if c.kind == "box_item" and c.section.rsplit(" › ", 1)[0] == box_path
    ]
    seen: list[str] = []
    for c in items:
        label = c.section.rsplit(" › ", 1)[1]
        if label not in seen:
            seen.append(label)
    box_title = top.section_titles[-2] if len(top.section_titles) >= 2 else box_path
    names = "；".join(re.sub(r"^\d+\.\s*", "", label) for label in seen)
    return f"{box_title}共 {len(seen)} 项：{names}。", hits


# --- the answer -----------------------------------------------------------------------------------
def compose_answer(
    question: str,
    *,
    retriever: Retriever,
    catalogue: Catalogue,
    source_texts: dict[str, str],
    region: Region | None = None,
    context: Context | None = None,
) -> Reply:
    context = context or Context()
    if refusal := check_question(question):
        return refuse(refusal.message, refusal.code)

    if (chosen := region_choice(question)) and not context.last_query:
        name = REGION_NAMES[chosen]
        return Reply(
            kind="smalltalk", text=f"好的，之后按{name}的规划为您解答。您想了解什么服务？", region=chosen
        )
    query, switched = resolve_follow_up(question, context)
    mentioned = detect_regions(question)
    region = switched or region or (mentioned[0] if len(mentioned) == 1 else None) or context.region
    if len(mentioned) == 2 and not switched:
        region = None

    result = retriever.search(query, top_k=10, region=region)
    hits = result.hits
    if not hits or not _confident(hits):
        return refuse("抱歉，广西、宁夏的公共服务规划里没有找到能回答这个问题的内容。", "low_confidence")

    regions = [region] if region else _regions_to_answer(hits)
    terms = _query_terms(query)
    sections: list[tuple[Region, list[tuple[Hit, int, int]]]] = []
    for r in regions:
        in_region = rerank([h for h in hits if h.region == r], terms)
        limits = FIRST_PASSAGE_CHARS, OTHER_PASSAGE_CHARS
        sections.append(
            (
                r,
                [
                    (h, *best_span(h, terms, limits[min(i, 1)]))
                    for i, h in enumerate(in_region[:PASSAGES_PER_REGION])
                ],
            )
        )

    citations = [_citation(h, a, b, source_texts[h.source]) for _, picks in sections for h, a, b in picks]
    if asks_for_amount(question) and not any(states_money_figure(c.quote) for c in citations):
        return refuse(
            "规划里没有写明具体金额或标准，我不能替规划给出数字。建议咨询当地有关部门。", "amount_not_stated"
        )

    listing = box_listing(hits, retriever) if _LIST_QUESTION.search(question) else None
    lines: list[str] = []
    if listing:
        lines.append(listing[0])
    for r, picks in sections:
        if len(sections) > 1:
            lines.append(f"【{REGION_NAMES[r]}】")
        else:
            lines.append(f"根据{picks[0][0].title}：")
        for h, a, b in picks:
            lines.append(
                f"• {_render(h, source_texts[h.source][a:b])}（{doc_label(h.title)} {h.section.replace(' › ', ' ')}）"
            )

    services = matching_services(catalogue, question, region if len(sections) == 1 else None, citations)
    buttons: list[Button] = []
    if services:
        lines.append(
            "相关服务：" + "、".join(_service_line(s) for s in services) + "。需要我帮您看看能不能享受吗？"
        )
        buttons.append(Button(**CHECK_BUTTON))
    if len(sections) > 1:
        lines.insert(0, "这个问题两地规划各有写法，分别摘录如下；告诉我您在哪个地区，我只看那里的规定。")
        buttons += [Button(title="广西", payload="广西"), Button(title="宁夏", payload="宁夏")]
    if asks_for_amount(question) or re.search(r"怎么(办|申请|领)|去哪", question):
        lines.append("规划未写明具体金额和办理流程，可咨询当地有关部门，或转人工。")
    return Reply(
        kind="answer",
        text="\n".join(lines),
        citations=citations,
        buttons=buttons,
        query=query,
        region=region,
        services=[s.id for s in services],
    )


def _confident(hits: list[Hit]) -> bool:
    """The passages we would show must be close in meaning, not just share a word ("推荐", a city name)."""
    best_sim = max((h.similarity or 0.0) for h in hits[:3])
    return hits[0].score >= MIN_FUSED and best_sim >= MIN_SIMILARITY


def _regions_to_answer(hits: list[Hit]) -> list[Region]:
    top = hits[0].score
    best = {r: max((h.score for h in hits if h.region == r), default=0.0) for r in REGIONS}
    return [r for r in REGIONS if best[r] >= REGION_SHARE * top]
