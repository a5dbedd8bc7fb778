"""The chaos harness: kill every flow at random points (SIGKILL, SIGINT) while the page is in use, then re-run
it and check that nothing was lost, duplicated or half written. Used by tests/flows/test_chaos.py (a few
iterations) and bench/chaos_bench.py (as many as asked).

Each iteration: drop a new file into the landing folder (write, then rename) and queue a request or two,
start one flow in a child process, kill it after a random part of its usual run time, run it again to
the end, drain the page's outbox, and check the invariants (`Chaos.check`):
- the store opens (and migrates);
- every file dropped is in processed/ exactly once (none left, none failed), no content loaded twice,
  and the identities are exactly the distinct ids of the files dropped;
- every identity has a customer; no pair is pending twice; no suggestion was applied twice;
- every done export request has its bundle and no bundle is without a done request;
- after an anonymize run, every erasure request is `done` and its customer wholly anonymized (none
  left `erasing`, `incomplete` or half erased);
- every page action (a comment with a unique text) took effect exactly once when the page said it was
  done or queued-then-done, and never when it said it was not done or queued-then-failed.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FLOWS = {
    "ingest": "from flows.ingest import ingest_flow as run",
    "match": "from flows.match import match_flow as run",
    "apply-merges": "from flows.apply_merges import apply_merges_flow as run",
    "export": "from flows.export import export_flow as run",
    "anonymize": "from flows.anonymize import anonymize_flow as run",
}
PASSWORD = "chaos-password-1"


@dataclass
class Iteration:
    """What one iteration did and found."""

    number: int
    flow: str
    signal: str
    killed_after_s: float
    killed_rc: int | None
    rerun_rc: int
    rerun_s: float
    page_actions: int
    problems: list[str] = field(default_factory=list)


class PageUser:
    """A thread that uses the page while a flow runs: comments with unique texts, retried when not done."""

    def __init__(self, client: Any, customer_id: int, prefix: str) -> None:
        self.client, self.customer_id, self.prefix = client, customer_id, prefix
        self.outcomes: dict[str, str] = {}  # body -> done | queued:<outbox id> | not-done
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.csrf = ""

    def start(self) -> None:
        """Log in and start using the page."""
        from tests.web.pages import csrf_of, login_form

        page = self.client.post("/login", data=login_form(self.client, "chaos", PASSWORD))
        self.csrf = csrf_of(page.text) if "csrf_token" in page.text else self._csrf()
        self._thread.start()

    def _csrf(self) -> str:
        from tests.web.pages import csrf_of

        for _ in range(60):
            page = self.client.get("/queue")
            if "csrf_token" in page.text:
                return csrf_of(page.text)
            time.sleep(0.5)
        raise RuntimeError("the page never showed a form")

    def _run(self) -> None:
        count = 0
        while not self._stop.is_set():
            body = f"{self.prefix}-{count}"
            count += 1
            self.outcomes[body] = self._comment(body)
            self.client.get(f"/customers/{self.customer_id}/summary")
            self._stop.wait(0.2)

    def _comment(self, body: str) -> str:
        from tests.web.pages import flash_of

        data: dict[str, str] | list[tuple[str, str]] = {"csrf_token": self.csrf, "body": body}
        for _ in range(100):
            response = self.client.post(f"/customers/{self.customer_id}/comment", data=data)
            if response.status_code == 503 and "Not done" in response.text:  # said plainly: send it again
                data = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', response.text)
                time.sleep(0.3)
                continue
            message = flash_of(response.text)
            if message.startswith("queued:"):
                return "queued"
            if message.startswith("ok:"):
                return "done"
            return f"other: {response.status_code} {message}"
        return "not-done"

    def stop(self) -> None:
        """Stop after the action under way."""
        self._stop.set()
        self._thread.join(timeout=120)


class Chaos:
    """A small store, a landing folder and the page, with flows started and killed in child processes."""

    def __init__(self, folder: Path, seed: int, identities_per_file: int = 150) -> None:
        self.folder = folder
        self.random = random.Random(seed)
        self.store = folder / "store.duckdb"
        self.landing = folder / "landing"
        self.exports = folder / "exports"
        self.per_file = identities_per_file
        self.dropped: list[str] = []
        self.rows: dict[str, int] = {}
        self.expected_identities = 0
        self.durations: dict[str, float] = {}
        self.page_outcomes: dict[str, str] = {}
        self.seed = seed
        self.runs = 0  # flow processes started (numbers their logs)
        self.landing.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "IDRES_STORE": str(self.store),
            "IDRES_INGEST__LANDING_DIR": str(self.landing),
            "IDRES_INGEST__LANDING_SETTLE_S": "0",
            "IDRES_INGEST__DATA_DOCS_DIR": str(folder / "docs"),
            "IDRES_COMPLIANCE__EXPORT_DIR": str(self.exports),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "GX_ANALYTICS_ENABLED": "false",
        }

    # -- inputs -----------------------------------------------------------------------------------
    def drop_file(self) -> Path:
        """Write the next identities file into the landing folder the documented way (write, then rename)."""
        from data.generator import generate

        number = len(self.dropped)
        from domain.settings import IngestSettings
        from ingest.pipeline import ingest_file
        from store import open_store

        number = len(self.dropped)
        frame = generate(self.per_file, seed=self.seed * 1000 + number, messages_per_identity=0).identities
        name = f"identities_{number:03d}.csv"
        temporary = self.landing / f".{name}.part"
        frame.write_csv(temporary)
        self.rows[name] = frame.height
        # the same file ingested without any fault, for the counts to compare with
        reference = self.folder / "reference" / name
        reference.parent.mkdir(exist_ok=True)
        reference.write_bytes(temporary.read_bytes())
        settings = IngestSettings(data_docs_dir=self.folder / "reference-docs", landing_dir=reference.parent)
        with open_store(self.folder / "reference.duckdb") as store:
            ingest_file(store, reference, settings)
            self.expected_identities = int(store.scalar("SELECT count(*) FROM identities"))
        temporary.rename(self.landing / name)
        self.dropped.append(name)
        return self.landing / name

    def setup_store(self) -> None:
        """Migrate the store and add the page's account."""
        from store import open_store
        from store import users as store_users
        from web.auth import hash_password

        with open_store(self.store) as store:
            if store_users.get_user(store, "chaos") is None:
                store_users.add_user(store, "chaos", "admin", hash_password(PASSWORD), created_by="chaos")

    def queue_requests(self, erasure: bool | None = None) -> None:
        """An export and an erasure request (always, never, or when None, one time in two) for random
        active customers."""
        from compliance.requests import request_anonymization, request_export
        from store import open_store

        with open_store(self.store, busy_timeout_s=120) as store:
            active = [
                r["customer_id"]
                for r in store.rows("SELECT customer_id FROM customers WHERE status = 'active' ORDER BY 1")
            ]
            if len(active) < 10:
                return
            request_export(store, "chaos", customer_id=self.random.choice(active[1:]))
            alone = _holding_their_values_alone(store)
            if (self.random.random() < 0.5 if erasure is None else erasure) and alone:
                request_anonymization(store, "chaos", customer_id=self.random.choice(alone))
            with store.transaction():  # approve a few pending suggestions for apply-merges
                store.execute(
                    "UPDATE suggestions SET status = 'approved', decided_by = 'chaos', decided_at = now() "
                    "WHERE suggestion_id IN (SELECT suggestion_id FROM suggestions WHERE status = 'pending' "
                    "ORDER BY probability DESC LIMIT 3)"
                )

    # -- flows ------------------------------------------------------------------------------------
    def start_flow(self, name: str, log: Path) -> subprocess.Popen[str]:
        """Start one flow in a child process (its own Prefect client, the store from the environment);
        its output (Prefect's log lines) goes to `log`, kept for diagnosing a failed iteration."""
        code = textwrap.dedent(
            f"""
            {FLOWS[name]}
            run(store={str(self.store)!r})
            """
        )
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as output:
            return subprocess.Popen(
                [sys.executable, "-c", code], cwd=ROOT, env=self.env, stdout=output, stderr=output, text=True
            )

    def _log(self, name: str, what: str) -> Path:
        self.runs += 1
        return self.folder / "logs" / f"{self.runs:03d}-{name}-{what}.log"

    def run_flow(self, name: str, timeout_s: float = 600) -> tuple[int, float, str]:
        """Run a flow to its end; returns its exit code, seconds and the tail of its output."""
        began = time.monotonic()
        log = self._log(name, "run")
        child = self.start_flow(name, log)
        child.wait(timeout=timeout_s)
        seconds = time.monotonic() - began
        self.durations[name] = max(self.durations.get(name, 0.0), seconds)
        return child.returncode, seconds, f"{log}: ...{log.read_text(errors='replace')[-1500:]}"

    def kill_flow(self, name: str, how: signal.Signals) -> tuple[float, int | None]:
        """Start a flow and send it `how` after a random part of its usual run time."""
        delay = self.random.uniform(0.15, 0.95) * self.durations.get(name, 8.0)
        child = self.start_flow(name, self._log(name, f"killed-{how.name}"))
        try:
            child.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            child.send_signal(how)
        try:
            child.wait(timeout=120)
        except subprocess.TimeoutExpired:  # SIGINT may be ignored while Prefect shuts down
            child.kill()
            child.wait()
        return delay, child.returncode

    # -- checks -----------------------------------------------------------------------------------
    def check(self, ran: str = "") -> list[str]:
        """Every invariant that must hold after a complete re-run (of flow `ran`); returns what does not."""
        from store import open_store

        problems: list[str] = []
        left = sorted(p.name for p in self.landing.iterdir() if p.is_file() and not p.name.startswith("."))
        if left:
            problems.append(f"files left in the landing folder: {left}")
        processed = sorted(p.name for p in (self.landing / "processed").rglob("*.csv"))
        if processed != sorted(self.dropped):
            problems.append(f"processed files {processed} != dropped {sorted(self.dropped)}")
        if (self.landing / "failed").exists() and list((self.landing / "failed").rglob("*.*")):
            problems.append("files in failed/")
        with open_store(self.store, busy_timeout_s=120) as store:
            identities = int(store.scalar("SELECT count(*) FROM identities"))
            if identities != self.expected_identities:
                problems.append(
                    f"identities: {identities} in the store, {self.expected_identities} without faults"
                )
            for name, rows in self.rows.items():
                batches = store.rows(
                    "SELECT rows_read, rows_loaded, rows_quarantined FROM ingest_batches "
                    "WHERE file_path LIKE ? AND status IN ('loaded', 'rejected')",
                    [f"%/{name}"],
                )
                if (
                    len(batches) != 1
                    or batches[0]["rows_read"] != rows
                    or (batches[0]["rows_loaded"] + batches[0]["rows_quarantined"] != rows)
                ):
                    problems.append(f"{name}: {rows} rows, batches {batches}")
            checks = {
                "a file's content loaded twice": "SELECT file_sha256 FROM ingest_batches WHERE status = 'loaded' "
                "GROUP BY 1 HAVING count(*) > 1",
                "identities without a customer": "SELECT i.identity_id FROM identities i "
                "LEFT JOIN customers c ON c.customer_id = i.customer_id WHERE c.customer_id IS NULL",
                "a pair pending twice": "SELECT customer_id_l, customer_id_r FROM suggestions WHERE status = 'pending' "
                "GROUP BY 1, 2 HAVING count(*) > 1",
                "a suggestion applied twice": "SELECT suggestion_id FROM merges WHERE suggestion_id IS NOT NULL "
                "AND status = 'applied' GROUP BY 1 HAVING count(*) > 1",
                "an active customer merged into another": "SELECT customer_id FROM customers "
                "WHERE status = 'active' AND merged_into IS NOT NULL",
            }
            for what, query in checks.items():
                found = store.rows(query)
                if found:
                    problems.append(f"{what}: {found[:5]}")
            bundles = {
                Path(r["bundle_path"]).name
                for r in store.rows(
                    "SELECT bundle_path FROM compliance_requests WHERE kind = 'export' AND status = 'done'"
                )
            }
            on_disk = {p.name for p in self.exports.iterdir()} if self.exports.exists() else set()
            if bundles != on_disk:
                problems.append(f"export bundles on disk {sorted(on_disk - bundles)} without a request, "
                                f"{sorted(bundles - on_disk)} missing")  # fmt: skip
            for failed in store.rows(
                "SELECT request_id, kind, customer_id, status_reason FROM compliance_requests WHERE status = 'failed'"
            ):
                problems.append(f"request failed: {failed}")
            if ran == "anonymize":  # a complete run leaves every erasure done, its customer wholly erased
                for request in store.rows(
                    "SELECT r.request_id, r.status, r.status_reason, c.status AS customer, "
                    "(SELECT count(*) FROM identities i WHERE i.customer_id = r.customer_id "
                    "AND NOT i.anonymized) AS identities_left FROM compliance_requests r "
                    "LEFT JOIN customers c USING (customer_id) WHERE r.kind = 'anonymize'"
                ):
                    if (request["status"], request["customer"], request["identities_left"]) != (
                        "done", "anonymized", 0,
                    ):  # fmt: skip
                        problems.append(f"erasure request not finished: {request}")
            bodies: dict[str, int] = {}
            for row in store.rows("SELECT body FROM comments WHERE body LIKE 'chaos-%'"):
                bodies[row["body"]] = bodies.get(row["body"], 0) + 1
        for body, outcome in self.page_outcomes.items():
            expected = 1 if outcome == "done" else 0
            if bodies.get(body, 0) != expected:
                problems.append(
                    f"page action {body!r} ({outcome}) is in the store {bodies.get(body, 0)} time(s)"
                )
        return problems


