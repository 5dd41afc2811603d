"""The one lesion table schema, used by every module and every output.

A lesion table is a list of row dicts with the columns below (units in the names or
here). Rows are written with :func:`write_lesion_table` and read with
:func:`read_lesion_table`, which checks the schema. Other parts add their own
per-lesion tables keyed by ``id`` (e.g. rim scores) rather than changing this one.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .tables import read_table, write_table

#: Location classes and their codes. Codes 1-4 are LST-AI v2's (1 periventricular,
#: 2 juxtacortical, 3 subcortical/deep white matter, 4 infratentorial); 5 is cortical,
#: which LST-AI does not separate. McDonald 2017 groups cortical with juxtacortical.
LOCATION_CODES = {
    "periventricular": 1,
    "juxtacortical": 2,
    "deep_white_matter": 3,
    "infratentorial": 4,
    "cortical": 5,
}
LOCATIONS = tuple(LOCATION_CODES)

#: (column, type, meaning and unit). ``None`` is allowed in optional columns.
SCHEMA = (
    ("id", int, "lesion id, 1..N ordered by decreasing volume"),
    ("voxels", int, "voxel count"),
    ("volume_mm3", float, "volume in mm^3"),
    ("centroid_r", float, "centroid, RAS mm"),
    ("centroid_a", float, "centroid, RAS mm"),
    ("centroid_s", float, "centroid, RAS mm"),
    ("bbox_i_min", int, "bounding box, voxel index i (inclusive)"),
    ("bbox_j_min", int, "bounding box, voxel index j (inclusive)"),
    ("bbox_k_min", int, "bounding box, voxel index k (inclusive)"),
    ("bbox_i_max", int, "bounding box, voxel index i (inclusive)"),
    ("bbox_j_max", int, "bounding box, voxel index j (inclusive)"),
    ("bbox_k_max", int, "bounding box, voxel index k (inclusive)"),
    ("long_axis_mm", float, "long axis in mm, the longest extent within one image (lesions.measure.long_axis_mm): max "
                            "distance between voxel centres + the in-plane width of one voxel along that line; on 2D "
                            "(anisotropic) grids measured within the acquired slices, so slice thickness is not length"),
    ("flair_mean", float, "mean FLAIR normalised to normal-appearing white matter (NAWM = 1); empty without FLAIR"),
    ("flair_max", float, "max normalised FLAIR; empty without FLAIR"),
    ("location", str, "one of " + ", ".join(LOCATIONS)),
    ("mcdonald_countable", bool, "long axis >= MCDONALD_MIN_LONG_AXIS_MM; empty = unknown (not counted for DIS)"),
    ("enhancing", bool, "enhances on T1 post-contrast; empty when no post-contrast image was given"),
)
COLUMNS = tuple(name for name, _, _ in SCHEMA)
REQUIRED = ("id", "voxels", "volume_mm3", "centroid_r", "centroid_a", "centroid_s", "location")
_OPTIONAL = {"flair_mean", "flair_max", "enhancing", "location"}


def validate_lesion_rows(rows, source: str = "lesion table") -> list[dict]:
    """Check that rows follow :data:`SCHEMA` (types, ids unique and positive, locations known)."""
    seen = set()
    for n, row in enumerate(rows, start=1):
        for name in REQUIRED:
            if name not in row:
                raise InputError(source, f"row {n} lacks column {name!r}")
        for name, kind, _ in SCHEMA:
            value = row.get(name)
            if value is None:
                if name in _OPTIONAL or name not in REQUIRED:
                    continue
                raise InputError(source, f"row {n}: {name} is empty")
            if kind is float and not isinstance(value, (int, float)) or kind is int and (
                    isinstance(value, bool) or not float(value).is_integer()) or kind is bool and not isinstance(value, bool):
                raise InputError(source, f"row {n}: {name}={value!r} is not of type {kind.__name__}")
        if row["location"] is not None and row["location"] not in LOCATION_CODES:
            raise InputError(source, f"row {n}: unknown location {row['location']!r}")
        if row["id"] <= 0 or row["id"] in seen:
            raise InputError(source, f"row {n}: id {row['id']} is not a new positive id")
        seen.add(row["id"])
    return rows


def write_lesion_table(rows, path) -> Path:
    """Validate and write a lesion table (TSV or CSV by suffix), columns in schema order."""
    rows = validate_lesion_rows(list(rows))
    extra = [k for row in rows for k in row if k not in COLUMNS]
    columns = list(COLUMNS) + list(dict.fromkeys(extra))
    return write_table(rows, path, columns=columns)


def read_lesion_table(path) -> list[dict]:
    """Read and validate a lesion table written by :func:`write_lesion_table`."""
    return validate_lesion_rows(read_table(path), source=str(path))
