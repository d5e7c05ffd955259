"""The WeChat Official Account channel end to end, against a fake of WeChat's API server.

Requests are built as WeChat builds them — signed with the account's token, and in safe / compatible mode
encrypted with its EncodingAESKey by wechatpy's own crypto — and posted to the real app (real Redis, the real
conversation gateway). Rasa is a scripted fake REST server (answers, a slow answer, region buttons, the
hand-off as the action server does it); 客服消息 go to api/wechat/fake_server.py, which answers like WeChat.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler

import pytest
import redis
import xmltodict
from fastapi.testclient import TestClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from api.auth import AuthStore
from api.main import create_app
from api.wechat import formatting
from api.wechat.accounts import session_id
from api.wechat.fake_server import FakeWeChat
from knowledge.settings import Settings, WeChatAccount
from tests.conftest import FakeRasa

APP_ID, APP_SECRET = "wx5f1e2d3c4b5a6978", "0123456789abcdef0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat generates
PLAIN = WeChatAccount(name="gx", token="gxToken2025", app_id=APP_ID, app_secret=APP_SECRET)
SAFE = WeChatAccount(
    name="nx",
    token="nxToken2025",
    app_id=APP_ID,
    app_secret=APP_SECRET,
    encoding_aes_key=AES_KEY,
    mode="safe",
)
COMPAT = WeChatAccount(
    name="cp",
    token="cpToken2025",
    app_id=APP_ID,
    app_secret=APP_SECRET,
    encoding_aes_key=AES_KEY,
    mode="compatible",
)
QUESTION = "准备要孩子了，孕前检查免费吗"
SLOW = "慢一点回答：公租房谁能申请"
SLOW_SECONDS = 3.0
BUDGET = 1.5


# --- fakes -----------------------------------------------------------------------------------------------
class ScriptedRasa(FakeRasa):
    """Rasa's REST channel answering like our bot: payloads built by ``script`` (sender, message)."""

    def __init__(self) -> None:
        super().__init__()
        self.RequestHandlerClass = _ScriptedHandler
        self.senders: list[str] = []
        self.script = lambda sender, message: [{"recipient_id": sender, "text": self.reply_text}]


class _ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedRasa

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.messages.append(body["message"])
        self.server.senders.append(body["sender"])
        self._reply(self.server.script(body["sender"], body["message"]))

    def do_GET(self) -> None:  # noqa: N802
        self._reply({"slots": {}, "active_loop": {}})

    def _reply(self, payload: object) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def wechat_api():
    server = FakeWeChat(APP_ID, APP_SECRET).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rasa():
    server = ScriptedRasa()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def app_settings(settings, ingested, rasa, wechat_api):
    return Settings(
        **{
            **settings.model_dump(),
            "redis_url": "redis://127.0.0.1:6379/7",
            "redis_prefix": f"wechat-{uuid.uuid4().hex[:8]}",
            "rasa_url": f"http://127.0.0.1:{rasa.server_port}",
            "rasa_servers": 1,
            "wechat_accounts": [PLAIN, SAFE, COMPAT],
            "wechat_api_base_url": wechat_api.base_url,
            "wechat_reply_budget_seconds": BUDGET,
        }
    )


@pytest.fixture(scope="module")
def client(app_settings):
    auth = AuthStore(app_settings)
    auth.add_user("wx-op", "operator-pass-1", "operator")
    with TestClient(create_app(app_settings)) as c:
        yield c
    for key in auth.redis.scan_iter(f"{app_settings.redis_prefix}:*"):
        auth.redis.delete(key)


@pytest.fixture(scope="module")
def grounded(client, app_settings) -> dict:
    """The answer service's real reply to QUESTION, as the action server sends it to Rasa."""
    r = client.post(
        "/v1/answer",
        json={"question": QUESTION},
        headers={"X-Minsheng-Internal-Token": app_settings.internal_token},
    )
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["kind"] == "answer" and reply["citations"], reply
    fields = ("source", "title", "section", "quote", "start", "end", "valid_from", "valid_to", "region")
    return {
        "kind": reply["kind"],
        "text": reply["text"],
        "citations": [{k: c.get(k) for k in fields} for c in reply["citations"]],
        "buttons": [{"title": "转人工", "payload": "/human_handoff"}],
    }


