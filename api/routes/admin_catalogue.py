"""Catalogue editor (admin): read entries, check an edit against the schema, the sources and the test
cases, and publish it as a new catalogue revision. Failing checks → 409 with every problem and broken
case; nothing changes then. Each publish is audited with the entry before and after.

The request body of validate / PUT / POST is the service entry itself (the YAML-able dict GET returns).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel

from api import errors
from api.audit import AuditLog
from api.auth import Session
from api.deps import AdminSession, AuditDep, CatalogueStoreDep
from knowledge.catalogue.editing import CatalogueStore, CheckReport, Revision, ServiceSummary

router = APIRouter(prefix="/v1/admin/catalogue", tags=["admin"])

ServiceId = Annotated[str, Path(max_length=80)]
Entry = Annotated[dict[str, Any], Body(description="the service entry, as GET returns it")]
Note = Annotated[str, Query(max_length=300, description="why: shown in the revision history")]
BaseRevision = Annotated[
    str | None,
    Query(max_length=20, description="revision the edit started from; refused if the service changed since"),
]


class ServiceIndex(BaseModel):
    revision: str
    count: int
    services: list[ServiceSummary]


class EditableEntry(BaseModel):
    service_id: str
    revision: str
    entry: dict[str, Any]


class Published(BaseModel):
    revision: Revision
    entry: dict[str, Any]


class RevisionInfo(Revision):
    current: bool


@router.get("/services", response_model=ServiceIndex)
def list_services(_: AdminSession, store: CatalogueStoreDep) -> ServiceIndex:
    services = store.services()
    return ServiceIndex(revision=store.snapshot().revision, count=len(services), services=services)


@router.get("/services/{service_id}", response_model=EditableEntry, responses=errors.responses(404))
def get_entry(service_id: ServiceId, _: AdminSession, store: CatalogueStoreDep) -> EditableEntry:
    snap = store.snapshot()
    return EditableEntry(service_id=service_id, revision=snap.revision, entry=store.entry(service_id))


@router.post("/services/{service_id}/validate", response_model=CheckReport)
def validate(service_id: ServiceId, entry: Entry, _: AdminSession, store: CatalogueStoreDep) -> CheckReport:
    """Problems and every case result for this edit (a new id is checked as an addition). Changes nothing."""
    return store.check(service_id, entry)


@router.put("/services/{service_id}", response_model=Published, responses=errors.responses(404, 409))
def publish(
    service_id: ServiceId,
    entry: Entry,
    session: AdminSession,
    store: CatalogueStoreDep,
    audit: AuditDep,
    note: Note = "",
    base_revision: BaseRevision = None,
) -> Published:
    """Replace an existing service (404 if unknown; POST /services adds one)."""
    return _publish(store, audit, session, service_id, entry, note, base_revision, "edit")


@router.post("/services", response_model=Published, status_code=201, responses=errors.responses(409))
def add(
    entry: Entry, session: AdminSession, store: CatalogueStoreDep, audit: AuditDep, note: Note = ""
) -> Published:
    """Add a new service; its id comes from the entry (409 if it exists)."""
    service_id = entry.get("id")
    if not isinstance(service_id, str):
        service_id = ""  # validation reports the missing id as a problem (409)
    return _publish(store, audit, session, service_id, entry, note, None, "add")


@router.get("/revisions", response_model=list[RevisionInfo])
def revisions(
    _: AdminSession, store: CatalogueStoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[RevisionInfo]:
    current = store.current_revision()
    return [RevisionInfo(**r.model_dump(), current=r.id == current) for r in store.revisions()[:limit]]


def _publish(
    store: CatalogueStore,
    audit: AuditLog,
    session: Session,
    service_id: str,
    entry: dict[str, Any],
    note: str,
    base_revision: str | None,
    mode: Literal["edit", "add"],
) -> Published:
    revision = store.publish(
        service_id,
        entry,
        session.username,
        note=note,
        base_revision=base_revision,
        new=mode == "add",
    )
    # The entry as it stood in the parent revision: exact even if another admin published meanwhile.
    before = store.entry(service_id, revision.parent) if revision.action == "edit" else None
    after = store.entry(service_id, revision.id)
    audit.record(
        actor=session.username,
        role=session.role,
        action="catalogue.publish",
        target=service_id,
        before=before,
        after=after,
        detail=f"{revision.id}: {revision.summary}" + (f" — {note}" if note else ""),
    )
    return Published(revision=revision, entry=after)
