"""The one reader and writer lose nothing and are never silently wrong (issue 13):
damaged files, NaN voxels, a full disk, failed renames, stale temporary files, read-only
folders and concurrent writers of the review store and rating sessions."""

import multiprocessing
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from fault_cases import (can_mount, flip_byte, read_only, run_cli, small_disk, small_image, snapshot, temp_files,
                         truncate, write_nan_nifti)
from mspathobiology import io as msio
from mspathobiology.cohort.cases import Case
from mspathobiology.cohort.review import ReviewStore
from mspathobiology.errors import InputError, OutputError, ReadOnlyError
from mspathobiology.rims.ratings import RatingSession


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_truncated_nifti_is_refused_not_zero_filled(tmp_path, suffix):
    path = tmp_path / f"t1{suffix}"
    msio.write_image(small_image(), path)
    truncate(path, 0.7)
    # SimpleITK alone reads it and fills the missing voxels with zeros
    zeros = np.count_nonzero(sitk.GetArrayFromImage(sitk.ReadImage(str(path))) == 0)
    assert zeros > 100
    with pytest.raises(InputError, match="truncated") as info:
        msio.read_image(path, name="--t1")
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_corrupt_gzip_and_garbage_are_refused(tmp_path):
    path = tmp_path / "flair.nii.gz"
    msio.write_image(small_image(), path)
    flip_byte(path)
    with pytest.raises(InputError, match="corrupt|truncated"):
        msio.read_image(path)
    (tmp_path / "empty.nii.gz").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        msio.read_image(tmp_path / "empty.nii.gz")
    (tmp_path / "text.nii").write_bytes(b"hello" * 100)
    with pytest.raises(InputError, match="not a NIfTI"):
        msio.read_image(tmp_path / "text.nii")


@pytest.mark.parametrize("kind", ["intensity", "label", "mask"])
def test_nan_and_inf_in_nifti_are_refused(tmp_path, kind):
    path = write_nan_nifti(tmp_path / "nan.nii.gz")
    assert np.isfinite(sitk.GetArrayFromImage(sitk.ReadImage(str(path)))).all()  # SimpleITK hides them
    with pytest.raises(InputError, match="3 NaN or infinite"):
        msio.read_image(path, kind=kind)


