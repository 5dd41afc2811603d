"""The one reader and the one writer of files: images (NIfTI, NRRD, MetaImage), transforms,
JSON, tables (through :mod:`.tables`), PNG and plain bytes.

Reading (:func:`read_image`) refuses, with an :class:`~mspathobiology.errors.InputError`
naming the file, anything missing, corrupt or unusable: a ``.nii.gz`` whose gzip stream is
truncated or fails its CRC, a NIfTI whose voxel data are shorter than its header says
(SimpleITK would fill the missing part with zeros), NaN or infinite voxels (SimpleITK's
NIfTI reader silently turns them into 0, so they are checked on the raw bytes), 4D and
vector images, non-integer labels.

Writing: every writer writes a temporary file ``.tmp-<pid>-*`` in the target folder, syncs
it to disk, verifies it (its size, and a read-back: the image header and gzip stream, the
transform, the JSON, the PNG chunks), and only then renames it over the target and syncs
the folder. On any failure (disk full, read-only folder, failed verification) the temporary
file is removed, the previous file is unchanged and :class:`~mspathobiology.errors.OutputError`
is raised. Temporary files left by killed processes are removed at the next write into
their folder (:func:`clean_stale_temp`).
"""

from __future__ import annotations

import contextlib
import gzip
import io as _io
import json
import os
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .defaults.common import LABEL_INTEGER_TOLERANCE
from .defaults.io import LOCK_POLL_SECONDS, LOCK_TIMEOUT_SECONDS, MAX_MASK_FRACTION, STALE_TEMP_SECONDS
from .errors import InputError, LockedError, OutputError

try:  # POSIX advisory locks, released by the operating system when the process ends
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
try:  # Windows byte-range locks, released when the handle closes or the process ends
    import msvcrt
except ImportError:
    msvcrt = None

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
TEMP_PREFIX = ".tmp-"

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


def _source(path, name) -> str:
    return f"{name} ({path})" if name else str(path)


# --- NIfTI integrity ------------------------------------------------------------------

#: NIfTI datatype code -> numpy dtype whose values must be finite (float and complex types).
_NIFTI_FLOAT_TYPES = {16: "f4", 64: "f8", 32: "f4", 1792: "f8"}


