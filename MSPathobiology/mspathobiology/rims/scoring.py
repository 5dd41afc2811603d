"""Automatic paramagnetic rim scoring of labeled lesions on QSM, high-pass filtered phase or SWI.

Method (one pass over all lesions, vectorised with ``numpy.bincount``; no per-lesion loop):

1. The map is turned "paramagnetic positive" (:func:`paramagnetic_map`): QSM (ppb) as is;
   phase (rad; phase = phase_sign * gamma * dB * TE) inverted locally to susceptibility (ppb)
   with the image's B0 direction (:mod:`.phase`), since a rim's phase changes sign with the
   angle of the edge to B0; SWI magnitude as relative darkening.
2. In every axial slice (the array axis closest to superior-inferior), the in-slice
   Euclidean distance (mm) to the lesion boundary defines, for each lesion, an **edge band**
   (``band_inner_mm`` inside to ``band_outer_mm`` outside the label) and a **reference ring**
   of surrounding normal-appearing white matter (``ring_inner_mm`` .. ``ring_outer_mm``
   outside). Voxels outside lesions belong to the nearest lesion in that slice. With a
   ``tissue_mask`` (white matter, e.g. from the FreeSurfer aseg), ring and outer band keep
   only voxels inside it, so cortex, deep grey matter and CSF (all paramagnetic relative to
   white matter) are not mistaken for rim or reference.
3. The band is cut into ``sectors`` angular sectors around the lesion's centroid in that
   slice, at ``sector_turns`` rotations of the sector grid (coverages averaged, so a rim's end
   is not rounded to a whole sector). A sector's value is the brighter of the upper quartiles
   (``layer_quantile``) of its inner layer (inside the label) and outer layer, since rims sit on
   either side of the drawn boundary and fill only part of the band's width. Band voxels above the
   baseline by more than ``vein_contrast`` are veins and ignored (veins at the edge are the
   main false positive). A sector is paramagnetic when its value exceeds the baseline by
   more than ``max(z_threshold * robust SD of the ring, min_contrast)`` and by more than
   ``relative_threshold`` of the lesion's own rim peak (a sector half covered by a bright
   rim and one half covered by a faint rim are read alike). The baseline is
   the larger of the ring median (NAWM) and the lesion core median (lesion voxels deeper than
   the band; ``use_core``, default for QSM only, since phase is non-local): demyelinated
   lesions are themselves paramagnetic relative to NAWM on QSM, so a rim must be brighter than
   both its core and the surrounding white matter (Wisnieff et al., Ann Neurol 2015; Dimov
   et al., AJNR 2022). On SWI magnitude the inner layer is judged against the lesion core and
   the outer layer against the ring (``SWI_INNER_AGAINST_CORE``): a demyelinated lesion is
   T2*-hyperintense to white matter, and its rim is a dark band around that brighter core, so a
   rim of normal-white-matter darkness is still a rim, while the core-to-NAWM step at the
   boundary is not.
4. Per slice, coverage = paramagnetic sectors / sectors holding band voxels (slices with
   band voxels in fewer than ``min_sector_fraction`` of the sectors count as coverage 0).
   ``rim_coverage`` is the mean slice coverage over assessable slices weighted by each slice's
   count of lesion surface voxels (the fraction of the whole 3D edge, as a surface);
   ``rim_slices`` the longest run of consecutive slices with coverage >= ``slice_coverage``.
5. The raw whole-edge coverage (``rim_coverage_measured``) is calibrated to the true edge
   fraction (``rim_coverage``, piecewise linear, ``RIM_COVERAGE_CALIBRATION``: unbiased for 1 mm
   thick rims across, inside or outside the drawn boundary at 0.6-1.5 mm and 1 x 1 x 2 mm voxels,
   benchmarks/rims_calibration.py).
   ``rim_score = rim_coverage * min(1, rim_slices / min_slices)`` ranks lesions in [0, 1];
   ``rim`` is the NAIMS rim: ``rim_coverage >= 2/3`` and ``rim_slices >= 2``, and
   ``prl_candidate`` = ``rim`` and not enhancing.
   The whole-edge fraction matters: slice coverage alone calls a polar cap of 1/4 of the
   edge a full ring in the slices near its pole.

PRL definition: Bagnato et al., Brain 2024 (NAIMS consensus on chronic active lesions);
rim appearance on phase/QSM: Absinta et al., J Clin Invest 2016; Dal-Bianco et al., Acta
Neuropathol 2017. A rim's own phase changes sign between equator and poles (Wisnieff et
al., MRM 2015), hence the local field-to-source inversion of phase before scoring.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..defaults import rims as D
from ..errors import InputError
from ..geometry import check_same_geometry, kji_to_ras_points, voxel_volume_mm3
from ..io import validate_image

#: Output columns of :func:`score_rims` / :func:`score_rim_images`, with units.
RIM_COLUMNS = (
    ("id", "lesion label value"),
    ("rim_score", "continuous score: rim_coverage x min(1, rim_slices / 2), 0..1"),
    ("rim_coverage", "paramagnetic fraction of the whole lesion edge: slice coverage weighted by surface voxels, 0..1"),
    ("rim_coverage_measured", "raw whole-edge coverage before calibration (RIM_COVERAGE_CALIBRATION), 0..1"),
    ("rim_coverage_max", "coverage of the best slice, 0..1"),
    ("rim_slices", "longest run of consecutive axial slices with slice coverage >= 0.5"),
    ("rim_contrast", "mean excess of paramagnetic sectors over the baseline = max(reference, core) median "
                     "(ppb for QSM and phase; on SWI darkening as a fraction of the tissue median, the inner "
                     "layer over the lesion core, the outer over the reference)"),
    ("edge_contrast", "mean of the whole edge band minus the baseline (same unit)"),
    ("reference_median", "median of the surrounding reference ring (NAWM; same unit)"),
    ("reference_sd", "robust SD (1.4826 MAD) of the reference ring (same unit)"),
    ("core_median", "median of the lesion core, deeper than the edge band (whole lesion if no core; same unit)"),
    ("slices_assessed", "axial slices with an assessable edge"),
    ("enhancing", "lesion enhances (empty when unknown)"),
    ("rim", "NAIMS rim criteria met (rim_coverage >= 2/3 and rim_slices >= 2), enhancing or not"),
    ("prl_candidate", "NAIMS PRL candidate: rim and not enhancing"),
    ("prl_exclusion", "why a rim lesion is not a candidate (enhancing), else empty"),
)


#: Map kinds :func:`score_rims` reads, and the unit its contrasts are in.
KINDS = {"qsm": "ppb", "phase": "ppb (local susceptibility inverted from phase)",
         "swi": "fraction of the reference (darkening)"}


def paramagnetic_map(values: np.ndarray, kind: str, phase_sign: int = D.DEFAULT_PHASE_SIGN, *, spacing=None,
                     phase_mask: np.ndarray | None = None, b0_kji=None, b0_tesla: float = D.DEFAULT_B0_TESLA,
                     te_ms: float = D.DEFAULT_TE_MS) -> np.ndarray:
    """The map rims are scored on, float32 with paramagnetic sources positive.

    ``"qsm"``: susceptibility (ppb) as is. ``"phase"``: unwrapped high-pass filtered phase
    (rad, phase = phase_sign * gamma * B0 * TE * dB/B0) inverted to local susceptibility (ppb)
    with :func:`mspathobiology.rims.phase.local_susceptibility` (``spacing`` mm in array order,
    ``phase_mask`` the valid voxels, default from the phase itself; ``b0_kji`` the B0 direction
    in the array frame). ``"swi"``: SWI magnitude (veins and rims dark) as relative darkening
    ``1 - swi / median(tissue swi)`` (tissue: above 1/4 of the 99th percentile; the reference
    ring then makes it local).
    """
    if kind == "qsm":
        return np.asarray(values, dtype=np.float32)
    if phase_sign not in (1, -1):
        raise InputError("--phase-sign", f"must be +1 or -1, not {phase_sign!r}")
    if kind == "phase":
        from .phase import local_susceptibility, phase_mask_from_phase

        values = np.asarray(values, dtype=np.float32)
        if phase_mask is None:
            phase_mask = phase_mask_from_phase(values)
        return local_susceptibility(values, spacing if spacing is not None else (1.0, 1.0, 1.0), phase_mask,
                                    b0_kji=(1.0, 0.0, 0.0) if b0_kji is None else b0_kji, phase_sign=phase_sign,
                                    b0_tesla=b0_tesla, te_ms=te_ms)
    if kind == "swi":
        values = np.asarray(values, dtype=np.float32)
        bright = values > 0.25 * float(np.percentile(values, 99))  # tissue, not background or skull
        scale = float(np.median(values[bright])) if np.any(bright) else 1.0
        return (np.float32(1.0) - values / np.float32(scale or 1.0)).astype(np.float32)
    raise InputError("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")


def calibrate_coverage(measured, knots=D.RIM_COVERAGE_CALIBRATION) -> np.ndarray:
    """True whole-edge fraction (0..1) from the raw measured coverage: piecewise linear through
    ``knots`` = (measured, true) (NaN stays NaN). See :data:`~mspathobiology.defaults.rims.RIM_COVERAGE_CALIBRATION`."""
    measured = np.asarray(measured, dtype=float)
    return np.where(np.isnan(measured), np.nan, np.interp(np.nan_to_num(measured), knots[0], knots[1]))


def group_quantile(groups: np.ndarray, values: np.ndarray, n_groups: int, q: float) -> np.ndarray:
    """Per-group quantile (linear interpolation) of ``values``; NaN for empty groups.

    ``groups`` holds integers in [0, n_groups). Vectorised by one lexsort.
    """
    groups = np.asarray(groups, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    out = np.full(n_groups, np.nan)
    if values.size == 0:
        return out
    order = np.lexsort((values, groups))
    g, v = groups[order], values[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    pos = starts[has] + q * (counts[has] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, starts[has] + counts[has] - 1)
    frac = pos - lo
    out[has] = v[lo] * (1 - frac) + v[hi] * frac
    return out


def robust_reference(groups: np.ndarray, values: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-group median and robust SD (1.4826 x median absolute deviation)."""
    median = group_quantile(groups, values, n_groups, 0.5)
    mad = group_quantile(groups, np.abs(values - median[groups]), n_groups, 0.5) if values.size else median
    return median, 1.4826 * mad


