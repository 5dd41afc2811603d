"""Classical brain extraction on a T1 when no brain mask is given.

Intensity threshold + morphology, in the spirit of the pre-BET "threshold, erode,
keep the largest component, dilate back" tools (Brummer et al., IEEE TMI 1993;
Smith, Hum Brain Mapp 2002 reviews them):

1. head = Otsu foreground;
2. a 3-class mixture inside the head separates dark (CSF, bone, air) from tissue;
3. tissue voxels are closed by ``BET_CLOSING_MM`` (bridging sulci and the fissure,
   not the >= 7 mm of CSF + skull), eroded by ``BET_EROSION_MM`` to cut the thin
   bridges to the scalp, the largest component is kept and grown back inside the tissue;
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
from ..defaults.atrophy import (BET_CLOSING_MM, BET_EROSION_MM, ICV_CLOSING_MM, ICV_CSF_SEARCH_MM,
                                ICV_MIN_VENTRICLE_VOXELS, ICV_SKULL_PERCENTILE)
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


def _fill_holes_slicewise(mask):
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
    head = _largest(_fill_holes_slicewise(head))  # the scalp ring encloses skull, CSF and brain
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
