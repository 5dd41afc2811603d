"""A FLAIR-like contrast made from a real whole-head T1 and its brain extraction (validation aid).

Real whole-head FLAIR images do not ship in packages; a real T1 (Colin27 ``ch2`` in Debian's
mricron-data) and its brain extraction (``ch2bet``) do. Inside the brain, T1 intensity is
remapped piecewise-linearly through the CSF, GM and WM class levels (three-class Otsu,
Otsu IEEE SMC 1979) to FLAIR levels relative to white matter (``FLAIR_LIKE_LEVELS``: CSF
nulled, cortex brighter than WM), which keeps the partial-volume gradients of the real
anatomy. Outside the brain the T1 is kept, scaled to WM = 1: scalp fat stays bright and
bone dark, as on FLAIR, so the scalp challenges a lesion search exactly where a brain mask
leaks. Nothing here is used by the analysis.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..defaults.lesions import FLAIR_LIKE_LEVELS, FLAIR_LIKE_NOISE
from ..errors import InputError
from ..geometry import check_same_geometry, image_like


def tissue_levels(t1: np.ndarray, brain: np.ndarray) -> tuple[float, float, float]:
    """Median T1 of the CSF, GM and WM classes inside ``brain`` (three-class Otsu thresholds)."""
    values = np.asarray(t1, dtype=np.float32)[np.asarray(brain, dtype=bool)]
    if values.size < 1000:
        raise InputError("brain mask", f"has {values.size} voxels; too few to find tissue classes")
    column = sitk.GetImageFromArray(values.reshape(1, 1, -1))
    otsu = sitk.OtsuMultipleThresholdsImageFilter()
    otsu.SetNumberOfThresholds(2)
    otsu.SetNumberOfHistogramBins(256)
    classes = sitk.GetArrayFromImage(otsu.Execute(column)).ravel()
    levels = [float(np.median(values[classes == c])) for c in range(3)]
    if not levels[0] < levels[1] < levels[2]:
        raise InputError("T1", f"tissue levels {levels} are not CSF < GM < WM; is this a T1-weighted image?")
    return levels[0], levels[1], levels[2]


def flair_like_from_t1(t1: sitk.Image, brain_mask: sitk.Image, noise: float = FLAIR_LIKE_NOISE,
                       seed: int = 0) -> sitk.Image:
    """Float32 FLAIR-like image (WM = 100) on ``t1``'s grid; ``brain_mask`` is a brain
    extraction of the same T1 (non-zero = brain). ``noise``: Gaussian noise sd as a fraction
    of WM (a fixed ``seed`` makes it repeatable)."""
    check_same_geometry(t1, brain_mask, names=("T1", "brain mask"))
    array = sitk.GetArrayFromImage(t1).astype(np.float32)
    brain = sitk.GetArrayFromImage(brain_mask) != 0
    csf, gm, wm = tissue_levels(array, brain)
    out = array / np.float32(wm)
    remapped = np.interp(array[brain], [csf, gm, wm],
                         [FLAIR_LIKE_LEVELS["csf"], FLAIR_LIKE_LEVELS["gm"], FLAIR_LIKE_LEVELS["wm"]])
    out[brain] = remapped.astype(np.float32)
    out = np.clip(out, 0.0, None)
    if noise > 0:
        out += np.random.default_rng(seed).normal(0.0, noise, out.shape).astype(np.float32)
    return image_like((100.0 * out).astype(np.float32), t1)
