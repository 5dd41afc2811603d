"""Follow-up to baseline deformation: rigid alignment, intensity matching, demons, log-Jacobian.

Frames: the displacement field ``u`` lives on the baseline grid; ``x + u(x)`` (LPS mm) is the
point of the (rigidly aligned) follow-up that matches baseline point ``x``. Its Jacobian
determinant J = det(I + du/dx) is the volume of baseline tissue at the follow-up divided by its
baseline volume: J > 1 is expansion, log J > 0.

Why demons (SimpleITK ``FastSymmetricForcesDemonsRegistrationFilter``, Vercauteren et al.,
NeuroImage 2009): a dense field with one displacement per voxel resolves lesions of 10 voxels,
where a B-spline grid fine enough to do so (control points every 2-3 voxels) costs far more and
needs its own regularisation; the symmetric (ESM) forces converge in tens of iterations, so three
1 mm visits register in about a minute on 2 cores; it is in SimpleITK, which Slicer's Python
ships (ANTsPy's SyN is not). Demons assumes the same contrast in both images, which holds for
the same subject's T1 after the differential bias correction below. The field is regularised by
a Gaussian, which keeps J positive in practice; folded voxels are counted and clamped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ..atrophy.pbvc import differential_bias_field
from ..defaults.sel import (SEL_CROP_MARGIN_MM, SEL_DEMONS_FIELD_SIGMA_VOXELS, SEL_DEMONS_ITERATIONS,
                            SEL_DEMONS_MAX_RMS_ERROR, SEL_DEMONS_SHRINK_FACTORS, SEL_IMAGE_SIGMA_VOXELS,
                            SEL_MIN_JACOBIAN, SEL_RIGID_SPACING_MM)
from ..registration import register_rigid


def jacobian_determinant(displacement: sitk.Image) -> np.ndarray:
    """det(I + du/dx) of a displacement field (LPS mm vectors), array [k, j, i] on its grid.

    Works around ITK issue 5358 (SimpleITK 2.5: ``DisplacementFieldJacobianDeterminantFilter``
    ignores the image direction; NIfTI images usually carry diag(-1, -1, 1)): the vectors are
    rotated into the index frame (D^T u) and the direction set to identity, where the filter is
    right. det(I + D^T (du/dx) D) = det(I + du/dx).
    """
    vectors = sitk.GetArrayFromImage(displacement).astype(np.float64)
    direction = np.asarray(displacement.GetDirection(), dtype=float).reshape(3, 3)
    field = sitk.GetImageFromArray(vectors @ direction, isVector=True)  # row vectors: (D^T u)^T = u^T D
    field.SetSpacing(displacement.GetSpacing())
    field.SetOrigin(displacement.GetOrigin())
    return sitk.GetArrayFromImage(sitk.DisplacementFieldJacobianDeterminant(field)).astype(np.float32)


def log_jacobian(displacement: sitk.Image, floor: float = SEL_MIN_JACOBIAN) -> tuple[np.ndarray, int]:
    """(log J array [k, j, i], number of folded voxels with J < ``floor``, which are clamped)."""
    jac = jacobian_determinant(displacement)
    folded = int(np.count_nonzero(jac < floor))
    return np.log(np.maximum(jac, floor)).astype(np.float32), folded


def index_frame_displacement(displacement: sitk.Image) -> np.ndarray:
    """Displacement as an array [k, j, i, 3] of components along the array axes (k, j, i), mm."""
    vectors = sitk.GetArrayFromImage(displacement).astype(np.float32)
    direction = np.asarray(displacement.GetDirection(), dtype=np.float32).reshape(3, 3)
    return (vectors @ direction)[..., ::-1]


def brain_box(mask: np.ndarray, spacing_kji, margin_mm: float = SEL_CROP_MARGIN_MM) -> tuple:
    """Slices [k, j, i] of the mask's bounding box plus ``margin_mm``."""
    where = np.argwhere(mask)
    margin = np.ceil(margin_mm / np.asarray(spacing_kji)).astype(int)
    lo = np.maximum(where.min(0) - margin, 0)
    hi = np.minimum(where.max(0) + margin + 1, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def crop(image: sitk.Image, box: tuple) -> sitk.Image:
    """Region of ``image`` given by array slices [k, j, i] (geometry kept)."""
    start = [box[2].start, box[1].start, box[0].start]
    size = [box[2].stop - box[2].start, box[1].stop - box[1].start, box[0].stop - box[0].start]
    return sitk.RegionOfInterest(image, size, start)


def _coarse(image: sitk.Image, factor: int, label: bool = False) -> sitk.Image:
    if factor <= 1:
        return image
    if label:
        return sitk.Shrink(image, [factor] * 3)
    smooth = sitk.SmoothingRecursiveGaussian(sitk.Cast(image, sitk.sitkFloat32), 0.5 * factor * min(image.GetSpacing()))
    return sitk.Shrink(smooth, [factor] * 3)


def align_rigid(baseline: sitk.Image, followup: sitk.Image, brain_mask: sitk.Image,
                spacing_mm: float = SEL_RIGID_SPACING_MM) -> tuple[sitk.Image, sitk.Transform]:
    """Follow-up resampled (linear) onto the baseline grid after rigid registration (mspathobiology.registration).

    The rigid transform is estimated on both images shrunk to about ``spacing_mm`` voxels: a
    residual rigid error of a fraction of a voxel has Jacobian 1 and is absorbed by demons.
    """
    factor = max(1, int(round(spacing_mm / max(baseline.GetSpacing()))))
    transform = register_rigid(_coarse(baseline, factor), _coarse(followup, factor),
                               fixed_mask=_coarse(brain_mask, factor, label=True))
    moved = sitk.Resample(sitk.Cast(followup, sitk.sitkFloat32), baseline, transform, sitk.sitkLinear, 0.0,
                          sitk.sitkFloat32)
    return moved, transform


def match_intensity(baseline: np.ndarray, followup: np.ndarray, brain: np.ndarray, spacing_kji) -> np.ndarray:
    """Follow-up with the smooth differential bias (and global scale) to the baseline removed
    (Lewis & Fox 2004; :func:`mspathobiology.atrophy.pbvc.differential_bias_field`)."""
    field = differential_bias_field(baseline, followup, brain, tuple(spacing_kji))
    return (followup * np.exp(field)).astype(np.float32)


@dataclass
class Deformation:
    displacement: sitk.Image     #: vector field (LPS mm) on the cropped baseline grid
    box: tuple                   #: array slices [k, j, i] of the crop in the baseline grid
    iterations: list             #: demons iterations run per pyramid level
    rms_change_mm: float         #: RMS change of the field at the last iteration


def demons(fixed: sitk.Image, moving: sitk.Image, shrink_factors=SEL_DEMONS_SHRINK_FACTORS,
           iterations=SEL_DEMONS_ITERATIONS, sigma_voxels: float = SEL_DEMONS_FIELD_SIGMA_VOXELS,
           image_sigma_voxels: float = SEL_IMAGE_SIGMA_VOXELS) -> tuple[sitk.Image, list, float]:
    """Fast symmetric-forces demons, coarse to fine; returns (displacement on ``fixed``'s grid, iterations, RMS change).

    Both images are smoothed by ``image_sigma_voxels`` x the level's shrink factor, then shrunk.
    The field of a level initialises the next (linear resampling).
    """
    filt = sitk.FastSymmetricForcesDemonsRegistrationFilter()
    filt.SetStandardDeviations(float(sigma_voxels))
    filt.SetMaximumRMSError(SEL_DEMONS_MAX_RMS_ERROR)
    spacing = min(fixed.GetSpacing())
    field, done = None, []
    for shrink, count in zip(shrink_factors, iterations):
        sigma = image_sigma_voxels * shrink * spacing
        f, m = (sitk.SmoothingRecursiveGaussian(img, sigma) if sigma > 0 else img for img in (fixed, moving))
        if shrink > 1:
            f, m = sitk.Shrink(f, [int(shrink)] * 3), sitk.Shrink(m, [int(shrink)] * 3)
        filt.SetNumberOfIterations(int(count))
        if field is None:
            field = filt.Execute(f, m)
        else:
            init = sitk.Resample(field, f, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkVectorFloat64)
            field = filt.Execute(f, m, init)
        done.append(int(filt.GetElapsedIterations()))
    if tuple(field.GetSize()) != tuple(fixed.GetSize()):
        field = sitk.Resample(field, fixed, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkVectorFloat64)
    return field, done, float(filt.GetRMSChange())


def register_followup(baseline: sitk.Image, followup_aligned: np.ndarray, brain: np.ndarray) -> Deformation:
    """Demons from the baseline (fixed) to an aligned, intensity-matched follow-up array on the baseline grid."""
    spacing_kji = baseline.GetSpacing()[::-1]
    box = brain_box(brain, spacing_kji)
    fixed = crop(sitk.Cast(baseline, sitk.sitkFloat32), box)
    moving = sitk.GetImageFromArray(np.ascontiguousarray(followup_aligned[box], dtype=np.float32))
    moving.CopyInformation(fixed)
    field, done, rms = demons(fixed, moving)
    return Deformation(displacement=field, box=box, iterations=done, rms_change_mm=rms)
