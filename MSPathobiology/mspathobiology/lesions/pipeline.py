"""One case and one pair of visits, from files to files: what the CLI and the cohort runner call.

``run_case`` writes ``lesions.nii.gz`` (voxel = lesion id), ``lesions.tsv`` (the lesion
table) and ``summary.json``; ``run_change`` writes ``change.nii.gz``, ``change.tsv``,
``change_summary.json`` and the rigid transform ``followup_to_baseline.tfm``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..bids import IMAGE_KEYS
from ..defaults.common import DEFAULT_CONNECTIVITY, MIN_LESION_VOLUME_MM3
from ..defaults import lesions as D
from ..errors import InputError
from ..geometry import check_same_geometry, image_like, same_geometry, voxel_volume_mm3
from ..io import read_image, read_json, write_image, write_json
from ..lesion_table import write_lesion_table
from ..registration import register_rigid
from ..tables import write_table
from . import change as _change
from .enhancing import enhancing_lesions
from .labeling import label_lesions, relabel_after_edit
from .locations import anatomy_classes, classify_locations, dissemination_in_space, estimate_anatomy_classes, summarise
from .measure import lesion_rows
from .segment import estimate_brain_mask, n4_correct, nawm_intensity, segment_flair, WHITE_MATTER_LABELS

_KINDS = {"flair": "intensity", "t1": "intensity", "t1post": "intensity", "anatomy": "label",
          "brain_mask": "mask", "lesions": "label"}
_NAMES = {"flair": "FLAIR", "t1": "T1", "t1post": "T1 post-contrast", "anatomy": "anatomy",
          "brain_mask": "brain mask", "lesions": "lesion labels"}


def _label_image_for_output(labels: np.ndarray, reference: sitk.Image) -> sitk.Image:
    dtype = np.uint16 if labels.max(initial=0) < 65535 else np.uint32
    return image_like(labels.astype(dtype), reference)


def label_and_measure(labels_or_mask: np.ndarray, reference: sitk.Image, connectivity: int = DEFAULT_CONNECTIVITY,
                      min_volume_mm3: float = MIN_LESION_VOLUME_MM3, normalised_flair: np.ndarray | None = None,
                      classes: dict | None = None, keep_ids: bool = False) -> tuple[np.ndarray, list[dict]]:
    """Label a lesion mask (or relabel a labelmap keeping its ids when ``keep_ids``) and
    compute the table rows; ``classes`` (ventricle/cortex/infratentorial masks) adds locations.
    Returns (labels int32 [k, j, i], rows)."""
    vv = voxel_volume_mm3(reference)
    if keep_ids:
        labels, _ = relabel_after_edit(labels_or_mask, None, vv, connectivity, min_volume_mm3)
    else:
        labels = label_lesions(labels_or_mask, vv, connectivity, min_volume_mm3)
    locations = classify_locations(labels, classes, connectivity) if classes is not None else None
    return labels, lesion_rows(labels, reference, normalised_flair, locations)


def _check_inputs(loaded: dict, sources: dict) -> None:
    if "flair" not in loaded and "lesions" not in loaded:
        raise InputError("images", "need a FLAIR image (flair) or a lesion mask (lesions)")
    if "t1post" in loaded and "t1" not in loaded:
        raise InputError("T1 post-contrast", "needs the pre-contrast T1 (t1 / --t1) to find enhancing lesions")
    reference_key = "flair" if "flair" in loaded else "lesions"
    for key, image in loaded.items():
        if key != reference_key:
            check_same_geometry(loaded[reference_key], image, names=(sources[reference_key], sources[key]))
    if "brain_mask" in loaded and not sitk.GetArrayViewFromImage(loaded["brain_mask"]).any():
        raise InputError(sources["brain_mask"], "is empty (no non-zero voxel)")


def _read_inputs(images: dict) -> tuple[dict, dict]:
    unknown = set(images) - set(IMAGE_KEYS)
    if unknown:
        raise InputError("images", f"unknown image keys {sorted(unknown)}; known: {', '.join(IMAGE_KEYS)}")
    loaded, sources = {}, {}
    for key, kind in _KINDS.items():
        if images.get(key) is not None:
            loaded[key] = read_image(images[key], kind=kind, name=_NAMES[key])
            sources[key] = f"{_NAMES[key]} ({images[key]})"
    return loaded, sources


@dataclass
class CaseResult:
    """Result of :func:`analyse_case` (in memory; :func:`run_case` writes it)."""
    labels: sitk.Image                      #: lesion ids (UInt16/UInt32) on the FLAIR grid
    rows: list                              #: lesion table rows (lesion_table.SCHEMA)
    summary: dict                           #: flat summary incl. dissemination in space
    normalised_flair: np.ndarray | None     #: FLAIR / NAWM, [k, j, i] (None without FLAIR)
    brain_mask: np.ndarray | None           #: brain mask used, bool [k, j, i]
    info: dict = field(default_factory=dict)  #: location_source, nawm, brain_mask_estimated, segmented


def analyse_case(images: dict, connectivity: int = DEFAULT_CONNECTIVITY,
                 min_volume_mm3: float = MIN_LESION_VOLUME_MM3, bias_correction: bool | None = None,
                 seed_threshold: float = D.SEED_THRESHOLD, grow_threshold: float = D.GROW_THRESHOLD,
                 max_steps: int = D.GROW_MAX_STEPS, keep_ids: bool = False,
                 spinal_cord_lesions: int | None = None, optic_nerve_lesions: int | None = None,
                 progress=None) -> CaseResult:
    """Segment (or take) lesions, label, measure and place them; nothing is written.

    ``images`` maps keys to SimpleITK images (already validated, e.g. with
    :func:`mspathobiology.io.validate_image`): ``flair`` (required unless ``lesions`` is
    given), optional ``t1``, ``t1post`` (needs ``t1``), ``anatomy`` (aseg/SynthSeg values,
    UInt32), ``brain_mask`` (UInt8) and ``lesions`` (mask or labelmap: segmentation is
    skipped). All must share the FLAIR grid. See :func:`run_case` for the options.
    ``progress``: optional callable(fraction 0..1, text) for a progress bar.
    """
    report = progress or (lambda fraction, text: None)
    loaded = {k: v for k, v in images.items() if v is not None and k in _KINDS}
    _check_inputs(loaded, {k: _NAMES[k] for k in loaded})
    return _analyse(loaded, connectivity, min_volume_mm3, bias_correction, seed_threshold, grow_threshold,
                    max_steps, keep_ids, spinal_cord_lesions, optic_nerve_lesions, report)


def _analyse(loaded, connectivity, min_volume_mm3, bias_correction, seed_threshold, grow_threshold, max_steps,
             keep_ids, spinal_cord_lesions, optic_nerve_lesions, report) -> CaseResult:
    flair = loaded.get("flair")
    reference = flair if flair is not None else loaded["lesions"]
    spacing = reference.GetSpacing()[::-1]
    brain = None if "brain_mask" not in loaded else sitk.GetArrayFromImage(loaded["brain_mask"]) != 0
    normalised, nawm, estimated = None, None, brain is None

    if "lesions" in loaded:
        report(0.1, "reading lesion labels")
        given = sitk.GetArrayFromImage(loaded["lesions"]).astype(np.int64)
        if flair is not None:
            if brain is None:
                brain = estimate_brain_mask(loaded.get("t1", flair))
            image = n4_correct(flair, brain) if bias_correction else flair
            array = sitk.GetArrayFromImage(image).astype(np.float32)
            wm = np.isin(sitk.GetArrayViewFromImage(loaded["anatomy"]), WHITE_MATTER_LABELS) if "anatomy" in loaded else None
            nawm = nawm_intensity(array, brain & (given == 0), spacing, None if wm is None else wm & (given == 0))
            normalised = array / np.float32(nawm)
        mask_or_labels = given
    else:
        seg = segment_flair(flair, loaded.get("brain_mask"), loaded.get("t1"), loaded.get("anatomy"),
                            bias_correction=True if bias_correction is None else bias_correction,
                            seed_threshold=seed_threshold, grow_threshold=grow_threshold, max_steps=max_steps,
                            connectivity=connectivity, progress=lambda f, t: report(0.8 * f, t))
        brain, normalised, nawm = seg.brain_mask, seg.normalised_flair, seg.nawm
        mask_or_labels = seg.mask
        keep_ids = False

    report(0.82, "labeling")
    vv = voxel_volume_mm3(reference)
    if keep_ids:
        labels, _ = relabel_after_edit(mask_or_labels, None, vv, connectivity, min_volume_mm3)
    else:
        labels = label_lesions(mask_or_labels, vv, connectivity, min_volume_mm3)

    report(0.88, "locations")
    if "anatomy" in loaded:
        classes, location_source = anatomy_classes(sitk.GetArrayViewFromImage(loaded["anatomy"])), "anatomy"
    elif normalised is not None:
        classes = estimate_anatomy_classes(brain, normalised, reference, labels)
        location_source = "estimate"
    else:
        classes, location_source = None, "none"
    locations = classify_locations(labels, classes, connectivity) if classes is not None else None

    enhancing = None
    if "t1post" in loaded:
        report(0.92, "enhancing lesions")
        if brain is None:
            brain = estimate_brain_mask(loaded["t1"])
        enhancing = enhancing_lesions(labels, sitk.GetArrayFromImage(loaded["t1"]),
                                      sitk.GetArrayFromImage(loaded["t1post"]), brain)

    report(0.95, "lesion table")
    rows = lesion_rows(labels, reference, normalised, locations, enhancing)
    summary = summarise(rows)
    if locations is not None:
        summary.update(dissemination_in_space(rows, spinal_cord_lesions, optic_nerve_lesions))
    info = {"location_source": location_source, "nawm_flair_intensity": nawm,
            "brain_mask_estimated": bool(estimated), "connectivity": connectivity,
            "min_volume_mm3": min_volume_mm3, "segmented": "lesions" not in loaded}
    return CaseResult(_label_image_for_output(labels, reference), rows, summary, normalised, brain, info)


def run_case(images: dict, out_dir, connectivity: int = DEFAULT_CONNECTIVITY,
             min_volume_mm3: float = MIN_LESION_VOLUME_MM3, bias_correction: bool | None = None,
             seed_threshold: float = D.SEED_THRESHOLD, grow_threshold: float = D.GROW_THRESHOLD,
             max_steps: int = D.GROW_MAX_STEPS, keep_ids: bool = False, spinal_cord_lesions: int | None = None,
             optic_nerve_lesions: int | None = None, progress=None, **_ignored) -> dict:
    """Segment (or take) lesions of one case, label, measure and place them; write the outputs.

    ``images`` maps bids keys to paths: ``flair`` (required unless ``lesions`` is given),
    optional ``t1``, ``t1post`` (needs ``t1``), ``anatomy`` (aseg/SynthSeg values),
    ``brain_mask``, and ``lesions`` (a mask or labelmap: segmentation is skipped). Other
    bids keys (qsm, tractogram, ...) are ignored. All must share the FLAIR grid.
    ``keep_ids`` keeps the ids of a given labelmap (:func:`relabel_after_edit`) instead of
    renumbering by size. ``bias_correction`` defaults to True when segmenting and False
    when ``lesions`` is given. ``spinal_cord_lesions`` / ``optic_nerve_lesions``: counts
    from other imaging for dissemination in space (None = not assessed). ``progress``:
    optional callable(fraction, text).

    Writes ``out_dir/lesions.nii.gz``, ``lesions.tsv``, ``summary.json``; returns the flat
    summary (lesion_count, lesion_volume_mm3, lesion_count_<location>,
    lesion_volume_mm3_<location>, lesion_count_mcdonald, lesion_count_enhancing,
    dis_2017_met, dis_2024_met, ...).
    """
    report = progress or (lambda fraction, text: None)
    out_dir = Path(out_dir)
    loaded, sources = _read_inputs(images)
    _check_inputs(loaded, sources)
    result = _analyse(loaded, connectivity, min_volume_mm3, bias_correction, seed_threshold, grow_threshold,
                      max_steps, keep_ids, spinal_cord_lesions, optic_nerve_lesions, report)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_image(result.labels, out_dir / "lesions.nii.gz")
    write_lesion_table(result.rows, out_dir / "lesions.tsv")
    write_json(out_dir / "summary.json", {
        **result.summary, **result.info,
        "inputs": {k: str(Path(v).resolve()) for k, v in images.items() if v is not None},
    })
    report(1.0, "done")
    return result.summary


def _normalised_flair(flair: sitk.Image, case_dir: Path, lesions: np.ndarray) -> np.ndarray:
    """FLAIR / NAWM: the NAWM recorded by run_case in summary.json, else the histogram mode
    of an estimated brain without lesions (no bias correction)."""
    array = sitk.GetArrayFromImage(flair).astype(np.float32)
    nawm = None
    if (case_dir / "summary.json").exists():
        nawm = read_json(case_dir / "summary.json").get("nawm_flair_intensity")
    if not nawm:
        brain = estimate_brain_mask(flair)
        nawm = nawm_intensity(array, brain & (lesions == 0), flair.GetSpacing()[::-1])
    return array / np.float32(nawm)


def _flair_from_summary(case_dir: Path, given):
    if given is not None:
        return Path(given)
    summary = case_dir / "summary.json"
    if summary.exists():
        path = read_json(summary).get("inputs", {}).get("flair")
        if path and Path(path).exists():
            return Path(path)
    return None


def run_change(baseline_dir, followup_dir, out_dir, baseline_flair=None, followup_flair=None,
               register: bool | None = None) -> dict:
    """Compare the lesions of two visits written by :func:`run_case`.

    Reads ``lesions.nii.gz`` from both folders. The follow-up is registered rigidly to the
    baseline on FLAIR (``baseline_flair`` / ``followup_flair``, default: the FLAIR paths
    recorded in each ``summary.json``). ``register=None`` registers when both FLAIRs are
    available; without them the two label images must share a grid (no registration).
    With a baseline FLAIR, follow-up lesions the baseline segmentation missed but that were
    already hyperintense are not counted as new (see :func:`classify_change`).
    Writes ``out_dir/change.nii.gz`` (codes ``CHANGE_CODES`` on the baseline grid),
    ``change.tsv``, ``change_summary.json`` and ``followup_to_baseline.tfm``; returns the
    counts (lesions_new, lesions_enlarging, lesions_shrinking, lesions_stable,
    lesions_resolved, lesions_new_or_enlarging).
    """
    baseline_dir, followup_dir, out_dir = Path(baseline_dir), Path(followup_dir), Path(out_dir)
    base = read_image(baseline_dir / "lesions.nii.gz", kind="label", name="--baseline lesions")
    follow = read_image(followup_dir / "lesions.nii.gz", kind="label", name="--followup lesions")
    b_flair = _flair_from_summary(baseline_dir, baseline_flair)
    f_flair = _flair_from_summary(followup_dir, followup_flair)
    can_register = b_flair is not None and f_flair is not None
    if register and not can_register:
        raise InputError("--baseline/--followup", "registration needs both FLAIR images (give --baseline-flair "
                                                  "and --followup-flair)")
    transform, method, base_nflair = None, "none (same grid)", None
    if b_flair is not None:
        fixed = read_image(b_flair, name="baseline FLAIR")
        check_same_geometry(fixed, base, names=(f"baseline FLAIR {b_flair}", "baseline lesions"))
        base_nflair = _normalised_flair(fixed, baseline_dir, sitk.GetArrayViewFromImage(base))
    if register or (register is None and can_register):
        moving = read_image(f_flair, name="follow-up FLAIR")
        check_same_geometry(moving, follow, names=(f"follow-up FLAIR {f_flair}", "follow-up lesions"))
        transform = register_rigid(fixed, moving, metric=D.CHANGE_REGISTRATION_METRIC)
        method = f"rigid ({D.CHANGE_REGISTRATION_METRIC})"
    elif not same_geometry(base, follow):
        raise InputError("--baseline/--followup", "the two lesion maps are on different grids and no FLAIR was "
                                                  "found to register them; give --baseline-flair and --followup-flair")
    follow_on_base = _change.resample_labels_to(follow, base, transform)
    f_native = _change.native_volumes(sitk.GetArrayViewFromImage(follow), voxel_volume_mm3(follow))
    rows, change_map = _change.classify_change(sitk.GetArrayViewFromImage(base),
                                               sitk.GetArrayViewFromImage(follow_on_base),
                                               voxel_volume_mm3(base), f_native,
                                               baseline_normalised_flair=base_nflair)
    counts = _change.summarise_change(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_image(image_like(change_map, base), out_dir / "change.nii.gz")
    write_table(rows, out_dir / "change.tsv", columns=["followup_id", "baseline_ids", "change", "volume_mm3",
                                                       "baseline_volume_mm3", "volume_change_mm3",
                                                       "volume_change_percent"])
    if transform is not None:
        sitk.WriteTransform(transform, str(out_dir / "followup_to_baseline.tfm"))
    write_json(out_dir / "change_summary.json", {**counts, "registration": method,
                                                  "change_codes": D.CHANGE_CODES,
                                                  "baseline": str(baseline_dir.resolve()),
                                                  "followup": str(followup_dir.resolve())})
    return counts
