"""Great Expectations suites for ingest batches, plus the exact failing rows for quarantine.

Every `Rule` is ONE definition that yields both the GX expectation (type + kwargs) and the polars
expression marking the rows GX counts as unexpected, so the GX report and the quarantine cannot
drift apart (the tests compare GX's unexpected counts with the polars counts for every rule).
GX only reports counts (its result formats cap the rows they list, and sample values would put
personal data into the Data Docs); the rows to quarantine come from the polars expressions.

Policies:
- blank means empty or only spaces, tabs and newlines; a required value must be present and not blank.
- duplicates: the key is (channel, external_id) for identities and (channel, message_id) for
  messages (rows missing a key part are ignored; they fail the not-null rules instead). GX counts
  every row of a repeated key; the FIRST occurrence in row order is kept and every later one is
  quarantined (if the first fails another rule, it is quarantined too and nothing is kept).
- warnings vs quarantine: a bad OPTIONAL value (email, birth date, identity timestamps, phone) never
  costs the identity: the row is loaded with the raw value kept and the normalized value empty, and
  the rule's failures are counted per column in `summary["warnings"]`. Quarantine is for rows that
  cannot be an identity (no channel or id, unknown channel, oversize value, duplicate key).
- an invalid phone number is flagged (`phone_valid` False), never quarantined: its rule reports
  through a `mostly` expectation (the suite fails when too few phones are valid).
- checks that would be slow in pandas (value lengths) or need two columns (birth date present but
  unparseable) run on a boolean helper column computed by polars (`Rule.derive`), which GX then
  checks; helpers are never returned. GX gets only the columns its expectations read.
- `summary["success"]` is GX's verdict over all expectations (so a low share of valid phones fails
  it); whether rows were quarantined is `summary["quarantined_rows"]`.
- lengths are checked on every canonical column (not on `extra`); `author_kind` must already be
  lower-case, `channel` canonical (the reader maps aliases).
- with a data-docs folder, GX keeps a file project in `<folder>/gx` (one suite, validation definition
  and checkpoint per kind, one validation page per batch); the index is
  `<folder>/gx/uncommitted/data_docs/local_site/index.html`. Batches validated at the same time
  should not share a folder.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import polars as pl

from domain.columns import CANONICAL_IDENTITY_COLUMNS, CANONICAL_MESSAGE_COLUMNS

logger = logging.getLogger(__name__)

KINDS = ("identities", "messages")
AUTHOR_KINDS = ("customer", "agent")
BLANK_PATTERN = "[^ \t\r\n]"  # a non-blank character; same meaning in RE2 (pyarrow), re and Rust regex
DEFAULT_MIN_VALID_PHONE_SHARE = 0.9
# counts without sample values or row indices: cheap on 1M rows and no personal data in results or docs
_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
# which file of a validation a row came from: the files of an ingest run are validated in one GX run
# (its fixed cost, building the metric graph of every expectation, is paid once, not per file)
FILE_COLUMN = "file_number"


@dataclass(frozen=True, eq=False)
class Rule:
    """One check: the GX expectation and the polars expression for the same rows, plus the reason."""

    name: str  # GX expectation type, e.g. "expect_column_values_to_not_be_null"
    column: str  # the input column the rule is about (for reports and quarantine)
    gx_kwargs: dict[str, Any]  # the expectation's kwargs (column / column_list, value_set, mostly, ...)
    fails: pl.Expr  # True where GX counts the row as unexpected
    reason: str  # human text, stored with quarantined rows
    quarantines: pl.Expr | None = None  # rows sent to quarantine; None: the failing rows
    derive: tuple[pl.Expr, ...] = ()  # named helper columns that `fails` and GX read
    when: tuple[str, str] | None = None  # GX row condition `column == value`, already part of `fails`
    warns: bool = False  # a bad optional value: the row loads (raw kept, normalized empty), counted

    @property
    def quarantine_expr(self) -> pl.Expr:
        """True where this rule sends the row to quarantine."""
        if self.warns:
            return pl.lit(False)
        return self.fails if self.quarantines is None else self.quarantines

    @property
    def gx_columns(self) -> list[str]:
        """The frame columns the GX expectation reads."""
        columns = list(self.gx_kwargs.get("column_list", []))
        if "column" in self.gx_kwargs:
            columns.append(self.gx_kwargs["column"])
        if self.when is not None:
            columns.append(self.when[0])
        return columns


def _not_null(column: str, when: tuple[str, str] | None = None) -> Rule:
    condition = f" when {when[0]} is {when[1]!r}" if when else ""
    return Rule(
        "expect_column_values_to_not_be_null",
        column,
        {"column": column},
        _scoped(pl.col(column).is_null(), when),
        f"{column} is missing{condition}",
        when=when,
    )


def _not_blank(column: str, when: tuple[str, str] | None = None) -> Rule:
    condition = f" when {when[0]} is {when[1]!r}" if when else ""
    return Rule(
        "expect_column_values_to_match_regex",
        column,
        {"column": column, "regex": BLANK_PATTERN},
        _scoped(pl.col(column).is_not_null() & ~pl.col(column).str.contains(BLANK_PATTERN), when),
        f"{column} is blank{condition}",
        when=when,
    )


def _in_set(
    column: str, values: Sequence[Any], reason: str, *, about: str | None = None, mostly: float | None = None
) -> Rule:
    kwargs: dict[str, Any] = {"column": column, "value_set": list(values)}
    if mostly is not None:
        kwargs["mostly"] = mostly
    return Rule(
        "expect_column_values_to_be_in_set",
        about or column,
        kwargs,
        pl.col(column).is_not_null() & ~pl.col(column).is_in(list(values)),
        reason,
        quarantines=pl.lit(False) if mostly is not None else None,
    )


def _max_length(column: str, limit: int) -> Rule:
    # GX checks a polars-computed flag: a length column per string column would make pandas copy
    # 8 bytes per value and column for every expectation (GX filters the whole frame each time)
    helper = f"{column}_too_long"
    flag = (pl.col(column).str.len_chars() > limit).fill_null(False).alias(helper)
    return replace(
        _in_set(helper, [False], f"{column} is longer than {limit} characters", about=column), derive=(flag,)
    )


def _unique_key(columns: list[str]) -> Rule:
    # a key repeats only within one file: the files of a run are validated together (FILE_COLUMN)
    key = pl.struct([*columns, FILE_COLUMN])
    complete = pl.all_horizontal(pl.col(c).is_not_null() for c in columns)
    return Rule(
        "expect_compound_columns_to_be_unique",
        ", ".join(columns),
        {"column_list": [*columns, FILE_COLUMN], "ignore_row_if": "any_value_is_missing"},
        complete & key.is_duplicated(),
        f"duplicate ({', '.join(columns)}) in the batch (the first occurrence is kept)",
        quarantines=complete & ~key.is_first_distinct(),
    )


def _parseable(flag: str, column: str, what: str) -> Rule:
    """`flag` is True where the raw `column` is present but did not parse."""
    return _in_set(flag, [False], f"{column} is not a valid {what}", about=column)


def _warning(rule: Rule) -> Rule:
    """The rule for an optional field: failing rows are loaded and counted as warnings of its column."""
    return replace(rule, warns=True, reason=f"{rule.reason} (loaded, normalized value left empty)")


def _scoped(expression: pl.Expr, when: tuple[str, str] | None) -> pl.Expr:
    if when is None:
        return expression
    return expression & (pl.col(when[0]) == when[1]).fill_null(False)


def _required(columns: Iterable[str]) -> list[Rule]:
    return [rule for column in columns for rule in (_not_null(column), _not_blank(column))]


def identity_rules(
    allowed_channels: list[str],
    max_value_length: int,
    *,
    min_valid_phone_share: float = DEFAULT_MIN_VALID_PHONE_SHARE,
) -> list[Rule]:
    """The checks of a normalized identities batch (see docs/data-model.md for its columns)."""
    # present as normalize.py sees it (trimmed, not empty) but no plausible date came out
    present = (pl.col("birth_date").str.strip_chars().str.len_bytes() > 0).fill_null(False)
    birth_date_bad = (present & pl.col("birth_date_norm").is_null()).alias("birth_date_bad")
    return [
        *_required(["channel", "external_id"]),
        _in_set("channel", sorted(allowed_channels), "channel is not a configured channel"),
        _unique_key(["channel", "external_id"]),
        # bad optional values cost the identity nothing: warnings, not quarantine
        _warning(_in_set("email_valid", [True], "email is not a valid address", about="email")),
        replace(
            _in_set(
                "phone_valid",
                [True],
                "phone is not a valid number (flagged, not quarantined)",
                about="phone",
                mostly=min_valid_phone_share,
            ),
            warns=True,
        ),
        *[_max_length(column, max_value_length) for column in CANONICAL_IDENTITY_COLUMNS],
        _warning(_parseable("created_at_bad", "created_at", "timestamp")),
        _warning(_parseable("updated_at_bad", "updated_at", "timestamp")),
        _warning(
            replace(
                _parseable("birth_date_bad", "birth_date", "date (1900 to today)"), derive=(birth_date_bad,)
            )
        ),
    ]


def message_rules(allowed_channels: list[str], max_value_length: int, max_body_length: int) -> list[Rule]:
    """The checks of a normalized messages batch (raw columns + created_at_ts, created_at_bad)."""
    agent = ("author_kind", "agent")
    return [
        # a missing author_kind means a customer message (normalize_messages fills it in)
        *_required(["thread_id", "channel", "external_id", "created_at"]),
        _in_set("channel", sorted(allowed_channels), "channel is not a configured channel"),
        _in_set("author_kind", list(AUTHOR_KINDS), "author_kind is neither 'customer' nor 'agent'"),
        _not_null("agent_name", when=agent),
        _not_blank("agent_name", when=agent),
        _parseable("created_at_bad", "created_at", "timestamp"),
        _unique_key(["channel", "message_id"]),
        *[_max_length(c, max_value_length) for c in CANONICAL_MESSAGE_COLUMNS if c != "body"],
        _max_length("body", max_body_length),
    ]


@dataclass
class ValidationOutcome:
    """Rows that passed, rows to quarantine (one per input row, reasons joined), and the GX report."""

    valid: pl.DataFrame  # rows that passed every quarantining rule (the input's columns)
    quarantined: pl.DataFrame  # row_number, expectation, column, reason ("; "-joined when several)
    summary: dict[str, Any]  # JSON-able: per-rule counts and success, overall success, GX statistics
    data_docs_path: str | None = None  # the Data Docs index.html, when a docs folder was given


def rule_key(index: int, rule: Rule) -> str:
    """A stable name for a rule within its list: position, expectation and column."""
    return f"{index:02d}:{rule.name}:{rule.column}"


def validate(
    frame: pl.DataFrame,
    kind: str,
    rules: list[Rule],
    *,
    batch_name: str,
    data_docs_dir: Path | None = None,
) -> ValidationOutcome:
    """Run the GX suite for `kind` on the batch and split its rows into valid and quarantined."""
    return validate_files(
        [(batch_name, frame)], kind, rules, run_name=batch_name, data_docs_dir=data_docs_dir
    )[0]


def validate_files(
    batches: Sequence[tuple[str, pl.DataFrame]],
    kind: str,
    rules: list[Rule],
    *,
    run_name: str,
    data_docs_dir: Path | None = None,
) -> list[ValidationOutcome]:
    """Validate several batches (files) of `kind` in ONE GX run; one outcome per batch, in order.

    GX sees the batches as one frame with a `file_number` column (duplicate keys are duplicates
    within one file), so a run of many files pays GX's fixed cost once and gets one validation page
    named `run_name`. Each outcome holds its own file's rows, quarantine and verdict (polars counts,
    with GX's semantics); `summary["gx"]` holds GX's counts and verdict over the whole validation,
    and `counts_agree` says whether they equal the sum of the files' polars counts.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown input kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not rules:
        raise ValueError("validate needs at least one rule")
    if not batches:
        return []
    for _, frame in batches:
        if "row_number" not in frame.columns:
            raise ValueError("the frame has no row_number column")
        if FILE_COLUMN in frame.columns:
            raise ValueError(f"the frame has a {FILE_COLUMN} column (validate_files adds it)")
    if len({tuple(frame.schema.items()) for _, frame in batches}) > 1:
        # frames that do not stack as they are (another column set or type): one GX run for each
        return [
            validate_files([batch], kind, rules, run_name=batch[0], data_docs_dir=data_docs_dir)[0]
            for batch in batches
        ]
    started = time.perf_counter()
    combined = pl.concat(
        [
            frame.with_columns(pl.lit(i, dtype=pl.Int32).alias(FILE_COLUMN))
            for i, (_, frame) in enumerate(batches)
        ],
        how="vertical",
        rechunk=False,
    )
    work = combined.with_columns(helper for rule in rules for helper in rule.derive)
    flags = work.select(
        *[rule.fails.fill_null(False).alias(f"f{i}") for i, rule in enumerate(rules)],
        *[rule.quarantine_expr.fill_null(False).alias(f"q{i}") for i, rule in enumerate(rules)],
        # GX's `mostly` is a share of the column's non-null values
        *[pl.col(rule.gx_kwargs["column"]).is_not_null().alias(f"n{i}") for i, rule in _mostly_rules(rules)],
    ).with_columns(pl.any_horizontal(f"q{i}" for i in range(len(rules))).alias("quarantined"))
    polars_seconds = time.perf_counter() - started

    started = time.perf_counter()
    columns = list(dict.fromkeys(column for rule in rules for column in rule.gx_columns))
    results, statistics, docs = _run_gx(work.select(columns), kind, rules, run_name, data_docs_dir)
    gx_seconds = time.perf_counter() - started

    started = time.perf_counter()
    whole = _tallies(flags, rules)
    gx = {
        "run_name": run_name,
        "files": len(batches),
        "rows": combined.height,
        "success": all(result["success"] for result in results),
        "unexpected_counts": {
            rule_key(i, rule): r["unexpected_count"]
            for i, (rule, r) in enumerate(zip(rules, results, strict=True))
        },
    }
    drift = [
        rule_key(i, rule)
        for i, (rule, result) in enumerate(zip(rules, results, strict=True))
        if result["unexpected_count"] != whole[f"f{i}"] or result["success"] != _verdict(i, rule, whole)
    ]
    if drift:
        logger.warning("GX and polars disagree on the failing rows of %s", ", ".join(drift))
    outcomes = []
    offset = 0
    for name, frame in batches:
        own = flags.slice(offset, frame.height)
        offset += frame.height
        tallies = whole if len(batches) == 1 else _tallies(own, rules)
        quarantined = _quarantine_rows(frame.get_column("row_number"), own, rules)
        valid = frame.filter(~own.get_column("quarantined"))
        per_rule = [
            {
                "rule": rule_key(i, rule),
                "expectation": rule.name,
                "column": rule.column,
                "reason": rule.reason,
                # this file's rows that GX counts as unexpected (GX's own count for the whole run is in "gx")
                "unexpected_count": result["unexpected_count"]
                if len(batches) == 1
                else int(tallies[f"f{i}"]),
                "polars_unexpected_count": int(tallies[f"f{i}"]),
                "quarantined": int(tallies[f"q{i}"]),
                "warns": rule.warns,
                "success": result["success"] if len(batches) == 1 else _verdict(i, rule, tallies),
            }
            for i, (rule, result) in enumerate(zip(rules, results, strict=True))
        ]
        warnings: dict[str, int] = {}
        for i, rule in enumerate(rules):
            if rule.warns and tallies[f"f{i}"]:
                warnings[rule.column] = warnings.get(rule.column, 0) + int(tallies[f"f{i}"])
        summary = {
            "kind": kind,
            "batch_name": name,
            "rows": frame.height,
            "valid_rows": valid.height,
            "quarantined_rows": quarantined.height,
            # loaded rows with a bad optional value, per field (raw value kept, normalized value empty)
            "warnings": warnings,
            "success": all(item["success"] for item in per_rule),
            "counts_agree": not drift,
            "rules": per_rule,
            "gx_statistics": statistics,
            "gx": gx,
            "seconds": {"polars": round(polars_seconds, 3), "gx": round(gx_seconds, 3)},
        }
        outcomes.append(ValidationOutcome(valid, quarantined, summary, docs))
    for outcome in outcomes:
        outcome.summary["seconds"]["split"] = round(time.perf_counter() - started, 3)
    return outcomes


