"""Gadolinium-enhancing lesions from T1 before and after contrast.

Each T1 is divided by its own normal-appearing white matter intensity (brain voxels
outside lesions, histogram mode), so the relative enhancement of a voxel is
``post / post_NAWM - pre / pre_NAWM`` (0 in NAWM, 0.2 = 20 % of NAWM). A lesion enhances
when at least ``ENHANCING_MIN_FRACTION`` of its voxels, and at least
``ENHANCING_MIN_VOXELS``, enhance by more than ``ENHANCEMENT_MIN_RELATIVE`` (ring
enhancement covers only part of a lesion).
"""

from __future__ import annotations

import numpy as np

from ..defaults.lesions import ENHANCEMENT_MIN_RELATIVE, ENHANCING_MIN_FRACTION, ENHANCING_MIN_VOXELS
from ..errors import InputError
from .measure import group_voxels
from .segment import histogram_mode


def relative_enhancement(t1_pre: np.ndarray, t1_post: np.ndarray, reference_mask: np.ndarray) -> np.ndarray:
    """Voxel-wise enhancement relative to NAWM (dimensionless), arrays [k, j, i] on one grid.

    ``reference_mask``: voxels used for each image's NAWM intensity (brain minus lesions).
    """
    if not np.any(reference_mask):
        raise InputError("brain mask", "no voxel left to normalise T1 pre/post contrast")
    pre_ref = histogram_mode(t1_pre[reference_mask])
    post_ref = histogram_mode(t1_post[reference_mask])
    if pre_ref <= 0 or post_ref <= 0:
        raise InputError("T1 pre/post contrast", "white matter intensity is not positive")
    return (t1_post / post_ref - t1_pre / pre_ref).astype(np.float32)


def enhancing_lesions(labels: np.ndarray, t1_pre: np.ndarray, t1_post: np.ndarray, brain: np.ndarray,
                      min_relative: float = ENHANCEMENT_MIN_RELATIVE,
                      min_fraction: float = ENHANCING_MIN_FRACTION,
                      min_voxels: int = ENHANCING_MIN_VOXELS) -> dict[int, bool]:
    """{lesion id: enhances} for every lesion of ``labels`` (arrays [k, j, i] on one grid)."""
    labels = np.asarray(labels)
    enhancement = relative_enhancement(np.asarray(t1_pre, dtype=np.float32), np.asarray(t1_post, dtype=np.float32),
                                       (np.asarray(brain) != 0) & (labels == 0))
    ids, starts, kji = group_voxels(labels)
    if ids.size == 0:
        return {}
    hot = enhancement[tuple(kji.T)] > min_relative
    n_hot = np.add.reduceat(hot.astype(np.int64), starts[:-1])
    counts = np.diff(starts)
    flags = (n_hot >= min_voxels) & (n_hot >= min_fraction * counts)
    return {int(i): bool(f) for i, f in zip(ids, flags)}
