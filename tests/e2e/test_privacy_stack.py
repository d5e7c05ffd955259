"""Personal data through the whole stack (gateway → Rasa → actions → API): after a resident types an ID number
and a phone number, Redis (chat history, Rasa tracker, insights lists, ticket), every process log, the
history API and the admin insights hold masks only; the operator handling the hand-off reveals one value."""

from __future__ import annotations

import re
import uuid

import httpx
import redis

from api.auth import AuthStore
from knowledge.privacy import id_check_char
from tests.e2e.conftest import Chat

ID_17 = "64010419750830412"  # made up, Yinchuan area code
ID_NUMBER = ID_17 + id_check_char(ID_17)
ID_MASK = "*" * 14 + ID_NUMBER[-4:]
PHONE = "15812345678"
PHONE_MASK = "158****5678"
CLEAR = (ID_NUMBER, ID_17, PHONE)


def _dump(r: redis.Redis, pattern: str) -> dict[str, str]:
    out = {}
    for key in r.scan_iter(pattern):
        kind = r.type(key)
        if kind == "string":
            out[key] = r.get(key) or ""
        elif kind == "list":
            out[key] = "\n".join(r.lrange(key, 0, -1))
        elif kind == "hash":
            out[key] = "\n".join(f"{k}={v}" for k, v in r.hgetall(key).items())
        elif kind == "zset":
            out[key] = "\n".join(r.zrange(key, 0, -1))
        else:
            out[key] = ""
    return out


def _bearer(api, stack_settings, name: str, role: str) -> dict[str, str]:
    password = f"{role}-privacy-pass"
    AuthStore(stack_settings).add_user(name, password, role)
    token = httpx.post(  # not through `api`: its cookie jar would make every later call a staff call
        api.base_url.join("/v1/auth/login"), json={"username": name, "password": password, "want_token": True}
    ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_personal_data_is_masked_across_the_stack(api, stack_settings):
    chat = Chat(api, f"e2e-privacy-{uuid.uuid4().hex[:8]}")
    chat.say(f"我的身份证号是{ID_NUMBER}，手机{PHONE}，低保怎么申请")
    chat.say(f"我身份证{ID_NUMBER}，帮我查下邻居家是不是低保户")  # declined: goes to insights
    chat.say(f"火星移民补贴怎么领？电话 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}")  # not in the plans
    assert any(m["kind"] == "handoff" for m in chat.say("转人工"))
    assert chat.say(f"我的手机是{PHONE}，请回电") == []  # the operator has the conversation now

    # Redis: our keys and Rasa's tracker and lock keys
    r = redis.Redis.from_url(stack_settings.redis_url, decode_responses=True)
    rasa_prefix = re.sub(r"[^A-Za-z0-9]", "", stack_settings.redis_prefix)
    dump = {**_dump(r, f"{stack_settings.redis_prefix}*"), **_dump(r, f"{rasa_prefix}*")}
    kept_apart = f"{stack_settings.redis_prefix}:pii:{chat.session_id}:"
    for key, value in dump.items():
        if not key.startswith(kept_apart):
            for clear in CLEAR:
                assert clear not in value, f"{clear} in clear in Redis key {key}"
    trackers = [v for k, v in dump.items() if k.startswith(rasa_prefix) and chat.session_id in k]
    assert trackers and any(ID_MASK in v and PHONE_MASK in v for v in trackers)  # Rasa saw the masks
    assert ID_MASK in dump[f"{stack_settings.redis_prefix}:chat:{chat.session_id}"]

    # every process's log
    logs = sorted((stack_settings.data_dir / "logs").glob("*.log"))
    assert logs
    for log in logs:
        text = log.read_text(encoding="utf-8", errors="replace")
        for clear in CLEAR:
            assert clear not in text, f"{clear} in clear in {log.name}"

    # the resident's history and the admins' insights
    history = api.get(f"/v1/chat/{chat.session_id}/history").json()
    users = [e for e in history["entries"] if e["role"] == "user"]
    assert ID_MASK in users[0]["text"] and PHONE_MASK in users[0]["text"]
    assert all(clear not in e["text"] for e in history["entries"] for clear in CLEAR)
    admin = _bearer(api, stack_settings, f"priv-admin-{uuid.uuid4().hex[:4]}", "admin")
    insights = api.get("/v1/admin/insights", headers=admin).text
    assert ID_MASK in insights and all(clear not in insights for clear in CLEAR)

    # the operator reads masks and reveals one value, audited
    operator = _bearer(api, stack_settings, f"priv-op-{uuid.uuid4().hex[:4]}", "operator")
    ticket = next(
        t
        for t in api.get("/v1/operator/tickets", headers=operator).json()
        if t["session_id"] == chat.session_id
    )
    view = api.get(f"/v1/operator/tickets/{ticket['id']}", headers=operator).json()
    assert all(clear not in e["text"] for e in view["transcript"] for clear in CLEAR)
    last = view["transcript"][-1]
    assert last["text"] == f"我的手机是{PHONE_MASK}，请回电" and last["masked"][0]["kind"] == "mobile"
    url = f"/v1/operator/tickets/{ticket['id']}/reveal"
    anonymous = httpx.post(api.base_url.join(url), json={"ref": last["masked"][0]["ref"]})  # no cookie jar
    assert anonymous.status_code == 401
    revealed = api.post(url, json={"ref": last["masked"][0]["ref"]}, headers=operator)
    assert revealed.status_code == 200 and revealed.json()["value"] == PHONE
    audit = api.get("/v1/admin/audit", params={"action": "ticket.reveal"}, headers=admin).json()
    assert any(e["target"] == ticket["id"] and e["after"]["kind"] == "mobile" for e in audit)
    assert PHONE not in str(audit)


def test_operator_console_shows_masks_and_reveals_one_value(browser, api, stack_settings):
    from playwright.sync_api import expect

    from tests.e2e.test_browser_operator import DESKTOP, sign_in

    name, password = f"priv-console-{uuid.uuid4().hex[:4]}", "console-privacy-pass"
    AuthStore(stack_settings).add_user(name, password, "operator")
    chat = Chat(api, f"e2e-privacy-ui-{uuid.uuid4().hex[:6]}")
    assert any(m["kind"] == "handoff" for m in chat.say("转人工"))
    assert chat.say(f"身份证{ID_NUMBER}，手机{PHONE}") == []

    context = browser.new_context(
        viewport=DESKTOP, locale="zh-CN", base_url=f"http://127.0.0.1:{stack_settings.api_port}"
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        sign_in(page, (name, password))
        page.locator(f".queue-item[data-session='{chat.session_id}']").click()
        message = page.locator("#transcript .t-user").last
        expect(message).to_contain_text(f"身份证{ID_MASK}")
        expect(message.locator(".t-reveal")).to_have_count(2)
        assert ID_NUMBER not in page.content() and PHONE not in page.content()

        with page.expect_response(lambda r: r.url.endswith("/reveal")) as revealed:
            message.get_by_role("button", name=re.compile("^显示手机号")).click()
        assert revealed.value.status == 200
        expect(message.locator(".t-revealed")).to_have_text(PHONE)
        expect(message.locator(".t-reveal")).to_have_count(1)  # the ID stays masked
        assert ID_NUMBER not in page.content()

        # a message arriving live carries its masks and buttons too
        assert chat.say("座机 0951-5551234，邮箱 resident.test@example.com") == []
        live = page.locator("#transcript .t-user").last
        expect(live).to_contain_text("0951-****234")
        expect(live).to_contain_text("r***@example.com")
        expect(live.locator(".t-reveal")).to_have_count(2)
    finally:
        context.close()
