"""Review state store (statuses, resume, atomic JSON) and reviewed-file saving (reader names, backups)."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from mspathobiology.cohort.cases import Case
from mspathobiology.cohort.review import (ReviewStore, derivative_file, reader_label, reviewed_files,
                                          save_derivative)
from mspathobiology.defaults.cohort import STATUS_DONE, STATUS_FLAGGED, STATUS_IN_PROGRESS, STATUS_NOT_STARTED
from mspathobiology.errors import InputError

CASES = [Case("01", "01"), Case("01", "02"), Case("02", "01"), Case("02", "02")]


def test_statuses_persist_and_resume(tmp_path):
    store = ReviewStore(tmp_path, "jane doe")
    assert store.path.name == "reader-janedoe_review.json"
    assert store.statuses(CASES) == {c.id: STATUS_NOT_STARTED for c in CASES}
    assert store.resume_index(CASES) == 0
    assert store.open_case(CASES[0]) == STATUS_IN_PROGRESS
    store.mark_done(CASES[0])
    store.open_case(CASES[1])
    store.flag(CASES[1], "motion artefact")
    store.open_case(CASES[2])  # in progress when the reader stops

    again = ReviewStore(tmp_path, "jane doe")  # a new session reads the file back
    assert again.statuses(CASES) == {"sub-01_ses-01": STATUS_DONE, "sub-01_ses-02": STATUS_FLAGGED,
                                     "sub-02_ses-01": STATUS_IN_PROGRESS, "sub-02_ses-02": STATUS_NOT_STARTED}
    assert again.note(CASES[1]) == "motion artefact"
    assert again.position == "sub-02_ses-01"
    assert again.resume_index(CASES) == 2
    assert again.progress(CASES) == (2, 4)
    table = again.table(CASES)
    assert [r["status_label"] for r in table] == ["done", "flagged", "in progress", "not started"]
    again.mark_done(CASES[2])
    assert ReviewStore(tmp_path, "jane doe").resume_index(CASES) == 3  # next open case after the position
    # another reader has an independent state
    assert ReviewStore(tmp_path, "Bob").statuses(CASES)["sub-01_ses-01"] == STATUS_NOT_STARTED
    with pytest.raises(ValueError):
        again.set_status(CASES[0], "finished")
    with pytest.raises(InputError):
        ReviewStore(tmp_path, " ... ")


def test_state_file_is_valid_json_written_atomically(tmp_path):
    store = ReviewStore(tmp_path, "ann")
    for case in CASES:
        store.open_case(case)
    data = json.loads(store.path.read_text())
    assert data["reader"] == "ann" and set(data["cases"]) == {c.id for c in CASES}
    assert not [p for p in store.path.parent.iterdir() if p.name.startswith(".tmp")]
    assert (tmp_path / "dataset_description.json").exists()
    store.path.write_text("{broken")
    with pytest.raises(InputError, match="not valid JSON"):
        ReviewStore(tmp_path, "ann")


def test_save_derivative_names_reader_and_keeps_backups(tmp_path):
    case = Case("01", "02")
    first = save_derivative(tmp_path, case, "lesions", "jane doe", data=b"version 1", ext=".txt")
    assert first.path == tmp_path / "sub-01/ses-02/anat/sub-01_ses-02_desc-lesionsjanedoe_dseg.txt"
    assert first.backup is None
    same = save_derivative(tmp_path, case, "lesions", "jane doe", data=b"version 1", ext=".txt")
    assert same.backup is None  # identical content: nothing to keep
    second = save_derivative(tmp_path, case, "lesions", "jane doe", data=b"version 2", ext=".txt")
    assert second.path.read_bytes() == b"version 2"
    assert second.backup is not None and second.backup.read_bytes() == b"version 1"
    assert second.backup.parent == tmp_path / "backups/sub-01/ses-02/anat"
    assert second.backup.name.endswith("_sub-01_ses-02_desc-lesionsjanedoe_dseg.txt")
    third = save_derivative(tmp_path, case, "lesions", "jane doe", data=b"version 3", ext=".txt")
    backups = sorted((tmp_path / "backups/sub-01/ses-02/anat").iterdir())
    assert [b.read_bytes() for b in backups] == [b"version 1", b"version 2"]
    assert third.path.read_bytes() == b"version 3"
    # another reader's file never touches this one
    other = save_derivative(tmp_path, case, "lesions", "bob", data=b"bob's", ext=".txt")
    assert other.path.name == "sub-01_ses-02_desc-lesionsbob_dseg.txt"
    assert third.path.read_bytes() == b"version 3"
    assert not [p for p in third.path.parent.iterdir() if p.name.startswith(".tmp")]
    # bytes that are not an image are refused under an image name; the saved image stays
    image = sitk.GetImageFromArray(np.ones((3, 3, 3), np.uint8))
    kept = save_derivative(tmp_path, case, "lesions", "jane doe", writer=lambda p: sitk.WriteImage(image, str(p)))
    before = kept.path.read_bytes()
    with pytest.raises(InputError, match="corrupt"):
        save_derivative(tmp_path, case, "lesions", "Jane.Doe", data=b"not an image")
    assert kept.path.read_bytes() == before
    assert not [p for p in kept.path.parent.iterdir() if p.name.startswith(".tmp")]


def test_save_with_writer_and_failed_writer_leaves_old_file(tmp_path):
    case = Case("03", None)
    image = sitk.GetImageFromArray(np.arange(27, dtype=np.uint8).reshape(3, 3, 3))
    saved = save_derivative(tmp_path, case, "lesions", "ann", writer=lambda p: sitk.WriteImage(image, str(p)))
    assert saved.path.name == "sub-03_desc-lesionsann_dseg.nii.gz"
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(saved.path))).sum() == 351

    def broken(path):
        path.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_derivative(tmp_path, case, "lesions", "ann", writer=broken)
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(saved.path))).sum() == 351  # untouched
    assert not [p for p in saved.path.parent.iterdir() if p.name.startswith(".tmp")]
    with pytest.raises(ValueError):
        save_derivative(tmp_path, case, "lesions", "ann")


def test_store_records_files_and_finds_them_again(tmp_path):
    case = CASES[0]
    store = ReviewStore(tmp_path, "Ann")
    store.save_file(case, "lesions", ext=".txt", data=b"mask")
    store.save_file(case, "rimratings", suffix="ratings", ext=".tsv", data="id\trating\n1\tPRL\n")
    again = ReviewStore(tmp_path, "Ann")
    files = again.files(case)
    assert set(files) == {"lesions", "rimratings"}
    assert files["rimratings"].name == "sub-01_ses-01_desc-rimratingsann_ratings.tsv"
    save_derivative(tmp_path, case, "lesions", "Bob", ext=".txt", data=b"other")
    ReviewStore(tmp_path, "Bob").save()
    found = reviewed_files(tmp_path, case)
    assert found["ann"] == {"lesions": files["lesions"], "rimratings": files["rimratings"]}
    assert found["bob"]["lesions"].read_bytes() == b"other"
    assert reader_label("o'neil-smith") == "oneilsmith"
    assert derivative_file(tmp_path, case, "cvs", "x", suffix="ratings", ext=".tsv").parent.name == "anat"


def test_reader_folders_of_older_spelling_are_found_and_carried_over(tmp_path):
    """Older versions named files with the reader's spelling (``JaneDoe``); the identity rule makes
    them the same reader, so nothing saved under the old name is lost."""
    case, other = CASES[0], CASES[1]
    legacy = tmp_path / "review" / "reader-JaneDoe_review.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"reader": "JaneDoe", "cases": {case.id: {"status": STATUS_DONE, "files": {},
                                                                            "history": []}}}))
    old_file = derivative_file(tmp_path, case, "lesions", "x", ext=".txt").with_name(
        "sub-01_ses-01_desc-lesionsJaneDoe_dseg.txt")
    old_file.parent.mkdir(parents=True)
    old_file.write_bytes(b"old mask")
    store = ReviewStore(tmp_path, "Jane Doe")
    assert store.status(case) == STATUS_DONE
    assert reviewed_files(tmp_path, case, "jane.doe") == {"janedoe": {"lesions": old_file}}
    assert reviewed_files(tmp_path, case) == {"janedoe": {"lesions": old_file}}
    store.mark_done(other)
    again = json.loads((tmp_path / "review" / "reader-janedoe_review.json").read_text())
    assert set(again["cases"]) == {case.id, other.id}
    assert legacy.exists()