@pytest.fixture(scope="module", autouse=True)
def bot(rasa, client, app_settings, grounded):
    """What the scripted Rasa answers (the hand-off opens the ticket through the API, as our action does)."""

    def script(sender: str, message: str) -> list[dict]:
        if message == QUESTION:
            return [{"recipient_id": sender, "custom": grounded}]
        if message.startswith("慢一点"):
            time.sleep(SLOW_SECONDS)
            return [
                {
                    "recipient_id": sender,
                    "custom": {"kind": "answer", "text": "慢的回答：公租房向住建部门申请。"},
                }
            ]
        if message == "很长的回答":
            text = "\n".join(f"第{i}条：" + "基本公共服务均等化" * 12 for i in range(40))
            return [{"recipient_id": sender, "custom": {"kind": "answer", "text": text}}]
        if message == "哪里":
            buttons = [{"title": "广西", "payload": "广西"}, {"title": "宁夏", "payload": "宁夏"}]
            return [
                {
                    "recipient_id": sender,
                    "custom": {"kind": "clarify", "text": "您在哪个地区？", "buttons": buttons},
                }
            ]
        if message in ("转人工", "/human_handoff"):
            r = client.post(
                "/v1/handoff/tickets",
                json={"session_id": sender.split("~", 1)[0], "reason": message},
                headers={"X-Minsheng-Internal-Token": app_settings.internal_token},
            )
            text = f"已为您转接人工客服（工单 {r.json()['id']}），客服看到后会在这里回复您，请稍候。"
            return [{"recipient_id": sender, "custom": {"kind": "handoff", "text": text}}]
        return [{"recipient_id": sender, "text": f"收到：{message}"}]

    rasa.script = script


# --- WeChat's side of the protocol -------------------------------------------------------------------------
def _signature(token: str, timestamp: str, nonce: str) -> str:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return signer.signature


def _xml(
    openid: str, msg_type: str, fields: str, msg_id: int | None = None, create_time: int | None = None
) -> str:
    created = create_time or int(time.time())
    return (
        f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{fields}"
        + (f"<MsgId>{msg_id}</MsgId>" if msg_id else "")
        + "</xml>"
    )


def text_xml(openid: str, content: str, msg_id: int | None = None) -> str:
    return _xml(openid, "text", f"<Content><![CDATA[{content}]]></Content>", msg_id or _msg_id())


def event_xml(openid: str, event: str, key: str = "", create_time: int | None = None) -> str:
    fields = f"<Event><![CDATA[{event}]]></Event>" + (
        f"<EventKey><![CDATA[{key}]]></EventKey>" if key else ""
    )
    return _xml(openid, "event", fields, create_time=create_time)


_ids = iter(range(24000000000000000, 25000000000000000, 7))


def _msg_id() -> int:
    return next(_ids)


def openid() -> str:
    return "o" + uuid.uuid4().hex[:27]  # 28 characters, like WeChat's


