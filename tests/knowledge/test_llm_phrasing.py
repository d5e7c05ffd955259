"""The optional LLM lead line: accepted only when it passes the template's checks, otherwise the composer's reply
stands (produced_by unchanged); slow or failing endpoints fall back within the time budget and open the breaker.

Deterministic with LangChain's fake chat models, plus a real ``ChatOpenAI`` against a tiny local
OpenAI-compatible server (wiring, retry, timeout) and through the API. One optional smoke test runs against a
real endpoint given by env (the only skip, when it is not given)."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatResult

from knowledge.answering import Citation, Reply, compose_answer
from knowledge.llm_phrasing import (
    PHRASED_KINDS,
    PRODUCED_BY,
    CircuitBreaker,
    LeadPhraser,
    clean_lead,
    lead_phraser_from_settings,
    lead_problems,
)
from knowledge.settings import Settings

PRECONCEPTION = "准备要孩子了，孕前检查免费吗"
FAITHFUL = "免费。计划怀孕的夫妇每孩次可免费做1次孕前优生健康检查和咨询指导。"


def fake(*answers: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(a) for a in answers]))


@pytest.fixture(scope="module")
def ask(retriever, catalogue, source_text, route):
    def ask(question: str, region: str | None = "guangxi", phraser=None):
        return compose_answer(
            question,
            retriever=retriever,
            catalogue=catalogue,
            source_texts=source_text,
            region=region,
            route=route,
            phraser=phraser,
        )

    return ask


# --- accepted ----------------------------------------------------------------------------------------
def test_a_faithful_lead_is_shown_and_only_the_lead_changes(ask):
    plain = ask(PRECONCEPTION)
    # whichever form the composer chose (service-first or extractive), it quotes the 专栏4 item from one plan
    assert plain.produced_by in PHRASED_KINDS and {c.region for c in plain.citations} == {"guangxi"}
    assert any("1 次" in c.quote for c in plain.citations)
    phraser = LeadPhraser(fake(FAITHFUL))
    reply = ask(PRECONCEPTION, phraser=phraser)
    assert reply.produced_by == PRODUCED_BY == "llm_lead" and phraser.stats["accepted"] == 1
    lines, plain_lines = reply.text.split("\n"), plain.text.split("\n")
    if plain.produced_by == "template_lead":  # the template lead is replaced
        assert lines[0] == FAITHFUL and lines[1:] == plain_lines[1:]
    else:  # an extractive answer gets the line above its quotes
        assert lines[0] == FAITHFUL and lines[1:] == plain_lines
    assert reply.citations == plain.citations and reply.services == plain.services


def _reply(source_text, produced_by: str, lead: str | None = None) -> Reply:
    """A composed reply quoting the 专栏4 item of the Guangxi plan (its real text and offsets)."""
    source = next(f for f, t in source_text.items() if "为符合生育政策并计划怀孕的夫妇" in t)
    text = source_text[source]
    start = text.index("为符合生育政策并计划怀孕的夫妇")
    end = text.index("。", start) + 1
    citation = Citation(
        source=source,
        title="《广西公共服务“十四五”规划》",
        region="guangxi",
        section="第三章 › 第二节 › 专栏4 › 2. 免费孕前优生健康服务",
        quote=text[start:end],
        start=start,
        end=end,
        valid_from=date(2021, 1, 1),
        valid_to=date(2025, 12, 31),
    )
    lines = [lead] if lead else ["根据《广西公共服务“十四五”规划》："]
    lines += [f"• {text[start:end]}", "相关服务：免费孕前优生健康服务（免费）。需要我帮您看看能不能享受吗？"]
    return Reply(
        kind="answer",
        text="\n".join(lines),
        citations=[citation],
        region="guangxi",
        services=["gx-preconception-check"],
        produced_by=produced_by,
    )


def test_the_lead_replaces_a_template_lead_or_goes_above_an_extractive_answer(source_text, catalogue):
    template = _reply(source_text, "template_lead", lead="免费。为计划怀孕的夫妇免费提供 1 次孕前优生服务。")
    phrased = LeadPhraser(fake(FAITHFUL))(PRECONCEPTION, template, catalogue)
    assert phrased.produced_by == "llm_lead"
    assert phrased.text.split("\n") == [FAITHFUL, *template.text.split("\n")[1:]]
    extractive = _reply(source_text, "extractive")
    phrased = LeadPhraser(fake(FAITHFUL))(PRECONCEPTION, extractive, catalogue)
    assert phrased.produced_by == "llm_lead" and phrased.text == FAITHFUL + "\n" + extractive.text
    assert phrased.citations == extractive.citations


def test_the_model_sees_the_question_and_the_cited_quotes(ask):
    class Recording(GenericFakeChatModel):
        seen: list = []

        def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
            self.seen.append(messages)
            return super()._generate(messages, stop, run_manager, **kwargs)

    model = Recording(messages=iter([AIMessage(FAITHFUL)]))
    reply = ask(PRECONCEPTION, phraser=LeadPhraser(model))
    system, human = model.seen[0]
    assert "不要添加摘录里没有的数字" in system.content
    assert PRECONCEPTION in human.content and "为符合生育政策并计划怀孕的夫妇" in human.content
    assert "目录记载的费用：免费" in human.content  # the catalogue's cost for the service the reply names
    assert reply.produced_by == "llm_lead"


# --- rejected: the composer's reply stands -------------------------------------------------------
@pytest.mark.parametrize(
    ("lead", "why"),
    [
        ("免费。计划怀孕的夫妇每孩次可免费做3次孕前优生健康检查。", "figures"),  # invented figure
        ("免费，每对夫妇还能领500元补贴。", "amount"),  # invented amount (the plan gives none)
        ("宁夏每年为计划怀孕的夫妇免费提供2次孕前检查。", "places"),  # the other region and its number
        ("在南宁可以免费做孕前优生健康检查。", "places"),  # a place the quotes do not name
        ("免费。还可以申请最低生活保障。", "services"),  # a service the quotes do not name
        ("孕前检查免费，详情拨打12345咨询。", "numbers"),  # a number the quotes do not hold
        ("免费。\n另外还有很多补贴。", "more than one line"),
    ],
)
def test_an_unfaithful_lead_is_rejected_and_the_composers_reply_stands(ask, catalogue, lead, why):
    plain = ask(PRECONCEPTION)
    phraser = LeadPhraser(GenericFakeChatModel(messages=iter([AIMessage(lead)])))
    reply = ask(PRECONCEPTION, phraser=phraser)
    assert phraser.stats["rejected"] == 1 and phraser.stats["accepted"] == 0
    assert reply.produced_by == plain.produced_by != "llm_lead" and reply.text == plain.text
    # and the check says why
    problems = lead_problems(
        clean_lead(lead),
        [c.quote for c in plain.citations],
        regions={"guangxi"},
        services=[catalogue.entries[s].service for s in plain.services],
        catalogue=catalogue,
    )
    assert any(why in p for p in problems), problems


def test_a_cost_word_needs_a_quote_or_the_catalogue_behind_it(ask, catalogue):
    plain = ask("退役军人有什么服务", region="ningxia")
    assert plain.produced_by in ("template_lead", "extractive") and plain.services
    # neither the quotes nor the services the reply names say it is free
    assert not any("免费" in c.quote for c in plain.citations)
    assert all(catalogue.entries[s].service.cost != "free" for s in plain.services)
    reply = ask(
        "退役军人有什么服务", region="ningxia", phraser=LeadPhraser(fake("退役军人就业创业服务全部免费。"))
    )
    assert reply.produced_by == plain.produced_by and reply.text == plain.text


def test_two_plans_side_by_side_are_not_phrased(ask):
    model = FakeMessagesListChatModel(responses=[AIMessage("两地都分级建设养老服务网络。")])
    phraser = LeadPhraser(model)
    reply = ask("养老服务网络规划是分几级来建的？", region=None, phraser=phraser)
    assert reply.produced_by == "extractive" and "【广西】" in reply.text and "【宁夏】" in reply.text
    assert model.i == 0 and not phraser.stats  # the model was not even asked


def test_a_declined_question_is_not_phrased(ask):
    phraser = LeadPhraser(fake("宁夏基础养老金每月发300元。"))
    reply = ask("宁夏城乡居民基础养老金现在每个月发多少钱？", region=None, phraser=phraser)
    assert reply.kind == "refuse" and reply.produced_by == "declined" and not phraser.stats


def test_clean_lead_strips_reasoning_quotes_and_prefixes():
    assert clean_lead("<think>嗯，先看摘录……</think>\n“免费。可做孕前检查”") == "免费。可做孕前检查。"
    # more than one line stays so, for the check to refuse
    assert clean_lead("答：可以享受\n（注：以上来自摘录）") == "可以享受。\n（注：以上来自摘录）"
    assert clean_lead([{"type": "text", "text": "免费"}]) == "免费。"
    assert clean_lead("   ") == ""


# --- slow and failing endpoints --------------------------------------------------------------------
def test_a_slow_model_falls_back_within_the_budget(ask, catalogue):
    plain = ask(PRECONCEPTION)
    slow = FakeMessagesListChatModel(responses=[AIMessage(FAITHFUL)], sleep=5.0)
    phraser = LeadPhraser(slow, timeout_seconds=0.5)
    started = time.monotonic()
    kept = phraser(PRECONCEPTION, plain, catalogue)
    elapsed = time.monotonic() - started
    assert kept is plain and 0.5 <= elapsed < 0.5 + 0.5, elapsed  # the timeout, not the model's 5 s
    # end to end: the composer's reply, unchanged
    reply = ask(PRECONCEPTION, phraser=phraser)
    assert reply.produced_by == plain.produced_by and reply.text == plain.text
    assert phraser.stats["timeout"] == 2 and not phraser.stats["accepted"]
    phraser.close()


class Failing(BaseChatModel):
    calls: int = 0

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.calls += 1
        raise ConnectionError("endpoint down")

    @property
    def _llm_type(self) -> str:
        return "failing"


def test_the_breaker_opens_after_consecutive_failures_and_tries_again_after_the_cool_down(
    ask, source_text, catalogue
):
    now = [0.0]
    breaker = CircuitBreaker(failures=3, cooldown_seconds=60, clock=lambda: now[0])
    model = Failing()
    phraser = LeadPhraser(model, breaker=breaker)
    plain = ask(PRECONCEPTION)
    assert ask(PRECONCEPTION, phraser=phraser).text == plain.text  # a failing endpoint: the composer's reply
    reply = _reply(source_text, "template_lead", lead="免费。")
    tokens = {phraser.cache_token()}
    for _ in range(4):
        assert phraser(PRECONCEPTION, reply, catalogue) is reply
        tokens.add(phraser.cache_token())
    assert model.calls == 3 and breaker.state == "open"
    assert phraser.stats["error"] == 3 and phraser.stats["skipped"] == 2
    now[0] = 61.0  # cool-down over: one trial call, which fails: open again
    assert breaker.state == "half_open"
    assert phraser(PRECONCEPTION, reply, catalogue) is reply
    assert model.calls == 4 and breaker.state == "open"
    # a working endpoint after the next cool-down closes the breaker
    now[0] = 200.0
    phraser.model = fake(FAITHFUL)
    assert phraser(PRECONCEPTION, reply, catalogue).produced_by == "llm_lead"
    assert breaker.state == "closed" and breaker.consecutive == 0
    # the answer cache key moved with every failure and state change: no fallback is served once it is back
    assert phraser.cache_token() not in tokens


def test_a_half_open_breaker_lets_one_caller_try():
    now = [0.0]
    breaker = CircuitBreaker(failures=1, cooldown_seconds=10, clock=lambda: now[0])
    breaker.failure()
    assert not breaker.allow()
    now[0] = 11.0
    assert breaker.allow() and not breaker.allow()  # the trial is out: others keep skipping
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


def test_off_unless_an_endpoint_and_a_model_are_configured():
    assert lead_phraser_from_settings(Settings(llm_base_url=None, llm_model=None)) is None
    assert lead_phraser_from_settings(Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model=None)) is None
    assert not Settings(llm_base_url=None, llm_model=None).llm_enabled


# --- a real ChatOpenAI against a local OpenAI-compatible server --------------------------------------
class FakeOpenAI(ThreadingHTTPServer):
    """POST /v1/chat/completions as an OpenAI-compatible server answers it. ``plan`` is consumed one entry per
    request (the last repeats): a text to answer, ``500`` to fail, or ``(seconds, text)`` to answer late."""

    daemon_threads = True

    def __init__(self) -> None:
        self.plan: list = []
        self.requests: list[dict] = []
        super().__init__(("127.0.0.1", 0), _FakeOpenAIHandler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _FakeOpenAIHandler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "body": body, "authorization": self.headers.get("Authorization")}
        )
        step = self.server.plan.pop(0) if len(self.server.plan) > 1 else self.server.plan[0]
        if step == 500:
            return self._send(500, {"error": {"message": "overloaded", "type": "server_error"}})
        if isinstance(step, tuple):
            time.sleep(step[0])
            step = step[1]
        self._send(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": step}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            },
        )

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fake_openai():
    server = FakeOpenAI()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def llm_settings(settings, fake_openai):
    fake_openai.plan, fake_openai.requests[:] = [FAITHFUL], []
    return settings.model_copy(
        update={
            "llm_base_url": fake_openai.base_url,
            "llm_model": "fake-qwen",
            "llm_api_key": "test-key",
            "llm_timeout_seconds": 5.0,
            "llm_max_retries": 1,
        }
    )


def test_chat_openai_is_wired_to_the_configured_endpoint(ask, llm_settings, fake_openai):
    phraser = lead_phraser_from_settings(llm_settings)
    reply = ask(PRECONCEPTION, phraser=phraser)
    assert reply.produced_by == "llm_lead" and reply.text.startswith(FAITHFUL)
    (request,) = fake_openai.requests
    assert request["path"] == "/v1/chat/completions" and request["body"]["model"] == "fake-qwen"
    assert request["authorization"] == "Bearer test-key" and request["body"]["temperature"] == 0.0
    messages = request["body"]["messages"]
    assert messages[0]["role"] == "system" and PRECONCEPTION in messages[1]["content"]
    phraser.close()


def test_chat_openai_retries_a_failed_call(ask, llm_settings, fake_openai):
    fake_openai.plan = [500, FAITHFUL]
    phraser = lead_phraser_from_settings(llm_settings)
    reply = ask(PRECONCEPTION, phraser=phraser)
    assert len(fake_openai.requests) == 2 and reply.produced_by == "llm_lead"
    assert phraser.breaker.failures_total == 0  # the client's retry absorbed it
    phraser.close()


def test_chat_openai_on_a_slow_endpoint_falls_back_at_the_timeout(ask, catalogue, llm_settings, fake_openai):
    fake_openai.plan = [(6.0, FAITHFUL)]
    # no client retry: its second request would reach the server during the next test
    settings = llm_settings.model_copy(update={"llm_timeout_seconds": 1.0, "llm_max_retries": 0})
    phraser = lead_phraser_from_settings(settings)
    plain = ask(PRECONCEPTION)
    started = time.monotonic()
    kept = phraser(PRECONCEPTION, plain, catalogue)
    elapsed = time.monotonic() - started
    assert kept is plain and phraser.stats["timeout"] == 1
    assert 1.0 <= elapsed < 1.0 + 0.5, elapsed  # the 1 s budget, not the 6 s reply
    phraser.close()


def test_the_api_phrases_answers_when_configured(llm_settings, ingested, fake_openai):
    from api.main import create_app

    with TestClient(create_app(llm_settings)) as client:
        assert client.app.state.phraser is not None
        body = client.post("/v1/answer", json={"question": PRECONCEPTION, "region": "guangxi"}).json()
        assert body["produced_by"] == "llm_lead" and body["text"].startswith(FAITHFUL)
        assert body["citations"] and len(fake_openai.requests) == 1
        # an unfaithful lead through the API: the template reply, produced_by unchanged
        fake_openai.plan = ["每对夫妇补贴800元。"]
        body = client.post(
            "/v1/answer", json={"question": "计划怀孕可以免费检查吗", "region": "guangxi"}
        ).json()
        assert body["produced_by"] in ("template_lead", "extractive") and "800" not in body["text"]


# --- optional: a real endpoint --------------------------------------------------------------------------
SMOKE_URL = os.environ.get("MINSHENG_TEST_LLM_BASE_URL")


@pytest.mark.skipif(
    not SMOKE_URL,
    reason="no OpenAI-compatible endpoint to smoke-test: set MINSHENG_TEST_LLM_BASE_URL and "
    "MINSHENG_TEST_LLM_MODEL (and MINSHENG_TEST_LLM_API_KEY if it needs one); no such endpoint exists on "
    "these machines, the fake-model and fake-server tests above cover the logic",
)
def test_smoke_a_real_endpoint(ask, settings, catalogue):
    real = settings.model_copy(
        update={
            "llm_base_url": SMOKE_URL,
            "llm_model": os.environ.get("MINSHENG_TEST_LLM_MODEL", ""),
            "llm_api_key": os.environ.get("MINSHENG_TEST_LLM_API_KEY"),
            "llm_timeout_seconds": float(os.environ.get("MINSHENG_TEST_LLM_TIMEOUT", "20")),
        }
    )
    phraser = lead_phraser_from_settings(real)
    reply = ask(PRECONCEPTION, phraser=phraser)
    assert phraser.stats["error"] == phraser.stats["timeout"] == 0, phraser.stats
    lead = reply.text.split("\n")[0]
    print(f"\n{real.llm_model}: {reply.produced_by}: {lead}")
    if reply.produced_by == "llm_lead":  # whatever the model wrote, only a checked line is shown
        assert not lead_problems(
            lead,
            [c.quote for c in reply.citations],
            regions={"guangxi"},
            services=[catalogue.entries[s].service for s in reply.services],
            catalogue=catalogue,
        )
    else:
        assert reply.produced_by == "template_lead"
