"""Admin: background re-index jobs and their live progress (percent, chunks done, ETA, error)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import errors
from api.deps import AdminSession, JobsDep
from api.jobs import Job

router = APIRouter(prefix="/v1/admin", tags=["admin: jobs"])


@router.get("/jobs", response_model=list[Job])
def list_jobs(_: AdminSession, jobs: JobsDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[Job]:
    return jobs.list(limit)


@router.get("/jobs/{job_id}", response_model=Job, responses=errors.responses(404))
def get_job(job_id: str, _: AdminSession, jobs: JobsDep) -> Job:
    return jobs.get(job_id)
