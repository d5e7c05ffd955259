"""Security headers on every response: a Content-Security-Policy per kind of page, framing rules, nosniff.

- The pages (/, /operator, /admin) load only our own scripts, styles and API; an inline ``<style>`` block of
  a page is allowed by its hash, computed from the file at start-up (edit the page, restart, still allowed).
  No inline scripts, no eval.
- The consoles (/operator, /admin) may not be framed at all (``frame-ancestors 'none'``, X-Frame-Options DENY):
  they act with a staff session. The resident page (/) may be framed by the pages allowed to embed the
  widget (MINSHENG_CORS_ORIGINS, "*" by default): portals whose CMS takes no third-party script can show
  the assistant in an iframe, and the page has nothing a click-jacker could use (no session, no staff
  action). The usual embed is ``<script src=".../static/widget/widget.js">``: that script runs under the host
  page's own policy, and these headers do not concern it.
- API responses and static files: ``default-src 'none'`` (nothing in a JSON body can run or load anything).
- /docs and /redoc (FastAPI's Swagger UI and ReDoc) load their code from cdn.jsdelivr.net with an inline
  bootstrap script: that is allowed there and only there.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
_INLINE = re.compile(r"<(style|script)(\s[^>]*)?>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def inline_hashes(html: str) -> tuple[list[str], list[str]]:
    """CSP hashes of a page's inline <style> blocks and inline <script> blocks (those without src)."""
    styles, scripts = [], []
    for tag, attrs, body in _INLINE.findall(html):
        if tag.lower() == "style":
            styles.append(_sha256(body))
        elif "src=" not in (attrs or "").lower():
            scripts.append(_sha256(body))
    return styles, scripts


def frame_ancestors(origins: Iterable[str]) -> str:
    origins = [o.strip() for o in origins if o.strip()]
    if not origins:
        return "'none'"
    if "*" in origins:
        return "*"
    return " ".join(["'self'", *origins])


def page_csp(page: Path, ancestors: str) -> str:
    styles, scripts = inline_hashes(page.read_text(encoding="utf-8")) if page.is_file() else ([], [])
    script_src = " ".join(["'self'", *scripts])
    style_src = " ".join(["'self'", *styles])
    return (
        f"default-src 'self'; script-src {script_src}; style-src {style_src}; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


def policies(web_dir: Path, embed_origins: Iterable[str]) -> dict[str, dict[str, str]]:
    """Path → extra headers for the pages; every other path gets the API policy."""
    console = {"X-Frame-Options": "DENY"}
    pages = {
        "/": {"Content-Security-Policy": page_csp(web_dir / "index.html", frame_ancestors(embed_origins))},
        "/operator": {
            "Content-Security-Policy": page_csp(web_dir / "operator" / "index.html", "'none'"),
            **console,
        },
        "/admin": {
            "Content-Security-Policy": page_csp(web_dir / "admin" / "index.html", "'none'"),
            **console,
        },
    }
    for path in DOCS_PATHS:
        pages[path] = {"Content-Security-Policy": DOCS_CSP, **console}
    return pages


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP response (errors from inside the app included); never overrides a route's."""

    def __init__(self, app: ASGIApp, web_dir: Path, embed_origins: Iterable[str]) -> None:
        self.app = app
        self.pages = {
            path: list({**COMMON, **extra}.items())
            for path, extra in policies(web_dir, embed_origins).items()
        }
        self.default = list({**COMMON, "Content-Security-Policy": API_CSP, "X-Frame-Options": "DENY"}.items())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.pages.get(scope["path"], self.default)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
