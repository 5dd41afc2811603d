"""HTML reports: pages link real PNG renderings of the data; the cohort page lists every case."""

import re
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from mspathobiology.cohort.report import choose_slices, find_matrix, lesion_mosaic, write_reports
from mspathobiology.cohort.runner import run_cohort
from mspathobiology.errors import InputError
from mspathobiology.io import write_image
from test_cohort_runner import PLUGINS, _blobs_image, make_dataset  # noqa: F401 (plug-in analyses)


@pytest.fixture
def run_out(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    ds = make_dataset(tmp_path / "ds")
    out = tmp_path / "out"
    run_cohort(ds, out, functions=PLUGINS, progress=False)
    return out


def _yellow(png):
    rgb = mpimg.imread(png)[..., :3]
    return (rgb[..., 0] > 0.8) & (rgb[..., 1] > 0.8) & (rgb[..., 2] < 0.3)


def test_reports_link_real_pictures(run_out):
    index = write_reports(run_out)
    page = index.read_text()
    for case in ("sub-01_ses-01", "sub-02_ses-02"):
        assert f"href='{case}.html'" in page
    for src in re.findall(r"<img src='([^']+)'", page):
        assert (index.parent / src).stat().st_size > 1000
    case_page = (index.parent / "sub-01_ses-02.html").read_text()
    images = re.findall(r"<img src='([^']+)'", case_page)
    assert "sub-01_ses-02/lesion_mosaic.png" in images
    mosaic = index.parent / "sub-01_ses-02/lesion_mosaic.png"
    assert _yellow(mosaic).sum() > 200  # lesion outlines drawn
    assert "lesion_count" in case_page and "<table>" in case_page
    # the cohort page holds the values of the cohort table
    assert "sub-02" in page and "bpf" in page


def test_mosaic_follows_the_data(tmp_path):
    flair = _blobs_image(3)
    write_image(flair, tmp_path / "flair.nii.gz")
    empty = _blobs_image(0)
    write_image(empty, tmp_path / "none.nii.gz")
    import SimpleITK as sitk

    labels = sitk.Cast(sitk.BinaryThreshold(flair, 0.5, 2.0), sitk.sitkUInt8)
    write_image(labels, tmp_path / "labels.nii.gz")
    with_lesions = lesion_mosaic(tmp_path / "flair.nii.gz", tmp_path / "labels.nii.gz", tmp_path / "a.png")
    without = lesion_mosaic(tmp_path / "flair.nii.gz", tmp_path / "none.nii.gz", tmp_path / "b.png")
    assert _yellow(with_lesions).sum() > 100 and _yellow(without).sum() == 0
    array = sitk.GetArrayFromImage(labels)
    chosen = choose_slices(array, sitk.GetArrayFromImage(flair), 12)
    assert chosen and all(array[k].any() for k in chosen)
    with pytest.raises(InputError):
        lesion_mosaic(tmp_path / "missing.nii.gz", None, tmp_path / "c.png")


def test_connectome_matrix_is_read_from_network_csv(tmp_path):
    folder = tmp_path / "network"
    folder.mkdir()
    (folder / "connectome.csv").write_text("label,10,20,30\n10,0,2,1\n20,2,0,5\n30,1,5,0\n")
    matrix = find_matrix(folder)
    assert matrix.tolist() == [[0, 2, 1], [2, 0, 5], [1, 5, 0]]


def test_report_needs_a_run(tmp_path):
    with pytest.raises(InputError, match="cohort.tsv"):
        write_reports(tmp_path)
