"""Bad inputs and hostile conditions shared by the fault tests (test_io_safety, test_fuzz) and
benchmarks/bad_inputs.py: damaged files, NaN images, hostile names, a full disk, a
read-only folder, and a way to run a subcommand in-process and classify the outcome.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

#: Names an attacker or an unlucky user might give: markup, quotes, path tricks, control
#: characters, non-ASCII, very long.
HOSTILE_NAMES = (
    "<svg onload=alert(1)>", "\"'><script>x</script>", "../../etc/passwd", "a\tb\nc", "Zoë Ødegård",
    "jane doe", "Jane.Doe", "x" * 300, "-rf", " ", "rater;rm -rf ~", "名前", "\x00nul", "%s%n{0}",
)


def small_image(shape=(12, 14, 10), spacing=(2.0, 2.0, 2.0), dtype=np.float32, seed=0, values=None):
    """A small random image (z, y, x array ``shape``) in LPS with a 2 mm grid."""
    array = values if values is not None else np.random.default_rng(seed).normal(100, 10, shape).astype(dtype)
    image = sitk.GetImageFromArray(np.asarray(array))
    image.SetSpacing(spacing)
    image.SetOrigin((-10.0, -12.0, -8.0))
    return image


def truncate(path, fraction: float = 0.6) -> Path:
    """Cut a file to ``fraction`` of its bytes (an interrupted copy)."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * fraction))])
    return path


def flip_byte(path, where: float = 0.5) -> Path:
    """Invert one byte in the middle of a file (bit rot; breaks the gzip CRC)."""
    path = Path(path)
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def write_nan_nifti(path, shape=(12, 14, 10), n_bad: int = 3, seed=0) -> Path:
    """A float32 NIfTI with NaN and Inf voxels, written with nibabel (SimpleITK's reader would
    turn them into 0, so this is what the package's reader must catch on the raw bytes)."""
    import nibabel as nib

    array = np.random.default_rng(seed).normal(100, 10, shape).astype(np.float32)
    flat = array.reshape(-1)
    flat[:n_bad] = [np.nan, np.inf, -np.inf][:n_bad] + [np.nan] * max(0, n_bad - 3)
    nib.save(nib.Nifti1Image(array, np.diag([2.0, 2.0, 2.0, 1.0])), str(path))
    return Path(path)


def snapshot(folder) -> dict[str, str]:
    """{relative path: sha256} of every file under ``folder`` (to prove nothing changed)."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def temp_files(folder) -> list[Path]:
    """Temporary files of the atomic writers left under ``folder``."""
    return [p for p in Path(folder).rglob(".tmp-*")] if Path(folder).exists() else []


@dataclass
class Outcome:
    code: int | None
    stdout: str
    stderr: str
    traceback: str = ""

    @property
    def clear_error(self) -> bool:
        """Non-zero exit, exactly one line on stderr, no traceback."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return bool(self.code) and not self.traceback and len(lines) == 1 and "Traceback" not in self.stderr

    @property
    def ok(self) -> bool:
        return self.code == 0 and not self.traceback


def run_cli(argv) -> Outcome:
    """Run ``mspathobiology argv`` in this process; an escaping exception is recorded as a traceback."""
    from mspathobiology.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # --help/--version only
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - the point is to record it
            return Outcome(None, out.getvalue(), err.getvalue(), traceback.format_exc())
    return Outcome(code, out.getvalue(), err.getvalue())


@functools.lru_cache(maxsize=1)
def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root with mount rights on Linux, as in CI): tried once."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount")):
        return False
    folder = tempfile.mkdtemp(prefix="msp-probe-")
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", folder], capture_output=True)
        if done.returncode != 0:
            return False
        subprocess.run(["umount", folder], capture_output=True)
        return True
    finally:
        os.rmdir(folder)


@contextlib.contextmanager
def small_disk(kib: int = 64):
    """A folder on a tmpfs of ``kib`` KiB (a disk that fills up); needs :func:`can_mount`."""
    folder = Path(tempfile.mkdtemp(prefix="msp-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


@contextlib.contextmanager
def read_only(folder):
    """Make ``folder`` read-only while the block runs: a read-only bind mount as root (root ignores
    file modes), else ``chmod 0555``. Yields the path to use."""
    folder = Path(folder)
    if can_mount():
        view = Path(tempfile.mkdtemp(prefix="msp-ro-"))
        subprocess.run(["mount", "--bind", str(folder), str(view)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        try:
            yield view
        finally:
            subprocess.run(["umount", "-l", str(view)], check=False)
            view.rmdir()
    else:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
        for p in modes:
            p.chmod(0o555)
        try:
            yield folder
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
