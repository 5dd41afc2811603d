"""Tables as lists of row dicts, written as TSV or CSV (by suffix) atomically, read back typed.

This is the one table format of the project: the lesion table, rim scores, ratings,
disconnection and cohort tables all go through :func:`write_table` / :func:`read_table`.
Booleans are written ``true``/``false``; missing values are empty cells; tabs and line
breaks inside text cells become spaces (one row per line, as BIDS tables require).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from .errors import InputError
from .io import atomic_write_text


def _delimiter(path: Path) -> str:
    return "," if path.suffix.lower() == ".csv" else "\t"


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        value = float(value)
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, str):
        return value.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return str(value)


def table_text(rows, columns=None, delimiter: str = "\t") -> str:
    """Render rows (dicts) as delimited text; ``columns`` fixes the order (default: first-seen keys)."""
    rows = list(rows)
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_format(row.get(c)) for c in columns])
    return buffer.getvalue()


def write_table(rows, path, columns=None) -> Path:
    """Write ``rows`` to ``path`` (``.tsv`` or ``.csv``) atomically; return the path."""
    path = Path(path)
    return atomic_write_text(path, table_text(rows, columns, _delimiter(path)))


def parse_value(text: str):
    """Convert one cell: '' -> None, true/false -> bool, integers -> int, numbers -> float, else str."""
    if text == "":
        return None
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_table(path, name: str | None = None, typed: bool = True) -> list[dict]:
    """Read a TSV/CSV file into row dicts, converting cells with :func:`parse_value` when ``typed``."""
    path = Path(path)
    source = f"{name} ({path})" if name else str(path)
    if not path.exists():
        raise InputError(source, "file not found")
    if path.is_dir():
        raise InputError(source, "is a folder, not a table file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(source, "is not a UTF-8 text table") from None
    except OSError as exc:
        raise InputError(source, f"cannot be read: {exc.strerror or exc}") from None
    if "\x00" in text:
        raise InputError(source, "holds NUL bytes; it is a binary file, not a text table")
    reader = csv.DictReader(io.StringIO(text), delimiter=_delimiter(path))
    rows = []
    try:
        if reader.fieldnames is None:
            raise InputError(source, "is empty (no header row)")
        if len(set(reader.fieldnames)) != len(reader.fieldnames):
            raise InputError(source, "has repeated column names in its header")
        for number, row in enumerate(reader, start=2):
            if None in row:
                raise InputError(source, f"line {number} has more cells than the header")
            rows.append({k: (parse_value(v or "") if typed else (v or "")) for k, v in row.items()})
    except csv.Error as exc:
        raise InputError(source, f"is not a valid table: {exc}") from None
    return rows
