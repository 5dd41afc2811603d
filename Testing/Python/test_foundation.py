"""Image I/O, the geometry check, resampling, RAS/LPS, tables, the lesion schema and the CLI."""

import gzip
import subprocess
import sys

import nibabel as nib
import numpy as np
from scipy import ndimage
import pytest
import SimpleITK as sitk

from conftest import oblique_image
from mspathobiology import bids, geometry
from mspathobiology.cli import build_parser, main
from mspathobiology.connectivity import connected_components, label_surface, relabel_by_size, structuring_element
from mspathobiology.errors import GeometryMismatchError, InputError
from mspathobiology.io import FILE_MODE, read_image, read_json, validate_image, write_image, write_json
from mspathobiology.lesion_table import read_lesion_table, write_lesion_table
from mspathobiology.tables import read_table, write_table


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd"])
def test_round_trip_keeps_voxels_and_geometry(tmp_path, oblique, suffix):
    path = write_image(oblique, tmp_path / f"img{suffix}")
    back = read_image(path)
    assert path.stat().st_mode & 0o777 == FILE_MODE
    assert geometry.same_geometry(back, oblique)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(oblique))


def test_voxel_to_ras_matches_nibabel(tmp_path, oblique):
    path = write_image(oblique, tmp_path / "img.nii.gz")
    np.testing.assert_allclose(geometry.voxel_to_ras(oblique), nib.load(path).affine, atol=1e-4)
    ijk = np.array([[0, 0, 0], [3.5, 2, 7], [11, 9, 0]])
    ras = geometry.ijk_to_ras_points(oblique, ijk)
    np.testing.assert_allclose(geometry.ras_to_ijk_points(oblique, ras), ijk, atol=1e-9)
    lps = np.array([oblique.TransformContinuousIndexToPhysicalPoint(tuple(p)) for p in ijk])
    np.testing.assert_allclose(ras, lps * [-1, -1, 1], atol=1e-9)
    np.testing.assert_allclose(geometry.kji_to_ras_points(oblique, ijk[:, ::-1]), ras)


def test_set_voxel_to_ras_inverts(oblique):
    blank = sitk.Image(oblique.GetSize(), sitk.sitkUInt8)
    geometry.set_voxel_to_ras(blank, geometry.voxel_to_ras(oblique))
    assert geometry.same_geometry(blank, oblique, tolerance=1e-9)


def test_geometry_check_names_both_inputs_and_the_difference(oblique):
    other = oblique_image()
    other.SetOrigin((12.5, -30.25, 8.0))
    assert geometry.same_geometry(oblique, oblique_image())
    with pytest.raises(GeometryMismatchError, match="origin") as info:
        geometry.check_same_geometry(oblique, other, names=("FLAIR", "mask"))
    assert "FLAIR" in str(info.value) and "mask" in str(info.value)
    small = oblique_image(size=(12, 10, 7))
    assert "size" in geometry.geometry_differences(oblique, small)[0]


def test_resampling_labels_stay_labels():
    labels = sitk.GetImageFromArray(np.arange(4 * 5 * 6, dtype=np.uint32).reshape(4, 5, 6) % 7)
    reference = sitk.Image((12, 10, 8), sitk.sitkUInt8)
    reference.SetSpacing((0.5, 0.5, 0.5))
    out = geometry.resample_label(labels, reference)
    assert geometry.same_geometry(out, reference)
    assert set(np.unique(sitk.GetArrayFromImage(out))) <= set(range(7))
    smooth = geometry.resample_intensity(labels, reference, "bspline")
    assert smooth.GetPixelID() == sitk.sitkFloat32
    with pytest.raises(ValueError):
        geometry.resample_intensity(labels, reference, "cubic")


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_image(tmp_path / "missing.nii.gz", name="--flair")
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(gzip.compress(b"not a nifti header at all" * 3))
    with pytest.raises(InputError, match="corrupt"):
        read_image(corrupt)
    nan = np.zeros((3, 4, 5), np.float32)
    nan[1, 1, 1] = np.nan
    with pytest.raises(InputError, match="1 NaN"):
        validate_image(sitk.GetImageFromArray(nan))
    prob = np.full((3, 4, 5), 0.37, np.float32)
    with pytest.raises(InputError, match="probability map"):
        validate_image(sitk.GetImageFromArray(prob), kind="label")
    four = sitk.Image((4, 4, 4, 3), sitk.sitkFloat32)
    with pytest.raises(InputError, match="4D"):
        validate_image(four)
    single = sitk.Image((4, 4, 4, 1), sitk.sitkFloat32)
    assert validate_image(single).GetDimension() == 3
    vector = sitk.Image((4, 4, 4), sitk.sitkVectorFloat32, 3)
    with pytest.raises(InputError, match="components"):
        validate_image(vector)


