"""The audit log, read-only: who did what, when, with before/after. There is no route that edits it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.audit import AuditEntry
from api.deps import AdminSession, AuditDep
from api.iso_dates import IsoDateTime

router = APIRouter(prefix="/v1/admin/audit", tags=["admin"])


@router.get("", response_model=list[AuditEntry])
def audit_log(
    _: AdminSession,
    audit: AuditDep,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="exact name, or a prefix ending in '.'")
    ] = None,
    target: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[IsoDateTime | None, Query(description="ISO date/time")] = None,
    until: Annotated[IsoDateTime | None, Query(description="ISO date/time")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditEntry]:
    return audit.query(
        actor=actor,
        action=action,
        target=target,
        since=since.timestamp() if since else None,
        until=until.timestamp() if until else None,
        limit=limit,
    )
