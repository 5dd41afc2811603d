"""Rating files: atomic saves after every rating, one file per rater, resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mspathobiology.errors import InputError, OutputError, ReadOnlyError
from mspathobiology.rims.ratings import RatingSession, order_by_score, order_random, read_ratings

LESIONS = [{"id": i, "rim_score": s} for i, s in [(1, 0.2), (2, 0.9), (3, 0.5), (4, 0.9), (5, None), (6, 0.7)]]


def test_orders():
    assert order_by_score(LESIONS) == [2, 4, 6, 3, 1, 5]
    a, b = order_random(LESIONS, seed=1), order_random(LESIONS, seed=1)
    assert a == b and sorted(a) == [1, 2, 3, 4, 5, 6]
    assert any(order_random(LESIONS, seed=s) != a for s in range(2, 6))


def test_rate_save_resume(tmp_path):
    with RatingSession(tmp_path, "sub-01_ses-01", "alice", LESIONS) as s:
        assert s.progress() == (0, 6) and s.next_unrated() == 2
        s.rate(2, "PRL", confidence=5, comment="clear rim")
        s.rate(4, "indeterminate", confidence=2)
        # saved at once: a reader sees both rows, with the score shown and a timestamp
        rows, sidecar = read_ratings(s.path)
        assert [(r["lesion_id"], r["label"], r["auto_score"]) for r in rows] == [(2, "PRL", 0.9),
                                                                                  (4, "indeterminate", 0.9)]
        assert sidecar["rater"] == "alice" and sidecar["tasks"]["prl"]["order"] == [2, 4, 6, 3, 1, 5]
        assert rows[0]["comment"] == "clear rim" and rows[0]["timestamp"]
        assert s.path.name == "sub-01_ses-01_rater-alice_ratings.tsv"
    again = RatingSession(tmp_path, "sub-01_ses-01", "alice")  # resume without the lesion list
    assert again.progress() == (2, 6) and again.next_unrated() == 6
    assert again.previous(6) == 4 and again.next(6) == 3 and again.next(5) is None and again.previous(2) is None
    again.rate(4, "not_PRL", confidence=4)  # a revision replaces the rating
    assert again.rating(4)["label"] == "not_PRL" and again.progress() == (2, 6)
    again.remove(4)
    assert again.progress() == (1, 6) and again.next_unrated() == 4
    assert again.next_unrated(after=6) == 3
    again.close()


def test_blinded_random_order_hides_scores(tmp_path):
    s = RatingSession(tmp_path, "c1", "bob", LESIONS, order="random", seed=7, show_scores=False)
    assert s.order == order_random(LESIONS, seed=7)
    row = s.rate(s.next_unrated(), "not_PRL")
    assert row["auto_score"] is None and s.score(2) is None
    s.close()


def test_cvs_task_in_same_file(tmp_path):
    s = RatingSession(tmp_path, "c1", "bob", LESIONS, task="prl")
    s.rate(2, "PRL")
    s.close()
    c = RatingSession(tmp_path, "c1", "bob", LESIONS, task="cvs", order="id")
    with pytest.raises(InputError):
        c.rate(1, "excluded")  # needs a reason
    with pytest.raises(InputError):
        c.rate(1, "PRL")  # not a CVS label
    with pytest.raises(InputError):
        c.rate(1, "CVS+", reason="small")  # reasons only for excluded
    c.rate(1, "excluded", reason="confluent", confidence=3)
    c.rate(2, "CVS+", confidence=5)
    assert c.progress() == (2, 6) and c.next_unrated() == 3
    c.close()
    rows, _ = read_ratings(c.path)
    assert sorted((r["task"], r["lesion_id"]) for r in rows) == [("cvs", 1), ("cvs", 2), ("prl", 2)]


def test_invalid_values(tmp_path):
    s = RatingSession(tmp_path, "c1", "carol", LESIONS)
    for bad in (0, 6, 2.5, "high", True):
        with pytest.raises(InputError):
            s.rate(1, "PRL", confidence=bad)
    with pytest.raises(InputError):
        s.rate(99, "PRL")
    with pytest.raises(InputError):
        s.rate(1, "maybe")
    assert s.progress() == (0, 6)
    s.close()
    for bad in ("", " ", "../", "//", "!!"):
        with pytest.raises(InputError):
            RatingSession(tmp_path, "c1", bad, LESIONS)
    # a name with separators is reduced to its letters and digits (the one identity rule)
    with RatingSession(tmp_path, "c1", "../Al/ice", LESIONS) as named:
        assert named.path.name == "c1_rater-alice_ratings.tsv" and named.path.parent == tmp_path
    with pytest.raises(InputError):
        RatingSession(tmp_path, "c 1", "dave", LESIONS)


def test_never_write_another_raters_file(tmp_path):
    s = RatingSession(tmp_path, "c1", "alice", LESIONS)
    s.rate(2, "PRL")
    s.close()
    before = s.path.read_bytes()
    with pytest.raises(InputError, match="belongs to rater 'alice'"):
        RatingSession.open(s.path, "bob")
    # a copied/renamed file still carries alice in its sidecar and rows
    forged = tmp_path / "c1_rater-bob_ratings.tsv"
    forged.write_bytes(before)
    forged.with_suffix(".json").write_text(s.sidecar_path.read_text())
    with pytest.raises(InputError, match="belongs to rater 'alice'"):
        RatingSession(tmp_path, "c1", "bob", LESIONS)
    # bob's own session writes its own file and leaves alice's untouched
    forged.unlink()
    forged.with_suffix(".json").unlink()
    b = RatingSession(tmp_path, "c1", "bob", LESIONS)
    b.rate(2, "not_PRL")
    b.close()
    assert s.path.read_bytes() == before and b.path != s.path


def test_one_session_per_file(tmp_path):
    s = RatingSession(tmp_path, "c1", "alice", LESIONS)
    with pytest.raises(InputError, match="another rating session"):
        RatingSession(tmp_path, "c1", "alice", LESIONS)
    s.close()
    RatingSession(tmp_path, "c1", "alice").close()


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    s = RatingSession(tmp_path, "c1", "alice", LESIONS)
    s.rate(2, "PRL")
    before = s.path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OutputError, match="disk full"):
        s.rate(4, "PRL")
    monkeypatch.undo()
    assert s.progress() == (1, 6) and s.rating(4) is None  # only what is on disk counts
    assert s.path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    s.close()
    assert RatingSession(tmp_path, "c1", "alice").progress() == (1, 6)


CHILD = textwrap.dedent("""
    import sys, time
    from mspathobiology.rims.ratings import RatingSession
    lesions = [{"id": i, "rim_score": (i * 37 % 101) / 100} for i in range(1, 41)]
    session = RatingSession(sys.argv[1], "sub-01", "alice", lesions, order="random", seed=3)
    while (lesion := session.next_unrated()) is not None:
        session.rate(lesion, ["PRL", "not_PRL", "indeterminate"][lesion % 3], confidence=1 + lesion % 5,
                     comment=f"lesion {lesion}")
        print(lesion, flush=True)
        time.sleep(0.02)
