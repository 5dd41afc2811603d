"""Fuzz every subcommand with bad images, tables, tractograms, JSON, numbers and names (hypothesis).

Each example runs ``mspathobiology.cli.main`` in-process and accepts exactly two outcomes:
a correct result, or a non-zero exit with ONE line on stderr and no traceback. When a
command fails, the files already in its output folder must be unchanged and no temporary
file may be left. Images are tiny (16 x 18 x 14 voxels) and examples are few and
derandomised, so the suite stays fast and reproducible.
"""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fault_cases import HOSTILE_NAMES, flip_byte, run_cli, small_image, snapshot, temp_files, truncate
from mspathobiology.errors import InputError
from mspathobiology.geometry import voxel_to_ras
from mspathobiology.io import read_json, write_image, write_json
from mspathobiology.rims.ratings import RatingSession
from mspathobiology.tables import read_table

FUZZ = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SHAPE = (14, 18, 16)  # z, y, x


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A tiny valid case: FLAIR/T1/QSM, lesion mask, aseg-like anatomy, 4-region parcellation, a .tck."""
    root = tmp_path_factory.mktemp("fuzzcase")
    flair = small_image(SHAPE, seed=1)
    write_image(flair, root / "flair.nii.gz")
    write_image(small_image(SHAPE, seed=2), root / "t1.nii.gz")
    write_image(small_image(SHAPE, seed=3), root / "qsm.nii.gz")
    labels = np.zeros(SHAPE, np.uint8)
    labels[3:6, 4:8, 4:8] = 1
    labels[8:11, 10:14, 9:13] = 1
    anatomy = np.full(SHAPE, 2, np.uint8)
    anatomy[:, :, :3] = 0
    parcellation = np.zeros(SHAPE, np.uint8)
    parcellation[2:12, 2:9, 2:8], parcellation[2:12, 9:16, 2:8] = 1, 2
    parcellation[2:12, 2:9, 8:14], parcellation[2:12, 9:16, 8:14] = 3, 4
    for name, array in (("labels", labels), ("anatomy", anatomy), ("parcellation", parcellation)):
        image = sitk.GetImageFromArray(array)
        image.CopyInformation(flair)
        write_image(image, root / f"{name}.nii.gz")
    import nibabel as nib

    to_ras = voxel_to_ras(flair)
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(30):
        a, b = rng.uniform([3, 3, 3], [13, 15, 11], (2, 3))
        ijk = np.linspace(a, b, 12)
        lines.append((np.c_[ijk, np.ones(len(ijk))] @ to_ras.T)[:, :3].astype(np.float32))
    nib.streamlines.save(nib.streamlines.Tractogram(lines, affine_to_rasmm=np.eye(4)), str(root / "tracts.tck"))
    for rater in ("alice", "bob"):
        for case_id in ("c1", "c2"):
            with RatingSession(root / "ratings", case_id, rater, [1, 2, 3, 4]) as session:
                for lesion, label in zip((1, 2, 3, 4), ("PRL", "not_PRL", "PRL", "indeterminate")):
                    session.rate(lesion, label if rater == "alice" or lesion != 3 else "not_PRL", confidence=3)
    return root


#: Per subcommand: the image arguments and their kind, and the other arguments of a valid call.
COMMANDS = {
    "lesions": ({"--flair": "intensity", "--t1": "intensity", "--anatomy": "label", "--brain-mask": "mask",
                 "--labels": "mask"},
                ["--flair", "flair.nii.gz", "--labels", "labels.nii.gz", "--no-bias-correction"]),
    "rims": ({"--lesions": "mask", "--qsm": "intensity", "--t2star": "intensity", "--anatomy": "label",
              "--brain-mask": "mask"},
             ["--lesions", "labels.nii.gz", "--qsm", "qsm.nii.gz"]),
    "atrophy": ({"--t1": "intensity", "--lesions": "mask", "--brain-mask": "mask", "--anatomy": "label",
                 "--parcellation": "label"},
                ["--t1", "t1.nii.gz", "--no-bias-correction"]),
    "pbvc": ({"--baseline": "intensity", "--followup": "intensity", "--baseline-mask": "mask",
              "--followup-mask": "mask"},
             ["--baseline", "t1.nii.gz", "--followup", "t1.nii.gz"]),
    "network": ({"--parcellation": "label", "--lesions": "mask", "--scalar": "intensity"},
                ["--tractogram", "tracts.tck", "--parcellation", "parcellation.nii.gz"]),
    "info": ({"": "intensity"}, ["flair.nii.gz"]),
}
DAMAGE = ("truncate", "flip", "nan", "empty", "garbage", "2d", "4d", "vector", "ones", "fraction", "negative")
#: Damage that is valid data for some kinds (all ones is a valid intensity image, ...).
VALID_FOR = {"ones": ("intensity", "label"), "fraction": ("intensity",), "negative": ("intensity",)}


def damaged_image(kind_of_damage: str, folder: Path, where: float, seed: bytes) -> Path:
    """Write one damaged image file into ``folder`` and return its path."""
    path = folder / "bad.nii.gz"
    base = small_image(SHAPE, seed=5)
    if kind_of_damage in ("truncate", "flip"):
        write_image(base, path)
        truncate(path, 0.05 + 0.9 * where) if kind_of_damage == "truncate" else flip_byte(path, 0.1 + 0.8 * where)
    elif kind_of_damage == "nan":
        from fault_cases import write_nan_nifti

        write_nan_nifti(path, SHAPE[::-1], n_bad=1 + int(where * 5))
    elif kind_of_damage == "empty":
        path.write_bytes(b"")
    elif kind_of_damage == "garbage":
        path = folder / "bad.nii"
        path.write_bytes(seed * 40)
    elif kind_of_damage == "2d":
        sitk.WriteImage(sitk.GetImageFromArray(np.ones((5, 6), np.float32)), str(path))
    elif kind_of_damage == "4d":
        sitk.WriteImage(sitk.GetImageFromArray(np.ones((2, *SHAPE), np.float32)), str(path))
    elif kind_of_damage == "vector":
        sitk.WriteImage(sitk.GetImageFromArray(np.ones((*SHAPE, 2), np.float32), isVector=True), str(path))
    else:
        values = {"ones": np.ones(SHAPE, np.uint8), "fraction": np.full(SHAPE, 0.5, np.float32),
                  "negative": -np.ones(SHAPE, np.int16)}[kind_of_damage]
        image = sitk.GetImageFromArray(values)
        image.CopyInformation(base)
        sitk.WriteImage(image, str(path))
    return path


def prior_outputs(out: Path) -> dict:
    """An output folder holding results of an earlier run (they must survive a failed run)."""
    out.mkdir(parents=True, exist_ok=True)
    write_image(small_image((4, 4, 4), seed=9), out / "lesions.nii.gz")
    write_json(out / "summary.json", {"lesion_count": 13})
    (out / "lesions.tsv").write_text("id\tvolume_mm3\n1\t12.5\n")
    return snapshot(out)


def assert_failed_cleanly(outcome, out: Path, before: dict):
    assert outcome.clear_error, (outcome.code, outcome.stderr, outcome.traceback)
    assert snapshot(out) == before, "a failed command changed existing outputs"
    assert not temp_files(out)


@FUZZ
@given(command=st.sampled_from(sorted(COMMANDS)), data=st.data(), damage=st.sampled_from(DAMAGE),
       where=st.floats(0.0, 1.0), seed=st.binary(min_size=1, max_size=8))
def test_damaged_images_give_one_line_errors_and_keep_outputs(case, tmp_path_factory, command, data, damage,
                                                                where, seed):
    images, valid = COMMANDS[command]
    argument = data.draw(st.sampled_from(sorted(images)))
    kind = images[argument]
    folder = tmp_path_factory.mktemp("img")
    bad = damaged_image(damage, folder, where, seed)
    options, flags = {}, []
    for text in valid:
        if text.startswith("--") and text != "--no-bias-correction":
            current = text
        elif text.startswith("--"):
            flags.append(text)
        else:
            options[current if command != "info" else ""] = str(case / text)
    options[argument] = str(bad)
    argv = [command] + [x for key, path in options.items() for x in ([key, path] if key else [path])] + flags
    out = folder / "out"
    before = prior_outputs(out)
    outcome = run_cli(argv + (["--out", str(out)] if command != "info" else []))
    if kind in VALID_FOR.get(damage, ()):
        assert outcome.ok or outcome.clear_error, (outcome.stderr, outcome.traceback)
        if not outcome.ok:
            assert snapshot(out) == before
        return
    assert_failed_cleanly(outcome, out, before)
    assert str(bad) in outcome.stderr or "argument" in outcome.stderr


@FUZZ
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                       st.sampled_from(["nan", "-nan", "inf", "-5", "1e400", "", "  ", "0x10", "3,5", "1e-400",
                                        "\u0663", "--out"]),
                       st.text(max_size=6)),
       option=st.sampled_from([("lesions", "--min-volume", 0.0, False), ("rims", "--band-inner-mm", 0.0, False),
                               ("rims", "--band-outer-mm", 0.0, False), ("network", "--step", 0.0, False),
                               ("pbvc", "--interval-years", 0.0, True), ("run", "--jobs", 1, False),
                               ("phantom", "--seed", 0, False), ("demo", "--subjects", 1, False)]))
def test_numbers_are_validated_at_the_edge(case, value, option):
    from mspathobiology.cli import build_parser

    command, flag, minimum, exclusive = option
    integer = flag in ("--jobs", "--seed", "--subjects")
    try:
        number = int(value, 10) if integer else float(value)
        valid = math.isfinite(number) and (number > minimum if exclusive else number >= minimum)
    except ValueError:
        valid = False
    required = {"lesions": ["--flair", case / "flair.nii.gz", "--out", case / "o"],
                "rims": ["--lesions", case / "labels.nii.gz", "--qsm", case / "qsm.nii.gz", "--out", case / "o"],
                "network": ["--tractogram", case / "tracts.tck", "--parcellation", case / "parcellation.nii.gz",
                            "--out", case / "o"],
                "pbvc": ["--baseline", case / "t1.nii.gz", "--followup", case / "t1.nii.gz", "--out", case / "o"],
                "run": [case], "phantom": [case / "o"], "demo": ["--out", case / "o"]}[command]
    argv = [command, *map(str, required), f"{flag}={value}"]
    if valid:  # a correct result of the edge: the parsed value (running the analysis is other tests' job)
        parsed = vars(build_parser().parse_args(argv))
        assert parsed[flag.lstrip("-").replace("-", "_")] == pytest.approx(number)
    else:
        outcome = run_cli(argv)
        assert outcome.clear_error and flag in outcome.stderr, (value, outcome)
        assert not (case / "o").exists()


@FUZZ
@given(column=st.sampled_from(["label", "task", "rater", "case", "lesion_id", "confidence", "reason", "comment",
                               "timestamp", "auto_score"]),
       value=st.one_of(st.sampled_from(["MAYBE", "prl", "PRL", "", "nan", "-1", "1e9", "excluded", "cvs", "alice",
                                        "Bob", "c2", "3.5"] + list(HOSTILE_NAMES)), st.text(max_size=12)),
       row=st.integers(0, 3), which=st.integers(0, 3), damage=st.sampled_from(["cell", "truncate", "sidecar"]),
       sidecar=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                         max_size=3), max_leaves=6))
def test_damaged_rating_tables(case, tmp_path_factory, column, value, row, which, damage, sidecar):
    folder = tmp_path_factory.mktemp("ratings")
    shutil.copytree(case / "ratings", folder / "r")
    files = sorted((folder / "r").glob("*.tsv"))
    target = files[which]
    if damage == "cell":
        rows = read_table(target, typed=False)
        changed = rows[row].get(column) != value.replace("\t", " ").replace("\n", " ").replace("\r", " ")
        from mspathobiology.tables import write_table

        rows[row][column] = value
        write_table(rows, target)
    elif damage == "truncate":
        truncate(target, 0.5)
        changed = True
    else:
        target.with_suffix(".json").write_text(json.dumps(sidecar))
        changed = True
    out = folder / "agreement.json"
    out.write_text('{"previous": true}\n')
    outcome = run_cli(["agreement", *map(str, files), "--json", str(out)])
    if outcome.ok:
        result = read_json(out)
        for task in result.values():
            for key in ("cohen_kappa", "fleiss_kappa"):
                assert task[key] is None or -1.0 - 1e-9 <= task[key] <= 1.0 + 1e-9
        if damage == "cell" and (column in ("comment", "timestamp") or not changed):
            baseline = run_cli(["agreement", *map(str, sorted((case / "ratings").glob("*.tsv")))])
            assert outcome.stdout.splitlines()[:-1] == baseline.stdout.splitlines()
    else:
        assert outcome.clear_error, (column, value, outcome)
        assert out.read_text() == '{"previous": true}\n'


@FUZZ
@given(name=st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=20)))
def test_hostile_rater_and_reader_names_stay_in_their_folder(tmp_path_factory, name):
    from mspathobiology.cohort.review import ReviewStore

    folder = tmp_path_factory.mktemp("names")
    try:
        with RatingSession(folder / "ratings", "c1", name, [1, 2]) as session:
            session.rate(1, "PRL")
        store = ReviewStore(folder / "review", name)
        store.mark_done("sub-01")
    except InputError as exc:
        assert "\n" not in exc.problem and not any(folder.rglob("*.tsv"))
        return
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert all(p.resolve().is_relative_to(folder.resolve()) for p in files)
    assert session.path.parent == folder / "ratings" and session.rater.isalnum() and session.rater.islower()
    assert store.path.name == f"reader-{session.rater}_review.json"


@FUZZ
@given(damage=st.sampled_from(["truncate", "garbage", "empty", "header-only", "nan-points"]),
       where=st.floats(0.05, 0.95), seed=st.binary(min_size=1, max_size=16))
def test_damaged_tractograms(case, tmp_path_factory, damage, where, seed):
    folder = tmp_path_factory.mktemp("tck")
    bad = folder / "bad.tck"
    data = (case / "tracts.tck").read_bytes()
    header_end = data.index(b"END\n") + 4
    if damage == "truncate":
        bad.write_bytes(data[: int(len(data) * where)])
    elif damage == "garbage":
        bad.write_bytes(seed * 64)
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "header-only":
        bad.write_bytes(data[:header_end])
    else:
        import nibabel as nib

        line = np.full((4, 3), np.nan, np.float32)
        nib.streamlines.save(nib.streamlines.Tractogram([line], affine_to_rasmm=np.eye(4)), str(bad))
    out = folder / "out"
    before = prior_outputs(out)
    outcome = run_cli(["network", "--tractogram", str(bad), "--parcellation", str(case / "parcellation.nii.gz"),
                       "--out", str(out)])
    if outcome.ok:  # a tractogram with no usable streamline is valid: an empty connectome
        assert damage == "nan-points"
        matrices = [p for p in out.iterdir() if "connectome" in p.name or p.suffix == ".csv"]
        assert matrices
    else:
        assert_failed_cleanly(outcome, out, before)


@FUZZ
@given(record=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=6),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                               st.sampled_from(["case", "records", "subject", "id", "images", "analysis"]), inner,
                               max_size=4), max_leaves=8),
       raw=st.sampled_from([None, "{broken", "", "\x00\x01", "[]"]))
def test_malformed_case_json_for_report(tmp_path_factory, record, raw):
    out = tmp_path_factory.mktemp("derivatives")
    folder = out / "sub-01" / "ses-01"
    folder.mkdir(parents=True)
    (folder / "case.json").write_text(json.dumps(record) if raw is None else raw)
    outcome = run_cli(["report", str(out)])
    assert outcome.ok or outcome.clear_error, (record, raw, outcome.stderr, outcome.traceback)


@FUZZ
@given(path_kind=st.sampled_from(["file", "missing-parent-file", "folder-for-json", "nul", "empty"]))
def test_unusable_output_paths(case, tmp_path_factory, path_kind):
    folder = tmp_path_factory.mktemp("outs")
    (folder / "afile").write_text("keep me")
    out = {"file": folder / "afile", "missing-parent-file": folder / "afile" / "sub",
           "folder-for-json": folder, "nul": "a\x00b", "empty": ""}[path_kind]
    if path_kind == "folder-for-json":
        argv = ["agreement", *map(str, sorted((case / "ratings").glob("*.tsv"))), "--json", str(out)]
    else:
        argv = ["lesions", "--flair", str(case / "flair.nii.gz"), "--labels", str(case / "labels.nii.gz"),
                "--out", str(out)]
    outcome = run_cli(argv)
    assert outcome.clear_error, outcome
    assert (folder / "afile").read_text() == "keep me"


@FUZZ
@given(record=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=6),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                               st.sampled_from(["inputs", "flair", "nawm_flair_intensity", "lesion_count"]), inner,
                               max_size=3), max_leaves=8))
def test_malformed_lesions_summary_for_lesions_change(case, tmp_path_factory, record):
    root = tmp_path_factory.mktemp("change")
    for visit in ("v1", "v2"):
        (root / visit).mkdir()
        shutil.copy(case / "labels.nii.gz", root / visit / "lesions.nii.gz")
        (root / visit / "summary.json").write_text(json.dumps(record))
    outcome = run_cli(["lesions-change", "--baseline", root / "v1", "--followup", root / "v2", "--no-registration",
                       "--out", root / "out"])
    assert outcome.ok or outcome.clear_error, (record, outcome.stderr, outcome.traceback)
    if outcome.ok:  # the same labels at both visits: nothing new, enlarging or resolved
        summary = read_json(root / "out" / "change_summary.json")
        assert summary["lesions_stable"] >= 1
        assert summary["lesions_new"] == summary["lesions_enlarging"] == summary["lesions_resolved"] == 0
