"""BIDS file naming: the one map from the project's image keys to BIDS names.

Image keys used across the project (API, CLI, cohort tables, Slicer):

raw images (``sub-*/ses-*/anat``):
  ``t1`` T1w, ``t1post`` ce-gadolinium T1w, ``flair`` FLAIR, ``qsm`` Chimap (ppb),
  ``phase`` part-phase T2starw (high-pass filtered, rad), ``t2star`` part-mag T2starw.
derivatives (``derivatives/<pipeline>/sub-*/ses-*/<datatype>``):
  ``anatomy`` desc-aseg dseg (FreeSurfer aseg values), ``parcellation`` desc-parcellation dseg,
  ``brain_mask`` desc-brain mask, ``lesions`` desc-lesions dseg (voxel = lesion id),
  ``tractogram`` (dwi) tractography .tck/.trk.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Entity order of the BIDS specification (subset used here).
ENTITY_ORDER = ("sub", "ses", "task", "acq", "ce", "rec", "run", "echo", "part", "space", "res", "desc")

RAW = {
    "t1": ({}, "T1w"),
    "t1post": ({"ce": "gadolinium"}, "T1w"),
    "flair": ({}, "FLAIR"),
    "qsm": ({}, "Chimap"),
    "phase": ({"part": "phase"}, "T2starw"),
    "t2star": ({"part": "mag"}, "T2starw"),
}

DERIVED = {
    "anatomy": ({"desc": "aseg"}, "dseg", "anat"),
    "parcellation": ({"desc": "parcellation"}, "dseg", "anat"),
    "brain_mask": ({"desc": "brain"}, "mask", "anat"),
    "lesions": ({"desc": "lesions"}, "dseg", "anat"),
    "tractogram": ({}, "tractography", "dwi"),
}

IMAGE_KEYS = tuple(RAW) + tuple(DERIVED)


def entity_string(entities: dict) -> str:
    """Join entities in BIDS order: ``sub-01_ses-02_part-phase``."""
    unknown = set(entities) - set(ENTITY_ORDER)
    if unknown:
        raise ValueError(f"unknown BIDS entities {sorted(unknown)}")
    for key, value in entities.items():
        if not re.fullmatch(r"[A-Za-z0-9]+", str(value)):
            raise ValueError(f"BIDS entity {key}-{value}: values must be alphanumeric")
    return "_".join(f"{k}-{entities[k]}" for k in ENTITY_ORDER if entities.get(k) not in (None, ""))


def filename(subject: str, session: str | None, key: str, ext: str = ".nii.gz", **entities) -> str:
    """BIDS file name for image ``key`` of a subject/session, e.g. ``sub-01_ses-01_FLAIR.nii.gz``."""
    if key in RAW:
        base, suffix = RAW[key]
    elif key in DERIVED:
        base, suffix, _ = DERIVED[key]
    else:
        raise KeyError(f"unknown image key {key!r}; known: {', '.join(IMAGE_KEYS)}")
    merged = {"sub": subject, "ses": session, **base, **entities}
    return f"{entity_string(merged)}_{suffix}{ext}"


def raw_path(root, subject: str, session: str | None, key: str, ext: str = ".nii.gz") -> Path:
    """Path of a raw image in a BIDS dataset rooted at ``root``."""
    folder = Path(root) / f"sub-{subject}"
    if session:
        folder = folder / f"ses-{session}"
    return folder / "anat" / filename(subject, session, key, ext)


def derivative_path(root, pipeline: str, subject: str, session: str | None, key: str,
                    ext: str = ".nii.gz", **entities) -> Path:
    """Path of a derived file under ``root/derivatives/<pipeline>``."""
    datatype = DERIVED[key][2] if key in DERIVED else "anat"
    folder = Path(root) / "derivatives" / pipeline / f"sub-{subject}"
    if session:
        folder = folder / f"ses-{session}"
    return folder / datatype / filename(subject, session, key, ext, **entities)


def parse_entities(name: str) -> tuple[dict, str, str]:
    """Split a BIDS file name into (entities, suffix, extension)."""
    base = Path(name).name
    stem, dot, ext = base.partition(".")
    parts = stem.split("_")
    entities = dict(p.split("-", 1) for p in parts[:-1] if "-" in p)
    return entities, parts[-1], dot + ext
