"""Image and file I/O: NIfTI and NRRD through SimpleITK, validated, written atomically.

Every reader raises :class:`~mspathobiology.errors.InputError` naming the file and
the problem (missing, corrupt, 4D, vector-valued, NaN, non-integer labels). Every
writer writes a temporary file in the target folder, flushes it, and renames it over
the target, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .defaults.common import LABEL_INTEGER_TOLERANCE
from .errors import InputError

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")

_UMASK = os.umask(0)
os.umask(_UMASK)
#: Permissions of written files: what ``open()`` would give (mkstemp alone gives 0600).
FILE_MODE = 0o666 & ~_UMASK


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in IMAGE_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix


def read_image(path, kind: str = "intensity", name: str | None = None) -> sitk.Image:
    """Read a 3D scalar image and validate it.

    ``kind`` is ``"intensity"`` (float32, must be finite), ``"label"`` (integer values
    >= 0, returned as UInt32; a float file is accepted only if every voxel is an
    integer) or ``"mask"`` (a label image returned as UInt8 0/1, any non-zero is 1).
    A 4D image whose 4th axis has length 1 is reduced to 3D; any other 4D image is
    refused. ``name`` replaces the path in error messages (e.g. ``"--flair"``).
    """
    path = Path(path)
    source = f"{name} ({path})" if name else str(path)
    if not path.exists():
        raise InputError(source, "file not found")
    if path.is_dir():
        raise InputError(source, "is a folder, not an image file")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown reader error"
        raise InputError(source, f"cannot be read as an image (corrupt or unsupported format): {first}") from None
    return validate_image(image, kind=kind, source=source)


def validate_image(image: sitk.Image, kind: str = "intensity", source: str = "image") -> sitk.Image:
    """Check an in-memory image as :func:`read_image` does, and return it in the canonical pixel type."""
    if kind not in ("intensity", "label", "mask"):
        raise ValueError(f"kind must be intensity, label or mask, not {kind!r}")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(source, f"has {image.GetNumberOfComponentsPerPixel()} components per voxel; "
                                 "a scalar 3D image is required")
    if image.GetDimension() == 4:
        size = image.GetSize()
        if size[3] != 1:
            raise InputError(source, f"is a 4D image of size {size} ({size[3]} volumes); give one 3D volume "
                                     "(e.g. extract the first volume)")
        image = sitk.Extract(image, (size[0], size[1], size[2], 0), (0, 0, 0, 0))
    elif image.GetDimension() != 3:
        raise InputError(source, f"is a {image.GetDimension()}D image; a 3D volume is required")

    if kind == "intensity":
        image = sitk.Cast(image, sitk.sitkFloat32)
        array = sitk.GetArrayViewFromImage(image)
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            raise InputError(source, f"contains {bad} NaN or infinite voxels; mask or fill them before analysis")
        return image

    array = sitk.GetArrayFromImage(image)
    validate_label_array(array, source)
    if kind == "mask":
        out = sitk.GetImageFromArray((array != 0).astype(np.uint8))
    else:
        out = sitk.GetImageFromArray(np.rint(array).astype(np.uint32))
    out.CopyInformation(image)
    return out


def validate_label_array(array: np.ndarray, source: str = "labels") -> None:
    """Raise :class:`InputError` unless ``array`` holds finite, non-negative integers."""
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        if not finite.all():
            raise InputError(source, f"label image contains {int((~finite).sum())} NaN or infinite voxels")
        frac = np.abs(array - np.rint(array))
        if frac.max(initial=0.0) > LABEL_INTEGER_TOLERANCE:
            example = float(array.ravel()[int(np.argmax(frac))])
            raise InputError(source, f"holds non-integer values (e.g. {example:.4g}); this looks like a "
                                     "probability map, not labels: threshold it first")
    if array.size and array.min() < 0:
        raise InputError(source, f"holds negative label values (min {array.min()}); labels must be >= 0")


def write_image(image: sitk.Image, path, compress: bool = True) -> Path:
    """Write ``image`` to ``path`` (NIfTI or NRRD by suffix) atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=_suffix(path), dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, FILE_MODE)
        sitk.WriteImage(image, tmp, compress)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a synced temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        os.chmod(tmp, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path, text: str) -> Path:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_json(path, obj, indent: int = 2) -> Path:
    """Write ``obj`` as JSON atomically; numpy scalars and arrays are converted. NaN is written as null."""
    text = json.dumps(_nan_to_none(obj), indent=indent, default=_json_default, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def _nan_to_none(obj):
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not np.isfinite(obj):
        return None
    return obj


def read_json(path, name: str | None = None):
    """Read a JSON file; a missing or malformed file raises :class:`InputError`."""
    path = Path(path)
    source = f"{name} ({path})" if name else str(path)
    if not path.exists():
        raise InputError(source, "file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(source, f"is not valid JSON: {exc}") from None
