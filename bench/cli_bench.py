"""End-to-end CLI benchmark: the `idres` commands people type, timed from the shell; prints JSON.

Everything runs in a scratch folder with its own Prefect home, so the first command is cold (it
starts the warm Prefect server and the command runner) and the later ones are warm:

- cold: the first `idres ingest` of a one-row file (targets: under 15 s);
- warm: `idres ingest` of a one-row file and `idres status` (under 2 s), `idres match` on a
  10k-identity store (under 3 s);
- landing: `idres ingest` of a 16-file landing folder of 150k identities, rows/s end to end (30k);
- consecutive: N flow commands in a row (ingest, match, merges apply, export run, anonymize run),
  failures counted (0); concurrent: 8 `idres ingest` at once on different stores, failures counted (0).

`--burn` keeps both cores busy with two spinning processes (nice 19) during the consecutive and
concurrent runs. The warm server is stopped at the end. Run it with `nice -n 5` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
IDRES = [sys.executable, "-m", "idres"]
HEADER = "channel,external_id,first_name,last_name,email\n"


def one_row(path: Path, n: int) -> Path:
    """A one-row identities file whose content differs with `n` (so it is never 'unchanged')."""
    path.write_text(HEADER + f"email,bench{n}@example.com,Ann{n},Lee,bench{n}@example.com\n")
    return path


def identities_files(n: int, parts: int, out: Path, seed: int = 11) -> int:
    """`parts` CSV files sharing n generated identities; returns the row count."""
    from data.generator import generate

    out.mkdir(parents=True, exist_ok=True)
    frame = generate(n, seed=seed, messages_per_identity=0.0).identities
    step = -(-frame.height // parts)
    for index in range(parts):
        frame.slice(index * step, step).write_csv(out / f"identities_{index:02d}.csv")
    return int(frame.height)


def note(figures: dict[str, Any]) -> None:
    """The figures so far, on stderr (a long run can be followed, or cut short)."""
    print(json.dumps(figures, default=str), file=sys.stderr, flush=True)


def run(args: list[str], env: dict[str, str], timeout_s: float = 900) -> dict[str, Any]:
    """Run `idres ARGS`; seconds, exit code, and whether it failed (non-zero or a traceback)."""
    began = time.perf_counter()
    try:
        done = subprocess.run([*IDRES, *args], env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"args": args, "seconds": timeout_s, "code": None, "failed": True, "error": "timeout"}
    seconds = time.perf_counter() - began
    failed = done.returncode != 0 or "Traceback" in done.stderr
    result: dict[str, Any] = {
        "args": args,
        "seconds": round(seconds, 2),
        "code": done.returncode,
        "failed": failed,
    }
    if failed:
        result["error"] = done.stderr.strip().splitlines()[-3:]
    return result


def wait_for_runner(home: Path, timeout_s: float = 600) -> float:
    """Seconds until the warm command runner answers (it imports everything in the background)."""
    from idres.launcher import runner_socket

    began = time.perf_counter()
    socket_path = runner_socket({"PREFECT_HOME": str(home)})
    log = socket_path.parent / "server.log"
    while time.perf_counter() - began < timeout_s:
        if socket_path.exists() and log.exists() and "runner ready" in log.read_text(errors="replace"):
            return round(time.perf_counter() - began, 1)
        time.sleep(1)
    return float("nan")


@contextmanager
def burning(enabled: bool) -> Iterator[None]:
    """Both cores busy with another job (two spinning processes at nice 19) for the block."""
    spinners = []
    if enabled:
        code = "import os; os.nice(19)\nwhile True: pass"
        spinners = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def median_of(results: list[dict[str, Any]]) -> float:
    """Median seconds of runs."""
    return round(statistics.median(r["seconds"] for r in results), 2)


def main() -> None:
    """Run every measurement and print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing-identities", type=int, default=150_000)
    parser.add_argument("--landing-files", type=int, default=16)
    parser.add_argument("--match-identities", type=int, default=10_000)
    parser.add_argument("--consecutive", type=int, default=50)
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each warm command (median)")
    parser.add_argument("--burn", action="store_true", help="keep both cores busy during the load runs")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="idres-cli-bench-"))
    home = scratch / "prefect-home"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "IDRES_INGEST__DATA_DOCS_DIR": str(scratch / "docs"),
        "IDRES_COMPLIANCE__EXPORT_DIR": str(scratch / "exports"),
        "IDRES_PREFECT__WARM_SERVER": "true",
    }
    env.pop("PREFECT_API_URL", None)
    store = scratch / "warm.duckdb"
    figures: dict[str, Any] = {"nice": os.nice(0), "cpus": os.cpu_count(), "load_before": os.getloadavg()}
    try:
        cold = run(["ingest", str(one_row(scratch / "cold.csv", 0)), "--store", str(store), "-q"], env)
        figures["cold_first_ingest_s"] = cold["seconds"]
        figures["cold_failed"] = cold["failed"]
        figures["runner_ready_after_cold_s"] = wait_for_runner(home)
        note(figures)

        ingests = [
            run(["ingest", str(one_row(scratch / f"one{i}.csv", i + 1)), "--store", str(store), "-q"], env)
            for i in range(args.repeat)
        ]
        statuses = [run(["status", "--store", str(store), "-q"], env) for _ in range(args.repeat)]
        figures["warm_ingest_one_row_s"] = median_of(ingests)
        figures["warm_status_s"] = median_of(statuses)
        note(figures)

        match_store = scratch / "match.duckdb"
        rows = identities_files(args.match_identities, 1, scratch / "match-input")
        loaded = run(["ingest", str(scratch / "match-input"), "--store", str(match_store), "-q"], env)
        matched = run(["match", "--store", str(match_store), "-q"], env)
        figures["match_store"] = {
            "identities": rows,
            "ingest_s": loaded["seconds"],
            "failed": loaded["failed"],
        }
        figures["warm_match_10k_s"] = matched["seconds"]
        figures["match_failed"] = matched["failed"]
        note(figures)

        landing = scratch / "landing"
        rows = identities_files(args.landing_identities, args.landing_files, landing, seed=13)
        landed = run(
            ["ingest", "--store", str(scratch / "landing.duckdb"), "-q"],
            {**env, "IDRES_INGEST__LANDING_DIR": str(landing), "IDRES_INGEST__LANDING_SETTLE_S": "0"},
        )
        figures["landing"] = {
            "files": args.landing_files,
            "identities": rows,
            "seconds": landed["seconds"],
            "rows_per_s": round(rows / landed["seconds"]),
            "failed": landed["failed"],
        }
        note(figures)

        rotation = [
            lambda i: ["ingest", str(one_row(scratch / f"c{i}.csv", 1000 + i)), "--store", str(store), "-q"],
            lambda i: ["match", "--store", str(store), "-q"],
            lambda i: ["merges", "apply", "--store", str(store), "-q"],
            lambda i: ["export", "run", "--store", str(store), "-q"],
            lambda i: ["anonymize", "run", "--store", str(store), "-q"],
        ]
        with burning(args.burn):
            figures["load_during"] = os.getloadavg()
            consecutive = [run(rotation[i % len(rotation)](i), env) for i in range(args.consecutive)]
            began = time.perf_counter()
            commands = [
                [
                    *IDRES,
                    "ingest",
                    str(one_row(scratch / f"p{i}.csv", 5000 + i)),
                    "--store",
                    str(scratch / f"parallel{i}.duckdb"),
                    "-q",
                ]
                for i in range(args.concurrent)
            ]
            processes = [
                subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for command in commands
            ]
            outcomes = [(p.wait(timeout=1800), p.stderr.read() if p.stderr else "") for p in processes]
            concurrent_s = time.perf_counter() - began
        figures["consecutive"] = {
            "commands": len(consecutive),
            "failures": sum(r["failed"] for r in consecutive),
            "median_s": median_of(consecutive) if consecutive else None,
            "max_s": max((r["seconds"] for r in consecutive), default=None),
            "failed": [r for r in consecutive if r["failed"]][:5],
        }
        figures["concurrent"] = {
            "commands": len(outcomes),
            "failures": sum(code != 0 or "Traceback" in err for code, err in outcomes),
            "wall_s": round(concurrent_s, 2),
            "errors": [err.strip().splitlines()[-2:] for code, err in outcomes if code != 0][:3],
        }
        figures["burn"] = args.burn
        figures["load_after"] = os.getloadavg()
    finally:
        from flows.warm_server import stop_warm_server

        stop_warm_server(home)
    print(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
