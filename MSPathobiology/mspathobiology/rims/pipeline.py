"""Rim lesions of one case: :func:`analyse` in memory (PRL scores + CVS merged once, here), and
:func:`run_case` = read -> analyse -> write ``rims.tsv`` + ``rims.json``.

The CLI (``mspathobiology rims``), the cohort runner and the MSRimLesions module call only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..defaults import rims as D
from ..errors import InputError
from ..geometry import check_same_geometry, image_like, resample_label
from ..io import read_image, read_json, validate_image, write_image, write_json
from ..tables import read_table, write_table
from .cvs import CVS_COLUMNS, central_vein_sign_images, cvs_subject_summary
from .scoring import KINDS, RIM_COLUMNS, score_rim_images

#: Column order of rims.tsv (the CVS columns only when T2* was given).
MAIN_COLUMNS = ("id", "rim_score", "rim_coverage", "rim_slices", "prl_candidate")
GEOMETRY_COLUMNS = ("voxels", "volume_mm3", "radius_mm", "centroid_r", "centroid_a", "centroid_s")
#: Image keys :func:`analyse` reads, their kind for validation and their command-line name.
IMAGE_KEYS = {"lesions": ("label", "--lesions"), "qsm": ("intensity", "--qsm"), "phase": ("intensity", "--phase"),
              "swi": ("intensity", "--swi"), "t2star": ("intensity", "--t2star"),
              "t1post": ("intensity", "--t1-post"), "t1": ("intensity", "--t1"), "anatomy": ("label", "--anatomy"),
              "wm_mask": ("mask", "--wm-mask"), "brain_mask": ("mask", "--brain-mask"),
              "flair": ("intensity", "--flair")}
PRL_DEFINITION = ("paramagnetic rim over >= 2/3 of the lesion edge (calibrated whole-edge coverage, "
                  "RIM_COVERAGE_CALIBRATION) seen on >= 2 consecutive axial slices, enhancing lesions excluded "
                  "(Bagnato et al., Brain 2024)")


def rims_columns(with_cvs: bool) -> list[str]:
    """Column order of ``rims.tsv``."""
    rest = [c for c, _ in RIM_COLUMNS if c not in MAIN_COLUMNS]
    columns = list(MAIN_COLUMNS) + rest + list(GEOMETRY_COLUMNS)
    return columns + [c for c, _ in CVS_COLUMNS] if with_cvs else columns


def phase_convention(phase_sign: int) -> str:
    """The phase sign convention in words (written to rims.json and printed by the CLI)."""
    return (f"phase = {phase_sign:+d} x gamma x dB x TE: paramagnetic sources (iron, veins) have "
            f"{'positive' if phase_sign > 0 else 'negative'} phase (--phase-sign {phase_sign:+d})")


def enhancing_from_lesion_table(table) -> dict:
    """{id: bool} from the ``enhancing`` column of a lesion table (path or rows; empty cells skipped)."""
    rows = read_table(table, name="lesion table") if isinstance(table, (str, Path)) else list(table)
    if rows and "enhancing" not in rows[0]:
        raise InputError(str(table) if isinstance(table, (str, Path)) else "lesion table",
                         "lesion table has no 'enhancing' column")
    return {int(r["id"]): bool(r["enhancing"]) for r in rows if r.get("enhancing") is not None}


def white_matter_mask(anatomy: sitk.Image, lesions: sitk.Image | None = None) -> sitk.Image:
    """UInt8 mask of white matter (FreeSurfer aseg WM labels, ASEG_WHITE_MATTER_LABELS) plus lesion voxels."""
    aseg = sitk.GetArrayViewFromImage(anatomy)
    wm = np.isin(aseg, D.ASEG_WHITE_MATTER_LABELS)
    if lesions is not None:
        check_same_geometry(lesions, anatomy, names=("--lesions", "--anatomy"))
        wm |= sitk.GetArrayViewFromImage(lesions) > 0
    return image_like(wm.astype(np.uint8), anatomy)


@dataclass
class RimsResult:
    """Result of :func:`analyse` (in memory; :func:`run_case` writes it). Images share the map's grid."""
    rows: list                               #: one row per lesion: RIM_COLUMNS + geometry (+ CVS_COLUMNS)
    summary: dict                            #: flat counts: prl_candidates, prl_rim_lesions, ..., CVS summary
    prl_labels: sitk.Image                   #: lesion ids of PRL candidates, 0 elsewhere
    susceptibility: sitk.Image | None        #: local susceptibility (ppb) inverted from phase (None otherwise)
    info: dict = field(default_factory=dict)  #: map, units, phase convention, parameters, columns (JSON-able)

    @property
    def with_cvs(self) -> bool:
        return bool(self.info.get("cvs"))

    def summary_json(self) -> dict:
        """Summary and info in one JSON-able dict (what ``rims.json`` holds besides the inputs)."""
        return {"summary": self.summary, **self.info}


