"""Per-lesion SEL measures and the SEL heuristics (Elliott et al., Mult Scler 2019; Preziosa et al. 2022).

All measures are on the baseline grid. Log-Jacobians are corrected for global brain change
(:func:`global_log_jacobian`); units: log-Jacobian (dimensionless; 0.1 = 10.5 % expansion) and
log-Jacobian per time unit (per year when visit times are given in years, else per visit interval).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..connectivity import dilate
from ..defaults.sel import (SEL_BAND_MM, SEL_CONCENTRIC_MIN_FRACTION, SEL_DEFINITE_EXPANSION_LOGJAC,
                            SEL_MIN_CORE_VOXELS, SEL_MIN_EXPANSION_LOGJAC, SEL_MIN_EXPANSION_OVER_RING_LOGJAC,
                            SEL_MIN_INTERVAL_EXPANSION_LOGJAC, SEL_MIN_VOXELS, SEL_REFERENCE_LESION_MARGIN_VOXELS,
                            SEL_MIN_WM_SHARE, SEL_NON_WHITE_MATTER_LOCATIONS, SEL_RING_GAP_MM, SEL_RING_MM)


def reference_region(brain: np.ndarray, lesions: np.ndarray,
                     margin_voxels: int = SEL_REFERENCE_LESION_MARGIN_VOXELS) -> np.ndarray:
    """Brain voxels away from every lesion (lesions dilated by ``margin_voxels``)."""
    near = dilate(lesions > 0, iterations=margin_voxels) if margin_voxels > 0 else lesions > 0
    return brain & ~near


def global_log_jacobian(logjac: np.ndarray, reference: np.ndarray) -> float:
    """Global brain change of one visit: the median log-Jacobian over the reference region."""
    if not reference.any():
        return 0.0
    return float(np.median(logjac[reference]))


def linear_slope(times, values) -> float:
    """Least-squares slope of ``values`` over ``times`` (units of values per unit of time)."""
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    tc = t - t.mean()
    denom = float((tc * tc).sum())
    return float((tc * (v - v.mean())).sum() / denom) if denom > 0 else float("nan")


def outer_band(mask: np.ndarray, spacing_kji, band_mm: float = SEL_BAND_MM) -> np.ndarray:
    """Lesion voxels within ``band_mm`` of the lesion's edge (at least the edge voxels)."""
    depth = ndimage.distance_transform_edt(np.pad(mask, 1), sampling=spacing_kji)[1:-1, 1:-1, 1:-1]
    return mask & (depth <= max(band_mm, max(spacing_kji)) + 1e-6)


def surrounding_ring(mask: np.ndarray, others: np.ndarray, spacing_kji, gap_mm: float = SEL_RING_GAP_MM,
                     ring_mm: float = SEL_RING_MM) -> np.ndarray:
    """Tissue around the lesion ``mask``: voxels more than ``gap_mm`` and at most ``gap_mm + ring_mm``
    (at least one voxel more) from it, not in ``others`` (other lesions). All arrays share one box
    [k, j, i]; ``spacing_kji`` in mm."""
    distance = ndimage.distance_transform_edt(~mask, sampling=spacing_kji)
    outer = gap_mm + max(ring_mm, max(spacing_kji))
    return ~mask & ~others & (distance > gap_mm + 1e-6) & (distance <= outer + 1e-6)


def concentric_fraction(mask: np.ndarray, band: np.ndarray, displacement: np.ndarray, spacing_kji) -> float:
    """Fraction of band voxels whose displacement relative to the core points away from the core centre.

    ``displacement``: [k, j, i, 3] along the array axes, mm, over the same box as ``mask``. The
    core is the lesion minus its band (the whole lesion when the core has < SEL_MIN_CORE_VOXELS);
    the core's mean displacement (a shift of the whole lesion) is subtracted first.
    """
    core = mask & ~band
    if core.sum() < SEL_MIN_CORE_VOXELS:
        core = mask
    spacing = np.asarray(spacing_kji, dtype=float)
    centre = np.argwhere(core).mean(axis=0) * spacing
    shift = displacement[core].mean(axis=0)
    points = np.argwhere(band) * spacing
    radial = points - centre
    norm = np.linalg.norm(radial, axis=1)
    keep = norm > 1e-6
    if not keep.any():
        return float("nan")
    outward = ((displacement[band][keep] - shift) * radial[keep]).sum(axis=1) / norm[keep]
    return float(np.mean(outward > 0))


