"""Brain extraction of a whole-head (or skull-stripped) T1: brain and intracranial masks.

Default, ``method="template"``: the MNI152 2009 template (brain-only T1 and its
intracranial mask, :mod:`.template`) is registered to the T1 with SimpleITK, a
multi-start similarity search at 6 mm then a 12-parameter affine fit at 2 mm
(:func:`mspathobiology.registration.register_affine`), and its intracranial mask is
mapped onto the T1 grid: that is the **ICV mask** (brain, ventricles and the CSF around
the brain inside the template's skull-bounded mask; the atlas-based ICV of Buckner et al.,
NeuroImage 2004, which FreeSurfer's eTIV also uses). The **brain mask** (BET-style: GM, WM
and the CSF enclosed by the outer GM surface) is that mask refined on the subject's own
intensities (``BRAIN_*`` defaults). Template-based extraction is what ANTs/ROBEX-style
tools do (Iglesias et al., IEEE TMI 2011); deepbet (Fisch et al. 2024) would need torch,
which Slicer's Python does not have.

``method="threshold"``: the classical "threshold, erode, keep the largest component,
dilate back" extraction (Brummer et al., IEEE TMI 1993), for skull-stripped or synthetic
images on which a human template does not fit:

1. head = Otsu foreground;
2. a 3-class mixture inside the head separates dark (CSF, bone, air) from tissue;
3. tissue voxels are closed by ``BET_CLOSING_MM``, eroded by ``BET_EROSION_MM`` to cut
   the thin bridges to the scalp, the largest component is kept and grown back;
4. holes (ventricles) are filled -> brain mask;
5. a closing by ``ICV_CLOSING_MM`` and hole filling adds sulcal and ventricular CSF -> ICV.

Arrays are numpy [k, j, i]; radii are in mm, honouring anisotropic spacing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..connectivity import connected_components
from ..defaults.atrophy import (BET_CLOSING_MM, BET_EROSION_MM, BRAIN_CORE_MM, BRAIN_EDGE_REACH_MM,
                                BRAIN_EDGE_SMOOTHING_MM, BRAIN_EDGE_TISSUE_FRACTION, BRAIN_EXTRACTION_METHOD,
                                BRAIN_EXTRACTION_METHODS, ICV_CLOSING_MM, ICV_CSF_SEARCH_MM,
                                ICV_MIN_VENTRICLE_VOXELS, ICV_SKULL_PERCENTILE, TEMPLATE_COARSE_MM,
                                TEMPLATE_FINE_MM, TEMPLATE_MASK_DILATION_MM, TEMPLATE_MIN_CORRELATION, TEMPLATE_START_OFFSETS_MM,
                                TEMPLATE_START_SCALES, TEMPLATE_TOP_TO_CENTRE_MM)
from ..errors import InputError
from ..geometry import image_like, voxel_volume_mm3
from .tissue import fit_mixture


def signed_distance_mm(mask: np.ndarray, spacing_kji) -> np.ndarray:
    """Signed Euclidean distance (mm) to the edge of a boolean [k, j, i] mask: < 0 inside, > 0 outside
    (SimpleITK's multi-threaded Maurer transform)."""
    image = sitk.GetImageFromArray(np.asarray(mask, dtype=np.uint8))
    image.SetSpacing(tuple(float(s) for s in spacing_kji[::-1]))
    distance = sitk.SignedMaurerDistanceMap(image, insideIsPositive=False, squaredDistance=False,
                                            useImageSpacing=True)
    return sitk.GetArrayFromImage(distance)


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


def fill_holes_slicewise(mask):
    """Union over the three axes of 2-D hole filling: the scalp is a closed ring in most
    slices even where the head is open at the neck or the field of view."""
    out = ndimage.binary_fill_holes(mask)
    for axis in range(3):
        structure = np.zeros((3, 3, 3), dtype=bool)
        index = [slice(None)] * 3
        index[axis] = 1
        structure[tuple(index)] = ndimage.generate_binary_structure(2, 1)
        out |= ndimage.binary_fill_holes(mask, structure=structure)
    return out


@dataclass
class BrainExtraction:
    """Brain and intracranial masks (uint8 images on the input grid) and how they were made.

    ``method`` names the method ("template: MNI152 2009 ...", "threshold", "given mask",
    or "<method> on the T1, registered rigidly"); ``details`` is JSON-able (volumes in mL,
    registration metric, template-to-subject scale).
    """

    mask: sitk.Image
    icv: sitk.Image
    method: str
    details: dict = field(default_factory=dict)

    def brain_array(self) -> np.ndarray:
        """Brain mask as a boolean array [k, j, i]."""
        return sitk.GetArrayFromImage(self.mask) > 0

    def icv_array(self) -> np.ndarray:
        """Intracranial mask as a boolean array [k, j, i]."""
        return sitk.GetArrayFromImage(self.icv) > 0

    def summary(self) -> dict:
        """JSON-able description: method, brain and ICV volumes (mL), details."""
        vox = voxel_volume_mm3(self.mask) / 1000.0
        return {"brain_extraction_method": self.method,
                "brain_mask_ml": float(self.brain_array().sum() * vox),
                "icv_mask_ml": float(self.icv_array().sum() * vox), **self.details}


def extract_brain(t1: sitk.Image, method: str = BRAIN_EXTRACTION_METHOD,
                  target: sitk.Image | None = None) -> BrainExtraction:
    """Brain and intracranial masks of a T1 (whole head or skull-stripped).

    ``method``: "template" (default) or "threshold" (module docstring). An earlier extraction
    of the same T1 content by the same code is reused (:mod:`.brain_cache`; the method text
    then names the file it came from). With ``target``
    (e.g. a FLAIR of the same session on its own grid), the masks are carried onto the
    target's grid by a rigid T1 -> target registration (Mattes mutual information); a
    FLAIR alone cannot be extracted: give its T1 or a brain mask.
    """
    from ..io import validate_image
    from .brain_cache import cached_extraction

    t1 = validate_image(t1, "intensity", "t1")
    if method not in BRAIN_EXTRACTION_METHODS:
        raise InputError("brain extraction method", f"must be one of {BRAIN_EXTRACTION_METHODS}, not {method!r}")
    result = cached_extraction(t1, method, lambda image: _extract(image, method))
    if target is not None:
        result = _carry_to(result, t1, validate_image(target, "intensity", "target"))
    return result


def _extract(t1: sitk.Image, method: str) -> BrainExtraction:
    array = sitk.GetArrayFromImage(t1).astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError("t1", "contains NaN or infinite values; cannot extract the brain")
    result = _extract_template(t1, array) if method == "template" else None
    if result is None or not _fits(result):
        brain, icv = _extract_threshold(t1, array)
        why = "" if result is None else (f" (the MNI152 template fitted poorly: correlation "
                                         f"{result.details['registration_correlation']:.2f} < {TEMPLATE_MIN_CORRELATION})")
        result = BrainExtraction(image_like(brain.astype(np.uint8), t1), image_like(icv.astype(np.uint8), t1),
                                 "threshold: Otsu head, 3-class mixture, erode / largest component / dilate" + why,
                                 {"icv_definition": f"brain mask closed by {ICV_CLOSING_MM} mm, inside the head"})
    return result


def _fits(result: BrainExtraction) -> bool:
    return result.details["registration_correlation"] >= TEMPLATE_MIN_CORRELATION


def template_fit(t1: sitk.Image) -> BrainExtraction | None:
    """The template extraction of ``t1`` when the MNI152 template fits it, else None (no fallback).
    Shares :func:`extract_brain`'s reuse of an earlier extraction of the same T1."""
    try:
        result = extract_brain(t1, method="template")
    except InputError:
        return None
    return result if result.method.startswith("template") else None


def _carry_to(result: BrainExtraction, t1: sitk.Image, target: sitk.Image) -> BrainExtraction:
    from ..registration import register_rigid

    transform = register_rigid(target, t1, metric="mattes")

    def move(mask):
        return sitk.Resample(mask, target, transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)

    details = dict(result.details)
    details["registered_to_target"] = "rigid, Mattes mutual information (T1 -> target)"
    return BrainExtraction(move(result.mask), move(result.icv), result.method + "; on the T1, registered rigidly",
                           details)


def _physical_points(image: sitk.Image, mask: np.ndarray, step: int = 1) -> np.ndarray:
    kji = np.argwhere(mask)[::step].astype(np.float64)
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    spacing = np.asarray(image.GetSpacing())
    return (kji[:, ::-1] * spacing) @ direction.T + np.asarray(image.GetOrigin())


def _starts(subject: sitk.Image, template_icv: sitk.Image) -> list:
    """Similarity starts template -> subject: brain centre guessed from the top of the head (LPS z is superior)."""
    head = sitk.GetArrayFromImage(sitk.OtsuThreshold(subject, 0, 1)) > 0
    if head.sum() < 20:
        raise InputError("t1", "has no clear foreground (Otsu); is the image blank?")
    points = _physical_points(subject, head)
    top = float(np.percentile(points[:, 2], 99.5))
    upper = points[points[:, 2] > top - 2 * TEMPLATE_TOP_TO_CENTRE_MM]
    centre_xy = upper[:, :2].mean(axis=0)
    tpoints = _physical_points(template_icv, sitk.GetArrayFromImage(template_icv) > 0.5)
    centre = tpoints.mean(axis=0)
    starts = []
    for scale in (1.0,) + tuple(TEMPLATE_START_SCALES):
        for dz in TEMPLATE_START_OFFSETS_MM:
            for dy in TEMPLATE_START_OFFSETS_MM:
                guess = np.array([centre_xy[0], centre_xy[1] + dy, top - TEMPLATE_TOP_TO_CENTRE_MM * scale + dz])
                transform = sitk.Similarity3DTransform()
                transform.SetCenter(tuple(float(c) for c in centre))
                transform.SetScale(scale)
                transform.SetTranslation(tuple(float(c) for c in guess - centre))
                starts.append(transform)
    return starts


def _dilated_mask(image: sitk.Image, radius_mm: float) -> sitk.Image:
    distance = sitk.SignedMaurerDistanceMap(sitk.Cast(image > 0.5, sitk.sitkUInt8), insideIsPositive=False,
                                            squaredDistance=False, useImageSpacing=True)
    return sitk.Cast(distance <= radius_mm, sitk.sitkUInt8)


def register_template(t1: sitk.Image) -> tuple[sitk.AffineTransform, float]:
    """Affine transform mapping MNI152 template points to ``t1`` points (LPS mm), and its correlation metric."""
    from ..registration import register_affine
    from .template import load_template, resample_to_spacing

    coarse, fine = load_template(TEMPLATE_COARSE_MM), load_template(TEMPLATE_FINE_MM)
    subject_coarse = resample_to_spacing(t1, TEMPLATE_COARSE_MM)
    subject_fine = resample_to_spacing(t1, TEMPLATE_FINE_MM)
    starts = _starts(subject_coarse, coarse["icv"])
    return register_affine(fine["t1"], subject_fine, _dilated_mask(fine["icv"], TEMPLATE_MASK_DILATION_MM), starts,
                           coarse_fixed=coarse["t1"], coarse_moving=subject_coarse,
                           coarse_mask=_dilated_mask(coarse["icv"], TEMPLATE_MASK_DILATION_MM))


def _extract_template(t1: sitk.Image, array: np.ndarray) -> BrainExtraction:
    from .template import load_template
    from .tissue import fit_partial_volume_mixture

    try:
        transform, metric = register_template(t1)
    except RuntimeError as exc:
        raise InputError("t1", f"the MNI152 template could not be registered to it ({exc}); "
                         "is it a T1-weighted head image? Give a brain mask instead") from None
    icv_image = sitk.Resample(load_template(1.0)["icv"], t1, transform.GetInverse(), sitk.sitkLinear, 0.0,
                              sitk.sitkFloat32)
    icv = sitk.GetArrayFromImage(icv_image) > 0.5
    if icv.sum() < 100:
        raise InputError("t1", "the registered MNI152 template covers almost no voxel of this image; "
                         "is it a T1-weighted head image? Give a brain mask instead")
    spacing = tuple(float(s) for s in t1.GetSpacing()[::-1])
    margin = [int(np.ceil(BRAIN_EDGE_REACH_MM / s)) + 2 for s in spacing]
    box = tuple(slice(max(int(i.min()) - m, 0), int(i.max()) + m + 1) for i, m in zip(np.nonzero(icv), margin))
    distance = signed_distance_mm(icv[box], spacing)
    core = distance < -BRAIN_CORE_MM
    mu = fit_partial_volume_mixture(array[icv])["means"][:, 0]
    threshold = mu[0] + BRAIN_EDGE_TISSUE_FRACTION * (mu[1] - mu[0])
    smooth = ndimage.gaussian_filter(array[box], [BRAIN_EDGE_SMOOTHING_MM / s for s in spacing])
    candidate = core | ((smooth > threshold) & (distance <= BRAIN_EDGE_REACH_MM))
    labels, _ = connected_components(candidate, connectivity=6)
    keep = np.unique(labels[core])
    brain = np.zeros_like(icv)
    brain[box] = _fill_holes(np.isin(labels, keep[keep > 0]) | core)
    icv |= brain
    matrix = np.asarray(transform.GetMatrix()).reshape(3, 3)
    details = {"template": "MNI152 ICBM 2009a nonlinear symmetric (nilearn)",
               "registration": "multi-start similarity (6 mm) + affine (2 mm), correlation",
               "registration_correlation": float(-metric),
               "template_to_subject_volume_scale": float(np.linalg.det(matrix)),
               "icv_definition": "MNI152 2009 intracranial mask (template T1 > 0: brain, ventricles, sulcal and "
                                 "most subarachnoid CSF) mapped by the affine, joined with the brain mask "
                                 "(atlas-based ICV, Buckner et al., NeuroImage 2004)"}
    if -metric < 0.3:
        details["warning"] = "low template correlation: check the brain mask"
    return BrainExtraction(image_like(brain.astype(np.uint8), t1), image_like(icv.astype(np.uint8), t1),
                           "template: MNI152 2009 registered (affine, SimpleITK) and refined on the T1 intensities",
                           details)


def _extract_threshold(t1: sitk.Image, array: np.ndarray, erosion_mm: float = BET_EROSION_MM,
                       closing_mm: float = ICV_CLOSING_MM) -> tuple[np.ndarray, np.ndarray]:
    """Return (brain, intracranial) boolean arrays [k, j, i] on ``t1``'s grid (classical method)."""
    spacing = tuple(float(s) for s in t1.GetSpacing()[::-1])
    head = sitk.GetArrayFromImage(sitk.OtsuThreshold(t1, 0, 1)).astype(bool)
    if head.sum() < 1000:
        raise InputError("t1", "has no clear foreground (Otsu found < 1000 head voxels); is the image blank?")
    head = _largest(fill_holes_slicewise(head))  # the scalp ring encloses skull, CSF and brain
    model = fit_mixture(array[head])
    mu = model["means"][:, 0]
    tissue = head & (array > 0.5 * (mu[0] + mu[1]))
    closed = _erode(_dilate(tissue, BET_CLOSING_MM, spacing), BET_CLOSING_MM, spacing) | tissue
    core = _largest(_erode(closed, erosion_mm, spacing))
    if not core.any():
        raise InputError("t1", f"no brain left after a {erosion_mm} mm erosion; is the image a brain T1?")
    brain = _dilate(core, erosion_mm + max(spacing), spacing) & closed & tissue
    brain = _fill_holes(_largest(brain))
    icv = _erode(_dilate(brain, closing_mm, spacing), closing_mm, spacing) | brain
    icv = _fill_holes(icv) & head
    return brain, icv


def estimate_icv(t1: np.ndarray, brain: np.ndarray, spacing_kji, search_mm: float = ICV_CSF_SEARCH_MM) -> np.ndarray:
    """Intracranial mask [k, j, i] from a brain (GM + WM) mask: brain, its holes, and CSF around it.

    The CSF mean is the median of the eroded holes of the brain mask (ventricles), or the
    CSF class of :func:`.tissue.fit_partial_volume_mixture` when there are none; the
    skull level is the histogram mode of the ``search_mm`` shell voxels darker than CSF;
    shell voxels brighter than the skull/CSF midpoint that connect to the brain are CSF
    (skull is darker than CSF on T1; SIENAX, Smith et al. 2002, also bounds the ICV by
    the skull). Without ventricles in the mask, a 3-class mixture of the shell gives the
    skull and CSF levels instead. The mask is closed by hole filling.
    """
    from .tissue import fit_partial_volume_mixture

    brain = np.asarray(brain, dtype=bool)
    filled = _fill_holes(brain)
    model = fit_partial_volume_mixture(t1[filled])
    mu_csf = float(model["means"][0, 0])
    ventricles = ndimage.binary_erosion(filled & ~brain, iterations=1)
    has_ventricles = bool(ventricles.sum() >= ICV_MIN_VENTRICLE_VOXELS)
    if has_ventricles:   # pure CSF: the core of the brain's holes
        mu_csf = float(np.median(t1[ventricles]))
    shell = _dilate(filled, search_mm, spacing_kji) & ~filled
    if not shell.any():
        return filled
    smooth = ndimage.gaussian_filter(t1.astype(np.float32), 0.5)
    values = smooth[shell]
    if not has_ventricles and values.size >= 100:   # no pure CSF in the mask: skull / CSF / rest in the shell
        means = fit_mixture(values, n_classes=3)["means"][:, 0]
        threshold = float(0.5 * (means[0] + means[1]))
    else:
        values = values[values < mu_csf]
        if values.size >= 50:   # skull level: mode of the shell voxels darker than CSF
            counts, edges = np.histogram(values, bins=64)
            counts = ndimage.gaussian_filter1d(counts.astype(float), 2.0)
            dark = float(0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1]))
        else:
            dark = float(np.percentile(smooth[shell], ICV_SKULL_PERCENTILE))
        threshold = 0.5 * (min(dark, mu_csf) + mu_csf)
    csf = shell & (smooth > threshold)
    labels, _ = connected_components(csf | filled, connectivity=6)
    keep = np.unique(labels[filled])
    keep = keep[keep > 0]
    icv = np.isin(labels, keep) | filled
    return _fill_holes(icv)
