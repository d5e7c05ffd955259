"""The resident chat widget in real headless Chromium against the real stack (API + Rasa + actions + Redis).

Chromium comes from Debian (`apt-get install chromium`), driven by Playwright for Python (no browser download).
axe-core comes from web/node_modules (`npm install` in web/). Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect  # noqa: E402

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 — re-exported for the other browser tests

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = REPO / "docs" / "screenshots"
PHONE = {"width": 375, "height": 812}
ANSWER_TIMEOUT = 90_000  # the first answers pay Rasa's and the embedder's warm-up
QUESTION = "准备要孩子了，孕前检查免费吗"


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def base_url(stack, stack_settings) -> str:
    return f"http://127.0.0.1:{stack_settings.api_port}"


@pytest.fixture
def page(browser, base_url) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


# ------------------------------------------------------------------------------------------ helpers
def collapse(text: str) -> str:
    return re.sub(r"\s+", "", text)


def ask(page: Page, text: str) -> list[dict]:
    """Type a question, press Enter, and return the messages the API answered with."""
    box = page.get_by_label("输入您的问题")
    box.fill(text)
    with page.expect_response(
        lambda r: r.url.endswith("/v1/chat") and r.request.method == "POST", timeout=ANSWER_TIMEOUT
    ) as response:
        box.press("Enter")
    assert response.value.ok, response.value.text()
    return response.value.json()["messages"]


def open_widget(page: Page) -> None:
    page.goto("/")
    expect(page.locator(".ms-root")).to_be_visible()
    expect(page.locator(".ms-msg-bot").first).to_be_visible()  # the welcome message


def run_axe(page: Page, label: str) -> list[dict]:
    assert AXE.exists(), "run `npm install` in web/ to get axe-core"
    # From a same-origin URL, not inline: our pages' CSP (script-src 'self') refuses injected inline scripts.
    page.route("**/__axe.min.js", lambda route: route.fulfill(path=AXE, content_type="text/javascript"))
    page.add_script_tag(url="/__axe.min.js")
    page.unroute("**/__axe.min.js")
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary)})); }"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    for v in result:
        print(f"[axe {label}] {v['impact']}: {v['id']} — {v['help']}")
        for node in v["nodes"][:5]:
            print("    ", node)
    return bad


def screenshot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path))
    return path


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


# ------------------------------------------------------------------------------------------ tests
def test_question_gets_a_cited_answer_and_the_citation_opens_the_quote(page):
    open_widget(page)
    messages = ask(page, QUESTION)
    answer = next(m for m in messages if m["kind"] == "answer")
    citation = answer["citations"][0]

    bubble = page.locator(".ms-msg-bot").last
    chip = page.locator(".ms-chip").first
    expect(chip).to_be_visible()
    expect(chip).to_contain_text("依据：")
    expect(page.locator(".ms-msg-user .ms-text").last).to_have_text(QUESTION)
    expect(page.locator(".ms-typing")).to_be_hidden()
    assert bubble.locator(".ms-feedback").count() == 1
    # the live region announced the answer for screen readers
    expect(page.locator(".ms-root [aria-live='polite']")).to_contain_text("智能助手：")
    # the new answer is scrolled into view (its start, when it is taller than the conversation area)
    assert page.evaluate(
        "() => { const l = document.querySelector('.ms-log').getBoundingClientRect();"
        " const m = [...document.querySelectorAll('.ms-msg-bot')].pop().getBoundingClientRect();"
        " return m.top >= l.top - 1 && m.top < l.bottom - 40; }"
    )
    assert no_horizontal_scroll(page)
    page.locator(".ms-log").evaluate("log => { log.scrollTop = log.scrollHeight; }")  # chips in the picture
    screenshot(page, "widget-phone.png")

    # 👍 is recorded
    with page.expect_response(lambda r: r.url.endswith("/v1/feedback")) as fb:
        bubble.get_by_role("button", name="有帮助").click()
    assert fb.value.ok and fb.value.json()["message_id"] == answer["id"]
    expect(bubble.locator(".ms-fb-status")).to_contain_text("已记录")
    expect(bubble.get_by_role("button", name="有帮助")).to_have_attribute("aria-pressed", "true")

    # the citation panel: title, section path, plan period, the verbatim quote highlighted in its paragraph
    chip.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    mark = dialog.locator("mark")
    expect(dialog.locator(".ms-loading")).to_have_count(0)
    assert collapse(mark.inner_text()) == collapse(citation["quote"])
    expect(dialog).to_contain_text(citation["title"])
    expect(dialog.locator(".ms-period")).to_have_text("2021—2025 规划")
    first_heading = citation["section"].split("›")[0].strip()
    expect(dialog.locator(".ms-section")).to_contain_text(first_heading)
    context = dialog.locator(".ms-context").inner_text()
    assert len(collapse(context)) >= len(collapse(citation["quote"]))
    screenshot(page, "widget-citation.png")

    # focus stays inside the dialog; Esc closes it and focus goes back to the chip
    for _ in range(4):
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('dialog')")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate("() => document.activeElement.classList.contains('ms-chip')")


def test_elder_mode_enlarges_text_and_is_remembered(page):
    open_widget(page)
    ask(page, QUESTION)
    expect(page.locator(".ms-chip").first).to_be_visible()
    toggle = page.get_by_role("button", name="长辈模式")
    bubble = page.locator(".ms-bubble-bot").last
    normal = float(bubble.evaluate("b => parseFloat(getComputedStyle(b).fontSize)"))
    expect(toggle).to_have_attribute("aria-pressed", "false")

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    elder = float(bubble.evaluate("b => parseFloat(getComputedStyle(b).fontSize)"))
    assert elder > normal and elder >= 20, (normal, elder)
    assert no_horizontal_scroll(page)
    screenshot(page, "widget-elder.png")

    page.reload()
    toggle = page.get_by_role("button", name="长辈模式")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".ms-chip").first).to_be_visible()  # history back too
    restored = float(
        page.locator(".ms-bubble-bot").last.evaluate("b => parseFloat(getComputedStyle(b).fontSize)")
    )
    assert restored == elder

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(page.get_by_role("button", name="长辈模式")).to_have_attribute("aria-pressed", "false")


def test_a_service_answer_leads_with_plain_words_and_elder_mode_reads_the_lead_first(page):
    open_widget(page)
    page.get_by_role("button", name="长辈模式").click()
    # the browser's speech, recorded instead of spoken (headless Chromium has no voices)
    page.evaluate(
        "() => { window.__spoken = []; speechSynthesis.cancel = () => {};"
        " speechSynthesis.speak = u => window.__spoken.push(u.text); }"
    )
    messages = ask(page, "南宁的，准备要孩子了，孕前检查免费吗")
    answer = next(m for m in messages if m["kind"] == "answer")
    assert answer["produced_by"] in ("template_lead", "llm_lead"), answer
    lead_line = answer["text"].split("\n", 1)[0]
    bubble = page.locator(".ms-bubble-bot").last
    expect(bubble.locator(".ms-lead")).to_have_text(lead_line)
    expect(bubble.locator(".ms-evidence")).to_contain_text("1 次")
    lead_size, quote_size = (
        float(bubble.locator(sel).evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
        for sel in (".ms-lead", ".ms-evidence")
    )
    assert lead_size > quote_size >= 20, (lead_size, quote_size)  # elder mode: the quotes stay large too
    expect(page.locator(".ms-root [aria-live='polite']")).to_contain_text("智能助手：" + lead_line)
    bubble.get_by_role("button", name="朗读这条回答").click()
    spoken = page.evaluate("() => window.__spoken")
    assert spoken[0] == lead_line and len(spoken) == 2, spoken
    assert no_horizontal_scroll(page)
    page.locator(".ms-msg-bot").last.evaluate("m => m.scrollIntoView({block: 'start'})")  # the lead in view
    screenshot(page, "widget-lead.png")


def test_network_failure_keeps_the_message_and_retry_delivers_it_once(page, api):
    open_widget(page)
    page.route("**/v1/chat", lambda route: route.abort())
    page.get_by_label("输入您的问题").fill(QUESTION)
    page.get_by_role("button", name="发送", exact=True).click()
    retry = page.get_by_role("button", name="发送失败，点此重试")
    expect(retry).to_be_visible()
    expect(page.locator(".ms-msg-user .ms-text")).to_have_text([QUESTION])
    expect(page.get_by_label("输入您的问题")).to_have_value("")

    page.unroute("**/v1/chat")
    with page.expect_response(lambda r: r.url.endswith("/v1/chat"), timeout=ANSWER_TIMEOUT) as response:
        retry.click()
    assert response.value.ok
    expect(page.locator(".ms-chip").first).to_be_visible()
    expect(retry).to_be_hidden()
    expect(page.locator(".ms-msg-user .ms-text")).to_have_text([QUESTION])  # once, not twice

    sid = page.evaluate("() => localStorage.getItem('minsheng.session')")
    users = [e["text"] for e in api.get(f"/v1/chat/{sid}/history").json()["entries"] if e["role"] == "user"]
    assert users == [QUESTION]


def test_server_error_and_validation_error_are_shown(page):
    open_widget(page)
    page.route(
        "**/v1/chat",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"detail": "对话服务暂时不可用，您的消息已保存，请稍后重试。"}),
        ),
    )
    page.get_by_label("输入您的问题").fill("低保怎么申请")
    page.get_by_label("输入您的问题").press("Enter")
    expect(page.get_by_role("button", name="发送失败，点此重试")).to_be_visible()
    expect(page.locator(".ms-error-detail").last).to_contain_text("暂时不可用")
    page.unroute("**/v1/chat")

    def invalid(route: Route) -> None:
        route.fulfill(
            status=422, content_type="application/json", body=json.dumps({"detail": "消息不能为空"})
        )

    page.route("**/v1/chat", invalid)
    page.get_by_label("输入您的问题").fill("你好")
    page.get_by_label("输入您的问题").press("Enter")
    expect(page.locator(".ms-error-detail").last).to_have_text("消息不能为空")
    page.get_by_role("button", name="修改后重发").click()
    expect(page.get_by_label("输入您的问题")).to_have_value("你好")  # nothing is lost


def test_history_is_restored_on_reload(page):
    open_widget(page)
    messages = ask(page, QUESTION)
    expect(page.locator(".ms-chip").first).to_be_visible()
    sid = page.evaluate("() => localStorage.getItem('minsheng.session')")
    bot_texts = [m["text"] for m in messages]
    before = page.locator(".ms-msg").count()

    page.reload()
    expect(page.locator(".ms-chip").first).to_be_visible()
    assert page.evaluate("() => localStorage.getItem('minsheng.session')") == sid
    expect(page.locator(".ms-msg-user .ms-text")).to_have_text([QUESTION])
    assert page.locator(".ms-msg").count() == before
    shown = page.locator(".ms-bubble-bot .ms-text").all_inner_texts()
    for text in bot_texts:
        assert collapse(text) in [collapse(s) for s in shown]
    expect(page.locator(".ms-msg-user time").first).to_be_visible()  # time stamps


def test_quick_reply_sends_the_payload_and_shows_the_title(page):
    open_widget(page)
    with page.expect_request(lambda r: r.url.endswith("/v1/chat") and r.method == "POST") as request:
        page.get_by_role("button", name="我能享受哪些服务").click()
    assert request.value.post_data_json["message"] == "/check_eligibility"
    expect(page.locator(".ms-msg-user .ms-text")).to_have_text(["我能享受哪些服务"])
    expect(page.locator(".ms-msg-bot")).to_have_count(2, timeout=ANSWER_TIMEOUT)  # the form's first question
    page.reload()
    expect(page.locator(".ms-msg-user .ms-text")).to_have_text(["我能享受哪些服务"])


def test_region_picker_sends_the_region_and_is_remembered(page):
    open_widget(page)
    guangxi = page.locator(".ms-seg").get_by_role("button", name="广西")
    with page.expect_response(lambda r: r.url.endswith("/v1/chat"), timeout=ANSWER_TIMEOUT) as response:
        guangxi.click()
    assert response.value.request.post_data_json["message"] == "广西"
    expect(guangxi).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".ms-seg").get_by_role("button", name="宁夏")).to_have_attribute(
        "aria-pressed", "false"
    )
    page.reload()
    expect(page.locator(".ms-seg").get_by_role("button", name="广西")).to_have_attribute(
        "aria-pressed", "true"
    )


def test_embedded_with_one_script_tag(browser, base_url):
    """A host page with only the script tag: launcher, region preselected, full-screen panel on a phone."""
    host = (
        "<!doctype html><html lang='en'><head><title>Host page</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
        "<body><main><h1>Some county website</h1><p>Content.</p></main>"
        f"<script src='{base_url}/static/widget/widget.js' data-region='guangxi' defer></script></body></html>"
    )
    context = browser.new_context(viewport={"width": 320, "height": 640}, locale="zh-CN")
    page = context.new_page()
    page.route(
        f"{base_url}/embed-demo", lambda route: route.fulfill(status=200, content_type="text/html", body=host)
    )
    page.goto(f"{base_url}/embed-demo")
    launcher = page.get_by_role("button", name="打开民生服务助手")
    expect(launcher).to_be_visible()
    expect(page.locator(".ms-panel")).to_be_hidden()
    launcher.click()
    panel = page.locator(".ms-panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box["width"] == 320 and box["height"] == 640  # full screen on a phone
    expect(page.locator(".ms-seg").get_by_role("button", name="广西")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.get_by_label("输入您的问题")).to_be_focused()
    assert no_horizontal_scroll(page)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.get_by_role("button", name="打开民生服务助手")).to_be_focused()
    context.close()


def test_phone_layout_at_320px_and_keyboard_focus(browser, base_url):
    context = browser.new_context(viewport={"width": 320, "height": 568}, locale="zh-CN", base_url=base_url)
    page = context.new_page()
    open_widget(page)
    assert no_horizontal_scroll(page)
    page.get_by_role("button", name="长辈模式").click()
    assert no_horizontal_scroll(page)
    page.reload()  # start tabbing from the top of the page (长辈模式 stays on)
    expect(page.locator(".ms-msg-bot").first).to_be_visible()
    # every control is reachable with Tab, in order, and shows a visible focus ring
    reached = []
    for _ in range(30):
        page.keyboard.press("Tab")
        info = page.evaluate(
            "() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return {name: e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].textContent)"
            " || e.textContent.trim(), outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2}; }"
        )
        reached.append(info["name"])
        assert info["outline"], info
        if info["name"] == "发送":
            break
    for name in ("广西", "宁夏", "转人工客服", "长辈模式", "消息", "输入您的问题", "发送"):
        assert name in reached, reached
    context.close()


def test_widget_has_no_serious_accessibility_violations(page):
    open_widget(page)
    ask(page, QUESTION)
    expect(page.locator(".ms-chip").first).to_be_visible()
    bad = run_axe(page, "widget")
    assert not bad, bad
    page.get_by_role("button", name="长辈模式").click()
    bad = run_axe(page, "widget elder")
    assert not bad, bad
    page.locator(".ms-chip").first.click()
    expect(page.get_by_role("dialog").locator("mark")).to_be_visible()
    bad = run_axe(page, "citation panel")
    assert not bad, bad
