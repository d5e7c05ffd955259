"""A minimal tool-calling loop: any LangChain chat model that supports ``bind_tools`` plus Minsheng's tools.

Integrators usually have their own agent runtime (LangGraph, a vendor's); this loop is what the docs' example and
the tests run, and shows the contract: the model asks for tools, gets their text back as ``ToolMessage``s (with the
full JSON as ``artifact``), and answers from the quotes.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool

AGENT_INSTRUCTIONS = """你是民生服务助手，回答居民关于广西、宁夏公共服务的问题。
先用 search_plans 查规划原文；问能不能享受时用 check_entitlements（只填居民说过的情况）；找服务用 list_services。
只根据工具返回的原文回答，注明出自哪个文件；原文没有的数字、金额、地名不要说；规划没写就如实说没写，并建议咨询当地有关部门。"""


def run_agent(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    question: str,
    *,
    instructions: str = AGENT_INSTRUCTIONS,
    max_steps: int = 6,
) -> list[BaseMessage]:
    """Run ``question`` until the model answers without asking for a tool (at most ``max_steps`` model calls);
    returns the whole conversation, the answer last."""
    by_name = {t.name: t for t in tools}
    bound = model.bind_tools(list(tools))
    messages: list[BaseMessage] = [SystemMessage(instructions), HumanMessage(question)]
    for _ in range(max_steps):
        reply = bound.invoke(messages)
        messages.append(reply)
        if not isinstance(reply, AIMessage) or not reply.tool_calls:
            return messages
        for call in reply.tool_calls:
            tool = by_name.get(call["name"])
            if tool is None:
                messages.append(
                    ToolMessage(f"没有名为 {call['name']} 的工具", tool_call_id=call["id"], status="error")
                )
            else:
                messages.append(tool.invoke(call))  # a tool call in, a ToolMessage (content + artifact) out
    messages.append(AIMessage("抱歉，这个问题我没能在限定步数内查清楚，建议转人工客服。"))
    return messages
