"""The official BIDS validator (bids-validator-deno, installed with the test extras) finds 0
errors in the phantom dataset, in its ground-truth derivatives and in a run's derivatives."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mspathobiology.cohort.runner import run_cohort
from mspathobiology.io import read_json
from mspathobiology.phantom import write_dataset
from mspathobiology.tables import read_table
from test_cohort_runner import PLUGINS  # noqa: F401 (plug-in analyses)


def validator() -> str:
    """The validator next to this Python (the venv), else on PATH; missing = a failing test."""
    here = Path(sys.executable).parent / "bids-validator-deno"
    found = str(here) if here.exists() else shutil.which("bids-validator-deno")
    assert found, "bids-validator-deno is not installed (pip install bids-validator-deno)"
    return found


def validate(folder) -> tuple[list[dict], list[dict]]:
    """(errors, warnings) of the validator on ``folder``."""
    done = subprocess.run([validator(), str(folder), "--format", "json"], capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    issues = report["issues"]["issues"]
    return ([i for i in issues if i["severity"] == "error"], [i for i in issues if i["severity"] == "warning"])


def _brief(issues):
    return [(i["code"], i.get("location")) for i in issues[:10]]


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    root = tmp_path_factory.mktemp("bids") / "phantom"
    write_dataset(root, n_subjects=1, seed=3, small=True, sessions=2, preview=True)
    return root


def test_the_phantom_dataset_and_its_ground_truth_pass_the_validator(phantom):
    errors, _ = validate(phantom)
    assert errors == [], _brief(errors)
    errors, _ = validate(phantom / "derivatives" / "phantom")
    assert errors == [], _brief(errors)
    description = read_json(phantom / "derivatives/phantom/dataset_description.json")
    assert description["GeneratedBy"][0]["Name"] == "mspathobiology.phantom" and description["GeneratedBy"][0]["Version"]
    assert [r["acq_time"][:10] for r in read_table(phantom / "sub-01/sub-01_sessions.tsv")] == ["2020-01-15",
                                                                                              "2021-01-14"]
    # the validator does report errors: a file that is not BIDS is one
    bad = phantom / "sub-01" / "ses-01" / "anat" / "notes.txt"
    bad.write_text("x")
    try:
        errors, _ = validate(phantom)
        assert any("notes.txt" in (e.get("location") or "") for e in errors)
    finally:
        bad.unlink()


def test_a_runs_derivatives_pass_the_validator(phantom, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    out = phantom / "derivatives" / "mspathobiology"
    try:
        result = run_cohort(phantom, out, only="lesions,atrophy", functions=PLUGINS, progress=False)
        assert not result.failed
        errors, _ = validate(out)
        assert errors == [], _brief(errors)
        sidecar = read_json(out / "sub-01/ses-02/anat/sub-01_ses-02_desc-lesions_dseg.json")
        assert "bids:raw:sub-01/ses-02/anat/sub-01_ses-02_FLAIR.nii.gz" in sidecar["Sources"]
        assert read_json(out / "dataset_description.json")["DatasetLinks"] == {"raw": "../..", "phantom": "../phantom"}
        errors, _ = validate(phantom)  # the raw dataset with the run inside its derivatives
        assert errors == [], _brief(errors)
    finally:
        shutil.rmtree(out, ignore_errors=True)
