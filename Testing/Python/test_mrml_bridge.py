"""MRML bridge on a real vtkMRMLScene from the slicer-core wheel (no MRML mocks).

Round trips are checked exactly (voxels bit for bit; geometry to float rounding, 1e-12 mm)
on the oblique, flipped (left-handed) grid of the ``oblique`` fixture, and through the
storage nodes Slicer itself uses.
"""

import math

import numpy as np
import pytest
import SimpleITK as sitk

import slicer  # the slicer-core wheel (pip install slicer-core==5.12.4.0)

import mspathobiology_mrml as bridge  # noqa: E402
from mspathobiology.errors import InputError  # noqa: E402
from mspathobiology.geometry import voxel_to_ras  # noqa: E402
from mspathobiology.tables import read_table, write_table  # noqa: E402
from mspathobiology_mrml.defaults import COLUMN_TYPE_PROPERTY, LABEL_VALUE_TAG  # noqa: E402
from mspathobiology_mrml.volumes import ijk_to_ras  # noqa: E402

EXACT = 1e-12  # mm / direction cosines: float64 rounding only
NIFTI = 1e-5  # NIfTI headers store the affine in float32


@pytest.fixture
def scene():
    scene = bridge.new_scene()
    yield scene
    bridge.release_scene(scene)


def assert_same_grid(a, b, tol=EXACT):
    assert a.GetSize() == b.GetSize()
    np.testing.assert_allclose(a.GetSpacing(), b.GetSpacing(), rtol=0, atol=tol)
    np.testing.assert_allclose(a.GetOrigin(), b.GetOrigin(), rtol=0, atol=tol)
    np.testing.assert_allclose(a.GetDirection(), b.GetDirection(), rtol=0, atol=tol)


def assert_same_image(a, b, tol=EXACT):
    assert_same_grid(a, b, tol)
    assert a.GetPixelID() == b.GetPixelID()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))


def label_image(reference):
    """Labels 3, 7 and 12 (not 1..N) on the reference grid, including a single voxel."""
    array = np.zeros(sitk.GetArrayFromImage(reference).shape, np.uint16)
    array[1:3, 2:5, 3:6] = 7
    array[4:6, 1:3, 1:4] = 3
    array[6, 7, 8] = 12
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(reference)
    return image


NAMES = {3: "periventricular", 7: "juxtacortical", 12: "infratentorial"}
COLORS = {3: (0.1, 0.2, 0.3), 7: (1.0, 0.5, 0.25), 12: (0.0, 0.75, 1.0)}


def test_new_scene_registers_logics_like_the_application(scene):
    for name in ("Colors", "Volumes", "Segmentations", "Markups"):
        assert bridge.module_logic(scene, name) is not None, name
    assert bridge.module_logic(scene, "Volumes").IsA("vtkSlicerVolumesLogic")
    assert scene.IsNodeClassRegistered("vtkMRMLMarkupsJsonStorageNode")
    # the labelmap colour node the Colors logic names exists (no "color table node can't be found")
    colors = bridge.module_logic(scene, "Colors")
    assert scene.GetNodeByID(colors.GetDefaultLabelMapColorNodeID()) is not None


def test_volumes_logic_loads_without_colour_warnings(scene, tmp_path, oblique, capfd):
    path = tmp_path / "lesions.nrrd"
    sitk.WriteImage(label_image(oblique), str(path))
    capfd.readouterr()
    node = bridge.load_volume(scene, path, labelmap=True, right_handed=True)  # through vtkSlicerVolumesLogic
    err = capfd.readouterr().err
    assert node.IsA("vtkMRMLLabelMapVolumeNode")
    assert scene.GetNodeByID(node.GetDisplayNode().GetColorNodeID()) is not None
    assert "Colors module logic" not in err and "can't be found" not in err and "ERR" not in err, err


def test_logic_lookup_inside_slicer_and_after_release(monkeypatch):
    plain = slicer.vtkMRMLScene()
    assert bridge.application_logic(plain) is None and bridge.module_logic(plain, "Volumes") is None
    # Inside Slicer the application sets slicer.mrmlScene and slicer.app (stand-ins for those two names only)
    app_logic = slicer.vtkSlicerApplicationLogic()
    volumes = slicer.vtkSlicerVolumesLogic()
    app_logic.SetModuleLogic("Volumes", volumes)
    monkeypatch.setattr(slicer, "mrmlScene", plain, raising=False)
    monkeypatch.setattr(slicer, "app", type("App", (), {"applicationLogic": lambda self: app_logic})(), raising=False)
    assert bridge.module_logic(plain, "Volumes") is volumes
    scene = bridge.new_scene()
    assert bridge.module_logic(scene, "Volumes") is not None
    bridge.release_scene(scene)
    assert bridge.module_logic(scene, "Volumes") is None and scene.GetNumberOfNodes() == 0


