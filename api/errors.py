"""The API's one error model, and the only place that maps errors to HTTP answers.

Every error the API returns — request validation, typed knowledge errors, HTTPExceptions raised in routes and
dependencies (401/403/404/409/429 …), the body limit's 413 (api/body_limit.py), an unexpected 500 — is an
``ErrorBody``: ``{"detail": str, "code": str}``. ``detail`` is a readable sentence (Chinese first, English in
brackets) that the widget and the consoles show as it is; ``code`` is stable for programs (``not_found``,
``rate_limited``, ``duplicate_document`` …). A 422 from validation adds ``errors`` (each field's problem); a
rejected catalogue edit adds ``problems`` and ``broken_cases``.

The OpenAPI schema declares it for every status an operation returns: ``document(app)`` adds the statuses a
route's dependencies and parameters imply (401/403 staff login, 401 internal token, 429 rate limits, 413 and 422
for bodies and parameters); each route names what its own logic returns with ``responses=errors.responses(…)``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import redis
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from api.json_logs import request_id_var
from knowledge.errors import (
    CatalogueRejected,
    CorruptDocument,
    DocumentTooLarge,
    DuplicateDocument,
    EmptyDocument,
    IndexNotReady,
    InvalidMetadata,
    InvalidQuery,
    KnowledgeError,
    LibraryConflict,
    ModelUnavailable,
    NotFound,
    SourceError,
    UnsupportedFormat,
)

logger = logging.getLogger(__name__)

STATUS = {InvalidQuery: 422, SourceError: 422, NotFound: 404, IndexNotReady: 503, ModelUnavailable: 503}
STATUS[CatalogueRejected] = 409  # a catalogue edit failed validation or broke test cases
# Document lifecycle (uploads, drafts, publishing): every refusal changes nothing.
STATUS |= {
    DocumentTooLarge: 413,
    UnsupportedFormat: 415,
    CorruptDocument: 422,
    EmptyDocument: 422,
    InvalidMetadata: 422,
    DuplicateDocument: 409,
    LibraryConflict: 409,
}

# The code of an error that names none: by status.
CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_format",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
# What each status means, as the OpenAPI schema says it.
DESCRIPTIONS = {
    400: "请求体无法解析：不是 UTF-8 的 JSON 或损坏的表单 (malformed body)",
    401: "未登录、登录已过期或内部令牌错误 (authentication required)",
    403: "角色无权访问，或 Cookie 登录的写请求缺少 CSRF 令牌 (forbidden)",
    404: "不存在 (not found)",
    409: "与当前状态冲突，什么都没有改变 (conflict)",
    413: "请求体或文件超过上限 (too large)",
    415: "不支持的文件类型 (unsupported format)",
    422: "请求不合法：字段、参数或内容有误 (invalid request)",
    429: "请求太频繁：按 Retry-After 头（秒）等待后再试 (rate limit exceeded)",
    503: "依赖的服务暂时不可用（索引、模型或对话服务）(unavailable)",
}
# The 200 of a server-sent event stream (its errors are still JSON, declared by ``document``).
EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "server-sent events",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
# FastAPI's 400 for a body it cannot even decode (malformed JSON that decodes is a 422 validation error).
_FASTAPI_UNPARSEABLE = "There was an error parsing the body"
RETRY_AFTER = {"Retry-After": {"description": "等待的秒数 (seconds to wait)", "schema": {"type": "integer"}}}


class FieldProblem(BaseModel):
    loc: list[str | int]
    type: str | None = None
    msg: str | None = None


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    detail: str = Field(description="可直接展示的说明（中文在前，括号内英文）")
    code: str = Field(description="供程序判断的错误代码，如 not_found、rate_limited、invalid_request")
    errors: list[FieldProblem] | None = Field(None, description="422：每个字段的问题")
    problems: list[str] | None = Field(None, description="409 目录编辑：未通过的检查")
    broken_cases: list[dict[str, Any]] | None = Field(None, description="409 目录编辑：被破坏的测试用例")


class ApiError(HTTPException):
    """An HTTPException with its own code (``code`` defaults to the status's)."""

    def __init__(self, status_code: int, detail: str, code: str | None = None, headers=None) -> None:
        super().__init__(status_code, detail, headers=headers)
        self.code = code or CODES.get(status_code, f"http_{status_code}")


def raises(*statuses: int, methods: tuple[str, ...] | None = None):
    """Marks a dependency with the error statuses it raises (on requests of these methods, default any), for
    ``document`` to declare on every route using it."""

    def mark(fn):
        fn.error_statuses, fn.error_methods = statuses, methods
        return fn

    return mark


def error_response(status: int, detail: str, code: str | None = None, headers=None, **extra) -> JSONResponse:
    body = {"detail": detail, "code": code or CODES.get(status, f"http_{status}"), **extra}
    return JSONResponse(status_code=status, content=body, headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for these error statuses, all with the one error model."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"model": ErrorBody, "description": DESCRIPTIONS.get(status, CODES.get(status, ""))}
        if status == 429:
            out[status]["headers"] = RETRY_AFTER
    return out


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _field(loc: tuple) -> str:
    # loc starts with where the value came from ("body", "query", "path"); the rest names the field.
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in ("body", "query", "path") else loc)]
    return ".".join(parts) or "request body"


