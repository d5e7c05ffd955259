"""Typed chat messages and the merge of Rasa REST output into them (pure)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

Kind = Literal["answer", "clarify", "refuse", "handoff", "form", "smalltalk", "operator"]


class ChatCitation(BaseModel):
    source: str
    title: str
    section: str
    quote: str
    start: int
    end: int
    valid_from: date | None = None
    valid_to: date | None = None
    region: str | None = None


class ChatButton(BaseModel):
    title: str
    payload: str


class ChatMessage(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    kind: Kind
    text: str
    citations: list[ChatCitation] = Field(default_factory=list)
    buttons: list[ChatButton] = Field(default_factory=list)
    # How the answer service produced it (template_lead / extractive / listing / indicator_row /
    # indicator_text / clarify_region / declined) and which catalogue services it rests on: for operators.
    produced_by: str | None = None
    services: list[str] = Field(default_factory=list)
    # The index version the answer service composed it from (api/routes/answer.py); None for replies that did
    # not consult the plans. After a publish, clients and the fault scripts see which version answered.
    index_version: str | None = None


def declined_message(text: str) -> tuple[ChatMessage, str] | None:
    """The refusal for a message the gateway answers itself (and its reason), or None to ask the dialogue."""
    from knowledge.answering import refuse
    from knowledge.guardrails import decline_before_dialogue

    refusal = decline_before_dialogue(text)
    if refusal is None:
        return None
    reply = refuse(refusal.message, refusal.code)
    buttons = [ChatButton(title=b.title, payload=b.payload) for b in reply.buttons]
    return ChatMessage(kind="refuse", text=reply.text, buttons=buttons, produced_by="declined"), refusal.code


def merge_rasa_output(entries: list[dict[str, Any]]) -> list[ChatMessage]:
    """Rasa's REST channel returns text, buttons and custom payloads as separate entries: join them.

    Our actions send complete messages as custom payloads ({"kind", "text", "citations", "buttons"});
    a custom payload with only a "kind" (domain responses) labels the text right before it.
    """
    messages: list[ChatMessage] = []
    for entry in entries:
        custom = entry.get("custom")
        if isinstance(custom, dict) and "text" in custom and "kind" in custom:
            messages.append(
                ChatMessage.model_validate({k: v for k, v in custom.items() if k in ChatMessage.model_fields})
            )
        elif isinstance(custom, dict) and "kind" in custom and messages:
            messages[-1].kind = custom["kind"]
        elif entry.get("text"):
            buttons = [
                ChatButton(title=b.get("title", ""), payload=b.get("payload", ""))
                for b in entry.get("buttons") or []
            ]
            messages.append(ChatMessage(kind="smalltalk", text=entry["text"], buttons=buttons))
        elif entry.get("buttons") and messages:
            messages[-1].buttons += [
                ChatButton(title=b.get("title", ""), payload=b.get("payload", "")) for b in entry["buttons"]
            ]
    return messages