def post(client: TestClient, account: WeChatAccount, xml: str, encrypt: bool = False, **override: str):
    """POST as WeChat does: the URL signed; encrypted (with msg_signature) when ``encrypt``."""
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    query = {"signature": _signature(account.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    body = xml
    if encrypt:
        crypto = WeChatCrypto(account.token, account.encoding_aes_key, account.app_id)
        envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        query |= {"encrypt_type": "aes", "msg_signature": envelope["MsgSignature"], "openid": "o-in-url"}
        body = f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    query |= override
    return client.post(f"/wechat/{account.name}", params=query, content=body.encode("utf-8"))


def reply_of(response, account: WeChatAccount | None = None) -> dict:
    """The passive reply's fields; decrypted (and its msg_signature checked) with wechatpy for encrypted ones."""
    assert response.status_code == 200, response.text
    assert response.text != "success", "expected a passive reply"
    xml = response.text
    if account is not None:
        envelope = xmltodict.parse(xml)["xml"]
        assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}, envelope
        crypto = WeChatCrypto(account.token, account.encoding_aes_key, account.app_id)
        xml = crypto.decrypt_message(xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    return xmltodict.parse(xml)["xml"]


def redis_keys(settings: Settings) -> set[str]:
    r = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    return set(r.scan_iter(f"{settings.redis_prefix}:*"))


# --- URL verification ---------------------------------------------------------------------------------------
def test_verification_echoes_echostr_and_refuses_a_bad_signature(client):
    good = {
        "signature": _signature(PLAIN.token, "1", "2"),
        "timestamp": "1",
        "nonce": "2",
        "echostr": "hello",
    }
    r = client.get("/wechat/gx", params=good)
    assert r.status_code == 200 and r.text == "hello"
    assert client.get("/wechat/gx", params={**good, "signature": "0" * 40}).status_code == 403
    assert (
        client.get("/wechat/gx", params={**good, "nonce": "3"}).status_code == 403
    )  # signature covers nonce
    assert client.get("/wechat/gx", params={"echostr": "hello"}).status_code == 403
    assert client.get("/wechat/nx", params=good).status_code == 403  # another account's token
    assert client.get("/wechat/nosuch", params=good).status_code == 404


def test_demo_mode_serves_the_demo_account(client):
    """README command 1's stack runs in demo mode: /wechat/demo with the published token minsheng-demo."""
    query = {
        "signature": _signature("minsheng-demo", "1", "2"),
        "timestamp": "1",
        "nonce": "2",
        "echostr": "hello",
    }
    assert client.get("/wechat/demo", params=query).text == "hello"
    assert client.get("/wechat/demo", params={**query, "signature": "bad"}).status_code == 403


# --- a question answered ----------------------------------------------------------------------------------
def whole(first: str, user: str, wechat_api: FakeWeChat) -> list[str]:
    """The passive reply and the 客服消息 that continue it (a split answer ends with its options)."""
    wechat_api.wait_for(lambda s: "回复 1 选择" in (s.texts_to(user) or [first])[-1], timeout=5)
    return [first, *wechat_api.texts_to(user)]


def test_plaintext_question_is_answered_passively_with_its_citation(client, rasa, grounded, wechat_api):
    user = openid()
    r = post(client, PLAIN, text_xml(user, QUESTION))
    reply = reply_of(r)
    assert r.headers["content-type"].startswith("application/xml")
    assert (
        reply["MsgType"] == "text"
        and reply["ToUserName"] == user
        and reply["FromUserName"] == "gh_0123456789ab"
    )
    first = reply["Content"]
    # a long answer continues as 客服消息 (WeChat takes 2048 bytes a message); the options come last
    parts = whole(first, user, wechat_api)
    content = "\n".join(parts)
    assert (
        first.startswith(grounded["text"].split("\n", 1)[0])
        and "【依据】" in content
        and "查看原文" in content
    )
    assert "回复 1 选择转人工" in parts[-1]
    assert all(len(p.encode("utf-8")) <= formatting.TEXT_LIMIT_BYTES for p in parts)
    # the citation link opens the quote in its paragraph
    link = content.split('<a href="', 1)[1].split('"', 1)[0]
    assert "/wechat/cite/" in link
    page = client.get(link.replace("http://testserver", ""))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<mark>" in page.text
    # the same conversation engine: Rasa got the question from the hashed session, never the OpenID
    sid = session_id(PLAIN, user)
    assert rasa.senders[rasa.messages.index(QUESTION)] == sid and user not in sid
    history = client.get(f"/v1/chat/{sid}/history").json()["entries"]
    assert [e["role"] for e in history] == ["user", "bot"] and history[1]["message"]["citations"]


def test_safe_mode_decrypts_the_message_and_encrypts_the_reply(client, rasa, wechat_api):
    user = openid()
    reply = reply_of(post(client, SAFE, text_xml(user, QUESTION), encrypt=True), SAFE)
    assert reply["ToUserName"] == user and "【依据】" in "\n".join(whole(reply["Content"], user, wechat_api))
    assert rasa.senders[-1] == session_id(SAFE, user)


def test_safe_mode_refuses_what_is_not_signed_and_encrypted_for_it(client):
    user = openid()
    assert post(client, SAFE, text_xml(user, "你好")).status_code == 403  # plaintext in safe mode
    assert post(client, SAFE, text_xml(user, "你好"), encrypt=True, msg_signature="0" * 40).status_code == 403
    other = WeChatAccount(
        **{**SAFE.model_dump(), "app_id": "wx0000000000000000"}
    )  # encrypted for another AppID
    timestamp, nonce = "1700000000", "n1"
    crypto = WeChatCrypto(SAFE.token, AES_KEY, other.app_id)
    envelope = xmltodict.parse(crypto.encrypt_message(text_xml(user, "你好"), nonce, timestamp))["xml"]
    r = client.post(
        "/wechat/nx",
        params={
            "signature": _signature(SAFE.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": envelope["MsgSignature"],
        },
        content=f"<xml><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>".encode(),
    )
    assert r.status_code == 403


def test_compatible_mode_answers_each_message_the_way_it_came(client):
    user = openid()
    plain = reply_of(post(client, COMPAT, text_xml(user, "你好")))
    assert plain["Content"] == "收到：你好"
    encrypted = reply_of(post(client, COMPAT, text_xml(user, "再见"), encrypt=True), COMPAT)
    assert encrypted["Content"] == "收到：再见"


# --- the 5-second rule -----------------------------------------------------------------------------------
def test_retries_of_one_msgid_are_answered_once_even_while_it_is_computed(client, rasa, wechat_api):
    user, msg_id = openid(), _msg_id()
    xml = text_xml(user, "慢一点：三次重试", msg_id)
    with ThreadPoolExecutor(3) as pool:  # WeChat's retries, arriving while the first is being answered
        responses = list(pool.map(lambda _: post(client, PLAIN, xml), range(3)))
    assert all(r.status_code == 200 for r in responses)
    assert [r.text for r in responses] == ["success"] * 3  # the answer is slower than the budget
    assert wechat_api.wait_for(lambda s: s.texts_to(user), timeout=10)
    assert post(client, PLAIN, xml).text == "success"  # a late retry, after the answer went out
    time.sleep(0.5)
    assert rasa.messages.count("慢一点：三次重试") == 1
    assert wechat_api.texts_to(user) == ["慢的回答：公租房向住建部门申请。"]


def test_retries_of_a_quick_answer_get_nothing_more(client, rasa):
    user, msg_id = openid(), _msg_id()
    xml = text_xml(user, "快的问题", msg_id)
    first = reply_of(post(client, PLAIN, xml))
    assert first["Content"] == "收到：快的问题"
    assert [post(client, PLAIN, xml).text for _ in range(3)] == ["success"] * 3
    assert rasa.messages.count("快的问题") == 1


def test_a_slow_answer_is_success_at_once_then_a_customer_service_message(client, wechat_api, app_settings):
    user = openid()
    started = time.monotonic()
    r = post(client, PLAIN, text_xml(user, SLOW))
    took = time.monotonic() - started
    assert r.status_code == 200 and r.text == "success"
    assert BUDGET - 0.1 <= took < BUDGET + 0.8  # within WeChat's 5 s, having waited the budget
    assert wechat_api.wait_for(lambda s: s.texts_to(user), timeout=10)
    assert wechat_api.texts_to(user) == ["慢的回答：公租房向住建部门申请。"]
    # the answer is in the conversation like any other
    history = client.get(f"/v1/chat/{session_id(PLAIN, user)}/history").json()["entries"]
    assert history[-1]["text"] == "慢的回答：公租房向住建部门申请。"


def test_a_long_answer_is_split_within_wechats_limit(client, wechat_api):
    user = openid()
    first = reply_of(post(client, PLAIN, text_xml(user, "很长的回答")))["Content"]
    assert wechat_api.wait_for(lambda s: len(s.texts_to(user)) >= formatting.MAX_PARTS - 1, timeout=10)
    parts = [first, *wechat_api.texts_to(user)]
    assert len(parts) == formatting.MAX_PARTS
    assert all(len(p.encode("utf-8")) <= formatting.TEXT_LIMIT_BYTES for p in parts)
    assert parts[0].startswith("第0条") and parts[-1].endswith(formatting.CUT)


def test_the_resident_outside_the_48_hour_window_is_logged_and_given_up(client, wechat_api, caplog):
    user = openid()
    wechat_api.closed_window.add(user)
    with caplog.at_level(logging.INFO):
        assert post(client, PLAIN, text_xml(user, "慢一点：窗口外")).text == "success"
        assert wechat_api.wait_for(lambda s: any(x["touser"] == user for x in s.refused), timeout=10)
        time.sleep(0.2)
    assert [x["errcode"] for x in wechat_api.refused if x["touser"] == user] == [
        45015
    ]  # tried once, no retry
    assert "45015" in caplog.text
    assert user not in caplog.text


# --- buttons, message types, events ------------------------------------------------------------------------
def test_buttons_become_numbered_options_the_resident_can_type(client, rasa):
    user = openid()
    offered = reply_of(post(client, PLAIN, text_xml(user, "哪里")))["Content"]
    assert "回复 1 选择广西" in offered and "回复 2 选择宁夏" in offered
    chosen = reply_of(post(client, PLAIN, text_xml(user, "２")))["Content"]  # a full-width digit
    assert rasa.messages[-1] == "宁夏" and chosen == "收到：宁夏"
    # no options pending any more: a digit is an answer (an age, a count), sent as typed
    reply_of(post(client, PLAIN, text_xml(user, "2")))
    assert rasa.messages[-1] == "2"


def test_other_message_types_get_a_polite_text_only_note(client, rasa):
    user = openid()
    sent_before = len(rasa.messages)
    others = {
        "image": "<PicUrl><![CDATA[http://mmbiz.qpic.cn/x]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>",
        "location": "<Location_X>22.8</Location_X><Location_Y>108.3</Location_Y><Scale>15</Scale>"
        "<Label><![CDATA[南宁市]]></Label>",
        "link": "<Title><![CDATA[t]]></Title><Description><![CDATA[d]]></Description><Url><![CDATA[http://x]]></Url>",
        "video": "<MediaId><![CDATA[m2]]></MediaId><ThumbMediaId><![CDATA[m3]]></ThumbMediaId>",
        "file": "<Title><![CDATA[a.pdf]]></Title><FileKey><![CDATA[k]]></FileKey>",  # no wechatpy class
    }
    for kind, fields in others.items():
        reply = reply_of(post(client, PLAIN, _xml(user, kind, fields, _msg_id())))
        assert reply["Content"].startswith("目前只能处理文字消息"), kind
    assert len(rasa.messages) == sent_before  # none of them reached the dialogue


def test_voice_with_recognition_is_a_question(client, rasa, wechat_api):
    user = openid()
    voice = "<MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format>"
    recognised = reply_of(
        post(
            client,
            PLAIN,
            _xml(user, "voice", voice + f"<Recognition><![CDATA[{QUESTION}]]></Recognition>", _msg_id()),
        )
    )
    assert "【依据】" in "\n".join(whole(recognised["Content"], user, wechat_api))
    assert rasa.messages[-1] == QUESTION
    unrecognised = reply_of(
        post(client, PLAIN, _xml(user, "voice", voice + "<Recognition></Recognition>", _msg_id()))
    )
    assert unrecognised["Content"] == formatting.VOICE_UNRECOGNISED


def test_subscribe_gets_the_welcome_once(client, app_settings):
    user, created = openid(), int(time.time())
    welcome = reply_of(post(client, PLAIN, event_xml(user, "subscribe", create_time=created)))
    assert welcome["Content"] == formatting.WELCOME
    assert post(client, PLAIN, event_xml(user, "subscribe", create_time=created)).text == "success"  # a retry
    key = f"{app_settings.redis_prefix}:wx:user:{session_id(PLAIN, user)}"
    assert key in redis_keys(app_settings)
    # unfollowing: nothing to say, and the OpenID is no longer kept
    assert post(client, PLAIN, event_xml(user, "unsubscribe")).text == "success"
    assert key not in redis_keys(app_settings)
    # a VIEW event (a menu link opened): nothing to say
    assert post(client, PLAIN, event_xml(user, "VIEW", "https://example.gov.cn")).text == "success"


def test_menu_clicks_ask_the_conversation(client, rasa, wechat_api):
    user = openid()
    help_ = reply_of(post(client, PLAIN, event_xml(user, "CLICK", "MS_HELP")))
    assert help_["Content"] == formatting.WELCOME
    asked = reply_of(post(client, PLAIN, event_xml(user, "CLICK", "MS_ASK_PRENATAL")))
    assert rasa.messages[-1] == QUESTION and "【依据】" in "\n".join(
        whole(asked["Content"], user, wechat_api)
    )


# --- hand-off ------------------------------------------------------------------------------------------------
def test_handoff_over_wechat_reaches_the_operator_and_back(client, rasa, wechat_api):
    user = openid()
    sid = session_id(PLAIN, user)
    ack = reply_of(post(client, PLAIN, text_xml(user, "转人工")))
    assert "已为您转接人工客服" in ack["Content"]
    # while the operator has it, what the resident writes goes to the operator, not to the bot
    sent_before = len(rasa.messages)
    assert post(client, PLAIN, text_xml(user, "我想问问低保的事")).text == "success"
    assert len(rasa.messages) == sent_before
    op = TestClient(client.app)
    token = op.post(
        "/v1/auth/login", json={"username": "wx-op", "password": "operator-pass-1", "want_token": True}
    )
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    tickets = [t for t in op.get("/v1/operator/tickets", headers=headers).json() if t["session_id"] == sid]
    assert len(tickets) == 1
    view = op.get(f"/v1/operator/tickets/{tickets[0]['id']}", headers=headers).json()
    assert view["transcript"][-1]["text"] == "我想问问低保的事"
    r = op.post(
        f"/v1/operator/tickets/{tickets[0]['id']}/reply",
        json={"text": "您好，低保向乡镇申请。"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert wechat_api.wait_for(lambda s: s.texts_to(user), timeout=5)
    assert wechat_api.texts_to(user) == ["【人工客服】您好，低保向乡镇申请。"]
    op.post(f"/v1/operator/tickets/{tickets[0]['id']}/close", headers=headers)
    assert wechat_api.wait_for(lambda s: len(s.texts_to(user)) == 2, timeout=5)
    assert wechat_api.texts_to(user)[-1] == "人工服务已结束，智能助手继续为您服务。"
    # and the bot answers again
    assert reply_of(post(client, PLAIN, text_xml(user, "谢谢")))["Content"] == "收到：谢谢"


# --- what is refused changes nothing ---------------------------------------------------------------------------
def test_bad_signature_and_malformed_xml_are_refused_with_nothing_stored(client, app_settings, rasa):
    user = openid()
    before, sent_before = redis_keys(app_settings), len(rasa.messages)
    assert post(client, PLAIN, text_xml(user, "你好"), signature="0" * 40).status_code == 403
    for body in (
        "<xml><ToUserName>gh</ToUserName><FromUserName>",  # cut off
        "not xml at all",
        "<xml>just text</xml>",
        "<xml><ToUserName>gh</ToUserName><MsgType>text</MsgType></xml>",  # no FromUserName
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        "<xml><FromUserName>&b;</FromUserName><MsgType>text</MsgType></xml>",  # entity expansion
    ):
        r = post_raw(client, PLAIN, body)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert r.json()["code"] == "bad_request"
    assert post(
        client,
        SAFE,
        "<xml><Encrypt>bm90IGFlcw==</Encrypt></xml>",
        encrypt=False,
        encrypt_type="aes",
        msg_signature="x",
    ).status_code in (400, 403)
    assert redis_keys(app_settings) == before and len(rasa.messages) == sent_before


def post_raw(client: TestClient, account: WeChatAccount, body: str):
    timestamp, nonce = str(int(time.time())), "nonce1"
    query = {"signature": _signature(account.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    return client.post(f"/wechat/{account.name}", params=query, content=body.encode("utf-8"))


def test_openids_and_secrets_stay_out_of_redis_and_logs(client, app_settings, wechat_api, caplog):
    user = openid()
    with caplog.at_level(logging.DEBUG):
        reply_of(post(client, PLAIN, text_xml(user, QUESTION)))
        assert post(client, PLAIN, text_xml(user, "慢一点：隐私")).text == "success"
        assert wechat_api.wait_for(lambda s: s.texts_to(user), timeout=10)
    secrets = [APP_SECRET, AES_KEY, PLAIN.token, *wechat_api.tokens, *wechat_api.revoked]
    assert not [s for s in secrets if s in caplog.text]
    assert user not in caplog.text
    r = redis.Redis.from_url(app_settings.redis_url, decode_responses=True)
    holding = []
    for key in r.scan_iter(f"{app_settings.redis_prefix}:*"):
        kind = r.type(key)
        value = (
            r.get(key)
            if kind == "string"
            else json.dumps(
                r.lrange(key, 0, -1) if kind == "list" else r.hgetall(key) if kind == "hash" else "",
                ensure_ascii=False,
            )
        )
        if user in key or user in (value or ""):
            holding.append(key)
    # the one key that keeps the OpenID (where 客服消息 go), expiring with the conversation
    assert holding == [f"{app_settings.redis_prefix}:wx:user:{session_id(PLAIN, user)}"]
    assert 0 < r.ttl(holding[0]) <= app_settings.session_ttl_seconds