def _mostly_rules(rules: list[Rule]) -> list[tuple[int, Rule]]:
    return [(i, rule) for i, rule in enumerate(rules) if "mostly" in rule.gx_kwargs]


def _tallies(flags: pl.DataFrame, rules: list[Rule]) -> dict[str, int]:
    """Failing, quarantined and (for `mostly` rules) non-null rows per rule, over the frame's flags."""
    counted = [name for name in flags.columns if name != "quarantined"]
    return {
        name: int(value or 0)
        for name, value in flags.select(pl.col(counted).sum()).row(0, named=True).items()
    }


def _verdict(index: int, rule: Rule, tallies: dict[str, int]) -> bool:
    """GX's verdict on a rule from polars counts: no unexpected row, or a high enough share (`mostly`)."""
    failing = tallies[f"f{index}"]
    if "mostly" not in rule.gx_kwargs:
        return failing == 0
    present = tallies[f"n{index}"]
    return present == 0 or (present - failing) / present >= float(rule.gx_kwargs["mostly"])


def _quarantine_rows(row_number: pl.Series, flags: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    """One row per quarantined input row; names, columns and reasons of its rules joined by "; "."""

    def joined(values: list[str]) -> pl.Expr:
        parts = [pl.when(pl.col(f"q{i}")).then(pl.lit(value)) for i, value in enumerate(values)]
        return pl.concat_str(parts, separator="; ", ignore_nulls=True)

    return (
        flags.with_columns(row_number)
        .filter(pl.col("quarantined"))
        .select(
            pl.col("row_number"),
            joined([rule.name for rule in rules]).alias("expectation"),
            joined([rule.column for rule in rules]).alias("column"),
            joined([rule.reason for rule in rules]).alias("reason"),
        )
    )


def _gx() -> Any:
    # GX sends usage analytics unless told not to; this is the one environment write in the code
    # base (settings.py reads, nothing writes): it must happen before GX is first imported.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # lazily: the import takes seconds

    _keep_compiled_templates()
    return gx


_TEMPLATES_KEPT = threading.Lock()


def _keep_compiled_templates() -> None:
    """Let GX's Data Docs views share one in-memory cache of compiled Jinja templates.

    Each Data Docs build makes new views, each with a new Jinja Environment that parses and compiles
    the same templates again: about 2 of the 3.3 s a one-row ingest spent building its docs (cProfile,
    56 compilations). Keyed by the template source's checksum, so a changed template is compiled anew;
    the warm runner fills it with its warm-up build and every command it forks reuses it.
    """
    from great_expectations.render.view.view import DefaultJinjaView
    from jinja2 import BytecodeCache

    with _TEMPLATES_KEPT:
        if getattr(DefaultJinjaView, "_idres_template_cache", None) is not None:
            return

        class MemoryBytecodeCache(BytecodeCache):
            def __init__(self) -> None:
                self.compiled: dict[str, bytes] = {}

            def load_bytecode(self, bucket: Any) -> None:
                if bucket.key in self.compiled:
                    bucket.bytecode_from_string(self.compiled[bucket.key])

            def dump_bytecode(self, bucket: Any) -> None:
                self.compiled[bucket.key] = bucket.bytecode_to_string()

        cache = MemoryBytecodeCache()
        original_init = DefaultJinjaView.__init__

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            self.env.bytecode_cache = cache

        setattr(DefaultJinjaView, "__init__", init)  # noqa: B010  (mypy: no assigning to a method)
        setattr(DefaultJinjaView, "_idres_template_cache", cache)  # noqa: B010


def preload_gx() -> threading.Thread:
    """Start importing GX in a background thread, to overlap its seconds with reading and normalizing."""
    thread = threading.Thread(target=_gx, name="import-great-expectations", daemon=True)
    thread.start()
    return thread


def _expectation(index: int, rule: Rule) -> Any:
    from great_expectations.expectations.metadata_types import FailureSeverity
    from great_expectations.expectations.registry import get_expectation_impl
    from great_expectations.expectations.row_conditions import Column

    kwargs = dict(rule.gx_kwargs)
    if rule.when is not None:
        kwargs["row_condition"] = Column(rule.when[0]) == rule.when[1]
    # the notes show in the Data Docs: a warning rule says its rows were loaded, not quarantined
    notes = f"warning: {rule.reason}" if rule.warns else f"quarantine: {rule.reason}"
    return get_expectation_impl(rule.name)(
        **kwargs,
        notes=notes,
        description=notes,
        severity=FailureSeverity.WARNING if rule.warns else FailureSeverity.CRITICAL,
        meta={"rule": rule_key(index, rule)},
    )


def _run_gx(
    data: pl.DataFrame, kind: str, rules: list[Rule], batch_name: str, data_docs_dir: Path | None
) -> tuple[list[dict[str, Any]], dict[str, Any], str | None]:
    """Validate the columns the suite reads; per-rule results in rule order, statistics, docs path."""
    gx = _gx()
    setup = _setup(kind, rules, data_docs_dir)
    # the batch is loaded once, by the run (a separate get_batch would fingerprint the frame twice)
    batch_parameters = {"dataframe": _to_pandas(data)}
    run_id = gx.RunIdentifier(run_name=batch_name)
    try:
        result, docs = _validate_batch(setup, batch_parameters, run_id)
    except Exception as error:
        # CheckpointNotFreshError, (Checkpoint|ValidationDefinition)RelatedResourcesFreshnessError
        if "Fresh" not in type(error).__name__:
            raise
        # the project files changed under this process's set-up in a way `_project_state` missed: rebuild once
        with _SETUPS_LOCK:
            _SETUPS.clear()
        result, docs = _validate_batch(_setup(kind, rules, data_docs_dir), batch_parameters, run_id)

    return _results_in_rule_order(result.results, rules), dict(result.statistics), docs


@dataclass
class _GxSetup:
    """A GX context with the suite, validation definition and (with Data Docs) checkpoint of a kind."""

    context: Any
    definition: Any
    checkpoint: Any | None
    project_state: tuple[tuple[str, int, int, int], ...] = ()


# one set-up per (docs folder, kind, suite) and process: building it writes and re-reads the GX
# project files, which cost more than validating a small file
_SETUPS: dict[tuple[str, str, str], _GxSetup] = {}
_SETUPS_LOCK = threading.Lock()


def _suite_signature(rules: list[Rule]) -> str:
    """What the GX suite is made of: equal signatures give equal suites."""
    return json.dumps(
        [[rule_key(i, r), r.gx_kwargs, r.when, r.warns, r.reason] for i, r in enumerate(rules)],
        default=str,
        sort_keys=True,
    )


def _project_state(data_docs_dir: Path | None) -> tuple[tuple[str, int, int, int], ...]:
    """What the GX project files (config, suites, validation definitions, checkpoints) look like on disk."""
    if data_docs_dir is None:
        return ()
    project = data_docs_dir / "gx"
    paths = [project / "great_expectations.yml"]
    for folder in ("expectations", "validation_definitions", "checkpoints"):
        paths += sorted((project / folder).glob("*.json"))
    state = []
    for path in paths:
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        state.append((path.name, info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(state)


def _setup(kind: str, rules: list[Rule], data_docs_dir: Path | None) -> _GxSetup:
    """The GX set-up for validating `kind` with `rules`, built once per process and reused.

    Another process validating into the same folder (under `ingest.pipeline.data_docs_lock`) re-saves
    the suite, validation definition and checkpoint; a set-up cached before that is stale (GX raises
    `...RelatedResourcesFreshnessError` or cannot find the suite), so it is rebuilt when the project
    files are not the ones this process wrote. The caller holds the docs lock: nothing changes meanwhile.
    """
    key = _setup_key(kind, rules, data_docs_dir)
    with _SETUPS_LOCK:
        cached = _SETUPS.get(key)
        if cached is None or cached.project_state != _project_state(data_docs_dir):
            _SETUPS[key] = _build_setup(kind, rules, data_docs_dir)
            _SETUPS[key].project_state = _project_state(data_docs_dir)
        return _SETUPS[key]


def prepare_setups(suites: dict[str, list[Rule]], data_docs_dir: Path | None) -> None:
    """Build the GX set-ups of these kinds now, for later validations into `data_docs_dir` to reuse.

    The warm command runner calls it before it forks: a command's child then validates with the
    context, suite, validation definition and checkpoint already built (2-3 s of a one-row ingest),
    as long as the project files are still the ones written here. The caller holds the docs lock.
    """
    for kind, rules in suites.items():
        _setup(kind, rules, data_docs_dir)
    with _SETUPS_LOCK:
        # a later kind's set-up saved the project (its data asset) after the earlier ones were built:
        # they are still whole (each kind has its own suite, definition and checkpoint files)
        state = _project_state(data_docs_dir)
        for kind, rules in suites.items():
            _SETUPS[_setup_key(kind, rules, data_docs_dir)].project_state = state


def _setup_key(kind: str, rules: list[Rule], data_docs_dir: Path | None) -> tuple[str, str, str]:
    # absolute: a forked child works in its command's folder, where a relative path is another folder
    return (str(data_docs_dir and data_docs_dir.absolute()), kind, _suite_signature(rules))


def _build_setup(kind: str, rules: list[Rule], data_docs_dir: Path | None) -> _GxSetup:
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if data_docs_dir is None:
        context = gx.get_context(mode="ephemeral")
    else:
        data_docs_dir.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=str(data_docs_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)

    name = f"idres_{kind}"
    batch_definition = _batch_definition(context, kind)
    reused = _saved_setup(context, kind, rules, data_docs_dir)
    if reused is not None:
        return reused
    suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=name, expectations=[_expectation(i, rule) for i, rule in enumerate(rules)])
    )
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    if data_docs_dir is None:
        return _GxSetup(context, definition, None)
    from great_expectations.checkpoint import UpdateDataDocsAction

    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="update_data_docs")],
            result_format=_RESULT_FORMAT,
        )
    )
    _record_setup(kind, rules, data_docs_dir)
    return _GxSetup(context, definition, checkpoint)


