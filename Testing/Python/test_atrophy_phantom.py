"""Atrophy measures against the phantom's ground truth (small 2 mm case, cached per module)."""

import numpy as np
import pytest
import SimpleITK as sitk

import mspathobiology.phantom as phantom

from mspathobiology.atrophy import compute_pbvc, run_case  # noqa: E402
from mspathobiology.atrophy.pipeline import analyse_tissues  # noqa: E402


@pytest.fixture(scope="module")
def subject():
    return phantom.generate_subject(seed=1, small=True, sessions=2, rescan=False)


def _lesion_mask(session):
    return sitk.Cast(session.lesions > 0, sitk.sitkUInt8)


def test_pbvc_matches_truth(subject):
    base, follow = subject.sessions
    truth = follow.truth["pbvc_percent"]
    assert truth < -0.2
    result = compute_pbvc(base.images["t1"], follow.images["t1"], base.brain_mask, follow.brain_mask,
                          baseline_lesions=_lesion_mask(base), followup_lesions=_lesion_mask(follow))
    assert abs(result["pbvc_percent"] - truth) < 0.3
    assert result["rigid_translation_mm"] > 0.0


def test_tissue_volumes_and_bpf_match_truth(subject):
    session = subject.sessions[0]
    res = analyse_tissues(session.images["t1"], lesions=session.lesions, brain_mask=session.brain_mask,
                          anatomy=session.anatomy).summary
    truth = session.truth["tissue_ml"]
    for key in ("gm", "wm", "csf", "icv", "brain"):
        assert res[f"{key}_ml"] == pytest.approx(truth[key], rel=0.05), key
    assert res["lesion_ml"] == pytest.approx(truth["lesion"], rel=1e-6)
    assert res["thalamus_ml"] == pytest.approx(truth["thalamus"], rel=1e-6)
    assert res["deep_gm_ml"] == pytest.approx(truth["deep_gm"], rel=1e-6)
    assert abs(res["bpf"] - session.truth["bpf"]) < 0.01


def test_run_case_without_mask_writes_outputs(subject, tmp_path):
    session = subject.sessions[0]
    paths = {}
    for key, image in (("t1", session.images["t1"]), ("parcellation", session.parcellation),
                       ("lesions", session.lesions)):
        paths[key] = tmp_path / f"{key}.nii.gz"
        sitk.WriteImage(image, str(paths[key]))
    summary = run_case(paths, tmp_path / "out")
    assert (tmp_path / "out" / "atrophy.json").exists()
    assert (tmp_path / "out" / "regional_volumes.tsv").exists()
    assert summary["icv_ml"] == pytest.approx(session.truth["tissue_ml"]["icv"], rel=0.05)
    assert abs(summary["bpf"] - session.truth["bpf"]) < 0.02
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out" / "tissue_labels.nii.gz")))
    assert np.all((labels == 4) == (sitk.GetArrayFromImage(session.lesions) > 0))
