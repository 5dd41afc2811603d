"""Benchmark (issue 13): nothing lost, nothing wrong in silence.

Throws a fixed catalogue of bad inputs at every subcommand of ``mspathobiology`` (run
in-process through ``mspathobiology.cli.main``) on the small digital phantom: truncated,
bit-flipped, empty and garbage files, NaN/Inf voxels, 2D/4D/vector images, whole-image
masks, non-numbers and out-of-range numbers, unusable output paths, malformed JSON and
tables, hostile names, a full disk (a 64 KiB tmpfs when run as root, else a failing rename)
and concurrent writers of the review store and of rating sessions.

Each case is classified:

* clear error   - non-zero exit, exactly one line on stderr, no traceback;
* handled       - valid-but-hostile input (a name with markup or accents) giving the correct result;
* traceback     - an exception escaped;
* silent wrong  - bad input accepted with exit 0, or a valid hostile input giving a wrong result;
* files lost    - an existing output changed or a temporary file was left after a failure.

    python benchmarks/bad_inputs.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "MSPathobiology"))
sys.path.insert(0, str(ROOT / "Testing" / "Python"))

from fault_cases import (HOSTILE_NAMES, can_mount, flip_byte, read_only, run_cli, small_disk,  # noqa: E402
                         snapshot, temp_files, truncate, write_nan_nifti)
from mspathobiology.errors import InputError  # noqa: E402
from mspathobiology.io import write_image, write_json  # noqa: E402

RESULTS = []


def record(category: str, command: str, what: str, verdict: str, detail: str = ""):
    RESULTS.append({"category": category, "command": command, "what": what, "verdict": verdict, "detail": detail})


def judge_error(category, command, what, outcome, out=None, before=None):
    """A bad input: it must end in a clear error and leave ``out`` as it was."""
    if outcome.traceback:
        verdict = "traceback"
    elif outcome.code == 0:
        verdict = "silent wrong"
    elif not outcome.clear_error:
        verdict = "unclear error"
    else:
        verdict = "clear error"
    if out is not None and (snapshot(out) != before or temp_files(out)):
        verdict = "files lost"
    record(category, command, what, verdict, (outcome.stderr.strip() or outcome.traceback.strip())[-200:])


def prior_outputs(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    write_image(sitk.Image(4, 4, 4, sitk.sitkUInt8), out / "lesions.nii.gz")
    write_json(out / "summary.json", {"lesion_count": 13})
    (out / "lesions.tsv").write_text("id\tvolume_mm3\n1\t12.5\n")
    return snapshot(out)


# --------------------------------------------------------------------------- inputs

def phantom(work: Path) -> dict:
    data = work / "phantom"
    if not (data / "dataset_description.json").exists():
        assert run_cli(["phantom", str(data), "--small", "--subjects", "1", "--sessions", "2"]).ok
    anat = data / "sub-01" / "ses-{}" / "anat"
    deriv = data / "derivatives" / "phantom" / "sub-01" / "ses-{}"
    p = {}
    for s in ("01", "02"):
        p[f"t1_{s}"] = Path(str(anat).format(s)) / f"sub-01_ses-{s}_T1w.nii.gz"
        p[f"flair_{s}"] = Path(str(anat).format(s)) / f"sub-01_ses-{s}_FLAIR.nii.gz"
        p[f"qsm_{s}"] = Path(str(anat).format(s)) / f"sub-01_ses-{s}_Chimap.nii.gz"
        p[f"lesions_{s}"] = Path(str(deriv).format(s)) / "anat" / f"sub-01_ses-{s}_desc-lesions_dseg.nii.gz"
        p[f"brain_{s}"] = Path(str(deriv).format(s)) / "anat" / f"sub-01_ses-{s}_desc-brain_mask.nii.gz"
        p[f"aseg_{s}"] = Path(str(deriv).format(s)) / "anat" / f"sub-01_ses-{s}_desc-aseg_dseg.nii.gz"
        p[f"parc_{s}"] = Path(str(deriv).format(s)) / "anat" / f"sub-01_ses-{s}_desc-parcellation_dseg.nii.gz"
        p[f"tck_{s}"] = Path(str(deriv).format(s)) / "dwi" / f"sub-01_ses-{s}_tractography.tck"
    p["dataset"] = data
    return p


def damaged(kind: str, source: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    reference = sitk.ReadImage(str(source))
    shape = reference.GetSize()[::-1]
    path = folder / f"{kind}.nii.gz"
    if kind == "truncated":
        shutil.copy(source, path)
        truncate(path, 0.7)
    elif kind == "truncated-nii":
        path = folder / "truncated.nii"
        sitk.WriteImage(reference, str(path))
        truncate(path, 0.8)
    elif kind == "bit-flip":
        shutil.copy(source, path)
        flip_byte(path, 0.5)
    elif kind == "nan":
        write_nan_nifti(path, shape, n_bad=5)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path = folder / "garbage.nii"
        path.write_bytes(os.urandom(4096))
    elif kind == "2d":
        sitk.WriteImage(sitk.GetImageFromArray(np.ones((8, 8), np.float32)), str(path))
    elif kind == "4d":
        sitk.WriteImage(sitk.GetImageFromArray(np.ones((2, 6, 6, 6), np.float32)), str(path))
    elif kind == "whole-image-mask":
        ones = sitk.Cast(reference * 0 + 1, sitk.sitkUInt8)
        sitk.WriteImage(ones, str(path))
    elif kind == "probability-labels":
        image = sitk.GetImageFromArray(np.full(shape, 0.37, np.float32))
        image.CopyInformation(reference)
        sitk.WriteImage(image, str(path))
    return path


def image_cases(p: dict, work: Path):
    """Every image argument of every subcommand, with every kind of damaged file."""
    calls = {
        "lesions": ({"--flair": p["flair_01"], "--labels": p["lesions_01"], "--t1": None, "--brain-mask": None,
                     "--anatomy": None}, ["--no-bias-correction"]),
        "rims": ({"--lesions": p["lesions_01"], "--qsm": p["qsm_01"], "--t2star": None, "--anatomy": None}, []),
        "atrophy": ({"--t1": p["t1_01"], "--brain-mask": p["brain_01"], "--lesions": None, "--anatomy": None,
                     "--parcellation": None}, ["--no-bias-correction"]),
        "pbvc": ({"--baseline": p["t1_01"], "--followup": p["t1_02"], "--baseline-mask": p["brain_01"],
                  "--followup-mask": p["brain_02"]}, []),
        "network": ({"--tractogram": p["tck_01"], "--parcellation": p["parc_01"], "--lesions": None,
                     "--scalar": None}, []),
        "info": ({"": p["flair_01"]}, []),
    }
    masks = {"--labels", "--brain-mask", "--lesions", "--baseline-mask", "--followup-mask"}
    labels = masks | {"--anatomy", "--parcellation"}
    kinds = ["truncated", "truncated-nii", "bit-flip", "nan", "empty", "garbage", "2d", "4d"]
    n = 0
    for command, (arguments, flags) in calls.items():
        for argument in arguments:
            extra = ["whole-image-mask"] if argument in masks else []
            extra += ["probability-labels"] if argument in labels else []
            for kind in kinds + extra:
                n += 1
                folder = work / "images" / f"{n:03d}"
                bad = damaged(kind, p["flair_01"] if argument not in labels else p["lesions_01"], folder)
                given = {k: v for k, v in arguments.items() if v is not None}
                given[argument] = bad
                argv = [command]
                for key, value in given.items():
                    argv += [key, value] if key else [value]
                out = folder / "out"
                before = prior_outputs(out)
                outcome = run_cli(argv + flags + (["--out", out] if command != "info" else []))
                category = {"truncated": "truncated-file", "truncated-nii": "truncated-file",
                            "nan": "NaN"}.get(kind, "damaged-file")
                judge_error(category, command, f"{argument or 'IMAGE'} {kind}", outcome, out, before)


def tractogram_cases(p, work):
    data = p["tck_01"].read_bytes()
    header_end = data.index(b"END\n") + 4
    for kind, content in (("truncated", data[: len(data) // 2]), ("header only", data[:header_end]),
                          ("garbage", os.urandom(2048)), ("empty", b"")):
        folder = work / "tck" / kind.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        bad = folder / "bad.tck"
        bad.write_bytes(content)
        out = folder / "out"
        before = prior_outputs(out)
        outcome = run_cli(["network", "--tractogram", bad, "--parcellation", p["parc_01"], "--out", out])
        judge_error("truncated-file" if kind == "truncated" else "damaged-file", "network", f"tractogram {kind}",
                    outcome, out, before)


def number_cases(p, work):
    base = {"lesions": ["--flair", p["flair_01"], "--labels", p["lesions_01"]],
            "rims": ["--lesions", p["lesions_01"], "--qsm", p["qsm_01"]],
            "network": ["--tractogram", p["tck_01"], "--parcellation", p["parc_01"]],
            "pbvc": ["--baseline", p["t1_01"], "--followup", p["t1_02"]],
            "run": [p["dataset"]], "demo": [], "phantom": [work / "ph-out"]}
    options = [("lesions", "--min-volume"), ("rims", "--band-inner-mm"), ("rims", "--band-outer-mm"),
               ("network", "--step"), ("pbvc", "--interval-years"), ("run", "--jobs"), ("demo", "--subjects"),
               ("demo", "--jobs"), ("phantom", "--seed"), ("phantom", "--sessions")]
    for command, flag in options:
        for value in ("nan", "-5", "inf", "abc", "1e999"):
            out = work / "numbers" / "out"
            outcome = run_cli([command, *base[command], f"{flag}={value}"]
                              + (["--out", out] if command not in ("run", "phantom") else []))
            judge_error("number", command, f"{flag} {value}", outcome)
            if out.exists():
                record("number", command, f"{flag} {value}", "files lost", "output folder created before the error")


def output_path_cases(p, work):
    folder = work / "outpaths"
    folder.mkdir(parents=True, exist_ok=True)
    existing = folder / "a_file"
    existing.write_text("keep me")
    ratings = sorted((work / "ratings").glob("*.tsv"))
    for command, argv in (("lesions", ["lesions", "--flair", p["flair_01"], "--labels", p["lesions_01"], "--out"]),
                          ("atrophy", ["atrophy", "--t1", p["t1_01"], "--out"]),
                          ("rims", ["rims", "--lesions", p["lesions_01"], "--qsm", p["qsm_01"], "--out"]),
                          ("pbvc", ["pbvc", "--baseline", p["t1_01"], "--followup", p["t1_02"], "--out"]),
                          ("network", ["network", "--tractogram", p["tck_01"], "--parcellation", p["parc_01"],
                                       "--out"]),
                          ("phantom", ["phantom"]), ("run", ["run", p["dataset"], "--out"])):
        for what, out in (("--out is an existing file", existing), ("--out under a file", existing / "sub")):
            judge_error("output-path", command, what, run_cli(argv + [out]))
    judge_error("output-path", "agreement", "--json names a folder", run_cli(["agreement", *ratings, "--json", folder]))
    assert existing.read_text() == "keep me"
    ro = folder / "ro"
    ro.mkdir()
    with read_only(ro) as view:
        for command, argv in (("lesions", ["lesions", "--flair", p["flair_01"], "--labels", p["lesions_01"],
                                           "--out", view / "out"]),
                              ("agreement", ["agreement", *ratings, "--json", view / "a.json"]),
                              ("phantom", ["phantom", view / "ph"])):
            judge_error("output-path", command, "read-only folder", run_cli(argv))


def table_and_json_cases(p, work):
    from mspathobiology.rims.ratings import RatingSession

    folder = work / "ratings"
    for rater in ("alice", "bob"):
        for case in ("c1", "c2"):
            with RatingSession(folder, case, rater, [1, 2, 3]) as session:
                for lesion, label in zip((1, 2, 3), ("PRL", "not_PRL", "PRL" if rater == "alice" else "indeterminate")):
                    session.rate(lesion, label)
    good = sorted(folder.glob("*.tsv"))
    for what, change in (("label MAYBE", lambda t: t.replace("indeterminate", "MAYBE")),
                         ("confidence 9", lambda t: t.replace("\tPRL\t\t\t", "\tPRL\t\t9\t", 1)),
                         ("another rater's row", lambda t: t.replace("\tbob\t", "\tcarol\t", 1)),
                         ("lesion id x", lambda t: t.replace("c1\t2\t", "c1\tx\t", 1)),
                         ("NUL bytes", lambda t: t + "\x00\x00"),
                         ("truncated mid-row", lambda t: t[: len(t) // 2]),
                         ("truncated at a row boundary", lambda t: "".join(t.splitlines(keepends=True)[:-1]))):
        bad_folder = work / "bad_ratings" / what.replace(" ", "_").replace("'", "")
        shutil.copytree(folder, bad_folder)
        target = bad_folder / "c1_rater-bob_ratings.tsv"
        target.write_text(change(target.read_text()))
        out = bad_folder / "agreement.json"
        out.write_text("{\"previous\": 1}\n")
        before = snapshot(bad_folder)
        outcome = run_cli(["agreement", *sorted(bad_folder.glob("*.tsv")), "--json", out])
        category = "truncated-file" if what.startswith("truncated") else "table"
        judge_error(category, "agreement", what, outcome, bad_folder, before)
    for what, text in (("sidecar not JSON", "{broken"), ("sidecar a list", "[1, 2]"), ("sidecar empty", "")):
        bad_folder = work / "bad_sidecar" / what.replace(" ", "_")
        shutil.copytree(folder, bad_folder)
        (bad_folder / "c1_rater-bob_ratings.json").write_text(text)
        judge_error("json", "agreement", what, run_cli(["agreement", *sorted(bad_folder.glob("*.tsv"))]))
    for what, text in (("case.json broken", "{"), ("case.json a list", "[]"), ("case.json no case", "{\"x\": 1}"),
                       ("case.json wrong types", "{\"case\": 5, \"records\": 3}")):
        derivatives = work / "report" / what.replace(" ", "_").replace(".", "_")
        (derivatives / "sub-01" / "ses-01").mkdir(parents=True, exist_ok=True)
        (derivatives / "sub-01" / "ses-01" / "case.json").write_text(text)
        judge_error("json", "report", what, run_cli(["report", derivatives]))
    for what, text in (("case list with a missing column", "nothing\n1\n"), ("case list binary", "\x00\x01\x02"),
                       ("case list empty", "")):
        listing = work / "caselists" / f"{what.replace(' ', '_')}.tsv"
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text(text)
        judge_error("table", "run", what, run_cli(["run", listing, "--out", work / "caselists" / "out", "--quiet"]))
    for what, text in (("summary.json a list", "[1, 2]"), ("summary.json inputs not an object", "{\"inputs\": 5}"),
                       ("summary.json broken", "{\"inputs\":")):
        visits = work / "change" / what.replace(" ", "_").replace(".", "_")
        for visit in ("v1", "v2"):
            (visits / visit).mkdir(parents=True, exist_ok=True)
            shutil.copy(p["lesions_01"], visits / visit / "lesions.nii.gz")
            (visits / visit / "summary.json").write_text(text)
        outcome = run_cli(["lesions-change", "--baseline", visits / "v1", "--followup", visits / "v2",
                           "--no-registration", "--out", visits / "out"])
        if outcome.ok:  # a FLAIR path it cannot use is not needed without registration: correct if all stable
            summary = json.loads((visits / "out" / "change_summary.json").read_text())
            good = summary["lesions_new"] == summary["lesions_resolved"] == 0
            record("json", "lesions-change", what, "handled" if good else "silent wrong")
        else:
            judge_error("json", "lesions-change", what, outcome)
    for what, argv in (("baseline folder without outputs", ["lesions-change", "--baseline", work / "caselists",
                                                            "--followup", work / "caselists"]),
                       ("baseline folder missing", ["lesions-change", "--baseline", work / "nope",
                                                    "--followup", work / "nope"])):
        judge_error("input-path", "lesions-change", what, run_cli(argv + ["--out", work / "change"]))


def hostile_name_cases(p, work):
    from mspathobiology.cohort.review import ReviewStore
    from mspathobiology.rims.ratings import RatingSession

    for name in HOSTILE_NAMES:
        folder = Path(tempfile.mkdtemp(dir=work))
        try:
            with RatingSession(folder / "ratings", "c1", name, [1, 2]) as session:
                session.rate(1, "PRL")
            store = ReviewStore(folder / "review", name)
            store.mark_done("sub-01")
        except InputError as exc:
            ok = "\n" not in str(exc) and not list(folder.rglob("*.tsv"))
            record("hostile-name", "ratings/review", f"rater {name[:24]!r}", "clear error" if ok else "unclear error")
            continue
        inside = all(f.resolve().is_relative_to(folder.resolve()) for f in folder.rglob("*"))
        label_ok = session.rater.isalnum() and session.rater.isascii() and session.rater.islower()
        record("hostile-name", "ratings/review", f"rater {name[:24]!r} -> {session.rater}",
               "handled" if inside and label_ok and store.path.name == f"reader-{session.rater}_review.json"
               else "silent wrong")
    for name in ("<svg onload=alert(1)>", "Zoë Ødegård", "a b;c", "-rf", "sub-<img src=x>"):
        out = work / "hostile" / name
        outcome = run_cli(["lesions", "--flair", p["flair_01"], "--labels", p["lesions_01"], "--no-bias-correction",
                           "--out", out])
        summary = out / "summary.json"
        good = outcome.ok and summary.exists() and json.loads(summary.read_text()).get("lesion_count", -1) > 0
        record("hostile-name", "lesions", f"--out {name!r}", "handled" if good else
               ("traceback" if outcome.traceback else "silent wrong"), outcome.stderr[-200:])
        image = work / "hostile" / f"{name}.nii.gz"
        shutil.copy(p["flair_01"], image)
        outcome = run_cli(["info", image])
        record("hostile-name", "info", f"image named {name!r}", "handled" if outcome.ok else "silent wrong")


def _review_worker(root, reader, cases):
    from mspathobiology.cohort.review import ReviewStore

    store = ReviewStore(root, reader)
    for case in cases:
        store.mark_done(case, note=reader)


def _rating_worker(folder, rater, lesions):
    from mspathobiology.errors import LockedError
    from mspathobiology.rims.ratings import RatingSession

    for lesion in lesions:
        while True:
            try:
                with RatingSession(folder, "c1", rater) as session:
                    session.rate(lesion, "PRL")
                break
            except (LockedError, InputError) as exc:
                if "another rating session" not in str(exc):
                    raise
                time.sleep(0.005)


def concurrent_cases(p, work):
    from mspathobiology.cohort.review import ReviewStore
    from mspathobiology.rims.ratings import RatingSession

    context = multiprocessing.get_context("fork")
    root = work / "concurrent" / "review"
    cases = [f"sub-{i:03d}" for i in range(60)]
    workers = [context.Process(target=_review_worker, args=(root, name, cases[k::2]))
               for k, name in enumerate(("jane doe", "Jane.Doe"))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done = ReviewStore(root, "jane doe").progress(cases)[0]
    record("concurrent-writer", "review store", f"2 processes x 30 updates, 'jane doe' and 'Jane.Doe': "
           f"{done}/60 on disk", "handled" if done == 60 and not temp_files(root) else "files lost")
    folder = work / "concurrent" / "ratings"
    RatingSession(folder, "c1", "alice", list(range(1, 41))).close()
    workers = [context.Process(target=_rating_worker, args=(folder, "alice", list(range(1 + k, 41, 2))))
               for k in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    session = RatingSession(folder, "c1", "alice")
    rated = session.progress()[0]
    session.close()
    record("concurrent-writer", "rating session", f"2 processes x 20 ratings of one file: {rated}/40 on disk",
           "handled" if rated == 40 and not temp_files(folder) else "files lost")
    first = RatingSession(folder, "c1", "alice")
    try:
        RatingSession(folder, "c1", "Alice")
        record("concurrent-writer", "rating session", "second window on an open file", "silent wrong")
    except InputError as exc:
        record("concurrent-writer", "rating session", "second window on an open file",
               "clear error" if "another rating session" in str(exc) else "unclear error")
    finally:
        first.close()


def disk_full_cases(p, work):
    argvs = {"lesions": ["lesions", "--flair", p["flair_01"], "--labels", p["lesions_01"], "--no-bias-correction"],
             "rims": ["rims", "--lesions", p["lesions_01"], "--qsm", p["qsm_01"]],
             "network": ["network", "--tractogram", p["tck_01"], "--parcellation", p["parc_01"]]}
    ratings = sorted((work / "ratings").glob("*.tsv"))
    if can_mount():
        how = "small tmpfs"
        for command, argv in argvs.items():
            with small_disk(2048) as disk:
                first = run_cli(argv + ["--out", disk / "out"])
                if not first.ok:
                    record("disk-full", command, f"first run ({how})", "traceback" if first.traceback else "silent wrong",
                           first.stderr[-200:])
                    continue
                before = snapshot(disk)
                stat = os.statvfs(disk)
                (disk / "filler").write_bytes(b"\0" * max(0, stat.f_bavail * stat.f_frsize - 4096))
                outcome = run_cli(argv + ["--out", disk / "out"])
                (disk / "filler").unlink()
                judge_error("disk-full", command, f"rerun on a full disk ({how})", outcome, disk, before)
        with small_disk(64) as disk:
            (disk / "agreement.json").write_text("{\"previous\": 1}\n")
            (disk / "filler").write_bytes(b"\0" * (os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize))
            before = snapshot(disk)
            outcome = run_cli(["agreement", *ratings, "--json", disk / "agreement.json"])
            judge_error("disk-full", "agreement", f"--json on a full disk ({how})", outcome, disk, before)
        return
    how = "os.replace raising ENOSPC"  # pragma: no cover - not root
    real = os.replace

    def full(*args):
        raise OSError(28, "No space left on device")

    for command, argv in argvs.items():
        out = work / "diskfull" / command
        first = run_cli(argv + ["--out", out])
        before = snapshot(out)
        os.replace = full
        try:
            outcome = run_cli(argv + ["--out", out])
        finally:
            os.replace = real
        judge_error("disk-full", command, f"rerun with {how}", outcome, out, before)


def cost_of_checks(work: Path) -> str:
    """Time of the checked reader and the verified writer against plain SimpleITK on a real 1 mm
    head (Colin27, Debian mricron-data), median of 3."""
    from statistics import median

    from mspathobiology.io import read_image

    source = Path("/usr/share/mricron/templates/ch2.nii.gz")
    if not source.exists():
        return "cost of the checks: ch2.nii.gz (mricron-data) not installed"

    def timed(function):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        return median(times)

    image = read_image(source)
    plain_read = timed(lambda: sitk.ReadImage(str(source)))
    checked_read = timed(lambda: read_image(source))
    plain_write = timed(lambda: sitk.WriteImage(image, str(work / "plain.nii.gz"), True))
    verified_write = timed(lambda: write_image(image, work / "verified.nii.gz"))
    return (f"cost of the checks on Colin27 ch2.nii.gz {image.GetSize()}: read {plain_read:.2f} s (SimpleITK) -> "
            f"{checked_read:.2f} s (gzip CRC, size and NaN checked); write {plain_write:.2f} s -> "
            f"{verified_write:.2f} s (temp file, fsync, read-back, rename)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep the phantom and the cases here (default: a temp folder)")
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bad-inputs-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    p = phantom(work)
    table_and_json_cases(p, work)
    image_cases(p, work)
    tractogram_cases(p, work)
    number_cases(p, work)
    output_path_cases(p, work)
    hostile_name_cases(p, work)
    concurrent_cases(p, work)
    disk_full_cases(p, work)
    seconds = time.perf_counter() - start

    verdicts = Counter(r["verdict"] for r in RESULTS)
    commands = sorted({r["command"] for r in RESULTS})
    print(f"{len(RESULTS)} bad inputs tried across {len(commands)} subcommands/stores: {', '.join(commands)}")
    print(f"{verdicts['clear error']} clear errors, {verdicts['handled']} handled correctly (valid hostile input), "
          f"{verdicts['traceback']} tracebacks, {verdicts['silent wrong']} silent wrong results, "
          f"{verdicts['files lost']} files lost, {verdicts['unclear error']} unclear (multi-line) errors")
    print("by category:")
    for category in sorted({r["category"] for r in RESULTS}):
        rows = [r for r in RESULTS if r["category"] == category]
        counts = Counter(r["verdict"] for r in rows)
        print(f"  {category:18s} {len(rows):4d} tried: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    bad = [r for r in RESULTS if r["verdict"] not in ("clear error", "handled")]
    for r in bad:
        print(f"  PROBLEM [{r['verdict']}] {r['command']} {r['what']}: {r['detail']}")
    examples = {}
    for r in RESULTS:
        if r["verdict"] == "clear error" and r["detail"].strip() and r["category"] not in examples:
            examples[r["category"]] = r
    print("example messages:")
    for category, r in sorted(examples.items()):
        print(f"  {category}: {r['detail'].splitlines()[-1][:160]}")
    print(cost_of_checks(work))
    print(f"done in {seconds:.0f} s")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
