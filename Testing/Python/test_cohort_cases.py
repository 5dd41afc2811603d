"""Case discovery: BIDS datasets (raw + derivatives), folders of case folders, CSV/TSV case lists."""

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mspathobiology import bids
from mspathobiology.cohort.cases import (Case, by_subject, cases_from_bids, cases_from_folders, cases_from_table,
                                         consecutive_pairs, discover_cases, keyword_key)
from mspathobiology.errors import InputError
from mspathobiology.io import write_image
from mspathobiology.tables import write_table


def _img(path, value=1.0):
    write_image(sitk.GetImageFromArray(np.full((3, 3, 3), value, np.float32)), path)
    return Path(path)


def _touch(path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


@pytest.fixture
def bids_dataset(tmp_path):
    root = tmp_path / "ds"
    (root / "dataset_description.json").parent.mkdir(parents=True)
    (root / "dataset_description.json").write_text('{"Name": "t", "BIDSVersion": "1.9.0"}')
    for sub in ("01", "10", "2"):
        for ses in ("01", "02"):
            for key in ("t1", "t1post", "flair", "qsm", "phase", "t2star"):
                _img(bids.raw_path(root, sub, ses, key))
    # a second FLAIR run: the one with fewer extra entities must win
    _img(root / "sub-01/ses-01/anat/sub-01_ses-01_run-2_FLAIR.nii.gz")
    # derivatives: two pipelines, one with a template-space file that must be ignored
    for ses in ("01", "02"):
        _img(bids.derivative_path(root, "phantom", "01", ses, "lesions"))
        _img(bids.derivative_path(root, "phantom", "01", ses, "anatomy"))
        _touch(bids.derivative_path(root, "phantom", "01", ses, "tractogram", ext=".tck"))
    _img(bids.derivative_path(root, "zzz", "01", "01", "lesions"))
    _img(bids.derivative_path(root, "phantom", "10", "01", "parcellation", space="MNI152"))
    # our own output folder is never read back as input
    _img(bids.derivative_path(root, "mspathobiology", "2", "01", "lesions"))
    return root


def test_bids_discovery_finds_raw_and_derived_by_entities(bids_dataset):
    cases = cases_from_bids(bids_dataset)
    assert [c.id for c in cases] == ["sub-01_ses-01", "sub-01_ses-02", "sub-2_ses-01", "sub-2_ses-02",
                                     "sub-10_ses-01", "sub-10_ses-02"]  # natural order
    c = cases[0]
    assert set(c.images) == {"t1", "t1post", "flair", "qsm", "phase", "t2star", "lesions", "anatomy", "tractogram"}
    assert c.images["t1post"].name == "sub-01_ses-01_ce-gadolinium_T1w.nii.gz"
    assert c.images["t1"].name == "sub-01_ses-01_T1w.nii.gz"
    assert c.images["phase"].name == "sub-01_ses-01_part-phase_T2starw.nii.gz"
    assert c.images["t2star"].name == "sub-01_ses-01_part-mag_T2starw.nii.gz"
    assert c.images["flair"].name == "sub-01_ses-01_FLAIR.nii.gz"
    assert "/phantom/" in c.images["lesions"].as_posix()  # alphabetical pipeline preference
    assert c.images["tractogram"].suffix == ".tck"
    by_id = {x.id: x for x in cases}
    assert "parcellation" not in by_id["sub-10_ses-01"].images  # space-MNI152 is not native
    assert "lesions" not in by_id["sub-2_ses-01"].images  # own pipeline ignored
    # explicit pipeline preference and raw-only discovery
    pref = cases_from_bids(bids_dataset, derivatives=["zzz", "phantom"])
    assert "/zzz/" in pref[0].images["lesions"].as_posix()
    assert "lesions" not in cases_from_bids(bids_dataset, derivatives=False)[0].images
    assert discover_cases(bids_dataset)[0].images == c.images


def test_pairs_and_grouping(bids_dataset):
    cases = cases_from_bids(bids_dataset)
    assert list(by_subject(cases)) == ["01", "2", "10"]
    pairs = consecutive_pairs(cases)
    assert [(a.id, b.id) for a, b in pairs] == [("sub-01_ses-01", "sub-01_ses-02"), ("sub-2_ses-01", "sub-2_ses-02"),
                                               ("sub-10_ses-01", "sub-10_ses-02")]
    assert Case.from_dict(cases[0].to_dict()) == cases[0]


def test_bids_dataset_without_sessions(tmp_path):
    _img(bids.raw_path(tmp_path, "A", None, "flair"))
    cases = discover_cases(tmp_path)
    assert [(c.subject, c.session, sorted(c.images)) for c in cases] == [("A", None, ["flair"])]
    assert cases[0].id == "sub-A"


def test_folder_of_case_folders_by_keywords(tmp_path):
    _img(tmp_path / "patient 7" / "FLAIR.nii.gz")
    _img(tmp_path / "patient 7" / "t1_mprage.nii")
    _img(tmp_path / "patient 7" / "T1_post_gd.nrrd")
    _img(tmp_path / "patient 7" / "lesion_mask.nii.gz")
    _img(tmp_path / "patient 7" / "brain_mask.nii.gz")
    _img(tmp_path / "patient 7" / "qsm.nii.gz")
    _img(tmp_path / "patient 7" / "swi_phase.nii.gz")
    _touch(tmp_path / "patient 7" / "tracts.trk")
    _touch(tmp_path / "patient 7" / "notes.txt")
    _img(tmp_path / "sub-03_ses-02" / "sub-03_ses-02_FLAIR.nii.gz")
    cases = cases_from_folders(tmp_path)
    assert [c.id for c in cases] == ["sub-03_ses-02", "sub-patient7"]
    p7 = cases[1].images
    assert {k: v.name for k, v in p7.items()} == {
        "flair": "FLAIR.nii.gz", "t1": "t1_mprage.nii", "t1post": "T1_post_gd.nrrd", "lesions": "lesion_mask.nii.gz",
        "brain_mask": "brain_mask.nii.gz", "qsm": "qsm.nii.gz", "phase": "swi_phase.nii.gz", "tractogram": "tracts.trk"}
    assert keyword_key("readme.txt") is None
    assert discover_cases(tmp_path)[1].images == p7


def test_table_relative_paths_resolve_against_the_table(tmp_path):
    data = tmp_path / "data"
    _img(data / "a_flair.nii.gz")
    _img(data / "a_t1.nii.gz")
    absolute = _img(tmp_path / "elsewhere" / "b_flair.nii.gz")
    table = tmp_path / "lists" / "cases.csv"
    table.parent.mkdir()
    write_table([{"subject": "sub-A", "session": "1", "FLAIR": "../data/a_flair.nii.gz", "t1": "../data/a_t1.nii.gz"},
                 {"subject": "B", "session": "", "FLAIR": str(absolute), "t1": ""},
                 {"subject": "C", "session": "1", "FLAIR": "../data/missing.nii.gz", "t1": ""}], table)
    cases = discover_cases(table)
    by_id = {c.id: c for c in cases}
    assert by_id["sub-A_ses-1"].images == {"flair": table.parent / "../data/a_flair.nii.gz",
                                           "t1": table.parent / "../data/a_t1.nii.gz"}
    assert by_id["sub-A_ses-1"].images["flair"].resolve() == (data / "a_flair.nii.gz").resolve()
    assert by_id["sub-B"].images == {"flair": absolute}  # empty cell = no image
    # a listed file that does not exist stays in the case, so its analysis fails visibly
    assert by_id["sub-C_ses-1"].missing_files() == ["flair"]
    # TSV works the same
    tsv = tmp_path / "cases.tsv"
    write_table([{"participant_id": "X", "flair": "data/a_flair.nii.gz"}], tsv)
    assert cases_from_table(tsv)[0].images["flair"].resolve() == (data / "a_flair.nii.gz").resolve()


def test_table_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.csv"
    write_table([{"subject": "A", "flare": "x.nii.gz"}], bad)
    with pytest.raises(InputError, match="flare"):
        cases_from_table(bad)
    dup = tmp_path / "dup.csv"
    write_table([{"subject": "A", "flair": "x"}, {"subject": "A", "flair": "y"}], dup)
    with pytest.raises(InputError, match="twice"):
        cases_from_table(dup)
    with pytest.raises(InputError, match="not found"):
        discover_cases(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no case folders"):
        discover_cases(tmp_path / "empty")


def test_session_dates_give_the_interval(tmp_path):
    from mspathobiology.cohort.cases import interval_years

    for ses in ("1", "2"):
        _img(bids.raw_path(tmp_path, "01", ses, "t1"))
    write_table([{"session_id": "ses-1", "acq_time": "2020-01-01T10:00:00"},
                 {"session_id": "ses-2", "acq_time": "2021-07-02T10:00:00"}], tmp_path / "sub-01/sub-01_sessions.tsv")
    a, b = discover_cases(tmp_path)
    assert interval_years(a, b) == pytest.approx(548 / 365.25)
    assert interval_years(a, Case("01", "3")) is None
    assert Case.from_dict(a.to_dict()).acq_time == "2020-01-01T10:00:00"


def test_derivative_lesion_maps_only_when_asked_and_origins_recorded(bids_dataset):
    import json

    (bids_dataset / "derivatives/phantom/dataset_description.json").write_text(json.dumps(
        {"Name": "truth", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
         "GeneratedBy": [{"Name": "mspathobiology.phantom", "Description": "digital MS phantom with exact ground truth"}]}))
    plain = cases_from_bids(bids_dataset, lesions_from=None)[0]
    assert "lesions" not in plain.images and "anatomy" in plain.images  # other derivatives still come
    assert plain.origin("flair") == {"origin": "raw"}
    assert plain.origin("anatomy") == {"origin": "ground truth", "pipeline": "phantom"}
    asked = cases_from_bids(bids_dataset, lesions_from="zzz")[0]
    assert "/zzz/" in asked.images["lesions"].as_posix() and asked.origin("lesions")["origin"] == "derivative"
    assert "lesions" not in cases_from_bids(bids_dataset, lesions_from="zzz")[1].images  # zzz has no ses-02 map
    truth = cases_from_bids(bids_dataset, lesions_from="phantom")[0]
    assert truth.origin("lesions") == {"origin": "ground truth", "pipeline": "phantom"}
    with pytest.raises(InputError, match="pipelines there: phantom, zzz"):
        cases_from_bids(bids_dataset, lesions_from="nothere")
    # the Case round trip keeps the origins
    assert Case.from_dict(truth.to_dict()).origins == truth.origins


def test_a_readers_saved_correction_is_used_and_named(bids_dataset):
    from mspathobiology.cohort.review import ReviewStore

    case = cases_from_bids(bids_dataset, lesions_from=None)[0]
    store = ReviewStore(bids_dataset / "derivatives" / "mspathobiology-review", "Jane Doe")
    saved = store.save_file(case, "lesions", source=case.images["flair"])
    with_corrections = cases_from_bids(bids_dataset, lesions_from=None, corrections=True)
    first = with_corrections[0]
    assert first.images["lesions"] == saved.path
    assert first.origin("lesions")["origin"] == "correction" and "lesions" not in with_corrections[1].images
    assert cases_from_bids(bids_dataset, lesions_from=None, corrections=True, reader="someone else")[0].images.get(
        "lesions") is None
    explicit = cases_from_bids(bids_dataset, lesions_from="phantom", corrections=True)[0]
    assert explicit.origin("lesions")["pipeline"] == "phantom"  # asked for explicitly: wins over the correction


def test_paths_are_shown_relative_to_the_dataset_or_absolute(tmp_path, monkeypatch):
    from mspathobiology.cohort.cases import display_path

    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "ds/sub-01/anat/x.nii.gz", tmp_path / "ds") == "sub-01/anat/x.nii.gz"
    assert display_path("ds/sub-01/x.nii.gz", "ds") == "sub-01/x.nii.gz"
    assert display_path("other/x.nii.gz", tmp_path / "ds") == (tmp_path / "other/x.nii.gz").as_posix()
    assert display_path("list_dir/img.nii.gz", tmp_path / "list_dir/cases.tsv") == "img.nii.gz"
