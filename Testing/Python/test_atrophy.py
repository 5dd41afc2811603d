"""Atrophy: filling, tissue classes, BPF, PBVC sign/direction/calibration, regional tables, bad inputs, CLI."""

import json

import numpy as np
from scipy import ndimage
import pytest
import SimpleITK as sitk
from scipy.special import erf

from mspathobiology.atrophy import compute_pbvc
from mspathobiology.atrophy.filling import fill_lesions
from mspathobiology.atrophy.fractions import aseg_volumes_ml, bpf, normalised_by_icv
from mspathobiology.atrophy.pbvc import expected_window, halfway_transforms, transform_matrix
from mspathobiology.atrophy.regional import parcel_volumes
from mspathobiology.atrophy.tissue import classify, fit_partial_volume_mixture, tissue_volumes_ml
from mspathobiology.errors import GeometryMismatchError, InputError

FLIPPED = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)
VALUES = {"wm": 1000.0, "gm": 620.0, "csf": 180.0, "skull": 80.0}


def head(scale=1.0, vox=2.0, n=56, seed=0, direction=FLIPPED, noise=20.0, shift=(0.0, 0.0, 0.0)):
    """Sphere 'brain' (WM r<24 mm, GM to 30 mm, CSF to 33 mm, skull) scaled by ``scale``.

    Returns (T1 image, brain mask image, exact brain volume mL of the continuous sphere).
    """
    grid = (np.indices((n, n, n)).astype(float) - n / 2 + 0.31) * vox
    grid = grid - np.array(shift)[::-1, None, None, None]
    r = np.sqrt((grid ** 2).sum(0)) / scale
    inside = {radius: 0.5 * (1 + erf((radius - r) / (np.sqrt(2) * 1.0))) for radius in (24, 30, 33)}
    clean = (VALUES["wm"] * inside[24] + VALUES["gm"] * (inside[30] - inside[24])
             + VALUES["csf"] * (inside[33] - inside[30]) + VALUES["skull"] * (1 - inside[33]))
    image = clean + np.random.default_rng(seed).normal(0, noise, clean.shape)
    t1 = sitk.GetImageFromArray(image.astype(np.float32))
    t1.SetSpacing((vox,) * 3)
    t1.SetDirection(direction)
    t1.SetOrigin((3.0, -7.0, 11.0))
    mask = sitk.GetImageFromArray((r < 30).astype(np.uint8))
    mask.CopyInformation(t1)
    return t1, mask, 4.0 / 3.0 * np.pi * (30 * scale) ** 3 / 1000.0


@pytest.mark.parametrize("scale", [0.99, 1.01])
def test_pbvc_sign_and_size_on_flipped_direction(scale):
    """A shrinking sphere gives negative PBVC, a growing one positive, on direction diag(-1,-1,1)
    (the grid on which SimpleITK's Jacobian filter silently flips the sign)."""
    b, bm, _ = head(seed=1)
    f, fm, _ = head(scale=scale, seed=2, shift=(0.7, -0.4, 0.3))
    result = compute_pbvc(b, f, bm, fm)
    truth = 100.0 * (scale ** 3 - 1.0)
    assert np.sign(result["pbvc_percent"]) == np.sign(truth)
    assert abs(result["pbvc_percent"] - truth) < 0.25 * abs(truth)
    disp = sitk.GetArrayFromImage(result["displacement_map"])
    edge = np.abs(disp) > 0
    assert edge.sum() > 100
    assert np.sign(disp[edge].mean()) == np.sign(truth)
    assert result["displacement_map"].GetDirection() == b.GetDirection()
    assert result["regional_change"] == "within a fixed region"


def test_pbvc_same_on_identity_and_flipped_direction():
    """The grid direction must not change the measurement (ITK issue 5358 guard)."""
    values = []
    for direction in (FLIPPED, (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)):
        b, bm, _ = head(seed=3, direction=direction)
        f, fm, _ = head(scale=0.99, seed=4, direction=direction)
        values.append(compute_pbvc(b, f, bm, fm)["pbvc_percent"])
    assert values[0] == pytest.approx(values[1], abs=0.1)


