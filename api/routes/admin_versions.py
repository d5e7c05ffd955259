"""Admin: index versions with who/when/what changed, and rollback (activate an older kept version)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api import errors
from api.deps import AdminSession, AuditDep, JobsDep, RetrieverDep, SettingsDep
from knowledge.errors import LibraryConflict
from knowledge.ingest import activate
from knowledge.store import VersionInfo

router = APIRouter(prefix="/v1/admin", tags=["admin: versions"])


class VersionDocument(BaseModel):
    doc_id: str
    title: str
    region: str
    source_name: str
    chunks: int | None


class VersionRow(BaseModel):
    version: str
    created_at: str
    author: str
    changes: list[str]
    note: str
    chunk_count: int
    current: bool
    documents: list[VersionDocument]


def version_row(info: VersionInfo, current: str | None) -> VersionRow:
    return VersionRow(
        version=info.version,
        created_at=info.created_at,
        author=info.author,
        changes=info.changes,
        note=info.note,
        chunk_count=info.chunk_count,
        current=info.version == current,
        documents=[
            VersionDocument(
                doc_id=e.doc_id, title=e.title, region=e.region, source_name=e.file, chunks=e.chunks
            )
            for e in info.sources
        ],
    )


@router.get("/versions", response_model=list[VersionRow])
def list_versions(_: AdminSession, retriever: RetrieverDep) -> list[VersionRow]:
    store = retriever.store
    current = store.current_version()
    return [version_row(info, current) for info in store.versions()]


@router.post("/versions/{version}/activate", response_model=VersionRow, responses=errors.responses(404, 409))
def activate_version(
    version: str,
    session: AdminSession,
    settings: SettingsDep,
    retriever: RetrieverDep,
    audit: AuditDep,
    jobs: JobsDep,
) -> VersionRow:
    if jobs.busy():  # a job on any replica (the ingest file lock below only sees this data dir)
        raise LibraryConflict(
            "正在重建索引，请等任务结束后再切换版本 (a re-index job is running; try again when it has finished)"
        )
    before = retriever.store.current_version()
    info = activate(settings, version)  # 404 unknown/pruned, 409 while a job is switching versions
    retriever.snapshot(force_check=True)  # this process answers from it right away
    audit.record(
        actor=session.username,
        role=session.role,
        action="version.activate",
        target=f"version:{version}",
        before={"version": before},
        after={"version": version},
        detail="rollback" if before and version < before else "activate",
    )
    return version_row(info, version)