def _map_kind(images: dict) -> str:
    for kind in ("qsm", "phase", "swi"):
        if images.get(kind) is not None:
            return kind
    raise InputError("images", "rim scoring needs QSM ('qsm'), high-pass filtered phase ('phase') or SWI ('swi')")


def analyse(images: dict, *, phase_sign: int | None = None, enhancing=None, lesion_table=None,
            resample_lesions: bool = False, b0_tesla: float | None = None, te_ms: float | None = None,
            **score_options) -> RimsResult:
    """Score paramagnetic rims (and the central vein sign) of one case, in memory; nothing is written.

    ``images`` maps keys to SimpleITK images: ``lesions`` (required, voxel = lesion id) and
    one map, ``qsm`` (ppb), ``phase`` (unwrapped high-pass filtered, rad; inverted locally to
    susceptibility, :mod:`.phase`) or ``swi`` (SWI magnitude) - the first present in that order;
    optional ``t2star`` (magnitude/SWI, veins dark: CVS columns), ``t1post`` (with or without
    ``t1``: enhancing lesions, one definition, :mod:`mspathobiology.lesions.enhancing`),
    ``anatomy`` (FreeSurfer aseg: ring and outer band kept in white matter - strongly
    recommended), ``wm_mask`` or, failing both, ``brain_mask`` (also the phase inversion's mask;
    else the aseg's non-zero voxels, else a mask from phase coherence). ``flair`` and None
    values are ignored.

    Options: ``phase_sign`` (+1/-1: phase = phase_sign * gamma * dB * TE; default
    DEFAULT_PHASE_SIGN); ``enhancing`` (ids or {id: bool}) or ``lesion_table`` (rows or a path;
    its ``enhancing`` column) override ``t1post``; ``resample_lesions`` puts labels (and
    anatomy) on the map's grid by nearest neighbour instead of refusing a mismatch;
    ``b0_tesla`` / ``te_ms`` of the phase (default DEFAULT_B0_TESLA / DEFAULT_TE_MS); other
    ``score_options`` go to :func:`mspathobiology.rims.scoring.score_rims`.
    """
    kind = _map_kind(images)
    if images.get("lesions") is None:
        raise InputError("images", "a lesion label image ('lesions') is required for rim scoring")
    if phase_sign is None:
        phase_sign = D.DEFAULT_PHASE_SIGN
    if phase_sign not in (1, -1):
        raise InputError("phase_sign", f"must be +1 or -1, not {phase_sign!r}")
    loaded = {k: validate_image(v, IMAGE_KEYS[k][0], IMAGE_KEYS[k][1]) for k, v in images.items()
              if v is not None and k in IMAGE_KEYS}
    name = IMAGE_KEYS[kind][1]
    map_image = loaded[kind]
    lesions = loaded["lesions"]
    if resample_lesions:
        lesions = resample_label(lesions, map_image)
    check_same_geometry(lesions, map_image, names=("--lesions", name))

    anatomy = loaded.get("anatomy")
    if anatomy is not None and resample_lesions:
        anatomy = resample_label(anatomy, map_image)
    if anatomy is not None:
        tissue, tissue_source = white_matter_mask(anatomy, lesions), "anatomy (aseg white matter)"
    elif "wm_mask" in loaded:
        tissue, tissue_source = loaded["wm_mask"], "white-matter mask"
    elif "brain_mask" in loaded:
        tissue, tissue_source = loaded["brain_mask"], "brain mask"
    else:
        tissue, tissue_source = None, "none"

    if enhancing is not None:
        enhancement_source = "given"
    elif lesion_table is not None:
        enhancing, enhancement_source = enhancing_from_lesion_table(lesion_table), "lesion table"
    elif "t1post" in loaded:
        enhancement_source = "T1 post/pre contrast" if "t1" in loaded else "T1 post-contrast (no pre-contrast T1)"
    else:
        enhancement_source = "none (enhancement unknown)"

    options = dict(score_options)
    susceptibility = None
    if kind == "phase":
        from .phase import local_susceptibility_image

        mask = loaded.get("brain_mask")
        if mask is None and anatomy is not None:
            mask = image_like((sitk.GetArrayViewFromImage(anatomy) > 0).astype(np.uint8), anatomy)
        if mask is not None:
            check_same_geometry(mask, map_image, names=("phase mask", name))
        susceptibility = local_susceptibility_image(
            map_image, mask, phase_sign=phase_sign, b0_tesla=b0_tesla or D.DEFAULT_B0_TESLA,
            te_ms=te_ms or D.DEFAULT_TE_MS)
        score_map, score_kind = susceptibility, "qsm"
        options.setdefault("use_core", False)  # the scanner's high-pass removed the core's offset
        options.setdefault("z_threshold", D.PHASE_Z_THRESHOLD)
    else:
        score_map, score_kind = map_image, kind
    rows = score_rim_images(lesions, score_map, kind=score_kind, phase_sign=phase_sign, enhancing=enhancing,
                            t1post=loaded.get("t1post"), t1=loaded.get("t1"), tissue_mask=tissue,
                            names=("--lesions", name), **options)
    summary = {
        "prl_candidates": sum(bool(r["prl_candidate"]) for r in rows),
        "prl_lesions_scored": len(rows),
        "prl_rim_lesions": sum(bool(r["rim"]) for r in rows),
        "prl_excluded_enhancing": sum(r["prl_exclusion"] == "enhancing" for r in rows),
        "rim_map": kind,
        "rim_tissue_mask": tissue_source,
    }
    with_cvs = "t2star" in loaded
    if with_cvs:
        t2star = loaded["t2star"]
        cvs_lesions = resample_label(lesions, t2star) if resample_lesions else lesions
        cvs_rows = {r["id"]: r for r in central_vein_sign_images(cvs_lesions, t2star, names=("--lesions", "--t2star"))}
        for row in rows:
            extra = cvs_rows.get(row["id"], {})
            row.update({c: extra.get(c) for c, _ in CVS_COLUMNS})
        summary.update(cvs_subject_summary(rows))

    labels = sitk.GetArrayViewFromImage(lesions)
    chosen = np.array([r["id"] for r in rows if r["prl_candidate"]], dtype=np.int64)
    prl = np.where(np.isin(labels, chosen), labels, 0).astype(np.uint32)
    info = {
        "map": kind,
        "units": {"qsm": "ppb", "phase": "ppb (local susceptibility from phase)", "swi": KINDS["swi"]}[kind],
        "phase_sign": phase_sign if kind == "phase" else None,
        "phase_convention": phase_convention(phase_sign) if kind == "phase" else None,
        "b0_tesla": (b0_tesla or D.DEFAULT_B0_TESLA) if kind == "phase" else None,
        "te_ms": (te_ms or D.DEFAULT_TE_MS) if kind == "phase" else None,
        "enhancement_source": enhancement_source,
        "cvs": with_cvs,
        "parameters": {k: getattr(D, k) for k in dir(D) if k.isupper()} | {"options": score_options},
        "columns": dict(RIM_COLUMNS) | (dict(CVS_COLUMNS) if with_cvs else {}),
        "prl_definition": PRL_DEFINITION,
        "caveat": D.PHASE_CAVEAT if kind == "phase" else None,
    }
    return RimsResult(rows, summary, image_like(prl, lesions), susceptibility, info)


