"""Rim scoring and the rims pipeline on the small phantom (skipped until the phantom exists)."""

import numpy as np
import pytest

from mspathobiology.io import write_image
from mspathobiology.rims.pipeline import run_case
from mspathobiology.rims.scoring import score_rim_images
from mspathobiology.tables import read_table


@pytest.fixture(scope="module")
def session():
    phantom = pytest.importorskip("mspathobiology.phantom")
    if not hasattr(phantom, "generate_subject"):
        pytest.skip("mspathobiology.phantom.generate_subject is not written yet")
    return phantom.generate_subject(seed=0, small=True, sessions=1).sessions[0]


def test_truth_rims_found_on_qsm(session):
    truth = {l["id"]: l for l in session.truth["lesions"]}
    rows = score_rim_images(session.lesions, session.images["qsm"],
                            enhancing={i: l["enhancing"] for i, l in truth.items()},
                            tissue_mask=session.brain_mask)
    assert {r["id"] for r in rows} == set(truth)
    for row in rows:
        t = truth[row["id"]]
        expected = t["rim_class"] in ("full", "two_thirds") and not t["enhancing"]
        assert row["prl_candidate"] is expected, (t, row)
        if t["enhancing"]:
            assert row["enhancing"] is True and not row["prl_candidate"]


def test_pipeline_on_phantom_files(session, tmp_path):
    paths = {}
    for key in ("qsm", "phase", "t2star", "t1post"):
        paths[key] = write_image(session.images[key], tmp_path / f"{key}.nii.gz")
    paths["lesions"] = write_image(session.lesions, tmp_path / "lesions.nii.gz")
    summary = run_case({k: paths[k] for k in ("lesions", "qsm", "t2star", "t1post")}, tmp_path / "out")
    rows = read_table(tmp_path / "out" / "rims.tsv")
    assert len(rows) == len(session.truth["lesions"]) == summary["prl_lesions_scored"]
    assert summary["prl_candidates"] == sum(r["prl_candidate"] for r in rows)
    assert {r["cvs"] for r in rows} <= {"CVS+", "CVS-", "excluded"}
    assert summary["cvs_eligible"] + summary["cvs_excluded"] == len(rows)
    sign = int(session.truth["phase_sign"])
    phase_summary = run_case({"lesions": paths["lesions"], "phase": paths["phase"]}, tmp_path / "phase",
                             phase_sign=sign)
    assert phase_summary["rim_map"] == "phase" and phase_summary["prl_lesions_scored"] == len(rows)
