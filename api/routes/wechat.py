"""WeChat Official Account callbacks (``/wechat/{account}``) and the citation page WeChat replies link to.

The protocol and the conversation live in api/wechat/; this only maps HTTP to them. docs/wechat.md.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.background import BackgroundTask
from wechatpy.replies import TextReply

from api.deps import RetrieverDep, SourceTextsDep, WeChatDep
from api.routes.sources import context
from api.wechat import protocol
from api.wechat.channel import WeChatChannel
from knowledge.settings import WeChatAccount

router = APIRouter(prefix="/wechat", tags=["wechat"])
ACCOUNT = r"^[a-z0-9_]{1,16}$"
AccountName = Annotated[
    str, Path(pattern=ACCOUNT, description="the account's name in MINSHENG_WECHAT_ACCOUNTS")
]


def _account(wechat: WeChatChannel, name: str) -> WeChatAccount:
    account = wechat.accounts.get(name)
    if account is None:
        raise HTTPException(404, f"没有这个公众号接入 (no WeChat account {name!r})")
    return account


@router.get(
    "/{account}",
    response_class=PlainTextResponse,
    responses={
        403: {"description": "signature does not match the account's token"},
        404: {"description": "no such account"},
        422: {"description": "not an account name"},
    },
)
def verify(
    account: AccountName,
    wechat: WeChatDep,
    signature: str = "",
    timestamp: str = "",
    nonce: str = "",
    echostr: str = "",
) -> PlainTextResponse:
    """WeChat's server check when the URL is saved: echo ``echostr`` if ``signature`` is right."""
    found = _account(wechat, account)
    if not protocol.url_signed(found, {"signature": signature, "timestamp": timestamp, "nonce": nonce}):
        raise HTTPException(403, "签名错误 (invalid signature)")
    return PlainTextResponse(echostr)


@router.post(
    "/{account}",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}, "text/plain": {}}, "description": "reply XML or success"},
        400: {"description": "not a WeChat message (malformed XML, missing fields)"},
        403: {"description": "signature / msg_signature does not match"},
        404: {"description": "no such account"},
    },
)
async def callback(account: AccountName, request: Request, wechat: WeChatDep) -> Response:
    """A message or event from WeChat: the passive reply (XML) if the answer is ready within the budget,
    else ``success`` and the answer follows as 客服消息."""
    found = _account(wechat, account)
    body = await request.body()
    try:
        inbound = protocol.read(found, request.query_params, body)
    except protocol.BadSignature as exc:
        raise HTTPException(403, "签名错误 (invalid signature)") from exc
    except protocol.BadMessage as exc:
        raise HTTPException(400, f"无法解析的微信消息 (bad WeChat message: {exc})") from exc
    outcome = await wechat.respond(found, inbound.message, str(request.base_url))
    later = (
        BackgroundTask(wechat.deliver, found, inbound.message.source, outcome.later)
        if outcome.later
        else None
    )
    if outcome.passive is None:
        return PlainTextResponse("success", background=later)
    reply = TextReply(message=inbound.message, content=outcome.passive)
    return Response(protocol.render(inbound, reply), media_type="application/xml", background=later)


_STYLE = (
    "body{font:17px/1.7 -apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;padding:16px;"
    "color:#1f2329;background:#f7f8fa}h1{font-size:18px;margin:0 0 4px}p.where{color:#646a73;font-size:14px;"
    "margin:0 0 12px}div.text{background:#fff;border-radius:8px;padding:12px 14px;white-space:pre-wrap}"
    "mark{background:#ffe58f;padding:0 2px}p.note{color:#8f959e;font-size:13px}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()


@router.get(
    "/cite/{source}",
    response_class=HTMLResponse,
    responses={404: {"description": "no such document"}, 422: {"description": "offsets outside it"}},
)
def cite(
    source: str,
    sources: SourceTextsDep,
    retriever: RetrieverDep,
    start: Annotated[int, Query(ge=0)],
    end: Annotated[int, Query(ge=1)],
) -> HTMLResponse:
    """The quoted passage inside its paragraph, as a phone page (the 查看原文 link of WeChat replies)."""
    quote = context(source, sources, retriever, start, end)
    period = (
        f"（{quote.valid_from.year}—{quote.valid_to.year}年）" if quote.valid_from and quote.valid_to else ""
    )
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>原文依据</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(quote.title)}{escape(period)}</h1><p class=where>{escape(quote.section)}</p>"
        f"<div class=text>{escape(quote.before)}<mark>{escape(quote.quote)}</mark>{escape(quote.after)}</div>"
        "<p class=note>以上为规划原文，具体标准和办理方式请以当地部门为准。</p></body></html>"
    )
    csp = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; frame-ancestors 'none'"
    return HTMLResponse(page, headers={"Content-Security-Policy": csp})