def test_fixture_grid_is_oblique_and_left_handed(oblique):
    matrix = voxel_to_ras(oblique)[:3, :3]
    assert np.linalg.det(matrix) < 0
    assert np.count_nonzero(np.abs(matrix) > 1e-9) > 3  # rotated: off-diagonal terms


def test_volume_round_trip_exact_on_oblique_flipped_grid(scene, oblique):
    node = bridge.image_to_volume(scene, oblique, "T1")
    assert node.IsA("vtkMRMLScalarVolumeNode") and not node.IsA("vtkMRMLLabelMapVolumeNode")
    assert node.GetName() == "T1" and node.GetDisplayNode() is not None
    np.testing.assert_allclose(ijk_to_ras(node), voxel_to_ras(oblique), rtol=0, atol=EXACT)
    back = bridge.volume_to_image(node)
    assert_same_image(back, oblique)


def test_volume_voxel_maps_to_the_same_ras_point_in_mrml(scene, oblique):
    node = bridge.image_to_volume(scene, oblique, "T1")
    ijk = (3, 5, 2)
    lps = oblique.TransformIndexToPhysicalPoint(ijk)
    ras_from_mrml = ijk_to_ras(node) @ np.array([*ijk, 1.0])
    np.testing.assert_allclose(ras_from_mrml[:3], [-lps[0], -lps[1], lps[2]], atol=EXACT)
    array = slicer.util.arrayFromVolume(node)  # Slicer's own numpy view, [k, j, i]
    assert array[ijk[2], ijk[1], ijk[0]] == oblique.GetPixel(ijk)


@pytest.mark.parametrize("pixel", [np.uint8, np.int16, np.uint16, np.int32, np.float32, np.float64])
def test_volume_round_trip_keeps_pixel_type(scene, pixel):
    from conftest import oblique_image

    image = oblique_image(dtype=pixel) if np.issubdtype(pixel, np.floating) else None
    if image is None:
        rng = np.random.default_rng(1)
        info = np.iinfo(pixel)
        array = rng.integers(info.min, info.max, size=(8, 10, 12), dtype=pixel, endpoint=True)
        image = sitk.GetImageFromArray(array)
        image.CopyInformation(oblique_image())
    assert_same_image(bridge.volume_to_image(bridge.image_to_volume(scene, image, "v")), image)


def test_image_to_volume_updates_an_existing_node(scene, oblique):
    node = bridge.image_to_volume(scene, oblique, "T1")
    shifted = sitk.Image(oblique)
    shifted.SetOrigin((0.0, 1.0, 2.0))
    same = bridge.image_to_volume(scene, shifted * 2, "ignored", node=node)
    assert same is node and node.GetName() == "T1"
    assert_same_image(bridge.volume_to_image(node), shifted * 2)
    with pytest.raises(InputError, match="vtkMRMLLabelMapVolumeNode"):
        bridge.image_to_volume(scene, label_image(oblique), "x", node=node, labelmap=True)


def test_image_to_volume_rejects_bad_images(scene):
    with pytest.raises(InputError, match="2D"):
        bridge.image_to_volume(scene, sitk.Image(4, 4, sitk.sitkFloat32), "flat")
    with pytest.raises(InputError, match="components"):
        bridge.image_to_volume(scene, sitk.Image([4, 4, 4], sitk.sitkVectorFloat32, 3), "vector")
    with pytest.raises(InputError, match="non-integer"):
        bridge.image_to_volume(scene, sitk.Image([4, 4, 4], sitk.sitkFloat32) + 0.5, "prob", labelmap=True)


def test_labelmap_node_round_trip(scene, oblique):
    labels = label_image(oblique)
    node = bridge.image_to_volume(scene, labels, "lesions", labelmap=True)
    assert node.IsA("vtkMRMLLabelMapVolumeNode")
    assert_same_image(bridge.volume_to_image(node), labels)
    as_labels = bridge.labelmap_node_to_image(node)
    assert as_labels.GetPixelID() == sitk.sitkUInt32
    assert_same_grid(as_labels, labels)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(as_labels), sitk.GetArrayFromImage(labels))


def segment_rows(node):
    segmentation = node.GetSegmentation()
    return [segmentation.GetNthSegment(i) for i in range(segmentation.GetNumberOfSegments())]


