"""One brain extraction per T1 (issue 17): reuse in memory and on disk, never for another image, recorded,
a user-given mask still wins; and the subsampled mixture fit (deterministic, close to the full fit)."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from mspathobiology.atrophy import brain_cache
from mspathobiology.atrophy.brain_extraction import extract_brain
from mspathobiology.atrophy.filling import nawm_mask
from mspathobiology.atrophy.pipeline import analyse
from mspathobiology.atrophy.tissue import classify, fit_mixture, fit_subsample

VALUES = {"wm": 1000.0, "gm": 620.0, "csf": 180.0, "skull": 80.0, "scalp": 950.0}


def synthetic_head(n=48, vox=2.5, seed=0):
    """Brain (WM r < 24 mm, GM to 30 mm) in CSF, skull and bright scalp; exact brain = r < 30 mm."""
    grid = (np.indices((n, n, n)).astype(float) - n / 2 + 0.31) * vox
    r = np.sqrt((grid ** 2).sum(0))
    clean = np.select([r < 24, r < 30, r < 33, r < 39, r < 45],
                      [VALUES["wm"], VALUES["gm"], VALUES["csf"], VALUES["skull"], VALUES["scalp"]], 0.0)
    image = sitk.GetImageFromArray((clean + np.random.default_rng(seed).normal(0, 20, clean.shape)).astype(np.float32))
    image.SetSpacing((vox,) * 3)
    image.SetOrigin((3.0, -7.0, 11.0))
    return image, r


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(brain_cache.CACHE_ENV, str(folder))
    brain_cache.clear_memory()
    yield folder
    brain_cache.clear_memory()


def counting(calls):
    def compute(image):
        calls.append(1)
        return brain_cache_extract(image)
    return compute


def brain_cache_extract(image):
    from mspathobiology.atrophy.brain_extraction import _extract
    return _extract(image, "threshold")


def test_second_extraction_of_the_same_t1_is_reused_in_memory_and_says_from_which_file(cache):
    t1, r = synthetic_head()
    first = extract_brain(t1, method="threshold")
    assert "reused" not in first.method
    again = extract_brain(sitk.Image(t1), method="threshold")   # a copy: same content, another object
    assert "reused from" in again.method and again.method.startswith(first.method)
    entry = next(cache.iterdir())
    assert again.details["reused_from"] == str(entry / "brain_mask.nii.gz")
    assert again.details["t1_sha256"] == brain_cache.image_digest(sitk.Cast(t1, sitk.sitkFloat32))
    np.testing.assert_array_equal(again.brain_array(), first.brain_array())
    np.testing.assert_array_equal(again.icv_array(), first.icv_array())
    truth = r < 30
    dice = 2 * (again.brain_array() & truth).sum() / (again.brain_array().sum() + truth.sum())
    assert dice > 0.95


def test_a_later_process_reuses_the_disk_entry_with_the_t1_geometry(cache):
    t1, _ = synthetic_head()
    first = extract_brain(t1, method="threshold")
    brain_cache.clear_memory()                                  # as a new process starts
    calls = []
    again = brain_cache.cached_extraction(sitk.Cast(t1, sitk.sitkFloat32), "threshold", counting(calls))
    assert calls == [] and "reused from" in again.method
    assert again.mask.GetOrigin() == t1.GetOrigin() and again.mask.GetSpacing() == t1.GetSpacing()
    np.testing.assert_array_equal(again.brain_array(), first.brain_array())
    record = json.loads((cache / next(cache.iterdir()).name / "extraction.json").read_text())
    assert record["t1_sha256"] == again.details["t1_sha256"] and record["method"] == first.method


def test_a_different_t1_or_method_is_never_given_another_images_mask(cache):
    t1, _ = synthetic_head()
    extract_brain(t1, method="threshold")
    array = sitk.GetArrayFromImage(t1)
    array[0, 0, 0] += 1.0                                      # one voxel differs
    other = sitk.GetImageFromArray(array)
    other.CopyInformation(t1)
    calls = []
    result = brain_cache.cached_extraction(other, "threshold", counting(calls))
    assert calls == [1] and "reused" not in result.method
    moved = sitk.Image(t1)
    moved.SetOrigin((4.0, -7.0, 11.0))                          # same voxels, another place
    brain_cache.cached_extraction(sitk.Cast(moved, sitk.sitkFloat32), "threshold", counting(calls))
    assert calls == [1, 1]
    brain_cache.cached_extraction(sitk.Cast(t1, sitk.sitkFloat32), "template", counting(calls))
    assert calls == [1, 1, 1]                                  # another method is another entry
    assert len(list(cache.iterdir())) == 4


def test_an_edited_or_broken_disk_entry_is_not_used(cache):
    t1, _ = synthetic_head()
    t1 = sitk.Cast(t1, sitk.sitkFloat32)
    extract_brain(t1, method="threshold")
    entry = next(cache.iterdir())
    mask = sitk.ReadImage(str(entry / "brain_mask.nii.gz"))
    array = sitk.GetArrayFromImage(mask)
    array[24, 24, 24] = 1 - array[24, 24, 24]                  # someone edited the cached mask
    edited = sitk.GetImageFromArray(array)
    edited.CopyInformation(mask)
    sitk.WriteImage(edited, str(entry / "brain_mask.nii.gz"))
    brain_cache.clear_memory()
    calls = []
    result = brain_cache.cached_extraction(t1, "threshold", counting(calls))
    assert calls == [1] and "reused" not in result.method
    (entry / "extraction.json").write_text("{not json")
    brain_cache.clear_memory()
    brain_cache.cached_extraction(t1, "threshold", counting(calls))
    assert len(calls) == 2


def test_disabled_disk_cache_writes_nothing_and_still_reuses_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv(brain_cache.CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    brain_cache.clear_memory()
    t1, _ = synthetic_head()
    t1 = sitk.Cast(t1, sitk.sitkFloat32)
    calls = []
    brain_cache.cached_extraction(t1, "threshold", counting(calls))
    again = brain_cache.cached_extraction(t1, "threshold", counting(calls))
    assert calls == [1] and again.details["reused_from"].startswith("memory")
    assert brain_cache.cache_folder() is None and not (tmp_path / "xdg").exists()
    brain_cache.clear_memory()


def test_atrophy_records_the_reuse_and_a_given_mask_still_wins(cache):
    t1, r = synthetic_head()
    first = analyse({"t1": t1}, brain_extraction="threshold", bias_correction=False, template_icv=False)
    second = analyse({"t1": t1}, brain_extraction="threshold", bias_correction=False, template_icv=False)
    assert "reused" not in first.summary["brain_extraction_method"]
    assert "reused from" in second.summary["brain_extraction_method"]
    assert second.summary["brain_extraction"]["reused_from"].endswith("brain_mask.nii.gz")
    assert second.summary["bpf"] == pytest.approx(first.summary["bpf"], abs=1e-12)
    given = sitk.GetImageFromArray((r < 27).astype(np.uint8))
    given.CopyInformation(t1)
    mine = analyse({"t1": t1, "brain_mask": given}, bias_correction=False, template_icv=False)
    assert mine.summary["brain_extraction_method"] == "given mask"
    np.testing.assert_array_equal(sitk.GetArrayFromImage(mine.brain_mask) > 0, r < 27)


def test_subsample_is_deterministic_and_keeps_small_inputs_whole():
    x = np.arange(1000, dtype=np.float32)
    assert fit_subsample(x, size=2000) is x
    a, b = fit_subsample(x, size=100, seed=3), fit_subsample(x, size=100, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.size == 100 and np.all(np.diff(a) > 0) and np.unique(a).size == 100
    assert not np.array_equal(a, fit_subsample(x, size=100, seed=4))


def test_subsampled_fit_matches_the_full_fit_and_the_truth():
    rng = np.random.default_rng(1)
    truth_means, sd = np.array([180.0, 620.0, 1000.0]), 40.0
    sizes = (60_000, 140_000, 100_000)
    samples = np.concatenate([rng.normal(m, sd, n) for m, n in zip(truth_means, sizes)]).astype(np.float32)
    sub = fit_mixture(samples, max_samples=30_000)
    full = fit_mixture(samples, max_samples=None)
    np.testing.assert_allclose(sub["means"][:, 0], full["means"][:, 0], rtol=0.005)
    np.testing.assert_allclose(sub["means"][:, 0], truth_means, atol=3.0)
    np.testing.assert_allclose(sub["weights"], np.array(sizes) / sum(sizes), atol=0.01)
    np.testing.assert_allclose(np.sqrt(sub["variances"][:, 0]), sd, rtol=0.05)


def test_classify_within_the_mask_box_equals_the_whole_grid_and_nawm_shell_is_exact():
    t1, r = synthetic_head(n=40, vox=2.0)
    array = sitk.GetArrayFromImage(t1).astype(np.float32)
    mask = r < 33
    seg = classify(array, mask)
    padded = np.pad(array, 6, mode="edge")                     # same brain, more empty grid around it
    seg_pad = classify(padded, np.pad(mask, 6))
    np.testing.assert_array_equal(seg_pad["labels"][6:-6, 6:-6, 6:-6], seg["labels"])
    np.testing.assert_allclose(seg_pad["pv"][:, 6:-6, 6:-6, 6:-6], seg["pv"], atol=1e-6)
    assert not seg_pad["labels"][:6].any() and not seg_pad["pv"][:, :6].any()
    inside = seg["pv"][:, mask].sum(axis=0)
    np.testing.assert_allclose(inside, 1.0, atol=1e-5)
    lesions = np.zeros(mask.shape, bool)
    lesions[18:21, 18:21, 25:28] = True                        # in the WM, off centre
    shell = nawm_mask(array, r < 30, lesions, (2.0, 2.0, 2.0), shell_mm=4.0)
    k, j, i = np.indices(mask.shape)
    near = np.zeros(mask.shape, bool)                          # brute force: distance to every lesion voxel
    for p in np.argwhere(lesions):
        near |= (2.0 * np.sqrt((k - p[0]) ** 2 + (j - p[1]) ** 2 + (i - p[2]) ** 2)) <= 4.0
    expected_wm = near & ~lesions & (r < 30) & (array > 810.0)  # WM/GM midpoint of the true means
    agree = (shell == expected_wm).mean()
    assert shell.any() and not (shell & ~near).any() and agree > 0.999
