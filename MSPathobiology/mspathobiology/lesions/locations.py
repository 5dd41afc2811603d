"""Lesion locations (periventricular, infratentorial, cortical, juxtacortical, deep WM) and
dissemination in space.

Rule (after LST-AI v2, Wiltgen et al., NeuroImage Clin 2024): each lesion is dilated by one
voxel with the project's connectivity, and the anatomy it touches decides its class, with
priority periventricular > infratentorial > juxtacortical > deep white matter. Lesion
voxels are treated as white matter first (so a lesion voxel mislabelled cortex cannot make
a lesion juxtacortical) and deep grey matter counts as white matter. A lesion with most of
its voxels in cortex is cortical (not separated by LST-AI; McDonald 2017 groups it with
juxtacortical). Anatomy comes from a FreeSurfer aseg / SynthSeg labelmap (same label
values) or from :func:`estimate_anatomy_classes`.
"""

from __future__ import annotations


import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..connectivity import connected_components, structuring_element
from ..defaults.common import DEFAULT_CONNECTIVITY
from ..defaults.lesions import (CORTEX_DEPTH_MM, CORTEX_MIN_NORMALISED_FLAIR, CORTEX_SEARCH_MM,
                                CORTICAL_MIN_FRACTION, CSF_MAX_NORMALISED_FLAIR,
                                INFRATENTORIAL_HEIGHT_FRACTION, INFRATENTORIAL_MIN_FRACTION,
                                LOCATION_DILATION_VOXELS, VENTRICLE_MIN_DEPTH_MM)
from ..geometry import kji_to_ras_points
from ..lesion_table import LOCATIONS
from .measure import group_voxels

#: FreeSurfer aseg / SynthSeg label values (FreeSurferColorLUT.txt).
VENTRICLE_LABELS = (4, 5, 43, 44, 31, 63)            # lateral + inferior lateral ventricles, choroid plexus
CORTEX_LABELS = (3, 42, 17, 18, 53, 54)             # cerebral cortex, hippocampus, amygdala
INFRATENTORIAL_LABELS = (7, 8, 46, 47, 16, 15)      # cerebellum WM/cortex, brain stem, 4th ventricle
WHITE_MATTER_LABELS = (2, 41, 77, 78, 79, 85, 251, 252, 253, 254, 255)
DEEP_GREY_LABELS = (9, 10, 11, 12, 13, 26, 28, 48, 49, 50, 51, 52, 58, 60)


