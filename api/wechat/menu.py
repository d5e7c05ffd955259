"""The 公众号 menu: deploy/wechat/menu.json (WeChat's own menu format) and what each CLICK key does.

A CLICK key either shows the welcome (None) or is sent to the conversation as if the resident had typed
its message, so a menu tap gets the same answer, citations and hand-off as the question typed.
Push the menu with ``minsheng wechat menu-push`` (menu/create through wechatpy).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from knowledge.settings import REPO_ROOT

MENU_FILE = REPO_ROOT / "deploy" / "wechat" / "menu.json"
CLICKS: dict[str, str | None] = {
    "MS_HELP": None,
    "MS_HANDOFF": "转人工",
    "MS_CHECK": "/check_eligibility",
    "MS_ASK_PRENATAL": "准备要孩子了，孕前检查免费吗",
    "MS_ASK_HOUSING": "公租房谁能申请",
    "MS_ASK_DIBAO": "低保怎么申请",
    "MS_ASK_ELDERLY": "老人能享受哪些养老服务",
}


def click_action(key: str | None) -> str | None:
    """The message a CLICK key sends to the conversation, or None for the welcome (unknown keys too)."""
    return CLICKS.get(key or "")


def load_menu(path: Path = MENU_FILE) -> dict[str, Any]:
    """The menu file, checked against WeChat's limits and our CLICK keys. Raises ValueError."""
    menu = json.loads(path.read_text(encoding="utf-8"))
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise ValueError('a menu has 1 to 3 top-level buttons under "button"')
    for button in buttons:
        if not 0 < len(str(button.get("name", "")).encode()) <= 16:
            raise ValueError(f"top-level menu name {button.get('name')!r}: 1 to 16 bytes (4 汉字)")
        subs = button.get("sub_button")
        if subs is not None and not 1 <= len(subs) <= 5:
            raise ValueError(f"menu {button.get('name')!r}: 1 to 5 sub-buttons")
        for item in subs or [button]:
            if subs and not 0 < len(str(item.get("name", "")).encode()) <= 60:
                raise ValueError(f"menu name {item.get('name')!r}: 1 to 60 bytes")
            if item.get("type") == "click" and item.get("key") not in CLICKS:
                raise ValueError(f"menu button {item.get('name')!r}: unknown CLICK key {item.get('key')!r}")
    return menu
