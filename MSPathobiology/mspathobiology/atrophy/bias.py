"""Intensity non-uniformity: N4 bias correction of one image."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..defaults.atrophy import N4_ITERATIONS, N4_SHRINK_TO_MM
from ..geometry import image_like


def bias_correct(t1: sitk.Image, mask: np.ndarray) -> np.ndarray:
    """N4 bias-corrected T1 array (Tustison et al. 2010), fitted on a shrunk copy inside ``mask``."""
    shrink = [max(1, int(round(N4_SHRINK_TO_MM / s))) for s in t1.GetSpacing()]
    image = sitk.Cast(t1, sitk.sitkFloat32)
    positive = sitk.Maximum(image, 1e-3)
    mask_img = image_like(mask.astype(np.uint8), t1)
    n4 = sitk.N4BiasFieldCorrectionImageFilter()
    n4.SetMaximumNumberOfIterations(list(N4_ITERATIONS))
    n4.Execute(sitk.Shrink(positive, shrink), sitk.Shrink(mask_img, shrink))
    log_field = sitk.GetArrayFromImage(n4.GetLogBiasFieldAsImage(positive))
    return (sitk.GetArrayFromImage(image) / np.exp(log_field)).astype(np.float32)