def _describe(error: dict) -> str:
    kind, field = error.get("type", ""), _field(tuple(error.get("loc", ())))
    if kind == "json_invalid":
        return "请求体不是合法的 JSON (malformed JSON body)"
    if kind == "missing":
        return f"缺少字段 {field} (field required)"
    if kind == "extra_forbidden":
        return f"不认识的字段 {field} (unknown field)"
    if kind == "literal_error":
        return f"{field} 的取值不在允许范围内：{error.get('msg', '')}"
    return f"{field}: {error.get('msg', 'invalid value')}"


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        message = "；".join(_describe(e) for e in errors) or "请求不合法"
        safe = [
            {
                "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
                "type": e.get("type"),
                "msg": e.get("msg"),
            }
            for e in errors
        ]
        return error_response(422, message, "validation_error", errors=safe)

    @app.exception_handler(KnowledgeError)
    async def _knowledge(_: Request, exc: KnowledgeError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 500)
        extra: dict[str, Any] = {}
        if isinstance(exc, CatalogueRejected):  # the editor lists each problem and each broken case
            extra = {"problems": exc.problems, "broken_cases": jsonable_encoder(exc.broken_cases)}
        return error_response(status, str(exc), _snake(type(exc).__name__), **extra)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = getattr(exc, "code", None)
        if exc.status_code == 400 and detail == _FASTAPI_UNPARSEABLE:
            detail, code = DESCRIPTIONS[400], "malformed_body"
        return error_response(exc.status_code, detail, code, headers=getattr(exc, "headers", None))

    # A shared service out of reach (issue 16: Redis or the Chroma server restarting, a network blip) is a 503
    # the widget retries after Retry-After, not a 500: nothing is wrong with the request, and the resident's
    # message is kept (api/chat_gateway.py) or was never taken.
    @app.exception_handler(redis.ConnectionError)
    @app.exception_handler(redis.TimeoutError)
    async def _session_store_away(_: Request, exc: Exception) -> JSONResponse:
        logger.warning("Redis unreachable: %s", exc)
        return error_response(
            503,
            "会话服务暂时不可用，请稍后重试。(session store unavailable)",
            "store_unavailable",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(httpx.TransportError)
    async def _dependency_away(_: Request, exc: Exception) -> JSONResponse:
        logger.warning("a dependency did not answer (%s): %s", type(exc).__name__, exc)
        return error_response(
            503,
            "知识库暂时无法访问，请稍后重试。(knowledge base unavailable)",
            "dependency_unavailable",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback and re-raises after this answer; the body stays in the one model. It runs
        # outside the request-id middleware, which leaves the id bound for it (api/request_id.py).
        request_id = request_id_var.get()
        return error_response(
            500,
            "服务器内部错误，请稍后再试 (internal server error)",
            headers={"X-Request-ID": request_id} if request_id else None,
        )


# --- the OpenAPI schema: every status each operation returns --------------------------------------------


def _calls(dependant: Dependant) -> list[Any]:
    out = [dependant.call]
    for sub in dependant.dependencies:
        out += _calls(sub)
    return out


def _has_params(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.header_params or dependant.cookie_params:
        return True
    return bool(dependant.body_params) or any(_has_params(d) for d in dependant.dependencies)


def api_routes(routes: list[Any], inherited: tuple = ()) -> Iterator[tuple[APIRoute, tuple]]:
    """Every API route with the dependencies its routers were included with.

    FastAPI ≥ 0.16x keeps an included router as one entry and builds each route's effective form lazily (from
    the original route, on first use); older versions copy the routes into the app, include-level dependencies
    already in their dependant. Either way the original route is the one to declare responses on."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route, inherited
        elif hasattr(route, "original_router") and hasattr(route, "include_context"):
            context = route.include_context
            yield from api_routes(route.original_router.routes, (*inherited, *context.dependencies))


def implied_statuses(route: APIRoute, inherited: tuple = ()) -> set[int]:
    """The error statuses a route's dependencies and parameters can produce."""
    statuses: set[int] = set()
    calls = _calls(route.dependant) + [c for d in inherited for c in _calls(_dependant_of(d))]
    for call in calls:
        methods = getattr(call, "error_methods", None)
        if methods is None or route.methods & set(methods):
            statuses |= set(getattr(call, "error_statuses", ()))
    if route.body_field is not None:
        statuses |= {400, 413, 422}  # bytes that do not parse, the body limit (api/body_limit.py), validation
    elif _has_params(route.dependant) or any(_has_params(_dependant_of(d)) for d in inherited):
        statuses.add(422)
    return statuses


def _dependant_of(depends: Any) -> Dependant:
    from fastapi.dependencies.utils import get_dependant

    return get_dependant(path="", call=depends.dependency)


def document(app: FastAPI) -> None:
    """Declare the error model for every error status of every operation (call after including the routers,
    before the app serves anything).

    Dependencies mark what they raise with ``raises`` (api/deps.py, api/rate_limits.py); routes name the
    statuses of their own logic with ``responses=errors.responses(…)``."""
    for route, inherited in api_routes(app.router.routes):
        if not route.include_in_schema:
            continue
        declared = dict(route.responses)
        for status, spec in responses(*sorted(implied_statuses(route, inherited))).items():
            declared.setdefault(status, spec)
        json_route = _media_type(route) == "application/json"
        for status, spec in list(declared.items()):
            code = int(status) if str(status).isdigit() else None
            if code is None or code < 400 or "model" in spec or "content" in spec:
                continue
            spec = {**responses(code)[code], **spec}
            if (
                not json_route
            ):  # a stream's errors are still JSON: FastAPI would file the model under its type
                del spec["model"]
                spec["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            declared[status] = spec
        route.responses = declared
        for status, spec in declared.items():  # what FastAPI builds from ``responses=`` when a route is made
            if "model" in spec and status not in route.response_fields:
                route.response_fields[status] = create_model_field(
                    name=f"Response_{status}_{route.unique_id}", type_=spec["model"], mode="serialization"
                )


def _media_type(route: APIRoute) -> str | None:
    response_class = getattr(route.response_class, "value", route.response_class)  # a DefaultPlaceholder
    return getattr(response_class, "media_type", None)
