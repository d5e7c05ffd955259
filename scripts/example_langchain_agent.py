"""Minsheng in a LangChain agent: the retriever, the three tools and a tool-calling loop (docs/langchain.md).

    .venv/bin/python scripts/example_langchain_agent.py "准备要孩子了，孕前检查免费吗"
    .venv/bin/python scripts/example_langchain_agent.py --base-url http://127.0.0.1:8000 "宁夏低保怎么申请"

With MINSHENG_LLM_BASE_URL and MINSHENG_LLM_MODEL set (any OpenAI-compatible endpoint with tool calling: vLLM,
Ollama, a cloud API) the agent is that model; without, a scripted fake model shows the same flow: it asks
search_plans, then check_entitlements for the first matched service, then answers from the quote.
"""

from __future__ import annotations

import argparse
import sys

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage

from knowledge.langchain import MinshengRetriever, minsheng_tools, run_agent
from knowledge.settings import get_settings


class ScriptedAgent(GenericFakeChatModel):
    """A stand-in for an LLM: search, check the first matched service, answer with the first quote."""

    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        question = messages[1].content
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if not results:
            call = {"name": "search_plans", "args": {"query": question}, "id": "search"}
            self.messages = iter([AIMessage("", tool_calls=[call])])
        elif len(results) == 1 and results[0].artifact and results[0].artifact.get("services"):
            service = results[0].artifact["services"][0]["service_id"]
            call = {"name": "check_entitlements", "args": {"services": [service]}, "id": "check"}
            self.messages = iter([AIMessage("", tool_calls=[call])])
        else:
            hits = results[0].artifact["hits"] if results[0].artifact else []
            text = (
                f"规划原文：“{hits[0]['text']}”（{hits[0]['title']} {hits[0]['section']}）"
                if hits
                else "规划没有写。"
            )
            self.messages = iter([AIMessage(text)])
        return super()._generate(messages, stop, run_manager, **kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("question", nargs="?", default="准备要孩子了，孕前检查免费吗")
    parser.add_argument("--base-url", help="a running Minsheng API (default: in this process)")
    parser.add_argument("--region", choices=["guangxi", "ningxia"])
    args = parser.parse_args()

    # 1. The retriever: documents whose metadata is the full citation.
    retriever = MinshengRetriever(base_url=args.base_url, region=args.region, top_k=3)
    for doc in retriever.invoke(args.question):
        m = doc.metadata
        print(f"{m['title']} {m['section']} [{m['start']}:{m['end']}] ({m['status']}, score {m['score']})")
        print(f"  “{m['quote'][:80]}”")

    # 2. The tools in an agent loop.
    settings = get_settings()
    if settings.llm_enabled:
        from knowledge.llm_phrasing import chat_model_from_settings

        model = chat_model_from_settings(settings)
    else:
        model = ScriptedAgent(messages=iter([]))
        print("\n(no MINSHENG_LLM_BASE_URL / MINSHENG_LLM_MODEL: a scripted fake model plays the agent)")
    tools = minsheng_tools(base_url=args.base_url)
    for message in run_agent(model, tools, args.question)[2:]:
        if isinstance(message, AIMessage) and message.tool_calls:
            for call in message.tool_calls:
                print(f"\n→ {call['name']}({call['args']})")
        elif isinstance(message, ToolMessage):
            print("\n".join("  " + line for line in message.content.splitlines()[:8]))
        else:
            print(f"\n答：{message.content}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
