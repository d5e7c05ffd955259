"""`minsheng wechat …`: push the menu, run the fake WeChat API, and play WeChat against a running API."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Annotated

import typer

from knowledge.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="WeChat Official Account channel (docs/wechat.md)")
AccountOpt = Annotated[str, typer.Option("--account", "-a", help="account name (MINSHENG_WECHAT_ACCOUNTS)")]


def _account(name: str):
    from api.wechat.accounts import configured_accounts

    accounts = configured_accounts(get_settings())
    if name not in accounts:
        typer.secho(
            f"error: no WeChat account {name!r} (configured: {', '.join(accounts) or 'none'})", err=True
        )
        raise typer.Exit(2)
    return accounts[name]


@app.command("menu-push")
def menu_push(
    account: AccountOpt = "demo",
    file: Annotated[Path | None, typer.Option(help="menu JSON (default deploy/wechat/menu.json)")] = None,
) -> None:
    """Replace the account's custom menu with deploy/wechat/menu.json (WeChat's menu/create)."""
    import redis

    from api.wechat.client import WeChatApi, WeChatApiError
    from api.wechat.menu import MENU_FILE, load_menu

    settings = get_settings()
    try:
        menu = load_menu(file or MENU_FILE)
    except (OSError, ValueError) as exc:
        typer.secho(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    api = WeChatApi(
        settings, _account(account), redis.Redis.from_url(settings.redis_url, decode_responses=True)
    )
    try:
        api.create_menu(menu)
    except WeChatApiError as exc:
        typer.secho(f"error: WeChat refused the menu ({exc})", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"menu pushed to {account}: {len(menu['button'])} buttons")


@app.command("fake-api")
def fake_api(
    port: Annotated[int, typer.Option()] = 8081,
    app_id: Annotated[str, typer.Option()] = "wxminshengdemo",
    app_secret: Annotated[str, typer.Option()] = "minsheng-demo-secret",
) -> None:
    """A fake WeChat API on 127.0.0.1 that prints every 客服消息 (for MINSHENG_WECHAT_API_BASE_URL in a demo)."""
    from api.wechat.fake_server import FakeWeChat

    def show(message: dict) -> None:
        typer.echo(f"客服消息 → {message['touser']}:\n{message['content']}\n")

    server = FakeWeChat(app_id, app_secret, port=port, on_send=show)
    typer.echo(f"fake WeChat API: MINSHENG_WECHAT_API_BASE_URL={server.base_url}  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _signed_query(token: str, timestamp: str, nonce: str) -> dict[str, str]:
    from wechatpy.utils import WeChatSigner

    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce}


@app.command("sign")
def sign(
    account: AccountOpt = "demo",
    timestamp: Annotated[str, typer.Option()] = "1",
    nonce: Annotated[str, typer.Option()] = "2",
) -> None:
    """The query string WeChat would sign a callback with (to try GET /wechat/{account} by hand)."""
    from urllib.parse import urlencode

    typer.echo(urlencode(_signed_query(_account(account).token, timestamp, nonce)))


@app.command("simulate")
def simulate(
    text: str,
    account: AccountOpt = "demo",
    url: Annotated[str, typer.Option(help="the API")] = "",
    openid: Annotated[str, typer.Option()] = "o-demo-resident",
    msg_id: Annotated[
        int | None, typer.Option(help="MsgId (send one twice to see the retry ignored)")
    ] = None,
) -> None:
    """Post a text message to /wechat/{account} as WeChat does (signed, encrypted in safe/compatible mode)."""
    import httpx
    import xmltodict
    from wechatpy.crypto import WeChatCrypto

    settings = get_settings()
    found = _account(account)
    url = url or f"http://{settings.api_host}:{settings.api_port}"
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    msg_id = msg_id or int(time.time() * 1000)
    xml = (
        f"<xml><ToUserName><![CDATA[gh_{account}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
    query = _signed_query(found.token, timestamp, nonce)
    crypto = None
    if found.mode != "plaintext":
        crypto = WeChatCrypto(found.token, found.encoding_aes_key, found.app_id)
        envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        query |= {"encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}
        xml = (
            f"<xml><ToUserName><![CDATA[gh_{account}]]></ToUserName>"
            f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
        )
    response = httpx.post(f"{url}/wechat/{account}", params=query, content=xml.encode(), timeout=10)
    body = response.text
    if crypto is not None and response.status_code == 200 and body != "success":
        reply = xmltodict.parse(body)["xml"]
        body = crypto.decrypt_message(body, reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"])
    typer.echo(f"HTTP {response.status_code} (MsgId {msg_id})\n{body}")
    if body == "success":
        typer.echo(
            "(the answer follows as 客服消息 to the configured WeChat API, or there was nothing to say)"
        )
