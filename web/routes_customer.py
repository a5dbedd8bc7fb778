"""The customer information panel: Summary, Profile, Conversations, Messages, Identities, Extra actions."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from compliance.requests import list_requests
from domain.columns import PROFILE_LIST_FIELDS
from review.customers import search_identities
from store import redirects
from store.views import web_page
from web.auth import User
from web.deps import current_user, redirect, render, require, safe_next
from web.perform import perform

router = APIRouter()
TABS = ("summary", "profile", "conversations", "messages", "identities", "actions")
_HIDDEN_DETAILS = {"before_image", "survivor_after", "applied_at", "requested_id"}
TEXT_FIELDS = ("first_name", "last_name", "display_name", "company", "gender", "city", "postcode", "country")
LIST_FIELDS = PROFILE_LIST_FIELDS


def _threads(
    conversations: list[dict[str, Any]], messages: list[dict[str, Any]], comments: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    by_id = {c["conversation_id"]: {**c, "messages": [], "comments": []} for c in conversations}
    for message in messages:
        if message["conversation_id"] in by_id:
            by_id[message["conversation_id"]]["messages"].append(message)
    for comment in comments:
        if comment["conversation_id"] in by_id:
            by_id[comment["conversation_id"]]["comments"].append(comment)
    return list(by_id.values())


def _values(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "nothing"
    return "nothing" if value in (None, "") else repr(str(value))


def _sentence(actor: str, action: str, details: dict[str, Any], customer_id: int) -> str | None:
    """An audited action on a customer in words, or None for one that is not shown (comments are listed as such)."""
    if action == "merge":
        absorbed, survivor = details.get("absorbed_id"), details.get("survivor_id")
        source = f" (suggestion {details['suggestion_id']})" if details.get("suggestion_id") else ""
        if survivor == customer_id:
            return f"{actor} merged customer {absorbed} into this customer{source}"
        return f"{actor} merged this customer into customer {survivor}{source}"
    if action == "merge_undo":
        return (f"{actor} undid merge {details.get('merge_id')}: customer {details.get('absorbed_id')} was split off "
                f"from customer {details.get('holder_id')}")  # fmt: skip
    if action == "customer_edit":
        old, new = details.get("old") or {}, details.get("new") or {}
        changes = [f"{f.replace('_', ' ')} from {_values(old.get(f))} to {_values(new.get(f))}" for f in new]
        return f"{actor} changed " + "; ".join(changes) if changes else f"{actor} edited the profile"
    if action == "customer_lock":
        return f"{actor} locked this customer (reason: {details.get('reason') or 'none given'})"
    if action == "customer_unlock":
        return f"{actor} unlocked this customer"
    if action == "anonymized":
        return f"{actor} anonymized this customer (erasure request {details.get('request_id')})"
    if action == "comment":
        return None
    return None


def _readable(row: dict[str, Any], customer_id: int = 0) -> dict[str, Any] | None:
    """An audited action as one sentence in words ("Alice merged customer 33083 into this customer")."""
    if row["kind"] != "action":
        return row
    try:
        details = json.loads(row["details"]) if row.get("details") else {}
    except ValueError:
        details = {}
    if not isinstance(details, dict):
        details = {}
    if row["text"] == "comment":
        return None  # the comment itself is listed; its audit entry would list it twice
    text = _sentence(str(row["who"]), str(row["text"]), details, customer_id)
    if text is None:
        parts = [f"{k.replace('_', ' ')}: {v}" for k, v in details.items()
                 if k not in _HIDDEN_DETAILS and isinstance(v, str | int | float) and len(str(v)) <= 120]  # fmt: skip
        text = f"{row['who']}: {row['text'].replace('_', ' ')}" + (f" ({'; '.join(parts)})" if parts else "")
    return {**row, "text": text}


@router.get("/customers/{customer_id}")
def customer_default(customer_id: int, user: User = Depends(current_user)) -> Response:
    """The panel opens on Summary."""
    return RedirectResponse(f"/customers/{customer_id}/summary", status_code=303)


@router.get("/customers/{customer_id}/{tab}")
def customer_panel(
    request: Request,
    customer_id: int,
    tab: str,
    q: str = "",
    edit: int = 0,
    user: User = Depends(current_user),
) -> Response:
    """One section of a customer's panel (merged customers redirect to their survivor)."""
    if tab not in TABS:
        raise HTTPException(404, f"no section {tab!r}")
    context: dict[str, Any] = {}
    with request.app.state.gate.read() as store:
        survivor = redirects.resolve_one(store, customer_id).survivor
        if survivor is None:
            raise HTTPException(404, f"no customer {customer_id}")
        if survivor != customer_id:
            return RedirectResponse(f"/customers/{survivor}/{tab}", status_code=303)
        profile = web_page.customer_profile(store, customer_id)
        identities = web_page.customer_identities(store, customer_id)
        context["duplicates"] = _duplicates(store, customer_id)
        context["merges"] = web_page.merges_of(store, customer_id) if user.can("undo") else []
        if tab == "summary":
            readable = (_readable(row, customer_id) for row in web_page.activity(store, customer_id))
            context["activity"] = [row for row in readable if row is not None]
        elif tab in ("conversations", "messages"):
            context["threads"] = _threads(
                web_page.conversations(store, customer_id),
                web_page.conversation_messages(store, customer_id, agent_only=tab == "conversations"),
                web_page.conversation_comments(store, customer_id),
            )
        elif tab == "identities" and q.strip():
            try:
                context["matches"] = _search_identities(store, q.strip(), customer_id)
            except ValueError as error:  # e.g. a one-letter query
                context["matches"], context["search_error"] = [], str(error)
        elif tab == "actions" and user.can("export"):
            context["requests"] = _requests_of(store, customer_id)
        elif tab == "profile":
            context["sources"] = profile_sources(profile or {}, identities)
    return render(
        request, f"customer_{tab}.html", user, tab=tab, tabs=TABS, customer=profile, identities=identities,
        q=q, text_fields=TEXT_FIELDS, editing=bool(edit), form_values={}, errors={}, **context,
    )  # fmt: skip


