"""Matching configuration: comparisons and blocking rules as validated pydantic models.

A data engineer extends matching through `MatchSettings.comparisons` / `.blocking_rules`
(plain dicts in idres.toml). An entry whose `name` equals a default replaces that default;
`enabled = false` switches a default off. Schemas:

Comparison dict::

    {"name": "postcode", "kind": "postcode", "column": "postcode_norm"}
    {"name": "loyalty_no", "kind": "exact", "column": "loyalty_no", "term_frequency": true}
    {"name": "address", "kind": "string", "column": "address", "scorer": "token_set",
     "thresholds": [0.95, 0.8]}
    {"name": "age", "kind": "numeric", "column": "age", "thresholds": [1, 3]}

kinds: exact, string (scorer jaro_winkler | levenshtein | token_set | indel; similarity
thresholds in (0, 1], descending, one level each), numeric / date (absolute difference
thresholds, ascending; date in days, plus a `typo` level for one
date part wrong or day/month swapped; `date_format` reads a text column), address (token-set
similarity of canonical addresses with house-number agreement, address.py), and the built-in
person kinds first_name, last_name, email, phone, postcode, name_handle, name_part (see comparisons.py,
crossfield.py), and source (other_source / same_source: one channel or two). Columns that are not store columns are extra attributes, prepared in
attributes.py (folded text, parsed dates and numbers); `composite_columns` builds one column
from several. `link_type` (dedupe | link_only | link_and_dedupe) with `source_column` decides
which pairs may be compared at all (linking.py). The README's "Configuring matching" is the
user-facing reference.

Blocking rule dict::

    {"name": "surname_postcode", "on": ["last_name_key", "postcode_norm"]}
    {"name": "handles", "any_of": [["letters(email_local(email_norm))"], ["letters(screen_name_norm)"]],
     "min_key_length": 5}

`on` is a conjunction of key expressions (all present, values joined); `any_of` is a union of
such conjunctions whose keys collide across alternatives; `different_source = true` keeps only
pairs across sources. A key expression is a column or a
function of expressions: metaphone, nysiis, soundex, initial, prefix(x, n), suffix(x, n),
digits(x, n) (last n digits), letters, email_local, email_domain, canonical (nickname formal
name), year, concat(a, b, ...), sorted(a, b, ...) (order-free join, for swapped names).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from domain.errors import ConfigurationError
from domain.settings import MatchTuning

ComparisonKind = Literal[
    "exact",
    "string",
    "numeric",
    "date",
    "first_name",
    "last_name",
    "email",
    "phone",
    "postcode",
    "name_handle",
    "name_part",
    "address",
    "source",
]
COMPARISON_KINDS: tuple[str, ...] = ComparisonKind.__args__  # type: ignore[attr-defined]
SCORERS = ("jaro_winkler", "levenshtein", "token_set", "indel")
KEY_FUNCTIONS: dict[str, int] = {
    # name -> number of integer arguments after the first expression (-1: variadic expressions)
    "metaphone": 0,
    "nysiis": 0,
    "soundex": 0,
    "initial": 0,
    "letters": 0,
    "email_local": 0,
    "email_domain": 0,
    "canonical": 0,
    "year": 0,
    "prefix": 1,
    "suffix": 1,
    "digits": 1,
    "concat": -1,
    "sorted": -1,
}
# kinds that take several columns (in this order) instead of one `column`
MULTI_COLUMN_KINDS = {"name_handle": 4, "name_part": 4}
# the raw text a normalized date column was parsed from: read too, so that an impossible date
# (month 13) the ingest could not parse still compares by its parts (comparisons.compare_date)
RAW_DATE_COLUMNS = {"birth_date_norm": "birth_date"}
# default similarity / difference thresholds per kind; where they come from is in comparisons.py
DEFAULT_THRESHOLDS: dict[str, list[float]] = {
    "string": [0.92, 0.8],
    "first_name": [0.92, 0.8],
    "last_name": [0.92, 0.8],
    "email": [0.88],
    "numeric": [1.0],
    "date": [],
    "name_handle": [0.9],
    # token-set similarity of the canonical address (house numbers agreeing), see address.py
    "address": [0.9, 0.7],
}


class ConfigError(ConfigurationError, ValueError):
    """Invalid matching configuration (bad dict, unknown column, ...), with a readable message."""


class ComparisonSpec(BaseModel):
    """One field comparison: graded levels, m/u learned per level."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1)
    kind: ComparisonKind
    column: str | None = None
    # secondary columns: first_name/last_name -> [partner name column] for swaps;
    # name_handle, name_part -> [first, last, email, screen]
    columns: list[str] = Field(default_factory=list)
    scorer: Literal["jaro_winkler", "levenshtein", "token_set", "indel"] | None = None
    thresholds: list[float] | None = None
    term_frequency: bool = False
    shared_values: bool = False
    # `date` on a text column: the strptime format to read it with (default: common formats tried)
    date_format: str | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _check(self) -> ComparisonSpec:
        need = MULTI_COLUMN_KINDS.get(self.kind)
        if need is not None and len(self.columns) != need:
            raise ValueError(f"comparison {self.name!r}: kind {self.kind!r} needs {need} columns")
        if need is None and not self.column:
            raise ValueError(f"comparison {self.name!r}: kind {self.kind!r} needs `column`")
        if self.kind == "string" and self.scorer is None:
            self.scorer = "jaro_winkler"
        if self.thresholds is None:
            self.thresholds = list(DEFAULT_THRESHOLDS.get(self.kind, []))
        t = self.thresholds
        if self.kind in ("numeric", "date"):
            if any(x < 0 for x in t) or t != sorted(set(t)):
                raise ValueError(
                    f"comparison {self.name!r}: thresholds must be non-negative and strictly ascending, got {t}"
                )
        elif any(not 0.0 < x <= 1.0 for x in t) or t != sorted(set(t), reverse=True):
            raise ValueError(
                f"comparison {self.name!r}: similarity thresholds must be in (0, 1] and strictly "
                f"descending, got {t}"
            )
        return self

    def all_columns(self) -> list[str]:
        """Every input column this comparison reads."""
        return ([self.column] if self.column else []) + list(self.columns)

    def own_columns(self) -> list[str]:
        """Columns whose agreement this comparison measures (a rule blocking on them excludes it in EM)."""
        if self.kind in MULTI_COLUMN_KINDS:
            return []
        if self.kind in ("email", "phone"):  # the key and the value it was folded from are one field
            return self.all_columns()
        return [self.column] if self.column else []

    def display_columns(self, available: set[str]) -> list[str]:
        """Columns shown as the compared values in evidence (the readable form where there is one)."""
        if self.kind in MULTI_COLUMN_KINDS:
            return list(self.columns)
        if self.kind == "email" and self.columns:
            return [self.columns[0]]
        if self.column and self.column.endswith("_key"):
            readable = self.column.removesuffix("_key") + "_norm"
            if readable in available:
                return [readable]
        return [self.column] if self.column else []