def test_segmentation_round_trip_keeps_names_colors_and_label_values(scene, oblique):
    labels = label_image(oblique)
    node = bridge.label_image_to_segmentation(scene, labels, names=NAMES, colors=COLORS, name="Lesions")
    assert node.IsA("vtkMRMLSegmentationNode") and node.GetName() == "Lesions"
    segments = segment_rows(node)
    assert [s.GetName() for s in segments] == [NAMES[3], NAMES[7], NAMES[12]]
    assert [tuple(s.GetColor()) for s in segments] == [COLORS[3], COLORS[7], COLORS[12]]
    assert [bridge.segmentations.segment_label_value(s) for s in segments] == [3, 7, 12]

    image, info = bridge.segmentation_to_label_image(node)
    assert_same_grid(image, labels)
    assert image.GetPixelID() == sitk.sitkUInt32
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(labels))
    assert info == [{"label": v, "name": NAMES[v], "color": COLORS[v]} for v in (3, 7, 12)]
    # no temporary nodes left behind
    names = [scene.GetNthNode(i).GetName() or "" for i in range(scene.GetNumberOfNodes())]
    assert not [n for n in names if "temporary" in n]


@pytest.mark.parametrize("pixel", [sitk.sitkUInt8, sitk.sitkUInt32, sitk.sitkInt32, sitk.sitkFloat32])
def test_segmentation_from_any_label_pixel_type(scene, oblique, pixel):
    labels = sitk.Cast(label_image(oblique), pixel)
    node = bridge.label_image_to_segmentation(scene, labels)
    image, info = bridge.segmentation_to_label_image(node)
    assert [row["label"] for row in info] == [3, 7, 12]
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(labels))


def test_empty_label_image_gives_empty_segmentation(scene, oblique):
    empty = sitk.Image(oblique.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(oblique)
    node = bridge.label_image_to_segmentation(scene, empty)
    assert node.GetSegmentation().GetNumberOfSegments() == 0
    image, info = bridge.segmentation_to_label_image(node)
    assert info == [] and sitk.GetArrayFromImage(image).max() == 0
    assert_same_grid(image, oblique)


def test_segmentation_accepts_lists_and_default_names(scene, oblique):
    labels = label_image(oblique)
    node = bridge.label_image_to_segmentation(scene, labels, names=["a", "b", "c"])
    assert [s.GetName() for s in segment_rows(node)] == ["a", "b", "c"]
    plain = bridge.label_image_to_segmentation(scene, labels, name="Plain")
    assert [s.GetName() for s in segment_rows(plain)] == ["Label 3", "Label 7", "Label 12"]
    colors = [tuple(s.GetColor()) for s in segment_rows(plain)]
    assert len(set(colors)) == 3  # distinct, fixed colours from a colour table
    with pytest.raises(InputError, match="3 labels"):
        bridge.label_image_to_segmentation(scene, labels, names=["only one"])
    with pytest.raises(InputError, match="0..1"):
        bridge.label_image_to_segmentation(scene, labels, colors={3: (255, 0, 0)})


def test_segmentation_export_onto_reference_volume(scene, oblique):
    labels = label_image(oblique)
    reference = bridge.image_to_volume(scene, oblique, "T1")
    node = bridge.label_image_to_segmentation(scene, labels, names=NAMES, reference_volume_node=reference)
    image, _ = bridge.segmentation_to_label_image(node, reference_volume_node=reference)
    assert_same_grid(image, oblique)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(labels))


def test_segments_without_label_tag_get_free_values_in_order(scene, oblique):
    node = bridge.label_image_to_segmentation(scene, label_image(oblique), names=NAMES)
    segments = segment_rows(node)
    segments[0].RemoveTag(LABEL_VALUE_TAG)  # was 3: becomes the smallest value not taken (1)
    image, info = bridge.segmentation_to_label_image(node)
    assert [row["label"] for row in info] == [1, 7, 12]
    expected = sitk.GetArrayFromImage(label_image(oblique))
    expected[expected == 3] = 1
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), expected)


def test_segment_drawn_in_slicer_as_closed_surface_exports(scene):
    """A segment made in Slicer (closed surface, no label tag) exports on the reference grid as label 1."""
    import vtk

    from conftest import oblique_image

    grid = oblique_image(size=(30, 30, 20), spacing=(1.0, 1.0, 1.0))
    reference = bridge.image_to_volume(scene, grid, "T1")
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "drawn")
    node.SetReferenceImageGeometryParameterFromVolumeNode(reference)
    sphere = vtk.vtkSphereSource()
    sphere.SetCenter(*(ijk_to_ras(reference) @ np.array([15.0, 15.0, 10.0, 1.0]))[:3])
    sphere.SetRadius(5.0)
    sphere.SetPhiResolution(32)
    sphere.SetThetaResolution(32)
    sphere.Update()
    node.AddSegmentFromClosedSurfaceRepresentation(sphere.GetOutput(), "ball", [1.0, 0.0, 0.0])
    image, info = bridge.segmentation_to_label_image(node, reference_volume_node=reference)
    assert info == [{"label": 1, "name": "ball", "color": (1.0, 0.0, 0.0)}]
    assert_same_grid(image, grid)
    array = sitk.GetArrayFromImage(image)
    assert set(np.unique(array)) == {0, 1}
    assert abs(array.sum() - 4 / 3 * np.pi * 5.0**3) < 0.2 * 4 / 3 * np.pi * 5.0**3  # 1 mm^3 voxels
    assert array[10, 15, 15] == 1 and array[0, 0, 0] == 0  # sphere centre at voxel (i, j, k) = (15, 15, 10)