def profile_sources(profile: dict[str, Any], identities: list[dict[str, Any]]) -> dict[str, str]:
    """Where each profile value came from, in words (as `idres customers show` prints it)."""
    channels = {int(i["identity_id"]): i["channel"] for i in identities}
    raw = profile.get("profile_sources") or {}
    if isinstance(raw, str):
        raw = json.loads(raw)
    words: dict[str, str] = {}
    for field, source in raw.items() if isinstance(raw, dict) else []:
        if not isinstance(source, dict):
            continue
        if source.get("rule") == "agent_edited":
            who = f" by {source['agent']}" if source.get("agent") else ""
            when = f" on {str(source['at'])[:10]}" if source.get("at") else ""
            words[field] = f"edited{who}{when}"
        elif source.get("identity_id") is not None:
            channel = source.get("channel") or channels.get(int(source["identity_id"]), "")
            rule = str(source.get("rule") or "").replace("_", " ")
            words[field] = f"{channel} identity {source['identity_id']}" + (f" ({rule})" if rule else "")
    return words


def _duplicates(store: Any, customer_id: int) -> list[dict[str, Any]]:
    """The open suggestions of this customer, each with its evidence as ingested (the panel's card)."""
    from web.evidence import as_ingested

    rows = web_page.open_suggestions_of(store, customer_id)
    raw = web_page.raw_identity_values(
        store, [int(r[k]) for r in rows for k in ("identity_id_l", "identity_id_r") if r.get(k) is not None]
    )
    for row in rows:
        mine_left = int(row["customer_id_l"]) == customer_id
        evidence = as_ingested(row["evidence"], raw.get(row.get("identity_id_l") or -1),
                               raw.get(row.get("identity_id_r") or -1))  # fmt: skip
        # this customer's value first, the other's second
        row["evidence"] = [e if mine_left else {**e, "value_l": e["value_r"], "value_r": e["value_l"]}
                           for e in evidence]  # fmt: skip
    return rows


def _search_identities(store: Any, query: str, customer_id: int) -> list[dict[str, Any]]:
    """Identities matching `query` on other customers (the shared review search)."""
    found = search_identities(store, query, limit=20)
    return [row for row in found if int(row["customer_id"]) != customer_id]


def _requests_of(store: Any, customer_id: int) -> list[dict[str, Any]]:
    return [r for r in list_requests(store) if r.get("customer_id") == customer_id][:20]


