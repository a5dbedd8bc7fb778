"""Compliance requests on the page: the list (filters, due dates), requests by e-mail or phone, and the
confirmation of which customers a person's request covers."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response

from domain.statuses import OPEN_REQUESTS
from web.auth import User
from web.deps import Forbidden, current_user, redirect, render, require

router = APIRouter()
_REQUEST_ID = re.compile(r"request (\d+) recorded")


def _may_see(user: User) -> None:
    if not (user.can("export") or user.can("anonymize")):
        raise Forbidden(f"your role ({user.role}) may not see compliance requests")


def request_arguments(request: Request, lookup: dict[str, Any], reason: str) -> dict[str, Any]:
    """The action arguments of a new request: the lookup, the reason and the lookup settings."""
    settings = request.app.state.settings
    return {**lookup, "reason": reason.strip(), "default_region": settings.ingest.default_region,
            "review_threshold": settings.match.review_threshold}  # fmt: skip


def submit_request(request: Request, user: User, kind: str, arguments: dict[str, Any], back: str) -> Response:
    """Record a request and go to its page (where a person's candidates are confirmed)."""
    action = "request_export" if kind == "export" else "request_anonymization"
    try:
        outcome = request.app.state.gate.run(user.name, action, arguments)
    except ValueError as error:
        return redirect(request, back, "error", str(error))
    found = _REQUEST_ID.search(outcome.message)
    if outcome.status == "done" and found:
        return redirect(request, f"/requests/{found.group(1)}", "ok", outcome.message)
    return redirect(request, back, "ok" if outcome.status == "done" else "queued", outcome.message)


@router.get("/requests")
def requests_page(
    request: Request,
    kind: str = "",
    status: str = "",
    q: str = "",
    overdue: str = "",
    user: User = Depends(current_user),
) -> Response:
    """Export and erasure requests, newest first, with due dates, filters and a form for a new one."""
    _may_see(user)
    from compliance.requests import KINDS, STATUSES, list_requests
    from store.db import utcnow

    with request.app.state.gate.read() as store:
        rows = list_requests(
            store, kind=kind if kind in KINDS else None, status=status if status in STATUSES else None,
            search=q or None, overdue=bool(overdue),
        )  # fmt: skip
    now = utcnow()
    for row in rows:
        open_ = row["status"] in OPEN_REQUESTS
        row["overdue"] = bool(open_ and row.get("due_at") and row["due_at"] < now)
    query = urlencode(
        {k: v for k, v in {"kind": kind, "status": status, "q": q, "overdue": overdue}.items() if v}
    )
    return render(
        request, "requests.html", user, rows=rows, kinds=KINDS, statuses=STATUSES, kind=kind, status=status,
        q=q, overdue=overdue, here="/requests" + (f"?{query}" if query else ""), problem=None,
    )  # fmt: skip


@router.post("/requests/new")
def new_request(
    request: Request,
    kind: str = Form("export"),
    email: str = Form(""),
    phone: str = Form(""),
    customer_id: str = Form(""),
    reason: str = Form(""),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """A request naming the person by e-mail, phone or customer id; candidates are confirmed next."""
    if kind not in ("export", "anonymize"):
        raise HTTPException(404, f"no request kind {kind!r}")
    require(user, kind, csrf_token)
    lookup: dict[str, Any] = {}
    if email.strip():
        lookup["email"] = email.strip()
    if phone.strip():
        lookup["phone"] = phone.strip()
    if customer_id.strip():
        if not customer_id.strip().lstrip("#").isdigit():
            return redirect(request, "/requests", "error", "A customer id is a number, e.g. 9623.")
        lookup["customer_id"] = int(customer_id.strip().lstrip("#"))
    if len(lookup) != 1:
        return redirect(
            request, "/requests", "error", "Give exactly one of: e-mail address, phone number, customer id."
        )
    return submit_request(request, user, kind, request_arguments(request, lookup, reason), "/requests")


@router.get("/requests/{request_id}")
def request_detail(request: Request, request_id: int, user: User = Depends(current_user)) -> Response:
    """One request: lookup, reason, due date, status; and the candidate customers to confirm."""
    _may_see(user)
    from compliance.requests import candidates_of, get_request

    with request.app.state.gate.read() as store:
        found = get_request(store, request_id)
        if found is None:
            raise HTTPException(404, f"no request {request_id}")
        candidates = candidates_of(store, found)
    return render(request, "request_detail.html", user, r=found, candidates=candidates)


@router.post("/requests/{request_id}/confirm")
async def confirm(request: Request, request_id: int, user: User = Depends(current_user)) -> Response:
    """Confirm the customers (ticked candidates) the request covers; it is then queued as one."""
    form = await request.form()
    require(user, "export", str(form.get("csrf_token") or ""))
    chosen = [int(str(v)) for v in form.getlist("customer_ids") if str(v).isdigit()]
    back = f"/requests/{request_id}"
    if not chosen:
        return redirect(request, back, "error", "Tick at least one customer the request covers.")
    from starlette.concurrency import run_in_threadpool

    from web.perform import perform

    return await run_in_threadpool(
        perform, request, user, "confirm_request", {"request_id": request_id, "customer_ids": chosen}, back
    )
