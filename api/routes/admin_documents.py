"""Admin: the published documents, uploads as drafts with a parse preview, publish / replace / delete.

Uploads only stage a draft (converted text stored, nothing published); publishing and deleting run as
background jobs that build a new index version. Every bad input is refused before anything is stored.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, Field

from api import errors
from api.deps import AdminSession, AnswerCacheDep, AuditDep, JobsDep, LibraryDep
from api.jobs import Job
from knowledge.converters import FORMATS, MAX_UPLOAD_BYTES, extension
from knowledge.dating import STATUS_LABELS, DocKind, Status, dating_from_meta, successors
from knowledge.dating import status as status_on
from knowledge.errors import (
    DocumentTooLarge,
    InvalidMetadata,
    InvalidQuery,
    LibraryConflict,
    UnknownDocument,
    UnsupportedFormat,
)
from knowledge.library import DatingChange, DocumentLibrary, Draft, parse_fields
from knowledge.sources import Period

router = APIRouter(prefix="/v1/admin", tags=["admin: documents"])

UploadFileField = Annotated[UploadFile, File(description="txt, md, docx, pdf, html（≤ 20 MB）")]


class DocumentRow(BaseModel):
    doc_id: str
    title: str
    short_title: str
    region: str
    issuer: str | None
    doc_number: str | None
    issued_on: date | None
    period: Period
    valid_from: date
    valid_to: date
    original_file: str
    source_name: str
    chunks: int | None
    version: str  # the current index version
    indexed_at: str  # when this exact text was first indexed (among the kept versions)
    # Dating (issue 13): period, valid_from/valid_to above and these are the metadata with the admins' later
    # dating changes laid over it — exactly what retrieval and answers use.
    kind: DocKind = "规划"
    supersedes: str | None = None
    superseded_by: str | None = Field(None, description="替代本文件的文件（优先取 as_of 当日已生效的）")
    status: Status
    status_label: str = Field(description="现行有效 / 规划期已结束 / 已被新文件替代 / 尚未施行")
    as_of: date = Field(description="状态所依据的日期")
    dating_changed: list[str] = Field(
        default_factory=list, description="发布后经“编辑有效期”修改过的字段（不随版本回滚）"
    )


def read_upload(file: UploadFile) -> tuple[str, bytes]:
    """The file's name and bytes; refuses oversized and unsupported files before reading them fully."""
    name = file.filename or ""
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        raise DocumentTooLarge(_too_large(file.size))
    if extension(name) not in FORMATS:
        raise UnsupportedFormat(
            f"不支持的文件类型 {extension(name) or '(无扩展名)'}，请上传 {'、'.join(FORMATS)} "
            f"(unsupported file type {name!r})"
        )
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise DocumentTooLarge(_too_large(len(data)))
    return name, data


def _too_large(size: int) -> str:
    return f"文件超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB 上限 (file too large: {size} bytes > {MAX_UPLOAD_BYTES})"


def _overrides(meta: str | None) -> dict[str, Any]:
    if not meta or not meta.strip():
        return {}
    try:
        value = json.loads(meta)
    except json.JSONDecodeError as exc:
        raise InvalidMetadata(f"元数据不是合法的 JSON (meta is not valid JSON: {exc.msg})") from exc
    if not isinstance(value, dict):
        raise InvalidMetadata("元数据必须是 JSON 对象 (meta must be a JSON object)")
    return value


def draft_summary(draft: Draft) -> dict[str, Any]:
    """What the audit log keeps about a draft (its preview is derivable from the stored text)."""
    return {
        "draft": draft.id,
        "doc_id": draft.meta.doc_id,
        "title": draft.meta.title,
        "source_name": draft.source_name,
        "sha256": draft.sha256,
        "replaces": draft.replaces,
        "chunks": draft.preview.chunk_count,
    }


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_as_of(value: str | None) -> date:
    """``?as_of=YYYY-MM-DD`` (default today) or a readable 422."""
    if value is None or not value.strip():
        return date.today()
    try:
        if not _ISO_DATE.match(value.strip()):
            raise ValueError(value)
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidQuery(
            f"as_of 必须是 YYYY-MM-DD 格式的日期，收到的是 {value[:40]!r} (as_of must be an ISO date, e.g. 2024-06-01)"
        ) from None


