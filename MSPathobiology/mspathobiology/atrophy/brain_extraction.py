"""Classical brain extraction on a T1 when no brain mask is given.

Intensity threshold + morphology, in the spirit of the pre-BET "threshold, erode,
keep the largest component, dilate back" tools (Brummer et al., IEEE TMI 1993;
Smith, Hum Brain Mapp 2002 reviews them):

1. head = Otsu foreground;
2. a 3-class mixture inside the head separates dark (CSF, bone, air) from tissue;
3. tissue voxels are eroded by ``BET_EROSION_MM`` to cut the thin bridges to the
   scalp, the largest component is kept and grown back inside the tissue voxels;
4. holes (ventricles) are filled -> brain mask;
5. a closing by ``ICV_CLOSING_MM`` and hole filling adds sulcal and ventricular CSF
   -> intracranial mask (the ICV of SIENAX-style fractions).

Works on skull-stripped inputs too (their background is the dark class). Arrays are
numpy [k, j, i]; radii are in mm, honouring anisotropic spacing.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..connectivity import connected_components
from ..defaults.atrophy import BET_EROSION_MM, ICV_CLOSING_MM
from ..errors import InputError
from .tissue import fit_mixture


def _erode(mask, radius_mm, spacing):
    return ndimage.distance_transform_edt(mask, sampling=spacing) > radius_mm


def _dilate(mask, radius_mm, spacing):
    return ndimage.distance_transform_edt(~mask, sampling=spacing) <= radius_mm


def _largest(mask):
    labels, count = connected_components(mask, connectivity=6)
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _fill_holes(mask):
    return ndimage.binary_fill_holes(mask)


def extract_brain(t1: sitk.Image, erosion_mm: float = BET_EROSION_MM,
                  closing_mm: float = ICV_CLOSING_MM) -> tuple[np.ndarray, np.ndarray]:
    """Return (brain, intracranial) boolean arrays [k, j, i] on ``t1``'s grid."""
    array = sitk.GetArrayFromImage(t1).astype(np.float32)
    spacing = tuple(float(s) for s in t1.GetSpacing()[::-1])
    if not np.isfinite(array).all():
        raise InputError("t1", "contains NaN or infinite values; cannot extract the brain")
    head = sitk.GetArrayFromImage(sitk.OtsuThreshold(t1, 0, 1)).astype(bool)
    if head.sum() < 1000:
        raise InputError("t1", "has no clear foreground (Otsu found < 1000 head voxels); is the image blank?")
    head = _fill_holes(_largest(head))
    model = fit_mixture(array[head])
    mu = model["means"][:, 0]
    tissue = head & (array > 0.5 * (mu[0] + mu[1]))
    core = _largest(_erode(tissue, erosion_mm, spacing))
    if not core.any():
        raise InputError("t1", f"no brain left after a {erosion_mm} mm erosion; is the image a brain T1?")
    brain = _dilate(core, erosion_mm + max(spacing), spacing) & tissue
    brain = _fill_holes(_largest(brain))
    icv = _erode(_dilate(brain, closing_mm, spacing), closing_mm, spacing) | brain
    icv = _fill_holes(icv) & head
    return brain, icv
