"""Assemble people's channel identities into per-channel exports plus a truth file.

    python -m data.independent --identities 100000 --seed 3 --out /tmp/indep

writes `identities_<channel>.csv` (the README's input contract, each with its vendor's columns;
`x`, `webchat` and `voice` are aliases idres knows) and `truth/truth.csv` (channel, external_id,
entity_id; channel in idres's canonical spelling, the format `idres evaluate --truth` reads).
Seeded and deterministic: the same seed and size give the same files.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from data.independent.channels import CHANNEL_WEIGHTS, CHANNELS, NEEDS_MOBILE, identity
from data.independent.people import Person, Population

# identities per person: most have one or two, a few use five channels
IDENTITY_COUNTS = ((1, 38), (2, 30), (3, 18), (4, 9), (5, 4), (6, 1))
SECOND_ON_SAME_CHANNEL = 0.04  # a work email, a second number: people rarely double up a channel
FILE_COLUMNS: dict[str, tuple[str, ...]] = {
    "whatsapp": ("wa_id", "profile_name", "created_at"),
    "facebook": ("psid", "full_name", "city", "created_at"),
}
CONTRACT_COLUMNS = ("external_id", "display_name", "first_name", "last_name", "screen_name", "email", "phone",
                    "city", "postcode", "country", "birth_date", "created_at")  # fmt: skip
ID_COLUMN = {"whatsapp": "wa_id", "facebook": "psid"}


@dataclass
class IndependentSample:
    """Per-channel export frames (file label -> rows) and the truth (channel, external_id, entity_id)."""

    exports: dict[str, pl.DataFrame]
    truth: pl.DataFrame
    people: int


def _channels_for(person: Person, count: int, rng: random.Random) -> list[str]:
    options = [
        c
        for c in CHANNEL_WEIGHTS
        if (person.mobile is not None or c not in NEEDS_MOBILE)
        and (person.mobile is not None or person.landline is not None or c != "voice")
    ]
    chosen: list[str] = []
    while len(chosen) < min(count, len(options)):
        pick = rng.choices(options, [CHANNEL_WEIGHTS[c] for c in options])[0]
        if pick not in chosen:
            chosen.append(pick)
    if count > 1 and rng.random() < SECOND_ON_SAME_CHANNEL:
        chosen.append(rng.choice(("email", "webchat")))
    return chosen


def generate_independent(identities: int, seed: int = 0) -> IndependentSample:
    """About `identities` identities (exactly, unless the last person overshoots it by a few)."""
    population = Population(seed)
    rng = random.Random(seed + 2)
    rows: dict[str, list[dict[str, object]]] = {label: [] for label in CHANNELS}
    truth: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    serial = 0
    while len(truth) < identities:
        for person in population.household():
            count = rng.choices([c for c, _ in IDENTITY_COUNTS], [w for _, w in IDENTITY_COUNTS])[0]
            used: set[str] = set()
            for label in _channels_for(person, count, rng):
                if label == "email" and label in used:  # a second address: work or a new personal one
                    person.emails.append(population.email(person, work=rng.random() < 0.5))
                used.add(label)
                serial += 1
                row = identity(person, label, rng, serial)
                key = str(row.get(ID_COLUMN.get(label, "external_id")))
                if (label, key) in seen:  # a household's landline spelled the same way twice
                    continue
                seen.add((label, key))
                rows[label].append(row)
                truth.append((CHANNELS[label], key, person.person_id))
            if len(truth) >= identities:
                break
    exports = {}
    for label, items in rows.items():
        columns = FILE_COLUMNS.get(label, CONTRACT_COLUMNS)
        exports[label] = pl.DataFrame(
            {c: [r.get(c) for r in items] for c in columns}, schema=dict.fromkeys(columns, pl.String)
        )
    frame = pl.DataFrame(truth, schema=["channel", "external_id", "entity_id"], orient="row")
    return IndependentSample(exports, frame, population.count)


def write_independent(sample: IndependentSample, out: Path) -> list[Path]:
    """identities_<label>.csv per channel and truth/truth.csv; returns the export paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for label, frame in sample.exports.items():
        if frame.height:
            path = out / f"identities_{label}.csv"
            frame.write_csv(path)
            paths.append(path)
    (out / "truth").mkdir(exist_ok=True)
    sample.truth.write_csv(out / "truth" / "truth.csv")
    return paths


def main(argv: list[str] | None = None) -> None:
    """Command line: generate and write a sample, print a JSON summary."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    sample = generate_independent(args.identities, args.seed)
    write_independent(sample, args.out)
    summary = {
        "identities": sample.truth.height,
        "people": sample.people,
        "per_channel": {label: frame.height for label, frame in sample.exports.items()},
        "seconds": round(time.perf_counter() - began, 2),
        "out": str(args.out),
    }
    print(json.dumps(summary))
