"""Customer search (from every page), the user's queued actions, and compliance requests with downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response

from review import search as customer_search
from web.auth import User
from web.deps import Forbidden, current_user, render

router = APIRouter()


@router.get("/search")
def search(request: Request, q: str = "", user: User = Depends(current_user)) -> Response:
    """Customers by name, email, phone, handle or id."""
    results: list[dict[str, Any]] = []
    if q.strip():
        with request.app.state.gate.read() as store:
            results = customer_search.search_customers(
                store, q, default_region=request.app.state.settings.ingest.default_region
            )
    return render(request, "search.html", user, q=q, results=results)


@router.get("/queued")
def queued(request: Request, user: User = Depends(current_user)) -> Response:
    """Actions of this user waiting for the store, and what became of earlier ones."""
    outbox = request.app.state.gate.outbox
    return render(
        request, "queued.html", user, pending=outbox.pending(user.name), results=outbox.results(user.name)
    )


@router.get("/requests/{request_id}/download")
def download(request: Request, request_id: int, user: User = Depends(current_user)) -> Response:
    """The export bundle of a finished request: compliance only, and audited."""
    if not user.can("download"):
        raise Forbidden(f"your role ({user.role}) may not download export bundles")
    from compliance.requests import get_request

    with request.app.state.gate.read() as store:
        found = get_request(store, request_id)
    if not found or found.get("kind") != "export" or not found.get("bundle_path"):
        raise HTTPException(404, f"request {request_id} has no export bundle to download")
    path = Path(found["bundle_path"])
    if not path.is_file():
        raise HTTPException(404, f"the bundle of request {request_id} is no longer on disk")
    # the download is audited through the gate: written now, or queued while a flow holds the store
    request.app.state.gate.run(
        user.name,
        "audit",
        {"action": "export.download", "subject_kind": "compliance_request", "subject_id": request_id,
         "details": {"file": path.name, "sha256": found.get("bundle_sha256")}},
    )  # fmt: skip
    return FileResponse(path, filename=path.name, media_type="application/octet-stream")