def _holding_their_values_alone(store: Any) -> list[int]:
    """Active customers none of whose identifiers another customer holds (not the page's customer).

    The generator makes the same person under two customers (a twitter handle that is someone's screen
    name elsewhere): erasing one of them rightly leaves the request `incomplete`, naming the other (see
    compliance/leftovers.py). That is no fault of a kill, so erasure requests are only made for others.
    """
    rows = store.rows(
        "SELECT i.customer_id, lower(concat_ws(' ', i.external_id, i.email_norm, i.phone_e164, i.screen_name, "
        "i.email, i.phone)) AS text FROM identities i JOIN customers c USING (customer_id) "
        "WHERE c.status = 'active'"
    )
    texts: dict[int, str] = {}
    for row in rows:
        texts[row["customer_id"]] = texts.get(row["customer_id"], "") + " " + row["text"]
    first = min(texts, default=None)
    alone = []
    for customer, text in texts.items():
        others = " | ".join(t for c, t in texts.items() if c != customer)
        values = {value.lstrip("@") for value in text.split() if len(value) >= 5}
        if customer != first and not any(value in others for value in values):
            alone.append(customer)
    return sorted(alone)


def settle_outcomes(gate: Any, outcomes: dict[str, str], timeout_s: float = 120) -> dict[str, str]:
    """Drain the outbox and turn `queued` outcomes into what became of them (done or failed)."""
    deadline = time.monotonic() + timeout_s
    while gate.outbox.pending() and time.monotonic() < deadline:
        gate.drain_once(wait_s=2.0)
    results = {}
    for row in gate.outbox.results(limit=100_000):
        import json

        body = json.loads(row["arguments"]).get("body")
        if body:
            results[body] = row["status"]
    settled = {}
    for body, outcome in outcomes.items():
        settled[body] = results.get(body, "lost") if outcome == "queued" else outcome
    return settled