_CALL = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$", re.S)


def _split_args(text: str) -> list[str]:
    args, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        depth += (ch == "(") - (ch == ")")
        cur += ch
    if cur.strip():
        args.append(cur.strip())
    return args


def parse_key(expr: str) -> tuple[str, list[Any]]:
    """Parse a key expression into (function or 'column', args); raises ConfigError when malformed."""
    m = _CALL.match(expr)
    if not m:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", expr.strip()):
            raise ConfigError(f"bad key expression {expr!r}: expected a column name or function(...)")
        return "column", [expr.strip()]
    func, raw = m.group(1), _split_args(m.group(2))
    if func not in KEY_FUNCTIONS:
        raise ConfigError(f"unknown key function {func!r} in {expr!r}; known: {sorted(KEY_FUNCTIONS)}")
    n_int = KEY_FUNCTIONS[func]
    if n_int == -1:
        if len(raw) < 2:
            raise ConfigError(f"{func}() needs at least two expressions in {expr!r}")
        return func, [parse_key(a) for a in raw]
    if len(raw) != 1 + n_int:
        raise ConfigError(f"{func}() takes {1 + n_int} argument(s) in {expr!r}")
    ints: list[Any] = []
    for a in raw[1:]:
        if not a.isdigit() or int(a) < 1:
            raise ConfigError(f"{func}() needs a positive integer argument, got {a!r} in {expr!r}")
        ints.append(int(a))
    return func, [parse_key(raw[0]), *ints]


