"""Optional LLM phrasing of an answer's lead line — it may phrase, never add a fact the quotes do not hold.

A deployment with its own OpenAI-compatible endpoint (a Qwen model on vLLM or Ollama, a cloud API) can have the
first line of an answer written more naturally: given the resident's question and the passages the extractive
composer picked, the model writes one plain sentence. That sentence replaces the template lead line (or leads an
extractive answer from one plan) only when it passes the same check as the template's and a little more
(``lead_problems``):

- every figure (a number with its unit) and every number is in a cited quote (``knowledge.figures``);
- it names no place and no catalogue service that the quotes do not name (the reply's own region and services
  excepted);
- it states no amount of money unless a cited quote states that amount, and none at all when the quotes give
  none; it calls a service free, subsidised, reduced or reimbursed only when a quote or the service's catalogue
  entry says so;
- it is one line of at most MAX_LEAD characters.

Otherwise — and whenever the endpoint is slow, fails or the circuit breaker is open — the reply stays what the
composer made (``produced_by`` unchanged). A phrased reply says ``produced_by="llm_lead"``; the cited passages
below the lead are untouched. Off unless MINSHENG_LLM_BASE_URL and MINSHENG_LLM_MODEL are set
(``lead_phraser_from_settings``). docs/langchain.md explains the set-up and what the check does not guarantee.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from knowledge.answering import Reply
from knowledge.catalogue.loader import Catalogue
from knowledge.catalogue.models import COST_LABELS, Service
from knowledge.figures import unquoted_figures
from knowledge.guardrails import states_money_figure, text_states_figure
from knowledge.lead_line import MAX_LEAD
from knowledge.regions import elsewhere_names, place_names
from knowledge.settings import Settings
from knowledge.sources import REGION_NAMES

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger(__name__)

PRODUCED_BY = "llm_lead"
# Which composed replies get a phrased lead: the service-first answer (its template lead is replaced) and an
# extractive answer quoting one plan (the lead goes above "根据…："). Two plans side by side, listings and
# indicator rows keep their form: their structure is the answer.
PHRASED_KINDS = ("template_lead", "extractive")

SYSTEM_PROMPT = """你为政务服务问答写答案的第一句话（导语），下面会附上规划原文摘录，居民会同时看到这些摘录。
要求：
1. 用居民听得懂的大白话直接回答问题，只写一句话，不超过60个字。
2. 只能说摘录里写明的内容：不要添加摘录里没有的数字、金额、年份、地名、机构或服务名称。
3. 摘录没有写金额或标准，就不要提金额，也不要猜；不要说摘录没写的“免费”“补贴”“报销”。
4. 摘录回答不了问题时，只概括摘录说了什么。
5. 不要写“根据摘录”“规划提到”这类话，不要列表、引号、解释或客套话。
只输出这一句话。"""


# --- the check ------------------------------------------------------------------------------------
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_MONEY = re.compile(
    r"(?:\d[\d.,，]*|[零〇一二两三四五六七八九十百千万亿]+)\s*[万千百亿]?\s*(?:元|块钱|块(?![儿地去]))"
)
# A claim about cost needs the same word in a quote, or the service's catalogue cost saying it.
_COST_CLAIMS: dict[str, tuple[str, str, str]] = {
    # claim pattern in the lead → (what a quote must contain, regex) / catalogue cost that backs it
    "free": (r"免费|不要钱|不收钱|不收费|不花钱|零费用|全免|白给", r"免费|免除|不收取", "free"),
    "subsidy": (r"补贴|补助|津贴|资助", r"补贴|补助|津贴|资助", "subsidy"),
    "reduced": (r"减免|减半|优惠|打折", r"减免|减半|减收|优惠|免除", "reduced"),
    "insurance": (r"报销|报账", r"报销|保险|医保|统筹", "insurance"),
}
_REGION_WORDS = {"guangxi": ("广西", "广西壮族自治区"), "ningxia": ("宁夏", "宁夏回族自治区")}


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("％", "%")


def lead_problems(
    lead: str,
    quotes: list[str],
    *,
    regions: Iterable[str] = (),
    services: Iterable[Service] = (),
    catalogue: Catalogue | None = None,
) -> list[str]:
    """Why a model-written lead line may not be shown (empty: it may). ``quotes`` are the reply's cited quotes,
    ``regions`` the regions they come from, ``services`` the catalogue services the reply names (pure)."""
    problems: list[str] = []
    if not lead.strip():
        return ["empty"]
    if "\n" in lead.strip():
        problems.append("more than one line")
    if len(lead) > MAX_LEAD:
        problems.append(f"longer than {MAX_LEAD} characters")
    if re.search(r"https?://|www\.|[•【】#*]", lead):
        problems.append("links or layout marks")
    joined = _compact("\n".join(quotes))
    # 1. figures (the template lead's check) and any bare number (a year, a hotline, a count without unit)
    if unquoted := unquoted_figures(lead, quotes):
        problems.append(f"figures not in the quotes: {'、'.join(unquoted)}")
    numbers = [n for n in _NUMBER.findall(_compact(lead)) if n not in joined]
    if numbers:
        problems.append(f"numbers not in the quotes: {'、'.join(dict.fromkeys(numbers))}")
    # 2. money: none when the plan gives none; otherwise each amount stated by a quote (compared by value)
    amounts = [m.group() for m in _MONEY.finditer(_compact(lead))]
    if amounts and not any(states_money_figure(q) for q in quotes):
        problems.append(f"an amount where the quotes give none: {'、'.join(amounts)}")
    elif unstated := [a for a in amounts if not any(text_states_figure(q, a) for q in quotes)]:
        problems.append(f"amounts not in the quotes: {'、'.join(unstated)}")
    # 3. places: only those the quotes name, or the name of the region the quotes come from
    allowed = {w for r in regions for w in _REGION_WORDS.get(r, (REGION_NAMES.get(r, r),))}
    places = [n for n in place_names() if len(n) >= 2] + list(elsewhere_names())
    named = [p for p in places if p in lead and p not in joined and not any(p in w for w in allowed)]
    named = [p for p in named if not any(p != q and p in q for q in named)]  # 南宁市 and 南宁: report once
    if named:
        problems.append(f"places not in the quotes: {'、'.join(dict.fromkeys(named))}")
    # 4. services: only those the quotes name or the reply itself names (its 相关服务 line)
    own = {s.id for s in services}
    if catalogue is not None:
        unnamed = []
        for entry in catalogue.entries.values():
            s = entry.service
            if s.id in own:
                continue
            for name in [s.name, *s.aliases]:
                if len(name) >= 2 and name in lead and name not in joined:
                    unnamed.append(name)
        if unnamed:
            problems.append(f"services not in the quotes: {'、'.join(dict.fromkeys(unnamed))}")
    # 5. cost words: backed by a quote or by the named service's catalogue cost
    costs = {s.cost for s in services}
    for kind, (claim, in_quote, cost) in _COST_CLAIMS.items():
        if re.search(claim, lead) and not re.search(in_quote, joined) and cost not in costs:
            problems.append(f"a {kind} claim the quotes do not make")
    return problems


def clean_lead(content: Any) -> str:
    """The model's answer as a lead line: reasoning blocks, quotes and 'answer:' prefixes removed."""
    if isinstance(content, list):  # content blocks
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    text = re.sub(r"<think>.*?(</think>|$)", "", str(content), flags=re.S).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = re.sub(r"^(答|回答|导语|答案|Answer|Lead)\s*[:：]\s*", "", lines[0], flags=re.I)
    line = line.strip().strip("\"'“”‘’「」『』").strip()
    if line and line[-1] not in "。！？!?":
        line += "。"
    # More than one line is kept as it came, for the check to refuse: a second line may hold a qualification
    # ("但仅限…") without which the first would mislead.
    return "\n".join([line, *lines[1:]])


