"""The real analyses through the cohort runner on a small phantom (1 subject x 2 sessions),
then the reports and the demo command's code path."""

import re
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from mspathobiology.cohort.cases import discover_cases
from mspathobiology.cohort.report import write_reports
from mspathobiology.cohort.runner import run_cohort
from mspathobiology.io import read_json
from mspathobiology.tables import read_table

phantom = pytest.importorskip("mspathobiology.phantom")


@pytest.fixture(scope="module")
def phantom_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort_phantom")
    dataset = root / "bids"
    phantom.write_dataset(dataset, n_subjects=1, seed=3, small=True, sessions=2)
    out = root / "derivatives"
    result = run_cohort(dataset, out, jobs=1, progress=False)
    return dataset, out, result


def test_phantom_cases_are_discovered_with_derivatives(phantom_run):
    dataset, _, _ = phantom_run
    cases = discover_cases(dataset)
    assert [c.id for c in cases] == ["sub-01_ses-01", "sub-01_ses-02"]
    for case in cases:
        assert {"t1", "flair", "qsm", "phase", "t2star", "anatomy", "parcellation", "brain_mask", "lesions",
                "tractogram"} <= set(case.images)
        assert not case.missing_files()


def test_every_analysis_runs_on_the_phantom(phantom_run):
    dataset, out, result = phantom_run
    assert [(r["case"], r["analysis"], r["error"]) for r in result.failed] == []
    statuses = {(r["case"], r["analysis"]): r["status"] for r in result.records}
    for case in ("sub-01_ses-01", "sub-01_ses-02"):
        for analysis in ("lesions", "rims", "atrophy", "network"):
            assert statuses[(case, analysis)] == "done", (case, analysis)
    for analysis in ("lesion_change", "pbvc"):
        assert statuses[("sub-01_ses-02", analysis)] == "done", analysis
    rows = {r["session_id"]: r for r in read_table(out / "cohort.tsv")}
    truth = [read_json(p) for p in sorted(dataset.glob("derivatives/phantom/sub-01/ses-*/**/*ground_truth.json"))]
    for session, t in zip(("ses-01", "ses-02"), truth):
        row = rows[session]
        # the lesions step measured the phantom's lesion label map (confluent lesions may merge)
        assert 0 < row["lesion_count"] <= len(t["lesions"])
        assert row["lesion_volume_mm3"] == pytest.approx(sum(x["volume_mm3"] for x in t["lesions"]), rel=0.05)
        assert isinstance(row["prl_candidates"], int)
        assert 0.0 < row["bpf"] < 1.0
    assert isinstance(rows["ses-02"]["pbvc_percent"], float) and rows["ses-01"]["pbvc_percent"] is None
    assert any(k.startswith("network_") for k in rows["ses-01"])


def test_rerun_redoes_nothing_and_reports_show_the_phantom(phantom_run):
    dataset, out, _ = phantom_run
    again = run_cohort(dataset, out, jobs=1, progress=False)
    assert again.ran == []
    index = write_reports(out)
    page = (index.parent / "sub-01_ses-01.html").read_text()
    pictures = re.findall(r"<img src='([^']+)'", page)
    assert {"sub-01_ses-01/lesion_mosaic.png", "sub-01_ses-01/connectome.png",
            "sub-01_ses-01/rim_scores.png", "sub-01_ses-01/tissue_volumes.png"} <= set(pictures)
    rgb = mpimg.imread(index.parent / "sub-01_ses-01/lesion_mosaic.png")[..., :3]
    yellow = (rgb[..., 0] > 0.8) & (rgb[..., 1] > 0.8) & (rgb[..., 2] < 0.3)
    grey = (abs(rgb[..., 0] - rgb[..., 1]) < 0.02) & (rgb[..., 0] > 0.2) & (rgb[..., 0] < 0.9)
    assert yellow.sum() > 100 and grey.sum() > 10000  # outlines over a FLAIR with real grey levels
    assert Path(index).read_text().count("href='sub-01_ses-0") == 2
