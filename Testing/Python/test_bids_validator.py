"""The official BIDS validator (bids-validator-deno, installed with the test extras) finds 0
errors in a run's derivatives (here) and in the phantom dataset, its ground truth and the
demo's derivatives (test_cohort_phantom, on the demo)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mspathobiology.cohort.runner import run_cohort
from mspathobiology.io import read_json
from test_cohort_runner import PLUGINS, make_dataset


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


def test_a_runs_derivatives_pass_the_validator_and_a_stray_file_does_not(tmp_path, monkeypatch):
    """The phantom dataset and the demo's derivatives are validated in test_cohort_phantom (the demo)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    ds = make_dataset(tmp_path / "ds", subjects=("01",))
    out = ds / "derivatives" / "mspathobiology"
    result = run_cohort(ds, out, only="lesions,atrophy", functions=PLUGINS, progress=False)
    assert not result.failed
    errors, _ = validate(out)
    assert errors == [], _brief(errors)
    sidecar = read_json(out / "sub-01/ses-02/anat/sub-01_ses-02_desc-lesions_dseg.json")
    assert "bids:raw:sub-01/ses-02/anat/sub-01_ses-02_FLAIR.nii.gz" in sidecar["Sources"]
    assert read_json(out / "dataset_description.json")["DatasetLinks"] == {"raw": "../.."}
    # the validator does report errors: a file that is not BIDS is one
    (out / "sub-01" / "ses-01" / "anat" / "notes.txt").write_text("x")
    errors, _ = validate(out)
    assert any("notes.txt" in (e.get("location") or "") for e in errors)
