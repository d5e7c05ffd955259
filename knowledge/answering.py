"""Grounded answers: retrieve, pick the sentences that answer, cite each one verbatim — or decline.

No generation: every sentence shown to a resident is a span of a plan, with its offsets. The answer
is short (a few sentences per region), names the matching catalogue services, separates the two
regions when the question does not say which one it is about, and declines when the plans do not
answer (low retrieval confidence, a money amount the plans never state, requests out of scope).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from knowledge.catalogue.loader import Catalogue
from knowledge.catalogue.models import COST_LABELS, ResolvedCitation, Service
from knowledge.chunking import display_text, sentence_spans
from knowledge.dating import DocDating, ended_note, period_label, statuses
from knowledge.figures import figures
from knowledge.guardrails import (
    asks_for_amount,
    asks_for_indicator,
    check_question,
    claimed_money_figures,
    states_money_figure,
    text_states_figure,
)
from knowledge.lead_line import verified_lead
from knowledge.lexical import char_bigrams, expand_query, word_tokens
from knowledge.listings import (
    Listing,
    asks_for_listing,
    box_listing,
    box_number,
    category_listing,
    named_categories,
)
from knowledge.passages import (
    best_span,
    cited_sentences,
    lead_support,
    query_terms,
    rerank,
    sentence_similarity,
)
from knowledge.regions import detect_regions
from knowledge.retrieval import MAX_QUERY_CHARS, ROUTE_MIN_SIMILARITY, Hit, Retriever, SearchResult
from knowledge.service_route import RouteIndex
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
# Hits the composer chooses passages from: the sentence re-ranking (knowledge/passages.py) finds the passage
# that answers among the top 20 more often than among the top 10, on both development sets.
ANSWER_POOL = 20
# Share of a lead line's character bigrams its quote must contain (the lead is written from the catalogue's
# fields; the quote is the plan's sentence): 0.92 for the sentence that states a service, 0.38 for a general
# paragraph that merely mentions it.
LEAD_SUPPORT = 0.5
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
    # How the reply was produced (extractive / listing / indicator_row / indicator_text / clarify_region /
    # declined), so an operator can see why the bot said what it said.
    produced_by: str | None = None


class Context(BaseModel):
    last_query: str | None = None
    region: Region | None = None


def refuse(message: str, reason: str) -> Reply:
    return Reply(
        kind="refuse",
        text=f"{message}如需进一步帮助，可以转人工客服。",
        buttons=[Button(**HANDOFF_BUTTON)],
        reason=reason,
        produced_by="declined",
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


_CORRECTION = re.compile(
    r"^(不对|不是|错了|搞错了|说错了|我的意思是|我是说|我说的是)[，,。！!\s]*((我|俺)?(是说|说的是|问的是))?[，,\s]*"
)


def resolve_follow_up(question: str, context: Context) -> tuple[str, Region | None]:
    """The question to search for, and a region the follow-up itself switches to ("宁夏呢").

    A correction ("不对，我是说我爸，他是老兵") replaces what was asked: its own words are the question."""
    q = _CORRECTION.sub("", question.strip()) or question.strip()
    if not context.last_query:
        return q, None
    if chosen := region_choice(q):
        return context.last_query, chosen
    content = [
        t for t in word_tokens(q) if len(t) >= 2 and t not in ("免费", "多少", "怎么", "办理", "要钱", "收费")
    ]
    if len(q) <= 12 and (not content or _FOLLOW_UP_LEAD.match(q) and len(content) <= 2):
        # "要钱吗" / "怎么办理" have no topic of their own; "那婚检呢" brings one: keep the question's frame only then
        if content:
            return f"{q} {_frame(context.last_query)}", None
        return carry_topic(context.last_query, q), None
    return q, None


_REFERS_BACK = re.compile(r"他|她|它|这些|那些|这种|这样的|这个|那个|这方面|这块")
CARRIED_WEIGHT = 0.5  # the follow-up read with the last topic counts half as much as the follow-up alone


def refers_back(message: str) -> bool:
    """A message that leans on what came before: it opens with 那/还有/另外… or points back (他, 这些, 那个)."""
    return bool(_FOLLOW_UP_LEAD.match(message.strip()) or _REFERS_BACK.search(message))


def reads_with_topic(message: str, query: str, last_query: str) -> bool:
    """The follow-up is searched with the last topic too: it points back, is not a correction (which replaces
    what was asked) and does not already carry that topic."""
    return refers_back(message) and not _CORRECTION.match(message.strip()) and last_query not in query


def merge_results(own: SearchResult, carried: SearchResult) -> SearchResult:
    """The follow-up's own hits fused with the hits of it read together with the last topic (pure): a passage
    both searches find rises above one only the older topic finds."""
    merged: dict[str, Hit] = {}
    for h in own.hits:
        merged[h.chunk_id] = h
    for h in carried.hits:
        found = merged.get(h.chunk_id)
        extra = CARRIED_WEIGHT * h.score
        if found is None:
            merged[h.chunk_id] = h.model_copy(update={"score": extra})
        else:
            similarity = max(found.similarity or 0.0, h.similarity or 0.0) or None
            merged[h.chunk_id] = found.model_copy(
                update={"score": found.score + extra, "similarity": similarity}
            )
    hits = sorted(merged.values(), key=lambda h: -h.score)[: max(len(own.hits), len(carried.hits))]
    known = {(m.service_id, m.region) for m in own.services}
    services = own.services + [m for m in carried.services if (m.service_id, m.region) not in known]
    return own.model_copy(update={"hits": hits, "services": services})


def carry_topic(last_query: str, message: str) -> str:
    """The last question joined with a follow-up, within the search limit: the follow-up is kept whole and
    the older question gives way (a 500-character message after a long question must still be answered)."""
    room = MAX_QUERY_CHARS - len(message) - 1
    if room <= 0:
        return message[:MAX_QUERY_CHARS]
    return f"{last_query[-room:]} {message}"


def _frame(last_query: str) -> str:
    """What kind of question the last one was (免费? 检查? 条件?), without its topic."""
    return " ".join(w for w in ("免费", "检查", "补贴", "条件", "怎么办", "要钱") if w in last_query)


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
        return render_row(hit.fields)
    text = display_text(quote)
    return re.sub(r"^-?\s*\d+[.．、]\s*", "", text)


_VALUE_COLUMN = re.compile(r"^(19|20)\d\d年|目标值|完成值")


def render_row(fields: dict[str, str]) -> str:
    """An indicator-table row in words: each year's value with the unit (a compound unit such as 1/10万 is
    named once instead), then whether the target is binding (约束性) or expected (预期性)."""
    name = re.sub(r"\s*[¹²³⁴⁵⁶⁷⁸⁹⁰]+$", "", fields.get("指标", "")).strip()
    unit = fields.get("单位", "").strip()
    simple_unit = bool(unit) and not re.search(r"[\d/]", unit)
    values = []
    for column, value in fields.items():
        value = value.strip()
        if not _VALUE_COLUMN.search(column) or not value:
            continue
        label = column.replace("情况", "").replace("完成值", "").replace("目标值", "目标").strip() or column
        label = label.replace("年目标", "年规划目标")
        numeric = bool(re.fullmatch(r"[<>≤≥]?\s*[\d.]+", value))
        values.append(f"{label} {value}{unit if numeric and simple_unit else ''}")
    kind = fields.get("指标性质") or fields.get("属性") or ""
    unit_note = f"（单位：{unit}）" if unit and not simple_unit else ""
    return f"{name}：{'，'.join(values)}{unit_note}" + (f"，{kind}指标" if kind else "")


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


# --- listings (operators: "专栏3 一共几项？分别是什么？", "宁夏清单里弱有所扶包括哪些") -------------------
def _listing_reply(
    question: str, region: Region | None, hits: list[Hit], retriever: Retriever
) -> Reply | None:
    """A listing read off the parsed structure, or None when the question names no list we can find."""
    chunks = retriever.snapshot().chunks
    number = box_number(question)
    if number is None and hits and hits[0].kind == "box_item":
        number = next((p[2:] for p in hits[0].section.split(" › ") if p.startswith("专栏")), None)
        region = region or hits[0].region
    listings: list[tuple[Region, Listing]] = []
    for r in [region] if region else list(REGIONS):
        for category in named_categories(question):
            if found := category_listing(chunks, r, category):
                listings.append((r, found))
        if not listings and number and (found := box_listing(chunks, r, number)):
            listings.append((r, found))
    if not listings:
        return None
    if len({r for r, _ in listings}) > 1:  # 专栏3 exists in both plans: which one?
        return _ask_region("两个规划的专栏编号各不相同。", query=question)
    lines, citations = [], []
    for r, listing in listings:
        if listing.total is not None:  # the text states its own total: quote the list sentence itself
            chunk = listing.quotes[0]
            lines.append(
                f"【{REGION_NAMES[r]}】基本公共服务项目清单“{listing.heading}”：{display_text(chunk.quote)}"
            )
            citations.append(_chunk_citation(chunk, chunk.start, chunk.end))
        else:
            numbered = "；".join(f"{i}. {item}" for i, item in enumerate(listing.items, 1))
            lines.append(f"【{REGION_NAMES[r]}】{listing.heading}共 {len(listing.items)} 项：{numbered}。")
            for chunk in listing.quotes:  # each item's title sentence, so every item is cited
                a, b = sentence_spans(chunk.quote, 0, len(chunk.quote))[0]
                citations.append(_chunk_citation(chunk, chunk.start + a, chunk.start + b))
    return Reply(
        kind="answer",
        text="\n".join(lines),
        citations=citations,
        query=question,
        region=listings[0][0],
        produced_by="listing",
    )


def _chunk_citation(chunk, start: int, end: int) -> Citation:
    offset = start - chunk.start
    return Citation(
        source=chunk.source,
        title=chunk.title,
        region=chunk.region,
        section=chunk.section,
        quote=chunk.quote[offset : offset + end - start],
        start=start,
        end=end,
        valid_from=chunk.valid_from,
        valid_to=chunk.valid_to,
    )


def _ask_region(why: str, query: str) -> Reply:
    return Reply(
        kind="clarify",
        text=f"{why}请问您问的是广西还是宁夏？",
        buttons=[Button(title="广西", payload="广西"), Button(title="宁夏", payload="宁夏")],
        query=query,
        produced_by="clarify_region",
    )


# --- indicators ("2025年目标是多少") -----------------------------------------------------------------
MISSING_TABLES = {"ningxia": "宁夏规划的主要指标表（专栏1）在现有文本中缺失，只剩注释。"}


# What the indicator tables measure (rates, per-capita and per-thousand figures, targets): asked without a
# region these need one; asked of a region whose table is missing they are declined, not guessed.
_TABLE_INDICATOR = re.compile(
    r"率|比例|比重|占比|每[千万百]|人均|指标|目标值|预期寿命|床位|病床|年限|覆盖面|约束性|预期性|十四五末|2025年?.{0,12}目标"
)


def _indicator_reply(
    query: str,
    region: Region,
    hits: list[Hit],
    source_texts,
    table_like: bool,
    closeness: dict[str, float] | None = None,
) -> Reply | None:
    """The indicator rows (2020 value, 2025 target, unit, 约束性/预期性) or sentences stating the figure —
    only from the region asked about, only when they share the indicator's words and speak of the period
    asked about; otherwise decline. A question may name several indicators ("A和B各是多少")."""
    terms = query_terms(query)
    rows: list[Hit] = []
    sentences: list[tuple[Hit, int, int]] = []
    for h in rerank([h for h in hits if h.region == region], terms, closeness)[:6]:
        if _other_period(query, h, h.quote):
            continue
        if h.kind == "table_row" and h.fields:
            # The row must be the indicator asked about: most of its name is in the question (the first
            # row a little less strictly, so "每千人有几张病床" still finds 每千人口医疗卫生机构床位数).
            if (
                _name_in_question(h.fields.get("指标", ""), query) >= (0.6 if rows else 0.35)
                and len(rows) < 4
            ):
                rows.append(h)
        elif not rows:
            a, b = best_span(h, terms, 160)
            quote = source_texts[h.source][a:b]
            if (
                _figure_fits(query, figures(quote))
                and subject_coverage(query, quote) >= 0.6
                and len(sentences) < 2
            ):
                sentences.append((h, a, b))
    if rows:
        table = next((t for t in reversed(rows[0].section_titles[:-1]) if "专栏" in t), rows[0].section)
        return Reply(
            kind="answer",
            text=f"根据{rows[0].title}{table}：\n" + "\n".join(f"• {render_row(h.fields)}" for h in rows),
            citations=[_citation(h, h.start, h.end, source_texts[h.source]) for h in rows],
            query=query,
            region=region,
            produced_by="indicator_row",
        )
    if sentences:
        lines = [f"根据{sentences[0][0].title}："]
        lines += [f"• {_render(h, source_texts[h.source][a:b])}" for h, a, b in sentences]
        return Reply(
            kind="answer",
            text="\n".join(lines),
            citations=[_citation(h, a, b, source_texts[h.source]) for h, a, b in sentences],
            query=query,
            region=region,
            produced_by="indicator_text",
        )
    if not table_like:  # a count in running text ("建几个中心"): the ordinary answer path reads it out
        return None
    missing = MISSING_TABLES.get(region, "")
    return refuse(
        f"{REGION_NAMES[region]}规划原文里没有找到这项指标的数值，我不能给出数字，也不会借用别的地区或别的指标的数。{missing}",
        "indicator_not_in_text",
    )


def _figure_fits(query: str, found) -> bool:
    """A figure of the kind asked: a rate needs a percentage, and a list's item count (共计4项) answers only
    a question about items; "十四个五年规划" states no figure at all (digits required)."""
    found = [f for f in found if re.search(r"\d", f.text)]
    if re.search(r"率|比例|比重|占比|覆盖", query):
        return any(f.unit in ("%", "％", "‰", "个百分点", "百分点") for f in found)
    return any(f.unit != "项" or "项" in query for f in found)


_ASKING = re.compile(
    r"20\d\d年?|“?十[三四]五”?末?|目标值?|要达到|达到|提高到|多少|几个?|定了|规划|约束性|预期性|还是|指标|是|的|了|要|有|到|呢|吗"
)


def subject_coverage(query: str, text: str) -> float:
    """Share of what the question is about (its character bigrams once places, years and the asking
    words are gone) that a text contains: a figure counts only when it is about the indicator asked."""
    from knowledge.regions import place_names

    subject = query
    for name in sorted(place_names(), key=len, reverse=True):
        subject = subject.replace(name, " ")
    grams = set(char_bigrams(_ASKING.sub(" ", subject))) - {""}
    grams = {g for g in grams if not any(ch.isdigit() for ch in g)}
    return sum(1 for g in grams if g in text) / len(grams) if grams else 0.0


def _name_in_question(name: str, query: str) -> float:
    grams = set(char_bigrams(re.sub(r"[\s¹²³⁴⁵⁶⁷⁸⁹⁰]", "", name)))
    asked = re.sub(r"\s", "", expand_query(query))
    return sum(1 for g in grams if g in asked) / len(grams) if grams else 0.0


_TARGET = re.compile(r"目标|要达到|达到多少|到2025|2025年|十四五末|“十四五”末")


def _other_period(query: str, hit: Hit, quote: str) -> bool:
    """A 十三五 result offered for a 十四五 target: "到“十三五”末……达到76.58岁", a sentence of 第一章 规划背景
    (the review of the last period) or a row of the 十三五 completion table is no 2025 target."""
    if not _TARGET.search(query) or "十三五" in query:
        return False
    looks_back = bool(hit.section_titles) and "规划背景" in hit.section_titles[0]
    return looks_back or ("十三五" in quote and not re.search(r"2025|十四五", quote))


# --- the answer -----------------------------------------------------------------------------------
def compose_answer(
    question: str,
    *,
    retriever: Retriever,
    catalogue: Catalogue,
    source_texts: dict[str, str],
    region: Region | None = None,
    context: Context | None = None,
    route: RouteIndex | None = None,
    as_of: date | None = None,
    phraser: Callable[[str, Reply, Catalogue], Reply] | None = None,
) -> Reply:
    """The reply to a resident's message, dated: every answer names the period of the documents it quotes
    and says so when that period has ended (``as_of``, default today, decides). ``phraser`` (optional,
    knowledge/llm_phrasing.py) may replace the lead line with a model-written one that passes its checks."""
    as_of = as_of or date.today()
    reply = _compose(question, retriever, catalogue, source_texts, region, context, route, as_of)
    if reply.kind != "answer":
        return reply
    if context and context.last_query and reads_with_topic(question, reply.query, context.last_query):
        # the next follow-up continues this topic too: "那他看病呢" after "我爸是老兵" is still about the veteran
        reply = reply.model_copy(update={"query": carry_topic(context.last_query, reply.query)})
    if phraser is not None:
        reply = phraser(question, reply, catalogue)
    docs = retriever.dating()
    states = statuses(docs, as_of)
    return date_reply(reply, {d.title: (d, states[d.doc_id]) for d in docs})


_TARGET_PHRASE = re.compile(r"(到\s*(?:2025\s*年|“十四五”末|十四五末))")


def date_reply(reply: Reply, docs: dict[str, tuple[DocDating, str]]) -> Reply:
    """Period next to each quoted document, targets marked as the plan's targets, and one plain note per
    quoted document that is no longer in force (pure)."""
    text = "\n".join(
        _TARGET_PHRASE.sub(r"规划目标：\1", line, count=1)
        if line.startswith("• ") and "规划目标" not in line
        else line
        for line in reply.text.split("\n")
    )
    cited = [docs[t] for t in dict.fromkeys(c.title for c in reply.citations) if t in docs]
    unnamed = []
    for doc, _ in cited:
        if doc.title in text:
            text = text.replace(doc.title, f"{doc.title}（{period_label(doc)}）", 1)
        else:
            unnamed.append(f"{doc.title}（{period_label(doc)}）")
    if unnamed:
        text += "\n出处：" + "、".join(unnamed)
    notes = dict.fromkeys(ended_note(doc) for doc, state in cited if state != "in_force")
    if notes:
        text += "\n" + "\n".join(notes)
    return reply.model_copy(update={"text": text})


def _compose(
    question: str,
    retriever: Retriever,
    catalogue: Catalogue,
    source_texts: dict[str, str],
    region: Region | None,
    context: Context | None,
    route: RouteIndex | None,
    as_of: date,
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

    result = retriever.search(query, top_k=ANSWER_POOL, region=region, route=route, as_of=as_of)
    if context.last_query and reads_with_topic(question, query, context.last_query):
        # "那外面那些补课班呢" / "那他看病有没有专门的医院": its own words lead, the topic before it decides the rest
        carried = retriever.search(
            carry_topic(context.last_query, query), top_k=ANSWER_POOL, region=region, route=route, as_of=as_of
        )
        result = merge_results(result, carried)
    hits = result.hits
    if asks_for_listing(query) and (listing := _listing_reply(query, region, hits, retriever)):
        return listing
    if asks_for_indicator(query) and not asks_for_amount(query):
        table_like = bool(_TABLE_INDICATOR.search(query))
        if (
            region is None and table_like
        ):  # two plans, two sets of targets: a figure without its region misleads
            return _ask_region("两地规划的指标和目标值各不相同。", query=query)
        if region is not None and (
            reply := _indicator_reply(
                query, region, hits, source_texts, table_like, _closeness(retriever, query, hits)
            )
        ):
            return reply
    if (not hits or not _confident(hits)) and context.last_query and query != context.last_query:
        # "那像我这样的能住进去不？": a message that means nothing alone continues the last topic.
        query = carry_topic(context.last_query, query)
        result = retriever.search(query, top_k=ANSWER_POOL, region=region, route=route, as_of=as_of)
        hits = result.hits
    if not hits or not _confident(hits):
        return refuse("抱歉，广西、宁夏的公共服务规划里没有找到能回答这个问题的内容。", "low_confidence")

    regions = [region] if region else _regions_to_answer(hits)
    terms = query_terms(query)
    closeness = _closeness(retriever, query, hits)
    sections: list[tuple[Region, list[tuple[Hit, int, int]]]] = []
    # An indicator row is a bare figure (孕产妇死亡率 <18): it answers only a question about that indicator.
    indicator = asks_for_indicator(query)
    for r in regions:
        own = [h for h in hits if h.region == r]
        quotable = own if indicator else [h for h in own if h.kind != "table_row"] or own
        in_region = rerank(quotable, terms, closeness)
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
    claimed = claimed_money_figures(question)
    if claimed and not all(_figure_quoted(f, citations) for f in claimed):
        return refuse(
            f"规划里没有写“{'、'.join(claimed)}”这个金额，我不能确认它。规划只写了服务内容，没有写这个数字；"
            "具体标准请以当地有关部门公布的为准。",
            "unstated_amount",
        )

    if len(sections) == 1 and (
        lead := _service_first(question, query, sections[0], result, catalogue, source_texts)
    ):
        return lead

    lines: list[str] = []
    for r, picks in sections:
        if len(sections) > 1:
            lines.append(f"【{REGION_NAMES[r]}】")
        else:
            lines.append(f"根据{picks[0][0].title}：")
        for h, a, b in picks:
            lines.append(f"• {_render(h, source_texts[h.source][a:b])}")

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
        produced_by="extractive",
    )


def _service_first(
    question: str,
    query: str,
    section: tuple[Region, list[tuple[Hit, int, int]]],
    result,
    catalogue: Catalogue,
    source_texts,
) -> Reply | None:
    """A service answered in one plain lead line from the catalogue, then the one passage of the plan that
    states it — when the route is sure of the service (or the question names it), the passage the answer
    would quote first holds the service's own citation, and every figure of the lead is in that passage."""
    region, picks = section
    # The service retrieval trusted (knowledge/retrieval.py): the first of the region's route matches that is
    # close enough — the route's order is its fused rank, and a looser match may rank above a closer one.
    match = next(
        (m for m in result.services if m.region == region and m.similarity >= ROUTE_MIN_SIMILARITY), None
    )
    service_id = match.service_id if match else None
    if service_id is None:
        named = matching_services(catalogue, question, region, [])
        service_id = named[0].id if len(named) == 1 else None
    entry = catalogue.entries.get(service_id) if service_id else None
    if entry is None or not picks:
        return None
    # One quote after the lead line: the sentences of a shown passage that hold the service's own citation and
    # state what the lead says (its figures, and most of its words: a service may also be cited in a general
    # paragraph that does not state what the lead promises); the first such passage in answer order. Without
    # one, the extractive form.
    for hit, a, b in picks:
        cited = [c for c in entry.citations if c.source == hit.source and a <= c.start < b]
        if not cited:
            continue
        x, y = cited_sentences(
            source_texts[hit.source], a, b, min(c.start for c in cited), max(c.end for c in cited)
        )
        quote = source_texts[hit.source][x:y]
        lead = verified_lead(entry.service, [quote])
        if lead is not None and lead_support(lead, quote) >= LEAD_SUPPORT:
            picks = [(hit, x, y)]
            break
    else:
        return None
    lines = [lead] + [f"• {_render(h, source_texts[h.source][x:y])}" for h, x, y in picks]
    lines.append(f"相关服务：{_service_line(entry.service)}。需要我帮您看看能不能享受吗？")
    return Reply(
        kind="answer",
        text="\n".join(lines),
        citations=[_citation(h, x, y, source_texts[h.source]) for h, x, y in picks],
        buttons=[Button(**CHECK_BUTTON)],
        query=query,
        region=region,
        services=[entry.service.id],
        produced_by="template_lead",
    )


def _closeness(retriever: Retriever, query: str, hits: list[Hit]) -> dict[str, float]:
    """Best-sentence similarity of each hit to the question (the same query vector retrieval used)."""
    vector = retriever.embedder.embed_query(expand_query(query))
    return sentence_similarity(hits, retriever.embedder, vector)


def _figure_quoted(figure: str, citations: list[Citation]) -> bool:
    return any(text_states_figure(c.quote, figure) for c in citations)


def _confident(hits: list[Hit]) -> bool:
    """The passages we would show must be close in meaning, not just share a word ("推荐", a city name)."""
    best_sim = max((h.similarity or 0.0) for h in hits[:3])
    return hits[0].score >= MIN_FUSED and best_sim >= MIN_SIMILARITY


def _regions_to_answer(hits: list[Hit]) -> list[Region]:
    top = hits[0].score
    best = {r: max((h.score for h in hits if h.region == r), default=0.0) for r in REGIONS}
    return [r for r in REGIONS if best[r] >= REGION_SHARE * top]
