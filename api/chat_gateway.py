"""The conversation engine every channel calls: the widget (api/routes/chat.py) and WeChat (api/wechat/).

One turn: mask personal data, hand the message to the operator while a human has the conversation, decline
what the gateway answers itself, else forward to Rasa (bounded trackers) and store the replies. Channels only
adapt their transport to this; none keeps a copy of it.
"""

from __future__ import annotations

import logging
from typing import Any

from api.chat_messages import ChatMessage, declined_message, merge_rasa_output
from api.conversations import ConversationStore, HistoryEntry, Unanswered
from api.rasa_client import RasaClient, RasaUnavailable

logger = logging.getLogger(__name__)

__all__ = ["RasaUnavailable", "converse"]


def converse(
    session_id: str,
    text: str,
    conversations: ConversationStore,
    rasa: RasaClient,
    rotate_after: int,
    metadata: dict[str, Any] | None = None,
) -> list[ChatMessage]:
    """The replies to one resident message (none while an operator has the conversation).

    Raises RasaUnavailable when the dialogue server cannot be reached; the message is then kept as undelivered
    and a resend of the same text is not stored twice."""
    sid = session_id
    # Personal data (ID, phone, card numbers, e-mail) is masked before the message is stored, published or sent
    # to Rasa: history, tracker, logs and insights only ever hold the masks. The values as typed are kept apart
    # for a day, for an operator handling a hand-off to reveal one (audited).
    resident = conversations.resident_entry(sid, text)
    text = resident.text
    if conversations.active_ticket(sid) is not None:
        conversations.append(sid, resident)
        conversations.publish(
            "resident_message", {"session_id": sid, "text": text, "entry": resident.model_dump()}
        )
        return []  # the operator answers; the widget shows it via history/events, WeChat as 客服消息
    if declined := declined_message(text):  # never reaches the form, whatever NLU would say
        message, reason = declined
        conversations.append(sid, resident, HistoryEntry(role="bot", text=message.text, message=message))
        conversations.record_unanswered(Unanswered(question=text, reason=reason))
        return [message]
    # Undelivered until Rasa has it; marked by this entry's id, so concurrent turns never mark each other's.
    entry_id = conversations.start_delivery(sid, resident)
    sender = _current_sender(sid, conversations, rasa, rotate_after)
    try:
        output = rasa.send(sender, text, metadata)
    except RasaUnavailable:
        conversations.delivery_failed(sid, entry_id)  # kept; a resend claims it instead of storing it twice
        raise  # the caller says so
    conversations.delivered(sid, entry_id)
    conversations.count_turn(sid)
    messages = merge_rasa_output(output)
    conversations.append(sid, *[HistoryEntry(role="bot", text=m.text, message=m) for m in messages])
    return messages


def _current_sender(
    session_id: str, conversations: ConversationStore, rasa: RasaClient, rotate_after: int
) -> str:
    """Bound the Rasa tracker: past ``rotate_after`` turns (and not inside a form) continue in a new one, slots kept."""
    sender, turns = conversations.rasa_sender(session_id)
    if turns < rotate_after:
        return sender
    try:
        slots, form_active = rasa.tracker_state(sender)
        if form_active:
            return sender  # never cut a running eligibility form in half
        fresh = conversations.upcoming_sender(session_id)
        rasa.set_slots(fresh, slots)  # seed first: the switch below is the commit
        conversations.next_epoch(session_id)
    except Exception:  # noqa: BLE001 - bounding the tracker is an optimisation; never fail the resident's turn for it
        logger.exception("tracker rotation failed for %s; continuing in %s", session_id, sender)
        return sender
    return fresh
