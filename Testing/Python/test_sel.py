"""Slowly expanding lesions (issue 16): Jacobian frame guard, heuristics, analysis, longitudinal phantom, CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk

from mspathobiology import cli, sel
from mspathobiology.defaults import sel as D
from mspathobiology.errors import GeometryMismatchError, InputError
from mspathobiology.lesion_table import COLUMNS, read_lesion_table
from mspathobiology.phantom.longitudinal import generate_longitudinal_subject
from mspathobiology.sel.measure import outer_band

FLIP = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)  # NIfTI's usual LPS direction


# ----------------------------------------------------------------------------- Jacobian (ITK issue 5358)

def _expansion_field(direction, spacing=(1.5, 1.0, 2.0), size=(20, 24, 18), eps=0.1):
    """u(x) = eps (x - c) in LPS mm: J = (1 + eps)^3 everywhere."""
    ref = sitk.Image(list(size), sitk.sitkFloat32)
    ref.SetSpacing(spacing)
    ref.SetDirection(direction)
    ref.SetOrigin((12.0, -7.0, 3.0))
    idx = np.indices(size[::-1]).reshape(3, -1)[::-1].T.astype(float)  # (i, j, k)
    d = np.asarray(direction).reshape(3, 3)
    phys = (idx * np.asarray(spacing)) @ d.T + np.asarray(ref.GetOrigin())
    centre = phys.mean(axis=0)
    u = (eps * (phys - centre)).reshape(size[::-1] + (3,))
    field = sitk.GetImageFromArray(u, isVector=True)
    field.CopyInformation(ref)
    return field, (1.0 + eps) ** 3


@pytest.mark.parametrize("direction", [FLIP, tuple(np.eye(3).ravel()),
                                       tuple(sitk.VersorTransform((0.2, 0.5, 0.3), 0.7).GetMatrix())])
def test_jacobian_of_known_expansion_respects_direction(direction):
    field, truth = _expansion_field(direction)
    jac = sel.jacobian_determinant(field)
    inner = jac[2:-2, 2:-2, 2:-2]
    assert np.allclose(inner, truth, rtol=1e-4), (float(inner.mean()), truth)
    logjac, folded = sel.log_jacobian(field)
    assert folded == 0
    assert np.allclose(logjac[2:-2, 2:-2, 2:-2], math.log(truth), atol=1e-4)


def test_jacobian_of_known_contraction_on_flipped_grid_is_below_one():
    field, truth = _expansion_field(FLIP, eps=-0.05)
    assert truth < 1.0
    assert np.allclose(sel.jacobian_determinant(field)[2:-2, 2:-2, 2:-2], truth, rtol=1e-4)


# ----------------------------------------------------------------------------- heuristics

def test_linear_slope():
    assert sel.linear_slope([0, 1, 2], [0.0, 0.1, 0.2]) == pytest.approx(0.1)
    assert sel.linear_slope([0, 0.5, 2.0], [1.0, 1.0, 1.0]) == pytest.approx(0.0)


def _sphere(shape=(21, 21, 21), radius=6.0):
    k, j, i = np.indices(shape) - np.array(shape)[:, None, None, None] // 2
    return (k * k + j * j + i * i) <= radius * radius, np.stack([k, j, i], axis=-1).astype(np.float32)


def test_concentric_fraction_outward_inward_and_shift():
    mask, offset = _sphere()
    band = outer_band(mask, (1.0, 1.0, 1.0))
    assert band.sum() < mask.sum() and band[mask].any()
    assert sel.concentric_fraction(mask, band, 0.1 * offset, (1, 1, 1)) == pytest.approx(1.0)
    assert sel.concentric_fraction(mask, band, -0.1 * offset, (1, 1, 1)) == pytest.approx(0.0)
    shift = np.broadcast_to(np.array([0.7, -0.3, 0.2], dtype=np.float32), offset.shape)
    assert sel.concentric_fraction(mask, band, shift + 0.05 * offset, (1, 1, 1)) == pytest.approx(1.0)
    assert sel.concentric_fraction(mask, band, shift.copy(), (1, 1, 1)) < D.SEL_CONCENTRIC_MIN_FRACTION


def test_classify_constant_concentric_expansion():
    times = [0, 1, 2]
    grow = sel.classify([0.08, 0.17], times, voxels=50, concentric=0.95)
    assert grow["sel_candidate"] and grow["sel_constant"] and grow["sel_grade"] == "definite"
    assert grow["sel_score"] > 0
    possible = sel.classify([0.03, 0.05], times, voxels=50, concentric=0.95)
    assert possible["sel_candidate"] and possible["sel_grade"] == "possible"
    step = sel.classify([0.15, 0.10], times, voxels=50, concentric=0.95)
    assert not step["sel_constant"] and not step["sel_candidate"]
    small = sel.classify([0.08, 0.17], times, voxels=D.SEL_MIN_VOXELS - 1, concentric=0.95)
    assert not small["sel_candidate"] and not small["sel_size_ok"]
    eccentric = sel.classify([0.08, 0.17], times, voxels=50, concentric=0.5)
    assert not eccentric["sel_candidate"] and eccentric["sel_score"] == 0.0
    shrink = sel.classify([-0.08, -0.17], times, voxels=50, concentric=0.0)
    assert not shrink["sel_candidate"] and shrink["sel_score"] == 0.0


def test_lesion_riding_on_its_surroundings_is_not_sel():
    """A lesion expanding no more than the tissue ring around it (e.g. a cortical lesion at the moving
    cortex/CSF boundary) is not a candidate; one expanding more than its ring is."""
    times = [0, 1, 2]
    riding = sel.classify([0.05, 0.10], times, voxels=24, concentric=0.9, ring_logjac=0.09)
    assert not riding["sel_candidate"] and riding["sel_over_ring"] is False and riding["sel_constant"]
    own = sel.classify([0.05, 0.10], times, voxels=24, concentric=0.9, ring_logjac=0.0)
    assert own["sel_candidate"] and own["sel_over_ring"] is True
    assert sel.classify([0.05, 0.10], times, voxels=24, concentric=0.9)["sel_over_ring"] is None


def test_only_white_matter_lesions_are_sel():
    times = [0, 1, 2]
    cortical = sel.classify([0.05, 0.10], times, voxels=24, concentric=0.9, ring_logjac=0.0, wm_share=0.2)
    assert not cortical["sel_candidate"] and cortical["sel_white_matter"] is False
    deep = sel.classify([0.05, 0.10], times, voxels=24, concentric=0.9, ring_logjac=0.0, wm_share=0.9)
    assert deep["sel_candidate"] and deep["sel_white_matter"] is True
    # the lesion table location (from the FLAIR) overrides a white-matter-looking shell for cortical lesions
    in_cortex = sel.classify([0.05, 0.10], times, voxels=24, concentric=0.9, ring_logjac=0.0, wm_share=0.9,
                             location="cortical")
    assert not in_cortex["sel_candidate"] and in_cortex["sel_white_matter"] is False
    for location in ("periventricular", "juxtacortical", "deep_white_matter", None):
        assert sel.classify([0.05, 0.10], times, voxels=24, concentric=0.9, ring_logjac=0.0, wm_share=0.9,
                            location=location)["sel_candidate"]
    ring = np.ones((3, 3, 3), dtype=bool)
    tissue = np.array([1] * 9 + [2] * 6 + [3] * 12).reshape(3, 3, 3)  # CSF is left out of the share
    assert sel.measure.white_matter_share(ring, tissue) == pytest.approx(12 / 18)
    assert sel.measure.white_matter_share(ring, np.ones((3, 3, 3), dtype=int)) is None


def test_surrounding_ring_is_a_shell_outside_the_gap():
    from mspathobiology.sel.measure import surrounding_ring

    mask, offset = _sphere(shape=(31, 31, 31), radius=4.0)
    other = np.zeros_like(mask)
    other[15, 15, 23:26] = True  # another lesion 8-10 mm from the centre, inside the shell: left out
    ring = surrounding_ring(mask, other, (1.0, 1.0, 1.0), gap_mm=2.0, ring_mm=3.0)
    distance = np.sqrt((offset ** 2).sum(-1))[ring]
    assert ring.any() and not (ring & mask).any() and not (ring & other).any()
    assert distance.min() > 4.0 + 2.0 - 1.0 and distance.max() <= 4.0 + 5.0 + 1.0


# ----------------------------------------------------------------------------- synthetic 3-visit subject

CENTRE = np.array([0.0, 0.0, 0.0])
LESIONS = {1: ((14.0, 4.0, 6.0), 0.25), 2: ((-15.0, 6.0, -2.0), 0.0), 3: ((0.0, -22.0, 4.0), -0.12)}
RADIUS_MM = 6.5
ATROPHY_PER_VISIT = 0.006  # linear scale, about -1.8 % volume per visit


def _render(visit: int, size=48, spacing=2.0, rng=None):
    """T1 of a textured ellipsoidal 'brain' with 3 spherical lesions (expanding, stable, shrinking) at
    ``visit``, a global contraction, a rigid motion, a linear bias and noise; LPS grid with direction FLIP."""
    ref = sitk.Image([size] * 3, sitk.sitkFloat32)
    ref.SetSpacing([spacing] * 3)
    ref.SetDirection(FLIP)
    ref.SetOrigin((size * spacing / 2, size * spacing / 2, -size * spacing / 2))
    sub = (np.arange(2) + 0.5) / 2 - 0.5
    idx = np.indices((size,) * 3).reshape(3, -1)[::-1].T.astype(float)
    angle = np.deg2rad(2.0 * visit)
    rot = np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])
    shift = np.array([1.2, -0.8, 0.6]) * visit
    scale = 1.0 - ATROPHY_PER_VISIT * visit
    image = np.zeros(idx.shape[0])
    d = np.asarray(FLIP).reshape(3, 3)
    for a in sub:
        for b in sub:
            for c in sub:
                phys = ((idx + [a, b, c]) * spacing) @ d.T + np.asarray(ref.GetOrigin())
                head = (phys - shift) @ rot  # R^T (x - t)
                p = head / scale              # baseline anatomy under the contraction
                r = np.sqrt(((p / [38.0, 42.0, 34.0]) ** 2).sum(1))
                value = np.where(r < 1.0, 100.0, np.where(r < 1.15, 20.0, 5.0))
                value = np.where((r > 0.88) & (r < 1.0), 62.0, value)  # cortex
                for centre in ([-8.0, 10.0, 8.0], [8.0, 10.0, 8.0], [0.0, -10.0, -12.0]):
                    value = np.where(np.sqrt(((p - centre) ** 2 / [16.0, 64.0, 16.0]).sum(1)) < 1.0, 20.0, value)
                for lesion, (centre, rate) in LESIONS.items():
                    radius = RADIUS_MM * (1.0 + rate * visit) ** (1.0 / 3.0)
                    value = np.where(np.linalg.norm(p - centre, axis=1) < radius, 50.0, value)
                image += value / 8.0
    bias = 1.0 + 0.04 * (visit - 1) * idx[:, 0] / size
    rng = rng or np.random.default_rng(visit)
    image = image * bias + rng.normal(0.0, 1.5, image.size)
    out = sitk.GetImageFromArray(image.reshape((size,) * 3).astype(np.float32))
    out.CopyInformation(ref)
    return out


def _baseline_labels(t1: sitk.Image):
    size = t1.GetSize()
    idx = np.indices(size[::-1]).reshape(3, -1)[::-1].T.astype(float)
    d = np.asarray(t1.GetDirection()).reshape(3, 3)
    phys = (idx * t1.GetSpacing()[0]) @ d.T + np.asarray(t1.GetOrigin())
    labels = np.zeros(idx.shape[0], dtype=np.uint8)
    for lesion, (centre, _) in LESIONS.items():
        labels[np.linalg.norm(phys - centre, axis=1) < RADIUS_MM] = lesion
    brain = np.sqrt(((phys / [38.0, 42.0, 34.0]) ** 2).sum(1)) < 1.0
    lab = sitk.GetImageFromArray(labels.reshape(size[::-1]))
    lab.CopyInformation(t1)
    mask = sitk.GetImageFromArray(brain.reshape(size[::-1]).astype(np.uint8))
    mask.CopyInformation(t1)
    return lab, mask


@pytest.fixture(scope="module")
def synthetic():
    visits = [_render(v) for v in range(3)]
    labels, mask = _baseline_labels(visits[0])
    return visits, labels, mask


@pytest.fixture(scope="module")
def synthetic_result(synthetic):
    visits, labels, mask = synthetic
    return sel.analyse(visits, labels, brain_mask=mask)


def test_synthetic_expanding_lesion_is_the_only_sel(synthetic_result):
    rows = {r["id"]: r for r in synthetic_result.rows}
    assert set(rows) == {1, 2, 3}
    assert rows[1]["sel_candidate"], rows[1]
    assert not rows[2]["sel_candidate"], rows[2]    # stable in a contracting brain
    assert not rows[3]["sel_candidate"], rows[3]    # shrinking
    assert rows[1]["logjac_visit-03"] > rows[1]["logjac_visit-02"] > 0.02
    assert rows[2]["logjac_visit-03"] < D.SEL_MIN_EXPANSION_LOGJAC and rows[2]["sel_concentric_fraction"] < 0.5
    assert rows[3]["logjac_visit-03"] < 0
    assert rows[1]["sel_score"] > rows[2]["sel_score"] and rows[1]["sel_score"] > rows[3]["sel_score"]
    assert rows[1]["sel_concentric_fraction"] > 0.9


def test_synthetic_summary_and_global_change(synthetic_result):
    s = synthetic_result.summary
    assert s["sel_count"] == 1 and s["sel_ids"] == [1]
    vol = {r["id"]: r["volume_mm3"] for r in synthetic_result.rows}
    assert s["sel_volume_mm3"] == pytest.approx(vol[1])
    assert s["sel_volume_share"] == pytest.approx(vol[1] / sum(vol.values()))
    # the brain contracts (true -1.8 % and -3.6 % volume); the global log-Jacobian sees a contraction
    assert s["global_volume_change_percent"][1] < s["global_volume_change_percent"][0] < 0
    assert set(synthetic_result.images) == {"logjac_visit-02", "logjac_visit-03"}
    for image in synthetic_result.images.values():
        assert image.GetDirection() == pytest.approx(FLIP)
    assert all(r["folded_voxels"] == 0 for r in s["registration"])


def test_bad_inputs_are_refused(synthetic):
    visits, labels, mask = synthetic
    with pytest.raises(InputError, match="needs >= 3 visits"):
        sel.analyse(visits[:2], labels, brain_mask=mask)
    with pytest.raises(InputError, match="needs >= 3 visits"):
        sel.analyse({"t1": visits[:2], "lesions": labels, "brain_mask": mask})
    with pytest.raises(InputError, match="lesion labels are required"):
        sel.analyse({"t1": visits})
    with pytest.raises(InputError, match="increase strictly"):
        sel.analyse(visits, labels, brain_mask=mask, times=[0, 2, 1])
    elsewhere = sitk.Image(labels)
    elsewhere.SetOrigin((500.0, 0.0, 0.0))   # another grid that does not overlap the T1 in physical space
    with pytest.raises(GeometryMismatchError, match="no lesion voxel lies inside the baseline T1"):
        sel.analyse(visits, elsewhere, brain_mask=mask)
    shifted_mask = sitk.Image(mask)
    shifted_mask.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(GeometryMismatchError):
        sel.analyse(visits, labels, brain_mask=shifted_mask)
    empty = sitk.Image(labels.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(labels)
    with pytest.raises(InputError, match="no lesion"):
        sel.analyse(visits, empty, brain_mask=mask)


def _labels_on_flair_grid():
    """The synthetic lesions drawn on a FLAIR-like grid: 1 x 1 x 3 mm, identity direction, another origin."""
    flair = sitk.Image([100, 100, 32], sitk.sitkUInt8)
    flair.SetSpacing([1.0, 1.0, 3.0])
    flair.SetOrigin((-50.0, -49.5, -47.0))
    idx = np.indices(flair.GetSize()[::-1]).reshape(3, -1)[::-1].T.astype(float)
    phys = idx * flair.GetSpacing() + np.asarray(flair.GetOrigin())
    labels = np.zeros(idx.shape[0], dtype=np.uint8)
    for lesion, (centre, _) in LESIONS.items():
        labels[np.linalg.norm(phys - centre, axis=1) < RADIUS_MM] = lesion
    out = sitk.GetImageFromArray(labels.reshape(flair.GetSize()[::-1]))
    out.CopyInformation(flair)
    return out


def test_lesions_on_another_grid_are_resampled_to_the_baseline(synthetic, synthetic_result):
    visits, labels, mask = synthetic
    flair_grid = _labels_on_flair_grid()
    flair = [sitk.Resample(v, flair_grid, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32) for v in visits]
    result = sel.analyse(visits, flair_grid, brain_mask=mask, flair=flair)
    assert all(r["flair_mean"] is not None and r["location"] is not None for r in result.rows)
    assert result.summary["locations"].startswith("baseline FLAIR")
    record = result.summary["lesions_resampled"]
    assert record["from_spacing_mm"] == [1.0, 1.0, 3.0] and record["lesions_lost"] == []
    assert synthetic_result.summary["lesions_resampled"] is None
    assert result.labels.GetSize() == visits[0].GetSize() and result.labels.GetDirection() == pytest.approx(FLIP)
    same_grid = {r["id"]: r for r in synthetic_result.rows}
    rows = {r["id"]: r for r in result.rows}
    assert set(rows) == {1, 2, 3} and result.summary["sel_ids"] == [1]
    for lesion, row in rows.items():   # nearest neighbour from 3 mm slices: volume within a slice's worth
        assert row["volume_mm3"] == pytest.approx(same_grid[lesion]["volume_mm3"], rel=0.3)
        for axis in ("centroid_r", "centroid_a", "centroid_s"):
            assert row[axis] == pytest.approx(same_grid[lesion][axis], abs=2.0)


def test_cli_writes_table_maps_and_summary(synthetic, synthetic_result, tmp_path, capsys):
    visits, labels, mask = synthetic
    paths = []
    for n, image in enumerate(visits):
        paths.append(str(tmp_path / f"t1_{n}.nii.gz"))
        sitk.WriteImage(image, paths[-1])
    sitk.WriteImage(labels, str(tmp_path / "lesions.nii.gz"))
    sitk.WriteImage(mask, str(tmp_path / "brain.nii.gz"))
    out = tmp_path / "out"
    code = cli.main(["sel", "--visits", *paths, "--lesions", str(tmp_path / "lesions.nii.gz"),
                     "--brain-mask", str(tmp_path / "brain.nii.gz"), "--times", "0", "0.5", "1",
                     "--flair", *paths, "--out", str(out)])
    assert code == 0
    assert "sel_count 1" in capsys.readouterr().out
    rows = read_lesion_table(out / "sel.tsv")
    assert [r["id"] for r in rows if r["sel_candidate"]] == [1]
    assert set(COLUMNS) <= set(rows[0]) and "sel_score" in rows[0] and "logjac_visit-03" in rows[0]
    assert rows[0]["flair_mean"] is not None and rows[0]["flair_norm_slope"] is not None
    assert (out / "logjac_visit-02.nii.gz").exists() and (out / "logjac_visit-03.nii.gz").exists()
    import json
    summary = json.loads((out / "sel_summary.json").read_text())
    assert summary["times"] == [0.0, 0.5, 1.0] and summary["sel_count"] == 1
    per_visit = {r["id"]: r["sel_slope_logjac"] for r in synthetic_result.rows}
    for r in rows:  # slopes are per time unit: visits half a year apart double the per-visit slope
        assert r["sel_slope_logjac"] == pytest.approx(2.0 * per_visit[r["id"]], rel=0.05, abs=0.005)
    code = cli.main(["sel", "--visits", *paths[:2], "--lesions", str(tmp_path / "lesions.nii.gz"),
                     "--out", str(tmp_path / "bad")])
    assert code == 2
    assert "needs >= 3 visits" in capsys.readouterr().err


# ----------------------------------------------------------------------------- longitudinal phantom

@pytest.fixture(scope="module")
def phantom():
    return generate_longitudinal_subject(seed=0, small=True, visits=3)


def test_longitudinal_phantom_truth_is_designed_and_measured(phantom):
    truth = phantom.truth
    kinds = {r["evolution"] for r in truth}
    assert {"expanding", "stable", "shrinking"} <= kinds
    assert len(phantom.subject.sessions) == 3
    pbvc = [s.truth["pbvc_percent"] for s in phantom.subject.sessions]
    assert pbvc[0] == 0 and pbvc[2] < pbvc[1] < 0  # global atrophy grows over the visits
    for row in truth:
        factors = row["design_volume_factor"]
        rate = row["volume_rate_per_visit"]
        assert factors == pytest.approx([1.0 + rate * s for s in range(3)])
        if row["evolution"] == "expanding" and row["voxels"] >= 50:
            v = row["voxels_per_visit"]
            assert v[0] < v[1] < v[2], row  # the rendered lesion grows at every visit
            assert v[2] / v[0] == pytest.approx(factors[2], rel=0.2)
        if row["evolution"] == "stable" and row["voxels"] >= 50 and row["confluent_with"] is None:
            assert abs(row["voxels_per_visit"][2] / row["voxels"] - 1.0) < 0.15, row
        growing = all(b > a for a, b in zip(row["voxels_per_visit"][:-1], row["voxels_per_visit"][1:]))
        assert row["rendered_growing"] == growing
        assert row["sel"] == (row["evolution"] == "expanding" and growing)


def test_longitudinal_phantom_sel_detection(phantom):
    flair = [s.images["flair"] for s in phantom.subject.sessions]
    result = sel.analyse(phantom.t1, phantom.baseline_lesions, brain_mask=phantom.subject.sessions[0].brain_mask,
                         flair=flair)
    truth = {r["id"]: r for r in phantom.truth}
    located = {r["id"]: r["location"] for r in result.rows}
    assert all(located[i] != "cortical" for i, t in truth.items() if t["sel"])  # SELs are white-matter lesions
    rows = [r for r in result.rows if truth[r["id"]]["evaluable"]]
    sel_truth = [r for r in rows if truth[r["id"]]["sel"]]
    stable = [r for r in rows if truth[r["id"]]["evolution"] == "stable"]
    assert sel_truth and stable
    found = sum(r["sel_candidate"] for r in sel_truth)
    assert found >= 0.6 * len(sel_truth), [(r["id"], r["sel_expansion_logjac"]) for r in sel_truth]
    assert not any(r["sel_candidate"] for r in stable), [r["id"] for r in stable if r["sel_candidate"]]
    assert result.summary["global_volume_change_percent"][1] < 0
