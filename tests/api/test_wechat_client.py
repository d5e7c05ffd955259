"""WeChat's API through wechatpy against the fake WeChat server: the access token shared by replicas in Redis,
refreshed before it expires, 40001 → one refresh and one retry, 45015 given up, secrets never logged; the menu
file and its push; the pure formatting rules."""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from typer.testing import CliRunner

from api.chat_messages import ChatButton, ChatCitation, ChatMessage
from api.wechat import formatting
from api.wechat.accounts import DEMO_TOKEN, configured_accounts, session_id
from api.wechat.client import WeChatApi, redact
from api.wechat.fake_server import FakeWeChat
from api.wechat.menu import CLICKS, MENU_FILE, load_menu
from knowledge.settings import Settings, WeChatAccount

APP_ID, APP_SECRET = "wx11aa22bb33cc44dd", "fedcba9876543210fedcba9876543210"
ACCOUNT = WeChatAccount(name="gx", token="gxToken2025", app_id=APP_ID, app_secret=APP_SECRET)


@pytest.fixture
def fake():
    server = FakeWeChat(APP_ID, APP_SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def settings_for(fake):
    prefix = f"wxapi-{uuid.uuid4().hex[:8]}"
    made = Settings(
        redis_url="redis://127.0.0.1:6379/7",
        redis_prefix=prefix,
        wechat_api_base_url=fake.base_url,
        wechat_accounts=[ACCOUNT],
    )
    yield made
    r = redis.Redis.from_url(made.redis_url)
    for key in r.scan_iter(f"{prefix}:*"):
        r.delete(key)


def replica(settings: Settings, account: WeChatAccount = ACCOUNT) -> WeChatApi:
    """One API replica's client: its own Redis connection and its own wechatpy client."""
    return WeChatApi(settings, account, redis.Redis.from_url(settings.redis_url, decode_responses=True))


def test_the_token_is_fetched_once_cached_in_redis_and_kept_less_long_than_it_lives(fake, settings_for):
    api = replica(settings_for)
    assert api.send_text("o-1", "你好") and api.send_text("o-1", "再问一个")
    assert replica(settings_for).send_text("o-2", "另一个副本")  # another replica uses the cached token
    assert fake.token_requests == 1
    assert [m["content"] for m in fake.sent] == ["你好", "再问一个", "另一个副本"]
    ttl = api.tokens.redis.ttl(api.tokens.key)
    assert 7200 - 300 - 5 <= ttl <= 7200 - 300  # refreshed 5 minutes before WeChat would expire it


def test_a_token_about_to_expire_is_refreshed_before_it_does(fake, settings_for):
    fake.expires_in = 3  # cached for 2 s
    api = replica(settings_for)
    assert api.send_text("o-1", "一")
    time.sleep(2.2)
    assert api.send_text("o-1", "二")  # a new token, fetched while WeChat still took the old one
    assert fake.token_requests == 2 and not fake.refused


def test_one_replica_fetches_while_the_others_wait_for_its_token(fake, settings_for):
    fake.token_delay = 0.4
    replicas = [replica(settings_for) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        tokens = list(pool.map(lambda api: api.tokens.get(), replicas))
    assert fake.token_requests == 1 and len(set(tokens)) == 1


def test_invalid_token_40001_fetches_a_new_one_and_retries_once(fake, settings_for, caplog):
    api = replica(settings_for)
    assert api.send_text("o-1", "一")
    fake.revoke_tokens()  # e.g. someone fetched a token with the same AppSecret elsewhere
    with caplog.at_level(logging.INFO):
        assert api.send_text("o-1", "二")
    assert fake.token_requests == 2 and [m["content"] for m in fake.sent] == ["一", "二"]
    assert "40001" in caplog.text


def test_a_token_that_keeps_being_rejected_is_retried_once_then_given_up(fake, settings_for, caplog):
    fake.reject_tokens = True
    with caplog.at_level(logging.WARNING):
        assert replica(settings_for).send_text("o-1", "一") is False
    assert fake.token_requests == 2 and not fake.sent  # the first token, one refresh, no loop
    assert "not delivered" in caplog.text


def test_45015_outside_the_48_hour_window_is_logged_and_not_retried(fake, settings_for, caplog):
    fake.closed_window.add("o-gone")
    with caplog.at_level(logging.WARNING):
        assert replica(settings_for).send_text("o-gone", "一") is False
    assert fake.refused == [{"touser": "o-gone", "errcode": 45015}] and fake.token_requests == 1
    assert "45015" in caplog.text and "48 hours" in caplog.text


def test_wrong_secret_unreachable_api_and_secrets_never_logged(fake, settings_for, caplog):
    wrong = WeChatAccount(**{**ACCOUNT.model_dump(), "app_secret": "0" * 32})
    down = Settings(**{**settings_for.model_dump(), "wechat_api_base_url": "http://127.0.0.1:9/cgi-bin/"})
    with caplog.at_level(logging.DEBUG):
        assert replica(settings_for, wrong).send_text("o-1", "一") is False
        assert replica(down).send_text("o-1", "一") is False
        assert replica(settings_for).send_text("o-1", "二")  # urllib3 debug-logs the URLs of these calls
    assert "40125" in caplog.text
    leaked = [s for s in (APP_SECRET, "0" * 32, *fake.tokens) if s in caplog.text]
    assert not leaked
    assert "secret=***" in caplog.text and "access_token=***" in caplog.text  # logged, redacted
    assert redact("GET /cgi-bin/token?grant_type=x&appid=wx1&secret=abc&x=1") == (
        "GET /cgi-bin/token?grant_type=x&appid=wx1&secret=***&x=1"
    )


def test_an_account_without_appsecret_sends_nothing(fake, settings_for):
    bare = WeChatAccount(name="bare", token="bareToken")
    assert replica(settings_for, bare).send_text("o-1", "一") is False
    assert fake.token_requests == 0


# --- accounts ------------------------------------------------------------------------------------------------
def test_accounts_demo_and_session_ids():
    demo = configured_accounts(Settings(demo=True))
    assert demo["demo"].token == DEMO_TOKEN and demo["demo"].mode == "plaintext"
    assert "demo" not in configured_accounts(Settings(demo=False))
    with pytest.raises(RuntimeError, match="published demo token"):
        configured_accounts(Settings(demo=False, wechat_accounts=[{"name": "x", "token": DEMO_TOKEN}]))
    with pytest.raises(ValueError):
        WeChatAccount(name="x", token="abc", mode="safe")  # safe mode needs the AES key and AppID
    sid = session_id(ACCOUNT, "oABCDEFGHIJKLMNOPQRSTUVWXYZ01")
    assert sid.startswith("wx-gx-") and len(sid) <= 64 and "ABCDEFGH" not in sid
    assert sid == session_id(ACCOUNT, "oABCDEFGHIJKLMNOPQRSTUVWXYZ01") != session_id(ACCOUNT, "o2")
    assert (
        "app_secret" not in repr(ACCOUNT)
        and APP_SECRET not in repr(ACCOUNT)
        and "gxToken" not in repr(ACCOUNT)
    )


# --- the menu ------------------------------------------------------------------------------------------------
def test_the_shipped_menu_is_valid_and_every_click_key_is_handled():
    menu = load_menu(MENU_FILE)
    keys = [
        item["key"]
        for button in menu["button"]
        for item in button.get("sub_button") or [button]
        if item["type"] == "click"
    ]
    assert keys and set(keys) <= set(CLICKS)


def test_menu_push_command(fake, settings_for, monkeypatch):
    from api.cli import app
    from knowledge.settings import get_settings

    for name in ("redis_url", "redis_prefix", "wechat_api_base_url"):
        monkeypatch.setenv(f"MINSHENG_{name.upper()}", str(getattr(settings_for, name)))
    monkeypatch.setenv("MINSHENG_WECHAT_ACCOUNTS", f"[{ACCOUNT.model_dump_json()}]")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["wechat", "menu-push", "--account", "gx"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert fake.menus == [load_menu(MENU_FILE)]


# --- formatting (pure) ---------------------------------------------------------------------------------------
def test_split_keeps_every_part_within_the_byte_limit_and_cuts_after_a_few():
    text = "\n".join(f"第{i}行" + "字" * 100 for i in range(30))  # ~9.5 KB
    parts = formatting.split(text, max_parts=10)
    assert all(len(p.encode()) <= formatting.TEXT_LIMIT_BYTES for p in parts)
    assert "\n".join(parts) == text  # split at line breaks, nothing lost
    cut = formatting.split(text)
    assert len(cut) == formatting.MAX_PARTS and cut[-1].endswith(formatting.CUT)
    assert all(len(p.encode()) <= formatting.TEXT_LIMIT_BYTES for p in cut)
    one_line = formatting.split("长" * 2000)  # 6000 bytes without a line break: cut between characters
    assert [len(p.encode()) for p in one_line] == [2046, 2046, 1908]
    assert formatting.split("a]]>b\x00c") == ["a]] >bc"]  # fits wechatpy's CDATA


def test_citations_and_buttons_as_plain_text():
    citation = ChatCitation(
        source="000_x.txt", title="《广西规划》", section="第三章 › 第二节", quote="q", start=1, end=5
    )
    message = ChatMessage(
        kind="clarify",
        text="您在哪个地区？",
        citations=[citation, citation],
        buttons=[ChatButton(title="广西", payload="广西"), ChatButton(title="宁夏", payload="宁夏")],
    )
    parts, buttons = formatting.render([message], lambda c: f"https://x.gov.cn/wechat/cite/{c.source}")
    assert parts == [
        "您在哪个地区？\n【依据】《广西规划》 › 第三章 › 第二节 "
        '<a href="https://x.gov.cn/wechat/cite/000_x.txt">查看原文</a>\n\n回复 1 选择广西\n回复 2 选择宁夏'
    ]
    assert formatting.chosen_option("１", buttons).payload == "广西"
    assert formatting.chosen_option(" 2. ", buttons).payload == "宁夏"
    assert (
        formatting.chosen_option("3", buttons) is None and formatting.chosen_option("12岁", buttons) is None
    )
    assert formatting.chosen_option("1", []) is None


def test_a_reply_too_long_for_one_message_keeps_its_citations_in_the_first():
    citation = ChatCitation(
        source="000_x.txt", title="《广西规划》", section="第三章 › 第二节", quote="q", start=1, end=5
    )
    body = "\n".join(["• " + "规划原文" * 60] * 4)  # about 2,900 bytes: two WeChat messages
    message = ChatMessage(
        kind="answer", text="这个问题两地规划各有写法，分别摘录如下。\n" + body, citations=[citation]
    )
    parts, _ = formatting.render([message], lambda c: None)
    assert len(parts) == 2 and all(len(p.encode()) <= formatting.TEXT_LIMIT_BYTES for p in parts)
    assert (
        parts[0].startswith("这个问题两地规划各有写法") and "【依据】《广西规划》" in parts[0].split("\n")[1]
    )
    assert "【依据】" not in parts[1] and "".join(parts).count("规划原文") == 240  # nothing lost
    short = ChatMessage(kind="answer", text="免费。\n• 原文", citations=[citation])
    assert (
        formatting.render([short], lambda c: None)[0][0].split("\n")[-1].startswith("【依据】")
    )  # order kept