AsOfQuery = Annotated[str | None, Query(description="按哪一天判断文件状态（YYYY-MM-DD，默认今天）")]


def document_rows(library: DocumentLibrary, as_of: date | None = None) -> list[DocumentRow]:
    """The published documents with their dating and status on ``as_of`` (default today), judged by
    knowledge.dating over the same metadata and dating changes the retriever uses."""
    as_of = as_of or date.today()
    current = library.store.current_version()
    if current is None:
        return []
    versions = library.store.versions()
    first_seen: dict[tuple[str, str], str] = {}
    for info in reversed(versions):  # oldest first
        for entry in info.sources:
            first_seen.setdefault((entry.file, entry.sha256), info.created_at)
    entries = {e.file: e for e in library.store.info(current).sources}
    docs = library.documents_of(current)
    overrides = library.dating_overrides()
    metas = {d.meta.doc_id: entries[d.file_name].meta or d.meta.model_dump(mode="json") for d in docs}
    datings = [dating_from_meta(meta, overrides.get(doc_id)) for doc_id, meta in metas.items()]
    replaced = successors(datings, as_of)
    named_by = {d.supersedes: d.doc_id for d in sorted(datings, key=lambda d: d.valid_from) if d.supersedes}
    rows = []
    for doc, dating in zip(docs, datings, strict=True):
        entry = entries[doc.file_name]
        state = status_on(dating, as_of, replaced)
        fields = {
            **doc.meta.model_dump(),
            "kind": dating.kind,
            "supersedes": dating.supersedes,
            "period": Period(start=dating.period_start, end=dating.period_end),
            "valid_from": dating.valid_from,
            "valid_to": dating.valid_to,
        }
        rows.append(
            DocumentRow(
                **fields,
                source_name=doc.file_name,
                chunks=entry.chunks,
                version=current,
                indexed_at=first_seen.get((entry.file, entry.sha256), ""),
                superseded_by=replaced.get(dating.doc_id) or named_by.get(dating.doc_id),
                status=state,
                status_label=STATUS_LABELS[state],
                as_of=as_of,
                dating_changed=sorted(overrides.get(dating.doc_id, {})),
            )
        )
    return rows


@router.get("/documents", response_model=list[DocumentRow])
def list_documents(_: AdminSession, library: LibraryDep, as_of: AsOfQuery = None) -> list[DocumentRow]:
    return document_rows(library, parse_as_of(as_of))


@router.get("/documents/{doc_id}", response_model=DocumentRow, responses=errors.responses(404))
def get_document(doc_id: str, _: AdminSession, library: LibraryDep, as_of: AsOfQuery = None) -> DocumentRow:
    return _row(library, doc_id, parse_as_of(as_of))


def _row(library: DocumentLibrary, doc_id: str, as_of: date | None = None) -> DocumentRow:
    row = next((r for r in document_rows(library, as_of) if r.doc_id == doc_id), None)
    if row is None:
        raise UnknownDocument(f"没有已发布的文档 {doc_id} (unknown document {doc_id!r})")
    return row


@router.patch("/documents/{doc_id}/dating", response_model=DocumentRow, responses=errors.responses(404))
def change_dating(
    doc_id: str,
    body: DatingChange,
    session: AdminSession,
    library: LibraryDep,
    audit: AuditDep,
    answers: AnswerCacheDep,
) -> DocumentRow:
    """Change a published document's kind, supersedes (null clears it), period or validity. No re-indexing:
    the change is kept by doc_id and laid over every version, so retrieval and answers use it at once."""
    before, after = library.change_dating(doc_id, body)
    if after:
        answers.clear()  # cached answers were composed under the old dating
        audit.record(
            actor=session.username,
            role=session.role,
            action="document.dating",
            target=f"doc:{doc_id}",
            before=before,
            after=after,
            detail="；".join(f"{k}: {_shown(before.get(k))} → {_shown(after[k])}" for k in after),
        )
    return _row(library, doc_id)


def _shown(value: Any) -> str:
    if isinstance(value, dict) and "start" in value:
        return f"{value['start']}—{value.get('end')}"
    return "（无）" if value is None else str(value)