def iterate(
    chaos: Chaos,
    client: Any,
    iterations: int,
    flows: list[str] | None = None,
    report: Callable[[Iteration], None] | None = None,
    deadline: float | None = None,
) -> list[Iteration]:
    """Run `iterations` kill-and-re-run rounds over the flows (in turn), with the page in use; returns them.

    With a `deadline` (time.monotonic()), no round starts after it."""
    from store import open_store

    names = flows or list(FLOWS)
    with open_store(chaos.store, busy_timeout_s=120) as store:
        customer = int(store.scalar("SELECT min(customer_id) FROM customers"))
    done: list[Iteration] = []
    for number in range(iterations):
        if deadline is not None and time.monotonic() > deadline:
            break
        name = names[number % len(names)]
        how = signal.SIGKILL if number % 2 == 0 else signal.SIGINT
        if name == "ingest":
            chaos.drop_file()
        else:  # an anonymize round has an erasure to be killed in
            chaos.queue_requests(erasure=True if name == "anonymize" else None)
        page = PageUser(client, customer, f"chaos-{number}")
        page.start()
        delay, killed_rc = chaos.kill_flow(name, how)
        rc, seconds, errors = chaos.run_flow(name)
        page.stop()
        chaos.page_outcomes.update(settle_outcomes(client.app.state.gate, page.outcomes))
        problems = [] if rc == 0 else [f"re-run of {name} failed ({rc}): {errors}"]
        problems += chaos.check(name)
        iteration = Iteration(number, name, how.name, round(delay, 2), killed_rc, rc, round(seconds, 1),
                              len(page.outcomes), problems)  # fmt: skip
        done.append(iteration)
        if report:
            report(iteration)
    return done
