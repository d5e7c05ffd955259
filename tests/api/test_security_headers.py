"""Security headers (issue 14, finding 6) on every response: a CSP the pages work with (their inline <style> by
hash, no inline script), no framing of the consoles, the resident page framable by the widget's embedders,
nosniff and Referrer-Policy everywhere, including errors. The browser tests (tests/e2e/test_browser_*.py) run
the pages under these headers in Chromium."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from api.main import WEB_DIR, create_app
from api.security_headers import frame_ancestors, inline_hashes
from knowledge.settings import Settings


@pytest.fixture(scope="module")
def client(settings, ingested):
    with TestClient(create_app(settings)) as c:
        yield c


def csp(response) -> dict[str, str]:
    directives = [d.strip() for d in response.headers["content-security-policy"].split(";")]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in directives if d}


def _common(response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" in response.headers


@pytest.mark.parametrize("path", ["/operator", "/admin"])
def test_consoles_cannot_be_framed_and_run_only_our_scripts(client, path):
    r = client.get(path)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    _common(r)
    policy = csp(r)
    assert policy["frame-ancestors"] == "'none'"
    assert r.headers["x-frame-options"] == "DENY"
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    assert (
        policy["default-src"] == "'self'"
        and policy["object-src"] == "'none'"
        and policy["base-uri"] == "'none'"
    )


def test_the_resident_page_allows_its_own_inline_style_by_hash(client):
    r = client.get("/")
    assert r.status_code == 200
    _common(r)
    policy = csp(r)
    assert policy["script-src"] == "'self'"
    style = re.search(r"<style>(.*?)</style>", r.text, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy["style-src"] == f"'self' 'sha256-{digest}'"
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert "unsafe-eval" not in r.headers["content-security-policy"]
    # every <script> on the page loads a file of ours
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", r.text))


def test_the_resident_page_may_be_framed_by_the_widgets_embedders(client):
    r = client.get("/")
    assert csp(r)["frame-ancestors"] == "*"  # MINSHENG_CORS_ORIGINS defaults to "*"
    assert "x-frame-options" not in r.headers  # it could not express the list; frame-ancestors decides
    assert frame_ancestors(["https://www.gxzf.gov.cn"]) == "'self' https://www.gxzf.gov.cn"
    assert frame_ancestors([]) == "'none'"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/v1/life-events", 200),
        ("GET", "/static/widget/widget.js", 200),
        ("GET", "/v1/no-such-thing", 404),
        ("POST", "/v1/search", 422),
        ("GET", "/v1/admin/documents", 401),
    ],
)
def test_every_other_response_gets_the_api_policy(client, method, path, status):
    r = client.request(method, path, json={} if method == "POST" else None)
    assert r.status_code == status
    _common(r)
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert r.headers["x-frame-options"] == "DENY"


def test_docs_keep_working_and_cannot_be_framed(client):
    r = client.get("/docs")
    assert r.status_code == 200
    policy = csp(r)
    assert "https://cdn.jsdelivr.net" in policy["script-src"] and policy["frame-ancestors"] == "'none'"


def test_an_inline_script_would_need_its_own_hash():
    styles, scripts = inline_hashes("<style>a{}</style><script>x()</script><script src='/a.js'></script>")
    assert len(styles) == 1 and len(scripts) == 1  # the src= script is not inline
    page = (WEB_DIR / "operator" / "index.html").read_text(encoding="utf-8")
    assert inline_hashes(page) == ([], [])  # the consoles have neither


def test_headers_follow_the_embedders_setting(settings, ingested):
    narrow = Settings(**{**settings.model_dump(), "cors_origins": ["https://www.nx.gov.cn"]})
    with TestClient(create_app(narrow)) as c:
        assert csp(c.get("/"))["frame-ancestors"] == "'self' https://www.nx.gov.cn"
        assert csp(c.get("/admin"))["frame-ancestors"] == "'none'"
