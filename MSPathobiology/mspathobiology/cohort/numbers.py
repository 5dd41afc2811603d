"""Numbers as people read them: one rounding rule for cohort tables (TSV) and reports (HTML).

The number of decimals follows the unit in the column name
(:data:`~mspathobiology.defaults.cohort.ROUND_BY_SUFFIX`: mm3 to 0.1, mL to 0.01, percent
to 0.01, ...); any other real number is a fraction or a score and keeps
:data:`~mspathobiology.defaults.cohort.ROUND_DEFAULT_DECIMALS` (4) places. Integers,
booleans, text and missing values pass unchanged. The exact values stay in each
analysis' JSON outputs.
"""

from __future__ import annotations

import math

from ..defaults.cohort import ROUND_BY_SUFFIX, ROUND_DEFAULT_DECIMALS


def decimals_for(column: str) -> int:
    """Decimal places of a real-valued column, by the unit its name ends with."""
    name = str(column).lower()
    for suffix, places in ROUND_BY_SUFFIX:
        if name.endswith(suffix):
            return places
    return ROUND_DEFAULT_DECIMALS


def _is_real(value) -> bool:
    return isinstance(value, float) or type(value).__name__.startswith("float")


def round_value(column: str, value):
    """``value`` rounded for ``column`` (reals only; NaN and inf become None)."""
    if not _is_real(value):
        return value
    value = float(value)
    if not math.isfinite(value):
        return None
    rounded = round(value, decimals_for(column))
    return 0.0 if rounded == 0 else rounded  # no "-0.0"


def round_row(row: dict) -> dict:
    """A copy of a table row with every real number rounded for its column."""
    return {key: round_value(key, value) for key, value in row.items()}


def format_number(column: str, value) -> str:
    """Text of a cell: reals with the column's decimals in fixed notation (never ``1.2e+04``),
    integers as they are, booleans as yes/no, missing values as an empty string."""
    if value is None:
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if _is_real(value):
        value = round_value(column, value)
        return "" if value is None else f"{value:.{decimals_for(column)}f}"
    return str(value)
