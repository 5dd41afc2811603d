"""One case and one pair of visits, from files to files: what the CLI and the cohort runner call.

``analyse`` / ``analyse_change`` work in memory (SimpleITK images in, a result dataclass
out): what the Slicer module calls. ``run_case`` / ``run_change`` are read -> analyse ->
write. ``run_case`` writes ``lesions.nii.gz`` (voxel = lesion id), ``lesions.tsv`` (the lesion
table), ``summary.json`` (and ``brain_mask.nii.gz`` when it made the mask); ``run_change``
writes ``change.nii.gz``, ``change.tsv``, ``change_summary.json`` and the rigid transform
``followup_to_baseline.tfm``.
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
from ..io import check_mask_coverage, read_image, read_json, validate_image, write_image, write_json, write_transform
from ..lesion_table import write_lesion_table
from ..registration import register_rigid
from ..tables import write_table
from . import change as _change
from .brain import METHOD_GIVEN, brain_mask_on_flair, t1_on_flair
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
    """All images on the FLAIR grid (or the lesion grid without FLAIR), except the T1 and its
    post-contrast image, which may share another grid (the T1 is then registered to the FLAIR)."""
    if "flair" not in loaded and "lesions" not in loaded:
        raise InputError("images", "need a FLAIR image (flair) or a lesion mask (lesions)")
    if "t1post" in loaded and "t1" not in loaded:
        raise InputError("T1 post-contrast", "needs the pre-contrast T1 (t1 / --t1) to find enhancing lesions")
    reference_key = "flair" if "flair" in loaded else "lesions"
    reference = loaded[reference_key]
    t1_own_grid = "flair" in loaded and "t1" in loaded and not same_geometry(reference, loaded["t1"])
    for key, image in loaded.items():
        if key == reference_key:
            continue
        if key == "t1post" and t1_own_grid:
            check_same_geometry(loaded["t1"], image, names=(sources["t1"], sources[key]))
        elif not (key == "t1" and t1_own_grid):
            check_same_geometry(reference, image, names=(sources[reference_key], sources[key]))
    if "brain_mask" in loaded and not sitk.GetArrayViewFromImage(loaded["brain_mask"]).any():
        raise InputError(sources["brain_mask"], "is empty (no non-zero voxel)")
    for key in ("brain_mask", "lesions"):  # an all-ones mask is a wrong file, not a brain or lesions (issue 13)
        if key in loaded:
            check_mask_coverage(loaded[key], sources[key])


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
class LesionsResult:
    """Result of :func:`analyse` (in memory; :func:`run_case` writes it). Images share the FLAIR grid."""
    labels: sitk.Image                        #: lesion ids (UInt16/UInt32)
    rows: list                                #: lesion table rows (lesion_table.SCHEMA)
    summary: dict                             #: counts, volumes (mm^3) by location, dissemination in space
    normalised_flair: sitk.Image | None       #: Float32 FLAIR / NAWM (None without FLAIR)
    brain_mask: sitk.Image | None             #: UInt8 brain mask used (given or made; None if not needed)
    info: dict = field(default_factory=dict)  #: how: location_source, nawm, brain_mask_method, ... (JSON-able)

    def summary_json(self) -> dict:
        """Summary and info in one JSON-able dict (what ``summary.json`` holds besides the inputs)."""
        return {**self.summary, **self.info}


#: Former name of :class:`LesionsResult`.
CaseResult = LesionsResult


def analyse(images: dict, connectivity: int = DEFAULT_CONNECTIVITY, min_volume_mm3: float = MIN_LESION_VOLUME_MM3,
            bias_correction: bool | None = None, seed_threshold: float = D.SEED_THRESHOLD,
            grow_threshold: float = D.GROW_THRESHOLD, max_steps: int = D.GROW_MAX_STEPS, keep_ids: bool = False,
            spinal_cord_lesions: int | None = None, optic_nerve_lesions: int | None = None,
            brain_extraction: str | None = None, progress=None, **_ignored) -> LesionsResult:
    """Segment (or take) lesions, label, measure and place them, in memory; nothing is written.

    ``images`` maps keys to SimpleITK images (any pixel type; checked like files are):
    ``flair`` (required unless ``lesions`` is given), optional ``t1``, ``t1post`` (needs
    ``t1``, on the T1's grid), ``anatomy`` (aseg/SynthSeg values), ``brain_mask`` and
    ``lesions`` (mask or labelmap: segmentation is skipped). ``anatomy``, ``brain_mask`` and
    ``lesions`` must share the FLAIR grid; a T1 on another grid is registered rigidly to the
    FLAIR. Without a brain mask it is made from the T1 (brain extraction), else from the FLAIR
    when that is skull-stripped (a whole-head FLAIR alone is refused with a clear error; see
    :mod:`.brain`). Other keys (qsm, ...) and None values are ignored.

    Options: ``connectivity`` (6/18/26), ``min_volume_mm3``, ``bias_correction`` (default True
    when segmenting, False when ``lesions`` is given), the segmentation thresholds,
    ``keep_ids`` (keep a given labelmap's ids, :func:`relabel_after_edit`),
    ``spinal_cord_lesions`` / ``optic_nerve_lesions`` (counts from other imaging for
    dissemination in space; None = not assessed), ``brain_extraction`` (the T1 brain
    extraction method of :func:`mspathobiology.atrophy.brain_extraction.extract_brain`, None = its
    default) and ``progress(fraction 0..1, text)``.
    """
    report = progress or (lambda fraction, text: None)
    loaded = {k: validate_image(v, _KINDS[k], _NAMES[k]) for k, v in images.items() if v is not None and k in _KINDS}
    _check_inputs(loaded, {k: _NAMES[k] for k in loaded})
    return _analyse(loaded, connectivity, min_volume_mm3, bias_correction, seed_threshold, grow_threshold,
                    max_steps, keep_ids, spinal_cord_lesions, optic_nerve_lesions, report, brain_extraction)


#: Former name of :func:`analyse`.
analyse_case = analyse


def _analyse(loaded, connectivity, min_volume_mm3, bias_correction, seed_threshold, grow_threshold, max_steps,
             keep_ids, spinal_cord_lesions, optic_nerve_lesions, report, brain_extraction=None) -> LesionsResult:
    flair = loaded.get("flair")
    reference = flair if flair is not None else loaded["lesions"]
    spacing = reference.GetSpacing()[::-1]
    t1, t1post, transform = loaded.get("t1"), loaded.get("t1post"), None
    brain, method = None, None
    if flair is not None:
        report(0.02, "brain mask")
        made = brain_mask_on_flair(flair, t1, loaded.get("brain_mask"), require_brain="lesions" not in loaded,
                                   extraction_method=brain_extraction)
        brain, method, transform = made.mask, made.method, made.t1_to_flair
    if transform is not None:  # T1 (and post-contrast T1) onto the FLAIR grid
        t1 = t1_on_flair(t1, flair, transform)
        t1post = t1_on_flair(t1post, flair, transform) if t1post is not None else None
    elif flair is None and "brain_mask" in loaded:
        brain, method = sitk.GetArrayFromImage(loaded["brain_mask"]) != 0, METHOD_GIVEN
    normalised, nawm = None, None

    if "lesions" in loaded:
        report(0.1, "reading lesion labels")
        given = sitk.GetArrayFromImage(loaded["lesions"]).astype(np.int64)
        if flair is not None:
            image = n4_correct(flair, brain) if bias_correction else flair
            array = sitk.GetArrayFromImage(image).astype(np.float32)
            wm = (np.isin(sitk.GetArrayViewFromImage(loaded["anatomy"]), WHITE_MATTER_LABELS)
                  if "anatomy" in loaded else None)
            nawm = nawm_intensity(array, brain & (given == 0), spacing, None if wm is None else wm & (given == 0))
            normalised = array / np.float32(nawm)
        mask_or_labels = given
    else:
        seg = segment_flair(flair, image_like(brain.astype(np.uint8), flair), None, loaded.get("anatomy"),
                            bias_correction=True if bias_correction is None else bias_correction,
                            seed_threshold=seed_threshold, grow_threshold=grow_threshold, max_steps=max_steps,
                            connectivity=connectivity, progress=lambda f, t: report(0.1 + 0.7 * f, t))
        normalised, nawm = seg.normalised_flair, seg.nawm
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
    if t1post is not None:
        report(0.92, "enhancing lesions")
        if brain is None:  # lesion labels alone: the brain from the T1 on their grid
            made = brain_mask_on_flair(reference, t1, None, source="T1", require_brain=False,
                                       extraction_method=brain_extraction)
            brain, method = made.mask, made.method
        enhancing = enhancing_lesions(labels, sitk.GetArrayFromImage(t1), sitk.GetArrayFromImage(t1post), brain,
                                      spacing=spacing)

    report(0.95, "lesion table")
    rows = lesion_rows(labels, reference, normalised, locations, enhancing)
    summary = summarise(rows)
    if locations is not None:
        summary.update(dissemination_in_space(rows, spinal_cord_lesions, optic_nerve_lesions))
    info = {"location_source": location_source, "nawm_flair_intensity": nawm,
            "brain_mask_method": method, "brain_mask_estimated": method not in (None, METHOD_GIVEN),
            "connectivity": connectivity, "min_volume_mm3": min_volume_mm3, "segmented": "lesions" not in loaded}
    return LesionsResult(_label_image_for_output(labels, reference), rows, summary,
                         None if normalised is None else image_like(normalised.astype(np.float32), reference),
                         None if brain is None else image_like(brain.astype(np.uint8), reference), info)


def run_case(images: dict, out_dir, connectivity: int = DEFAULT_CONNECTIVITY,
             min_volume_mm3: float = MIN_LESION_VOLUME_MM3, bias_correction: bool | None = None,
             seed_threshold: float = D.SEED_THRESHOLD, grow_threshold: float = D.GROW_THRESHOLD,
             max_steps: int = D.GROW_MAX_STEPS, keep_ids: bool = False, spinal_cord_lesions: int | None = None,
             optic_nerve_lesions: int | None = None, brain_extraction: str | None = None, progress=None,
             **_ignored) -> dict:
    """Read -> :func:`analyse` -> write, for one case.

    ``images`` maps bids keys to paths (see :func:`analyse` for the keys and options; other
    bids keys such as qsm or tractogram are ignored). Writes ``out_dir/lesions.nii.gz``
    (voxel = lesion id), ``lesions.tsv`` (the lesion table), ``summary.json`` and, when the
    brain mask was made here (not given), ``brain_mask.nii.gz`` to inspect or correct.
    Returns the flat summary (lesion_count, lesion_volume_mm3, lesion_count_<location>,
    lesion_volume_mm3_<location>, lesion_count_mcdonald, lesion_count_enhancing,
    dis_2017_met, dis_2024_met, ...).
    """
    report = progress or (lambda fraction, text: None)
    out_dir = Path(out_dir)
    loaded, sources = _read_inputs(images)
    _check_inputs(loaded, sources)
    result = _analyse(loaded, connectivity, min_volume_mm3, bias_correction, seed_threshold, grow_threshold,
                      max_steps, keep_ids, spinal_cord_lesions, optic_nerve_lesions, report, brain_extraction)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_image(result.labels, out_dir / "lesions.nii.gz")
    write_lesion_table(result.rows, out_dir / "lesions.tsv")
    if result.info["brain_mask_estimated"] and result.brain_mask is not None:
        write_image(result.brain_mask, out_dir / "brain_mask.nii.gz")
    write_json(out_dir / "summary.json", {
        **result.summary_json(),
        "inputs": {k: str(Path(v).resolve()) for k, v in images.items() if v is not None},
    })
    report(1.0, "done")
    return result.summary


def _normalised_flair(flair: sitk.Image, lesions: np.ndarray, nawm: float | None = None) -> np.ndarray:
    """FLAIR / NAWM: ``nawm`` when given (recorded by :func:`analyse`), else the histogram
    mode of an estimated brain without lesions (no bias correction)."""
    array = sitk.GetArrayFromImage(flair).astype(np.float32)
    if not nawm:
        brain = estimate_brain_mask(flair)
        nawm = nawm_intensity(array, brain & (lesions == 0), flair.GetSpacing()[::-1])
    return array / np.float32(nawm)


def _from_summary(case_dir: Path, given=None):
    """(FLAIR path, NAWM) recorded in a case folder's summary.json; ``given`` wins for the path."""
    summary = case_dir / "summary.json"
    record = read_json(summary, name="lesions summary", expect=dict) if summary.exists() else {}
    path = Path(given) if given is not None else None
    if path is None:
        inputs = record.get("inputs")
        recorded = inputs.get("flair") if isinstance(inputs, dict) else None
        path = Path(recorded) if isinstance(recorded, str) and recorded and Path(recorded).exists() else None
    return path, record.get("nawm_flair_intensity")


@dataclass
class ChangeResult:
    """Result of :func:`analyse_change`; images on the baseline grid."""
    change: sitk.Image                          #: UInt8 change codes (``CHANGE_CODES``)
    rows: list                                  #: one row per follow-up lesion and per resolved baseline lesion
    summary: dict                               #: counts per class, registration, change_codes (JSON-able)
    transform: sitk.Transform | None = None     #: baseline point -> follow-up point (LPS mm), None if not registered


def analyse_change(images: dict, register: bool | None = None, baseline_nawm: float | None = None,
                   progress=None, **_ignored) -> ChangeResult:
    """Classify lesions between two visits, in memory: new, enlarging, shrinking, stable, resolved.

    ``images``: ``baseline_lesions`` and ``followup_lesions`` (label images, each on its own
    visit's grid), optional ``baseline_flair`` / ``followup_flair`` (on their visit's lesion
    grid). The follow-up is registered rigidly to the baseline on FLAIR (Mattes MI) when both
    FLAIRs are given and ``register`` is not False; otherwise the two label images must share a
    grid. With a baseline FLAIR, follow-up lesions the baseline segmentation missed but that
    were already hyperintense are not new (:func:`classify_change`); ``baseline_nawm`` is the
    baseline NAWM FLAIR intensity (``LesionsResult.info["nawm_flair_intensity"]``; estimated
    when None). ``progress(fraction, text)`` is optional.
    """
    report = progress or (lambda fraction, text: None)
    names = {"baseline_lesions": "baseline lesions", "followup_lesions": "follow-up lesions",
             "baseline_flair": "baseline FLAIR", "followup_flair": "follow-up FLAIR"}
    missing = [k for k in ("baseline_lesions", "followup_lesions") if images.get(k) is None]
    if missing:
        raise InputError("images", f"lesion change needs {' and '.join(missing)}")
    loaded = {k: validate_image(images[k], "label" if k.endswith("lesions") else "intensity", names[k])
              for k in names if images.get(k) is not None}
    base, follow = loaded["baseline_lesions"], loaded["followup_lesions"]
    b_flair, f_flair = loaded.get("baseline_flair"), loaded.get("followup_flair")
    can_register = b_flair is not None and f_flair is not None
    if register and not can_register:
        raise InputError("baseline/follow-up", "registration needs both FLAIR images (give --baseline-flair "
                                               "and --followup-flair)")
    transform, method, base_nflair = None, "none (same grid)", None
    if b_flair is not None:
        check_same_geometry(b_flair, base, names=("baseline FLAIR", "baseline lesions"))
        base_nflair = _normalised_flair(b_flair, sitk.GetArrayViewFromImage(base), baseline_nawm)
    if register or (register is None and can_register):
        check_same_geometry(f_flair, follow, names=("follow-up FLAIR", "follow-up lesions"))
        report(0.1, "rigid registration")
        transform = register_rigid(b_flair, f_flair, metric=D.CHANGE_REGISTRATION_METRIC)
        method = f"rigid ({D.CHANGE_REGISTRATION_METRIC})"
    elif not same_geometry(base, follow):
        raise InputError("baseline/follow-up", "the two lesion maps are on different grids and no FLAIR was "
                                               "found to register them; give --baseline-flair and --followup-flair")
    report(0.8, "classifying lesions")
    follow_on_base = _change.resample_labels_to(follow, base, transform)
    f_native = _change.native_volumes(sitk.GetArrayViewFromImage(follow), voxel_volume_mm3(follow))
    rows, change_map = _change.classify_change(sitk.GetArrayViewFromImage(base),
                                               sitk.GetArrayViewFromImage(follow_on_base),
                                               voxel_volume_mm3(base), f_native,
                                               baseline_normalised_flair=base_nflair)
    summary = {**_change.summarise_change(rows), "registration": method, "change_codes": D.CHANGE_CODES}
    report(1.0, "done")
    return ChangeResult(image_like(change_map, base), rows, summary, transform)


CHANGE_COLUMNS = ["followup_id", "baseline_ids", "change", "volume_mm3", "baseline_volume_mm3", "volume_change_mm3",
                  "volume_change_percent"]


def run_change(baseline_dir, followup_dir, out_dir, baseline_flair=None, followup_flair=None,
               register: bool | None = None, progress=None) -> dict:
    """Read -> :func:`analyse_change` -> write, for the lesions of two visits written by :func:`run_case`.

    Reads ``lesions.nii.gz`` from both folders and the FLAIRs (``baseline_flair`` /
    ``followup_flair``, default: the FLAIR paths recorded in each ``summary.json``, with the
    baseline NAWM recorded there). Writes ``out_dir/change.nii.gz`` (codes ``CHANGE_CODES``
    on the baseline grid), ``change.tsv``, ``change_summary.json`` and
    ``followup_to_baseline.tfm`` (when registered); returns the counts (lesions_new,
    lesions_enlarging, lesions_shrinking, lesions_stable, lesions_resolved,
    lesions_new_or_enlarging).
    """
    baseline_dir, followup_dir, out_dir = Path(baseline_dir), Path(followup_dir), Path(out_dir)
    images = {"baseline_lesions": read_image(baseline_dir / "lesions.nii.gz", kind="label", name="--baseline lesions"),
              "followup_lesions": read_image(followup_dir / "lesions.nii.gz", kind="label", name="--followup lesions")}
    b_path, b_nawm = _from_summary(baseline_dir, baseline_flair)
    f_path, _ = _from_summary(followup_dir, followup_flair)
    if b_path is not None:
        images["baseline_flair"] = read_image(b_path, name=f"baseline FLAIR {b_path}")
    if f_path is not None and register is not False:
        images["followup_flair"] = read_image(f_path, name=f"follow-up FLAIR {f_path}")
    result = analyse_change(images, register=register, baseline_nawm=b_nawm, progress=progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_image(result.change, out_dir / "change.nii.gz")
    write_table(result.rows, out_dir / "change.tsv", columns=CHANGE_COLUMNS)
    if result.transform is not None:
        write_transform(result.transform, out_dir / "followup_to_baseline.tfm")
    counts = {k: v for k, v in result.summary.items() if k.startswith("lesions_")}
    write_json(out_dir / "change_summary.json", {**result.summary, "baseline": str(baseline_dir.resolve()),
                                                  "followup": str(followup_dir.resolve())})
    return counts
