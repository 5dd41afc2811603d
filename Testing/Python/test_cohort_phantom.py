"""The real analyses through the cohort runner: ``mspathobiology demo`` on one phantom subject
with two sessions (dataset, every analysis, reports), then a rerun that redoes nothing; the
ground truth is used only when asked (``--lesions-from phantom``), and then said so."""

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
    assert "0 failed" in text and "not available in this installation" not in text, text
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
        assert rows[session]["bpf"] == round(read_json(folder / "atrophy/atrophy.json")["bpf"], 4)  # fractions to 4 places
        assert rows[session]["prl_candidates"] == read_json(folder / "rims/rims.json")["summary"]["prl_candidates"]
        assert 0 <= rows[session]["network_disconnected_percent"] <= 100
    assert rows["ses-02"]["pbvc_percent"] == round(read_json(out / "sub-01/ses-02/pbvc/pbvc.json")["pbvc_percent"], 2)
    assert rows["ses-01"]["pbvc_percent"] is None
    assert rows["ses-02"]["lesions_new_or_enlarging"] is not None
    assert rows["ses-02"]["interval_years"] == 1.0 and rows["ses-02"]["pbvc_annualised_percent_per_year"] is not None
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
    assert index.count("href='sub-01_ses-0") == 2 and "cohort/cohort_pbvc_per_year.png" in index


def test_a_second_demo_redoes_nothing(demo):
    import contextlib
    import io

    root, _, _ = demo
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert main(["demo", "--out", str(root), "--subjects", "1", "--sessions", "2", "--quiet"]) == 0
    assert "2 sessions, 10 analyses: 0 ran, 10 already done, 0 failed" in text.getvalue()


def test_no_ground_truth_is_used_unless_asked(demo):
    root, _, text = demo
    out = root / "bids/derivatives/mspathobiology"
    assert "lesions: segmented from FLAIR (2 sessions)" in text
    for session in ("ses-01", "ses-02"):
        for analysis in ("lesions", "rims", "atrophy", "network"):
            provenance = read_json(out / "sub-01" / session / analysis / "done.json")["provenance"]
            lesion_inputs = {k: v for k, v in provenance.items() if "lesion" in k}
            assert all("ground truth" not in v["origin"] and "derivatives/phantom" not in v["path"]
                       for v in lesion_inputs.values()), (analysis, lesion_inputs)
    assert {r["lesions_source"] for r in read_table(out / "cohort.tsv")} == {"segmented from FLAIR"}
    page = (out / "reports/sub-01_ses-01.html").read_text()
    assert "Lesions: segmented from FLAIR" in page and "ground truth (derivatives/phantom)" in page  # anatomy etc.


def test_lesions_from_phantom_uses_the_truth_and_says_so(demo, tmp_path):
    import contextlib
    import io

    root, _, _ = demo
    out = tmp_path / "truth-run"
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        rc = main(["run", str(root / "bids"), "--out", str(out), "--lesions-from", "phantom", "--only", "lesions",
                   "--report", "--quiet"])
    assert rc == 0, text.getvalue()
    assert "lesions: ground truth (derivatives/phantom) (2 sessions)" in text.getvalue()
    truth = read_json(root / "bids/derivatives/phantom/sub-01/ses-01/ground_truth.json")
    summary = read_json(out / "sub-01/ses-01/lesions/summary.json")
    truth_mm3 = sum(row["volume_mm3"] for row in truth["lesions"])
    # the truth map labelled (touching confluent pairs become one lesion, specks below the minimum size go)
    assert summary["segmented"] is False and 0 < summary["lesion_count"] <= len(truth["lesions"])
    assert 0.97 * truth_mm3 <= summary["lesion_volume_mm3"] <= truth_mm3
    provenance = read_json(out / "sub-01/ses-01/lesions/done.json")["provenance"]["lesions"]
    assert provenance["origin"] == "ground truth (derivatives/phantom)"
    assert provenance["uri"] == "bids:phantom:sub-01/ses-01/anat/sub-01_ses-01_desc-lesions_dseg.nii.gz"
    index = (out / "reports/index.html").read_text()
    assert "lesions: ground truth (derivatives/phantom)" in index
    page = (out / "reports/sub-01_ses-02.html").read_text()
    assert "Lesions: ground truth (derivatives/phantom)" in page


def test_the_demo_outputs_pass_the_bids_validator(demo):
    from test_bids_validator import _brief, validate

    root, _, _ = demo
    for folder in (root / "bids", root / "bids/derivatives/phantom", root / "bids/derivatives/mspathobiology"):
        errors, _ = validate(folder)
        assert errors == [], (folder.name, _brief(errors))
    description = read_json(root / "bids/derivatives/phantom/dataset_description.json")
    assert description["GeneratedBy"][0]["Name"] == "mspathobiology.phantom" and description["GeneratedBy"][0]["Version"]
    assert [r["acq_time"][:10] for r in read_table(root / "bids/sub-01/sub-01_sessions.tsv")] == ["2020-01-15",
                                                                                                "2021-01-14"]
    sidecar = read_json(root / "bids/derivatives/mspathobiology/sub-01/ses-02/anat/sub-01_ses-02_desc-lesions_dseg.json")
    assert "bids:raw:sub-01/ses-02/anat/sub-01_ses-02_FLAIR.nii.gz" in sidecar["Sources"]
    assert sidecar["LesionsSource"] == "segmented from FLAIR"


def test_single_case_commands_print_where_they_wrote(demo, tmp_path):
    import contextlib
    import io

    root, _, _ = demo
    anat = root / "bids/sub-01/ses-0{}/anat/sub-01_ses-0{}_T1w.nii.gz"
    mask = root / "bids/derivatives/phantom/sub-01/ses-0{}/anat/sub-01_ses-0{}_desc-brain_mask.nii.gz"
    for argv, out in ((["atrophy", "--t1", str(anat).format(1, 1), "--brain-mask", str(mask).format(1, 1)],
                      tmp_path / "atrophy"),
                      (["pbvc", "--baseline", str(anat).format(1, 1), "--followup", str(anat).format(2, 2),
                        "--baseline-mask", str(mask).format(1, 1), "--followup-mask", str(mask).format(2, 2)],
                       tmp_path / "pbvc")):
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            assert main(argv + ["--out", str(out)]) == 0
        assert f"outputs: {out.resolve()}" in text.getvalue() and any(out.iterdir())