def test_write_failure_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "lesions.nii.gz"
    msio.write_image(small_image(), target)
    before = target.read_bytes()

    original = sitk.WriteImage

    def silent_short_write(image, path, compress=True):  # SimpleITK's NIfTI writer on a full disk
        original(image, path, compress)
        truncate(path, 0.5)

    monkeypatch.setattr(sitk, "WriteImage", silent_short_write)
    with pytest.raises(OutputError, match="previous file is unchanged"):
        msio.write_image(small_image(seed=1), target)
    monkeypatch.undo()
    assert target.read_bytes() == before and not temp_files(tmp_path)

    def refuse(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    for write in (lambda: msio.write_image(small_image(seed=2), target),
                  lambda: msio.write_json(tmp_path / "a.json", {"a": 1}),
                  lambda: msio.write_transform(sitk.Euler3DTransform(), tmp_path / "t.tfm")):
        with pytest.raises(OutputError, match="No space left"):
            write()
    monkeypatch.undo()
    assert target.read_bytes() == before and not temp_files(tmp_path)
    assert not (tmp_path / "a.json").exists()


def test_disk_full(tmp_path, monkeypatch):
    """A real full disk (a 64 KiB tmpfs) where the machine allows it (root in CI), and always a
    full disk by fault injection (fsync raising ENOSPC, as a write-back failure reports it)."""
    big = small_image((40, 40, 40), seed=3)
    if can_mount():
        with small_disk(64) as disk:
            good = msio.write_image(small_image((4, 4, 4)), disk / "lesions.nii.gz")
            table = msio.atomic_write_text(disk / "lesions.tsv", "id\n1\n")
            before = snapshot(disk)
            with pytest.raises(OutputError, match="disk full|No space"):
                msio.write_image(big, good)
            with pytest.raises(OutputError, match="No space"):
                msio.atomic_write_text(table, "id\n" + "1\n" * 50000)
            assert snapshot(disk) == before and not temp_files(disk)
            assert msio.read_image(good).GetSize() == (4, 4, 4)
    good = msio.write_image(small_image((4, 4, 4)), tmp_path / "lesions.nii.gz")
    msio.atomic_write_text(tmp_path / "lesions.tsv", "id\n1\n")
    before = snapshot(tmp_path)

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    for write in (lambda: msio.atomic_write_text(tmp_path / "lesions.tsv", "id\n2\n"),
                  lambda: msio.write_image(big, good), lambda: msio.write_json(tmp_path / "s.json", {"a": 1})):
        with pytest.raises(OutputError, match="No space"):
            write()
    monkeypatch.undo()
    assert snapshot(tmp_path) == before and not temp_files(tmp_path)


@pytest.mark.skipif(not can_mount(), reason="needs root to mount a small tmpfs (CI runs as root)")
def test_command_on_a_full_disk_exits_nonzero_and_keeps_outputs(tmp_path):
    labels = np.zeros((30, 30, 30), np.uint8)
    labels[5:9, 5:9, 5:9] = 1
    labels[15:25, 15:25, 15:25] = 1
    flair = small_image((30, 30, 30), seed=4)
    msio.write_image(flair, tmp_path / "flair.nii.gz")
    mask = sitk.GetImageFromArray(labels)
    mask.CopyInformation(flair)
    msio.write_image(mask, tmp_path / "labels.nii.gz")
    with small_disk(48) as disk:
        first = run_cli(["lesions", "--flair", tmp_path / "flair.nii.gz", "--labels", tmp_path / "labels.nii.gz",
                         "--no-bias-correction", "--out", disk / "out"])
        assert first.ok, first.stderr + first.traceback
        before = snapshot(disk)
        (disk / "filler").write_bytes(b"\0" * (os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize - 2048))
        again = run_cli(["lesions", "--flair", tmp_path / "flair.nii.gz", "--labels", tmp_path / "labels.nii.gz",
                         "--no-bias-correction", "--out", disk / "out"])
        assert again.clear_error, again
        (disk / "filler").unlink()
        assert snapshot(disk) == before and not temp_files(disk)


def test_stale_temp_files_are_cleaned_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".tmp-{dead.pid}-abc.nii.gz"
    stale.write_bytes(b"half")
    live = tmp_path / f".tmp-{os.getppid()}-def.json"
    live.write_bytes(b"{")
    msio.write_json(tmp_path / "x.json", {"a": 1})
    assert not stale.exists() and live.exists()


def test_png_transform_and_json_are_verified(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(1, 1))
    path = msio.write_figure(figure, tmp_path / "a.png")
    plt.close(figure)
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(OutputError, match="not a complete PNG"):
        msio.atomic_write_bytes(tmp_path / "a.png", b"\x89PNG\r\n\x1a\n truncated")
    assert path.read_bytes()[:4] == b"\x89PNG"
    transform = sitk.Euler3DTransform((0, 0, 0), 0.1, 0.2, 0.3, (1, 2, 3))
    back = msio.read_transform(msio.write_transform(transform, tmp_path / "t.tfm"))
    assert np.allclose(back.GetParameters(), transform.GetParameters())
    with pytest.raises(OutputError, match="not valid"):
        msio.atomic_write_text(tmp_path / "x.json", "{broken")
    msio.write_json(tmp_path / "list.json", [1, 2])
    with pytest.raises(InputError, match="not the expected dict"):
        msio.read_json(tmp_path / "list.json", expect=dict)


def test_whole_image_masks_are_refused_at_the_edge(tmp_path):
    flair = small_image()
    msio.write_image(flair, tmp_path / "flair.nii.gz")
    ones = sitk.GetImageFromArray(np.ones((12, 14, 10), np.uint8))
    ones.CopyInformation(flair)
    msio.write_image(ones, tmp_path / "ones.nii.gz")
    for argv in (["lesions", "--flair", tmp_path / "flair.nii.gz", "--labels", tmp_path / "ones.nii.gz"],
                 ["pbvc", "--baseline", tmp_path / "flair.nii.gz", "--followup", tmp_path / "flair.nii.gz",
                  "--baseline-mask", tmp_path / "ones.nii.gz"],
                 ["atrophy", "--t1", tmp_path / "flair.nii.gz", "--brain-mask", tmp_path / "ones.nii.gz"]):
        outcome = run_cli([*argv, "--out", tmp_path / "out"])
        assert outcome.clear_error and "covers 100.0 %" in outcome.stderr, outcome
    assert not (tmp_path / "out").exists()


# --- review store and rating sessions ---------------------------------------------------

def _review_worker(root, reader, cases):
    store = ReviewStore(root, reader)
    for case in cases:
        store.open_case(case)
        store.mark_done(case, note=f"by {reader}")


def test_review_store_concurrent_writers_lose_nothing(tmp_path):
    """Two processes, two spellings of one reader (one identity by the documented rule)."""
    cases = [f"sub-{i:02d}" for i in range(40)]
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_review_worker, args=(tmp_path, name, cases[k::2]))
               for k, name in enumerate(("jane doe", "Jane.Doe"))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    store = ReviewStore(tmp_path, "JANE_DOE")
    assert store.progress(cases) == (40, 40)
    assert set(store.data["reader_spellings"]) >= {"jane doe", "Jane.Doe"}
    assert len(list((tmp_path / "review").glob("reader-*_review.json"))) == 1
    assert not temp_files(tmp_path)


