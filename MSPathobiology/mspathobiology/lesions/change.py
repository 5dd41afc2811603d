"""Lesion change between two visits: rigid registration and per-lesion classification.

The follow-up is registered rigidly to the baseline (SimpleITK, Mattes mutual information,
multi-resolution) and its lesion labels are resampled (nearest neighbour) onto the baseline
grid. Each follow-up lesion is then

- ``new``: less than ``NEW_MAX_OVERLAP_FRACTION`` of it overlaps baseline lesions;
- ``enlarging``: volume >= (1 + ``ENLARGING_MIN_RELATIVE_GROWTH``) x its baseline volume and
  grown by >= ``ENLARGING_MIN_GROWTH_MM3`` and ``ENLARGING_MIN_GROWTH_VOXELS`` baseline voxels;
- ``shrinking``: volume <= (1 - ``SHRINKING_MIN_RELATIVE_LOSS``) x its baseline volume, with
  the same absolute floors;
- ``stable`` otherwise;

and a baseline lesion is ``resolved`` when less than ``RESOLVED_MAX_COVERAGE`` of it is
covered by follow-up lesions. Overlaps are counted against the other visit's lesions
dilated by ``CHANGE_MATCH_TOLERANCE_VOXELS`` (registration and resampling error). The baseline volume of a follow-up lesion is the sum of the
baseline lesions it overlaps, each shared in proportion to its overlap with the follow-up
lesions (so a lesion that split is not counted twice). Follow-up volumes are measured on
the follow-up's own grid.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..connectivity import structuring_element
from ..defaults import lesions as D
from ..defaults.common import DEFAULT_CONNECTIVITY


def resample_labels_to(labels: sitk.Image, reference: sitk.Image, transform: sitk.Transform | None = None) -> sitk.Image:
    """Nearest-neighbour resampling of a label image onto ``reference`` through ``transform``
    (reference physical point -> labels physical point; identity when None)."""
    return sitk.Resample(labels, reference, transform or sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                         labels.GetPixelID())


def dilate_labels(labels: np.ndarray, voxels: int, connectivity: int = DEFAULT_CONNECTIVITY) -> np.ndarray:
    """Grow every lesion by ``voxels`` into the background (ties: the larger id); ids unchanged."""
    out = np.asarray(labels)
    for _ in range(int(voxels)):
        grown = ndimage.grey_dilation(out, footprint=structuring_element(connectivity))
        out = np.where(out > 0, out, grown)
    return out


def _overlap(a: np.ndarray, b: np.ndarray, na: int, nb: int) -> np.ndarray:
    return np.bincount((a * (nb + 1) + b).ravel(), minlength=(na + 1) * (nb + 1)).reshape(na + 1, nb + 1)


def classify_change(baseline: np.ndarray, followup_on_baseline: np.ndarray, baseline_voxel_mm3: float,
                    followup_volumes_mm3: dict[int, float] | None = None,
                    tolerance_voxels: int = D.CHANGE_MATCH_TOLERANCE_VOXELS,
                    baseline_normalised_flair: np.ndarray | None = None) -> tuple[list[dict], np.ndarray]:
    """Classify lesions between visits; arrays [k, j, i] on the baseline grid.

    ``followup_volumes_mm3``: native follow-up volumes by id (default: counted on the
    baseline grid). Overlaps are counted against the other visit's lesions dilated by
    ``tolerance_voxels``. Returns (rows, change labelmap with ``CHANGE_CODES``). One row per
    follow-up lesion (``followup_id``, ``baseline_ids``, ``change``, volumes mm^3) plus one
    per resolved baseline lesion (``followup_id`` None).

    ``baseline_normalised_flair`` (baseline FLAIR / NAWM on the baseline grid), when given,
    guards against lesions the baseline segmentation missed: a follow-up lesion without a
    baseline counterpart whose voxels were already hyperintense at baseline (>
    ``GROW_THRESHOLD``, at least ``NEW_MAX_OVERLAP_FRACTION`` of them) is not new; its
    baseline volume is the hyperintense part and it is classified like any other lesion
    (row ``baseline_ids`` = "flair").
    """
    baseline = np.asarray(baseline).astype(np.int64, copy=False)
    followup = np.asarray(followup_on_baseline).astype(np.int64, copy=False)
    nb, nf = int(baseline.max(initial=0)), int(followup.max(initial=0))
    exact = _overlap(baseline, followup, nb, nf)
    b_size = exact.sum(axis=1)
    f_size = exact.sum(axis=0)
    overlap = _overlap(dilate_labels(baseline, tolerance_voxels), followup, nb, nf)
    covered_b = _overlap(baseline, dilate_labels(followup, tolerance_voxels), nb, nf)
    if followup_volumes_mm3 is None:
        followup_volumes_mm3 = {f: float(f_size[f] * baseline_voxel_mm3) for f in range(1, nf + 1) if f_size[f]}
    shared = overlap[1:, 1:].astype(float)
    share_sum = shared.sum(axis=1, keepdims=True)
    share = np.divide(shared, share_sum, out=np.zeros_like(shared), where=share_sum > 0)
    base_volume = (share * (b_size[1:, None] * baseline_voxel_mm3)).sum(axis=0)
    floor = max(D.ENLARGING_MIN_GROWTH_MM3, D.ENLARGING_MIN_GROWTH_VOXELS * baseline_voxel_mm3)
    code = np.zeros(nf + 1, dtype=np.uint8)
    rows = []
    for f in sorted(followup_volumes_mm3):
        if f > nf or f_size[f] == 0:
            continue
        inside = f_size[f] - overlap[0, f]
        volume = float(followup_volumes_mm3[f])
        before = float(base_volume[f - 1])
        ids = None
        if inside < D.NEW_MAX_OVERLAP_FRACTION * f_size[f] or before == 0:
            before = 0.0
            if baseline_normalised_flair is not None:
                bright = int(np.count_nonzero(baseline_normalised_flair[followup == f] > D.GROW_THRESHOLD))
                if bright >= D.NEW_MAX_OVERLAP_FRACTION * f_size[f]:
                    before, ids = bright * baseline_voxel_mm3, "flair"
        if before == 0.0:
            change = "new"
        elif volume - before >= D.ENLARGING_MIN_RELATIVE_GROWTH * before and volume - before >= floor:
            change = "enlarging"
        elif before - volume >= D.SHRINKING_MIN_RELATIVE_LOSS * before and before - volume >= floor:
            change = "shrinking"
        else:
            change = "stable"
        code[f] = D.CHANGE_CODES[change]
        if ids is None:
            ids = ",".join(str(int(b)) for b in np.nonzero(overlap[1:, f])[0] + 1) if change != "new" else ""
        rows.append({"followup_id": f, "baseline_ids": ids, "change": change,
                     "volume_mm3": volume, "baseline_volume_mm3": before, "volume_change_mm3": volume - before,
                     "volume_change_percent": (100.0 * (volume - before) / before) if before else None})
    change_map = code[followup]
    covered = b_size - covered_b[:, 0]
    resolved = (b_size > 0) & (covered < D.RESOLVED_MAX_COVERAGE * b_size)
    resolved[0] = False
    change_map = np.where(change_map == 0, resolved[baseline] * np.uint8(D.CHANGE_CODES["resolved"]),
                          change_map).astype(np.uint8)
    for b in np.nonzero(resolved)[0]:
        volume = float(b_size[b] * baseline_voxel_mm3)
        rows.append({"followup_id": None, "baseline_ids": str(int(b)), "change": "resolved", "volume_mm3": 0.0,
                     "baseline_volume_mm3": volume, "volume_change_mm3": -volume,
                     "volume_change_percent": -100.0})
    return rows, change_map


def summarise_change(rows: list[dict]) -> dict:
    """Counts per change class: ``lesions_new``, ``lesions_enlarging``, ..., ``lesions_new_or_enlarging``."""
    out = {f"lesions_{name}": sum(1 for r in rows if r["change"] == name) for name in D.CHANGE_CODES}
    out["lesions_new_or_enlarging"] = out["lesions_new"] + out["lesions_enlarging"]
    return out


def native_volumes(labels: np.ndarray, voxel_volume_mm3: float) -> dict[int, float]:
    """{id: volume mm^3} of a label array."""
    counts = np.bincount(np.asarray(labels).ravel().astype(np.int64))
    return {int(i): float(counts[i] * voxel_volume_mm3) for i in np.nonzero(counts)[0] if i > 0}