""")


def test_sigkill_midway_loses_nothing_and_resumes(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "MSPathobiology"))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                             env=env)
    reported = []
    try:
        while len(reported) < 12:
            line = child.stdout.readline()
            assert line, "the rating process ended early"
            reported.append(int(line))
        child.send_signal(signal.SIGKILL)  # no clean-up, possibly in the middle of a save
        child.wait(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    session = RatingSession(tmp_path, "sub-01", "alice")  # the lock died with the process
    saved = session.ratings
    assert set(reported) <= set(saved)  # every rating reported as saved is on disk
    for lesion in reported:
        row = saved[lesion]
        assert row["label"] == ["PRL", "not_PRL", "indeterminate"][lesion % 3]
        assert row["confidence"] == 1 + lesion % 5 and row["comment"] == f"lesion {lesion}"
    done = len(saved)
    assert done < 40 and session.order[:done] == reported + session.order[len(reported):done]
    assert set(session.order[:done]) == set(saved)  # rated exactly a prefix of the order
    assert session.next_unrated() == session.order[done]  # resumes at the right lesion
    session.rate(session.next_unrated(), "PRL")
    assert session.progress() == (done + 1, 40)
    assert json.loads(session.sidecar_path.read_text())["rater"] == "alice"
    session.close()


def test_session_from_rims_table(tmp_path):
    from mspathobiology.tables import write_table
    write_table([{"id": 3, "rim_score": 0.1}, {"id": 7, "rim_score": 0.8}], tmp_path / "rims.tsv")
    with RatingSession.from_rims_table(tmp_path, "sub-01", "eve", tmp_path / "rims.tsv") as s:
        assert s.order == [7, 3] and s.score(7) == 0.8


def test_truncated_ratings_are_refused_for_agreement_and_repaired_on_resume(tmp_path):
    with RatingSession(tmp_path, "c1", "alice", LESIONS) as session:
        for lesion in (2, 4, 6):
            session.rate(lesion, "PRL", confidence=4)
    text = session.path.read_text()
    assert read_ratings(session.path)[0] and json.loads(session.sidecar_path.read_text())["n_ratings"] == 3
    lines = text.splitlines(keepends=True)
    session.path.write_text("".join(lines[:-1]))  # cut at a row boundary: one rating silently gone
    with pytest.raises(InputError, match="holds 2 ratings but its sidecar records 3"):
        read_ratings(session.path)
    session.path.write_text(text[:-9])  # cut inside the last row
    with pytest.raises(InputError, match="truncated"):
        read_ratings(session.path)
    # a session killed between its two writes (sidecar saved, TSV not yet): resuming repairs the sidecar
    session.path.write_text("".join(lines[:-1]))
    with RatingSession(tmp_path, "c1", "alice") as again:
        assert again.progress() == (2, 6)
    assert len(read_ratings(session.path)[0]) == 2


def _write_under_old_spelling(folder, spelling="JaneDoe"):
    """A rating file saved before the identity rule: the rater's spelling in the file name."""
    with RatingSession(folder, "sub-01", "jane doe", lesions=[{"id": 1, "rim_score": 0.9}, {"id": 2, "rim_score": 0.1}]) as s:
        s.rate(1, "PRL", confidence=5)
    old = folder / f"sub-01_rater-{spelling}_ratings.tsv"
    os.replace(s.path, old)
    os.replace(s.sidecar_path, old.with_suffix(".json"))
    return old


