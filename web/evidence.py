"""Evidence as an agent reads it: the values as ingested (not the normalized forms the model compared),
"exact" only where the shown values are equal, and probabilities that do not all read 100.0%."""

from __future__ import annotations

from typing import Any

# evidence field -> the ingested columns that show it
RAW_COLUMNS: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name",), "last_name": ("last_name",), "display_name": ("display_name",),
    "name": ("first_name", "last_name"), "full_name": ("first_name", "last_name"), "email": ("email",),
    "phone": ("phone",), "birth_date": ("birth_date",), "city": ("city",), "postcode": ("postcode",),
    "country": ("country",), "company": ("company",), "gender": ("gender",), "screen_name": ("screen_name",),
}  # fmt: skip


def _shown(raw: dict[str, Any] | None, field: str, fallback: Any) -> Any:
    if raw is None:
        return fallback
    columns = RAW_COLUMNS.get(field) or RAW_COLUMNS.get(field.removesuffix("_norm").removesuffix("_key"))
    if not columns:
        return fallback
    text = " ".join(str(raw[c]) for c in columns if raw.get(c) not in (None, ""))
    return text or fallback


def as_ingested(
    evidence: list[dict[str, Any]], raw_l: dict[str, Any] | None, raw_r: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Evidence items with value_l/value_r as ingested and a level that never says exact of unequal values."""
    shown = []
    for item in evidence:
        field = str(item.get("field") or "")
        left = _shown(raw_l, field, item.get("value_l"))
        right = _shown(raw_r, field, item.get("value_r"))
        level = str(item.get("level") or "")
        if level == "exact" and left != right:
            level = "same after normalizing"
        shown.append({**item, "value_l": left, "value_r": right, "level": level})
    return shown


def probability_text(value: Any) -> str:
    """A probability as a percentage: one decimal, or more above 99.9% (never a bare 100.0%)."""
    probability = float(value)
    if probability < 0.999:
        return f"{100 * probability:.1f}%"
    text = f"{100 * probability:.3f}%"
    return "> 99.999%" if text == "100.000%" else text