def test_scan_rescan_with_motion_is_near_zero():
    """Same anatomy, new noise, 1.7 mm motion: |PBVC| < 0.15 % (1 mm voxels)."""
    b, bm, _ = head(seed=5, vox=1.0, n=84)
    f, fm, _ = head(seed=6, vox=1.0, n=84, shift=(1.3, 0.6, -0.9))
    result = compute_pbvc(b, f, bm, fm, interval_years=1.0)
    assert abs(result["pbvc_percent"]) < 0.15
    assert result["rigid_translation_mm"] > 0.5
    assert result["pbvc_annualised_percent_per_year"] == pytest.approx(result["pbvc_percent"])


def test_self_calibration_recovers_known_scale():
    b, bm, _ = head(seed=7)
    f, fm, _ = head(scale=0.995, seed=8)
    result = compute_pbvc(b, f, bm, fm, calibrate=True)
    assert result["calibration_known_percent"] == pytest.approx(100 * (1.005 ** 3 - 1))
    assert 0.8 < result["calibration_factor"] < 1.25
    assert result["calibration_applied"]
    assert result["pbvc_percent"] == pytest.approx(result["pbvc_percent_uncalibrated"] * result["calibration_factor"])


def test_window_carrier_moves_the_window_with_the_brain_change():
    """The measurement window of visit 2 is the window scaled by f^(1/2), of visit 1 by f^(-1/2),
    f = (1 + change)^(1/3): its volume follows (1 + change)^(+-1/2); at no change it is the region."""
    from mspathobiology.atrophy.pbvc import _WindowCarrier

    k, j, i = np.mgrid[:60, :60, :60]
    region = (k - 30.0) ** 2 + (j - 30.0) ** 2 + (i - 30.0) ** 2 <= 20.0 ** 2
    reference = sitk.Image(60, 60, 60, sitk.sitkFloat32)
    reference.SetSpacing((1.5, 1.5, 1.5))
    carrier = _WindowCarrier(region, reference, region.astype(np.float32))
    assert np.array_equal(carrier.weights(1, 0.0), region.astype(np.float32))
    base = float(region.sum())
    change = -0.03
    assert carrier.weights(2, change).sum() / base == pytest.approx((1 + change) ** 0.5, abs=0.002)
    assert carrier.weights(1, change).sum() / base == pytest.approx((1 + change) ** -0.5, abs=0.002)


def _layered_head(scale: float = 1.0) -> sitk.Image:
    """A blurred 1.5 mm head: WM ball (r 24 mm, brighter towards its centre) in a GM shell (r 30),
    CSF (r 34), dark skull; its anatomy scaled by ``scale`` about the centre."""
    k, j, i = np.mgrid[:64, :64, :64].astype(float)
    r = np.sqrt((k - 31.5) ** 2 + (j - 31.5) ** 2 + (i - 31.5) ** 2) * 1.5 / scale
    array = np.where(r < 24, 110.0 - 0.4 * r, np.where(r < 30, 70.0, np.where(r < 34, 25.0, 5.0)))
    image = sitk.GetImageFromArray(ndimage.gaussian_filter(array, 1.0).astype(np.float32))
    image.SetSpacing((1.5, 1.5, 1.5))
    return image


