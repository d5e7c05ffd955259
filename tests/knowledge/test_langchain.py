"""Minsheng for LangChain: the retriever's documents are citations (real index), the same over HTTP (a real
uvicorn serving the API), and an agent loop in which a fake chat model calls the three tools."""

from __future__ import annotations

import socket
import threading
import time
from datetime import date

import pytest
import uvicorn
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from knowledge.chunking import display_text
from knowledge.langchain import (
    CITATION_KEYS,
    InProcessBackend,
    MinshengAPIError,
    MinshengRetriever,
    minsheng_tools,
    run_agent,
)

PRECONCEPTION = "准备要孩子了，孕前检查免费吗"
BOX_ITEM = "第三章 › 第二节 › 专栏4 › 2. 免费孕前优生健康服务"


@pytest.fixture(scope="module")
def api_url(settings, ingested):
    """The API (create_app) served by a real uvicorn on a free loopback port."""
    from api.main import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 180
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def in_process(retriever, route, catalogue):
    return InProcessBackend(retriever, route, catalogue)


# --- the retriever ---------------------------------------------------------------------------------------
def test_documents_carry_the_full_citation(retriever, route, source_text):
    docs = MinshengRetriever(retriever=retriever, route=route, region="guangxi").invoke(PRECONCEPTION)
    assert len(docs) == 5
    for doc in docs:
        m = doc.metadata
        assert all(m[key] is not None for key in CITATION_KEYS), m
        assert source_text[m["source"]][m["start"] : m["end"]] == m["quote"]  # verbatim, with offsets
        assert m["region"] == "guangxi" and m["title"] == "《广西公共服务“十四五”规划》"
        assert (m["valid_from"], m["valid_to"]) == ("2021-01-01", "2025-12-31")
        assert m["status"] in ("in_force", "ended", "superseded", "not_yet")
        assert doc.page_content == display_text(m["quote"]) and doc.id == m["chunk_id"]
        assert m["index_version"] == retriever.snapshot().version
    assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)
    assert any(d.metadata["section"] == BOX_ITEM and "免费提供 1 次" in d.metadata["quote"] for d in docs[:3])


def test_region_top_k_and_as_of_are_fields_and_per_call(retriever, route):
    r = MinshengRetriever(retriever=retriever, route=route, top_k=3, as_of=date(2023, 6, 1))
    docs = r.invoke("公租房谁能申请")
    assert len(docs) == 3 and {d.metadata["status"] for d in docs} == {"in_force"}
    assert docs[0].metadata["as_of"] == "2023-06-01"
    later = r.invoke("低保", region="ningxia", top_k=2, as_of=date(2030, 1, 1))
    assert len(later) == 2 and {d.metadata["region"] for d in later} == {"ningxia"}
    assert {d.metadata["status"] for d in later} == {"ended"}


def test_over_http_the_documents_are_the_same(retriever, route, api_url):
    local = MinshengRetriever(retriever=retriever, route=route, region="guangxi").invoke(PRECONCEPTION)
    remote = MinshengRetriever(base_url=api_url, region="guangxi").invoke(PRECONCEPTION)
    assert [d.id for d in remote] == [d.id for d in local]
    assert [d.metadata for d in remote] == [d.metadata for d in local]
    assert [d.page_content for d in remote] == [d.page_content for d in local]


def test_over_http_a_refused_query_says_why(api_url):
    with pytest.raises(MinshengAPIError) as err:
        MinshengRetriever(base_url=api_url).invoke("问" * 501)
    assert err.value.status_code == 422 and "query" in err.value.detail


# --- the tools --------------------------------------------------------------------------------------------
def test_tool_schemas_are_what_an_agent_needs():
    schemas = {s["function"]["name"]: s["function"] for s in map(convert_to_openai_tool, minsheng_tools())}
    assert set(schemas) == {"search_plans", "check_entitlements", "list_services"}
    for schema in schemas.values():
        assert len(schema["description"]) > 100
        assert all(p.get("description") for p in schema["parameters"]["properties"].values())
    profile = schemas["check_entitlements"]["parameters"]["properties"]["profile"]
    assert {"hukou_region", "age", "planning_pregnancy", "income_status"} <= set(profile["properties"])
    assert schemas["search_plans"]["parameters"]["required"] == ["query"]


@pytest.fixture(params=["in_process", "http"])
def tools(request, in_process, api_url):
    if request.param == "in_process":
        return minsheng_tools(backend=in_process)
    return minsheng_tools(base_url=api_url)


def _call(tool, **args):
    return tool.invoke({"type": "tool_call", "name": tool.name, "args": args, "id": f"call-{tool.name}"})


def test_refused_tool_calls_are_told_to_the_model(tools):
    by_name = {t.name: t for t in tools}
    unknown = _call(by_name["check_entitlements"], services=["gx-no-such-service"])
    assert unknown.status == "error" and "gx-no-such-service" in unknown.content
    bad = _call(by_name["search_plans"], query="孕前检查", top_k=99)
    assert bad.status == "error" and "top_k" in bad.content
    wrong_type = _call(by_name["check_entitlements"], profile={"age": "七十"})
    assert wrong_type.status == "error" and "profile.age" in wrong_type.content


