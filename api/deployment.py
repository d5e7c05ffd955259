"""Demo mode vs. a real deployment: which published defaults the API refuses to start with, and cookie flags.

``MINSHENG_DEMO=1`` (set and announced by ``minsheng up``) is a local demo: the development tokens and the demo
staff accounts with their published passwords are accepted, on a loopback address only. Anything else is a
deployment: every secret must be your own, staff cookies are ``Secure``, and a staff account that still accepts
a published demo password keeps the API from starting. See docs/security.md.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets

from knowledge.settings import Settings

logger = logging.getLogger(__name__)

# Secrets whose default values are published (README, knowledge/settings.py, actions/settings.py).
SECRET_SETTINGS = ("internal_token", "rasa_token")
# The demo staff accounts `minsheng up` creates in demo mode, and the setting holding each one's password.
DEMO_ACCOUNTS = {"operator": "demo_operator_password", "admin": "demo_admin_password"}


class InsecureDeployment(RuntimeError):
    """The API would run with a published secret; the message says which and what to do."""


def published_default(name: str) -> str:
    return Settings.model_fields[name].default


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name or a wildcard ("0.0.0.0", "::", ""): reachable from elsewhere


def default_secrets(settings: Settings) -> list[str]:
    """Environment names of the secrets that still have their published value (demo passwords in demo mode)."""
    names = [*SECRET_SETTINGS, *(DEMO_ACCOUNTS.values() if settings.demo else ())]
    return [f"MINSHENG_{n.upper()}" for n in names if getattr(settings, n) == published_default(n)]


def demo_accounts_with_published_passwords(settings: Settings, auth=None) -> list[str]:
    """Staff accounts named like the demo ones that still accept the published demo password."""
    from api.auth import AuthStore

    auth = auth or AuthStore(settings)
    found = []
    try:
        for username, setting in DEMO_ACCOUNTS.items():
            if auth.get_user(username) and auth.authenticate(username, published_default(setting)):
                found.append(username)
    except Exception as exc:  # noqa: BLE001 - Redis down at start-up: the API starts, the check is logged
        logger.warning("could not check the demo accounts (%s: %s)", type(exc).__name__, exc)
    return found


def deployment_problems(settings: Settings, host: str | None = None, auth=None) -> list[str]:
    host = settings.api_host if host is None else host
    problems = []
    defaults = default_secrets(settings)
    if defaults and not (settings.demo and is_loopback(host)):
        why = (
            f"the API is bound to {host or '(all addresses)'}, not a loopback address"
            if settings.demo
            else "MINSHENG_DEMO is off"
        )
        problems.append(
            f"{', '.join(defaults)} still {'has' if len(defaults) == 1 else 'have'} the published default "
            f"value and {why}. Set each to a secret of your own (e.g. `openssl rand -hex 24`; the action server "
            "needs the same MINSHENG_INTERNAL_TOKEN, Rasa the same MINSHENG_RASA_TOKEN), or run a local demo on "
            "127.0.0.1 with MINSHENG_DEMO=1 (what `minsheng up` does)."
        )
    if not settings.demo:
        for username in demo_accounts_with_published_passwords(settings, auth):
            problems.append(
                f"the staff account '{username}' still has the published demo password. Give it a new one "
                f"(`minsheng users add {username} --role {username}`) or run with MINSHENG_DEMO=1 on 127.0.0.1."
            )
    return problems


def check_deployment(settings: Settings, host: str | None = None, auth=None) -> None:
    """Raise InsecureDeployment (the API refuses to start) when a published default would be in use."""
    problems = deployment_problems(settings, host, auth)
    if problems:
        raise InsecureDeployment(
            "refusing to start with published defaults (docs/security.md, 'Production mode'):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def cookie_secure(settings: Settings) -> bool:
    """Staff cookies are Secure outside demo mode (and in demo mode when MINSHENG_COOKIE_SECURE is set)."""
    return settings.cookie_secure or not settings.demo


def internal_token_ok(settings: Settings, sent: str | None) -> bool:
    """The action server's shared secret; the published development token only counts in demo mode."""
    if not sent:
        return False
    if settings.internal_token == published_default("internal_token") and not settings.demo:
        return False
    return secrets.compare_digest(sent.encode(), settings.internal_token.encode())