def test_aligned_refit_keeps_the_anatomical_change_out_of_the_bias_field():
    """Two visits with no bias, the follow-up 3 % smaller: the polynomial fitted to their log ratio takes
    a radial pattern from the moved edges; fitted on the follow-up warped onto the baseline it is ~0."""
    from mspathobiology.atrophy.pbvc import differential_bias_field, warped_onto

    base, follow = _layered_head(), _layered_head(0.99)
    j1, j2 = sitk.GetArrayFromImage(base), sitk.GetArrayFromImage(follow)
    brain = ndimage.binary_dilation(j1 > 50, iterations=2)
    raw = differential_bias_field(j1, j2, brain, (1.5, 1.5, 1.5))
    aligned = differential_bias_field(j1, warped_onto(j1, j2, j2, base), brain, (1.5, 1.5, 1.5))
    assert np.abs(raw[brain]).max() > 3 * np.abs(aligned[brain]).max()
    assert np.abs(aligned[brain]).max() < 0.005


def test_halfway_transforms_compose_to_registration():
    t = sitk.Euler3DTransform((1.0, 2.0, 3.0), 0.05, -0.02, 0.03, (2.0, -1.0, 0.5))
    a, b = halfway_transforms(t)
    ma, mb = transform_matrix(a), transform_matrix(b)
    assert np.allclose(mb @ mb, transform_matrix(t), atol=1e-9)
    assert np.allclose(ma @ mb, np.eye(4), atol=1e-9)


