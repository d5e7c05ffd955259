"""WeChat's callback protocol, all through wechatpy: URL signatures, AES (compatible / safe mode), XML.

Every callback's URL carries ``signature`` = sha1 of the sorted token, timestamp and nonce. In compatible and
safe mode WeChat adds ``encrypt_type=aes`` and ``msg_signature`` (sha1 over token, timestamp, nonce and the
ciphertext) and puts the message in ``<Encrypt>`` (AES-256-CBC with the EncodingAESKey, the AppID inside);
a reply to an encrypted message is encrypted the same way. In plaintext mode nothing covers the body: safe
mode is the one to use in production (docs/wechat.md).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import BaseReply
from wechatpy.utils import check_signature

from knowledge.settings import WeChatAccount


class BadSignature(Exception):
    """Not signed with the account's token (or encrypted for another AppID): answered 403."""


class BadMessage(Exception):
    """Not a WeChat message we can read (malformed XML, missing fields, undecryptable): answered 400."""


@dataclass(frozen=True)
class Inbound:
    message: BaseMessage
    crypto: WeChatCrypto | None  # set when the message came encrypted: the reply goes back encrypted
    nonce: str


def url_signed(account: WeChatAccount, query: Mapping[str, str]) -> bool:
    """The URL's ``signature`` over the account's token, ``timestamp`` and ``nonce``."""
    signature, timestamp, nonce = (query.get(k) for k in ("signature", "timestamp", "nonce"))
    if not (signature and timestamp and nonce):
        return False
    try:
        check_signature(account.token, signature, timestamp, nonce)
    except InvalidSignatureException:
        return False
    return True


def read(account: WeChatAccount, query: Mapping[str, str], body: bytes) -> Inbound:
    """Verify and parse one callback POST. Raises BadSignature or BadMessage."""
    if not url_signed(account, query):
        raise BadSignature("signature")
    encrypted = (query.get("encrypt_type") or "raw").lower() == "aes"
    if account.mode == "safe" and not encrypted:
        raise BadSignature("safe mode: WeChat sends every message encrypted")
    crypto = None
    xml: bytes | str = body
    if encrypted:
        if not account.encoding_aes_key:
            raise BadMessage("an encrypted message, but no EncodingAESKey is configured for this account")
        crypto = WeChatCrypto(account.token, account.encoding_aes_key, account.app_id)
        try:
            xml = crypto.decrypt_message(
                body, query.get("msg_signature") or "", query["timestamp"], query["nonce"]
            )
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            raise BadSignature("msg_signature or AppID") from exc
        except Exception as exc:  # noqa: BLE001 - malformed XML, no <Encrypt>, bad base64 or padding
            raise BadMessage("undecryptable message") from exc
    try:
        message = parse_message(xml)
        if message is None or not message.source or not message.type:
            raise ValueError("no FromUserName or MsgType")
    except Exception as exc:  # noqa: BLE001 - whatever the XML parser or wechatpy's fields reject
        raise BadMessage("malformed message XML") from exc
    return Inbound(message=message, crypto=crypto, nonce=query["nonce"])


def render(inbound: Inbound, reply: BaseReply) -> str:
    """The reply's XML, encrypted (and signed with msg_signature) when the message came encrypted."""
    xml = reply.render()
    if inbound.crypto is None:
        return xml
    return inbound.crypto.encrypt_message(xml, inbound.nonce, str(int(time.time())))