# --- the circuit breaker ----------------------------------------------------------------------------
class CircuitBreaker:
    """After ``failures`` consecutive failures the endpoint is skipped for ``cooldown_seconds``; then one call
    at a time tries it again (half-open): a success closes the breaker, a failure opens it for another
    cool-down. Thread-safe."""

    def __init__(
        self, failures: int = 3, cooldown_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self.threshold = failures
        self.cooldown_seconds = cooldown_seconds
        self.clock = clock
        self.consecutive = 0
        self.failures_total = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "open" if self.clock() - self._opened_at < self.cooldown_seconds else "half_open"

    def allow(self) -> bool:
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "open" or self._trial:
                return False
            self._trial = True  # half-open: this caller tries; the others keep skipping until it is done
            return True

    def success(self) -> None:
        with self._lock:
            self.consecutive, self._opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self.consecutive += 1
            self.failures_total += 1
            self._trial = False
            if self.consecutive >= self.threshold:
                self._opened_at = self.clock()


# --- the phraser ------------------------------------------------------------------------------------
def lead_messages(question: str, reply: Reply, services: list[Service]) -> list[tuple[str, str]]:
    """The chat messages asking for a lead line: the question and the quotes the reply cites."""
    parts = [f"居民的问题：{question}"]
    if reply.query and reply.query not in question:
        parts.append(f"（结合上文，问的是：{reply.query}）")
    titles = "、".join(dict.fromkeys(c.title for c in reply.citations))
    parts.append(f"规划原文摘录（{titles}）：")
    parts += [f"[{i}] {_compact(c.quote)}" for i, c in enumerate(reply.citations, 1)]
    for s in services:
        parts.append(f"相关服务：{s.name}（目录记载的费用：{COST_LABELS[s.cost]}）")
    return [("system", SYSTEM_PROMPT), ("human", "\n".join(parts))]


class LeadPhraser:
    """``phraser(question, reply, catalogue) -> reply``: the hook ``compose_answer(..., phraser=)`` calls.

    ``model`` is any LangChain chat model (``ChatOpenAI`` in production, a fake one in tests). The model call
    runs in a worker thread and is abandoned after ``timeout_seconds``, so a slow endpoint never holds an
    answer longer than that, whatever the client's own timeout and retries do."""

    def __init__(
        self,
        model: BaseChatModel,
        *,
        timeout_seconds: float = 3.0,
        breaker: CircuitBreaker | None = None,
        max_workers: int = 4,
    ):
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.breaker = breaker or CircuitBreaker()
        self.stats: Counter[str] = Counter()  # accepted / rejected / timeout / error / skipped
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="minsheng-llm-lead")

    def __call__(self, question: str, reply: Reply, catalogue: Catalogue) -> Reply:
        if not applies_to(reply):
            return reply
        services = [catalogue.entries[s].service for s in reply.services if s in catalogue.entries]
        lead = self.write_lead(question, reply, services)
        if lead is None:
            return reply
        quotes = [c.quote for c in reply.citations]
        problems = lead_problems(
            lead,
            quotes,
            regions={c.region for c in reply.citations},
            services=services,
            catalogue=catalogue,
        )
        if problems:
            self.stats["rejected"] += 1
            log.info("LLM lead line rejected (%s): %r", "; ".join(problems), lead)
            return reply
        self.stats["accepted"] += 1
        return with_lead(reply, lead)

    def write_lead(self, question: str, reply: Reply, services: list[Service]) -> str | None:
        """The model's lead line (cleaned, not yet checked), or None when it failed, timed out or is skipped."""
        if not self.breaker.allow():
            self.stats["skipped"] += 1
            return None
        future = self._pool.submit(self.model.invoke, lead_messages(question, reply, services))
        try:
            message = future.result(timeout=self.timeout_seconds)
        except FutureTimeout:
            future.cancel()
            self.breaker.failure()
            self.stats["timeout"] += 1
            log.warning(
                "LLM lead line: no answer within %.1f s; template/extractive reply used", self.timeout_seconds
            )
            return None
        except Exception as exc:
            self.breaker.failure()
            self.stats["error"] += 1
            log.warning(
                "LLM lead line failed (%s: %s); template/extractive reply used", type(exc).__name__, exc
            )
            return None
        self.breaker.success()
        return clean_lead(message.content)

    def cache_token(self) -> tuple[int, str]:
        """Part of an answer-cache key: changes after a failure and when the breaker opens or closes, so a
        reply composed without the model (endpoint down) is not served from the cache once it is back."""
        return self.breaker.failures_total, self.breaker.state

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def applies_to(reply: Reply) -> bool:
    return (
        reply.kind == "answer"
        and reply.produced_by in PHRASED_KINDS
        and bool(reply.citations)
        and len({c.region for c in reply.citations}) == 1
    )


def with_lead(reply: Reply, lead: str) -> Reply:
    """The reply with ``lead`` as its first line: the template lead replaced, or put above an extractive answer."""
    lines = reply.text.split("\n")
    lines = [lead, *lines[1:]] if reply.produced_by == "template_lead" else [lead, *lines]
    return reply.model_copy(update={"text": "\n".join(lines), "produced_by": PRODUCED_BY})


def chat_model_from_settings(settings: Settings) -> BaseChatModel:
    """``ChatOpenAI`` for the configured OpenAI-compatible endpoint (timeout and retries from the settings)."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        # local servers ignore the key, but the client wants one
        api_key=SecretStr(settings.llm_api_key or "not-needed"),
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
    )


def lead_phraser_from_settings(settings: Settings, model: BaseChatModel | None = None) -> LeadPhraser | None:
    """The phraser the settings ask for, or None when MINSHENG_LLM_BASE_URL / MINSHENG_LLM_MODEL are unset."""
    if not settings.llm_enabled and model is None:
        return None
    return LeadPhraser(
        model or chat_model_from_settings(settings),
        timeout_seconds=settings.llm_timeout_seconds,
        breaker=CircuitBreaker(settings.llm_breaker_failures, settings.llm_breaker_cooldown_seconds),
    )