@router.post("/customers/{customer_id}/comment")
def comment(
    request: Request,
    customer_id: int,
    body: str = Form(""),
    conversation_id: str = Form(""),
    back: str = Form(""),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """A comment on the customer (Summary) or on one of its conversations."""
    require(user, "comment", csrf_token)
    target = safe_next(back, default=f"/customers/{customer_id}/summary")  # never another site
    if not body.strip():
        return redirect(request, target, "error", "A comment cannot be empty.")
    arguments: dict[str, Any] = {"body": body.strip()}
    if conversation_id.strip():
        if not conversation_id.strip().isdigit() or len(conversation_id.strip()) > 18:
            raise HTTPException(
                400, f"conversation_id must be a conversation number, got {conversation_id[:40]!r}"
            )
        arguments["conversation_id"] = int(conversation_id)
    else:
        arguments["customer_id"] = customer_id
    return perform(request, user, "comment", arguments, target)


def profile_changes(form: dict[str, str], current: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The changes the form asks for, in `review.customers.edit_profile` terms; and problems found here.

    The service validates every value like ingested data (emails, phones, dates); here only the
    shape is checked, and list fields become what to add and what to remove.
    """
    changes: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for field in (*TEXT_FIELDS, "birth_date"):
        if field not in form:
            continue
        value = " ".join(form[field].split()) or None
        if value is not None and len(value) > 200:
            problems[field] = f"{field.replace('_', ' ')} is longer than 200 characters"
        if value != (current.get(field) or None):
            changes[field] = value
    for field in LIST_FIELDS:
        if field not in form:
            continue
        values = [v.strip() for v in re.split(r"[,;\n]", form[field]) if v.strip()]
        existing = list(current.get(field) or [])
        added = [v for v in values if v not in existing]
        removed = [v for v in existing if v not in values]
        if added:
            changes[field] = added
        if removed:
            changes[f"remove_{field}"] = removed
    return changes, problems


@router.post("/customers/{customer_id}/profile")
async def edit_profile(request: Request, customer_id: int, user: User = Depends(current_user)) -> Response:
    """Save the Profile form: only changed fields, validated here and again by the service."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    require(user, "edit_profile", form.get("csrf_token"))
    target = f"/customers/{customer_id}/profile"
    gate = request.app.state.gate

    def load_current() -> dict[str, Any] | None:
        with gate.read() as store:
            return web_page.customer_profile(store, customer_id)

    from starlette.concurrency import run_in_threadpool

    current = await run_in_threadpool(load_current)
    if current is None:
        raise HTTPException(404, f"no customer {customer_id}")
    changes, problems = profile_changes(form, current)
    if not problems and changes:
        from review.customers import validate_changes

        region = request.app.state.settings.ingest.default_region
        problems = validate_changes(current, changes, region)
    if problems:
        # the form comes back with what the agent typed and each problem beside its field
        def page() -> Response:
            with gate.read() as store:
                identities = web_page.customer_identities(store, customer_id)
            return render(
                request, "customer_profile.html", user, tab="profile", tabs=TABS, customer=current,
                identities=identities, q="", text_fields=TEXT_FIELDS, editing=True, form_values=form,
                errors=problems, sources={}, status_code=422,
            )  # fmt: skip

        return await run_in_threadpool(page)
    if not changes:
        return redirect(request, target, "info", "Nothing changed.")
    return await run_in_threadpool(
        perform, request, user, "edit_profile", {"customer_id": customer_id, "changes": changes}, target
    )


@router.post("/customers/{customer_id}/lock")
def lock(
    request: Request,
    customer_id: int,
    reason: str = Form(""),
    confirm: str = Form(""),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """Lock a customer (restriction of processing): no merges, edits or anonymization until unlocked."""
    require(user, "lock", csrf_token)
    target = f"/customers/{customer_id}/actions"
    if confirm != "yes":
        return redirect(request, target, "error", "Tick the confirmation box to lock the customer.")
    if not reason.strip():
        return redirect(request, target, "error", "Say why the customer is locked.")
    return perform(request, user, "lock", {"customer_id": customer_id, "reason": reason.strip()}, target)


@router.post("/customers/{customer_id}/unlock")
def unlock(
    request: Request,
    customer_id: int,
    confirm: str = Form(""),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """Unlock a customer."""
    require(user, "lock", csrf_token)
    target = f"/customers/{customer_id}/actions"
    if confirm != "yes":
        return redirect(request, target, "error", "Tick the confirmation box to unlock the customer.")
    return perform(request, user, "unlock", {"customer_id": customer_id}, target)


@router.post("/customers/{customer_id}/merge")
def merge(
    request: Request,
    customer_id: int,
    other_customer_id: int = Form(...),
    comment: str = Form(""),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """Merge another customer (found by the identity search) into this one, at once."""
    require(user, "merge", csrf_token)
    arguments = {"customer_a": customer_id, "customer_b": other_customer_id, "comment": comment.strip()}
    return perform(request, user, "merge", arguments, f"/customers/{customer_id}/identities")


@router.post("/customers/{customer_id}/{kind}-request")
def compliance_request(
    request: Request,
    customer_id: int,
    kind: str,
    reason: str = Form(""),
    confirm: str = Form(""),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """Request an export or an anonymization of this customer (carried out by the compliance flows)."""
    if kind not in ("export", "anonymize"):
        raise HTTPException(404, f"no request kind {kind!r}")
    require(user, kind, csrf_token)
    target = f"/customers/{customer_id}/actions"
    if confirm != "yes":
        return redirect(request, target, "error", f"Tick the confirmation box to request the {kind}.")
    from web.routes_compliance import request_arguments, submit_request

    arguments = request_arguments(request, {"customer_id": customer_id}, reason)
    return submit_request(request, user, kind, arguments, target)
