"""The review queue: pending suggestions with both customers and the evidence; decide one or many."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from store.views import web_page
from web.auth import User
from web.deps import current_user, redirect, render, require
from web.evidence import as_ingested
from web.perform import perform

router = APIRouter()
PAGE_SIZE = 10
MAX_PAGE = 1_000_000  # beyond, the row offset would overflow the store's integers: a 422, not a 500
# the suggestions an agent skipped (`s`), kept by the browser in a cookie so a reload remembers them
SKIP_COOKIE = "idres_skipped"
MAX_SKIPPED = 200


def skipped_ids(cookie: str | None) -> list[int]:
    """The skipped suggestion ids of the cookie (digits only, at most MAX_SKIPPED)."""
    ids = [int(part) for part in (cookie or "").split("-") if part.isdigit() and len(part) < 19]
    return list(dict.fromkeys(ids))[-MAX_SKIPPED:]


def _chart(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bars for the weight chart: each field's weight as a share of the largest, agreeing or not."""
    weights = [abs(float(item.get("weight") or 0.0)) for item in evidence]
    top = max(weights, default=0.0) or 1.0
    return [
        {
            **item,
            "weight": float(item.get("weight") or 0.0),
            "width": round(100 * abs(float(item.get("weight") or 0.0)) / top, 1),
            "agrees": float(item.get("weight") or 0.0)
            > 0,  # 0 (a disagreement capped at 0) is not drawn as support
        }
        for item in sorted(evidence, key=lambda e: -abs(float(e.get("weight") or 0.0)))
    ]


def _queue_url(band: str | None, channel: str | None, page: int = 1, order: str | None = None) -> str:
    wanted = {"band": band, "channel": channel, "order": order, "page": page if page > 1 else None}
    query = {k: v for k, v in wanted.items() if v}
    return "/queue" + (f"?{urlencode(query)}" if query else "")


@router.get("/queue")
def queue(
    request: Request,
    band: str = "",
    channel: str = "",
    order: str = "",
    page: int = Query(1, ge=1, le=MAX_PAGE),
    user: User = Depends(current_user),
) -> Response:
    """Pending suggestions, most probable first (or most informative first), filterable by band and channel."""
    page = max(page, 1)
    band_filter = band if band in web_page.QUEUE_BANDS else None
    order_filter = "informative" if order == "informative" else None
    skipped = skipped_ids(request.cookies.get(SKIP_COOKIE))
    gate = request.app.state.gate
    with gate.read() as store:
        known_channels = gate.lease.remembered("channels", lambda: web_page.channels(store))
        channel_filter = channel if channel in known_channels else None
        items, total = web_page.queue_page(
            store, band_filter, channel_filter, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
            skipped=skipped, order=order_filter or "probable",
        )  # fmt: skip
        people = web_page.customers_overview(
            store, [i["customer_id_l"] for i in items] + [i["customer_id_r"] for i in items]
        )
        # the compared identities' values as ingested: the overview read them already (their
        # customers' identities); only an identity that moved since the match run is read again
        raw = {int(i["identity_id"]): i for person in people.values() for i in person["identities"]}
        compared = [
            int(i[k]) for i in items for k in ("identity_id_l", "identity_id_r") if i.get(k) is not None
        ]
        raw.update(web_page.raw_identity_values(store, [i for i in compared if i not in raw]))
    for item in items:
        shown = as_ingested(item["evidence"], raw.get(item.get("identity_id_l") or -1),
                            raw.get(item.get("identity_id_r") or -1))  # fmt: skip
        item["chart"] = _chart(shown)
        item["left"] = people.get(int(item["customer_id_l"]))
        item["right"] = people.get(int(item["customer_id_r"]))
        item["skipped"] = int(item["suggestion_id"]) in skipped
    return render(
        request,
        "queue.html",
        user,
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        band=band_filter or "",
        channel=channel_filter or "",
        bands=web_page.QUEUE_BANDS,
        channels=known_channels,
        order=order_filter or "",
        here=_queue_url(band_filter, channel_filter, page, order_filter),
        prev_url=_queue_url(band_filter, channel_filter, page - 1, order_filter) if page > 1 else None,
        next_url=(
            _queue_url(band_filter, channel_filter, page + 1, order_filter)
            if page * PAGE_SIZE < total
            else None
        ),
    )


@router.post("/suggestions/{suggestion_id}/approve")
def approve(
    request: Request,
    suggestion_id: int,
    comment: str = Form(""),
    back: str = Form("/queue"),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """Approve one suggestion (the merge is applied by `apply-merges`)."""
    require(user, "review", csrf_token)
    return perform(
        request, user, "approve", {"suggestion_id": suggestion_id, "comment": comment.strip()}, back
    )


@router.post("/suggestions/{suggestion_id}/reject")
def reject(
    request: Request,
    suggestion_id: int,
    comment: str = Form(""),
    back: str = Form("/queue"),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """Reject one suggestion (never suggested again unless its evidence changes)."""
    require(user, "review", csrf_token)
    return perform(
        request, user, "reject", {"suggestion_id": suggestion_id, "comment": comment.strip()}, back
    )


@router.post("/queue/bulk-approve")
def bulk_approve(
    request: Request,
    min_probability: str = Form(""),
    band: str = Form(""),
    channel: str = Form(""),
    comment: str = Form(""),
    confirmed: str = Form(""),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """Approve every pending suggestion of the filtered set at or above a probability (after a count)."""
    require(user, "review", csrf_token)
    back = _queue_url(band or None, channel or None)
    try:
        threshold = float(min_probability)
    except ValueError:
        return redirect(request, back, "error", "Minimum probability must be a number between 0 and 1.")
    if not 0.0 <= threshold <= 1.0:
        return redirect(request, back, "error", "Minimum probability must be between 0 and 1.")
    arguments: dict[str, Any] = {
        "min_probability": threshold, "band": band, "channel": channel, "comment": comment.strip()
    }  # fmt: skip
    if confirmed != "yes":  # first say how many it will approve, and ask again
        with request.app.state.gate.read() as store:
            count = web_page.bulk_count(store, threshold, band or None, channel or None)
        return render(request, "bulk_confirm.html", user, count=count, back=back, **arguments)
    return perform(request, user, "bulk_approve", arguments, back)


@router.post("/suggestions/{suggestion_id}/merge-now")
def merge_now(
    request: Request,
    suggestion_id: int,
    back: str = Form("/queue"),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """Merge an approved pair at once through the audited apply run, instead of waiting for the flow."""
    require(user, "merge", csrf_token)
    return perform(request, user, "merge_now", {"suggestion_id": suggestion_id}, back)


@router.post("/merges/{merge_id}/undo")
def undo_merge(
    request: Request,
    merge_id: int,
    comment: str = Form(""),
    back: str = Form("/queue"),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """Undo a merge (the role that may): the customer is split off exactly; the pair becomes a cannot-link."""
    require(user, "undo", csrf_token)
    return perform(request, user, "undo_merge", {"merge_id": merge_id, "comment": comment.strip()}, back)
