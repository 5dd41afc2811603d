"""The brain mask that lesion segmentation searches in, on the FLAIR grid.

- Given (``brain_mask``): used as is.
- With a T1: the project's brain extraction (:mod:`mspathobiology.atrophy.brain_extraction`)
  runs on the T1; when the T1 is on another grid it is registered rigidly to the FLAIR
  (Mattes mutual information, :func:`mspathobiology.registration.register_rigid`) and the
  mask is carried over by nearest neighbour.
- FLAIR only: an Otsu head mask with holes filled (:func:`.segment.estimate_brain_mask`),
  which is only a brain on a skull-stripped FLAIR. When it is larger than any adult
  intracranial volume (``FLAIR_ONLY_MAX_BRAIN_ML``) the image still has its scalp and skull,
  and a clear error asks for a T1 or a brain mask rather than searching the scalp for lesions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ..defaults.lesions import BRAIN_MASK_REGISTRATION_METRIC, FLAIR_ONLY_MAX_BRAIN_ML
from ..errors import InputError
from ..geometry import image_like, same_geometry, voxel_volume_mm3
from ..registration import register_rigid

METHOD_GIVEN = "given"
METHOD_T1 = "brain extraction on the T1 (mspathobiology.atrophy.brain_extraction)"
METHOD_REGISTERED = "; T1 registered rigidly to the FLAIR (Mattes MI)"
METHOD_FLAIR = "FLAIR Otsu head mask, holes filled (for skull-stripped FLAIR)"


@dataclass
class BrainMask:
    """Brain mask on the FLAIR grid and how it was made."""
    mask: np.ndarray                          #: bool [k, j, i] on the FLAIR grid
    method: str                               #: how: METHOD_GIVEN, METHOD_FLAIR or the T1 extraction's method
    t1_to_flair: sitk.Transform | None = None  #: FLAIR point -> T1 point (LPS mm) when registered


def t1_brain(t1: sitk.Image, method: str | None = None) -> tuple[np.ndarray, str]:
    """(brain mask bool [k, j, i] on the T1 grid, method text) from the project's T1 brain
    extraction (:func:`mspathobiology.atrophy.brain_extraction.extract_brain`); ``method``:
    its method name (None = its default, template-based)."""
    from ..atrophy.brain_extraction import extract_brain

    result = extract_brain(t1) if method is None else extract_brain(t1, method=method)
    return result.brain_array(), f"{METHOD_T1}: {result.method}"


def register_t1_to_flair(flair: sitk.Image, t1: sitk.Image) -> sitk.Transform:
    """Rigid transform mapping FLAIR points to T1 points (LPS mm), Mattes mutual information."""
    return register_rigid(flair, t1, metric=BRAIN_MASK_REGISTRATION_METRIC)


def t1_on_flair(t1: sitk.Image, flair: sitk.Image, transform: sitk.Transform | None) -> sitk.Image:
    """A T1-grid intensity image (T1, post-contrast T1) resampled linearly onto the FLAIR grid."""
    if transform is None:
        return t1
    return sitk.Resample(sitk.Cast(t1, sitk.sitkFloat32), flair, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)


def brain_mask_on_flair(flair: sitk.Image, t1: sitk.Image | None = None, brain_mask: sitk.Image | None = None,
                        source: str = "FLAIR", require_brain: bool = True,
                        extraction_method: str | None = None) -> BrainMask:
    """Brain mask for lesion search on the FLAIR grid (see the module docstring).

    ``require_brain=False`` (lesions given, the mask only normalises intensities) accepts
    the FLAIR-only head mask of a whole-head image instead of raising. ``extraction_method``
    chooses the T1 brain extraction (see :func:`t1_brain`)."""
    if brain_mask is not None:
        mask = sitk.GetArrayFromImage(brain_mask) != 0
        if not mask.any():
            raise InputError("brain mask", "is empty (no non-zero voxel)")
        return BrainMask(mask, METHOD_GIVEN)
    if t1 is not None:
        brain, method = t1_brain(t1, extraction_method)
        if same_geometry(flair, t1):
            return BrainMask(brain, method)
        transform = register_t1_to_flair(flair, t1)
        carried = sitk.Resample(image_like(brain.astype(np.uint8), t1), flair, transform, sitk.sitkNearestNeighbor,
                                0, sitk.sitkUInt8)
        mask = sitk.GetArrayFromImage(carried) != 0
        if not mask.any():
            raise InputError("T1", "the T1 brain mask does not overlap the FLAIR after registration; "
                                   "are they the same subject and session?")
        return BrainMask(mask, method + METHOD_REGISTERED, transform)
    from .segment import estimate_brain_mask

    mask = estimate_brain_mask(flair)
    volume_ml = float(mask.sum()) * voxel_volume_mm3(flair) / 1000.0
    if require_brain and volume_ml > FLAIR_ONLY_MAX_BRAIN_ML:
        raise InputError(source, f"looks like a whole-head image: its automatic brain mask is {volume_ml:.0f} mL, "
                                 f"more than any adult intracranial volume ({FLAIR_ONLY_MAX_BRAIN_ML:.0f} mL). "
                                 "Give a T1 of the same session (--t1; the brain is extracted on it) or a brain "
                                 "mask (--brain-mask), so that no lesion is searched in the scalp")
    return BrainMask(mask, METHOD_FLAIR)