def test_ratings_under_an_older_spelling_of_the_rater_are_taken_over(tmp_path):
    old = _write_under_old_spelling(tmp_path)
    with RatingSession(tmp_path, "sub-01", "Jane Doe") as s:
        assert s.rating(1)["label"] == "PRL" and s.progress() == (1, 2)
        s.rate(2, "not_PRL")
    assert not old.exists() and not old.with_suffix(".json").exists()
    rows, sidecar = read_ratings(tmp_path / "sub-01_rater-janedoe_ratings.tsv")
    assert sorted(r["lesion_id"] for r in rows) == [1, 2] and sidecar["rater"] == "janedoe"


def test_a_rename_cut_after_the_sidecar_is_finished_at_the_next_open(tmp_path):
    old = _write_under_old_spelling(tmp_path)
    os.replace(old.with_suffix(".json"), tmp_path / "sub-01_rater-janedoe_ratings.json")
    with RatingSession(tmp_path, "sub-01", "jane doe") as s:
        assert s.rating(1)["label"] == "PRL"
    assert not old.exists()


def test_ratings_under_two_spellings_are_refused_and_both_kept(tmp_path):
    old = _write_under_old_spelling(tmp_path)
    for twin in ("sub-01_rater-Jane_Doe_ratings", "sub-01_rater-janedoe_ratings"):  # another old one, the current one
        for suffix in (".tsv", ".json"):
            (tmp_path / (twin + suffix)).write_bytes(old.with_suffix(suffix).read_bytes())
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix in (".tsv", ".json")}
        with pytest.raises(InputError, match="several spellings"):
            RatingSession(tmp_path, "sub-01", "jane doe")
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix in (".tsv", ".json")} == before
        for suffix in (".tsv", ".json"):
            (tmp_path / (twin + suffix)).unlink()


def test_an_older_spelling_opens_read_only_in_place(tmp_path):
    from fault_cases import read_only

    old = _write_under_old_spelling(tmp_path)
    with read_only(tmp_path) as view:
        with RatingSession(view, "sub-01", "jane doe") as s:
            assert s.read_only and s.path.name == old.name and s.rating(1)["label"] == "PRL"
            with pytest.raises(ReadOnlyError):
                s.rate(2, "PRL")
    assert old.exists()