@router.post("/documents", response_model=Draft, status_code=201, responses=errors.responses(409, 415))
def upload_document(
    session: AdminSession,
    library: LibraryDep,
    audit: AuditDep,
    file: UploadFileField,
    meta: Annotated[str, Form(description="文档元数据 JSON：doc_id, title, short_title, region, period, …")],
) -> Draft:
    name, data = read_upload(file)
    fields = parse_fields(meta)
    draft = library.create_draft(fields, name, data, replaces=None, author=session.username)
    audit.record(
        actor=session.username,
        role=session.role,
        action="document.upload",
        target=f"draft:{draft.id}",
        after=draft_summary(draft),
        detail=f"{name} → {draft.source_name}",
    )
    return draft


@router.post(
    "/documents/{doc_id}/replace",
    response_model=Draft,
    status_code=201,
    responses=errors.responses(404, 409, 415),
)
def upload_replacement(
    doc_id: str,
    session: AdminSession,
    library: LibraryDep,
    audit: AuditDep,
    file: UploadFileField,
    meta: Annotated[str | None, Form(description="要修改的元数据字段（JSON）；省略则沿用原文档的")] = None,
) -> Draft:
    current = library.find(doc_id)
    name, data = read_upload(file)
    fields = library.replacement_fields(doc_id, _overrides(meta))
    draft = library.create_draft(fields, name, data, replaces=doc_id, author=session.username)
    audit.record(
        actor=session.username,
        role=session.role,
        action="document.upload",
        target=f"doc:{doc_id}",
        before={"source_name": current.file_name, "sha256": current.content_hash},
        after=draft_summary(draft),
        detail=f"replacement draft {draft.id}: {name} → {draft.source_name}",
    )
    return draft


@router.delete(
    "/documents/{doc_id}", response_model=Job, status_code=202, responses=errors.responses(404, 409)
)
def delete_document(
    doc_id: str, session: AdminSession, library: LibraryDep, jobs: JobsDep, audit: AuditDep
) -> Job:
    current = library.find(doc_id)
    library.plan_delete(doc_id)  # refuses the last document now rather than in the job
    job = jobs.submit("delete", created_by=session.username, role=session.role, target=doc_id)
    audit.record(
        actor=session.username,
        role=session.role,
        action="document.delete",
        target=f"doc:{doc_id}",
        before={"title": current.meta.title, "source_name": current.file_name},
        after={"job": job.id},
        detail=f"job {job.id}; the text stays stored and earlier versions keep it",
    )
    return job


# --- drafts ---------------------------------------------------------------------------------------
@router.get("/drafts", response_model=list[Draft])
def list_drafts(
    _: AdminSession,
    library: LibraryDep,
    status: Literal["pending", "published", "discarded", "all"] = "pending",
) -> list[Draft]:
    return library.list_drafts(None if status == "all" else status)


@router.get("/drafts/{draft_id}", response_model=Draft, responses=errors.responses(404))
def get_draft(draft_id: str, _: AdminSession, library: LibraryDep) -> Draft:
    return library.get_draft(draft_id)


@router.delete("/drafts/{draft_id}", response_model=Draft, responses=errors.responses(404, 409))
def discard_draft(draft_id: str, session: AdminSession, library: LibraryDep, audit: AuditDep) -> Draft:
    draft = library.discard_draft(draft_id)
    audit.record(
        actor=session.username,
        role=session.role,
        action="draft.discard",
        target=f"draft:{draft.id}",
        before=draft_summary(draft),
        detail="the draft's text stays stored",
    )
    return draft


@router.post(
    "/drafts/{draft_id}/publish", response_model=Job, status_code=202, responses=errors.responses(404, 409)
)
def publish_draft(
    draft_id: str, session: AdminSession, library: LibraryDep, jobs: JobsDep, audit: AuditDep
) -> Job:
    draft, _ = library.plan_publish(draft_id)  # 404 / 409 now, not later in the job
    if draft.job and any(j.id == draft.job for j in jobs.active()):
        raise LibraryConflict(
            f"草稿 {draft.id} 正在发布 (draft is already being published by job {draft.job})"
        )
    job = jobs.submit("publish", created_by=session.username, role=session.role, target=draft.id)
    library.update_draft(draft.id, job=job.id)
    audit.record(
        actor=session.username,
        role=session.role,
        action="document.replace" if draft.replaces else "document.publish",
        target=f"doc:{draft.meta.doc_id}",
        before={"version": job.previous_version},
        after={**draft_summary(draft), "job": job.id},
        detail=f"job {job.id}",
    )
    return job