def test_existing_segmentation_node_is_replaced(scene, oblique):
    node = bridge.label_image_to_segmentation(scene, label_image(oblique), names=NAMES)
    single = sitk.Cast(label_image(oblique) == 12, sitk.sitkUInt8) * 5
    same = bridge.label_image_to_segmentation(scene, single, names={5: "five"}, node=node)
    assert same is node
    assert [s.GetName() for s in segment_rows(node)] == ["five"]
    image, info = bridge.segmentation_to_label_image(node)
    assert info[0]["label"] == 5
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(single))


ROWS = [
    {"lesion_id": 1, "volume_mm3": 0.1 + 0.2, "enhancing": True, "location": "periventricular",
     "rim_class": None, "big": 2**40, "maybe_int": None, "maybe_bool": True},
    {"lesion_id": 2, "volume_mm3": None, "enhancing": False, "location": "juxta, cortical",
     "rim_class": "full", "big": -(2**40), "maybe_int": 7, "maybe_bool": None},
    {"lesion_id": 3, "volume_mm3": 1e-300, "enhancing": False, "location": "deep_white_matter",
     "rim_class": None, "big": 0, "maybe_int": -3, "maybe_bool": False},
]


def test_table_round_trip_typed_columns(scene):
    node = bridge.rows_to_table(scene, ROWS, "Lesion table")
    assert node.GetName() == "Lesion table"
    table = node.GetTable()
    classes = {table.GetColumn(i).GetName(): table.GetColumn(i).GetClassName() for i in range(table.GetNumberOfColumns())}
    assert classes["lesion_id"] in ("vtkLongLongArray", "vtkTypeInt64Array")
    assert classes["volume_mm3"] in ("vtkDoubleArray", "vtkTypeFloat64Array")
    assert classes["enhancing"] == "vtkBitArray"
    assert classes["location"] == "vtkStringArray"
    assert node.GetColumnProperty("maybe_int", COLUMN_TYPE_PROPERTY) == "int"
    back = bridge.table_to_rows(node)
    assert back == ROWS
    assert [type(v) for v in back[0].values()] == [int, float, bool, str, type(None), int, type(None), bool]


def test_table_column_order_missing_keys_and_bad_values(scene):
    rows = [{"b": 1.5, "a": "x"}, {"a": "y"}]
    node = bridge.rows_to_table(scene, rows, "t", columns=["a", "b", "c"])
    assert bridge.table_to_rows(node) == [{"a": "x", "b": 1.5, "c": None}, {"a": "y", "b": None, "c": None}]
    assert bridge.table_to_rows(bridge.rows_to_table(scene, [{"n": 1}, {"n": 2.5}], "mixed")) == [{"n": 1.0}, {"n": 2.5}]
    with pytest.raises(InputError, match="mixes"):
        bridge.rows_to_table(scene, [{"a": 1}, {"a": "one"}], "bad")
    with pytest.raises(InputError, match="64 bits"):
        bridge.rows_to_table(scene, [{"a": 2**70}], "huge")
    node = bridge.rows_to_table(scene, [{"v": np.int64(4), "w": np.float32(0.5), "x": np.bool_(True)}], "numpy")
    assert bridge.table_to_rows(node) == [{"v": 4, "w": 0.5, "x": True}]


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_table_save_load_exact(scene, tmp_path, suffix):
    node = bridge.rows_to_table(scene, ROWS, "lesions")
    path = bridge.save_node(node, tmp_path / f"lesions{suffix}")
    schema = tmp_path / f"lesions.schema{suffix}"
    assert path.exists() and schema.exists()
    assert "long long" in schema.read_text() and "double" in schema.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    loaded = bridge.load_table(scene, path)
    assert loaded is not node and loaded.GetName() == "lesions"
    assert bridge.table_to_rows(loaded) == ROWS
    # Slicer reads the saved float column as numbers, in full precision
    column = loaded.GetTable().GetColumnByName("volume_mm3")
    assert column.GetValue(0) == 0.1 + 0.2 and math.isnan(column.GetValue(1))


