"""Semi-automatic FLAIR lesion segmentation.

Steps: brain mask (given, else estimated), N4 bias field correction (Tustison et al.,
IEEE TMI 2010), normalisation to normal-appearing white matter (NAWM = 1), conservative
hyperintense seeds, then growth into less hyperintense neighbours, in the spirit of LST's
lesion growth algorithm (Schmidt et al., NeuroImage 2012). Every threshold is in
:mod:`mspathobiology.defaults.lesions`.

Arrays are indexed [k, j, i] (SimpleITK order); images are SimpleITK images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..connectivity import connected_components, structuring_element
from ..defaults.common import DEFAULT_CONNECTIVITY
from ..defaults import lesions as D
from ..errors import InputError
from ..geometry import check_same_geometry, image_like
from .locations import WHITE_MATTER_LABELS


@dataclass
class Segmentation:
    """Result of :func:`segment_flair` (arrays [k, j, i] on the FLAIR grid)."""
    mask: np.ndarray              #: bool, lesion voxels
    normalised_flair: np.ndarray  #: float32, bias-corrected FLAIR / NAWM intensity
    brain_mask: np.ndarray        #: bool, the brain mask used (given or estimated)
    nawm: float                   #: NAWM intensity of the bias-corrected FLAIR (scanner units)
    brain_mask_estimated: bool    #: True when no brain mask was given


def _radius_voxels(image: sitk.Image, mm: float) -> list[int]:
    return [max(1, int(round(mm / s))) for s in image.GetSpacing()]


def estimate_brain_mask(image: sitk.Image) -> np.ndarray:
    """Rough brain (intracranial) mask of a FLAIR or T1 image: Gaussian smoothing, Otsu
    threshold (Otsu, IEEE SMC 1979), a morphological opening of ``BRAIN_OPENING_MM`` to cut
    thin bridges, the largest component, holes filled (ventricles). Returns bool [k, j, i].

    It does not strip a skull; give a brain mask (e.g. from SynthStrip or FreeSurfer) for
    real data with a skull.
    """
    smooth = sitk.SmoothingRecursiveGaussian(sitk.Cast(image, sitk.sitkFloat32), D.BRAIN_SMOOTHING_MM)
    head = sitk.OtsuThreshold(smooth, 0, 1)
    radius = _radius_voxels(image, D.BRAIN_OPENING_MM)
    opened = sitk.BinaryMorphologicalOpening(head, radius, sitk.sitkBall, backgroundValue=0, foregroundValue=1)
    array = sitk.GetArrayFromImage(opened).astype(bool)
    comps, count = connected_components(array, 6)
    if count == 0:
        raise InputError("FLAIR", "no brain found by the automatic brain mask (image is flat?); give --brain-mask")
    largest = np.argmax(np.bincount(comps.ravel())[1:]) + 1
    brain = comps == largest
    filled = ndimage.binary_fill_holes(brain)
    for axis in range(3):  # sulcal/ventricular CSF open to one slice direction
        filled |= np.stack([ndimage.binary_fill_holes(s) for s in np.moveaxis(filled, axis, 0)], axis=axis)
    return filled


def n4_correct(image: sitk.Image, mask: np.ndarray) -> sitk.Image:
    """N4 bias field correction inside ``mask``; the field is fitted on an image shrunk by
    ``N4_SHRINK_FACTOR`` and applied at full resolution. Returns float32."""
    image = sitk.Cast(image, sitk.sitkFloat32)
    minimum = float(sitk.GetArrayViewFromImage(image)[mask].min()) if mask.any() else 0.0
    positive = image - minimum + 1.0 if minimum <= 0 else image
    mask_img = image_like(mask.astype(np.uint8), image)
    factor = [D.N4_SHRINK_FACTOR if s > 4 * D.N4_SHRINK_FACTOR else 1 for s in image.GetSize()]
    small = sitk.Shrink(positive, factor)
    small_mask = sitk.Shrink(mask_img, factor)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations(list(D.N4_ITERATIONS))
    corrector.SetNumberOfControlPoints([D.N4_CONTROL_POINTS] * 3)
    corrector.Execute(small, small_mask)
    log_field = corrector.GetLogBiasFieldAsImage(positive)
    corrected = positive / sitk.Exp(log_field)
    if minimum <= 0:
        corrected = corrected + (minimum - 1.0)
    return sitk.Cast(corrected, sitk.sitkFloat32)


def histogram_mode(values: np.ndarray, bins: int = D.NAWM_HISTOGRAM_BINS) -> float:
    """Mode of ``values``: peak of a lightly smoothed histogram between the 1st and 99th percentile."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("no values")
    lo, hi = np.percentile(values, [1, 99])
    if hi <= lo:
        return float(np.median(values))
    hist, edges = np.histogram(values, bins=bins, range=(lo, hi))
    hist = ndimage.gaussian_filter1d(hist.astype(float), D.NAWM_HISTOGRAM_SMOOTHING_BINS)
    peak = int(np.argmax(hist))
    return float(0.5 * (edges[peak] + edges[peak + 1]))


_last_depth: list = []


