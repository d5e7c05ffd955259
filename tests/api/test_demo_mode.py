"""Demo mode made explicit (issue 14, finding 6): the published secrets only in a loopback demo
(MINSHENG_DEMO=1, what `minsheng up` sets); the API refuses to start with them otherwise; demo accounts only in
demo mode; Secure staff cookies outside it; the development internal token refused outside it."""

from __future__ import annotations

import uuid

import pytest
import redis
from fastapi.testclient import TestClient

from api.auth import AuthStore
from api.cli import _seed_demo_accounts
from api.deployment import (
    InsecureDeployment,
    check_deployment,
    cookie_secure,
    deployment_problems,
    internal_token_ok,
    is_loopback,
)
from api.main import create_app
from knowledge.settings import Settings

OWN = {"internal_token": "own-internal-token-0123456789", "rasa_token": "own-rasa-token-0123456789"}


@pytest.fixture
def scratch(settings, ingested):
    """Test settings on a fresh Redis prefix (no staff accounts yet); the keys are removed afterwards."""
    base = {
        **settings.model_dump(),
        "redis_url": "redis://127.0.0.1:6379/7",
        "redis_prefix": f"demo-{uuid.uuid4().hex[:8]}",
    }

    def make(**changes) -> Settings:
        return Settings(**{**base, **changes})

    yield make
    r = redis.Redis.from_url(base["redis_url"])
    for key in r.scan_iter(f"{base['redis_prefix']}:*"):
        r.delete(key)


def test_published_secrets_are_refused_outside_demo_mode(scratch):
    with pytest.raises(InsecureDeployment) as caught:
        check_deployment(scratch(demo=False))
    message = str(caught.value)
    assert "MINSHENG_INTERNAL_TOKEN" in message and "MINSHENG_RASA_TOKEN" in message
    assert "MINSHENG_DEMO is off" in message and "docs/security.md" in message


def test_a_demo_on_a_public_address_is_refused_too(scratch):
    with pytest.raises(InsecureDeployment) as caught:
        check_deployment(scratch(demo=True), host="0.0.0.0")
    message = str(caught.value)
    assert "bound to 0.0.0.0, not a loopback address" in message
    # demo mode creates the demo accounts: their published passwords count as published secrets there
    assert "MINSHENG_DEMO_OPERATOR_PASSWORD" in message and "MINSHENG_DEMO_ADMIN_PASSWORD" in message
    check_deployment(
        scratch(demo=True, demo_operator_password="op-own-pass", demo_admin_password="ad-own-pass", **OWN),
        host="0.0.0.0",
    )  # every secret its own: allowed


def test_a_loopback_demo_starts_with_the_defaults(scratch):
    check_deployment(scratch(demo=True), host="127.0.0.1")
    check_deployment(scratch(demo=True), host="localhost")
    assert is_loopback("::1") and not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("")


def test_production_mode_with_own_secrets_starts(scratch):
    check_deployment(scratch(demo=False, **OWN), host="0.0.0.0")


def test_a_staff_account_left_on_a_demo_password_is_refused(scratch):
    prod = scratch(demo=False, **OWN)
    AuthStore(prod).add_user("operator", Settings.model_fields["demo_operator_password"].default, "operator")
    problems = deployment_problems(prod)
    assert len(problems) == 1 and "'operator' still has the published demo password" in problems[0]
    AuthStore(prod).add_user("operator", "a-password-of-its-own", "operator")
    assert deployment_problems(prod) == []


def test_the_app_refuses_to_start_with_published_secrets(scratch):
    app = create_app(scratch(demo=False))
    with pytest.raises(InsecureDeployment, match="refusing to start"), TestClient(app):
        pass


def test_demo_accounts_only_in_demo_mode(scratch):
    prod = scratch(demo=False, **OWN)
    assert _seed_demo_accounts(prod) == {}
    assert AuthStore(prod).users() == []
    demo = scratch(demo=True)
    logins = _seed_demo_accounts(demo)
    assert logins == {"operator": demo.demo_operator_password, "admin": demo.demo_admin_password}
    assert sorted(u.username for u in AuthStore(demo).users()) == ["admin", "operator"]


def test_the_development_internal_token_counts_in_demo_mode_only(scratch):
    dev = Settings.model_fields["internal_token"].default
    assert internal_token_ok(scratch(demo=True), dev)
    assert not internal_token_ok(scratch(demo=False), dev)
    own = scratch(demo=False, **OWN)
    assert internal_token_ok(own, OWN["internal_token"]) and not internal_token_ok(own, dev)
    assert not internal_token_ok(own, None) and not internal_token_ok(own, "")


def _login_cookies(settings: Settings) -> list[str]:
    AuthStore(settings).add_user("cookie-op", "operator-pass-1", "operator")
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/auth/login", json={"username": "cookie-op", "password": "operator-pass-1"})
        assert r.status_code == 200, r.text
        return r.headers.get_list("set-cookie")


def test_staff_cookies_are_secure_outside_demo_mode(scratch):
    assert cookie_secure(scratch(demo=False, cookie_secure=False))
    assert not cookie_secure(scratch(demo=True)) and cookie_secure(scratch(demo=True, cookie_secure=True))
    cookies = _login_cookies(scratch(demo=False, **OWN))
    assert len(cookies) == 2 and all("; secure" in c.lower() for c in cookies), cookies


def test_demo_cookies_work_on_plain_http_localhost(scratch):
    cookies = _login_cookies(scratch(demo=True))
    assert len(cookies) == 2 and not any("; secure" in c.lower() for c in cookies), cookies