def slice_axis_of(image: sitk.Image) -> int:
    """Numpy axis (of the [k, j, i] array) whose direction is closest to superior-inferior."""
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    s_component = np.abs(direction[2, :])  # LPS z = S; columns are i, j, k
    return int(2 - int(np.argmax(s_component)))


def _longest_true_run(matrix: np.ndarray) -> np.ndarray:
    """Longest run of consecutive True along axis 1, per row."""
    n_rows, n_cols = matrix.shape
    padded = np.zeros((n_rows, n_cols + 2), dtype=np.int8)
    padded[:, 1:-1] = matrix
    diff = np.diff(padded, axis=1)
    rows_s, starts = np.nonzero(diff == 1)
    _, ends = np.nonzero(diff == -1)
    out = np.zeros(n_rows, dtype=np.int64)
    if starts.size:
        np.maximum.at(out, rows_s, ends - starts)
    return out


class _Rings:
    """Edge band and reference ring of every lesion, per axial slice (arrays cropped, slice axis 0)."""

    def __init__(self, labels, spacing, band_inner_mm, band_outer_mm, ring_inner_mm, ring_outer_mm):
        mask = labels > 0
        self.ids = np.unique(labels[mask]).astype(np.int64)
        compact = np.zeros(labels.shape, dtype=np.int64)
        compact[mask] = np.searchsorted(self.ids, labels[mask])
        # in-slice distances: a huge spacing along the slice axis keeps the nearest voxel in-plane
        far = 1e6
        sampling = (far, spacing[1], spacing[2])
        pixel = min(spacing[1], spacing[2])
        d_out, nearest = ndimage.distance_transform_edt(~mask, sampling=sampling, return_indices=True)
        d_in = ndimage.distance_transform_edt(mask, sampling=sampling)
        out_band = (~mask) & (d_out <= max(band_outer_mm, pixel))
        in_band = mask & (d_in <= max(band_inner_mm, pixel))
        ring = (~mask) & (d_out > ring_inner_mm) & (d_out <= ring_outer_mm)
        self.mask, self.compact = mask, compact
        self.band = out_band | in_band
        self.core = mask & ~in_band
        self.ring = ring
        self.owner_of = lambda sel: np.where(mask[sel], compact[sel], compact[tuple(n[sel] for n in nearest)])