def key_columns(expr: str | tuple[str, list[Any]]) -> set[str]:
    """Columns a key expression reads."""
    func, args = parse_key(expr) if isinstance(expr, str) else expr
    if func == "column":
        return {args[0]}
    out: set[str] = set()
    for a in args:
        if isinstance(a, tuple):
            out |= key_columns(a)
    return out


class BlockingRuleSpec(BaseModel):
    """One blocking rule: identities sharing a key value become candidate pairs."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1)
    on: list[str] = Field(default_factory=list)
    any_of: list[list[str]] = Field(default_factory=list)
    min_key_length: int = Field(default=1, ge=1)
    max_block_size: int | None = Field(default=None, ge=2)
    # comparisons left out of EM for pairs this rule found, on top of those on the rule's columns
    exclude_comparisons: list[str] | None = None
    # only pairs whose identities come from different sources (`MatchConfig.source_column`)
    different_source: bool = False
    enabled: bool = True

    @model_validator(mode="after")
    def _check(self) -> BlockingRuleSpec:
        if bool(self.on) == bool(self.any_of):
            raise ValueError(f"blocking rule {self.name!r}: give exactly one of `on` or `any_of`")
        for alt in self.variants():
            if not alt:
                raise ValueError(f"blocking rule {self.name!r}: empty key list")
            for expr in alt:
                parse_key(expr)
        return self

    def variants(self) -> list[list[str]]:
        """Alternatives of key conjunctions (one for `on`)."""
        return [self.on] if self.on else self.any_of

    def columns(self) -> set[str]:
        """Every column the rule reads."""
        return {c for alt in self.variants() for e in alt for c in key_columns(e)}


def _c(name: str, kind: str, column: str | None = None, **kw: Any) -> ComparisonSpec:
    return ComparisonSpec(name=name, kind=kind, column=column, **kw)  # type: ignore[arg-type]


def default_comparisons() -> list[ComparisonSpec]:
    """The built-in comparisons over the normalized identity columns."""
    return [
        _c("first_name", "first_name", "first_name_key", columns=["last_name_key"], term_frequency=True),
        _c("last_name", "last_name", "last_name_key", columns=["first_name_key"], term_frequency=True),
        _c("email", "email", "email_key", columns=["email_norm"], term_frequency=True, shared_values=True),
        _c("phone", "phone", "phone_e164", columns=["phone_national"], term_frequency=True, shared_values=True),
        _c("screen_name", "string", "screen_name_norm", scorer="levenshtein", thresholds=[0.8],
           term_frequency=True, shared_values=True),
        _c("name_handle", "name_handle",
           columns=["first_name_key", "last_name_key", "email_norm", "screen_name_norm"]),
        _c("name_part", "name_part",
           columns=["first_name_key", "last_name_key", "email_norm", "screen_name_norm"]),
        _c("birth_date", "date", "birth_date_norm"),
        _c("postcode", "postcode", "postcode_norm", term_frequency=True),
        _c("city", "string", "city_norm", thresholds=[0.92], term_frequency=True),
        _c("company", "string", "company_norm", scorer="token_set", thresholds=[0.9], term_frequency=True),
        _c("country", "exact", "country_norm", term_frequency=True),
        _c("channel", "source", "channel"),
    ]  # fmt: skip


def _r(name: str, *on: str, **kw: Any) -> BlockingRuleSpec:
    return BlockingRuleSpec(name=name, on=list(on), **kw)


def default_blocking_rules() -> list[BlockingRuleSpec]:
    """The built-in blocking rules; together they survive any one field missing or misspelled."""
    handle_keys = [
        ["concat(first_name_key, last_name_key)"],
        ["concat(initial(first_name_key), last_name_key)"],
        ["concat(last_name_key, first_name_key)"],
        ["concat(last_name_key, initial(first_name_key))"],
        ["concat(first_name_key, initial(last_name_key))"],
        ["letters(email_local(email_norm))"],
        ["letters(screen_name_norm)"],
    ]
    # name-only rules get a smaller block cap: a block of k identities costs k(k-1)/2 pairs,
    # and a name shared by more than ~20 identities is too common to link on without other
    # evidence, which the contact rules (email, phone, handle) find anyway. 20 keeps these
    # rules at <= 9.5 pairs per identity.
    name_cap = {"max_block_size": 20}
    return [
        _r("email_key", "email_key"),
        _r("email_norm", "email_norm"),
        _r("phone", "phone_e164"),
        _r("phone_national", "phone_national"),
        _r("screen_name", "screen_name_norm"),
        _r("name_city", "sorted(canonical(first_name_key), last_name_key)", "city_norm"),
        _r("surname_postcode", "last_name_key", "postcode_norm"),
        _r("phonetic_surname_initial", "metaphone(last_name_key)", "initial(canonical(first_name_key))", **name_cap),
        _r("first_name_soundex_surname", "canonical(first_name_key)", "soundex(last_name_key)", **name_cap),
        _r("first_name_birth_date", "canonical(first_name_key)", "birth_date_norm"),
        # the one rule that does not read the first name: EM learns first-name m from its pairs
        _r("last_name_birth_date", "last_name_key", "birth_date_norm"),
        # neither name: a record whose first and last name both carry a typo (or are swapped
        # with a typo) still shares its date of birth and town
        _r("birth_date_city", "birth_date_norm", "city_norm"),
        _r("full_name", "sorted(first_name_key, last_name_key)", **name_cap),
        _r("name_handle", any_of=handle_keys, min_key_length=5, **name_cap,
           exclude_comparisons=["name_handle", "name_part"]),
        _r("email_local_first_initial", "email_local(email_norm)", "initial(canonical(first_name_key))"),
    ]  # fmt: skip


class MatchConfig(MatchTuning):
    """Everything the engine needs; build it with `MatchConfig.from_settings(settings.match)`.

    The tuning fields are `domain.settings.MatchTuning`'s (what `[match]` configures); here the
    comparisons and blocking rules are parsed, with the defaults merged in.
    """

    comparisons: list[ComparisonSpec] = Field(default_factory=default_comparisons)
    blocking_rules: list[BlockingRuleSpec] = Field(default_factory=default_blocking_rules)

    @field_validator("comparisons", "blocking_rules", mode="before")
    @classmethod
    def _not_none(cls, v: Any) -> Any:
        return [] if v is None else v

    @model_validator(mode="after")
    def _check(self) -> MatchConfig:
        if self.possible_floor is not None and self.possible_floor >= self.review_threshold:
            raise ValueError("possible_floor must be below review_threshold")
        names = [c.name for c in self.comparisons]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate comparison names in {names}")
        rule_names = [r.name for r in self.blocking_rules]
        if len(set(rule_names)) != len(rule_names):
            raise ValueError(f"duplicate blocking rule names in {rule_names}")
        for name, parts in self.composite_columns.items():
            if not parts or name in parts:
                raise ValueError(f"composite column {name!r} needs parts other than itself, got {parts}")
            if name.endswith(("_norm", "_key")) or name in ("channel", "external_id", "identity_id"):
                raise ValueError(f"composite column {name!r} would hide a store column: choose another name")
        for rule in self.blocking_rules:
            unknown = set(rule.exclude_comparisons or []) - set(names)
            if unknown:
                raise ValueError(
                    f"blocking rule {rule.name!r} excludes unknown comparisons {sorted(unknown)}"
                )
        return self

    @classmethod
    def from_settings(cls, settings: Any = None, **overrides: Any) -> MatchConfig:
        """Defaults merged with `MatchSettings` (or a dict of its fields); raises ConfigError."""
        if settings is None:
            data: dict[str, Any] = {}
        elif isinstance(settings, dict):
            data = dict(settings)
        else:
            data = settings.model_dump()
        data.update(overrides)
        try:
            comps = _merge(default_comparisons(), data.pop("comparisons", None) or [], ComparisonSpec)
            rules = _merge(default_blocking_rules(), data.pop("blocking_rules", None) or [], BlockingRuleSpec)
            return cls(comparisons=comps, blocking_rules=rules, **data)
        except ValidationError as exc:
            raise ConfigError(_readable(exc)) from None

    def active_comparisons(self) -> list[ComparisonSpec]:
        """Enabled comparisons, in order."""
        return [c for c in self.comparisons if c.enabled]

    def active_rules(self) -> list[BlockingRuleSpec]:
        """Enabled blocking rules, in order (the first rule producing a pair is credited)."""
        return [r for r in self.blocking_rules if r.enabled]

    def read_columns(self) -> list[str]:
        """Every column the active comparisons and blocking rules read (composite names included)."""
        wanted: set[str] = set()
        for comp in self.active_comparisons():
            wanted |= set(comp.all_columns())
            if comp.kind == "date" and comp.column in RAW_DATE_COLUMNS:
                wanted.add(RAW_DATE_COLUMNS[comp.column])
        for rule in self.active_rules():
            wanted |= rule.columns()
        return sorted(wanted)

    def by_source(self) -> bool:
        """Whether some pairs must cross sources (link_only, or a rule with `different_source`)."""
        return self.link_type == "link_only" or any(r.different_source for r in self.active_rules())

    def check_columns(self, columns: list[str] | set[str]) -> None:
        """Raise ConfigError naming every configured column the identities frame lacks."""
        have = set(columns)
        if "phone_e164" in have:  # the engine derives the national digits from it (matching/phones.py)
            have.add("phone_national")
        problems = []
        for comp in self.active_comparisons():
            missing = [c for c in comp.all_columns() if c not in have]
            if missing:
                problems.append(f"comparison {comp.name!r} reads unknown column(s) {missing}")
        for rule in self.active_rules():
            missing = sorted(rule.columns() - have)
            if missing:
                problems.append(f"blocking rule {rule.name!r} reads unknown column(s) {missing}")
        if (self.link_type != "dedupe" or self.by_source()) and self.source_column not in have:
            problems.append(
                f"link_type {self.link_type!r} reads unknown source_column {self.source_column!r}"
            )
        if problems:
            raise ConfigError("; ".join(problems) + f". Available columns: {sorted(have)}")


def _merge(defaults: list[Any], extra: list[Any], model: type[BaseModel]) -> list[Any]:
    by_name = {d.name: d for d in defaults}
    order = [d.name for d in defaults]
    what = "comparisons" if model is ComparisonSpec else "blocking_rules"
    for index, raw in enumerate(extra):
        raw = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw)
        name = raw.get("name")
        if name in by_name and set(raw) <= {"name", "enabled"}:
            # {"name": "company", "enabled": false} switches a default off without restating it
            by_name[name] = by_name[name].model_copy(update={"enabled": bool(raw.get("enabled", True))})
            continue
        try:
            item = model.model_validate(raw)
        except ValidationError as exc:
            label = f"{what}[{index}]" + (f" ({name!r})" if name else "")
            raise ConfigError(_readable(exc, label, model)) from None
        if item.name not in by_name:  # type: ignore[attr-defined]
            order.append(item.name)  # type: ignore[attr-defined]
        by_name[item.name] = item  # type: ignore[attr-defined]
    return [by_name[n] for n in order]


def _nearest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _readable(exc: ValidationError, label: str = "", model: type[BaseModel] | None = None) -> str:
    """One clause per problem; an unknown key names the nearest valid key of its model."""
    model = model or MatchConfig
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        where = ".".join(p for p in (label, loc) if p)
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1])
            valid = sorted(model.model_fields) if len(err["loc"]) == 1 else []
            hint = _nearest(key, valid) + (f" (valid keys: {', '.join(valid)})" if valid else "")
            parts.append(f"{label + ': ' if label else ''}unknown key {key!r}{hint}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error" and isinstance(err.get("input"), str):
            expected = re.findall(r"'([^']+)'", str(err.get("ctx", {}).get("expected", "")))
            msg += f", got {err['input']!r}{_nearest(err['input'], expected)}"
        parts.append(f"{where}: {msg}" if where else msg)
    return "invalid matching configuration: " + "; ".join(parts)
