"""Chat messages as WeChat text (pure): plain text within WeChat's length limit.

- Citations become short 【依据】 lines (document › section) with a link to the citation page (the quote
  highlighted in its paragraph), served by the API at /wechat/cite/{source}.
- Buttons become numbered options ("回复 1 选择广西"); the resident's "1" is turned back into the button's
  payload by the channel, so a WeChat resident walks the same clarifications and forms as the widget.
- WeChat takes at most 2048 bytes of text per message: longer replies are split at line breaks into a few
  messages (the first can be the passive reply, the others go out as 客服消息), and cut after MAX_PARTS.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from api.chat_messages import ChatButton, ChatCitation, ChatMessage

TEXT_LIMIT_BYTES = 2048  # WeChat's limit for one text message (passive reply or 客服消息)
MAX_PARTS = 3
MAX_CITATIONS = 3  # per message: the widget shows them all as chips; a phone screen takes a few lines
SECTION_CHARS = 40
CUT = "……（回答较长，已省略后面的内容；可以换个更具体的问法）"

WELCOME = (
    "您好，欢迎关注！我是民生服务助手，可以按广西、宁夏“十四五”公共服务规划的原文回答您的问题，并注明依据。\n"
    "直接发文字（或语音）提问就行，例如：\n"
    "· 准备要孩子了，孕前检查免费吗\n"
    "· 公租房谁能申请\n"
    "· 我能享受哪些服务\n"
    "需要人工帮助，请回复“转人工”。"
)
ONLY_TEXT = "目前只能处理文字消息。请用文字（或语音）描述您的问题，例如“孕前检查免费吗”。"
VOICE_UNRECOGNISED = "没能识别这段语音，请再说一遍，或用文字描述您的问题。"
UNAVAILABLE = "抱歉，服务暂时忙不过来，您的消息已保存，请稍后再发一次。"
TOO_MANY = "您发得太快了，请稍等一会儿再问。"

CiteLink = Callable[[ChatCitation], str | None]


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def citation_line(citation: ChatCitation, link: str | None) -> str:
    """``【依据】《规划》第三章 › 第二节 › 专栏4 查看原文``: the answer already quotes the text; this says where."""
    where = " › ".join(p for p in (citation.title, _short(citation.section, SECTION_CHARS)) if p)
    line = f"【依据】{where}"
    if link:
        line += f' <a href="{link}">查看原文</a>'
    return line


def option_lines(buttons: list[ChatButton]) -> list[str]:
    return [f"回复 {n} 选择{b.title}" for n, b in enumerate(buttons, start=1)]


def message_text(message: ChatMessage, cite_link: CiteLink) -> str:
    text = message.text.strip()
    cites: list[str] = []
    seen: set[tuple[str, int, int]] = set()
    for citation in message.citations:
        key = (citation.source, citation.start, citation.end)
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > MAX_CITATIONS:
            break
        cites.append(citation_line(citation, cite_link(citation)))
    whole = "\n".join(line for line in (text, *cites) if line)
    if not cites or _bytes(whole) <= TEXT_LIMIT_BYTES:
        return whole
    # A reply WeChat must split: where it comes from goes right after its first line, so the passive reply
    # (the part a resident surely gets; 客服消息 may be refused) carries the 依据 lines.
    head, _, rest = text.partition("\n")
    return "\n".join(line for line in (head, *cites, rest) if line)


def options(messages: list[ChatMessage]) -> list[ChatButton]:
    """The buttons of a reply, in order, each payload once (the last message's usually: region, form, 转人工)."""
    out: list[ChatButton] = []
    for message in messages:
        for button in message.buttons:
            if button.payload and all(b.payload != button.payload for b in out):
                out.append(button)
    return out[:9]


def render(messages: list[ChatMessage], cite_link: CiteLink) -> tuple[list[str], list[ChatButton]]:
    """The WeChat messages to send (each within the byte limit) and the numbered options they offer."""
    buttons = options(messages)
    blocks = [message_text(m, cite_link) for m in messages]
    if buttons:
        blocks.append("\n".join(option_lines(buttons)))
    return split("\n\n".join(b for b in blocks if b)), buttons


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut_to(text: str, limit: int) -> tuple[str, str]:
    """The longest head of ``text`` within ``limit`` UTF-8 bytes (never inside a character), and the rest."""
    head = text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
    return head, text[len(head) :]


def split(text: str, limit: int = TEXT_LIMIT_BYTES, max_parts: int = MAX_PARTS) -> list[str]:
    """Split at line breaks into parts of at most ``limit`` bytes; a longer line is cut by characters."""
    text = safe_text(text)
    if not text:
        return []
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if _bytes(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = line
        while _bytes(current) > limit:
            head, current = _cut_to(current, limit)
            parts.append(head)
    if current:
        parts.append(current)
    if len(parts) > max_parts:
        last, _ = _cut_to(parts[max_parts - 1], limit - _bytes("\n" + CUT))
        parts = [*parts[: max_parts - 1], last.rstrip() + "\n" + CUT]
    return parts


def safe_text(text: str) -> str:
    """Text that fits a CDATA section (wechatpy renders replies as ``<![CDATA[…]]>``) and has no control chars."""
    text = text.replace("]]>", "]] >")
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc").strip()


_DIGITS = re.compile(r"^\s*(\d{1,2})\s*[.。、]?\s*$")


def chosen_option(text: str, buttons: list[ChatButton]) -> ChatButton | None:
    """The option a reply like "1" / "１" / "2." picks among the last numbered options, or None."""
    match = _DIGITS.match(unicodedata.normalize("NFKC", text))
    if not match or not buttons:
        return None
    n = int(match.group(1))
    return buttons[n - 1] if 1 <= n <= len(buttons) else None
