"""Rim scoring and the rims pipeline on the small phantom (skipped until the phantom exists)."""

import pytest

from mspathobiology.io import write_image
from mspathobiology.rims.pipeline import run_case, white_matter_mask
from mspathobiology.rims.scoring import score_rim_images
from mspathobiology.tables import read_table


@pytest.fixture(scope="module")
def session():
    import mspathobiology.phantom as phantom
    if not hasattr(phantom, "generate_subject"):
        pytest.skip("mspathobiology.phantom.generate_subject is not written yet")
    return phantom.generate_subject(seed=1, small=True, sessions=1).sessions[0]


def test_truth_rims_found_on_qsm(session):
    truth = {l["id"]: l for l in session.truth["lesions"]}
    rows = score_rim_images(session.lesions, session.images["qsm"],
                            enhancing={i: l["enhancing"] for i, l in truth.items()},
                            tissue_mask=white_matter_mask(session.anatomy, session.lesions))
    assert {r["id"] for r in rows} == set(truth)
    checked = 0
    for row in rows:
        t = truth[row["id"]]
        expected = t["rim_class"] in ("full", "two_thirds") and not t["enhancing"]
        if t["rim_class"] in ("none", "partial"):
            assert row["prl_candidate"] is False, (t, row)  # no false positives at all
        elif row["volume_mm3"] >= 400.0 and t["rim_coverage"] >= 0.6:
            # at 2 mm a rim lesion needs ~50 voxels to have an edge and a core to compare; rims the
            # phantom itself measures below 0.6 (drawn on too few edge voxels) are not checked
            assert row["prl_candidate"] is expected, (t, row)
            checked += 1
        if t["enhancing"]:
            assert row["enhancing"] is True and not row["prl_candidate"]
    assert checked >= 1


def test_pipeline_on_phantom_files(session, tmp_path):
    paths = {}
    for key in ("qsm", "phase", "t2star", "t1post"):
        paths[key] = write_image(session.images[key], tmp_path / f"{key}.nii.gz")
    paths["lesions"] = write_image(session.lesions, tmp_path / "lesions.nii.gz")
    paths["anatomy"] = write_image(session.anatomy, tmp_path / "anatomy.nii.gz")
    summary = run_case({k: paths[k] for k in ("lesions", "qsm", "t2star", "t1post", "anatomy")}, tmp_path / "out")
    assert summary["rim_tissue_mask"].startswith("anatomy")
    rows = read_table(tmp_path / "out" / "rims.tsv")
    assert len(rows) == len(session.truth["lesions"]) == summary["prl_lesions_scored"]
    assert summary["prl_candidates"] == sum(r["prl_candidate"] for r in rows)
    assert {r["cvs"] for r in rows} <= {"CVS+", "CVS-", "excluded"}
    assert summary["cvs_eligible"] + summary["cvs_excluded"] == len(rows)
    sign = int(session.truth["phase_sign"])
    phase_summary = run_case({"lesions": paths["lesions"], "phase": paths["phase"]}, tmp_path / "phase",
                             phase_sign=sign)
    assert phase_summary["rim_map"] == "phase" and phase_summary["prl_lesions_scored"] == len(rows)