def score_rims(labels: np.ndarray, values: np.ndarray, spacing, *, kind: str = "qsm",
               phase_sign: int = D.DEFAULT_PHASE_SIGN, slice_axis: int = 0, enhancing=None,
               tissue_mask: np.ndarray | None = None,
               band_inner_mm: float = D.EDGE_BAND_INNER_MM, band_outer_mm: float = D.EDGE_BAND_OUTER_MM,
               ring_inner_mm: float = D.REFERENCE_RING_INNER_MM, ring_outer_mm: float = D.REFERENCE_RING_OUTER_MM,
               sectors: int = D.ANGULAR_SECTORS, sector_turns: int = D.SECTOR_TURNS,
               min_sector_fraction: float = D.MIN_SECTOR_FRACTION,
               relative_threshold: float = D.RIM_RELATIVE_THRESHOLD, layer_quantile: float = D.RIM_LAYER_QUANTILE,
               z_threshold: float | None = None, min_contrast: float | None = None,
               min_coverage: float = D.PRL_MIN_EDGE_COVERAGE, slice_coverage: float = D.PRL_MIN_SLICE_COVERAGE,
               min_slices: int = D.PRL_MIN_CONSECUTIVE_SLICES, vein_contrast: float | None = None,
               use_core: bool | None = None, phase_mask: np.ndarray | None = None, b0_kji=None,
               b0_tesla: float = D.DEFAULT_B0_TESLA, te_ms: float = D.DEFAULT_TE_MS, return_slices: bool = False):
    """Score the paramagnetic rim of every lesion of ``labels`` on ``values``.

    ``labels``: integer array [k, j, i] (0 background, each lesion one value).
    ``values``: QSM (ppb), unwrapped high-pass filtered phase (rad) or SWI magnitude, same
    shape (``kind``: "qsm", "phase" or "swi"; see :func:`paramagnetic_map`: phase is inverted
    to local susceptibility with ``phase_mask``, ``b0_kji`` (default along the slice axis),
    ``b0_tesla`` and ``te_ms``, then scored like QSM).
    ``spacing``: voxel size in mm in ARRAY order (k, j, i).
    ``slice_axis``: array axis of the axial slices (see :func:`slice_axis_of`).
    ``enhancing``: None (unknown), a set/list of enhancing lesion ids, or a dict id -> bool.
    ``tissue_mask``: optional boolean array, ideally white matter (plus lesions): ring and
    outer-band voxels outside it are ignored. Strongly recommended: without it, lesions next
    to cortex or ventricles are judged against grey matter or CSF.
    ``min_coverage``: calibrated whole-edge coverage of a rim (2/3, see module doc);
    ``slice_coverage``: slice coverage for a slice to show the rim; ``min_slices``: run length.
    ``z_threshold``: robust SDs of the ring a sector must exceed (default RIM_Z_THRESHOLD, or
    PHASE_Z_THRESHOLD for phase).
    ``relative_threshold``: a sector must also exceed this fraction of the lesion's rim peak
    (the RIM_PEAK_QUANTILE quantile of its sector excesses), so that a rim's extent does not
    grow with its brightness.
    ``layer_quantile``: a layer's level is this quantile of its voxels (a thin rim fills part
    of the band's width).
    ``sector_turns``: the sector grid is laid at this many rotations (steps of 1/turns of a
    sector) and the slice coverages averaged.
    ``vein_contrast``: band voxels this far above the baseline are ignored as veins (map units;
    default VEIN_MIN_CONTRAST_PPB, or _SWI).
    ``min_contrast``: in map units; default RIM_MIN_CONTRAST_PPB (qsm, phase) or _SWI.
    ``use_core``: the rim must also exceed the lesion core (default: True for QSM only; the
    scanner's high-pass removes the core's offset from phase, and SWI has no such offset).

    Returns a list of row dicts with the columns of :data:`RIM_COLUMNS`, one per lesion id
    in increasing order. With ``return_slices=True`` returns ``(rows, detail)`` where
    ``detail["coverage"]`` is the (lesions x slices) coverage matrix and
    ``detail["slices"]`` the slice indices of its columns.
    """
    labels = np.asarray(labels)
    values = np.asarray(values)
    if labels.shape != values.shape or labels.ndim != 3:
        raise InputError("lesions", f"label array shape {labels.shape} does not match map shape {values.shape}")
    if z_threshold is None:
        z_threshold = D.PHASE_Z_THRESHOLD if kind == "phase" else D.RIM_Z_THRESHOLD
    if min_contrast is None:
        min_contrast = D.RIM_MIN_CONTRAST_SWI if kind == "swi" else D.RIM_MIN_CONTRAST_PPB
    if vein_contrast is None:
        vein_contrast = D.VEIN_MIN_CONTRAST_SWI if kind == "swi" else D.VEIN_MIN_CONTRAST_PPB
    if b0_kji is None:
        b0_kji = np.eye(3)[slice_axis]
    para = paramagnetic_map(values, kind, phase_sign, spacing=spacing, phase_mask=phase_mask, b0_kji=b0_kji,
                            b0_tesla=b0_tesla, te_ms=te_ms)
    spacing = np.asarray(spacing, dtype=float)
    labels = np.moveaxis(labels, slice_axis, 0)
    para = np.moveaxis(para, slice_axis, 0)
    tissue = None if tissue_mask is None else np.moveaxis(np.asarray(tissue_mask, bool), slice_axis, 0)
    spacing = np.concatenate([[spacing[slice_axis]], np.delete(spacing, slice_axis)])

    if not np.any(labels > 0):
        return ([], {"coverage": np.zeros((0, 0)), "slices": np.zeros(0, int)}) if return_slices else []

    # crop to the lesions plus the reference ring (in-plane), all lesion slices
    nz_k, nz_j, nz_i = np.nonzero(labels > 0)
    margin = np.ceil(ring_outer_mm / spacing[1:]).astype(int) + 1
    lo = np.array([nz_k.min(), max(nz_j.min() - margin[0], 0), max(nz_i.min() - margin[1], 0)])
    hi = np.array([nz_k.max() + 1, min(nz_j.max() + 1 + margin[0], labels.shape[1]),
                   min(nz_i.max() + 1 + margin[1], labels.shape[2])])
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    lab, val = labels[box], para[box]
    tis = None if tissue is None else tissue[box]
    rings = _Rings(lab, spacing, band_inner_mm, band_outer_mm, ring_inner_mm, ring_outer_mm)
    ids = rings.ids
    n_les, n_z = ids.size, lab.shape[0]

    # reference ring: median and robust SD per lesion
    ring = rings.ring if tis is None else rings.ring & tis
    ring_owner = rings.owner_of(ring)
    ref_med, ref_sd = robust_reference(ring_owner, val[ring], n_les)
    ref_med = np.where(np.isnan(ref_med), 0.0, ref_med)
    ref_sd = np.where(np.isnan(ref_sd), 0.0, ref_sd)
    # lesion core (inside the edge band; whole lesion when there is no core): the rim must be
    # brighter than the core too, since demyelinated lesions are themselves paramagnetic
    core_med = group_quantile(rings.compact[rings.core], val[rings.core], n_les, 0.5)
    whole_med = group_quantile(rings.compact[rings.mask], val[rings.mask], n_les, 0.5)
    core_med = np.where(np.isnan(core_med), whole_med, core_med)
    if use_core is None:
        use_core = kind == "qsm"
    baseline = np.maximum(ref_med, core_med) if use_core else ref_med
    # baseline of the inner layer (inside the label): the core on SWI (a dark rim around a bright core)
    inner_base = core_med if (kind == "swi" and D.SWI_INNER_AGAINST_CORE) else baseline

    # per (lesion, slice) centroid of lesion voxels, in voxel units
    zz, yy, xx = np.nonzero(rings.mask)
    g_les = rings.compact[zz, yy, xx] * n_z + zz
    n_g = n_les * n_z
    count = np.bincount(g_les, minlength=n_g).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cy = np.bincount(g_les, yy, minlength=n_g) / count
        cx = np.bincount(g_les, xx, minlength=n_g) / count

    # band voxels -> (lesion, slice, sector) cells; outside voxels must lie in the tissue mask,
    # vein-like voxels (far above the baseline) are dropped: veins at the edge are the main
    # false positive (Bagnato et al., Brain 2024)
    band = rings.band if tis is None else rings.band & (rings.mask | tis)
    bz, by, bx = np.nonzero(band)
    owner = rings.owner_of((bz, by, bx))
    g = owner * n_z + bz
    bv = val[bz, by, bx].astype(np.float64)
    inner = rings.mask[bz, by, bx]
    keep = (count[g] > 0) & (bv - np.where(inner, inner_base[owner], baseline[owner]) <= vein_contrast)
    bz, by, bx, owner, g, bv, inner = bz[keep], by[keep], bx[keep], owner[keep], g[keep], bv[keep], inner[keep]
    angle = np.arctan2((by - cy[g]) * spacing[1], (bx - cx[g]) * spacing[2])
    n_cells = n_g * sectors
    cell_les = np.arange(n_cells) // (n_z * sectors)
    threshold = np.maximum(z_threshold * ref_sd, min_contrast)
    coverage = np.zeros(n_g)
    for turn in range(sector_turns):
        sector = np.mod(((angle + np.pi) / (2 * np.pi) * sectors + turn / sector_turns).astype(np.int64), sectors)
        cell = g * sectors + sector
        # a sector's excess is the larger of its inner (inside the label) and outer layer's, each
        # over its baseline, as the rim may lie on either side of the lesion boundary
        present_t = np.bincount(cell, minlength=n_cells) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            layer_excess = []
            for part, base in ((inner, inner_base), (~inner, baseline)):
                level = group_quantile(cell[part], bv[part], n_cells, layer_quantile)
                layer_excess.append(np.where(np.isnan(level), -np.inf, level - base[cell_les]))
            excess_t = np.where(present_t, np.maximum(*layer_excess), np.nan)
        peak = group_quantile(cell_les[present_t], excess_t[present_t], n_les, D.RIM_PEAK_QUANTILE)
        cut = np.maximum(threshold, relative_threshold * np.nan_to_num(peak))
        positive_t = present_t & (excess_t > cut[cell_les])
        present_g = present_t.reshape(n_g, sectors).sum(axis=1)
        coverage += positive_t.reshape(n_g, sectors).sum(axis=1) / np.maximum(present_g, 1) / sector_turns
        if turn == 0:
            positive, excess = positive_t, excess_t
            assessable = present_g >= min_sector_fraction * sectors
    coverage = np.where(assessable, coverage, 0.0)
    coverage = coverage.reshape(n_les, n_z)
    assess_m = assessable.reshape(n_les, n_z)

    rim_slices = _longest_true_run(coverage >= slice_coverage - 1e-9)
    # whole-edge fraction: slices weighted by their number of lesion surface voxels (voxels with a
    # face neighbour outside the lesion), i.e. by the lesion surface they hold, so the tiny top and
    # bottom cross-sections do not count as much as the equator
    surface = rings.mask & ~ndimage.binary_erosion(rings.mask, border_value=0)
    sz = np.nonzero(surface)[0]
    weight = np.bincount(rings.compact[surface] * n_z + sz, minlength=n_g).astype(float)
    weight = np.where(assessable, weight, 0.0).reshape(n_les, n_z)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = weight.sum(axis=1)
        measured = np.where(total > 0, (weight * coverage).sum(axis=1) / np.maximum(total, 1e-12), np.nan)
        rim_coverage = calibrate_coverage(measured)
        pos_excess = np.bincount(cell_les[positive], excess[positive], minlength=n_les)
        rim_contrast = np.where(positive.reshape(n_les, -1).any(axis=1),
                                pos_excess / np.bincount(cell_les[positive], minlength=n_les), np.nan)
        band_sum = np.bincount(owner, bv, minlength=n_les)
        band_n = np.bincount(owner, minlength=n_les)
        edge_contrast = np.where(band_n > 0, band_sum / np.maximum(band_n, 1) - baseline, np.nan)
    rim_score = np.nan_to_num(rim_coverage) * np.minimum(1.0, rim_slices / max(min_slices, 1))

    enh = _enhancing_vector(ids, enhancing)
    rows = []
    for n, lesion_id in enumerate(ids.tolist()):
        rim = bool(rim_slices[n] >= min_slices and rim_coverage[n] >= min_coverage - 1e-9)
        excluded = bool(D.PRL_EXCLUDE_ENHANCING and enh[n] is True)
        rows.append({
            "id": int(lesion_id),
            "rim_score": float(rim_score[n]),
            "rim_coverage": float(rim_coverage[n]),
            "rim_coverage_measured": float(measured[n]),
            "rim_coverage_max": float(coverage[n].max()) if n_z else 0.0,
            "rim_slices": int(rim_slices[n]),
            "rim_contrast": float(rim_contrast[n]),
            "edge_contrast": float(edge_contrast[n]),
            "reference_median": float(ref_med[n]),
            "reference_sd": float(ref_sd[n]),
            "core_median": float(core_med[n]),
            "slices_assessed": int(assess_m[n].sum()),
            "enhancing": enh[n],
            "rim": rim,
            "prl_candidate": rim and not excluded,
            "prl_exclusion": "enhancing" if (rim and excluded) else None,
        })
    if return_slices:
        return rows, {"coverage": coverage, "slices": np.arange(lo[0], hi[0]), "ids": ids}
    return rows


