"""The real analyses through the cohort runner: ``mspathobiology demo`` on one phantom subject
with two sessions (dataset, every analysis, reports), then a rerun that redoes nothing."""

import re

import matplotlib.image as mpimg
import pytest

from mspathobiology.cli import main
from mspathobiology.cohort.cases import discover_cases
from mspathobiology.io import read_json
from mspathobiology.tables import read_table

import mspathobiology.phantom  # noqa: F401
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import contextlib
    import io

    root = tmp_path_factory.mktemp("cohort_demo") / "demo"
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        rc = main(["demo", "--out", str(root), "--subjects", "1", "--sessions", "2", "--quiet"])
    return root, rc, text.getvalue()


def test_demo_finds_the_phantom_cases_with_their_derivatives(demo):
    root, rc, text = demo
    assert rc == 0, text
    cases = discover_cases(root / "bids")
    assert [c.id for c in cases] == ["sub-01_ses-01", "sub-01_ses-02"]
    for case in cases:
        assert {"t1", "flair", "qsm", "phase", "t2star", "anatomy", "parcellation", "brain_mask", "lesions",
                "tractogram"} <= set(case.images)
        assert not case.missing_files()


def test_every_analysis_ran_and_the_tables_hold_their_values(demo):
    root, _, text = demo
    out = root / "bids/derivatives/mspathobiology"
    assert "0 failed" in text and "not available" not in text, text
    run = read_json(out / "cohort_run.json")
    states = {(r["case"], r["analysis"]): r["status"] for r in run["records"]}
    expected = {(c, a): "done" for c in ("sub-01_ses-01", "sub-01_ses-02") for a in ("lesions", "rims", "atrophy", "network")}
    expected.update({("sub-01_ses-02", "lesion_change"): "done", ("sub-01_ses-02", "pbvc"): "done"})
    assert states == expected
    rows = {r["session_id"]: r for r in read_table(out / "cohort.tsv")}
    for session in ("ses-01", "ses-02"):
        folder = out / "sub-01" / session
        lesions = read_json(folder / "lesions/summary.json")
        assert lesions["segmented"] is True  # the demo segments FLAIR (truth maps left out)
        assert rows[session]["lesion_count"] == lesions["lesion_count"] > 0
        assert rows[session]["lesion_count_periventricular"] == lesions["lesion_count_periventricular"]
        assert rows[session]["bpf"] == pytest.approx(read_json(folder / "atrophy/atrophy.json")["bpf"])
        assert rows[session]["prl_candidates"] == read_json(folder / "rims/rims.json")["summary"]["prl_candidates"]
        assert 0 <= rows[session]["network_disconnected_percent"] <= 100
    assert rows["ses-02"]["pbvc_percent"] == pytest.approx(read_json(out / "sub-01/ses-02/pbvc/pbvc.json")["pbvc_percent"])
    assert rows["ses-01"]["pbvc_percent"] is None
    assert rows["ses-02"]["lesions_new_or_enlarging"] is not None
    assert {r["session_id"] for r in read_table(out / "cohort_network.tsv")} == {"ses-01", "ses-02"}


def test_reports_are_renderings_of_the_phantom(demo):
    root, _, _ = demo
    reports = root / "bids/derivatives/mspathobiology/reports"
    page = (reports / "sub-01_ses-02.html").read_text()
    pictures = set(re.findall(r"<img src='([^']+)'", page))
    assert {"sub-01_ses-02/lesion_mosaic.png", "sub-01_ses-02/connectome.png", "sub-01_ses-02/rim_scores.png",
            "sub-01_ses-02/tissue_volumes.png"} <= pictures
    rgb = mpimg.imread(reports / "sub-01_ses-02/lesion_mosaic.png")[..., :3]
    yellow = (rgb[..., 0] > 0.8) & (rgb[..., 1] > 0.8) & (rgb[..., 2] < 0.3)
    grey = (abs(rgb[..., 0] - rgb[..., 1]) < 0.02) & (rgb[..., 0] > 0.2) & (rgb[..., 0] < 0.9)
    assert yellow.sum() > 100 and grey.sum() > 10000  # outlines over a FLAIR with real grey levels
    index = (reports / "index.html").read_text()
    assert index.count("href='sub-01_ses-0") == 2 and "cohort/cohort_pbvc.png" in index


def test_a_second_demo_redoes_nothing(demo):
    import contextlib
    import io

    root, _, _ = demo
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert main(["demo", "--out", str(root), "--subjects", "1", "--sessions", "2", "--quiet"]) == 0
    assert "0 analyses ran, 10 already done, 0 failed" in text.getvalue()
