"""The hotline operator console in real headless Chromium, with a resident's widget on the other side.

The whole hand-off loop: resident asks for 转人工 → ticket appears live in the console → operator reads the
transcript and replies → the reply appears live in the widget → operator closes → the bot answers again.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect  # noqa: E402

from tests.e2e.test_browser_widget import (
    ANSWER_TIMEOUT,
    PHONE,
    QUESTION,
    ask,
    open_widget,
    run_axe,
    screenshot,
)

REPO = Path(__file__).resolve().parents[2]
DESKTOP = {"width": 1280, "height": 800}
OPERATOR_REPLY = "您好，我是热线人工客服。低保需要向户籍所在地的乡镇（街道）提出申请，请问您在哪个市？"


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def base_url(stack, stack_settings) -> str:
    return f"http://127.0.0.1:{stack_settings.api_port}"


@pytest.fixture(scope="module")
def operator_account(stack_settings) -> tuple[str, str]:
    """An operator created the way an admin would: `minsheng users add NAME --role operator --password PW`."""
    name, password = f"op-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(12)
    cli = Path(sys.executable).with_name("minsheng")
    env = {
        **os.environ,
        "MINSHENG_REDIS_URL": stack_settings.redis_url,
        "MINSHENG_REDIS_PREFIX": stack_settings.redis_prefix,
    }
    done = subprocess.run(
        [str(cli), "users", "add", name, "--role", "operator", "--password", password],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return name, password


@pytest.fixture
def console(browser, base_url) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def resident(browser, base_url) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def sign_in(page: Page, account: tuple[str, str]) -> None:
    page.goto("/operator")
    page.get_by_label("用户名").fill(account[0])
    page.get_by_label("密码").fill(account[1])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name=re.compile("转人工队列"))).to_be_visible()
    expect(page.locator("#conn")).to_have_text("实时连接正常")  # the live queue is subscribed


# ------------------------------------------------------------------------------------------ tests
def test_operator_endpoints_reject_anonymous_requests(api):
    for method, path in [
        ("GET", "/v1/operator/tickets?status=open"),
        ("GET", "/v1/operator/tickets/nope"),
        ("POST", "/v1/operator/tickets/nope/reply"),
        ("POST", "/v1/operator/tickets/nope/close"),
        ("GET", "/v1/operator/events"),
        ("GET", "/v1/auth/me"),
    ]:
        kwargs = {"json": {"text": "hi"}} if path.endswith("/reply") else {}
        r = api.request(method, path, **kwargs)
        assert r.status_code == 401, (method, path, r.status_code)


def test_cookie_session_needs_the_csrf_token(api, operator_account, base_url):
    with httpx.Client(base_url=base_url, timeout=30) as client:
        r = client.post(
            "/v1/auth/login", json={"username": operator_account[0], "password": operator_account[1]}
        )
        assert r.status_code == 200 and r.json()["csrf_token"] == client.cookies.get("minsheng_csrf")
        assert client.get("/v1/auth/me").json()["username"] == operator_account[0]
        assert client.post("/v1/operator/tickets/nope/close").status_code == 403  # no X-CSRF-Token
        headers = {"X-CSRF-Token": r.json()["csrf_token"]}
        assert client.post("/v1/operator/tickets/nope/close", headers=headers).status_code == 404


def test_wrong_password_and_too_many_attempts_are_explained(console, operator_account, api):
    console.goto("/operator")
    expect(console.get_by_role("heading", name="坐席登录")).to_be_visible()
    expect(console.get_by_label("用户名")).to_be_focused()
    console.get_by_label("用户名").fill(operator_account[0])
    console.get_by_label("密码").fill("definitely-wrong")
    console.get_by_role("button", name="登录").click()
    expect(console.get_by_role("alert")).to_have_text("用户名或密码错误。")

    victim = f"nobody-{uuid.uuid4().hex[:6]}"
    codes = [
        api.post("/v1/auth/login", json={"username": victim, "password": "x" * 8}).status_code
        for _ in range(12)
    ]
    assert codes[-1] == 429, codes
    console.get_by_label("用户名").fill(victim)
    console.get_by_label("密码").fill("whatever-else")
    console.get_by_role("button", name="登录").click()
    expect(console.get_by_role("alert")).to_contain_text("过于频繁")


def test_handoff_round_trip_between_widget_and_console(console, resident, operator_account, api):
    sign_in(console, operator_account)

    # the resident asks something, then asks for a human
    open_widget(resident)
    ask(resident, "南宁的，准备要孩子了，孕前检查免费吗")  # a service answer: lead line + quote
    ask(resident, "低保怎么申请")
    sid = resident.evaluate("() => localStorage.getItem('minsheng.session')")
    with resident.expect_response(lambda r: r.url.endswith("/v1/chat"), timeout=ANSWER_TIMEOUT) as handoff:
        resident.get_by_role("button", name="转人工客服").click()
    assert "handoff" in [m["kind"] for m in handoff.value.json()["messages"]]
    expect(resident.locator(".ms-status")).to_contain_text("人工客服服务中")

    # …and the ticket shows up in the console without a reload
    item = console.locator(f".queue-item[data-session='{sid}']")
    expect(item).to_be_visible(timeout=15_000)
    expect(item.locator(".tag-new")).to_be_visible()
    expect(console.locator("#live")).to_contain_text("新的转人工请求")
    item.click()
    expect(console.get_by_role("heading", name=re.compile("^会话 "))).to_be_focused()
    transcript = console.locator("#transcript")
    expect(transcript).to_contain_text("低保怎么申请")
    # the service answer's lead line stands apart from the quotes, as the resident saw it
    expect(transcript.locator(".t-lead").first).to_contain_text("免费")
    expect(transcript.locator(".t-bot").first).to_be_visible()
    expect(console.locator("#ticket-status")).to_have_text("人工服务中")
    expect(console.get_by_role("heading", name="已收集的资料")).to_be_visible()

    # the resident writes while waiting: the operator sees it live
    resident.get_by_label("输入您的问题").fill("有人吗？我在南宁")
    resident.get_by_label("输入您的问题").press("Enter")
    expect(transcript.locator(".t-user").last).to_contain_text("有人吗？我在南宁")

    # the knowledge tools, and 复制答复 into the reply box
    console.get_by_label("问题或关键词").fill("最低生活保障")
    console.get_by_role("button", name="检索").click()
    first_hit = console.locator("#search-results .result").first
    expect(first_hit).to_be_visible(timeout=30_000)
    expect(first_hit.locator(".result-quote")).not_to_be_empty()
    first_hit.get_by_role("button", name=re.compile("^复制答复")).click()
    expect(console.get_by_label(re.compile("^回复居民"))).to_have_value(re.compile("^根据《"))
    expect(console.get_by_label(re.compile("^回复居民"))).to_be_focused()
    console.get_by_label("户籍所在地", exact=True).select_option("guangxi")
    console.get_by_label("年龄", exact=True).fill("68")
    console.get_by_label("低保/特困/低收入").select_option("dibao")
    console.get_by_role("button", name="核对", exact=True).click()
    expect(console.locator(".ent-summary")).to_contain_text("可以享受")

    # the operator replies: it appears in the widget live
    console.get_by_label(re.compile("^回复居民")).fill(OPERATOR_REPLY)
    console.get_by_role("button", name="发送回复").click()
    expect(transcript.locator(".t-operator").last).to_contain_text(OPERATOR_REPLY)
    operator_bubble = resident.locator(".ms-msg-operator").last
    expect(operator_bubble).to_contain_text(OPERATOR_REPLY, timeout=15_000)
    expect(operator_bubble.locator(".ms-name")).to_have_text("人工客服")
    expect(resident.locator(".ms-root [aria-live='polite']")).to_contain_text("人工客服：")
    console.locator(".tools-pane").evaluate("pane => { pane.scrollTop = 0; }")
    screenshot(console, "operator-console.png")

    # the operator closes: the widget says the bot is back, and the bot answers again
    console.get_by_role("button", name="结束人工服务").click()
    expect(console.locator("#ticket-status")).to_contain_text("已结束")
    expect(console.locator(f".queue-item[data-session='{sid}']")).to_have_count(0)
    expect(resident.locator(".ms-notice").last).to_contain_text(
        "人工服务已结束，智能助手继续为您服务", timeout=15_000
    )
    expect(resident.locator(".ms-status")).not_to_contain_text("人工客服服务中")
    messages = ask(resident, QUESTION)
    assert any(m["kind"] == "answer" and m["citations"] for m in messages), messages
    expect(resident.locator(".ms-msg-bot .ms-chip").last).to_be_visible()

    history = api.get(f"/v1/chat/{sid}/history").json()
    assert not history["handoff_active"]
    assert [e["text"] for e in history["entries"] if e["role"] == "operator"] == [OPERATOR_REPLY]


def test_console_has_no_serious_accessibility_violations(console, resident, operator_account):
    console.goto("/operator")
    expect(console.get_by_role("heading", name="坐席登录")).to_be_visible()
    bad = run_axe(console, "console login")
    assert not bad, bad

    open_widget(resident)
    ask(resident, "低保怎么申请")
    sid = resident.evaluate("() => localStorage.getItem('minsheng.session')")
    with resident.expect_response(lambda r: r.url.endswith("/v1/chat"), timeout=ANSWER_TIMEOUT):
        resident.get_by_role("button", name="转人工客服").click()

    sign_in(console, operator_account)
    item = console.locator(f".queue-item[data-session='{sid}']")
    expect(item).to_be_visible(timeout=15_000)
    item.click()
    expect(console.locator("#transcript")).to_contain_text("低保怎么申请")
    console.get_by_label("问题或关键词").fill("孕前优生健康检查")
    console.get_by_role("button", name="检索").click()
    expect(console.locator("#search-results .result").first).to_be_visible(timeout=30_000)
    bad = run_axe(console, "console signed in")
    assert not bad, bad
    console.get_by_role("button", name="结束人工服务").click()
    expect(console.locator("#ticket-status")).to_contain_text("已结束")

    console.get_by_role("button", name="退出登录").click()
    expect(console.get_by_role("heading", name="坐席登录")).to_be_visible()
    console.reload()
    expect(console.get_by_role("heading", name="坐席登录")).to_be_visible()  # the session really ended
