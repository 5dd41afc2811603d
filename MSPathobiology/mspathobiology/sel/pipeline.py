"""SEL analysis in memory (:func:`analyse`) and files in, files out (:func:`run`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..atrophy.brain_extraction import extract_brain
from ..atrophy.tissue import classify as classify_tissues
from ..connectivity import connected_components, relabel_by_size
from ..defaults.sel import SEL_MIN_VISITS, SEL_MIN_VOXELS, SEL_NAWM_QUANTILE, SEL_RING_GAP_MM, SEL_RING_MM
from ..errors import GeometryMismatchError, InputError
from ..geometry import (check_same_geometry, image_like, resample_intensity, resample_label, same_geometry,
                        voxel_volume_mm3)
from ..io import read_image, validate_image, write_image, write_json
from ..lesion_table import write_lesion_table
from ..lesions.locations import classify_locations, estimate_anatomy_classes
from ..lesions.measure import lesion_rows
from . import deformation as DF
from . import measure as M

#: What the log-Jacobian maps and per-lesion expansions measure (every output says it).
CHANGE_TYPE = ("change of the baseline tissue (Jacobian of the follow-up to baseline deformation), "
               "corrected for global brain change by the median over the brain outside lesions")


@dataclass
class SelResult:
    """Result of :func:`analyse`: images on the baseline grid, lesion table rows, JSON-able summary."""

    images: dict                 #: {"logjac_visit-02": Float32 corrected log-Jacobian, ...}
    rows: list                   #: lesion table rows (lesion_table.SCHEMA) + SEL columns
    summary: dict                #: per-subject SEL figures, global change, registration details
    labels: sitk.Image = field(repr=False, default=None)  #: the baseline lesion labels used


def _visit_key(n: int) -> str:
    return f"visit-{n + 1:02d}"


def _labels(lesions: sitk.Image) -> np.ndarray:
    """Lesion ids [k, j, i]: a binary mask is split into 26-connected lesions (ids by size); ids are kept otherwise."""
    array = sitk.GetArrayFromImage(lesions).astype(np.int64)
    if array.max(initial=0) <= 1:
        components, _ = connected_components(array > 0)
        array, _ = relabel_by_size(components)
    return array.astype(np.int32)


def _extent_lps(image: sitk.Image) -> str:
    """Physical extent of the grid (voxel edges), LPS mm."""
    corners = [image.TransformContinuousIndexToPhysicalPoint([b * n - 0.5 for b, n in zip(bits, image.GetSize())])
               for bits in np.ndindex(2, 2, 2)]
    return f"{np.round(np.min(corners, 0), 1).tolist()} to {np.round(np.max(corners, 0), 1).tolist()} mm (LPS)"


def _labels_on_baseline(lesions: sitk.Image, baseline: sitk.Image) -> tuple[np.ndarray, dict | None]:
    """Lesion ids [k, j, i] on the baseline T1 grid, and how they got there (None when already on it).

    A lesion map on another grid (e.g. the FLAIR's) is split into lesions on its own grid first,
    then resampled by nearest neighbour (:func:`mspathobiology.geometry.resample_label`), so ids
    stay those of the map given. Lesions that fall outside the baseline T1 (or are thinner than
    its voxels) are listed in the returned record; none left raises :class:`GeometryMismatchError`.
    """
    if same_geometry(lesions, baseline):
        return _labels(lesions), None
    ids = _labels(lesions)
    source = image_like(ids, lesions)
    moved = sitk.GetArrayFromImage(resample_label(source, baseline)).astype(np.int32)
    before = set(np.unique(ids[ids > 0]).tolist())
    after = set(np.unique(moved[moved > 0]).tolist())
    if not after:
        raise GeometryMismatchError(
            "lesions vs visit 1 (baseline T1)",
            f"no lesion voxel lies inside the baseline T1 in physical space (lesions cover {_extent_lps(lesions)}, "
            f"the T1 {_extent_lps(baseline)}); are they of the same subject and session?")
    record = {"from_size": list(lesions.GetSize()), "from_spacing_mm": [float(v) for v in lesions.GetSpacing()],
              "interpolation": "nearest neighbour", "lesions_lost": sorted(before - after)}
    return moved, record


def _check_times(times, n: int) -> list:
    if times is None:
        return [float(v) for v in range(n)]
    times = [float(t) for t in times]
    if len(times) != n:
        raise InputError("times", f"gives {len(times)} visit times for {n} visits")
    if not all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        raise InputError("times", f"visit times must increase strictly, not {times}")
    return times


def _nawm_median(t1: np.ndarray, reference: np.ndarray) -> float:
    values = t1[reference]
    cut = np.quantile(values, SEL_NAWM_QUANTILE)
    high = values[values >= cut]
    return float(np.median(high)) if high.size else float("nan")


def analyse(visits, lesions: sitk.Image | None = None, flair=None, brain_mask: sitk.Image | None = None, times=None,
            progress=None) -> SelResult:
    """Slowly expanding lesions from T1 visits (baseline first) and the baseline lesion labels.

    ``visits`` may also be the project's images dict: {"t1": [T1 per visit], "lesions": ...,
    "flair": [...], "brain_mask": ...} (keyword arguments win).

    ``visits``: >= 3 T1 images of one subject (any grids; each is registered to the baseline).
    ``lesions``: baseline lesion labels or mask, on the baseline T1 grid or another grid of the same
    session (e.g. the FLAIR's: resampled onto the T1 by nearest neighbour; ``summary["lesions_resampled"]``).
    ``flair``: optional list of
    FLAIR images, one per visit, co-registered with that visit's T1 (resampled onto its grid when
    they differ): adds normalised FLAIR columns and its change, and the lesion locations
    (:mod:`mspathobiology.lesions.locations`) by which cortical lesions are not SEL candidates. ``brain_mask``: baseline brain mask (default: brain extraction of the baseline T1).
    ``times``: visit times (e.g. years from baseline; default 0, 1, 2, ...), the unit of every slope.
    ``progress(fraction, text)`` is called as visits are registered.
    """
    report = progress or (lambda fraction, text: None)
    start = time.perf_counter()
    if isinstance(visits, dict):
        images = visits
        visits = images.get("t1")
        lesions = lesions if lesions is not None else images.get("lesions")
        flair = flair if flair is not None else images.get("flair")
        brain_mask = brain_mask if brain_mask is not None else images.get("brain_mask")
    if lesions is None:
        raise InputError("lesions", "the baseline lesion labels are required")
    visits = list(visits or [])
    if len(visits) < SEL_MIN_VISITS:
        raise InputError("visits", f"SEL needs >= {SEL_MIN_VISITS} visits (baseline and two follow-ups), "
                                   f"got {len(visits)}")
    visits = [validate_image(v, "intensity", f"visit {n + 1}") for n, v in enumerate(visits)]
    times = _check_times(times, len(visits))
    baseline = visits[0]
    lesions = validate_image(lesions, "label", "lesions")
    labels, resampled = _labels_on_baseline(lesions, baseline)
    if not labels.any():
        raise InputError("lesions", "holds no lesion voxel")
    if flair is not None:
        flair = list(flair)
        if len(flair) != len(visits):
            raise InputError("flair", f"gives {len(flair)} FLAIR images for {len(visits)} visits")
        flair = [validate_image(f, "intensity", f"flair {n + 1}") for n, f in enumerate(flair)]
        flair = [f if same_geometry(f, t) else resample_intensity(f, t) for f, t in zip(flair, visits)]
    if brain_mask is not None:
        brain_mask = validate_image(brain_mask, "mask", "brain_mask")
        check_same_geometry(brain_mask, baseline, names=("brain_mask", "visit 1 (baseline T1)"))
        brain = sitk.GetArrayFromImage(brain_mask).astype(bool)
        mask_method = "given"
    else:
        extraction = extract_brain(baseline)
        brain = extraction.brain_array()
        mask_method = extraction.method
    brain |= labels > 0
    brain_mask = image_like(brain.astype(np.uint8), baseline)
    spacing_kji = tuple(float(s) for s in baseline.GetSpacing()[::-1])
    reference = M.reference_region(brain, labels)
    if reference.sum() < 100:
        raise InputError("brain_mask", "leaves < 100 brain voxels outside lesions to measure global change")

    base_t1 = sitk.GetArrayFromImage(baseline).astype(np.float32)
    t1_norm = [base_t1 / _nawm_median(base_t1, reference)]
    flair_norm = None
    if flair is not None:
        f0 = sitk.GetArrayFromImage(flair[0]).astype(np.float32)
        flair_norm = [f0 / float(np.median(f0[reference]))]
    logjacs, globals_, folded, registration = [], [], [], []
    displacement = None
    n_follow = len(visits) - 1
    for n in range(1, len(visits)):
        report((n - 1) / n_follow, f"registering visit {n + 1} to the baseline")
        moved, transform = DF.align_rigid(baseline, visits[n], brain_mask)
        moved = DF.match_intensity(base_t1, sitk.GetArrayFromImage(moved), brain, spacing_kji)
        deformation = DF.register_followup(baseline, moved, brain)
        logjac_box, n_folded = DF.log_jacobian(deformation.displacement)
        logjac = np.zeros(labels.shape, dtype=np.float32)
        logjac[deformation.box] = logjac_box
        g = M.global_log_jacobian(logjac, reference)
        logjac[deformation.box] -= np.float32(g)
        logjacs.append(logjac)
        globals_.append(g)
        folded.append(n_folded)
        if n == len(visits) - 1:
            displacement = np.zeros(labels.shape + (3,), dtype=np.float32)
            displacement[deformation.box] = DF.index_frame_displacement(deformation.displacement)
        t1_norm.append(moved / _nawm_median(moved, reference))
        if flair is not None:
            f = sitk.Resample(flair[n], baseline, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
            fa = sitk.GetArrayFromImage(f)
            flair_norm.append(fa / float(np.median(fa[reference])))
        params = transform.GetParameters()
        registration.append({"visit": n + 1, "rigid_rotation_deg": [float(np.degrees(a)) for a in params[:3]],
                             "rigid_translation_mm": [float(v) for v in params[3:]],
                             "demons_iterations": deformation.iterations,
                             "demons_rms_change_mm": deformation.rms_change_mm, "folded_voxels": n_folded})
    report(1.0, "measuring lesions")

    report(1.0, "classifying the baseline tissues")
    tissue = classify_tissues(base_t1, reference)["labels"]
    locations = None
    if flair_norm is not None:
        report(1.0, "lesion locations from the baseline FLAIR")
        # a brain mask without the ventricles (as the phantom's) would make them "outside": fill its holes
        inside = ndimage.binary_fill_holes(brain)
        locations = classify_locations(labels, estimate_anatomy_classes(inside, flair_norm[0], baseline, labels))
    rows = lesion_rows(labels, baseline, flair_norm[0] if flair_norm is not None else None, locations=locations)
    objects = ndimage.find_objects(labels)
    ring_pad = [int(np.ceil((SEL_RING_GAP_MM + max(SEL_RING_MM, s)) / s)) + 1 for s in spacing_kji]
    for row in rows:
        lesion_id = row["id"]
        box = objects[lesion_id - 1]
        box = tuple(slice(max(s.start - pad, 0), s.stop + pad) for s, pad in zip(box, ring_pad))
        mask = labels[box] == lesion_id
        ring = M.surrounding_ring(mask, (labels[box] > 0) & ~mask, spacing_kji)
        ring_logjac = float(logjacs[-1][box][ring].mean()) if ring.any() else None
        per_visit = [float(lj[box][mask].mean()) for lj in logjacs]
        band = M.outer_band(mask, spacing_kji)
        core = mask & ~band
        concentric = M.concentric_fraction(mask, band, displacement[box], spacing_kji)
        wm_share = M.white_matter_share(ring, tissue[box])
        row.update(M.classify(per_visit, times, row["voxels"], concentric, ring_logjac, wm_share, row["location"]))
        row["wm_share_ring"] = wm_share
        for n, value in enumerate(per_visit, start=1):
            row[f"logjac_{_visit_key(n)}"] = value
        row["logjac_band"] = float(logjacs[-1][box][band].mean())
        row["logjac_core"] = float(logjacs[-1][box][core].mean()) if core.any() else None
        row["logjac_ring"] = ring_logjac
        t1_values = [float(t[box][mask].mean()) for t in t1_norm]
        row["t1_norm_baseline"] = t1_values[0]
        row["t1_norm_slope"] = M.linear_slope(times, t1_values)
        if flair_norm is not None:
            row["flair_norm_slope"] = M.linear_slope(times, [float(f[box][mask].mean()) for f in flair_norm])

    images = {f"logjac_{_visit_key(n)}": image_like(lj, baseline) for n, lj in enumerate(logjacs, start=1)}
    summary = _summary(rows, times, globals_, registration, voxel_volume_mm3(baseline))
    summary.update({"brain_mask": mask_method, "lesions_resampled": resampled,
                    "locations": "baseline FLAIR (mspathobiology.lesions.locations)" if locations is not None
                    else "not estimated (no FLAIR): cortical lesions are not excluded", "change_type": CHANGE_TYPE,
                    "n_visits": len(visits),
                    "times": times, "runtime_s": round(time.perf_counter() - start, 2)})
    return SelResult(images=images, rows=rows, summary=summary, labels=image_like(labels, baseline))


def _mean(values):
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def _summary(rows, times, globals_, registration, voxel_mm3) -> dict:
    sel = [r for r in rows if r["sel_candidate"]]
    evaluated = [r for r in rows if r["sel_size_ok"]]
    others = [r for r in evaluated if not r["sel_candidate"]]
    lesion_volume = float(sum(r["volume_mm3"] for r in rows))
    sel_volume = float(sum(r["volume_mm3"] for r in sel))
    return {
        "sel_count": len(sel),
        "sel_definite_count": sum(r["sel_grade"] == "definite" for r in sel),
        "sel_ids": [r["id"] for r in sel],
        "sel_volume_mm3": sel_volume,
        "lesion_count": len(rows),
        "lesions_evaluated": len(evaluated),
        "lesion_volume_mm3": lesion_volume,
        "sel_volume_share": sel_volume / lesion_volume if lesion_volume > 0 else None,
        "min_voxels": SEL_MIN_VOXELS,
        "t1_norm_slope_sel_mean": _mean([r["t1_norm_slope"] for r in sel]),
        "t1_norm_slope_non_sel_mean": _mean([r["t1_norm_slope"] for r in others]),
        "global_log_jacobian": [float(g) for g in globals_],
        "global_volume_change_percent": [100.0 * (float(np.exp(g)) - 1.0) for g in globals_],
        "slope_unit": "per time unit of 'times' (visit interval when no times were given)",
        "registration": registration,
        "voxel_volume_mm3": voxel_mm3,
    }


def run(visits, lesions, out_dir, flair=None, brain_mask=None, times=None, progress=None) -> dict:
    """Read the images (paths), :func:`analyse`, and write into ``out_dir``:

    ``sel.tsv`` (lesion table schema + SEL columns), ``logjac_visit-NN.nii.gz`` (corrected
    log-Jacobian of each follow-up on the baseline grid) and ``sel_summary.json``. Returns the summary.
    """
    visit_images = [read_image(p, "intensity", f"--visits[{n + 1}]") for n, p in enumerate(visits)]
    lesion_image = read_image(lesions, "label", "--lesions")
    flair_images = [read_image(p, "intensity", f"--flair[{n + 1}]") for n, p in enumerate(flair)] if flair else None
    mask = read_image(brain_mask, "mask", "--brain-mask") if brain_mask else None
    result = analyse(visit_images, lesion_image, flair=flair_images, brain_mask=mask, times=times, progress=progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_lesion_table(result.rows, out / "sel.tsv")
    for name, image in result.images.items():
        write_image(image, out / f"{name}.nii.gz")
    summary = {**result.summary, "inputs": {"visits": [str(p) for p in visits], "lesions": str(lesions),
                                            "flair": [str(p) for p in flair] if flair else None,
                                            "brain_mask": str(brain_mask) if brain_mask else None}}
    write_json(out / "sel_summary.json", summary)
    return summary
