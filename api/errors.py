"""Typed knowledge errors → HTTP status codes, and human-readable 422s. The only place that maps them."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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
        safe = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors]
        return JSONResponse(status_code=422, content={"detail": message, "errors": safe})

    @app.exception_handler(KnowledgeError)
    async def _knowledge(_: Request, exc: KnowledgeError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 500)
        content = {"detail": str(exc)}
        if isinstance(exc, CatalogueRejected):  # the editor lists each problem and each broken case
            content |= {"problems": exc.problems, "broken_cases": jsonable_encoder(exc.broken_cases)}
        return JSONResponse(status_code=status, content=content)
