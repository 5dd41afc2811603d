"""Lesions on a real whole-head image (issue 11), on a small downsampled sample of Colin27.

Debian mricron-data's ``ch2.nii.gz`` (real whole-head T1, no lesions) and ``ch2bet.nii.gz``
(its brain extraction, used only as the reference and to make the FLAIR-like contrast) are
resampled to 4 mm. The full-resolution figures are in benchmarks/lesions_real.py.
"""

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from mspathobiology.errors import InputError
from mspathobiology.geometry import image_like
from mspathobiology.io import read_image
from mspathobiology.lesions import analyse, brain_mask_on_flair, estimate_brain_mask
from mspathobiology.lesions.flair_like import flair_like_from_t1, tissue_levels

TEMPLATES = Path("/usr/share/mricron/templates")
MM = 4.0


def _down(image, label=False):
    size = [int(round(n * s / MM)) for n, s in zip(image.GetSize(), image.GetSpacing())]
    grid = sitk.Image(size, image.GetPixelID())
    grid.SetSpacing([MM] * 3)
    grid.SetOrigin(image.GetOrigin())
    grid.SetDirection(image.GetDirection())
    if label:
        return sitk.Resample(image, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    return sitk.Resample(sitk.SmoothingRecursiveGaussian(image, MM / 2.355), grid, sitk.Transform(), sitk.sitkLinear)


@pytest.fixture(scope="module")
def head():
    t1 = _down(read_image(TEMPLATES / "ch2.nii.gz", name="ch2"))
    bet = _down(read_image(TEMPLATES / "ch2bet.nii.gz", kind="mask", name="ch2bet"), label=True)
    return t1, bet, flair_like_from_t1(t1, bet)


def _centroids_outside(labels: np.ndarray, brain: np.ndarray) -> int:
    ids = np.unique(labels)[1:]
    if ids.size == 0:
        return 0
    centres = np.rint(ndimage.center_of_mass(labels > 0, labels, ids)).astype(int)
    return int(sum(not brain[tuple(c)] for c in centres))


def test_flair_like_contrast_follows_tissue_classes(head):
    t1, bet, flair = head
    brain = sitk.GetArrayFromImage(bet) > 0
    t1a, fa = sitk.GetArrayFromImage(t1), sitk.GetArrayFromImage(flair)
    csf, gm, wm = tissue_levels(t1a, brain)
    white = brain & (t1a >= wm)
    grey = brain & (np.abs(t1a - gm) < 0.1 * (wm - csf))
    fluid = brain & (t1a <= csf)
    assert np.median(fa[fluid]) < 0.4 * np.median(fa[white]) < np.median(fa[grey])
    assert np.median(fa[white]) == pytest.approx(100.0, abs=3.0)


def test_whole_head_t1_gives_no_lesion_outside_the_brain_and_no_dis(head):
    t1, bet, flair = head
    reference = sitk.GetArrayFromImage(bet) > 0
    result = analyse({"flair": flair, "t1": t1}, bias_correction=False)
    labels = sitk.GetArrayFromImage(result.labels)
    assert _centroids_outside(labels, reference) == 0
    assert result.summary["dis_2017_met"] is False and result.summary["dis_2024_met"] is False
    mask = sitk.GetArrayFromImage(result.brain_mask) > 0
    assert 2 * np.count_nonzero(mask & reference) / (mask.sum() + reference.sum()) > 0.85
    assert result.info["brain_mask_method"].startswith("brain extraction on the T1")
    # the FLAIR-only head mask of the same image keeps the scalp: lesions there are what the T1 mask prevents
    head_mask = image_like(estimate_brain_mask(flair).astype(np.uint8), flair)
    scalp = analyse({"flair": flair, "brain_mask": head_mask}, bias_correction=False)
    assert _centroids_outside(sitk.GetArrayFromImage(scalp.labels), reference) > 0


def test_whole_head_flair_alone_asks_for_a_t1_or_a_mask(head):
    t1, bet, flair = head
    with pytest.raises(InputError, match="whole-head.*--t1.*--brain-mask"):
        analyse({"flair": flair})
    with pytest.raises(InputError, match="whole-head"):
        brain_mask_on_flair(flair)
    # with lesions given, the head mask only normalises intensities: accepted
    empty = image_like(np.zeros(sitk.GetArrayViewFromImage(flair).shape, np.uint8), flair)
    assert analyse({"flair": flair, "lesions": empty}).summary["lesion_count"] == 0