def test_table_written_by_logic_layer_loads_like_read_table(scene, tmp_path):
    path = write_table(ROWS, tmp_path / "from_logic.tsv")
    node = bridge.load_table(scene, path)
    assert bridge.table_to_rows(node) == read_table(path) == ROWS


def test_table_save_refuses_text_slicer_cannot_store(scene, tmp_path):
    node = bridge.rows_to_table(scene, [{"note": 'say "hi"'}], "notes")
    with pytest.raises(InputError, match="double quote"):
        bridge.save_node(node, tmp_path / "notes.tsv")
    assert not list(tmp_path.iterdir())


def test_markups_round_trip(scene):
    points = np.array([[1.1, 2.2, 3.3], [-40.125, 5.5, 1e-3], [0.0, -0.0, 123456.789]])
    node = bridge.points_to_markups(scene, points, ["a", "b", "c"], name="CVS")
    assert node.IsA("vtkMRMLMarkupsFiducialNode") and node.GetName() == "CVS"
    back, labels = bridge.markups_to_points(node)
    np.testing.assert_array_equal(back, points)
    assert labels == ["a", "b", "c"]
    same = bridge.points_to_markups(scene, points[:1], node=node)
    assert same is node and bridge.markups_to_points(node)[0].shape == (1, 3)
    empty = bridge.points_to_markups(scene, np.zeros((0, 3)), name="none")
    assert bridge.markups_to_points(empty)[0].shape == (0, 3)
    with pytest.raises(InputError, match=r"\(N, 3\)"):
        bridge.points_to_markups(scene, [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="labels"):
        bridge.points_to_markups(scene, points, ["a"])


def test_markups_save_load_mrk_json(scene, tmp_path):
    points = np.array([[1.1, 2.2, 3.3], [-40.125, 5.5, 1e-3]])
    node = bridge.points_to_markups(scene, points, ["lesion 1", "lesion 2"])
    path = bridge.save_node(node, tmp_path / "points.mrk.json")
    assert '"coordinateSystem"' in path.read_text()
    loaded = bridge.load_markups(scene, path)
    assert loaded is not node and loaded.IsA("vtkMRMLMarkupsFiducialNode") and loaded.GetName() == "points"
    back, labels = bridge.markups_to_points(loaded)
    np.testing.assert_allclose(back, points, rtol=0, atol=1e-12)
    assert labels == ["lesion 1", "lesion 2"]


@pytest.mark.parametrize("suffix,tol", [(".nrrd", EXACT), (".nii.gz", NIFTI)])
def test_volume_save_load_keeps_the_file_grid(scene, tmp_path, oblique, suffix, tol):
    node = bridge.image_to_volume(scene, oblique, "T1")
    path = bridge.save_node(node, tmp_path / f"t1{suffix}")
    assert node.GetStorageNode().GetFileName() == str(path)
    assert_same_image(sitk.ReadImage(str(path)), oblique, tol)  # what Slicer wrote is what SimpleITK reads
    exact = bridge.load_volume(scene, path)  # default: the file's grid
    assert exact.GetName() == "t1"
    assert_same_image(bridge.volume_to_image(exact), oblique, tol)


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz"])
def test_volume_load_like_slicer_flips_left_handed_grid_but_keeps_positions(scene, tmp_path, oblique, suffix):
    node = bridge.image_to_volume(scene, oblique, "T1")
    path = bridge.save_node(node, tmp_path / f"t1{suffix}")
    loaded = bridge.load_volume(scene, path, right_handed=True)  # as Slicer's "Add data": right-handed IJK
    assert np.linalg.det(ijk_to_ras(loaded)[:3, :3]) > 0
    image = bridge.volume_to_image(loaded)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(oblique)[::-1])
    back_on_grid = sitk.Resample(image, oblique, sitk.Transform(), sitk.sitkNearestNeighbor, 0.0, image.GetPixelID())
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back_on_grid), sitk.GetArrayFromImage(oblique))


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz"])
def test_labelmap_save_load(scene, tmp_path, oblique, suffix):
    labels = label_image(oblique)
    node = bridge.image_to_volume(scene, labels, "lesions", labelmap=True)
    path = bridge.save_node(node, tmp_path / f"lesions{suffix}")
    loaded = bridge.load_volume(scene, path, labelmap=True)
    assert loaded.IsA("vtkMRMLLabelMapVolumeNode")
    assert_same_image(bridge.volume_to_image(loaded), labels, EXACT if suffix == ".nrrd" else NIFTI)


