"""SEL candidates rated in the rims rating store: same file, lock, schema and agreement as PRL/CVS."""

import math

import pytest

from mspathobiology import cli
from mspathobiology.errors import InputError
from mspathobiology.rims import agreement_from_files
from mspathobiology.rims.ratings import (_PROCESS_LOCKS, POSITIVE_LABEL, TASKS, RatingSession, read_ratings,
                                         sel_lesions_to_rate)
from mspathobiology.tables import write_table

#: sel.tsv-like rows: candidates 2, 3 and 5 (scores 0.02, 0.05, 0.01); 1 and 4 are not candidates.
SEL_ROWS = [{"id": 1, "sel_candidate": False, "sel_score": 0.0, "volume_mm3": 80.0},
            {"id": 2, "sel_candidate": True, "sel_score": 0.02, "volume_mm3": 120.0},
            {"id": 3, "sel_candidate": True, "sel_score": 0.05, "volume_mm3": 300.0},
            {"id": 4, "sel_candidate": False, "sel_score": 0.03, "volume_mm3": 90.0},
            {"id": 5, "sel_candidate": True, "sel_score": 0.01, "volume_mm3": 60.0}]
RIM_ROWS = [{"id": 1, "rim_score": 0.9}, {"id": 2, "rim_score": 0.1}]


def test_sel_task_labels_and_candidate_order(tmp_path):
    assert TASKS["sel"] == ("confirmed", "rejected", "unsure") and POSITIVE_LABEL["sel"] == "confirmed"
    assert [r["id"] for r in sel_lesions_to_rate(SEL_ROWS)] == [2, 3, 5]
    assert [r["id"] for r in sel_lesions_to_rate(SEL_ROWS, candidates_only=False)] == [1, 2, 3, 4, 5]
    with pytest.raises(InputError, match="sel_candidate"):
        sel_lesions_to_rate([{"id": 1, "rim_score": 0.5}])
    with RatingSession(tmp_path, "sub-01", "alice", sel_lesions_to_rate(SEL_ROWS), task="sel") as s:
        assert s.order == [3, 2, 5]  # highest sel_score first (the task's score column)
        assert s.score(3) == pytest.approx(0.05)
        for bad in ("PRL", "CVS+", "confirm", "excluded"):
            with pytest.raises(InputError):
                s.rate(3, bad)
        with pytest.raises(InputError, match="reason"):
            s.rate(3, "rejected", reason="small")
        with pytest.raises(InputError):
            s.rate(4, "confirmed")  # not a candidate
        row = s.rate(3, "confirmed", confidence=4, comment="grows at every visit")
        assert row["auto_score"] == pytest.approx(0.05) and row["task"] == "sel"
        assert s.next_unrated() == 2
    rows, sidecar = read_ratings(s.path)
    assert [(r["task"], r["lesion_id"], r["label"], r["confidence"]) for r in rows] == [("sel", 3, "confirmed", 4)]
    assert sidecar["tasks"]["sel"]["score_key"] == "sel_score" and "sel" in sidecar["labels"]


def test_rims_and_sel_sessions_share_one_file_in_one_process(tmp_path):
    """A reader rates rims and SEL candidates of one case side by side: both sessions write the same
    file; neither loses the other's ratings or task specification; the same task twice is refused."""
    prl = RatingSession(tmp_path, "sub-01", "alice", RIM_ROWS, task="prl")
    sel = RatingSession(tmp_path, "sub-01", "alice", sel_lesions_to_rate(SEL_ROWS), task="sel")
    with pytest.raises(InputError, match="another rating session"):
        RatingSession(tmp_path, "sub-01", "alice", task="sel")
    sel.rate(3, "rejected")
    prl.rate(1, "PRL")  # prl's sidecar copy predates the sel task: the save must keep it
    sel.rate(2, "unsure", confidence=2)
    rows, sidecar = read_ratings(prl.path)
    assert set(sidecar["tasks"]) == {"prl", "sel"}
    assert sorted((r["task"], r["lesion_id"], r["label"]) for r in rows) == [
        ("prl", 1, "PRL"), ("sel", 2, "unsure"), ("sel", 3, "rejected")]
    assert prl.progress() == (1, 2) and sel.progress() == (2, 3)
    prl.close()
    sel.rate(5, "confirmed")  # the lock is still held for the open sel session
    assert any(prl.path.name[:-4] in key for key in _PROCESS_LOCKS)
    sel.close()
    assert not any(prl.path.name[:-4] in key for key in _PROCESS_LOCKS)
    with RatingSession(tmp_path, "sub-01", "alice", task="sel") as again:  # resumes without the table
        assert again.order == [3, 2, 5] and again.is_complete
        assert again.rating(5)["label"] == "confirmed"


def test_session_from_sel_table(tmp_path):
    tsv = tmp_path / "sel.tsv"
    write_table(SEL_ROWS, tsv)
    with RatingSession.from_sel_table(tmp_path / "ratings", "sub-02", "bob", tsv) as s:
        assert s.task == "sel" and s.order == [3, 2, 5]
    with RatingSession.from_sel_table(tmp_path / "all", "sub-02", "bob", tsv, candidates_only=False,
                                      order="id") as s:
        assert s.order == [1, 2, 3, 4, 5]


def test_agreement_on_sel_ratings(tmp_path, capsys):
    """Two raters on two subjects: kappa from the confirmed/rejected/unsure labels and the ICC of
    confirmed-SEL counts per subject, computed by hand below."""
    labels = {("sub-01", "alice"): {2: "confirmed", 3: "confirmed", 5: "rejected"},
              ("sub-01", "bob"): {2: "confirmed", 3: "rejected", 5: "rejected"},
              ("sub-02", "alice"): {2: "unsure", 3: "confirmed", 5: "rejected"},
              ("sub-02", "bob"): {2: "unsure", 3: "confirmed", 5: "rejected"}}
    paths = []
    for (case, rater), given in labels.items():
        with RatingSession(tmp_path, case, rater, sel_lesions_to_rate(SEL_ROWS), task="sel") as s:
            for lesion, label in given.items():
                s.rate(lesion, label)
            paths.append(s.path)
    result = agreement_from_files(paths)["sel"]
    assert result["raters"] == ["alice", "bob"] and result["n_lesions"] == 6
    # 5 of 6 agree; marginals alice (C 3, R 2, U 1), bob (C 2, R 3, U 1): pe = (6 + 6 + 1) / 36
    pe = 13 / 36
    assert result["cohen_kappa"] == pytest.approx((5 / 6 - pe) / (1 - pe))
    assert result["counts"] == {"sub-01": {"alice": 2, "bob": 1}, "sub-02": {"alice": 1, "bob": 1}}
    assert result["positive_label"] == "confirmed" and math.isfinite(result["icc"])
    assert cli.main(["agreement", *map(str, paths)]) == 0
    printed = capsys.readouterr().out
    assert "[sel] raters: alice, bob" in printed and f"Cohen's kappa: {(5 / 6 - pe) / (1 - pe):.3f}" in printed
