"""Segmentation evaluation: Dice and lesion-wise detection scores by the MSSEG rule.

Detection follows the MSSEG challenge evaluation (Commowick et al., Sci Rep 2018), whose
reference implementation is Anima's ``animaSegPerfAnalyzer`` (defaults alpha 0.1, beta 0.7,
gamma 0.65, lesions > 3 mm^3, ITK face connectivity). A truth lesion T is detected when

1. more than ``alpha`` of T's voxels are covered by segmented lesions, and
2. going through the segmented lesions that overlap T, largest overlap first, until they
   account for ``gamma`` of the covered voxels, none lies more than ``beta`` outside all
   truth lesions.

Lesion-wise PPV applies the same rule with the roles of truth and segmentation swapped;
F1 is their harmonic mean.
"""

from __future__ import annotations

import math

import numpy as np

from ..connectivity import connected_components, relabel_by_size
from ..defaults.lesions import (DETECTION_CONNECTIVITY, DETECTION_GAMMA, DETECTION_MAX_OUTSIDE,
                                DETECTION_MIN_OVERLAP, DETECTION_MIN_VOLUME_MM3)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient 2|A&B| / (|A| + |B|) of two masks (non-zero = inside); 1.0 when both are empty."""
    a = np.asarray(a) != 0
    b = np.asarray(b) != 0
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


def detection_components(mask: np.ndarray, voxel_volume_mm3: float = 1.0,
                         min_volume_mm3: float = DETECTION_MIN_VOLUME_MM3,
                         connectivity: int = DETECTION_CONNECTIVITY) -> np.ndarray:
    """Components used for detection: volume strictly greater than ``min_volume_mm3`` (as Anima)."""
    labels, _ = connected_components(np.asarray(mask) != 0, connectivity)
    min_voxels = int(math.floor(min_volume_mm3 / voxel_volume_mm3)) + 1
    return relabel_by_size(labels, min_voxels)[0]


def _detected(overlap: np.ndarray, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Rows of ``overlap`` (truth x test incl. background row/column 0) that are detected."""
    n_ref = overlap.shape[0]
    column_sum = overlap.sum(axis=0)
    outside = np.zeros(overlap.shape[1])
    nonzero = column_sum > 0
    outside[nonzero] = overlap[0, nonzero] / column_sum[nonzero]
    detected = np.zeros(n_ref, dtype=bool)
    for i in range(1, n_ref):
        covered = overlap[i, 1:].sum()
        total = covered + overlap[i, 0]
        if total == 0 or covered / total <= alpha:
            continue
        order = np.argsort(-overlap[i, 1:], kind="stable") + 1
        order = order[overlap[i, order] > 0]
        weight, ok = 0.0, True
        for j in order:
            if weight >= gamma:
                break
            if outside[j] > beta:
                ok = False
                break
            weight += overlap[i, j] / covered
        detected[i] = ok
    return detected[1:]


def lesion_detection(segmentation: np.ndarray, truth: np.ndarray, voxel_volume_mm3: float = 1.0,
                     min_volume_mm3: float = DETECTION_MIN_VOLUME_MM3,
                     connectivity: int = DETECTION_CONNECTIVITY, alpha: float = DETECTION_MIN_OVERLAP,
                     beta: float = DETECTION_MAX_OUTSIDE, gamma: float = DETECTION_GAMMA) -> dict:
    """Lesion-wise TPR (sensitivity), PPV and F1 by the MSSEG rule, plus Dice.

    ``segmentation`` and ``truth`` are masks (or label images; non-zero = lesion) on the
    same grid [k, j, i]. Lesions are re-derived as connected components with
    ``connectivity`` and kept when larger than ``min_volume_mm3``. Returns a dict with
    ``tpr``, ``ppv``, ``f1``, ``dice``, ``n_truth``, ``n_segmented``, ``n_truth_detected``,
    ``n_segmented_true`` and the boolean arrays ``truth_detected`` / ``segmented_true``
    (index n = component n + 1). Scores with no lesion to count are NaN.
    """
    seg = detection_components(segmentation, voxel_volume_mm3, min_volume_mm3, connectivity)
    ref = detection_components(truth, voxel_volume_mm3, min_volume_mm3, connectivity)
    n_ref, n_seg = int(ref.max(initial=0)), int(seg.max(initial=0))
    overlap = np.bincount(ref.ravel().astype(np.int64) * (n_seg + 1) + seg.ravel(),
                          minlength=(n_ref + 1) * (n_seg + 1)).reshape(n_ref + 1, n_seg + 1)
    truth_detected = _detected(overlap, alpha, beta, gamma)
    segmented_true = _detected(overlap.T, alpha, beta, gamma)
    tpr = truth_detected.mean() if n_ref else float("nan")
    ppv = segmented_true.mean() if n_seg else float("nan")
    f1 = 2 * tpr * ppv / (tpr + ppv) if (tpr + ppv) > 0 else (0.0 if n_ref and n_seg else float("nan"))
    return {"tpr": float(tpr), "ppv": float(ppv), "f1": float(f1), "dice": dice(segmentation, truth),
            "n_truth": n_ref, "n_segmented": n_seg, "n_truth_detected": int(truth_detected.sum()),
            "n_segmented_true": int(segmented_true.sum()), "truth_detected": truth_detected,
            "segmented_true": segmented_true}