def test_segmentation_save_load_seg_nrrd(scene, tmp_path, oblique):
    labels = label_image(oblique)
    node = bridge.label_image_to_segmentation(scene, labels, names=NAMES, colors=COLORS)
    path = bridge.save_node(node, tmp_path / "lesions.seg.nrrd")
    assert path.name == "lesions.seg.nrrd" and LABEL_VALUE_TAG in path.read_bytes()[:20000].decode("latin-1")
    loaded = bridge.load_segmentation(scene, path)
    assert loaded is not node and loaded.GetName() == "lesions"
    image, info = bridge.segmentation_to_label_image(loaded)
    assert_same_grid(image, labels)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(labels))
    assert [(row["label"], row["name"]) for row in info] == [(v, NAMES[v]) for v in (3, 7, 12)]
    for row in info:  # .seg.nrrd headers keep colours to 6 significant digits
        np.testing.assert_allclose(row["color"], COLORS[row["label"]], atol=1e-6)


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz"])
def test_segmentation_load_from_label_image_file(scene, tmp_path, oblique, suffix):
    labels = label_image(oblique)
    path = tmp_path / f"sub-01_lesions{suffix}"
    sitk.WriteImage(labels, str(path))
    node = bridge.load_segmentation(scene, path, names=NAMES)
    assert node.GetName() == "sub-01_lesions"
    image, info = bridge.segmentation_to_label_image(node)
    assert [row["name"] for row in info] == [NAMES[v] for v in (3, 7, 12)]
    assert_same_grid(image, labels, EXACT if suffix == ".nrrd" else NIFTI)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(labels))


def test_loaders_name_the_file_in_errors(scene, tmp_path):
    with pytest.raises(InputError, match="file not found"):
        bridge.load_volume(scene, tmp_path / "missing.nrrd")
    corrupt = tmp_path / "corrupt.nrrd"
    corrupt.write_bytes(b"NRRD0004\nthis is not a header\n")
    with pytest.raises(InputError, match="corrupt.nrrd"):
        bridge.load_volume(scene, corrupt)
    with pytest.raises(InputError, match="file not found"):
        bridge.load_table(scene, tmp_path / "missing.tsv")


def test_node_names_from_paths():
    assert bridge.node_name_from_path("/x/sub-01_lesions.seg.nrrd") == "sub-01_lesions"
    assert bridge.node_name_from_path("t1.nii.gz") == "t1"
    assert bridge.node_name_from_path("p.mrk.json") == "p"


def test_requirements_file_lists_packages_slicer_lacks():
    text = bridge.requirements_path().read_text()
    names = {line.split(">")[0].split("=")[0].strip() for line in text.splitlines()
             if line.strip() and not line.startswith("#")}
    assert {"nibabel", "networkx", "trx-python"} <= names
    assert not names & {"numpy", "SimpleITK", "vtk", "scipy"}


# ----------------------------------------------------------------------------- the correction loop
@pytest.fixture(scope="module")
def segmented_phantom():
    """The small phantom's FLAIR and anatomy, segmented by the lesions part in memory."""
    from mspathobiology import lesions
    from mspathobiology.phantom import generate_subject

    session = generate_subject(seed=0, small=True, sessions=1).sessions[0]
    images = {"flair": session.images["flair"], "anatomy": session.anatomy}
    analyse = getattr(lesions, "analyse", None) or lesions.analyse_case
    return images, analyse(images).labels


def segment_masks(node, reference):
    """{segment ID: set of flat voxel indices} of every segment, exported one by one."""
    from mspathobiology_mrml.segmentations import segmentation_to_label_image

    image, _ = segmentation_to_label_image(node, reference_volume_node=reference)
    values = sitk.GetArrayFromImage(image).ravel()
    rows = bridge.segment_table(node)
    return {row["id"]: frozenset(np.flatnonzero(values == row["label"]).tolist()) for row in rows}


def erase(node, segment_id, reference_image, where):
    """Erase voxels of one segment the way a Segment Editor effect does (SetBinaryLabelmapToSegment)."""
    from mspathobiology_mrml.lesion_segments import _oriented_extent, _oriented_mask

    mask = np.zeros(sitk.GetArrayViewFromImage(reference_image).shape, bool)
    current = segment_masks(node, None)[segment_id]
    mask.ravel()[list(current)] = True
    mask &= ~where
    box = tuple(slice(0, n) for n in mask.shape)
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    assert logic.SetBinaryLabelmapToSegment(_oriented_mask(mask, box, voxel_to_ras(reference_image)), node, segment_id,
                                            logic.MODE_REPLACE, _oriented_extent(box))