def _phase_sidecar(path: Path) -> dict:
    """MagneticFieldStrength (T) and EchoTime (s) from a BIDS JSON sidecar next to a phase image, if any."""
    stem = path.name[:-7] if path.name.endswith(".nii.gz") else path.stem
    sidecar = path.with_name(stem + ".json")
    if not sidecar.exists():
        return {}
    meta = read_json(sidecar, name=str(sidecar), expect=dict)
    out = {}
    if meta.get("MagneticFieldStrength"):
        out["b0_tesla"] = float(meta["MagneticFieldStrength"])
    if meta.get("EchoTime"):
        out["te_ms"] = float(meta["EchoTime"]) * 1000.0
    return out


def read_inputs(images: dict) -> dict:
    """{key: SimpleITK image} read with the project's reader from {key: path} (unknown keys ignored)."""
    return {k: read_image(Path(v), IMAGE_KEYS[k][0], IMAGE_KEYS[k][1]) for k, v in images.items()
            if v is not None and k in IMAGE_KEYS and k != "flair"}


def run_case(images: dict, out_dir, *, phase_sign: int | None = None, enhancing=None, lesion_table=None,
             resample_lesions: bool = False, b0_tesla: float | None = None, te_ms: float | None = None,
             **score_options) -> dict:
    """Read -> :func:`analyse` -> write, for one case.

    ``images`` maps the keys of :func:`analyse` to paths (other keys are ignored). For phase,
    ``b0_tesla`` / ``te_ms`` default to the phase image's BIDS sidecar (MagneticFieldStrength,
    EchoTime), else DEFAULT_B0_TESLA / DEFAULT_TE_MS. Writes ``out_dir/rims.tsv`` (one row per
    lesion), ``out_dir/rims.json`` (summary, map, phase convention, parameters, column meanings,
    inputs), ``prl_candidates.nii.gz`` and, for phase, ``susceptibility_from_phase.nii.gz``.
    Returns the flat summary (``prl_candidates``, ``prl_lesions_scored``, ``prl_rim_lesions``,
    ``prl_excluded_enhancing``, ``rim_map``, ``rim_tissue_mask`` and the CVS summary).
    """
    paths = {k: Path(v) for k, v in images.items() if v is not None}
    if "lesions" not in paths:
        raise InputError("images", "a lesion label image ('lesions') is required for rim scoring")
    kind = _map_kind(paths)
    if kind == "phase":
        sidecar = _phase_sidecar(paths["phase"])
        b0_tesla = b0_tesla or sidecar.get("b0_tesla")
        te_ms = te_ms or sidecar.get("te_ms")
    result = analyse(read_inputs(paths), phase_sign=phase_sign, enhancing=enhancing, lesion_table=lesion_table,
                     resample_lesions=resample_lesions, b0_tesla=b0_tesla, te_ms=te_ms, **score_options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_table(result.rows, out_dir / "rims.tsv", columns=rims_columns(result.with_cvs))
    write_image(result.prl_labels, out_dir / "prl_candidates.nii.gz")
    if result.susceptibility is not None:
        write_image(result.susceptibility, out_dir / "susceptibility_from_phase.nii.gz")
    write_json(out_dir / "rims.json", {**result.summary_json(), "inputs": {k: str(v) for k, v in paths.items()},
                                       "lesion_table": None if lesion_table is None or not isinstance(
                                           lesion_table, (str, Path)) else str(lesion_table)})
    return result.summary