# what the GX set-up of a kind was built from, and its files as written: `_saved_setup` reads them
_SETUP_RECORDS = "idres_setups"


def _setup_files(kind: str, data_docs_dir: Path) -> list[tuple[str, int, int, int]]:
    project = data_docs_dir / "gx"
    files = []
    for folder in ("expectations", "validation_definitions", "checkpoints"):
        info = (project / folder / f"idres_{kind}.json").stat()
        files.append((folder, info.st_ino, info.st_size, info.st_mtime_ns))
    return files


def _record_setup(kind: str, rules: list[Rule], data_docs_dir: Path) -> None:
    record = {"signature": _suite_signature(rules), "files": _setup_files(kind, data_docs_dir)}
    path = data_docs_dir / "gx" / _SETUP_RECORDS / f"{kind}.json"
    path.parent.mkdir(exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(record))
    partial.replace(path)


def _saved_setup(context: Any, kind: str, rules: list[Rule], data_docs_dir: Path | None) -> _GxSetup | None:
    """The set-up of `kind` as saved in the project, when its suite is this one and its files are as written.

    Saving it again (`add_or_update`) compares every expectation and rewrites the files, about a
    second; the rewrite would also make every other process's cached set-up stale (the warm
    runner's included). None (build it) when anything differs or is missing.
    """
    if data_docs_dir is None:
        return None
    try:
        record = json.loads((data_docs_dir / "gx" / _SETUP_RECORDS / f"{kind}.json").read_text())
        if record["signature"] != _suite_signature(rules):
            return None
        if [list(item) for item in _setup_files(kind, data_docs_dir)] != record["files"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    name = f"idres_{kind}"
    try:
        definition = context.validation_definitions.get(name)
        checkpoint = context.checkpoints.get(name)
    except Exception:  # GX's not-found and parse errors have no common base: build it anew
        return None
    return _GxSetup(context, definition, checkpoint)


# validation pages waiting for one Data Docs build at the end of a run (see `deferred_data_docs`)
_PENDING_DOCS: dict[int, tuple[Any, list[Any]]] | None = None


def _validate_batch(setup: _GxSetup, batch_parameters: dict[str, Any], run_id: Any) -> tuple[Any, str | None]:
    """Validate one batch; the Data Docs are updated now, or at the end of a deferred run."""
    if setup.checkpoint is not None and _PENDING_DOCS is None:
        run = setup.checkpoint.run(batch_parameters=batch_parameters, run_id=run_id)
        return next(iter(run.run_results.values())), _docs_index(setup.context)
    result = setup.definition.run(
        batch_parameters=batch_parameters, result_format=_RESULT_FORMAT, run_id=run_id
    )
    if setup.checkpoint is None:
        return result, None
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    suite = ExpectationSuiteIdentifier(name=setup.definition.suite.name)
    assert _PENDING_DOCS is not None
    _, pending = _PENDING_DOCS.setdefault(id(setup.context), (setup.context, []))
    pending += [ValidationResultIdentifier(suite, run_id, result.batch_id), suite]
    return result, _docs_index(setup.context)


def start_deferred_data_docs() -> None:
    """From now on, validations store their results and the Data Docs wait for `build_deferred_data_docs`.

    Building the docs per file costs seconds (the index is re-rendered each time); a run of many
    files builds them once. Validation results and verdicts are the same either way.
    """
    global _PENDING_DOCS
    _PENDING_DOCS = {}


def take_deferred_data_docs() -> Callable[[], None]:
    """What builds the pages of the validations so far (to be called once); later ones stay deferred."""
    global _PENDING_DOCS
    pending = _PENDING_DOCS or {}
    if _PENDING_DOCS is not None:
        _PENDING_DOCS = {}

    def build() -> None:
        for context, identifiers in pending.values():
            context.build_data_docs(resource_identifiers=list(dict.fromkeys(identifiers)))

    return build


def build_deferred_data_docs() -> None:
    """Build the Data Docs pages of every validation since `start_deferred_data_docs`, and stop deferring."""
    global _PENDING_DOCS
    build = take_deferred_data_docs()
    _PENDING_DOCS = None
    build()


def _batch_definition(context: Any, kind: str) -> Any:
    """The whole-dataframe batch definition of `kind`, reusing what a file context already holds."""
    if "idres_ingest" in context.data_sources.all():
        source = context.data_sources.get("idres_ingest")
    else:
        source = context.data_sources.add_pandas(name="idres_ingest")
    known = kind in source.get_asset_names()
    asset = source.get_asset(kind) if known else source.add_dataframe_asset(kind)
    if any(definition.name == "batch" for definition in asset.batch_definitions):
        return asset.get_batch_definition("batch")
    return asset.add_batch_definition_whole_dataframe("batch")


def _to_pandas(data: pl.DataFrame) -> Any:
    """The GX frame; booleans with nulls become pandas' nullable boolean (object columns are slow)."""
    import pandas as pd

    frame = data.to_pandas()
    for name, dtype in data.schema.items():
        series = data.get_column(name)
        if dtype == pl.Boolean and series.null_count():
            values = series.fill_null(False).to_numpy()
            frame[name] = pd.arrays.BooleanArray(values, series.is_null().to_numpy())
    return frame


def _results_in_rule_order(results: list[Any], rules: list[Rule]) -> list[dict[str, Any]]:
    """GX results matched back to the rules through the rule key kept in each expectation's meta."""
    by_key = {(item.expectation_config.meta or {}).get("rule"): item for item in results}
    ordered = []
    for index, rule in enumerate(rules):
        item = by_key[rule_key(index, rule)]
        raised = [info for info in _exceptions(item.exception_info) if info.get("raised_exception")]
        if raised:
            message = raised[0].get("exception_message")
            raise RuntimeError(f"GX could not evaluate {rule_key(index, rule)}: {message}")
        ordered.append(
            {"success": bool(item.success), "unexpected_count": item.result.get("unexpected_count")}
        )
    return ordered


def _exceptions(info: Any) -> list[dict[str, Any]]:
    """GX reports exceptions either as one dict or as a dict of dicts keyed by metric."""
    if not info:
        return []
    if "raised_exception" in info:
        return [info]
    return [value for value in info.values() if isinstance(value, dict)]


def _docs_index(context: Any) -> str | None:
    for site in context.get_docs_sites_urls(only_if_exists=False):
        url = site.get("site_url")
        if url and url.startswith("file://"):
            return str(Path(unquote(urlparse(url).path)))
    return None
