"""One WeChat callback, from verified message to delivered answer.

The 5-second rule: WeChat waits 5 s for the reply to a callback, then retries the same message (same MsgId) up
to three times. Each message is claimed once in Redis (SET NX with an expiry; events by FromUserName +
CreateTime), by whichever replica sees it first; a retry finds the claim and is answered ``success`` (nothing),
also while the first is still being computed. The claimed turn runs on this channel's worker threads through
the chat gateway (api/chat_gateway.py). If the answer is ready within ``wechat_reply_budget_seconds`` it is the
passive reply (XML, encrypted when the message was); otherwise the callback answers ``success`` at once and the
worker sends the answer as 客服消息 when it is ready. Exactly one of the two delivers it: the handover is
decided under a lock.

Operator replies to a WeChat resident's hand-off ticket go out as 客服消息 too (``deliver_to_session``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from wechatpy.events import ClickEvent, SubscribeEvent, SubscribeScanEvent, UnsubscribeEvent
from wechatpy.messages import BaseMessage, TextMessage, VoiceMessage

from api.chat_gateway import RasaUnavailable, converse
from api.chat_messages import ChatButton, ChatCitation
from api.conversations import ConversationStore
from api.rasa_client import RasaClient
from api.rate_limits import RateLimiter
from api.wechat import formatting
from api.wechat.accounts import configured_accounts, is_wechat_session, session_id
from api.wechat.client import WeChatApi
from api.wechat.menu import click_action
from knowledge.settings import Settings, WeChatAccount

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 600  # WeChat's retries of one message come within ~15 s
OPTIONS_SECONDS = 3600  # how long "回复 1 …" keeps meaning the options last offered
MAX_MESSAGE = 500  # what the widget may send in one message (api/routes/chat.py)
WORKERS = 8
OPERATOR_PREFIX = "【人工客服】"


@dataclass
class Outcome:
    """What the callback answers: the passive reply's text (None → "success") and parts to send after it."""

    passive: str | None = None
    later: list[str] = field(default_factory=list)


@dataclass
class _Turn:
    loop: asyncio.AbstractEventLoop
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: bool = True  # the callback still waits for the answer (passive reply)
    parts: list[str] | None = None