def _file_bytes(path: Path, source: str) -> bytes:
    """The file's content, gunzipped for ``.gz`` (checking the gzip CRC and length)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(source, f"cannot be read: {exc.strerror or exc}") from None
    if not path.name.lower().endswith(".gz"):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise InputError(source, "is truncated (the gzip stream ends early); the file was not "
                                 "written or copied completely") from None
    except (OSError, zlib.error) as exc:
        raise InputError(source, f"is corrupt (gzip: {exc})") from None


def nifti_header(data: bytes, source: str = "image") -> dict:
    """Parse the fields of a NIfTI-1/2 header needed to check the file: ``dims`` (voxels per
    axis), ``datatype``, ``bitpix``, ``vox_offset`` (bytes), ``endian`` (``<`` or ``>``)."""
    if len(data) < 348:
        raise InputError(source, f"is truncated: {len(data)} bytes, shorter than a NIfTI header")
    for endian in "<>":
        size = struct.unpack(endian + "i", data[:4])[0]
        if size == 348:
            dim = struct.unpack(endian + "8h", data[40:56])
            datatype, bitpix = struct.unpack(endian + "2h", data[70:74])
            vox_offset = struct.unpack(endian + "f", data[108:112])[0]
            break
        if size == 540:
            if len(data) < 540:
                raise InputError(source, f"is truncated: {len(data)} bytes, shorter than a NIfTI-2 header")
            datatype, bitpix = struct.unpack(endian + "2h", data[12:16])
            dim = struct.unpack(endian + "8q", data[16:80])
            vox_offset = struct.unpack(endian + "q", data[168:176])[0]
            break
    else:
        raise InputError(source, "is not a NIfTI file (bad header size field)")
    ndim = dim[0]
    if not 1 <= ndim <= 7 or any(d < 1 for d in dim[1:ndim + 1]) or bitpix <= 0 or bitpix % 8:
        raise InputError(source, f"has a corrupt NIfTI header (dim {tuple(dim)}, bitpix {bitpix})")
    if not np.isfinite(vox_offset) or vox_offset < 0:
        raise InputError(source, f"has a corrupt NIfTI header (vox_offset {vox_offset})")
    return {"dims": tuple(int(d) for d in dim[1:ndim + 1]), "datatype": int(datatype), "bitpix": int(bitpix),
            "vox_offset": int(vox_offset), "endian": endian}


def check_nifti_bytes(data: bytes, source: str = "image", finite: bool = True) -> dict:
    """Check decompressed NIfTI content: voxel data as long as the header says and, with
    ``finite``, no NaN or infinite voxel in float data. Returns the header (:func:`nifti_header`)."""
    header = nifti_header(data, source)
    n_voxels = int(np.prod(header["dims"], dtype=np.int64))
    needed = n_voxels * header["bitpix"] // 8
    start = max(header["vox_offset"], 348)
    have = len(data) - start
    if have < needed:
        raise InputError(source, f"is truncated: {max(have, 0)} of {needed} bytes of voxel data "
                                 f"({100.0 * max(have, 0) / needed:.1f} %); SimpleITK would fill the rest with zeros")
    dtype = _NIFTI_FLOAT_TYPES.get(header["datatype"])
    if finite and dtype is not None:
        count = needed // np.dtype(dtype).itemsize
        values = np.frombuffer(data, dtype=header["endian"] + dtype, count=count, offset=start)
        bad = int(count - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise InputError(source, f"contains {bad} NaN or infinite voxels; mask or fill them before analysis")
    return header


def check_image_file(path, name: str | None = None) -> None:
    """Raise :class:`InputError` if a NIfTI file is truncated, fails its gzip CRC or holds
    NaN/Inf voxels (other formats are checked by their SimpleITK readers, which raise)."""
    path = Path(path)
    if _suffix(path) in (".nii", ".nii.gz"):
        check_nifti_bytes(_file_bytes(path, _source(path, name)), _source(path, name))


@contextlib.contextmanager
def quiet_c_stderr():
    """Hide what C libraries print on file descriptor 2 while the block runs (niftilib's
    "** ERROR: NWAD" lines on a full disk, MetaImage's read messages): the package reports
    those failures itself, in one line."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no file descriptor 2 (embedded interpreter)
        yield
        return
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


# --- reading -----------------------------------------------------------------------------

def read_image(path, kind: str = "intensity", name: str | None = None) -> sitk.Image:
    """Read a 3D scalar image, check the file and its values, and return it.

    ``kind`` is ``"intensity"`` (float32, must be finite), ``"label"`` (integer values
    >= 0, returned as UInt32; a float file is accepted only if every voxel is an
    integer) or ``"mask"`` (a label image returned as UInt8 0/1, any non-zero is 1).
    A 4D image whose 4th axis has length 1 is reduced to 3D; any other 4D image is
    refused. ``name`` replaces the path in error messages (e.g. ``"--flair"``).
    """
    path = Path(path)
    source = _source(path, name)
    if not path.exists():
        raise InputError(source, "file not found")
    if path.is_dir():
        raise InputError(source, "is a folder, not an image file")
    if path.stat().st_size == 0:
        raise InputError(source, "is empty (0 bytes)")
    check_image_file(path, name)
    try:
        with quiet_c_stderr():
            image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        first = lines[-1] if lines else "unknown reader error"
        raise InputError(source, f"cannot be read as an image (corrupt, truncated or unsupported format): "
                                 f"{first}") from None
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
    spacing = np.asarray(image.GetSpacing())
    if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0) or not np.all(np.isfinite(image.GetOrigin())) \
            or not np.all(np.isfinite(image.GetDirection())):
        raise InputError(source, f"has an invalid geometry (spacing {tuple(spacing)} mm, origin {image.GetOrigin()})")

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


def check_mask_coverage(image: sitk.Image, source: str = "mask", max_fraction: float = MAX_MASK_FRACTION) -> float:
    """Refuse a mask or lesion labelmap whose non-zero voxels fill at least ``max_fraction`` of
    the image (an inverted mask or a wrong file); return the fraction covered."""
    array = sitk.GetArrayViewFromImage(image)
    fraction = float(np.count_nonzero(array)) / max(array.size, 1)
    if fraction >= max_fraction:
        raise InputError(source, f"covers {100 * fraction:.1f} % of the image; a brain or lesion mask must "
                                 f"mark a region (< {100 * max_fraction:.0f} %): is it inverted or the wrong file?")
    return fraction


