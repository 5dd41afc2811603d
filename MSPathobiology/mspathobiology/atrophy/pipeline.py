"""One-case analyses. In memory: :func:`analyse` (tissue volumes, BPF, deep GM, regional
table) and :func:`analyse_pbvc` (percent brain volume change between two visits). On files:
``run_case`` and ``run_pbvc`` (read -> analyse -> write); the CLI commands
``mspathobiology atrophy`` and ``mspathobiology pbvc``, the cohort runner and the Slicer
module call only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..defaults.atrophy import (BRAIN_EXTRACTION_METHOD, CHANGE_OF_BASELINE_TISSUE, CHANGE_WITHIN_FIXED_REGION,
                                ICV_CSF_SEARCH_MM, LESION_TISSUE_LABEL,
                                PBVC_APPLY_CALIBRATION, TISSUE_FIT_SAMPLES)
from ..errors import InputError
from ..geometry import check_same_geometry, image_like, voxel_volume_mm3
from ..io import check_mask_coverage, read_image, validate_image, write_image, write_json
from ..tables import write_table
from .bias import bias_correct
from .brain_extraction import _dilate as _dilate_mm
from .brain_extraction import estimate_icv, extract_brain, template_fit
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
PBVC_BRAIN_MASK_FILE = "pbvc_baseline_brain_mask.nii.gz"


IMAGE_KEYS = ("t1", "flair", "lesions", "brain_mask", "anatomy", "parcellation")
_KINDS = {"t1": "intensity", "flair": "intensity", "lesions": "mask", "brain_mask": "mask", "anatomy": "label",
          "parcellation": "label"}
BRAIN_MASK_FILE = "brain_mask.nii.gz"
ICV_MASK_FILE = "icv_mask.nii.gz"


@dataclass
class AtrophyResult:
    """Result of :func:`analyse` (in memory; :func:`run_case` writes it). Images share the T1 grid."""
    tissue_labels: sitk.Image                 #: UInt8: 1 CSF, 2 GM, 3 WM, 4 lesion
    brain_mask: sitk.Image                    #: UInt8 brain mask used (given or made)
    icv_mask: sitk.Image                      #: UInt8 intracranial mask (the ICV)
    rows: list | None                         #: regional volume rows (with a parcellation)
    summary: dict                             #: volumes (mL), BPF, fractions, methods (JSON-able)
    pv: np.ndarray | None = field(default=None, repr=False)   #: (3, k, j, i) CSF/GM/WM fractions

    def summary_json(self) -> dict:
        return dict(self.summary)


@dataclass
class PbvcResult:
    """Result of :func:`analyse_pbvc`: the PBVC summary, the edge-displacement map and the baseline brain mask."""
    displacement_map: sitk.Image              #: Float32 mm on the baseline grid, - = atrophy
    brain_mask: sitk.Image                    #: UInt8 baseline brain mask used (given or made)
    rows: list | None                         #: regional change rows (with a baseline parcellation)
    summary: dict                             #: pbvc_percent, calibration, volumes (JSON-able)


def _image(images: dict, key: str, reference: sitk.Image | None):
    image = images.get(key)
    if image is None:
        return None
    if not isinstance(image, sitk.Image):
        raise InputError(key, f"must be a SimpleITK image in memory, not {type(image).__name__} "
                         "(run_case reads files)")
    image = validate_image(image, _KINDS[key], key)
    if reference is not None:
        check_same_geometry(image, reference, names=(key, "t1"))
    return image


def analyse(images: dict, head_size: bool = False, bias_correction: bool = True,
            brain_extraction: str = BRAIN_EXTRACTION_METHOD, template_icv: bool = True,
            fit_samples: int | None = TISSUE_FIT_SAMPLES, **_ignored) -> AtrophyResult:
    """Cross-sectional atrophy measures of one T1, in memory; nothing is written.

    ``images`` maps keys to SimpleITK images: ``t1`` (required), optional ``flair``,
    ``lesions``, ``brain_mask``, ``anatomy`` (aseg), ``parcellation``, all on the T1 grid.
    Without a brain mask, the brain is extracted (``brain_extraction``: "template" or
    "threshold"). Options: ``head_size`` (SIENAX-style scaling), ``bias_correction`` (N4),
    ``fit_samples`` (voxels the intensity mixtures are fitted on, a seeded subsample; None = all).
    Other keys and None values are ignored.
    """
    if images.get("t1") is None:
        raise InputError("t1", "a T1-weighted image is required for atrophy measures")
    t1 = _image(images, "t1", None)
    extra = {key: _image(images, key, t1) for key in IMAGE_KEYS[1:]}
    return analyse_tissues(t1, flair=extra["flair"], lesions=extra["lesions"], brain_mask=extra["brain_mask"],
                           anatomy=extra["anatomy"], parcellation=extra["parcellation"], head_size=head_size,
                           bias_correction=bias_correction, brain_extraction=brain_extraction,
                           template_icv=template_icv, fit_samples=fit_samples)


def analyse_tissues(t1: sitk.Image, flair: sitk.Image | None = None, lesions: sitk.Image | None = None,
                    brain_mask: sitk.Image | None = None, anatomy: sitk.Image | None = None,
                    parcellation: sitk.Image | None = None, head_size: bool = False,
                    bias_correction: bool = True, brain_extraction: str = BRAIN_EXTRACTION_METHOD,
                    template_icv: bool = True, fit_samples: int | None = TISSUE_FIT_SAMPLES) -> AtrophyResult:
    """Tissue volumes (mL), BPF, deep GM, regional rows and the tissue label image for one T1.

    Steps: brain/ICV masks (given brain mask + CSF shell, or :func:`.brain_extraction.extract_brain`,
    whose intracranial mask is the ICV) -> N4 -> lesion filling with NAWM -> CSF/GM/WM
    partial-volume model + MRF + partial volumes inside the ICV -> lesions counted on their
    own. With a given brain mask and ``template_icv``, the ICV is still the registered
    template's intracranial mask when the template fits the T1 (a BET-style mask leaves no
    CSF shell to search). With an aseg ``anatomy``, voxels of deep GM labels count as GM (their T1 lies
    between cortex and WM, which a 3-class model splits).
    """
    spacing = tuple(float(s) for s in t1.GetSpacing()[::-1])
    vox = voxel_volume_mm3(t1)
    array = sitk.GetArrayFromImage(t1).astype(np.float32)
    les = None if lesions is None else sitk.GetArrayFromImage(lesions) > 0
    extraction = None
    if brain_mask is not None:
        brain = sitk.GetArrayFromImage(brain_mask) > 0
        if not brain.any():
            raise InputError("brain_mask", "is empty (no voxel inside)")
        check_mask_coverage(brain_mask, "brain_mask")
        method = "given mask"
        icv_source = f"given brain mask + CSF within {ICV_CSF_SEARCH_MM} mm, bounded by the skull (SIENAX-like)"
        if template_icv:
            fitted = template_fit(t1)
            if fitted is not None:
                extraction = fitted
                icv_source = fitted.details["icv_definition"].replace("brain mask", "given brain mask")
    else:
        extraction = extract_brain(t1, method=brain_extraction)
        brain = extraction.brain_array()
        method = extraction.method
        icv_source = extraction.details.get("icv_definition") if method.startswith("template") else (
            f"brain + CSF within {ICV_CSF_SEARCH_MM} mm, bounded by the skull (SIENAX-like, Smith et al. 2002)")
    if les is not None:
        brain |= les
    if bias_correction:
        array = bias_correct(t1, _dilate_mm(brain, ICV_CSF_SEARCH_MM, spacing))
    if extraction is not None and extraction.method.startswith("template"):
        icv = extraction.icv_array() | brain
    else:
        icv = estimate_icv(array, brain, spacing)
    if les is not None and les.any():
        array = fill_lesions(array, les, brain, spacing, fit_samples=fit_samples)
    flair_arr = None if flair is None else sitk.GetArrayFromImage(flair).astype(np.float32)
    seg = classify(array, icv, flair=flair_arr, fit_samples=fit_samples)
    del array, flair_arr
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
    result["brain_extraction_method"] = method
    result["icv_definition"] = icv_source
    result["tissue_method"] = ("partial-volume mixture (CSF, GM, WM + 2 mixing classes) + Potts MRF, "
                               "partial-volume fractions at class boundaries, inside the ICV; mixture fitted on "
                               + ("all voxels" if fit_samples is None else
                                  f"a seeded random subsample of at most {fit_samples} voxels"))
    if extraction is not None:
        result["brain_extraction" if brain_mask is None else "icv_template"] = extraction.summary()
    regions = None
    if parcellation is not None:
        regions = parcel_volumes(sitk.GetArrayFromImage(parcellation), vox, pv=pv, lesions=les)
    return AtrophyResult(tissue_labels=image_like(labels, t1), brain_mask=image_like(brain.astype(np.uint8), t1),
                         icv_mask=image_like(icv.astype(np.uint8), t1), rows=regions, summary=result, pv=pv)


def _read(images: dict) -> dict:
    unknown = set(k for k, v in images.items() if v is not None) - set(IMAGE_KEYS)
    return {key: read_image(path, _KINDS[key], name=key) for key, path in images.items()
            if path is not None and key not in unknown}


def run_case(images: dict, out_dir, **options) -> dict:
    """Cross-sectional atrophy measures of one case: read -> :func:`analyse` -> write.

    ``images`` maps BIDS keys to paths: ``t1`` (required), ``flair``, ``lesions``,
    ``brain_mask``, ``anatomy``, ``parcellation`` (other keys are ignored). Options as
    :func:`analyse`. Writes atrophy.json, tissue_labels.nii.gz, brain_mask.nii.gz (the mask
    used, to inspect or correct in Slicer), icv_mask.nii.gz and, with a parcellation,
    regional_volumes.tsv. Returns the flat summary (icv_ml, brain_ml, gm_ml, wm_ml, csf_ml,
    lesion_ml, bpf, thalamus_ml, deep_gm_ml, ...).
    """
    if "t1" not in images or images["t1"] is None:
        raise InputError("t1", "a T1-weighted image is required for atrophy measures")
    out_dir = Path(out_dir)
    res = analyse(_read(images), **options)
    summary = dict(res.summary)
    write_image(sitk.Cast(res.tissue_labels, sitk.sitkUInt8), out_dir / TISSUE_LABELS_FILE)
    write_image(res.brain_mask, out_dir / BRAIN_MASK_FILE)
    write_image(res.icv_mask, out_dir / ICV_MASK_FILE)
    files = {"tissue_labels": TISSUE_LABELS_FILE, "brain_mask": BRAIN_MASK_FILE, "icv_mask": ICV_MASK_FILE}
    if res.rows is not None:
        write_table(res.rows, out_dir / REGIONAL_FILE)
        files["regional_volumes"] = REGIONAL_FILE
    document = dict(summary)
    document.update({"tissue_label_values": {"csf": 1, "gm": 2, "wm": 3, "lesion": LESION_TISSUE_LABEL},
                     "regional_change": "none (cross-sectional volumes)", "files": files,
                     "inputs": {k: str(v) for k, v in images.items() if v is not None}})
    write_json(out_dir / ATROPHY_JSON, document)
    return {k: v for k, v in summary.items() if not isinstance(v, (list, dict))}


def analyse_pbvc(images: dict, calibrate: bool = PBVC_APPLY_CALIBRATION, interval_years: float | None = None,
                 **_ignored) -> PbvcResult:
    """PBVC between two visits, in memory (:func:`.pbvc.compute_pbvc`); nothing is written.

    ``images``: ``baseline`` and ``followup`` T1 (required), optional ``baseline_mask``,
    ``followup_mask``, ``baseline_lesions``, ``followup_lesions``, ``baseline_parcellation``
    (each on its visit's grid).
    """
    for key in ("baseline", "followup"):
        if images.get(key) is None:
            raise InputError(key, "a baseline and a follow-up T1 are required for PBVC")
    result = compute_pbvc(images["baseline"], images["followup"], images.get("baseline_mask"),
                          images.get("followup_mask"), interval_years=interval_years,
                          baseline_lesions=images.get("baseline_lesions"),
                          followup_lesions=images.get("followup_lesions"),
                          baseline_parcellation=images.get("baseline_parcellation"), calibrate=calibrate)
    displacement = result.pop("displacement_map")
    mask = result.pop("brain_mask")
    rows = result.pop("regions", None)
    return PbvcResult(displacement_map=displacement, brain_mask=mask, rows=rows, summary=result)


def run_pbvc(baseline_t1, followup_t1, out_dir, baseline_mask=None, followup_mask=None, interval_years=None,
             baseline_lesions=None, followup_lesions=None, baseline_parcellation=None,
             calibrate: bool = PBVC_APPLY_CALIBRATION) -> dict:
    """PBVC between two T1 files: read -> :func:`analyse_pbvc` -> write pbvc.json, the
    edge-displacement map (baseline grid, mm), the baseline brain mask used and, with a
    baseline parcellation, the regional change table ("within a fixed region").

    Returns a flat dict: pbvc_percent, pbvc_annualised_percent_per_year (when the interval
    is given), calibration_factor, baseline_brain_ml, ...
    """
    out_dir = Path(out_dir)
    paths = {"baseline": (baseline_t1, "intensity"), "followup": (followup_t1, "intensity"),
             "baseline_mask": (baseline_mask, "mask"), "followup_mask": (followup_mask, "mask"),
             "baseline_lesions": (baseline_lesions, "mask"), "followup_lesions": (followup_lesions, "mask"),
             "baseline_parcellation": (baseline_parcellation, "label")}
    images = {key: read_image(path, kind, name=key.replace("_", "-")) for key, (path, kind) in paths.items()
              if path is not None}
    res = analyse_pbvc(images, calibrate=calibrate, interval_years=interval_years)
    write_image(res.displacement_map, out_dir / PBVC_MAP_FILE)
    write_image(res.brain_mask, out_dir / PBVC_BRAIN_MASK_FILE)
    files = {"edge_displacement_map": PBVC_MAP_FILE, "baseline_brain_mask": PBVC_BRAIN_MASK_FILE}
    if res.rows is not None:
        write_table(res.rows, out_dir / PBVC_REGIONAL_FILE)
        files["regional_change"] = PBVC_REGIONAL_FILE
    document = dict(res.summary)
    document["files"] = files
    document["map_meaning"] = ("edge displacement along the brain-edge normal in mm on the baseline grid; "
                               "negative = brain edge moved inward (atrophy)")
    document["regional_change_meaning"] = (f"regional values are change {CHANGE_WITHIN_FIXED_REGION} "
                                           f"(not change {CHANGE_OF_BASELINE_TISSUE})")
    document["inputs"] = {"baseline": str(baseline_t1), "followup": str(followup_t1)}
    write_json(out_dir / PBVC_JSON, document)
    return {k: v for k, v in res.summary.items() if isinstance(v, (int, float, str, bool)) or v is None}