def three_class_image(seed=0, noise=40.0):
    """Slab phantom: CSF | GM | WM thirds, with a dark 'lesion' cube inside WM."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((30, 30, 45), dtype=np.uint8)
    labels[:, :, :15], labels[:, :, 15:30], labels[:, :, 30:] = 1, 2, 3
    image = np.choose(labels - 1, [VALUES["csf"], VALUES["gm"], VALUES["wm"]]).astype(np.float32)
    lesion = np.zeros(labels.shape, bool)
    lesion[10:18, 10:18, 34:42] = True
    image[lesion] = 560.0
    return image + rng.normal(0, noise, image.shape).astype(np.float32), labels, lesion


def test_tissue_classification_three_classes():
    image, labels, lesion = three_class_image()
    image[lesion] = VALUES["wm"]  # no lesion here
    seg = classify(image, np.ones(labels.shape, bool))
    assert np.mean(seg["labels"] == labels) > 0.97
    vols = tissue_volumes_ml(seg["pv"], 1.0)
    for k, name in enumerate(("csf", "gm", "wm")):
        assert vols[f"{name}_ml"] == pytest.approx((labels == k + 1).sum() / 1000.0, rel=0.05)
    assert np.allclose(seg["pv"].sum(axis=0), 1.0, atol=1e-5)


def test_partial_volume_mixture_finds_pure_means():
    rng = np.random.default_rng(0)
    frac = rng.uniform(0, 1, 20000)
    x = np.concatenate([rng.normal(180, 20, 3000), rng.normal(620, 20, 40000), rng.normal(1000, 20, 50000),
                        180 + frac * 440 + rng.normal(0, 20, frac.size)])
    model = fit_partial_volume_mixture(x)
    assert model["means"][:, 0] == pytest.approx([180, 620, 1000], abs=25)


def test_filling_lowers_lesion_bias():
    image, labels, lesion = three_class_image(seed=1)
    mask = np.ones(labels.shape, bool)
    truth_wm = (labels == 3).sum()
    unfilled = classify(image, mask)
    filled_img = fill_lesions(image, lesion, mask)
    filled = classify(filled_img, mask)
    wrong_unfilled = np.mean(unfilled["labels"][lesion] != 3)
    wrong_filled = np.mean(filled["labels"][lesion] != 3)
    assert wrong_unfilled > 0.5 and wrong_filled < 0.1
    err = lambda seg: abs((seg["labels"] == 3).sum() - truth_wm)  # noqa: E731
    assert err(filled) < err(unfilled)
    nawm = image[(labels == 3) & ~lesion]
    assert abs(filled_img[lesion].mean() - nawm.mean()) < 3 * nawm.std() / np.sqrt(lesion.sum()) + 5
    assert np.array_equal(filled_img[~lesion], image[~lesion])


def test_bpf_and_normalisation():
    assert bpf(500.0, 400.0, 10.0, 1300.0) == pytest.approx(910.0 / 1300.0)
    with pytest.raises(InputError):
        bpf(1.0, 1.0, 0.0, 0.0)
    norm = normalised_by_icv({"gm_ml": 500.0, "wm_ml": 400.0}, 1000.0)
    assert norm == {"gm_icv_fraction": 0.5, "wm_icv_fraction": 0.4}
    aseg = np.zeros((4, 4, 4), int)
    aseg[0, 0, :2] = 10
    aseg[1, 1, 1] = 11
    vols = aseg_volumes_ml(aseg, 8.0)
    assert vols["thalamus_ml"] == pytest.approx(0.016) and vols["deep_gm_ml"] == pytest.approx(0.024)
    assert aseg_volumes_ml(np.zeros((2, 2, 2), int), 1.0)["thalamus_ml"] is None


def test_regional_table_counts_and_pv():
    parc = np.zeros((4, 4, 4), int)
    parc[:2] = 5
    parc[2:, :2] = 7
    pv = np.zeros((3,) + parc.shape, np.float32)
    pv[1] = 0.25
    pv[2] = 0.75
    les = np.zeros(parc.shape, bool)
    les[0, 0, 0] = True
    rows = parcel_volumes(parc, 2.0, pv=pv, lesions=les)
    by = {r["label"]: r for r in rows}
    assert set(by) == {5, 7}
    assert by[5]["voxels"] == 32 and by[5]["volume_ml"] == pytest.approx(0.064)
    assert by[5]["gm_ml"] == pytest.approx(31 * 0.25 * 0.002)
    assert by[5]["lesion_ml"] == pytest.approx(0.002)
    assert by[7]["wm_ml"] == pytest.approx(16 * 0.75 * 0.002)


def test_pbvc_regional_rows_are_within_fixed_region():
    b, bm, _ = head(seed=9)
    f, fm, _ = head(scale=0.99, seed=10)
    arr = sitk.GetArrayFromImage(bm).astype(np.uint32)
    arr[:, :, :28] *= 2  # two halves
    parc = sitk.GetImageFromArray(arr)
    parc.CopyInformation(b)
    result = compute_pbvc(b, f, bm, fm, baseline_parcellation=parc)
    rows = {r["label"]: r for r in result["regions"]}
    assert set(rows) == {1, 2}
    assert all(r["change_type"] == "within a fixed region" for r in rows.values())
    assert all(r["change_percent"] < 0 for r in rows.values())


def test_bad_inputs_give_clear_errors():
    b, bm, _ = head(seed=11)
    f, fm, _ = head(seed=12)
    small = sitk.Shrink(fm, (2, 2, 2))
    with pytest.raises(GeometryMismatchError):
        compute_pbvc(b, f, bm, small)
    empty = sitk.Image(bm.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(bm)
    with pytest.raises(InputError, match="empty"):
        compute_pbvc(b, f, empty, fm)
    nan = sitk.GetArrayFromImage(f)
    nan[3, 3, 3] = np.nan
    bad = sitk.GetImageFromArray(nan)
    bad.CopyInformation(f)
    with pytest.raises(InputError, match="NaN"):
        compute_pbvc(b, bad, bm, fm)
    with pytest.raises(InputError, match="interval"):
        compute_pbvc(b, f, bm, fm, interval_years=-1)
    with pytest.raises(InputError, match="empty"):
        classify(np.ones((5, 5, 5)), np.zeros((5, 5, 5), bool))


def test_cli_writes_json(tmp_path):
    from mspathobiology.cli import main

    b, bm, _ = head(seed=13)
    f, fm, _ = head(scale=0.99, seed=14)
    for name, image in (("b.nii.gz", b), ("bm.nii.gz", bm), ("f.nii.gz", f), ("fm.nii.gz", fm)):
        sitk.WriteImage(image, str(tmp_path / name))
    out = tmp_path / "pbvc"
    code = main(["pbvc", "--baseline", str(tmp_path / "b.nii.gz"), "--followup", str(tmp_path / "f.nii.gz"),
                 "--baseline-mask", str(tmp_path / "bm.nii.gz"), "--followup-mask", str(tmp_path / "fm.nii.gz"),
                 "--interval-years", "2", "--out", str(out)])
    assert code == 0
    doc = json.loads((out / "pbvc.json").read_text())
    assert doc["pbvc_percent"] < 0
    assert doc["pbvc_annualised_percent_per_year"] == pytest.approx(doc["pbvc_percent"] / 2)
    assert (out / doc["files"]["edge_displacement_map"]).exists()

    out = tmp_path / "atrophy"
    code = main(["atrophy", "--t1", str(tmp_path / "b.nii.gz"), "--brain-mask", str(tmp_path / "bm.nii.gz"),
                 "--parcellation", str(tmp_path / "bm.nii.gz"), "--out", str(out)])
    assert code == 0
    doc = json.loads((out / "atrophy.json").read_text())
    for key in ("icv_ml", "brain_ml", "gm_ml", "wm_ml", "csf_ml", "lesion_ml", "bpf"):
        assert doc[key] is not None
    assert 0.5 < doc["bpf"] < 1.0
    assert doc["thalamus_ml"] is None
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "tissue_labels.nii.gz")))
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
    assert (out / "regional_volumes.tsv").exists()
    assert main(["atrophy", "--t1", str(tmp_path / "missing.nii.gz"), "--out", str(out)]) == 2


def test_brain_extraction_and_icv_on_synthetic_head():
    """Brain (r < 30 mm) inside CSF, skull and bright scalp, on a dark background."""
    from mspathobiology.atrophy.brain_extraction import estimate_icv, extract_brain

    n, vox = 64, 2.0
    grid = (np.indices((n, n, n)).astype(float) - n / 2 + 0.31) * vox
    r = np.sqrt((grid ** 2).sum(0))
    clean = np.select([r < 24, r < 30, r < 33, r < 39, r < 45],
                      [VALUES["wm"], VALUES["gm"], VALUES["csf"], VALUES["skull"], 950.0], 0.0)
    image = clean + np.random.default_rng(0).normal(0, 20, clean.shape)
    t1 = sitk.GetImageFromArray(image.astype(np.float32))
    t1.SetSpacing((vox,) * 3)
    result = extract_brain(t1, method="threshold")
    assert result.method.startswith("threshold")
    brain = result.brain_array()
    truth = r < 30
    dice = 2 * (brain & truth).sum() / (brain.sum() + truth.sum())
    assert dice > 0.95
    assert not (brain & (r > 39)).any()  # no scalp
    icv2 = estimate_icv(image.astype(np.float32), truth, (vox,) * 3)
    assert icv2.sum() == pytest.approx((r < 33).sum(), rel=0.08)
    assert not (icv2 & (r > 36)).any()


def test_classification_with_flair():
    image, labels, lesion = three_class_image(seed=2)
    flair = np.choose(labels - 1, [100.0, 1350.0, 1000.0]).astype(np.float32)
    flair += np.random.default_rng(3).normal(0, 40, flair.shape).astype(np.float32)
    seg = classify(image, np.ones(labels.shape, bool), flair=flair)
    # the dark 'lesion' cube is not filled here; score the other voxels
    assert np.mean(seg["labels"][~lesion] == labels[~lesion]) > 0.97


def test_expected_window_matches_monte_carlo():
    rng = np.random.default_rng(0)
    for mu in (180.0, 400.0, 620.0):
        samples = np.clip((mu + rng.normal(0, 30, 200000) - 180.0) / 440.0, 0, 1)
        assert expected_window(mu, 30.0, 180.0, 620.0) == pytest.approx(samples.mean(), abs=2e-3)
    assert expected_window(620.0, 0.0, 180.0, 620.0) == 1.0
