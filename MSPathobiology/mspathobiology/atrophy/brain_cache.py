"""One brain extraction per T1: reuse within a process and across processes.

Lesions, atrophy and PBVC of one session all extract the brain from the same T1. The
result of :func:`.brain_extraction.extract_brain` is kept

- in memory, for the later steps of the same process (a cohort run of one session);
- on disk, for later processes (one ``mspathobiology`` command per step): the brain and
  intracranial masks and ``extraction.json`` (method, details, the T1's content digest,
  the masks' digests) in ``$MSPATHOBIOLOGY_CACHE_DIR`` (default
  ``$XDG_CACHE_HOME/mspathobiology/brain_extraction``, i.e. ``~/.cache/...``; set the
  variable to ``off`` to disable).

An entry is found by a key that hashes the T1's content (float32 voxels, size, spacing,
origin, direction), the extraction method and a fingerprint of the code and versions that
make the masks, so a mask is never reused for another image or by changed code. A disk
entry is used only when its masks still have the recorded digests and the T1's grid. A
reused result says so in its method text and ``details["reused_from"]`` (the file).
Nothing here is needed for correctness: any disk problem just means the brain is extracted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..defaults.atrophy import BRAIN_CACHE_DISK_ENTRIES, BRAIN_CACHE_MEMORY_ENTRIES
from ..errors import InputError, OutputError
from ..geometry import same_geometry

CACHE_ENV = "MSPATHOBIOLOGY_CACHE_DIR"
DISABLED = ("", "0", "off", "no", "none", "false")
ENTRY_JSON = "extraction.json"
MASK_FILES = {"mask": "brain_mask.nii.gz", "icv": "icv_mask.nii.gz"}
#: Files whose code decides the masks: a change to any of them starts a new cache.
_CODE = ("atrophy/brain_extraction.py", "atrophy/tissue.py", "atrophy/template.py", "registration.py",
         "connectivity.py", "geometry.py", "defaults/atrophy.py", "defaults/common.py")

_memory: OrderedDict = OrderedDict()


def image_digest(image: sitk.Image) -> str:
    """SHA-256 (hex) of an image's voxels (as stored), pixel type, size, spacing, origin and direction."""
    h = hashlib.sha256()
    h.update(repr((image.GetPixelIDTypeAsString(), image.GetSize(), image.GetSpacing(), image.GetOrigin(),
                   image.GetDirection())).encode())
    h.update(memoryview(np.ascontiguousarray(sitk.GetArrayViewFromImage(image))).cast("B"))
    return h.hexdigest()


def _voxel_digest(image: sitk.Image) -> str:
    """SHA-256 of a mask's voxels and size only (a NIfTI round trip may round the geometry)."""
    h = hashlib.sha256(repr(image.GetSize()).encode())
    h.update(memoryview(np.ascontiguousarray(sitk.GetArrayViewFromImage(image), dtype=np.uint8)).cast("B"))
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of the source files that make the masks, the package, SimpleITK and numpy versions and
    the template files' names and sizes."""
    from .. import __version__
    from .template import template_folder

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(repr((__version__, sitk.Version_VersionString(), np.__version__)).encode())
    for name in _CODE:
        h.update(name.encode())
        h.update((root / name).read_bytes())
    try:
        folder = template_folder()
        h.update(repr(sorted((p.name, p.stat().st_size) for p in folder.glob("mni_icbm152*"))).encode())
    except InputError:
        pass
    return h.hexdigest()


def cache_key(t1_digest: str, method: str) -> str:
    """Key of the extraction of the T1 with content digest ``t1_digest`` by ``method``."""
    return hashlib.sha256(f"{t1_digest}|{method}|{code_fingerprint()}".encode()).hexdigest()