def _enhancing_vector(ids: np.ndarray, enhancing) -> list:
    if enhancing is None:
        return [None] * ids.size
    if isinstance(enhancing, dict):
        return [None if enhancing.get(int(i)) is None else bool(enhancing.get(int(i))) for i in ids]
    chosen = {int(i) for i in enhancing}
    return [int(i) in chosen for i in ids]


def enhancing_lesions(labels: np.ndarray, t1post: np.ndarray, spacing=None, *, t1: np.ndarray | None = None,
                      brain: np.ndarray | None = None) -> dict:
    """{id: enhancing} by the project's one definition, :func:`mspathobiology.lesions.enhancing.enhancing_lesions`
    (nodular or ring enhancement, with or without the pre-contrast ``t1``); arrays [k, j, i], ``spacing`` mm."""
    from ..lesions.enhancing import enhancing_lesions as one_definition

    return one_definition(labels, t1, t1post, brain, spacing=spacing)


def score_rim_images(lesions: sitk.Image, image: sitk.Image, *, kind: str = "qsm",
                     phase_sign: int = D.DEFAULT_PHASE_SIGN, enhancing=None, t1post: sitk.Image | None = None,
                     t1: sitk.Image | None = None,
                     tissue_mask: sitk.Image | None = None, names=("lesions", "map"), **options) -> list[dict]:
    """Score rims on SimpleITK images (same grid), adding each lesion's size and RAS centroid.

    ``lesions``: label image (voxel = lesion id); ``image``: QSM (ppb), phase (rad; B0 taken
    from the image's direction) or SWI per ``kind``. ``enhancing``: ids / {id: bool} / None; if None and ``t1post`` is given, it is
    computed with :func:`enhancing_lesions` (with the pre-contrast ``t1`` when given). ``tissue_mask``: optional brain/WM mask.
    Extra rows: ``volume_mm3``, ``radius_mm`` (equivalent-sphere radius) and
    ``centroid_r/a/s`` (RAS mm) so a viewer can centre on each lesion.
    Other keyword ``options`` go to :func:`score_rims`.
    """
    lesions = validate_image(lesions, "label", names[0])
    image = validate_image(image, "intensity", names[1])
    check_same_geometry(lesions, image, names=names)
    labels = sitk.GetArrayViewFromImage(lesions)
    spacing = np.asarray(lesions.GetSpacing(), dtype=float)[::-1]
    axis = slice_axis_of(lesions)
    mask_arr = None
    if tissue_mask is not None:
        check_same_geometry(lesions, tissue_mask, names=(names[0], "tissue mask"))
        mask_arr = sitk.GetArrayViewFromImage(tissue_mask) > 0
    if enhancing is None and t1post is not None:
        t1post = validate_image(t1post, "intensity", "t1post")
        check_same_geometry(lesions, t1post, names=(names[0], "t1post"))
        pre = None
        if t1 is not None:
            t1 = validate_image(t1, "intensity", "t1")
            check_same_geometry(lesions, t1, names=(names[0], "t1"))
            pre = sitk.GetArrayViewFromImage(t1)
        enhancing = enhancing_lesions(labels, sitk.GetArrayViewFromImage(t1post), spacing, t1=pre)
    if kind == "phase":
        from .phase import b0_direction_kji

        options.setdefault("b0_kji", b0_direction_kji(image))
    rows = score_rims(labels, sitk.GetArrayViewFromImage(image), spacing, kind=kind, phase_sign=phase_sign,
                      slice_axis=axis, enhancing=enhancing, tissue_mask=mask_arr, **options)
    _add_geometry(rows, labels, lesions)
    return rows