def anatomy_classes(anatomy: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks ``ventricle``, ``cortex``, ``infratentorial`` from an aseg/SynthSeg array."""
    anatomy = np.asarray(anatomy)
    return {"ventricle": np.isin(anatomy, VENTRICLE_LABELS), "cortex": np.isin(anatomy, CORTEX_LABELS),
            "infratentorial": np.isin(anatomy, INFRATENTORIAL_LABELS)}


def estimate_anatomy_classes(brain_mask: np.ndarray, normalised_flair: np.ndarray, reference: sitk.Image,
                             lesions: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Own estimate of ventricles, cortex and the infratentorial region, without a labelmap.

    - CSF: brain voxels darker than ``CSF_MAX_NORMALISED_FLAIR`` x NAWM (CSF is nulled on FLAIR).
    - Ventricles: CSF components reaching ``VENTRICLE_MIN_DEPTH_MM`` below the brain surface,
      outside the infratentorial region (the 4th ventricle is not periventricular).
    - Cortex: non-CSF brain within ``CORTEX_SEARCH_MM`` of the outside or of sulcal CSF
      (CSF components within ``CORTEX_DEPTH_MM`` of the surface) that is grey-matter bright
      on FLAIR (>= ``CORTEX_MIN_NORMALISED_FLAIR``) or on the outer voxel layer; lesion voxels
      count as cortex within ``CORTEX_DEPTH_MM`` of the outside (for the cortical rule).
    - Infratentorial: brain voxels in the lowest ``INFRATENTORIAL_HEIGHT_FRACTION`` of the
      brain's superior-inferior (RAS S) extent and posterior to its antero-posterior centre.
      This assumes a roughly upright head; give an anatomy labelmap for reliable classes.

    Arrays are [k, j, i] on ``reference``'s grid; ``lesions`` (optional) are excluded from CSF.
    """
    from .segment import depth_mm

    brain = np.asarray(brain_mask) != 0
    spacing = reference.GetSpacing()[::-1]
    depth = depth_mm(brain, spacing)
    csf = brain & (np.asarray(normalised_flair) < CSF_MAX_NORMALISED_FLAIR)
    if lesions is not None:
        csf &= np.asarray(lesions) == 0
    comps, count = connected_components(csf, DEFAULT_CONNECTIVITY)
    in_csf = comps > 0   # per-component deepest and shallowest voxel (index 0: background), no sort
    max_depth = np.zeros(count + 1)
    np.maximum.at(max_depth, comps[in_csf], depth[in_csf])
    min_depth = np.full(count + 1, np.inf)
    np.minimum.at(min_depth, comps[in_csf], depth[in_csf])
    kji = np.argwhere(brain)
    infratentorial = np.zeros_like(brain)
    if kji.size:
        ras = kji_to_ras_points(reference, kji)
        s_lo, s_hi = np.percentile(ras[:, 2], [0.5, 99.5])
        a_mid = float(np.median(ras[:, 1]))
        inside = (ras[:, 2] < s_lo + INFRATENTORIAL_HEIGHT_FRACTION * (s_hi - s_lo)) & (ras[:, 1] < a_mid)
        infratentorial[tuple(kji[inside].T)] = True

    in_infra = ndimage.mean(infratentorial, comps, index=np.arange(1, count + 1)) if count else np.zeros(0)
    in_infra = np.concatenate([[0.0], np.asarray(in_infra, dtype=float)])
    ventricle = ((max_depth >= VENTRICLE_MIN_DEPTH_MM) & (in_infra < 0.5))[comps] & csf
    sulcal = ((min_depth <= CORTEX_DEPTH_MM) & (max_depth < VENTRICLE_MIN_DEPTH_MM))[comps] & csf
    to_outside = ndimage.distance_transform_edt(~(~brain | sulcal), sampling=spacing)
    grey = np.asarray(normalised_flair) >= CORTEX_MIN_NORMALISED_FLAIR
    band = to_outside <= CORTEX_DEPTH_MM
    if lesions is not None:  # lesion voxels count as cortex only inside the cortical band
        lesion = np.asarray(lesions) != 0
        grey = (grey & ~lesion) | (lesion & band)
    cortex = brain & ~csf & (to_outside <= CORTEX_SEARCH_MM) & (grey | (to_outside <= min(spacing) * 1.01))
    return {"ventricle": ventricle, "cortex": cortex & ~infratentorial, "infratentorial": infratentorial}


def _touches(mask: np.ndarray, kji: np.ndarray, connectivity: int, iterations: int) -> np.ndarray:
    """Per voxel of ``kji``: does ``mask`` hold any voxel within the dilation neighbourhood?"""
    element = structuring_element(connectivity)
    if iterations > 1:
        element = ndimage.iterate_structure(element, iterations)
    centre = np.array(element.shape) // 2
    offsets = np.argwhere(element) - centre
    shape = np.array(mask.shape)
    hit = np.zeros(len(kji), dtype=bool)
    for offset in offsets:
        pos = kji + offset
        valid = np.all((pos >= 0) & (pos < shape), axis=1)
        hit[valid] |= mask[tuple(pos[valid].T)]
    return hit


def classify_locations(labels: np.ndarray, classes: dict[str, np.ndarray],
                       connectivity: int = DEFAULT_CONNECTIVITY,
                       dilation_voxels: int = LOCATION_DILATION_VOXELS) -> dict[int, str]:
    """Location of each lesion: {id: one of lesion_table.LOCATIONS}.

    ``labels``: lesion ids [k, j, i]; ``classes``: boolean masks ``ventricle``, ``cortex``,
    ``infratentorial`` on the same grid (from :func:`anatomy_classes` or
    :func:`estimate_anatomy_classes`). Priority periventricular > infratentorial > cortical
    (at least ``CORTICAL_MIN_FRACTION`` of its voxels in cortex) > juxtacortical > deep WM.
    """
    labels = np.asarray(labels)
    for name in ("ventricle", "cortex", "infratentorial"):
        if classes[name].shape != labels.shape:
            raise ValueError(f"class mask {name} has shape {classes[name].shape}, labels {labels.shape}")
    ids, starts, kji = group_voxels(labels)
    if ids.size == 0:
        return {}
    lesion = labels != 0
    ventricle = classes["ventricle"] & ~lesion
    cortex_wm_first = classes["cortex"] & ~lesion
    counts = np.diff(starts)
    seg = starts[:-1]

    def per_lesion_any(flags):
        return np.add.reduceat(flags.astype(np.int64), seg) > 0

    def per_lesion_fraction(flags):
        return np.add.reduceat(flags.astype(np.int64), seg) / counts

    touch_v = per_lesion_any(_touches(ventricle, kji, connectivity, dilation_voxels))
    touch_i = per_lesion_any(_touches(classes["infratentorial"], kji, connectivity, dilation_voxels))
    frac_i = per_lesion_fraction(classes["infratentorial"][tuple(kji.T)])
    frac_c = per_lesion_fraction(classes["cortex"][tuple(kji.T)])
    touch_c = per_lesion_any(_touches(cortex_wm_first, kji, connectivity, dilation_voxels))

    names = np.full(ids.size, "deep_white_matter", dtype=object)
    names[touch_c] = "juxtacortical"
    names[frac_c >= CORTICAL_MIN_FRACTION] = "cortical"
    names[touch_i | (frac_i > INFRATENTORIAL_MIN_FRACTION)] = "infratentorial"
    names[touch_v] = "periventricular"
    return {int(i): str(n) for i, n in zip(ids, names)}


def summarise(rows: list[dict]) -> dict:
    """Flat summary of a lesion table: count, volume (mm^3), count and volume per location,
    McDonald-countable and enhancing counts."""
    out = {"lesion_count": len(rows), "lesion_volume_mm3": float(sum(r["volume_mm3"] for r in rows))}
    for name in LOCATIONS:
        sel = [r for r in rows if r.get("location") == name]
        out[f"lesion_count_{name}"] = len(sel)
        out[f"lesion_volume_mm3_{name}"] = float(sum(r["volume_mm3"] for r in sel))
    out["lesion_count_mcdonald"] = sum(1 for r in rows if r.get("mcdonald_countable"))
    enhancing = [r.get("enhancing") for r in rows]
    out["lesion_count_enhancing"] = None if rows and all(e is None for e in enhancing) else sum(1 for e in enhancing if e)
    return out


#: McDonald 2017 DIS areas (Thompson et al., Lancet Neurol 2018) and the table locations they count.
DIS_AREAS_2017 = {
    "periventricular": ("periventricular",),
    "cortical_juxtacortical": ("cortical", "juxtacortical"),
    "infratentorial": ("infratentorial",),
    "spinal_cord": (),
}
#: The 2024 revision adds the optic nerve as a fifth area (Montalban et al., Lancet Neurol 2025).
DIS_AREAS_2024 = dict(DIS_AREAS_2017, optic_nerve=())


def dissemination_in_space(rows: list[dict], spinal_cord_lesions: int | None = None,
                           optic_nerve_lesions: int | None = None) -> dict:
    """Dissemination in space from a lesion table (brain MRI) plus optional counts of
    spinal cord and optic nerve lesions (not imaged here: ``None`` = not assessed).

    McDonald 2017 (Thompson et al., Lancet Neurol 2018): >= 1 T2 lesion in >= 2 of 4 areas
    (periventricular, cortical/juxtacortical, infratentorial, spinal cord). Revision 2024
    (Montalban et al., Lancet Neurol 2025): >= 1 lesion in >= 2 of 5 areas (adds the optic
    nerve); its alternatives with one area plus supporting markers (central vein sign,
    paramagnetic rim lesions, CSF) are not decided here. Only lesions with
    ``mcdonald_countable`` True (long axis >= 3 mm) are counted: a lesion whose countability
    is unknown (None or missing, e.g. a table from elsewhere without lengths) does not count,
    and ``dis_lesions_countability_unknown`` says how many there were. A ``False`` with
    unassessed areas means "not shown on the data given".
    """
    countable = [r for r in rows if r.get("mcdonald_countable") is True]
    extra = {"spinal_cord": spinal_cord_lesions, "optic_nerve": optic_nerve_lesions}
    result = {"dis_lesions_countability_unknown": sum(1 for r in rows if r.get("mcdonald_countable") is None)}
    for year, areas in (("2017", DIS_AREAS_2017), ("2024", DIS_AREAS_2024)):
        involved, unassessed = [], []
        for area, locs in areas.items():
            if locs:
                n = sum(1 for r in countable if r.get("location") in locs)
            else:
                n = extra[area]
                if n is None:
                    unassessed.append(area)
                    continue
            result[f"dis_{year}_count_{area}"] = int(n)
            if n > 0:
                involved.append(area)
        result[f"dis_{year}_areas"] = len(involved)
        result[f"dis_{year}_areas_involved"] = ",".join(involved)
        result[f"dis_{year}_areas_not_assessed"] = ",".join(unassessed)
        result[f"dis_{year}_met"] = len(involved) >= 2
    return result
