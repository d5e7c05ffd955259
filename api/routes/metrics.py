"""Prometheus scrape endpoint of this replica (api/metrics.py). Not in the OpenAPI schema and refused at the
public entry point (deploy/nginx.conf): Prometheus scrapes each replica directly, inside the cluster."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
