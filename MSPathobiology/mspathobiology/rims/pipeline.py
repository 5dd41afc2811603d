"""One case end to end: rim scores (and CVS when T2* is given) -> ``rims.tsv`` + ``rims.json``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..defaults import rims as D
from ..errors import InputError
from ..geometry import check_same_geometry, image_like, resample_label
from ..io import read_image, write_json
from ..tables import read_table, write_table
from .cvs import CVS_COLUMNS, central_vein_sign_images, cvs_subject_summary
from .scoring import RIM_COLUMNS, score_rim_images

#: Column order of rims.tsv (the CVS columns only when T2* was given).
MAIN_COLUMNS = ("id", "rim_score", "rim_coverage", "rim_slices", "prl_candidate")
GEOMETRY_COLUMNS = ("voxels", "volume_mm3", "radius_mm", "centroid_r", "centroid_a", "centroid_s")


def rims_columns(with_cvs: bool) -> list[str]:
    """Column order of ``rims.tsv``."""
    rest = [c for c, _ in RIM_COLUMNS if c not in MAIN_COLUMNS]
    columns = list(MAIN_COLUMNS) + rest + list(GEOMETRY_COLUMNS)
    return columns + [c for c, _ in CVS_COLUMNS] if with_cvs else columns


def enhancing_from_lesion_table(path) -> dict:
    """{id: bool} from the ``enhancing`` column of a lesion table (empty cells are skipped)."""
    rows = read_table(path, name="lesion table")
    if rows and "enhancing" not in rows[0]:
        raise InputError(path, "lesion table has no 'enhancing' column")
    return {int(r["id"]): bool(r["enhancing"]) for r in rows if r.get("enhancing") is not None}


def white_matter_mask(anatomy: sitk.Image, lesions: sitk.Image | None = None) -> sitk.Image:
    """UInt8 mask of white matter (FreeSurfer aseg WM labels, ASEG_WHITE_MATTER_LABELS) plus lesion voxels."""
    aseg = sitk.GetArrayViewFromImage(anatomy)
    wm = np.isin(aseg, D.ASEG_WHITE_MATTER_LABELS)
    if lesions is not None:
        check_same_geometry(lesions, anatomy, names=("--lesions", "--anatomy"))
        wm |= sitk.GetArrayViewFromImage(lesions) > 0
    return image_like(wm.astype(np.uint8), anatomy)


def run_case(images: dict, out_dir, *, phase_sign: int | None = None, enhancing=None, lesion_table=None,
             resample_lesions: bool = False, **score_options) -> dict:
    """Score paramagnetic rims (and the central vein sign) of one case and write its files.

    ``images`` maps bids keys to paths: ``lesions`` (required, voxel = lesion id) and ``qsm``
    (ppb) or ``phase`` (high-pass filtered, rad; QSM is used when both are given);
    optional ``t2star`` (magnitude/SWI, veins dark: adds CVS columns), ``t1post`` (enhancing
    lesions are excluded from PRL candidacy; with ``t1``, enhancement is the post/pre gain), ``anatomy`` (FreeSurfer aseg: the reference
    ring and outer edge band are kept in white matter - strongly recommended, since cortex,
    deep grey matter and CSF are paramagnetic relative to white matter), ``wm_mask`` (a
    white-matter mask instead of the aseg) or, failing both, ``brain_mask``. ``flair`` is
    accepted and recorded but not needed for scoring.
    ``phase_sign``: +1/-1 with phase = phase_sign * gamma * dB * TE (default
    DEFAULT_PHASE_SIGN). ``enhancing``: ids or {id: bool}; ``lesion_table``: a lesion table
    whose ``enhancing`` column is used (both override ``t1post``). ``resample_lesions``: put
    the label image on the map's grid by nearest neighbour instead of refusing a mismatch.
    ``score_options`` go to :func:`mspathobiology.rims.scoring.score_rims`.

    Writes ``out_dir/rims.tsv`` (one row per lesion) and ``out_dir/rims.json`` (summary,
    parameters, column meanings). Returns a flat summary dict: ``prl_candidates``,
    ``prl_lesions_scored``, ``prl_rim_lesions`` (rim criteria met, enhancing or not),
    ``prl_excluded_enhancing``, ``rim_map``, and the CVS summary when T2* was given.
    """
    images = {k: Path(v) for k, v in images.items() if v is not None}
    if "lesions" not in images:
        raise InputError("images", "a lesion label image ('lesions') is required for rim scoring")
    kind = "qsm" if "qsm" in images else "phase" if "phase" in images else None
    if kind is None:
        raise InputError("images", "rim scoring needs QSM ('qsm') or high-pass filtered phase ('phase')")
    if phase_sign is None:
        phase_sign = D.DEFAULT_PHASE_SIGN
    if phase_sign not in (1, -1):
        raise InputError("phase_sign", f"must be +1 or -1, not {phase_sign!r}")
    name = {"qsm": "--qsm", "phase": "--phase"}[kind]
    map_image = read_image(images[kind], "intensity", name)
    lesions = read_image(images["lesions"], "label", "--lesions")
    if resample_lesions:
        lesions = resample_label(lesions, map_image)
    t1post = read_image(images["t1post"], "intensity", "--t1-post") if "t1post" in images else None
    t1 = read_image(images["t1"], "intensity", "--t1") if ("t1" in images and t1post is not None) else None
    if "anatomy" in images:
        anatomy = read_image(images["anatomy"], "label", "--anatomy")
        if resample_lesions:
            anatomy = resample_label(anatomy, map_image)
        tissue, tissue_source = white_matter_mask(anatomy, lesions), "anatomy (aseg white matter)"
    elif "wm_mask" in images:
        tissue, tissue_source = read_image(images["wm_mask"], "mask", "--wm-mask"), "white-matter mask"
    elif "brain_mask" in images:
        tissue, tissue_source = read_image(images["brain_mask"], "mask", "--brain-mask"), "brain mask"
    else:
        tissue, tissue_source = None, "none"
    if lesion_table is not None:
        enhancing = enhancing_from_lesion_table(lesion_table)
    rows = score_rim_images(lesions, map_image, kind=kind, phase_sign=phase_sign, enhancing=enhancing,
                            t1post=t1post, t1=t1, tissue_mask=tissue, names=("--lesions", name), **score_options)
    summary = {
        "prl_candidates": sum(bool(r["prl_candidate"]) for r in rows),
        "prl_lesions_scored": len(rows),
        "prl_rim_lesions": sum(bool(r["rim"]) for r in rows),
        "prl_excluded_enhancing": sum(r["prl_exclusion"] == "enhancing" for r in rows),
        "rim_map": kind,
        "rim_tissue_mask": tissue_source,
    }
    with_cvs = "t2star" in images
    if with_cvs:
        t2star = read_image(images["t2star"], "intensity", "--t2star")
        cvs_lesions = resample_label(lesions, t2star) if resample_lesions else lesions
        cvs_rows = {r["id"]: r for r in central_vein_sign_images(cvs_lesions, t2star, names=("--lesions", "--t2star"))}
        for row in rows:
            extra = cvs_rows.get(row["id"], {})
            row.update({c: extra.get(c) for c, _ in CVS_COLUMNS})
        summary.update(cvs_subject_summary(rows))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_table(rows, out_dir / "rims.tsv", columns=rims_columns(with_cvs))
    write_json(out_dir / "rims.json", {
        "summary": summary,
        "inputs": {k: str(v) for k, v in images.items()},
        "map": kind, "units": "ppb" if kind == "qsm" else "rad",
        "phase_sign": phase_sign if kind == "phase" else None,
        "parameters": {k: getattr(D, k) for k in dir(D) if k.isupper()} | {"options": score_options},
        "columns": dict(RIM_COLUMNS) | (dict(CVS_COLUMNS) if with_cvs else {}),
        "prl_definition": "paramagnetic rim over >= 2/3 of the lesion edge seen on >= 2 consecutive axial "
                          "slices, enhancing lesions excluded (Bagnato et al., Brain 2024); measured as "
                          f"rim_score >= {D.PRL_MIN_EDGE_COVERAGE} (see rims.scoring)",
    })
    return summary
