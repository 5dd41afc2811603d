"""`mspathobiology run` does slowly expanding lesions for every subject with >= 3 sessions (issue 16)."""

from __future__ import annotations

import pytest

from mspathobiology.cohort import run_cohort
from mspathobiology.cohort.cases import Case, discover_cases
from mspathobiology.cohort.report import write_reports
from mspathobiology.lesion_table import read_lesion_table
from mspathobiology.phantom.longitudinal import write_longitudinal_dataset
from mspathobiology.tables import read_table


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """sub-01: a 3-session 2 mm longitudinal phantom; sub-02: its first two sessions only;
    sub-03: three sessions whose baseline 'lesion map' is a FLAIR image (must fail, recorded)."""
    root = tmp_path_factory.mktemp("selcohort") / "bids"
    write_longitudinal_dataset(root, n_subjects=1, seed=3, small=True, visits=3)
    cases = discover_cases(root, lesions_from="phantom")
    assert [c.session for c in cases] == ["01", "02", "03"] and all("lesions" in c.images for c in cases)
    two = [Case("02", c.session, dict(c.images), c.source, c.acq_time, dict(c.origins)) for c in cases[:2]]
    bad = [Case("03", c.session, dict(c.images), c.source, c.acq_time, dict(c.origins)) for c in cases]
    bad[0].images["lesions"] = bad[0].images["flair"]
    cases = cases + two + bad
    out = root / "derivatives" / "mspathobiology"
    first = run_cohort(root, out, only="sel", cases=cases, progress=False)
    second = run_cohort(root, out, only="sel", cases=cases, progress=False)
    return root, out, cases, first, second


def test_sel_task_for_three_sessions_only(cohort):
    root, out, cases, first, _ = cohort
    sel_records = {r["subject"]: r for r in first.records if r["analysis"] == "sel"}
    assert set(sel_records) == {"01", "03"}  # the 2-session subject gets no SEL task
    assert sel_records["01"]["status"] == "done" and sel_records["01"]["session"] == "03"
    assert not (out / "sub-02" / "sel").exists()
    # progress counts: 8 session tasks x 4 analyses + 5 pairs x 2 + 2 subjects x 1 (sel)
    assert first.total == 8 * 4 + 5 * 2 + 2
    folder = out / "sub-01" / "sel"
    assert (folder / "done.json").is_file() and (folder / "sel_summary.json").is_file()
    assert (folder / "logjac_visit-02.nii.gz").is_file() and (folder / "logjac_visit-03.nii.gz").is_file()
    rows = read_lesion_table(folder / "sel.tsv")
    assert rows and "sel_candidate" in rows[0] and "logjac_ring" in rows[0]
    import json
    written = json.loads((folder / "sel_summary.json").read_text())
    assert written["locations"].startswith("baseline FLAIR") and len(written["inputs"]["flair"]) == 3
    assert all(r["location"] for r in rows)  # every session has a FLAIR: lesion locations are measured
    summary = sel_records["01"]["summary"]
    assert summary["sel_count"] == sum(str(r["sel_candidate"]).lower() in ("true", "1") for r in rows)
    assert summary["sel_sessions"] == "01,02,03"


def test_sel_in_cohort_tables_and_failure_recorded(cohort):
    root, out, cases, first, _ = cohort
    sel_rows = read_table(out / "cohort_sel.tsv")
    last = [r for r in sel_rows if r["participant_id"] == "sub-01" and r["session_id"] == "ses-03"]
    assert len(last) == 1 and last[0]["sel_count"] not in ("", None)
    assert 0.0 <= float(last[0]["sel_volume_share"]) <= 1.0
    assert all(r["sel_count"] in ("", None) for r in sel_rows if r["participant_id"] == "sub-02")
    cohort_row = [r for r in read_table(out / "cohort.tsv")
                  if r["participant_id"] == "sub-01" and r["session_id"] == "ses-03"][0]
    assert "sel" in cohort_row["analyses_done"].split(",")
    failures = read_table(out / "cohort_failures.tsv")
    assert [(f["participant_id"], f["analysis"]) for f in failures] == [("sub-03", "sel")]
    assert "lesions" in failures[0]["error"].lower()
    assert not (out / "sub-03" / "sel" / "done.json").exists()


def test_sel_rerun_skips_what_is_done_and_report_shows_it(cohort):
    root, out, cases, first, second = cohort
    ran = [(r["subject"], r["analysis"]) for r in second.ran]
    assert ("01", "sel") not in ran and ("03", "sel") in ran  # the failure is retried, the done one is not
    page = write_reports(out, cases)
    index = page.read_text()
    assert "SEL (over all sessions)" in index
    case_page = (page.parent / "sub-01_ses-03.html").read_text()
    assert "sel_count" in case_page and "sel.tsv" in case_page
