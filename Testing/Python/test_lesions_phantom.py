"""Lesion part on the small phantom (2 mm): segmentation, locations, enhancement, change, CLI.

The small case is generated once per module. Accuracy targets on the full phantom live in
benchmarks/lesions_accuracy.py; the thresholds here are loose checks that the pieces work
together on realistic images.
"""

import json

import numpy as np
import pytest
import SimpleITK as sitk

import mspathobiology.phantom as phantom
if not hasattr(phantom, "generate_subject"):
    pytest.skip("phantom.generate_subject not available yet", allow_module_level=True)

from mspathobiology import cli  # noqa: E402
from mspathobiology.io import write_image  # noqa: E402
from mspathobiology.lesion_table import read_lesion_table  # noqa: E402
from mspathobiology.lesions import (anatomy_classes, classify_locations,  # noqa: E402
                                    enhancing_lesions, lesion_detection, run_case, run_change)
from mspathobiology.tables import read_table  # noqa: E402


@pytest.fixture(scope="module")
def subject():
    return phantom.generate_subject(seed=0, small=True, sessions=2)


@pytest.fixture(scope="module")
def files(subject, tmp_path_factory):
    root = tmp_path_factory.mktemp("phantom_lesions")
    out = []
    for n, session in enumerate(subject.sessions):
        folder = root / f"ses{n}"
        paths = {key: write_image(session.images[key], folder / f"{key}.nii.gz") for key in ("flair", "t1", "t1post")}
        paths["anatomy"] = write_image(session.anatomy, folder / "anatomy.nii.gz")
        paths["brain_mask"] = write_image(session.brain_mask, folder / "brain_mask.nii.gz")
        paths["truth"] = write_image(session.lesions, folder / "truth.nii.gz")
        out.append(paths)
    return root, out


@pytest.fixture(scope="module")
def segmented(files):
    root, paths = files
    dirs = []
    for n, p in enumerate(paths):
        run_case({k: p[k] for k in ("flair", "t1", "anatomy", "brain_mask")}, root / f"out{n}")
        dirs.append(root / f"out{n}")
    return dirs


def _truth(session):
    return sitk.GetArrayFromImage(session.lesions).astype(np.int64)


def test_segmentation_finds_phantom_lesions(subject, segmented):
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(segmented[0] / "lesions.nii.gz"))).astype(np.int64)
    truth = _truth(subject.sessions[0])
    scores = lesion_detection(labels, truth, voxel_volume_mm3=8.0, min_volume_mm3=10.0 - 1e-6)
    assert scores["n_truth"] >= 5
    assert scores["f1"] >= 0.8, scores
    assert scores["dice"] >= 0.8, scores


def test_location_rule_matches_phantom_truth(subject):
    for session in subject.sessions:
        truth = _truth(session)
        rule = classify_locations(truth, anatomy_classes(sitk.GetArrayViewFromImage(session.anatomy)))
        expected = {int(l["id"]): l["location"] for l in session.truth["lesions"] if int(l["id"]) in rule}
        agree = np.mean([rule[i] == loc for i, loc in expected.items()])
        assert agree >= 0.9, [(i, loc, rule[i]) for i, loc in expected.items() if rule[i] != loc]


def test_enhancing_rule_on_phantom_truth_lesions(subject):
    session = subject.sessions[0]
    truth = _truth(session)
    flags = enhancing_lesions(truth, sitk.GetArrayFromImage(session.images["t1"]),
                              sitk.GetArrayFromImage(session.images["t1post"]),
                              sitk.GetArrayFromImage(session.brain_mask))
    expected = {int(l["id"]): bool(l["enhancing"]) for l in session.truth["lesions"] if int(l["id"]) in flags}
    assert any(expected.values())
    agree = np.mean([flags[i] == e for i, e in expected.items()])
    assert agree >= 0.9, [(i, e, flags[i]) for i, e in expected.items() if flags[i] != e]


def test_change_rule_on_phantom_truth(subject, files, tmp_path):
    root, paths = files
    dirs = []
    for n in range(2):
        run_case({"flair": paths[n]["flair"], "lesions": paths[n]["truth"]}, tmp_path / f"t{n}",
                 keep_ids=True, min_volume_mm3=0.0)
        dirs.append(tmp_path / f"t{n}")
    run_change(dirs[0], dirs[1], tmp_path / "change")
    rows = read_table(tmp_path / "change" / "change.tsv")
    found = {r["followup_id"]: r["change"] for r in rows if r["followup_id"]}
    truth = {int(l["id"]): l["change"] for l in subject.sessions[1].truth["lesions"]}
    agree = np.mean([found.get(i) == c for i, c in truth.items()])
    assert agree >= 0.85, [(i, c, found.get(i)) for i, c in truth.items() if found.get(i) != c]
    for key in ("new", "enlarging"):
        assert any(c == key for c in truth.values())
    resolved = {int(i) for i in subject.sessions[1].truth.get("resolved_baseline_ids", [])}
    found_resolved = {int(r["baseline_ids"]) for r in rows if r["change"] == "resolved"}
    assert found_resolved == resolved
    summary = json.loads((tmp_path / "change" / "change_summary.json").read_text())
    assert summary["registration"].startswith("rigid")


def test_cli_on_phantom_writes_outputs(files, tmp_path):
    root, paths = files
    p = paths[0]
    code = cli.main(["lesions", "--flair", str(p["flair"]), "--t1", str(p["t1"]), "--t1-post", str(p["t1post"]),
                     "--anatomy", str(p["anatomy"]), "--brain-mask", str(p["brain_mask"]), "--labels",
                     str(p["truth"]), "--out", str(tmp_path / "cli")])
    assert code == 0
    rows = read_lesion_table(tmp_path / "cli" / "lesions.tsv")
    assert rows and all(r["enhancing"] is not None and r["location"] is not None for r in rows)
    summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert summary["lesion_count"] == len(rows)
    assert summary["lesion_volume_mm3"] == pytest.approx(sum(r["volume_mm3"] for r in rows))
    assert sum(summary[f"lesion_count_{loc}"] for loc in ("periventricular", "juxtacortical", "deep_white_matter",
                                                          "infratentorial", "cortical")) == len(rows)
