"""Volumes per parcel of a parcellation (cross-sectional), vectorised with bincount.

Each row: label, voxels, volume_ml (parcel), gm_ml / wm_ml / csf_ml (partial-volume
sums inside the parcel), lesion_ml, and ``change_type``: cross-sectional volumes have
none; the PBVC's regional table reports change "within a fixed region".
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def parcel_volumes(parcellation: np.ndarray, voxel_mm3: float, pv: np.ndarray | None = None,
                   lesions: np.ndarray | None = None) -> list[dict]:
    """Rows of per-parcel volumes in mL (label 0 is background and skipped)."""
    labels = np.asarray(parcellation)
    if labels.size == 0:
        raise InputError("parcellation", "is empty")
    flat = labels.astype(np.int64).ravel()
    if flat.min() < 0:
        raise InputError("parcellation", "holds negative labels")
    n = int(flat.max()) + 1
    counts = np.bincount(flat, minlength=n)
    ml = voxel_mm3 / 1000.0
    sums = {}
    if pv is not None:
        excl = np.zeros(labels.shape, bool) if lesions is None else np.asarray(lesions, bool)
        for k, name in enumerate(("csf", "gm", "wm")):
            sums[name] = np.bincount(flat, weights=np.where(excl, 0, pv[k]).ravel(), minlength=n) * ml
    if lesions is not None:
        sums["lesion"] = np.bincount(flat, weights=np.asarray(lesions, bool).ravel().astype(float), minlength=n) * ml
    rows = []
    for value in np.nonzero(counts)[0]:
        if value == 0:
            continue
        row = {"label": int(value), "voxels": int(counts[value]), "volume_ml": float(counts[value] * ml)}
        for name in ("gm", "wm", "csf", "lesion"):
            if name in sums:
                row[f"{name}_ml"] = float(sums[name][value])
        row["change_type"] = "none (cross-sectional volume)"
        rows.append(row)
    return rows