def test_relabel_after_edits_keeps_untouched_segments(scene, segmented_phantom):
    from mspathobiology_mrml import lesion_segments as ls

    images, labels = segmented_phantom
    flair = bridge.image_to_volume(scene, images["flair"], "FLAIR")
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Lesions")
    node.CreateDefaultDisplayNodes()
    report = ls.write_lesion_labels(node, labels, flair)
    ls.store_table_labels(node, labels)
    ids = sorted(int(v) for v in np.unique(sitk.GetArrayViewFromImage(labels)) if v)
    assert len(ids) >= 5 and report["added"] == ids
    segmentation = node.GetSegmentation()
    assert list(segmentation.GetSegmentIDs()) == [f"lesion_{i}" for i in ids]
    assert segmentation.GetSegment("lesion_1").GetName() == "Lesion 1"
    assert not ls.is_edited(node, flair)
    node.GetDisplayNode().SetSegmentVisibility("lesion_5", False)
    before = segment_masks(node, flair)
    objects = {i: segmentation.GetSegment(i) for i in segmentation.GetSegmentIDs()}

    edits = []
    watcher = ls.LesionEditWatcher(lambda n: edits.append(n.GetName()))
    watcher.watch(node)
    # the reader deletes lesion 2 and cuts lesion 1 in two with a two-slice-thick eraser
    segmentation.RemoveSegment("lesion_2")
    array = sitk.GetArrayViewFromImage(labels)
    k = np.nonzero(array == 1)[0]
    cut = np.zeros(array.shape, bool)
    middle = int(round(k.mean()))
    cut[middle - 1:middle + 1] = True
    erase(node, "lesion_1", labels, cut)
    # and draws a new lesion as a new segment
    drawn = np.zeros(array.shape, bool)
    free = np.argwhere(array == 0)[len(np.argwhere(array == 0)) // 3]
    drawn[tuple(slice(max(c - 1, 0), c + 2) for c in free)] = True
    drawn &= array == 0
    segmentation.AddEmptySegment("Segment_drawn")
    node.SetReferenceImageGeometryParameterFromVolumeNode(flair)
    box = tuple(slice(0, n) for n in array.shape)
    assert slicer.vtkSlicerSegmentationsModuleLogic.SetBinaryLabelmapToSegment(
        ls._oriented_mask(drawn, box, voxel_to_ras(labels)), node, "Segment_drawn", 0, ls._oriented_extent(box))
    assert len(edits) >= 3 and ls.is_edited(node, flair)

    edits.clear()
    from mspathobiology.geometry import voxel_volume_mm3
    from mspathobiology.lesions import relabel_after_edit

    edited = sitk.GetArrayFromImage(ls.lesion_labels(node, flair, first_new_id=max(ids) + 1))
    expected, expected_report = relabel_after_edit(edited, sitk.GetArrayFromImage(labels), voxel_volume_mm3(labels))
    with watcher.quiet():
        new_labels, report = ls.relabel(node, flair)
    # relabelled where the edits are, exactly as the logic layer's rule on the whole image
    np.testing.assert_array_equal(sitk.GetArrayFromImage(new_labels), expected)
    assert {k: report[k] for k in ("kept", "new", "removed")} == expected_report
    assert edits == []  # the relabel's own writes are not reported as edits
    watcher.stop()

    after = segment_masks(node, flair)
    untouched = [f"lesion_{i}" for i in ids if i not in (1, 2)]
    for segment_id in untouched:  # same segment object, same ID, same voxels
        assert segment_id in after and after[segment_id] == before[segment_id], segment_id
        assert segmentation.GetSegment(segment_id) is objects[segment_id]
    assert sorted(report["segments"]["unchanged"]) == sorted(int(s.split("_")[1]) for s in untouched)
    assert "lesion_2" not in after and 2 in report["removed"]
    assert node.GetDisplayNode().GetSegmentVisibility("lesion_5") is False
    # lesion 1 was split: its larger part keeps id 1, the other part gets a new id above all old ids
    parts = [i for i in report["new"]]
    assert 1 in report["kept"] and len(parts) >= 2 and min(parts) > max(ids)
    assert after["lesion_1"] < before["lesion_1"]
    assert "Segment_drawn" not in after  # became a lesion_<id> segment
    new_array = sitk.GetArrayViewFromImage(new_labels)
    drawn_ids = set(np.unique(new_array[drawn]).tolist()) - {0}
    assert len(drawn_ids) == 1 and drawn_ids.pop() in parts
    for value in np.unique(new_array[new_array > 0]):
        assert after[f"lesion_{value}"] == frozenset(np.flatnonzero(new_array.ravel() == value).tolist())


def test_lesion_segment_ids():
    from mspathobiology_mrml import lesion_segments as ls

    assert ls.segment_id(7) == "lesion_7" and ls.lesion_id("lesion_7") == 7
    assert ls.lesion_id("Segment_1") is None and ls.lesion_id("lesion_x") is None


def test_outputs_go_under_the_inputs_study(scene):
    from mspathobiology_mrml import hierarchy

    sh = hierarchy.subject_hierarchy(scene)
    patient = sh.CreateSubjectItem(sh.GetSceneItemID(), "sub-01")
    study = sh.CreateStudyItem(patient, "ses-01")
    flair = bridge.image_to_volume(scene, sitk.Image([4, 4, 4], sitk.sitkFloat32), "FLAIR")
    sh.CreateItem(study, flair)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Lesions")
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", "Lesion table")
    folder = hierarchy.place_outputs(flair, [segmentation, table, None], "MS Lesions")
    assert sh.GetItemName(folder) == "MS Lesions" and sh.GetItemParent(folder) == study
    assert sh.GetItemParent(sh.GetItemByDataNode(segmentation)) == folder
    assert sh.GetItemParent(sh.GetItemByDataNode(table)) == folder
    assert hierarchy.place_outputs(flair, [table], "MS Lesions") == folder  # one folder, reused
    assert hierarchy.study_of(segmentation) == study
    loose = bridge.image_to_volume(scene, sitk.Image([4, 4, 4], sitk.sitkFloat32), "from NIfTI")
    sh.CreateItem(sh.GetSceneItemID(), loose)
    other = scene.AddNewNodeByClass("vtkMRMLTableNode", "other")
    assert hierarchy.place_outputs(loose, [other]) == sh.GetSceneItemID()  # no study: next to the input
    assert hierarchy.study_of(loose) is None


def test_lesion_segments_round_trip_on_an_oblique_grid(scene, oblique):
    """Lesion ids -> lesion_<id> segments -> lesion ids, exactly, on an oblique flipped grid, with and
    without a reference volume; the labelmap layers are read directly and agree with Slicer's export."""
    from mspathobiology_mrml import lesion_segments as ls
    from mspathobiology_mrml.segmentations import segmentation_to_label_image

    labels = label_image(oblique)
    for reference in (None, bridge.image_to_volume(scene, oblique, "reference")):
        node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Lesions")
        report = ls.write_lesion_labels(node, labels, reference)
        assert report["added"] == [3, 7, 12] and list(node.GetSegmentation().GetSegmentIDs()) == \
            ["lesion_3", "lesion_7", "lesion_12"]
        back = ls.lesion_labels(node, reference)
        assert_same_grid(back, labels)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(labels))
        exported, _ = segmentation_to_label_image(node, reference)  # Slicer's own export, tag values
        np.testing.assert_array_equal(sitk.GetArrayFromImage(exported), sitk.GetArrayFromImage(labels))
        again = ls.write_lesion_labels(node, labels, reference)
        assert again["unchanged"] == [3, 7, 12] and not (again["added"] or again["changed"] or again["removed"])
        with pytest.raises(InputError, match="integer"):
            ls.write_lesion_labels(node, sitk.Cast(labels, sitk.sitkFloat32), reference)