def white_matter_share(ring: np.ndarray, tissue: np.ndarray) -> float | None:
    """WM / (GM + WM) over the ``ring`` voxels; ``tissue`` labels 1 CSF, 2 GM, 3 WM (same box). None without GM or WM."""
    values = tissue[ring]
    gm, wm = int((values == 2).sum()), int((values == 3).sum())
    return wm / (gm + wm) if gm + wm else None


def classify(logjac_per_visit, times, voxels: int, concentric: float, ring_logjac: float | None = None,
             wm_share: float | None = None, location: str | None = None) -> dict:
    """SEL heuristics for one lesion from its mean corrected log-Jacobian at each follow-up.

    ``logjac_per_visit`` excludes the baseline (0 by definition); ``times`` includes it.
    ``ring_logjac``: mean log-Jacobian of the tissue ring around the lesion at the last visit
    (:func:`surrounding_ring`); when given, a candidate must exceed it by
    SEL_MIN_EXPANSION_OVER_RING_LOGJAC (``sel_over_ring``). ``wm_share``: :func:`white_matter_share`
    of that ring; when given, a candidate must be a white-matter lesion (>= SEL_MIN_WM_SHARE, ``sel_white_matter``).
    ``location`` (lesion table location, from the FLAIR): a lesion in SEL_NON_WHITE_MATTER_LOCATIONS
    (cortical) is not a white-matter lesion either.
    Returns the criteria, the slope, the grade ("definite", "possible" or None) and the SEL score
    = max(slope, 0) x max(2 x concentric fraction - 1, 0): 0 for shrinking, stable or
    non-concentric lesions, growing with a constant, concentric expansion.
    """
    values = np.concatenate([[0.0], np.asarray(logjac_per_visit, dtype=float)])
    slope = linear_slope(times, values)
    steps = np.diff(values)
    total = float(values[-1])
    size_ok = voxels >= SEL_MIN_VOXELS
    constant = bool(np.isfinite(slope) and slope > 0 and np.all(steps >= SEL_MIN_INTERVAL_EXPANSION_LOGJAC))
    concentric_ok = bool(np.isfinite(concentric) and concentric >= SEL_CONCENTRIC_MIN_FRACTION)
    expanding = total >= SEL_MIN_EXPANSION_LOGJAC
    over_ring = None if ring_logjac is None or not np.isfinite(ring_logjac) else \
        bool(total - ring_logjac >= SEL_MIN_EXPANSION_OVER_RING_LOGJAC)
    white_matter = None if wm_share is None else bool(wm_share >= SEL_MIN_WM_SHARE)
    if location in SEL_NON_WHITE_MATTER_LOCATIONS:
        white_matter = False
    candidate = bool(size_ok and constant and concentric_ok and expanding and over_ring is not False
                     and white_matter is not False)
    grade = None
    if candidate:
        grade = "definite" if total >= SEL_DEFINITE_EXPANSION_LOGJAC else "possible"
    score = 0.0
    if np.isfinite(concentric) and np.isfinite(slope):
        score = max(slope, 0.0) * max(2.0 * concentric - 1.0, 0.0)
    return {"sel_slope_logjac": slope, "sel_expansion_logjac": total, "sel_constant": constant,
            "sel_concentric_fraction": concentric, "sel_concentric": concentric_ok, "sel_size_ok": bool(size_ok),
            "sel_over_ring": over_ring, "sel_white_matter": white_matter,
            "sel_candidate": candidate, "sel_grade": grade, "sel_score": float(score)}
