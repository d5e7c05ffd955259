"""Rasa custom actions. Each is name() + a short run() returning events; the logic is behind the API."""

import contextlib
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client as api
from actions.messages import (
    HANDOFF_BUTTON,
    PROFILE_SLOTS,
    api_failure,
    entitlement_summary,
    message,
    profile_from_slots,
)
from actions.settings import settings


def known_region(tracker: Tracker) -> str | None:
    """The region slot, if it holds one of ours (an NLU entity like "自治区" must not reach the API)."""
    value = tracker.get_slot("region")
    return value if value in ("guangxi", "ningxia") else None


def session_of(tracker: Tracker) -> str:
    """The widget's session id: the gateway continues long conversations in trackers named "<session>~<n>"."""
    return tracker.sender_id.split("~", 1)[0]


def answer_events(reply: dict[str, Any]) -> list[EventType]:
    """Remember what was answered, for follow-ups ("要钱吗", "宁夏呢") and the eligibility form, and the
    region once the resident named it — also when they named only a place ("我在南宁") before asking."""
    events: list[EventType] = []
    if reply.get("region") and reply.get("kind") in ("answer", "smalltalk"):
        events.append(SlotSet("region", reply["region"]))
    if reply.get("kind") == "clarify" and reply.get("query"):  # "广西" next re-answers the question asked
        events.append(SlotSet("last_query", reply["query"]))
    if reply.get("kind") == "answer":
        events += [
            SlotSet("last_query", reply.get("query")),
            SlotSet("services", reply.get("services") or None),
        ]
    return events


async def answer_latest(tracker: Tracker) -> dict[str, Any]:
    """The answer service's reply to the resident's latest message, in the conversation's context."""
    metadata = tracker.latest_message.get("metadata") or {}
    return await api.answer(
        tracker.latest_message.get("text") or "",
        last_query=tracker.get_slot("last_query"),
        context_region=known_region(tracker),
        as_of=metadata.get("as_of") if isinstance(metadata.get("as_of"), str) else None,
    )


async def known_profile(tracker: Tracker) -> dict[str, Any]:
    """The profile so far: what the form collected, over what the resident already said ("我在南宁",
    "老婆刚怀孕", "我爸七十了") — so the form asks only what is missing."""
    said = [e.get("text") or "" for e in tracker.events if e.get("event") == "user" and e.get("text")]
    try:
        hinted = await api.hints(said, known_region(tracker))
    except api.ApiError:
        hinted = {}
    return {**hinted, **profile_from_slots(tracker.current_slot_values())}


def utter_reply(dispatcher: CollectingDispatcher, reply: dict[str, Any]) -> None:
    """Send an answer-service reply to the resident as one complete chat message."""
    dispatcher.utter_message(
        json_message=message(
            reply["kind"],
            reply["text"],
            reply.get("citations") or [],
            reply.get("buttons") or [],
            produced_by=reply.get("produced_by"),
            services=reply.get("services"),
            index_version=reply.get("index_version"),
        )
    )


class ActionAnswer(Action):
    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            reply = await answer_latest(tracker)
        except api.ApiError as exc:
            dispatcher.utter_message(json_message=api_failure(exc.status))
            return []
        utter_reply(dispatcher, reply)
        return answer_events(reply)


class ActionSetRegion(ActionAnswer):
    """ "广西" / "我在银川": the answer service recognises a region choice and re-answers the last question."""

    def name(self) -> str:
        return "action_set_region"


def _make_validator(slot: str):
    async def validate(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None or not isinstance(value, str):
            return {slot: value}
        try:
            result = await api.normalize(slot, value)
        except api.ApiError:
            return {slot: None}
        if result.get("ok"):
            return {slot: result["value"]}
        dispatcher.utter_message(
            json_message=message("form", result.get("message") or "没听明白，请换个说法。")
        )
        return {slot: None}

    validate.__name__ = f"validate_{slot}"
    return validate


class ValidateEligibilityForm(FormValidationAction):
    """Asks only what the entitlement API reports missing, and normalises each answer through the API."""

    def name(self) -> str:
        return "validate_eligibility_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        slots = tracker.current_slot_values()
        profile = await known_profile(tracker)
        # rasa-sdk validates only slots listed here: keep the one just answered until it is normalised.
        answered = profile_from_slots(slots)
        pending = [n for n in PROFILE_SLOTS if slots.get(n) is not None and n not in answered]
        if len(answered) >= settings.max_form_questions:  # questions asked, not facts already known
            return pending
        try:
            result = await api.check(profile, tracker.get_slot("services"), known_region(tracker))
        except api.ApiError:
            return pending
        ordered: list[str] = [q["field"] for q in result.get("ask_next", [])]
        for item in result.get("needs_info", []):
            ordered += [f for f in item.get("missing_fields", []) if f not in ordered]
        missing = [f for f in ordered if f in PROFILE_SLOTS and f in domain_slots and f not in pending]
        return pending + missing[:1]


for _slot in PROFILE_SLOTS:
    setattr(ValidateEligibilityForm, f"validate_{_slot}", _make_validator(_slot))


class ActionCheckEligibility(Action):
    def name(self) -> str:
        return "action_check_eligibility"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        profile = await known_profile(tracker)
        try:
            result = await api.check(profile, tracker.get_slot("services"), known_region(tracker))
        except api.ApiError as exc:
            dispatcher.utter_message(json_message=api_failure(exc.status))
            return []
        dispatcher.utter_message(json_message=entitlement_summary(result))
        return []


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        profile = profile_from_slots(tracker.current_slot_values())
        try:
            ticket = await api.open_ticket(
                session_of(tracker), tracker.latest_message.get("text") or "", profile
            )
        except api.ApiError:
            dispatcher.utter_message(
                json_message=message(
                    "refuse", "抱歉，暂时无法转接人工，请稍后再试或拨打当地政务服务热线 12345。"
                )
            )
            return []
        text = f"已为您转接人工客服（工单 {ticket['id']}），客服看到后会在这里回复您，请稍候。"
        dispatcher.utter_message(json_message=message("handoff", text))
        return [ActiveLoop(None), SlotSet("requested_slot", None)]


class ActionFeedback(Action):
    def name(self) -> str:
        return "action_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        negative = any(w in text for w in ("没用", "不对", "错", "不行", "差", "👎", "不满意", "看不懂"))
        with contextlib.suppress(api.ApiError):  # feedback is best-effort; the resident still gets thanked
            await api.feedback(session_of(tracker), "down" if negative else "up", text)
        reply = "收到，抱歉没帮上忙。您可以换个问法，或转人工客服。" if negative else "谢谢您的反馈！"
        dispatcher.utter_message(
            json_message=message("smalltalk", reply, buttons=[HANDOFF_BUTTON] if negative else [])
        )
        return []


class ActionRefuse(Action):
    """NLU thinks it is out of scope; the answer service, which has the guardrails, has the last word."""

    def name(self) -> str:
        return "action_refuse"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            reply = await answer_latest(tracker)
        except api.ApiError:
            reply = {"kind": "refuse"}
        if reply.get("kind") == "answer":
            utter_reply(dispatcher, reply)
            return answer_events(reply)
        text = reply.get("text") if reply.get("kind") == "refuse" else None
        text = (
            text
            or "抱歉，这个问题不在广西、宁夏“十四五”公共服务规划的范围内，我无法回答，也不会编造。需要的话可以转人工客服。"
        )
        dispatcher.utter_message(json_message=message("refuse", text, buttons=[HANDOFF_BUTTON]))
        return []