def cache_folder() -> Path | None:
    """Folder of the disk cache, or None when disabled (``MSPATHOBIOLOGY_CACHE_DIR=off``)."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in DISABLED else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mspathobiology" / "brain_extraction"


def _reused(extraction, where: str, t1_digest: str):
    from .brain_extraction import BrainExtraction

    details = dict(extraction.details)
    details["reused_from"] = where
    details["t1_sha256"] = t1_digest
    return BrainExtraction(extraction.mask, extraction.icv,
                           f"{extraction.method}; reused from {where} (same T1 content, sha256 {t1_digest[:12]})",
                           details)


def _remember(key: str, extraction, where: str) -> None:
    _memory[key] = (extraction, where)
    _memory.move_to_end(key)
    while len(_memory) > BRAIN_CACHE_MEMORY_ENTRIES:
        _memory.popitem(last=False)


def _load(folder: Path, key: str, t1: sitk.Image):
    from ..io import read_image, read_json
    from .brain_extraction import BrainExtraction

    entry = folder / key
    try:
        record = read_json(entry / ENTRY_JSON, expect=dict)
        if record.get("key") != key:
            return None
        images = {}
        for name, file in MASK_FILES.items():
            image = read_image(entry / file, kind="mask")
            if _voxel_digest(image) != record["digests"][name] or not same_geometry(image, t1):
                return None
            image.CopyInformation(t1)
            images[name] = image
        return BrainExtraction(images["mask"], images["icv"], record["method"], dict(record["details"]))
    except (InputError, OutputError, OSError, KeyError, TypeError, ValueError):
        return None


def _store(folder: Path, key: str, extraction, t1_digest: str) -> Path | None:
    from ..io import write_image, write_json

    entry = folder / key
    try:
        entry.mkdir(parents=True, exist_ok=True)
        digests = {}
        for name, file in MASK_FILES.items():
            image = sitk.Cast(getattr(extraction, name), sitk.sitkUInt8)
            write_image(image, entry / file)
            digests[name] = _voxel_digest(image)
        write_json(entry / ENTRY_JSON, {"key": key, "t1_sha256": t1_digest, "method": extraction.method,
                                        "details": extraction.details, "digests": digests,
                                        "files": MASK_FILES, "code_fingerprint": code_fingerprint()})
        _prune(folder)
        return entry / MASK_FILES["mask"]
    except (OutputError, OSError, TypeError, ValueError):
        return None


def _prune(folder: Path) -> None:
    """Keep the ``BRAIN_CACHE_DISK_ENTRIES`` most recently written entries."""
    entries = sorted((p for p in folder.iterdir() if (p / ENTRY_JSON).is_file()),
                     key=lambda p: (p / ENTRY_JSON).stat().st_mtime, reverse=True)
    for old in entries[BRAIN_CACHE_DISK_ENTRIES:]:
        shutil.rmtree(old, ignore_errors=True)


def cached_extraction(t1: sitk.Image, method: str, compute):
    """The brain extraction of ``t1`` by ``method``: reused (memory, then disk) when this T1's
    content was extracted before by the same code, else ``compute(t1)``, remembered and stored."""
    digest = image_digest(t1)
    key = cache_key(digest, method)
    if key in _memory:
        extraction, where = _memory[key]
        _memory.move_to_end(key)
        return _reused(extraction, where, digest)
    folder = cache_folder()
    if folder is not None:
        found = _load(folder, key, t1)
        if found is not None:
            where = str(folder / key / MASK_FILES["mask"])
            _remember(key, found, where)
            return _reused(found, where, digest)
    extraction = compute(t1)
    stored = None if folder is None else _store(folder, key, extraction, digest)
    _remember(key, extraction, str(stored) if stored is not None else f"memory (made earlier in process {os.getpid()})")
    return extraction


def clear_memory() -> None:
    """Forget the extractions kept in memory (the disk cache is left as is)."""
    _memory.clear()


__all__ = ["CACHE_ENV", "cache_folder", "cache_key", "cached_extraction", "clear_memory", "code_fingerprint",
           "image_digest"]