def test_review_store_read_only_folder_resumes_read_only(tmp_path):
    store = ReviewStore(tmp_path, "ann")
    store.mark_done(Case("01", None))
    with read_only(tmp_path) as view:
        again = ReviewStore(view, "ann")
        assert again.read_only and "not writable" in again.read_only_reason
        assert again.status(Case("01", None)) == "done"
        with pytest.raises(ReadOnlyError, match="read-only"):
            again.flag(Case("01", None), "x")
        assert again.progress([Case("01", None), Case("02", None)]) == (1, 2)


def test_rating_session_read_only_and_stale_temp(tmp_path):
    with RatingSession(tmp_path, "c1", "Alice", [1, 2, 3]) as session:
        session.rate(2, "PRL")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".tmp-{dead.pid}-x.tsv").write_text("half a row")
    with read_only(tmp_path) as view:
        viewer = RatingSession(view, "c1", "alice")
        assert viewer.read_only and viewer.progress() == (1, 3) and viewer.rating(2)["label"] == "PRL"
        with pytest.raises(ReadOnlyError, match="not writable"):
            viewer.rate(1, "PRL")
        with pytest.raises(ReadOnlyError):
            RatingSession(view, "c2", "alice", [1])
    with RatingSession(tmp_path, "c1", "a.l.i.c.e") as session:  # same identity, writable again
        assert session.progress() == (1, 3)
    assert not temp_files(tmp_path)


def test_locks_take_msvcrt_byte_locks_where_there_is_no_flock(tmp_path, monkeypatch):
    """Windows has no fcntl: the one lock primitive (io.try_lock) then locks the lock file's first byte
    with msvcrt.locking. Here msvcrt is emulated on flock, so the conflict is real."""
    import fcntl

    from mspathobiology import io
    from mspathobiology.errors import LockedError

    calls = []

    class Msvcrt:
        LK_UNLCK, LK_NBLCK = 0, 2

        @staticmethod
        def locking(fd, mode, nbytes):
            calls.append((mode, nbytes, os.lseek(fd, 0, os.SEEK_CUR)))
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB if mode == Msvcrt.LK_NBLCK else fcntl.LOCK_UN)

    monkeypatch.setattr(io, "fcntl", None)
    monkeypatch.setattr(io, "msvcrt", Msvcrt)
    path = tmp_path / ".lock"
    with io.file_lock(path, timeout=0):
        with pytest.raises(LockedError, match="locked by another process"):
            with io.file_lock(path, timeout=0):
                pass
    with io.file_lock(path, timeout=0):
        pass
    assert calls[0] == (Msvcrt.LK_NBLCK, 1, 0) and (Msvcrt.LK_UNLCK, 1, 0) in calls