def read_json(path, name: str | None = None, expect: type | None = None):
    """Read a JSON file; a missing or malformed file raises :class:`InputError`.

    ``expect`` (e.g. ``dict``) also refuses valid JSON of another top-level type.
    """
    path = Path(path)
    source = _source(path, name)
    if not path.exists():
        raise InputError(source, "file not found")
    if path.is_dir():
        raise InputError(source, "is a folder, not a JSON file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(source, f"is not valid JSON: {exc}") from None
    except OSError as exc:
        raise InputError(source, f"cannot be read: {exc.strerror or exc}") from None
    if expect is not None and not isinstance(data, expect):
        raise InputError(source, f"holds a JSON {type(data).__name__}, not the expected {expect.__name__}")
    return data


def read_transform(path, name: str | None = None) -> sitk.Transform:
    """Read an ITK transform file (``.tfm``, ``.txt``, ``.h5``); unreadable files raise :class:`InputError`."""
    path = Path(path)
    source = _source(path, name)
    if not path.is_file():
        raise InputError(source, "file not found")
    try:
        return sitk.ReadTransform(str(path))
    except RuntimeError as exc:
        raise InputError(source, f"cannot be read as a transform: {str(exc).strip().splitlines()[-1]}") from None


# --- temporary files and locks ---------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process on Windows: rely on the age rule there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale_temp(folder) -> list[Path]:
    """Remove temporary files of the atomic writers (``.tmp-<pid>-*``) in ``folder`` whose
    process is gone, or that are older than ``STALE_TEMP_SECONDS``. Returns what was removed."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        pid_text = entry.name[len(TEMP_PREFIX):].split("-", 1)[0]
        try:
            stale = not pid_text.isdigit() or not _pid_alive(int(pid_text)) \
                or now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_SECONDS
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def fsync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable (POSIX; Windows cannot open folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def _prepare_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(path, f"cannot be written: {_first_file_ancestor(path.parent)} is a file, not a folder") \
            from None
    except OSError as exc:
        raise OutputError(path, f"cannot create its folder: {exc.strerror or exc}") from None
    if path.is_dir():
        raise OutputError(path, "is a folder; a file of that name cannot replace it")
    clean_stale_temp(path.parent)


def _first_file_ancestor(folder: Path) -> Path:
    for candidate in [folder, *folder.parents]:
        if candidate.exists():
            return candidate
    return folder


@contextlib.contextmanager
def temporary_file(path: Path, suffix: str):
    """A temporary file name next to ``path``; removed on exit unless it was renamed."""
    _prepare_folder(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise OutputError(path, f"cannot be written: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        os.chmod(tmp, FILE_MODE)
        yield Path(tmp)
    except OSError as exc:
        raise OutputError(path, f"could not be written ({exc.strerror or exc}); the previous file is unchanged") \
            from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def commit_file(tmp: Path, path: Path) -> None:
    """Sync ``tmp``, rename it over ``path`` and sync the folder."""
    try:
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(path, f"could not be written ({exc.strerror or exc}); the previous file is unchanged") \
            from None
    fsync_folder(path.parent)


def open_lock_file(path):
    """Open (create) a lock file for :func:`try_lock`; raises :class:`OutputError` when it cannot be made."""
    try:
        return open(path, "a+")
    except OSError as exc:
        raise OutputError(path, f"cannot create the lock file: {exc.strerror or exc}") from None


def try_lock(handle) -> bool:
    """Take an exclusive lock on an open lock file without waiting; False when another process (or
    another handle) holds it. ``fcntl.flock`` on POSIX, ``msvcrt.locking`` of the first byte on
    Windows: both are released by the system when the handle closes or the process dies."""
    if fcntl is not None:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False
    handle.seek(0)
    try:
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def release_lock(handle) -> None:
    """Release a lock taken by :func:`try_lock` and close the handle."""
    try:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        else:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    except OSError:
        pass
    finally:
        handle.close()


@contextlib.contextmanager
def file_lock(path, timeout: float = LOCK_TIMEOUT_SECONDS, what: str = "file"):
    """Hold an exclusive lock on ``path`` (a lock file, created if needed) while the block runs
    (:func:`try_lock`: released by the system if the process dies). Waits up to ``timeout`` seconds,
    then raises :class:`~mspathobiology.errors.LockedError`.
    """
    path = Path(path)
    deadline = time.monotonic() + timeout
    handle = open_lock_file(path)
    try:
        while not try_lock(handle):
            if time.monotonic() >= deadline:
                waited = f" for more than {timeout:g} s" if timeout > 0 else ""
                raise LockedError(path, f"the {what} is locked by another process{waited}; try again "
                                        "when it has finished")
            time.sleep(LOCK_POLL_SECONDS)
        yield path
    finally:
        release_lock(handle)


def folder_writable(folder) -> bool:
    """Whether files can be created in ``folder`` (or in its nearest existing parent)."""
    folder = _first_file_ancestor(Path(folder))
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


# --- writing -----------------------------------------------------------------------------

def _image_matches(info: sitk.ImageFileReader, image: sitk.Image) -> bool:
    return (tuple(info.GetSize()) == tuple(image.GetSize())
            and np.allclose(info.GetSpacing(), image.GetSpacing(), rtol=1e-5, atol=1e-6)
            and np.allclose(info.GetOrigin(), image.GetOrigin(), rtol=1e-5, atol=1e-4))


def _verify_image_file(tmp: Path, image: sitk.Image, path: Path) -> None:
    if tmp.stat().st_size == 0:
        raise OutputError(path, "could not be written (0 bytes: disk full?); the previous file is unchanged")
    try:
        if _suffix(path) in (".nii", ".nii.gz"):
            check_nifti_bytes(_file_bytes(tmp, str(path)), str(path), finite=False)
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(tmp))
        reader.ReadImageInformation()
        ok = _image_matches(reader, image)
    except (InputError, RuntimeError) as exc:
        raise OutputError(path, f"failed its read-back after writing (disk full?): "
                                f"{getattr(exc, 'problem', exc)}; the previous file is unchanged") from None
    if not ok:
        raise OutputError(path, "failed its read-back after writing (header differs); the previous file is unchanged")


def write_image(image: sitk.Image, path, compress: bool = True) -> Path:
    """Write ``image`` to ``path`` (format by suffix) atomically and verified; return the path."""
    path = Path(path)
    with temporary_file(path, _suffix(path)) as tmp:
        try:
            with quiet_c_stderr():
                sitk.WriteImage(image, str(tmp), compress)
        except RuntimeError as exc:
            raise OutputError(path, f"could not be written ({str(exc).strip().splitlines()[-1]}); "
                                    "the previous file is unchanged") from None
        _verify_image_file(tmp, image, path)
        commit_file(tmp, path)
    return path


def write_transform(transform: sitk.Transform, path) -> Path:
    """Write an ITK transform (``.tfm``/``.txt``/``.h5``) atomically, verified by reading it back."""
    path = Path(path)
    with temporary_file(path, path.suffix) as tmp:
        try:
            sitk.WriteTransform(transform, str(tmp))
            back = sitk.ReadTransform(str(tmp))
        except RuntimeError as exc:
            raise OutputError(path, f"could not be written ({str(exc).strip().splitlines()[-1]}); "
                                    "the previous file is unchanged") from None
        if not np.allclose(back.GetParameters(), transform.GetParameters(), rtol=1e-6, atol=1e-9):
            raise OutputError(path, "failed its read-back after writing; the previous file is unchanged")
        commit_file(tmp, path)
    return path


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _verify_bytes(path: Path, data: bytes) -> None:
    """Check that ``data`` is a complete file of the kind its suffix names."""
    name = path.name.lower()
    try:
        if name.endswith(".png"):
            if not data.startswith(_PNG_SIGNATURE) or data[-8:-4] != b"IEND":
                raise ValueError("not a complete PNG (no signature or no IEND chunk)")
        elif name.endswith(".json"):
            json.loads(data.decode("utf-8"))
        elif name.endswith(".gz"):
            gzip.decompress(data)
    except (ValueError, EOFError, OSError, zlib.error) as exc:
        raise OutputError(path, f"refused: the content to write is not valid ({exc})") from None


def atomic_write_bytes(path, data: bytes, verify: bool = True) -> Path:
    """Write ``data`` to ``path`` through a synced, size-checked temporary file and an atomic rename.

    With ``verify``, PNG, JSON and gzip content is checked before writing.
    """
    path = Path(path)
    data = bytes(data)
    if verify:
        _verify_bytes(path, data)
    with temporary_file(path, path.suffix) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        size = tmp.stat().st_size
        if size != len(data):
            raise OutputError(path, f"could not be written completely ({size} of {len(data)} bytes: disk full?); "
                                    "the previous file is unchanged")
        commit_file(tmp, path)
    return path


def atomic_write_text(path, text: str) -> Path:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_figure(figure, path, **savefig_options) -> Path:
    """Save a matplotlib figure (PNG by default) atomically and verified (see :func:`atomic_write_bytes`)."""
    path = Path(path)
    buffer = _io.BytesIO()
    savefig_options.setdefault("format", path.suffix.lstrip(".").lower() or "png")
    figure.savefig(buffer, **savefig_options)
    return atomic_write_bytes(path, buffer.getvalue())


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_text(obj, indent: int = 2) -> str:
    """``obj`` as JSON text; numpy scalars and arrays are converted, NaN and infinities become null."""
    return json.dumps(_nan_to_none(obj), indent=indent, default=_json_default, allow_nan=False) + "\n"


def write_json(path, obj, indent: int = 2) -> Path:
    """Write ``obj`` as JSON atomically (:func:`json_text`)."""
    return atomic_write_text(path, json_text(obj, indent))


def _nan_to_none(obj):
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not np.isfinite(obj):
        return None
    return obj