def test_in_process_and_http_tools_agree(in_process, api_url):
    local = {t.name: t for t in minsheng_tools(backend=in_process)}
    remote = {t.name: t for t in minsheng_tools(base_url=api_url)}
    profile = {"hukou_region": "ningxia", "residence_region": "ningxia", "age": 70, "income_status": "dibao"}
    a = _call(local["check_entitlements"], profile=profile, region="ningxia").artifact
    b = _call(remote["check_entitlements"], profile=profile, region="ningxia").artifact
    for group in ("eligible", "needs_info", "not_eligible"):
        assert [r["service_id"] for r in a[group]] == [r["service_id"] for r in b[group]]
    assert a["ask_next"] == b["ask_next"] and a["sources"] == b["sources"]
    listed = _call(local["list_services"], region="ningxia", q="低保").artifact
    assert listed == _call(remote["list_services"], region="ningxia", q="低保").artifact
    assert listed["count"] >= 1 and all(s["region"] == "ningxia" for s in listed["services"])


class ToolCallingFake(GenericFakeChatModel):
    """LangChain's GenericFakeChatModel with ``bind_tools`` (it records the tool schemas an LLM would get) and a
    record of every conversation it was sent."""

    bound: list[dict] = Field(default_factory=list)
    seen: list[list] = Field(default_factory=list)

    def bind_tools(self, tools, **kwargs):
        self.bound = [convert_to_openai_tool(t) for t in tools]
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.seen.append(list(messages))
        return super()._generate(messages, stop, run_manager, **kwargs)


FINAL = "免费。根据《广西公共服务“十四五”规划》专栏4，计划怀孕的夫妇每孩次可免费享受1次孕前优生服务；按您说的情况可以享受。"


def test_an_agent_loop_calls_the_tools_and_answers_from_them(tools, source_text):
    model = ToolCallingFake(
        messages=iter(
            [
                AIMessage(
                    "",
                    tool_calls=[
                        {
                            "name": "search_plans",
                            "args": {"query": PRECONCEPTION, "region": "guangxi"},
                            "id": "s1",
                        }
                    ],
                ),
                AIMessage(
                    "",
                    tool_calls=[
                        {
                            "name": "check_entitlements",
                            "args": {
                                "profile": {"hukou_region": "guangxi", "planning_pregnancy": True},
                                "services": ["gx-preconception-check"],
                            },
                            "id": "c1",
                        },
                        {
                            "name": "list_services",
                            "args": {"region": "guangxi", "life_event": "备孕"},
                            "id": "l1",
                        },
                    ],
                ),
                AIMessage(FINAL),
            ]
        )
    )
    messages = run_agent(model, tools, PRECONCEPTION)

    assert {t["function"]["name"] for t in model.bound} == {
        "search_plans",
        "check_entitlements",
        "list_services",
    }
    kinds = [type(m) for m in messages]
    assert kinds == [
        SystemMessage,
        HumanMessage,
        AIMessage,
        ToolMessage,
        AIMessage,
        ToolMessage,
        ToolMessage,
        AIMessage,
    ]
    search, check, listing = messages[3], messages[5], messages[6]
    assert all(m.status == "success" for m in (search, check, listing))
    # search_plans: the model reads quotes with their document and section; the artifact keeps the offsets
    assert BOX_ITEM in search.content and "免费提供 1 次" in search.content
    hit = next(h for h in search.artifact["hits"] if h["section"] == BOX_ITEM)
    assert source_text[hit["source"]][hit["start"] : hit["end"]] == hit["quote"]
    # check_entitlements: a Guangxi resident planning a pregnancy may have the free pre-pregnancy check
    assert [r["service_id"] for r in check.artifact["eligible"]] == ["gx-preconception-check"]
    assert "可以享受（1 项）" in check.content and "免费孕前优生健康服务" in check.content
    assert "gx-preconception-check" in {s["id"] for s in listing.artifact["services"]}
    # the model was given every tool result before it answered, and its answer ends the loop
    last_prompt = model.seen[-1]
    assert [m.tool_call_id for m in last_prompt if isinstance(m, ToolMessage)] == ["s1", "c1", "l1"]
    assert messages[-1].content == FINAL and len(model.seen) == 3


def test_an_agent_that_keeps_calling_tools_is_stopped(in_process):
    call = AIMessage("", tool_calls=[{"name": "list_services", "args": {"q": "低保"}, "id": "again"}])
    model = ToolCallingFake(messages=iter([call] * 10))
    messages = run_agent(model, minsheng_tools(backend=in_process), "低保", max_steps=3)
    assert len(model.seen) == 3 and "转人工" in messages[-1].content


def test_an_unknown_tool_is_an_error_the_model_sees(in_process):
    model = ToolCallingFake(
        messages=iter(
            [AIMessage("", tool_calls=[{"name": "book_appointment", "args": {}, "id": "x"}]), "好的。"]
        )
    )
    messages = run_agent(model, minsheng_tools(backend=in_process), "帮我预约")
    error = next(m for m in messages if isinstance(m, ToolMessage))
    assert error.status == "error" and "book_appointment" in error.content