class WeChatChannel:
    def __init__(
        self,
        settings: Settings,
        conversations: ConversationStore,
        rasa: RasaClient,
        rate_limiter: RateLimiter | None = None,
    ):
        self.settings = settings
        self.accounts = configured_accounts(settings)
        self.conversations = conversations
        self.rasa = rasa
        self.rate_limiter = rate_limiter
        self.redis = conversations.redis
        self.p = f"{settings.redis_prefix}:wx"
        self._apis: dict[str, WeChatApi] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="wechat")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def api(self, account: WeChatAccount) -> WeChatApi:
        with self._lock:
            if account.name not in self._apis:
                self._apis[account.name] = WeChatApi(self.settings, account, self.redis)
            return self._apis[account.name]

    # --- one callback ----------------------------------------------------------------------------------
    async def respond(self, account: WeChatAccount, message: BaseMessage, base_url: str) -> Outcome:
        started = time.monotonic()
        openid = message.source
        sid = session_id(account, openid)
        if not await run_in_threadpool(self._claim, account, message, sid):
            return Outcome()  # a retry of a message being (or already) answered
        # WeChat's own MsgType (wechatpy names types it has no class for "unknown")
        kind = str(message._data.get("MsgType") or "").lower()
        if isinstance(message, UnsubscribeEvent):
            await run_in_threadpool(self._forget, sid)
            return Outcome()
        await run_in_threadpool(self._remember, account, openid, sid)
        if isinstance(message, SubscribeEvent | SubscribeScanEvent):
            return Outcome(formatting.WELCOME)
        if isinstance(message, ClickEvent):
            text = click_action(message.key)
            if text is None:
                return Outcome(formatting.WELCOME)
        elif isinstance(message, TextMessage):
            text = message.content or ""
        elif isinstance(message, VoiceMessage):
            text = message.recognition or ""  # WeChat's speech recognition, when the account enabled it
            if not text.strip():
                return Outcome(formatting.VOICE_UNRECOGNISED)
        elif kind != "event":  # image, location, link, video, file, mini-program card …: not for the dialogue
            return Outcome(formatting.ONLY_TEXT)
        else:
            return Outcome()  # other events (VIEW, LOCATION reports, template results …): nothing to say
        text = text.strip()[:MAX_MESSAGE]
        if not text:
            return Outcome()
        return await self._converse(account, openid, sid, text, base_url, started)

    async def _converse(
        self, account: WeChatAccount, openid: str, sid: str, text: str, base_url: str, started: float
    ) -> Outcome:
        turn = _Turn(loop=asyncio.get_running_loop())
        self._executor.submit(self._work, turn, account, openid, sid, text, base_url)
        remaining = self.settings.wechat_reply_budget_seconds - (time.monotonic() - started)
        try:
            await asyncio.wait_for(turn.ready.wait(), timeout=max(0.0, remaining))
        except TimeoutError:
            pass
        except asyncio.CancelledError:  # the callback was abandoned: the answer must still go out
            with turn.lock:
                turn.waiting, parts = False, turn.parts
            if parts:
                self._executor.submit(self.deliver, account, openid, parts)
            raise
        with turn.lock:
            if turn.parts is None:
                turn.waiting = False  # the worker delivers it as 客服消息
                logger.info("WeChat %s: answer not ready within the budget; sending it as 客服消息", sid)
                return Outcome()
            parts = turn.parts
        return Outcome(parts[0], parts[1:]) if parts else Outcome()

    def _work(
        self, turn: _Turn, account: WeChatAccount, openid: str, sid: str, text: str, base_url: str
    ) -> None:
        try:
            parts = self._answer(sid, text, base_url)
        except Exception:  # noqa: BLE001 - the resident gets an apology, the log the traceback
            logger.exception("WeChat turn failed for %s", sid)
            parts = [formatting.UNAVAILABLE]
        with turn.lock:
            turn.parts = parts
            waiting = turn.waiting
        if waiting:
            with contextlib.suppress(RuntimeError):  # the callback's loop is gone (shutdown): nobody takes it
                turn.loop.call_soon_threadsafe(turn.ready.set)
        else:
            self.deliver(account, openid, parts)

    def _answer(self, sid: str, text: str, base_url: str) -> list[str]:
        """The conversation engine's reply to one message, as WeChat texts (none during a hand-off)."""
        if self.rate_limiter and self.rate_limiter.check("chat", sid, sid) is not None:
            return [formatting.TOO_MANY]
        chosen = formatting.chosen_option(text, self._options(sid))
        if chosen is not None:
            text = chosen.payload  # "1" → the button's payload, as a tap in the widget sends
        try:
            messages = converse(
                sid,
                text,
                self.conversations,
                self.rasa,
                self.settings.tracker_rotate_turns,
                {"channel": "wechat"},
            )
        except RasaUnavailable:
            logger.warning("WeChat %s: dialogue server unavailable", sid)
            return [formatting.UNAVAILABLE]
        if not messages:
            return []  # an operator has the conversation: their replies come as 客服消息
        parts, buttons = formatting.render(messages, lambda c: self.cite_link(c, base_url))
        self._keep_options(sid, buttons)
        return parts

    def cite_link(self, citation: ChatCitation, base_url: str) -> str:
        base = (self.settings.wechat_public_base_url or base_url).rstrip("/")
        return f"{base}/wechat/cite/{quote(citation.source)}?start={citation.start}&end={citation.end}"

    # --- delivery as 客服消息 ---------------------------------------------------------------------------
    def deliver(self, account: WeChatAccount, openid: str, parts: list[str]) -> bool:
        """Send each part as a 客服消息, in order; stop at the first WeChat refuses (logged there)."""
        api = self.api(account)
        return all(api.send_text(openid, part) for part in parts)

    def deliver_to_session(self, sid: str, text: str, operator: bool = True) -> bool:
        """An operator's reply (or the bot resuming) to a WeChat resident; False when not a WeChat session."""
        if not is_wechat_session(sid):
            return False
        raw = self.redis.get(f"{self.p}:user:{sid}")
        if not raw:
            logger.warning("WeChat %s: no resident to deliver to (session expired)", sid)
            return False
        who = json.loads(raw)
        account = self.accounts.get(who.get("account", ""))
        if account is None:
            return False
        parts = formatting.split((OPERATOR_PREFIX if operator else "") + text)
        return self.deliver(account, who["openid"], parts)

    # --- Redis state -------------------------------------------------------------------------------------
    def _claim(self, account: WeChatAccount, message: BaseMessage, sid: str) -> bool:
        """True for the first delivery of this message, False for WeChat's retries of it."""
        if message.id:
            key = f"{self.p}:seen:{account.name}:{message.id}"
        else:  # events carry no MsgId: the resident and the second they happened identify them (+ which)
            event = f"{getattr(message, 'event', message.type)}:{getattr(message, 'key', '') or ''}"
            digest = hashlib.sha256(event.encode()).hexdigest()[:16]
            key = f"{self.p}:seen:{account.name}:{sid}:{int(message.create_time.timestamp())}:{digest}"
        return bool(self.redis.set(key, "1", nx=True, ex=CLAIM_SECONDS))

    def _remember(self, account: WeChatAccount, openid: str, sid: str) -> None:
        """Where 客服消息 for this session go: kept as long as the conversation, dropped on unfollow."""
        value = json.dumps({"account": account.name, "openid": openid})
        self.redis.set(f"{self.p}:user:{sid}", value, ex=self.settings.session_ttl_seconds)

    def _forget(self, sid: str) -> None:
        self.redis.delete(f"{self.p}:user:{sid}", f"{self.p}:options:{sid}")

    def _options(self, sid: str) -> list[ChatButton]:
        raw = self.redis.get(f"{self.p}:options:{sid}")
        return [ChatButton.model_validate(b) for b in json.loads(raw)] if raw else []

    def _keep_options(self, sid: str, buttons: list[ChatButton]) -> None:
        key = f"{self.p}:options:{sid}"
        if buttons:
            self.redis.set(key, json.dumps([b.model_dump() for b in buttons]), ex=OPTIONS_SECONDS)
        else:
            self.redis.delete(key)  # a later "1" is an answer (an age, a count), not an option
