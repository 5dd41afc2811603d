"""Atrophy on a small real-derived sample: Colin27 ``ch2`` (Debian mricron-data) at 3 mm.

Checks the methods (brain extraction against ch2bet, masks carried to another grid, tissue
volumes and ICV/BPF ranges, PBVC sign and size on a scaled real head, shift-only pairs, clear
errors), not timings. The full-resolution figures are printed by benchmarks/real_data.py.
"""

import sys

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import real_data as rd  # noqa: E402
from mspathobiology.atrophy import analyse_pbvc, extract_brain, run_case  # noqa: E402
from mspathobiology.defaults.atrophy import NORMAL_ADULT_BPF, NORMAL_ADULT_ICV_ML  # noqa: E402
from mspathobiology.errors import InputError  # noqa: E402

VOXEL_MM = 3.0


@pytest.fixture(scope="module")
def ch2():
    base = rd.load_ch2(VOXEL_MM)
    return base, rd.reference_brain_mask(base)


@pytest.fixture(scope="module")
def extraction(ch2):
    return extract_brain(ch2[0])


def test_template_extraction_matches_bet_on_a_real_head(ch2, extraction):
    score = rd.dice(extraction.brain_array(), sitk.GetArrayFromImage(ch2[1]))
    assert score >= 0.93          # 3 mm voxels: the 1 mm benchmark reaches >= 0.95
    assert extraction.method.startswith("template")
    assert extraction.icv_array().sum() >= extraction.brain_array().sum()
    assert not (extraction.brain_array() & ~extraction.icv_array()).any()


def test_extraction_holds_on_a_moved_rescaled_head(ch2, extraction):
    spec = {"rotation_deg": (12, -8, 5), "shift_mm": (8, -12, 20), "scale": 0.9}
    t1, truth = rd.derived_case(spec, *ch2)
    result = extract_brain(t1)
    assert rd.dice(result.brain_array(), sitk.GetArrayFromImage(truth)) >= 0.93
    ratio = result.summary()["template_to_subject_volume_scale"] / extraction.summary()["template_to_subject_volume_scale"]
    assert ratio == pytest.approx(0.9 ** 3, rel=0.08)


def test_threshold_method_keeps_the_scalp_the_template_does_not(ch2, extraction):
    """The classical method is still offered, and the real head shows why it is not the default."""
    threshold = extract_brain(ch2[0], method="threshold")
    assert threshold.method.startswith("threshold")
    reference = sitk.GetArrayFromImage(ch2[1])
    assert rd.dice(threshold.brain_array(), reference) < rd.dice(extraction.brain_array(), reference)
    with pytest.raises(InputError, match="method"):
        extract_brain(ch2[0], method="magic")


def test_masks_carried_to_another_grid(ch2):
    """FLAIR-like target on an oblique 3.6 mm grid: the T1's masks land on the target's brain."""
    target_grid = rd.grid(ch2[0], (3.6, 3.6, 3.6), (15, 0, 10))
    target = rd.moved(ch2[0], target_grid)
    truth = rd.moved(sitk.Cast(ch2[1], sitk.sitkFloat32), target_grid, interpolator=sitk.sitkLinear) > 0.5
    result = extract_brain(ch2[0], target=target)
    assert result.mask.GetSize() == target.GetSize()
    assert "registered" in result.method
    assert rd.dice(result.brain_array(), sitk.GetArrayFromImage(truth)) >= 0.9


def test_blank_image_gives_a_clear_error():
    blank = sitk.Image(40, 40, 40, sitk.sitkFloat32)
    with pytest.raises(InputError):
        extract_brain(blank)


def test_tissue_volumes_icv_and_bpf_on_a_real_head(ch2, tmp_path):
    path = tmp_path / "t1.nii.gz"
    sitk.WriteImage(ch2[0], str(path))
    summary = run_case({"t1": path}, tmp_path / "out")
    assert NORMAL_ADULT_ICV_ML[0] <= summary["icv_ml"] <= NORMAL_ADULT_ICV_ML[1]
    assert NORMAL_ADULT_BPF[0] - 0.05 <= summary["bpf"] <= NORMAL_ADULT_BPF[1]   # 3 mm partial volume lowers it
    assert summary["gm_ml"] > summary["csf_ml"] > 0 and summary["wm_ml"] > 0
    total = summary["gm_ml"] + summary["wm_ml"] + summary["csf_ml"]
    assert total == pytest.approx(summary["icv_ml"], rel=1e-3)
    assert summary["brain_extraction_method"].startswith("template")
    written = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out" / "brain_mask.nii.gz"))) > 0
    assert rd.dice(written, sitk.GetArrayFromImage(ch2[1])) >= 0.93
    assert (tmp_path / "out" / "icv_mask.nii.gz").exists()


@pytest.mark.parametrize("masks", ["bet", "none"])
def test_pbvc_on_a_scaled_real_head(ch2, masks):
    scale = 0.985                      # truth (0.985^3 - 1) x 100 = -4.43 %
    base, follow, bmask, fmask = rd.pbvc_pair(*ch2, scale, rotation_deg=(1.5, 0, -1), shift_mm=(1.0, 0.5, -0.7),
                                              bias=0.1, noise=0.01)
    images = {"baseline": base, "followup": follow}
    if masks == "bet":
        images.update(baseline_mask=bmask, followup_mask=fmask)
    result = analyse_pbvc(images)
    truth = 100 * (scale ** 3 - 1)
    # 3 mm voxels (for speed): 1.05 of the truth with BET masks and without a mask; at 1 mm the
    # error is <= 0.035 pp (benchmarks/real_data.py). With a fixed measurement window 20-30 % low
    # at 1 mm; with the first-pass bias fit only (no aligned refit) 1.06-1.13 here.
    assert 0.97 <= result.summary["pbvc_percent"] / truth <= 1.08
    assert result.displacement_map.GetSize() == base.GetSize()
    assert result.summary["calibration_factor"] > 0


def test_pbvc_shift_only_reads_no_change(ch2):
    base, follow, _, _ = rd.pbvc_pair(*ch2, 1.0, shift_mm=(1.5, 0.0, 0.0), bias=0.0, noise=0.0)
    result = analyse_pbvc({"baseline": base, "followup": follow})
    assert abs(result.summary["pbvc_percent"]) <= 0.15


@pytest.mark.parametrize("masks", ["bet", "none"])
def test_pbvc_refuses_an_image_without_csf_contrast(ch2, masks):
    flat = rd.lower_csf_contrast(ch2[0], keep=0.0)
    images = {"baseline": flat, "followup": flat}
    if masks == "bet":
        images.update(baseline_mask=ch2[1], followup_mask=ch2[1])
    with pytest.raises(InputError, match="no CSF/GM contrast"):
        analyse_pbvc(images)