def test_label_and_mask_kinds():
    array = np.array([[[0, 2.0], [5.0, 0]]], np.float32)
    labels = validate_image(sitk.GetImageFromArray(array), kind="label")
    assert labels.GetPixelID() == sitk.sitkUInt32
    mask = validate_image(sitk.GetImageFromArray(array), kind="mask")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(mask), [[[0, 1], [1, 0]]])


def test_connectivity_is_one_definition():
    assert structuring_element(6).sum() == 7 and structuring_element(26).sum() == 27
    mask = np.zeros((5, 5, 5), bool)
    mask[1, 1, 1] = mask[2, 2, 2] = True
    assert connected_components(mask, 26)[1] == 1
    assert connected_components(mask, 6)[1] == 2
    mask[4, 4, 0:3] = True
    labels, count = connected_components(mask, 6)
    sized, old = relabel_by_size(labels, min_voxels=2)
    assert sized.max() == 1 and (sized == 1).sum() == 3
    with pytest.raises(ValueError):
        structuring_element(8)


def test_label_surface_is_each_label_minus_its_own_face_erosion():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=(9, 8, 7)) * (rng.random((9, 8, 7)) < 0.8)
    labels[2:7, 2:7, 2:6] = 5
    surface = label_surface(labels)
    for value in range(1, 6):
        own = labels == value
        expected = own & ~ndimage.binary_erosion(own, structure=ndimage.generate_binary_structure(3, 1),
                                                 border_value=0)
        assert np.array_equal(surface & own, expected), value
    assert not surface[labels == 0].any()
    assert not surface[4, 4, 3] and surface[2, 4, 3]


def test_tables_round_trip_typed(tmp_path):
    rows = [{"id": 1, "x": 1.5, "ok": True, "name": "a b", "missing": None},
            {"id": 2, "x": float("nan"), "ok": False, "name": "c"}]
    for ext in ("tsv", "csv"):
        path = write_table(rows, tmp_path / f"t.{ext}")
        back = read_table(path)
        assert back[0] == {"id": 1, "x": 1.5, "ok": True, "name": "a b", "missing": None}
        assert back[1]["x"] is None and back[1]["ok"] is False
    write_json(tmp_path / "a.json", {"v": np.float32(2.5), "n": float("nan"), "arr": np.arange(2)})
    assert read_json(tmp_path / "a.json") == {"v": 2.5, "n": None, "arr": [0, 1]}


def test_lesion_schema_is_enforced(tmp_path):
    row = {"id": 1, "voxels": 10, "volume_mm3": 10.0, "centroid_r": 1.0, "centroid_a": 2.0,
           "centroid_s": 3.0, "location": "periventricular", "mcdonald_countable": True}
    path = write_lesion_table([row], tmp_path / "lesions.tsv")
    assert read_lesion_table(path)[0]["location"] == "periventricular"
    with pytest.raises(InputError, match="unknown location"):
        write_lesion_table([dict(row, location="elsewhere")], tmp_path / "bad.tsv")
    with pytest.raises(InputError, match="not a new positive id"):
        write_lesion_table([row, row], tmp_path / "bad.tsv")