def depth_mm(mask: np.ndarray, spacing_kji) -> np.ndarray:
    """Distance (mm) of each voxel of ``mask`` to the nearest voxel outside it (0 outside); read-only.
    The last result is kept: segmentation and the location rule ask for the same brain's depth."""
    mask = np.asarray(mask, dtype=bool)
    key = (mask.shape, tuple(float(s) for s in spacing_kji), hashlib.sha1(np.packbits(mask)).hexdigest())
    if _last_depth and _last_depth[0] == key:
        return _last_depth[1]
    depth = ndimage.distance_transform_edt(np.pad(mask, 1), sampling=spacing_kji)[1:-1, 1:-1, 1:-1]
    depth.flags.writeable = False
    _last_depth[:] = [key, depth]
    return depth


def nawm_intensity(flair: np.ndarray, brain: np.ndarray, spacing_kji, wm_mask: np.ndarray | None = None) -> float:
    """Normal-appearing white matter intensity of FLAIR: the histogram mode over ``wm_mask``
    when given, else over brain voxels at least ``NAWM_MIN_DEPTH_MM`` deep (WM dominates
    the deep brain; ventricular CSF and lesions sit in the tails)."""
    if wm_mask is not None and np.count_nonzero(wm_mask & brain) > 100:
        region = wm_mask & brain
    else:
        region = brain & (depth_mm(brain, spacing_kji) >= D.NAWM_MIN_DEPTH_MM)
        if np.count_nonzero(region) < 100:
            region = brain
    values = flair[region]
    # drop the CSF tail before the mode so that large ventricles cannot win
    values = values[values > D.NAWM_CSF_CUT_FRACTION * np.median(values)]
    return histogram_mode(values)


def grow_lesions(normalised: np.ndarray, brain: np.ndarray, spacing_kji,
                 seed_threshold: float = D.SEED_THRESHOLD, grow_threshold: float = D.GROW_THRESHOLD,
                 max_steps: int = D.GROW_MAX_STEPS, seed_min_depth_mm: float = D.SEED_MIN_DEPTH_MM,
                 connectivity: int = DEFAULT_CONNECTIVITY) -> np.ndarray:
    """Lesion mask from normalised FLAIR (NAWM = 1): seeds above ``seed_threshold`` at least
    ``seed_min_depth_mm`` inside the brain, grown for up to ``max_steps`` voxel steps
    through brain voxels above ``grow_threshold`` (geodesic dilation)."""
    seeds = brain & (normalised > seed_threshold)
    if seed_min_depth_mm > 0:
        seeds &= depth_mm(brain, spacing_kji) >= seed_min_depth_mm
    allowed = brain & (normalised > grow_threshold)
    if not seeds.any() or max_steps <= 0:
        return seeds
    return ndimage.binary_dilation(seeds, structure=structuring_element(connectivity),
                                   iterations=max_steps, mask=allowed)


def segment_flair(flair: sitk.Image, brain_mask: sitk.Image | None = None, t1: sitk.Image | None = None,
                  anatomy: sitk.Image | None = None, bias_correction: bool = True,
                  seed_threshold: float = D.SEED_THRESHOLD, grow_threshold: float = D.GROW_THRESHOLD,
                  max_steps: int = D.GROW_MAX_STEPS, connectivity: int = DEFAULT_CONNECTIVITY,
                  progress=None) -> Segmentation:
    """Segment FLAIR-hyperintense lesions; returns a :class:`Segmentation` (lesion mask not yet labeled).

    ``brain_mask`` (UInt8) is used when given, else estimated from T1 (when given) or FLAIR.
    ``anatomy`` (aseg values) gives the WM used for NAWM normalisation when given. All
    images must share the FLAIR grid (``check_same_geometry``). ``progress(fraction, text)``
    is called between steps when given.
    """
    report = progress or (lambda fraction, text: None)
    for other, name in ((brain_mask, "brain mask"), (t1, "T1"), (anatomy, "anatomy")):
        if other is not None:
            check_same_geometry(flair, other, names=("FLAIR", name))
    spacing = flair.GetSpacing()[::-1]
    report(0.05, "brain mask")
    if brain_mask is not None:
        brain = sitk.GetArrayFromImage(brain_mask) != 0
        if not brain.any():
            raise InputError("brain mask", "is empty (no non-zero voxel)")
        estimated = False
    else:
        brain = estimate_brain_mask(t1 if t1 is not None else flair)
        estimated = True
    image = flair
    if bias_correction:
        report(0.15, "N4 bias field correction")
        image = n4_correct(flair, brain)
    report(0.6, "NAWM normalisation")
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    wm = None
    if anatomy is not None:
        wm = np.isin(sitk.GetArrayViewFromImage(anatomy), WHITE_MATTER_LABELS)
    nawm = nawm_intensity(array, brain, spacing, wm)
    if not np.isfinite(nawm) or nawm <= 0:
        raise InputError("FLAIR", f"normal-appearing white matter intensity is {nawm:.4g}; is this a FLAIR image?")
    normalised = array / np.float32(nawm)
    if D.SEGMENT_SMOOTHING_MM > 0:
        normalised = ndimage.gaussian_filter(normalised, [D.SEGMENT_SMOOTHING_MM / s for s in spacing])
    report(0.7, "hyperintensity threshold and lesion growth")
    mask = grow_lesions(normalised, brain, spacing, seed_threshold, grow_threshold, max_steps,
                        connectivity=connectivity)
    report(0.9, "segmentation done")
    return Segmentation(mask=mask, normalised_flair=normalised, brain_mask=brain, nawm=float(nawm),
                        brain_mask_estimated=estimated)
