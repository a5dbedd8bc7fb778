"""Every action the page can take, as (store, username, arguments) -> message, over the service functions.

The same functions the CLI uses do the work and the audit; the page adds nothing but the user's name.
Arguments are plain JSON values, so an action can wait in the outbox and run later unchanged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.settings import Settings
from domain.statuses import RequestStatus
from store import Store
from store import users as store_users
from web.gate import ActionFn

# the permission (web.auth.PERMISSIONS) each action needs
NEEDS: dict[str, str] = {
    "approve": "review",
    "reject": "review",
    "bulk_approve": "review",
    "lock": "lock",
    "unlock": "lock",
    "edit_profile": "edit_profile",
    "comment": "comment",
    "merge": "merge",
    "merge_now": "merge",
    "undo_merge": "undo",
    "request_export": "export",
    "request_anonymization": "anonymize",
    "confirm_request": "export",
}


def _approve(store: Store, user: str, args: dict[str, Any]) -> str:
    from review import decisions

    decisions.approve(store, int(args["suggestion_id"]), user, comment=args.get("comment") or None)
    return f"suggestion {args['suggestion_id']} approved"


def _reject(store: Store, user: str, args: dict[str, Any]) -> str:
    from review import decisions

    decisions.reject(store, int(args["suggestion_id"]), user, comment=args.get("comment") or None)
    return f"suggestion {args['suggestion_id']} rejected"


def _bulk_approve(store: Store, user: str, args: dict[str, Any]) -> str:
    from review import decisions

    approved = decisions.bulk_approve(
        store,
        user,
        float(args["min_probability"]),
        band=args.get("band") or None,
        channel=args.get("channel") or None,
        comment=args.get("comment") or None,
    )
    done = sum(1 for row in approved if row.get("outcome") == "approved")
    skipped = [row for row in approved if row.get("outcome") != "approved"]
    note = f"; {len(skipped)} skipped (e.g. {skipped[0].get('reason')})" if skipped else ""
    return f"{done} suggestions approved{note}"


def _lock(store: Store, user: str, args: dict[str, Any]) -> str:
    from review import customers

    customers.lock(store, int(args["customer_id"]), user, args.get("reason") or "")
    return f"customer {args['customer_id']} locked"


def _unlock(store: Store, user: str, args: dict[str, Any]) -> str:
    from review import customers

    customers.unlock(store, int(args["customer_id"]), user)
    return f"customer {args['customer_id']} unlocked"


def _comment(store: Store, user: str, args: dict[str, Any]) -> str:
    from review import customers

    customer_id, conversation_id = args.get("customer_id"), args.get("conversation_id")
    customers.add_comment(
        store,
        user,
        str(args["body"]),
        customer_id=None if customer_id is None else int(customer_id),
        conversation_id=None if conversation_id is None else int(conversation_id),
    )
    return "comment added"


def _request(kind: str) -> ActionFn:
    def run(store: Store, user: str, args: dict[str, Any]) -> str:
        from compliance import requests

        function = requests.request_export if kind == "export" else requests.request_anonymization
        customer_id = args.get("customer_id")
        chosen = [int(c) for c in args.get("customer_ids") or []]
        request = function(
            store, user, customer_id=None if customer_id in (None, "") else int(customer_id),
            email=args.get("email") or None, phone=args.get("phone") or None,
            reason=args.get("reason") or None, default_region=str(args.get("default_region") or "GB"),
            review_threshold=float(args.get("review_threshold") or requests.DEFAULT_REVIEW_THRESHOLD),
            customer_ids=chosen or None,
        )  # fmt: skip
        if request.get("status") == RequestStatus.NEEDS_CONFIRMATION:
            return (
                f"{kind} request {request.get('request_id')} recorded (needs_confirmation): "
                f"{len(request.get('candidates') or [])} customers may be this person, confirm which it covers"
            )
        return f"{kind} request {request.get('request_id')} recorded ({request.get('status')})"

    return run


def _confirm_request(store: Store, user: str, args: dict[str, Any]) -> str:
    from compliance import requests

    request = requests.confirm_request(
        store, int(args["request_id"]), [int(c) for c in args.get("customer_ids") or []], user
    )
    ids = ", ".join(map(str, request.get("customer_ids") or []))
    return f"request {request['request_id']} confirmed for customers {ids} (pending)"


def _audit(store: Store, user: str, args: dict[str, Any]) -> str:
    store.audit(
        user,
        str(args["action"]),
        str(args["subject_kind"]),
        args.get("subject_id"),
        args.get("details") or {},
    )
    return f"{args['action']} recorded"


def _update_user(store: Store, user: str, args: dict[str, Any]) -> str:
    enabled = args.get("enabled")
    store_users.update_user(
        store, str(args["username"]), user, role=args.get("role") or None,
        enabled=None if enabled is None else bool(enabled), password_hash=args.get("password_hash") or None,
    )  # fmt: skip
    said = [f"role {args['role']}" if args.get("role") else "",
            "" if enabled is None else ("enabled" if enabled else "disabled"),
            "password reset" if args.get("password_hash") else ""]  # fmt: skip
    return f"user {args['username']}: {', '.join(s for s in said if s)}"


def _logout(store: Store, user: str, args: dict[str, Any]) -> str:
    store_users.revoke_session(store, str(args["session_id"]), "logged out")
    store.audit(user, "web.logout", "user", user, {})
    return "logged out"


def build_actions(settings: Settings) -> dict[str, ActionFn]:
    """The action table of one app (merges need the review settings)."""

    def merge(store: Store, user: str, args: dict[str, Any]) -> str:
        from review import merging

        merging.merge_customers(
            store,
            int(args["customer_a"]),
            int(args["customer_b"]),
            user,
            settings.review,
            comment=args.get("comment") or None,
        )
        return f"customers {args['customer_a']} and {args['customer_b']} merged"

    def merge_now(store: Store, user: str, args: dict[str, Any]) -> str:
        from review import merging

        report = merging.merge_now(store, int(args["suggestion_id"]), user, settings.review)
        merge = report["merges"][0]
        return (
            f"suggestion {args['suggestion_id']} merged now: customer {merge['absorbed_id']} merged into "
            f"{merge['survivor_id']} (merge {merge['merge_id']}, apply run {report['apply_run_id']})"
        )

    def undo(store: Store, user: str, args: dict[str, Any]) -> str:
        from review import merging

        done = merging.undo_merge(
            store, int(args["merge_id"]), user, args.get("comment") or None, review_settings=settings.review
        )
        return (
            f"merge {done['merge_id']} undone: customer {done['absorbed_id']} split off again from "
            f"{done['holder_id']} ({done['identities_returned']} identities back; the pair is now a cannot-link)"
        )

    def edit_profile(store: Store, user: str, args: dict[str, Any]) -> str:
        from review import customers

        result = customers.edit_profile(
            store, int(args["customer_id"]), user, dict(args["changes"]), settings.ingest.default_region
        )
        changed = sorted(result.get("changed") or {})
        if not changed:
            return f"profile of customer {args['customer_id']} unchanged"
        return f"profile of customer {args['customer_id']} saved ({', '.join(changed)})"

    def login(store: Store, user: str, args: dict[str, Any]) -> str:
        lifetime = timedelta(hours=settings.web.session_hours)
        store_users.create_session(store, str(args["session_id"]), user, str(args["role"]), lifetime)
        store_users.record_login(store, user)
        return "logged in"

    return {
        "approve": _approve,
        "reject": _reject,
        "bulk_approve": _bulk_approve,
        "lock": _lock,
        "unlock": _unlock,
        "edit_profile": edit_profile,
        "comment": _comment,
        "merge": merge,
        "merge_now": merge_now,
        "undo_merge": undo,
        "request_export": _request("export"),
        "request_anonymization": _request("anonymization"),
        "confirm_request": _confirm_request,
        "audit": _audit,
        "update_user": _update_user,
        "login": login,
        "logout": _logout,
    }