def lesion_geometry(labels: np.ndarray, reference: sitk.Image) -> dict:
    """{id: (voxels, volume_mm3, radius_mm, centroid RAS (3,))} for every lesion, vectorised."""
    labels = np.asarray(labels)
    flat = labels.ravel()
    ids = np.unique(flat[flat > 0])
    if ids.size == 0:
        return {}
    k, j, i = np.nonzero(labels > 0)
    idx = np.searchsorted(ids, labels[k, j, i])
    n = np.bincount(idx, minlength=ids.size).astype(float)
    kji = np.stack([np.bincount(idx, c, minlength=ids.size) / n for c in (k, j, i)], axis=1)
    ras = kji_to_ras_points(reference, kji)
    vol = n * voxel_volume_mm3(reference)
    radius = np.cbrt(3 * vol / (4 * np.pi))
    return {int(l): (int(c), float(v), float(r), ras[m]) for m, (l, c, v, r) in enumerate(zip(ids, n, vol, radius))}


def _add_geometry(rows, labels, reference):
    geometry = lesion_geometry(labels, reference)
    for row in rows:
        voxels, vol, radius, ras = geometry[row["id"]]
        row.update(voxels=voxels, volume_mm3=vol, radius_mm=radius,
                   centroid_r=float(ras[0]), centroid_a=float(ras[1]), centroid_s=float(ras[2]))
