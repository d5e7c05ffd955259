"""Which 公众号 accounts are served, and how a resident's OpenID becomes a chat session id.

OpenIDs are personal data (a stable identifier of one WeChat user): the session id carries only a keyed hash
of it, so history, tickets, Rasa trackers and logs never show one. The OpenID itself is kept in one key per
session (``{p}:wx:user:{sid}``, expiring with the session) because 客服消息 and operator replies need it.
"""

from __future__ import annotations

import hashlib
import hmac

from api.deployment import InsecureDeployment
from knowledge.settings import Settings, WeChatAccount

DEMO_TOKEN = "minsheng-demo"
DEMO_ACCOUNT = WeChatAccount(
    name="demo",
    token=DEMO_TOKEN,
    app_id="wxminshengdemo",  # matches `minsheng wechat fake-api`, so a local demo can see its 客服消息
    app_secret="minsheng-demo-secret",
    mode="plaintext",
)
SESSION_PREFIX = "wx-"


def configured_accounts(settings: Settings) -> dict[str, WeChatAccount]:
    """Accounts by name. Demo mode adds "demo" (published token, plaintext) unless one is configured.

    Outside demo mode an account may not use the published demo token (the API refuses to start)."""
    accounts = {a.name: a for a in settings.wechat_accounts}
    if len(accounts) != len(settings.wechat_accounts):
        raise ValueError("MINSHENG_WECHAT_ACCOUNTS: two accounts have the same name")
    if settings.demo:
        accounts.setdefault(DEMO_ACCOUNT.name, DEMO_ACCOUNT)
    else:
        published = [a.name for a in accounts.values() if a.token == DEMO_TOKEN]
        if published:
            raise InsecureDeployment(
                f"WeChat account(s) {', '.join(published)} use the published demo token {DEMO_TOKEN!r}: "
                "set a token of your own (docs/wechat.md) or run a local demo with MINSHENG_DEMO=1."
            )
    return accounts


def session_id(account: WeChatAccount, openid: str) -> str:
    """``wx-<account>-<hash>``: the same resident in the same account always continues one conversation."""
    digest = hmac.new(
        f"minsheng-wechat:{account.name}:{account.app_id}".encode(), openid.encode(), hashlib.sha256
    ).hexdigest()
    return f"{SESSION_PREFIX}{account.name}-{digest[:24]}"


def is_wechat_session(sid: str) -> bool:
    return sid.startswith(SESSION_PREFIX)
