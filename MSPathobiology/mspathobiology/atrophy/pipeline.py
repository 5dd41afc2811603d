"""One-case analyses: ``run_case`` (tissue volumes, BPF, deep GM, regional table) and
``run_pbvc`` (percent brain volume change between two visits). The CLI commands
``mspathobiology atrophy`` and ``mspathobiology pbvc`` are thin wrappers around them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..defaults.atrophy import (CHANGE_OF_BASELINE_TISSUE, CHANGE_WITHIN_FIXED_REGION, ICV_CSF_SEARCH_MM,
                                LESION_TISSUE_LABEL,
                                N4_ITERATIONS, N4_SHRINK_TO_MM, PBVC_APPLY_CALIBRATION)
from ..errors import InputError
from ..geometry import check_same_geometry, image_like, voxel_volume_mm3
from ..io import read_image, write_image, write_json
from ..tables import write_table
from .brain_extraction import _dilate as _dilate_mm
from .brain_extraction import estimate_icv, extract_brain
from .filling import fill_lesions
from .fractions import aseg_volumes_ml, bpf, head_size_scaling, normalised_by_icv
from .pbvc import compute_pbvc
from .regional import parcel_volumes
from .tissue import classify, tissue_volumes_ml

ATROPHY_JSON = "atrophy.json"
TISSUE_LABELS_FILE = "tissue_labels.nii.gz"
REGIONAL_FILE = "regional_volumes.tsv"
PBVC_JSON = "pbvc.json"
PBVC_MAP_FILE = "pbvc_edge_displacement_mm.nii.gz"
PBVC_REGIONAL_FILE = "pbvc_regional_change.tsv"


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


def _optional(images: dict, key: str, kind: str, reference: sitk.Image):
    path = images.get(key)
    if path is None:
        return None
    image = read_image(path, kind, name=key)
    check_same_geometry(image, reference, names=(key, "t1"))
    return image


def analyse_tissues(t1: sitk.Image, flair: sitk.Image | None = None, lesions: sitk.Image | None = None,
                    brain_mask: sitk.Image | None = None, anatomy: sitk.Image | None = None,
                    parcellation: sitk.Image | None = None, head_size: bool = False,
                    bias_correction: bool = True) -> dict:
    """Tissue volumes (mL), BPF, deep GM, regional rows and the tissue label image for one T1.

    Steps: brain/ICV masks (given brain mask + CSF shell, or classical extraction) ->
    N4 -> lesion filling with NAWM -> CSF/GM/WM mixture + MRF + partial volumes ->
    lesions counted on their own. With an aseg ``anatomy``, voxels of deep GM labels
    count as GM (their T1 lies between cortex and WM, which a 3-class model splits).
    """
    spacing = tuple(float(s) for s in t1.GetSpacing()[::-1])
    vox = voxel_volume_mm3(t1)
    array = sitk.GetArrayFromImage(t1).astype(np.float32)
    les = None if lesions is None else sitk.GetArrayFromImage(lesions) > 0
    if brain_mask is not None:
        brain = sitk.GetArrayFromImage(brain_mask) > 0
        if not brain.any():
            raise InputError("brain_mask", "is empty (no voxel inside)")
    else:
        brain, _ = extract_brain(t1)
    if les is not None:
        brain |= les
    if bias_correction:
        array = bias_correct(t1, _dilate_mm(brain, ICV_CSF_SEARCH_MM, spacing))
    icv = estimate_icv(array, brain, spacing)
    if les is not None and les.any():
        array = fill_lesions(array, les, brain, spacing)
    flair_arr = None if flair is None else sitk.GetArrayFromImage(flair).astype(np.float32)
    seg = classify(array, icv, flair=flair_arr)
    pv = seg["pv"]
    deep = None
    if anatomy is not None:
        from ..defaults.atrophy import ASEG_DEEP_GM
        deep = np.isin(sitk.GetArrayFromImage(anatomy), ASEG_DEEP_GM)
        pv[1][deep] += pv[2][deep]
        pv[2][deep] = 0.0
    volumes = tissue_volumes_ml(pv, vox, exclude=les)
    lesion_ml = float(les.sum() * vox / 1000.0) if les is not None else 0.0
    icv_ml = float(icv.sum() * vox / 1000.0)
    result = {"icv_ml": icv_ml, "gm_ml": volumes["gm_ml"], "wm_ml": volumes["wm_ml"], "csf_ml": volumes["csf_ml"],
              "lesion_ml": lesion_ml}
    result["brain_ml"] = result["gm_ml"] + result["wm_ml"] + lesion_ml
    result["bpf"] = bpf(result["gm_ml"], result["wm_ml"], lesion_ml, icv_ml)
    result.update(normalised_by_icv({k: result[k] for k in ("gm_ml", "wm_ml", "csf_ml", "lesion_ml", "brain_ml")},
                                    icv_ml))
    result["thalamus_ml"] = None
    result["deep_gm_ml"] = None
    if anatomy is not None:
        result.update(aseg_volumes_ml(sitk.GetArrayFromImage(anatomy), vox))
    if head_size:
        factor = head_size_scaling(t1, icv)
        result["head_size_scaling_factor"] = factor
        for key in ("gm_ml", "wm_ml", "csf_ml", "brain_ml", "lesion_ml"):
            result[key.replace("_ml", "_ml_normalised")] = result[key] * factor
    labels = seg["labels"].copy()
    if deep is not None:
        labels[deep & (labels == 3)] = 2
    if les is not None:
        labels[les] = LESION_TISSUE_LABEL
    result["class_means"] = [float(v) for v in seg["means"][:, 0]]
    regions = None
    if parcellation is not None:
        regions = parcel_volumes(sitk.GetArrayFromImage(parcellation), vox, pv=pv, lesions=les)
    return {"summary": result, "labels": image_like(labels, t1), "pv": pv, "regions": regions}


def run_case(images: dict, out_dir, **options) -> dict:
    """Cross-sectional atrophy measures of one case; writes atrophy.json, tissue labels, regional table.

    ``images`` maps BIDS keys to paths: ``t1`` (required), ``flair``, ``lesions``,
    ``brain_mask``, ``anatomy``, ``parcellation``. Options: ``head_size`` (bool, SIENAX
    scaling with the MNI152 template), ``bias_correction`` (bool, default True).
    Returns the flat summary (icv_ml, brain_ml, gm_ml, wm_ml, csf_ml, lesion_ml, bpf,
    thalamus_ml, deep_gm_ml, ...).
    """
    if "t1" not in images or images["t1"] is None:
        raise InputError("t1", "a T1-weighted image is required for atrophy measures")
    out_dir = Path(out_dir)
    t1 = read_image(images["t1"], "intensity", name="t1")
    res = analyse_tissues(
        t1, flair=_optional(images, "flair", "intensity", t1), lesions=_optional(images, "lesions", "mask", t1),
        brain_mask=_optional(images, "brain_mask", "mask", t1), anatomy=_optional(images, "anatomy", "label", t1),
        parcellation=_optional(images, "parcellation", "label", t1), head_size=bool(options.get("head_size", False)),
        bias_correction=bool(options.get("bias_correction", True)))
    summary = dict(res["summary"])
    write_image(sitk.Cast(res["labels"], sitk.sitkUInt8), out_dir / TISSUE_LABELS_FILE)
    files = {"tissue_labels": TISSUE_LABELS_FILE}
    if res["regions"] is not None:
        write_table(res["regions"], out_dir / REGIONAL_FILE)
        files["regional_volumes"] = REGIONAL_FILE
    document = dict(summary)
    document.update({"tissue_label_values": {"csf": 1, "gm": 2, "wm": 3, "lesion": LESION_TISSUE_LABEL},
                     "regional_change": "none (cross-sectional volumes)", "files": files,
                     "inputs": {k: str(v) for k, v in images.items() if v is not None}})
    write_json(out_dir / ATROPHY_JSON, document)
    return {k: v for k, v in summary.items() if not isinstance(v, (list, dict))}


def run_pbvc(baseline_t1, followup_t1, out_dir, baseline_mask=None, followup_mask=None, interval_years=None,
             baseline_lesions=None, followup_lesions=None, baseline_parcellation=None,
             calibrate: bool = PBVC_APPLY_CALIBRATION) -> dict:
    """PBVC between two T1 files; writes pbvc.json, the edge-displacement map (baseline grid, mm)
    and, with a baseline parcellation, the regional change table ("within a fixed region").

    Returns a flat dict: pbvc_percent, pbvc_annualised_percent_per_year (when the interval
    is given), calibration_factor, baseline_brain_ml, ...
    """
    out_dir = Path(out_dir)
    base = read_image(baseline_t1, "intensity", name="baseline")
    foll = read_image(followup_t1, "intensity", name="followup")
    read = lambda p, kind, name: None if p is None else read_image(p, kind, name=name)  # noqa: E731
    result = compute_pbvc(base, foll, read(baseline_mask, "mask", "baseline-mask"),
                          read(followup_mask, "mask", "followup-mask"), interval_years=interval_years,
                          baseline_lesions=read(baseline_lesions, "mask", "baseline-lesions"),
                          followup_lesions=read(followup_lesions, "mask", "followup-lesions"),
                          baseline_parcellation=read(baseline_parcellation, "label", "baseline-parcellation"),
                          calibrate=calibrate)
    write_image(result.pop("displacement_map"), out_dir / PBVC_MAP_FILE)
    files = {"edge_displacement_map": PBVC_MAP_FILE}
    regions = result.pop("regions", None)
    if regions is not None:
        write_table(regions, out_dir / PBVC_REGIONAL_FILE)
        files["regional_change"] = PBVC_REGIONAL_FILE
    document = dict(result)
    document["files"] = files
    document["map_meaning"] = ("edge displacement along the brain-edge normal in mm on the baseline grid; "
                               "negative = brain edge moved inward (atrophy)")
    document["regional_change_meaning"] = (f"regional values are change {CHANGE_WITHIN_FIXED_REGION} "
                                           f"(not change {CHANGE_OF_BASELINE_TISSUE})")
    document["inputs"] = {"baseline": str(baseline_t1), "followup": str(followup_t1)}
    write_json(out_dir / PBVC_JSON, document)
    return {k: v for k, v in result.items() if isinstance(v, (int, float, str, bool)) or v is None}