@pytest.mark.parametrize("seed", range(6))
def test_relabel_where_edited_equals_the_rule_on_the_whole_image(seed):
    """Random edits (erase, cut in two, delete, draw, repaint one lesion with another's id) of labels the
    rule made: relabelling the edited box gives the rule's result on the whole image, ids and report."""
    from scipy import ndimage

    from mspathobiology.lesions import relabel_after_edit
    from mspathobiology_mrml.lesion_segments import relabel_where_edited

    rng = np.random.default_rng(seed)
    shape = (40, 48, 44)
    blobs = ndimage.label(ndimage.binary_dilation(rng.random(shape) > 0.9985, iterations=2))[0]
    for voxel_volume, connectivity, minimum in ((1.0, 26, 3.0), (0.5, 6, 2.0)):
        previous = relabel_after_edit(blobs, None, voxel_volume, connectivity, minimum)[0].astype(np.int64)
        ids = np.unique(previous[previous > 0])
        assert len(ids) >= 6
        edited = previous.copy()
        a, b, c, d = (int(v) for v in rng.choice(ids, 4, replace=False))
        k = int(np.nonzero(edited == a)[0].mean())
        edited[k:][edited[k:] == a] = 0                                  # erase half of a
        k = int(np.nonzero(edited == b)[0].mean())
        edited[k][edited[k] == b] = 0                                    # cut b with a one-slice eraser
        edited[edited == c] = 0                                          # delete c
        free = np.argwhere(previous == 0)
        box = tuple(slice(max(v - 1, 0), v + 2) for v in free[rng.integers(len(free))])
        edited[box][edited[box] == 0] = int(ids.max()) + 1              # draw a new lesion
        edited[edited == d] = a                                          # repaint d with a's id
        expected, report = relabel_after_edit(edited, previous, voxel_volume, connectivity, minimum)
        found, found_report = relabel_where_edited(edited, previous, voxel_volume, connectivity, minimum)
        np.testing.assert_array_equal(found, expected)
        assert found_report == report
        assert set(report["removed"]) >= {c}
