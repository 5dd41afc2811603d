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


def test_phantom_aseg_has_every_label_the_location_rule_reads(subject):
    """Issue 12: the phantom's aseg holds the ventricle, cortex and infratentorial labels of the
    rule, and at each of them the phantom's own truth rule and the analysis agree."""
    from scipy import ndimage
    from mspathobiology.lesions.locations import CORTEX_LABELS, INFRATENTORIAL_LABELS, VENTRICLE_LABELS
    from mspathobiology.phantom.lesions import classify
    aseg = sitk.GetArrayFromImage(subject.sessions[0].anatomy).astype(np.int64)
    assert set(VENTRICLE_LABELS + CORTEX_LABELS + INFRATENTORIAL_LABELS) <= set(np.unique(aseg).tolist())
    white = np.isin(aseg, (2, 41, 7, 46, 16))
    expected = {5: "periventricular", 44: "periventricular", 15: "infratentorial", 17: "juxtacortical",
                53: "juxtacortical", 18: "juxtacortical", 54: "juxtacortical"}
    others = (4, 43, 31, 63, 3, 42, 7, 8, 46, 47, 16, 15)
    checked = 0
    for label, location in expected.items():
        near = ndimage.binary_dilation(aseg == label, structure=np.ones((3, 3, 3), bool))
        # a one-voxel lesion in white matter next to this label and no other class-deciding label
        blockers = ndimage.binary_dilation(np.isin(aseg, [o for o in others if o != label]),
                                           structure=np.ones((3, 3, 3), bool))
        spots = np.argwhere(near & white & ~blockers)
        if label == 15:
            spots = np.argwhere(near & white)
        assert len(spots), label
        mask = np.zeros(aseg.shape, bool)
        mask[tuple(spots[0])] = True
        truth = classify(mask, aseg)
        found = classify_locations(mask.astype(np.int32), anatomy_classes(aseg))[1]
        assert truth == found == location, (label, truth, found)
        checked += 1
    assert checked == len(expected)


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
    # issue 12: the phantom has changes at the definitions' edges, and the rule gets them right
    from scipy import ndimage
    from mspathobiology.defaults.phantom import CHANGE_EDGE_MIN_VOLUME_MM3
    base_volume = {int(l["id"]): l["volume_mm3"] for l in subject.sessions[0].truth["lesions"]}
    follow = _truth(subject.sessions[1])
    growth_edges, near_new = [], []
    for l in subject.sessions[1].truth["lesions"]:
        i = int(l["id"])
        if l["baseline_id"] is not None and base_volume[int(l["baseline_id"])] >= CHANGE_EDGE_MIN_VOLUME_MM3:
            growth = l["volume_mm3"] / base_volume[int(l["baseline_id"])] - 1.0
            if 0.2 <= growth <= 0.8:
                assert l["change"] == ("enlarging" if growth >= 0.5 else "stable"), (i, growth, l["change"])
                growth_edges.append(i)
        elif l["change"] == "new":
            own = follow == i
            gap = ndimage.distance_transform_cdt(~((follow > 0) & ~own), metric="chessboard")[own].min() - 1
            if gap <= 3:
                near_new.append(i)
    assert growth_edges and near_new
    assert all(found.get(i) == truth[i] for i in growth_edges + near_new), \
        [(i, truth[i], found.get(i)) for i in growth_edges + near_new]
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
