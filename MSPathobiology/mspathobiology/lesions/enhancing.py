"""Gadolinium-enhancing lesions: the ONE definition used by lesions, rims and cohort runs.

Each T1 is divided by the normal-appearing white matter intensity AROUND EACH LESION (median
of the non-lesion voxels - inside the brain mask when one is given - 2-6 mm from the lesion
and nearer to it than to any other lesion; the histogram mode of all reference voxels when a
lesion has none), so a voxel's relative enhancement is ``post / post_NAWM - pre / pre_NAWM``
(0 in NAWM, 0.2 = 20 % of NAWM). The local reference makes the rule insensitive to the smooth
bias field of each image (+-10-20 % at 3 T), which differs between the pre and post scans. Without a pre-contrast T1 the pre term is 1 (NAWM): MS
lesions are iso- or hypointense to white matter on pre-contrast T1, so a lesion voxel brighter
than NAWM after contrast has taken it up (this can only miss enhancement, never invent it).

A lesion enhances when at least ``ENHANCING_MIN_FRACTION`` of its voxels, and at least
``ENHANCING_MIN_VOXELS``, enhance by more than ``ENHANCEMENT_MIN_RELATIVE``: a fraction, not a
median, so that ring enhancement (only the lesion's edge; Barkhof et al., 1997; Filippi et al.,
Lancet Neurol 2016) counts as well as nodular enhancement (the whole lesion).
:func:`enhancement_pattern` names which of the two it is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..connectivity import label_surface
from ..defaults.lesions import (ENHANCEMENT_MIN_RELATIVE, ENHANCEMENT_REFERENCE_RING_MM, ENHANCING_MIN_FRACTION,
                                ENHANCING_MIN_VOXELS, RING_ENHANCEMENT_MAX_CORE_RATIO)
from ..errors import InputError
from .measure import group_voxels
from .segment import histogram_mode


def _reference_mask(labels: np.ndarray, brain, spacing) -> np.ndarray:
    lesion = labels != 0
    if brain is not None:
        return (np.asarray(brain) != 0) & ~lesion
    lo, hi = ENHANCEMENT_REFERENCE_RING_MM
    distance = ndimage.distance_transform_edt(~lesion, sampling=spacing)
    return (distance > lo) & (distance <= hi)


def _local_reference(image: np.ndarray, labels: np.ndarray, reference_mask: np.ndarray, spacing) -> np.ndarray:
    """Per-voxel NAWM intensity: the median of the reference voxels 2-6 mm around the nearest lesion."""
    lesion = labels != 0
    lo, hi = ENHANCEMENT_REFERENCE_RING_MM
    distance, nearest = ndimage.distance_transform_edt(~lesion, sampling=spacing, return_indices=True)
    ring = reference_mask & (distance > lo) & (distance <= hi) & (image > 0)
    ids = np.unique(labels[lesion])
    owner = labels[tuple(n[ring] for n in nearest)]
    fallback = histogram_mode(image[reference_mask]) if np.any(reference_mask) else 0.0
    medians = np.asarray(ndimage.median(image[ring], owner, ids), dtype=float) if ring.any() else \
        np.full(ids.size, np.nan)
    medians = np.where(np.isfinite(medians) & (medians > 0), medians, fallback)
    out = np.full(labels.shape, np.float32(fallback), dtype=np.float32)
    out[lesion] = medians[np.searchsorted(ids, labels[lesion])]
    return out


def relative_enhancement(t1_pre: np.ndarray | None, t1_post: np.ndarray, reference_mask: np.ndarray,
                         labels: np.ndarray | None = None, spacing=None) -> np.ndarray:
    """Voxel-wise enhancement relative to NAWM (dimensionless), arrays [k, j, i] on one grid.

    ``reference_mask``: voxels that may serve as NAWM. With ``labels`` each lesion's voxels are
    normalised by the NAWM around that lesion (``spacing`` mm, array order), else by the
    histogram mode of all reference voxels. ``t1_pre`` None: the pre-contrast term is 1
    (lesions taken as NAWM-isointense before contrast).
    """
    reference_mask = np.asarray(reference_mask, bool)
    t1_post = np.asarray(t1_post, dtype=np.float32)
    if not np.any(reference_mask):
        raise InputError("brain mask", "no voxel left to normalise T1 pre/post contrast")
    spacing = np.broadcast_to(np.asarray(1.0 if spacing is None else spacing, dtype=float), (3,))

    def nawm(image):
        if labels is not None and np.any(labels):
            ref = _local_reference(image, np.asarray(labels), reference_mask, spacing)
        else:
            ref = np.float32(histogram_mode(image[reference_mask]))
        if np.any(np.asarray(ref) <= 0):
            raise InputError("T1 pre/post contrast", "white matter intensity is not positive")
        return ref

    pre_term = np.float32(1.0) if t1_pre is None else np.asarray(t1_pre, dtype=np.float32) / nawm(
        np.asarray(t1_pre, dtype=np.float32))
    return (t1_post / nawm(t1_post) - pre_term).astype(np.float32)


def _hot(labels, t1_pre, t1_post, brain, spacing, min_relative):
    labels = np.asarray(labels)
    spacing = np.broadcast_to(np.asarray(1.0 if spacing is None else spacing, dtype=float), (3,))
    enhancement = relative_enhancement(t1_pre, t1_post, _reference_mask(labels, brain, spacing), labels, spacing)
    ids, starts, kji = group_voxels(labels)
    hot = enhancement[tuple(kji.T)] > min_relative if ids.size else np.zeros(0, bool)
    return labels, ids, starts, kji, hot


def enhancing_lesions(labels: np.ndarray, t1_pre: np.ndarray | None, t1_post: np.ndarray,
                      brain: np.ndarray | None = None, min_relative: float = ENHANCEMENT_MIN_RELATIVE,
                      min_fraction: float = ENHANCING_MIN_FRACTION, min_voxels: int = ENHANCING_MIN_VOXELS, *,
                      spacing=None) -> dict[int, bool]:
    """{lesion id: enhances} for every lesion of ``labels`` (arrays [k, j, i] on one grid).

    ``t1_pre`` may be None (see the module doc); ``brain`` (mask) may be None, then NAWM is
    taken 2-6 mm around the lesions (``spacing`` mm in array order, default 1 mm).
    """
    _, ids, starts, _, hot = _hot(labels, t1_pre, t1_post, brain, spacing, min_relative)
    return _flags(ids, starts, hot, min_fraction, min_voxels)


def _flags(ids, starts, hot, min_fraction=ENHANCING_MIN_FRACTION, min_voxels=ENHANCING_MIN_VOXELS) -> dict[int, bool]:
    """The voxel rule per lesion: at least ``min_voxels`` and ``min_fraction`` of its voxels enhance."""
    if ids.size == 0:
        return {}
    n_hot = np.add.reduceat(hot.astype(np.int64), starts[:-1])
    counts = np.diff(starts)
    flags = (n_hot >= min_voxels) & (n_hot >= min_fraction * counts)
    return {int(i): bool(f) for i, f in zip(ids, flags)}


def enhancement_pattern(labels: np.ndarray, t1_pre: np.ndarray | None, t1_post: np.ndarray,
                        brain: np.ndarray | None = None, *, spacing=None) -> dict[int, str | None]:
    """{lesion id: "ring", "nodular" or None (not enhancing)} by the same voxel rule.

    Ring: the enhancing fraction of the lesion's inner part (voxels without a face neighbour
    outside the lesion) is below ``RING_ENHANCEMENT_MAX_CORE_RATIO`` times that of its edge.
    """
    labels, ids, starts, kji, hot = _hot(labels, t1_pre, t1_post, brain, spacing, ENHANCEMENT_MIN_RELATIVE)
    if ids.size == 0:
        return {}
    flags = _flags(ids, starts, hot)
    edge = label_surface(labels)[tuple(kji.T)]
    n_edge = np.add.reduceat(edge.astype(np.int64), starts[:-1])
    n_inner = np.diff(starts) - n_edge
    hot_edge = np.add.reduceat((hot & edge).astype(np.int64), starts[:-1])
    hot_inner = np.add.reduceat((hot & ~edge).astype(np.int64), starts[:-1])
    edge_rate = np.where(n_edge > 0, hot_edge / np.maximum(n_edge, 1), 0.0)
    core_rate = np.where(n_inner > 0, hot_inner / np.maximum(n_inner, 1), edge_rate)
    ring = core_rate < RING_ENHANCEMENT_MAX_CORE_RATIO * edge_rate
    return {int(i): (("ring" if r else "nodular") if flags[int(i)] else None) for i, r in zip(ids, ring)}