def test_bids_names():
    assert bids.filename("01", "02", "phase") == "sub-01_ses-02_part-phase_T2starw.nii.gz"
    assert bids.filename("01", None, "t1post") == "sub-01_ce-gadolinium_T1w.nii.gz"
    path = bids.derivative_path("/d", "mspathobiology", "01", "01", "lesions")
    assert str(path).endswith("derivatives/mspathobiology/sub-01/ses-01/anat/sub-01_ses-01_desc-lesions_dseg.nii.gz")
    assert bids.parse_entities(path.name) == ({"sub": "01", "ses": "01", "desc": "lesions"}, "dseg", ".nii.gz")


def test_cli_help_and_version(capsys, tmp_path, oblique):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and "mspathobiology" in capsys.readouterr().out
    names = {a.dest for a in build_parser()._subparsers._group_actions[0]._choices_actions}
    assert "info" in names
    path = write_image(oblique, tmp_path / "x.nrrd")
    assert main(["info", str(path)]) == 0
    assert main(["info", str(tmp_path / "nope.nii")]) == 2
    done = subprocess.run([sys.executable, "-m", "mspathobiology", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "info" in done.stdout


def test_one_name_rule():
    from mspathobiology.identity import display_name, person_label, same_person

    assert person_label("jane doe") == person_label("Jane.Doe") == person_label("JANE_DOE") == "janedoe"
    assert person_label("Zoë Ødegård") == "zoedegard" and person_label("o'neil-smith") == "oneilsmith"
    assert not same_person("jane doe", "jane doe2")
    for bad in ("", "  ", "../", "<>", "名前", 5):
        with pytest.raises(InputError):
            person_label(bad)
    assert display_name("a\tb\nc  d") == "a b c d"


def test_arguments_are_validated_at_the_edge(capsys, tmp_path):
    from mspathobiology.arguments import check_number, check_output_file, check_output_folder
    from mspathobiology.errors import ArgumentError

    assert check_number("2.5", "--x", minimum=0) == 2.5 and check_number("3", "--n", minimum=1, integer=True) == 3
    for value, kwargs in (("nan", {}), ("inf", {}), ("-5", {"minimum": 0}), ("0", {"minimum": 0, "exclusive_minimum": True}),
                          ("2.5", {"integer": True}), (True, {}), ("x", {})):
        with pytest.raises(ArgumentError):
            check_number(value, "--x", **kwargs)
    (tmp_path / "file").write_text("keep")
    with pytest.raises(ArgumentError, match="is a file"):
        check_output_folder(tmp_path / "file")
    with pytest.raises(ArgumentError, match="is a file"):
        check_output_folder(tmp_path / "file" / "sub")
    with pytest.raises(ArgumentError, match="is a folder"):
        check_output_file(tmp_path)
    assert check_output_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert main(["lesions", "--flair", str(tmp_path / "file"), "--min-volume", "nan", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--min-volume" in err and "nan" in err and "Traceback" not in err
    assert main(["lesions", "--bogus"]) == 2 and capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "o").exists() and (tmp_path / "file").read_text() == "keep"


def test_slicer_requirements_follow_pyproject():
    """The packages Slicer installs at run time are pyproject dependencies with the same lower bounds."""
    import re
    import tomllib

    from conftest import ROOT

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = {re.split(r"[<>=!~\[ ]", d)[0].lower(): d.replace(" ", "") for d in pyproject["project"]["dependencies"]}
    lines = (ROOT / "MSPathobiology/mspathobiology_mrml/requirements.txt").read_text().splitlines()
    wanted = [line.strip().replace(" ", "") for line in lines if line.strip() and not line.startswith("#")]
    assert wanted
    for requirement in wanted:
        name = re.split(r"[<>=!~\[ ]", requirement)[0].lower()
        assert declared.get(name) == requirement, f"{requirement} differs from pyproject's {declared.get(name)}"
    assert not {"numpy", "simpleitk", "scipy", "vtk"} & {re.split(r"[<>=!~\[ ]", w)[0].lower() for w in wanted}
