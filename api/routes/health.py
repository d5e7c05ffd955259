from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import RetrieverDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    index_version: str | None


@router.get("/healthz", response_model=Health)
def healthz(retriever: RetrieverDep) -> Health:
    version = retriever.store.current_version()
    return Health(status="ok" if version else "no-index", index_version=version)
