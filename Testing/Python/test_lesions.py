"""Lesion labeling, table, locations, DIS, change, enhancement, evaluation and CLI on synthetic arrays."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from mspathobiology import cli
from mspathobiology.errors import GeometryMismatchError, InputError
from mspathobiology.geometry import voxel_to_ras
from mspathobiology.io import write_image
from mspathobiology.lesion_table import read_lesion_table
from mspathobiology.lesions import (anatomy_classes, classify_change, classify_locations, delete_lesions, dice,
                                    dissemination_in_space, enhancing_lesions, label_lesions, lesion_detection,
                                    lesion_rows, merge_lesions, relabel_after_edit, run_case, run_change,
                                    segment_flair, split_lesion, summarise)
from mspathobiology.lesions.evaluation import detection_components


def ball(shape, centre, radius, spacing=(1.0, 1.0, 1.0)):
    k, j, i = np.indices(shape, dtype=float)
    return ((k - centre[0]) * spacing[0]) ** 2 + ((j - centre[1]) * spacing[1]) ** 2 \
        + ((i - centre[2]) * spacing[2]) ** 2 <= radius ** 2


def synthetic_case(shape=(40, 56, 56), seed=0, lesions=None, noise=0.02):
    """Ellipsoid brain [k, j, i], 1 mm: WM, 3 mm cortex shell, two ventricles, a brainstem slab
    (aseg values); FLAIR with WM 100, cortex 120, CSF 30, lesions 190. Returns images and truth."""
    rng = np.random.default_rng(seed)
    k, j, i = np.indices(shape, dtype=float)
    c = np.array(shape) / 2.0
    r = np.array(shape) / 2.0 - 3
    d = np.sqrt(((k - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((i - c[2]) / r[2]) ** 2)
    brain = d <= 1.0
    anat = np.zeros(shape, np.uint32)
    anat[brain] = 2
    anat[brain & (d > 1 - 3.0 / r.min())] = 3
    for side, label in ((-1, 4), (1, 43)):
        dv = np.sqrt(((k - c[0]) / 5) ** 2 + ((j - c[1]) / 8) ** 2 + ((i - c[2] - side * 6) / 3) ** 2)
        anat[dv <= 1] = label
    anat[brain & (k < 9) & (anat == 2)] = 16
    flair = np.zeros(shape, np.float32)
    flair[np.isin(anat, (2, 16))] = 100
    flair[anat == 3] = 120
    flair[np.isin(anat, (4, 43))] = 30
    if lesions is None:  # (centre kji, radius mm): deep WM, periventricular, juxtacortical, infratentorial
        lesions = [((20, 14, 28), 3.0), ((20, 28, 16), 2.5), ((20, 28, 46), 2.0), ((7, 28, 28), 2.0)]
    truth = np.zeros(shape, np.int32)
    for n, (centre, radius) in enumerate(lesions, 1):
        truth[ball(shape, centre, radius) & brain] = n
    flair[truth > 0] = 190
    flair += rng.normal(0, noise * 100, shape).astype(np.float32)
    flair[~brain] = 0
    images = [sitk.GetImageFromArray(a) for a in (flair.astype(np.float32), anat, brain.astype(np.uint8))]
    return images[0], images[1], images[2], truth


@pytest.fixture(scope="module")
def case():
    return synthetic_case()


# ---------------------------------------------------------------- labeling

def test_connectivity_parameter_decides_components():
    mask = np.zeros((6, 6, 6), bool)
    mask[1:3, 1:3, 1:3] = True
    mask[3:5, 3:5, 3:5] = True   # touches the first block at one corner only
    assert label_lesions(mask, connectivity=26, min_volume_mm3=0).max() == 1
    assert label_lesions(mask, connectivity=6, min_volume_mm3=0).max() == 2
    assert label_lesions(mask, connectivity=18, min_volume_mm3=0).max() == 2


def test_ids_ordered_by_size_and_min_volume_in_mm3():
    mask = np.zeros((10, 10, 30), bool)
    mask[1, 1, 1:3] = True          # 2 voxels
    mask[5, 5, 5:9] = True          # 4 voxels
    mask[2:4, 2:4, 20:23] = True    # 12 voxels
    labels = label_lesions(mask, voxel_volume_mm3=1.0, min_volume_mm3=3.0)
    assert labels.max() == 2
    assert labels[2, 2, 20] == 1 and labels[5, 5, 5] == 2 and labels[1, 1, 1] == 0
    # 2 voxels of 2 mm^3 = 4 mm^3 >= 3 mm^3: kept; 1.5 mm^3 voxels: 3 mm^3 kept (>=)
    assert label_lesions(mask, voxel_volume_mm3=2.0, min_volume_mm3=3.0).max() == 3
    assert label_lesions(mask, voxel_volume_mm3=1.5, min_volume_mm3=3.0).max() == 3
    assert label_lesions(mask, voxel_volume_mm3=1.0, min_volume_mm3=5.0).max() == 1
    again = label_lesions(np.flip(mask, 2).copy(), min_volume_mm3=3.0)
    assert np.count_nonzero(again == 1) == 12 and np.count_nonzero(again == 2) == 4


def test_delete_and_merge_keep_other_ids():
    labels = np.zeros((5, 5, 20), np.int32)
    labels[1, 1, 1:5] = 1
    labels[1, 1, 6:9] = 2
    labels[3, 3, 12:14] = 3
    out = delete_lesions(labels, [2])
    assert set(np.unique(out)) == {0, 1, 3} and np.array_equal(out == 1, labels == 1)
    merged = merge_lesions(labels, [2, 3])
    assert set(np.unique(merged)) == {0, 1, 2} and np.count_nonzero(merged == 2) == 5
    assert np.count_nonzero(merge_lesions(labels, [1, 2], into=7) == 7) == 7
    with pytest.raises(InputError, match="not found"):
        delete_lesions(labels, [9])


def test_split_confluent_lesion_by_watershed():
    shape = (30, 30, 50)
    two = ball(shape, (15, 15, 14), 8) | ball(shape, (15, 15, 32), 6)
    two[14:17, 14:17, 14:33] = True   # thin bridge
    labels = np.zeros(shape, np.int32)
    labels[two] = 1
    labels[2:4, 2:4, 45:48] = 2
    out, parts = split_lesion(labels, 1)
    assert parts == [1, 3]
    assert np.count_nonzero(out == 1) > np.count_nonzero(out == 3) > 500
    assert out[15, 15, 14] == 1 and out[15, 15, 32] == 3
    assert np.array_equal(out > 0, labels > 0) and np.array_equal(out == 2, labels == 2)
    single = np.zeros(shape, np.int32)
    single[ball(shape, (15, 15, 25), 7)] = 4
    same, parts = split_lesion(single, 4)
    assert parts == [4] and np.array_equal(same, single)


def test_relabel_after_edit_keeps_untouched_ids():
    previous = np.zeros((20, 20, 40), np.int32)
    previous[2:5, 2:5, 2:5] = 1         # 27 voxels, untouched
    previous[10:12, 10:12, 10:14] = 2   # 16 voxels, deleted by the expert
    previous[15:17, 2:4, 20:23] = 3     # 12 voxels, enlarged by the expert
    previous[2:4, 15:17, 30:33] = 4     # 12 voxels, untouched
    edited = previous.copy()
    edited[previous == 2] = 0
    edited[15:18, 2:5, 20:24] = 3       # painted over with the same id
    edited[8:11, 8:11, 30:33] = 9       # a new lesion, painted with a fresh value
    out, report = relabel_after_edit(edited, previous)
    assert np.array_equal(out == 1, previous == 1) and np.array_equal(out == 4, previous == 4)
    assert np.count_nonzero(out == 3) == 36
    assert report["kept"] == [1, 3, 4] and report["removed"] == [2] and report["new"] == [5]
    assert np.count_nonzero(out == 5) == 27
    # split + relabel: the touching parts stay separate, both ids kept
    shape = (30, 30, 50)
    labels = np.zeros(shape, np.int32)
    labels[ball(shape, (15, 15, 14), 8) | ball(shape, (15, 15, 32), 6)] = 1
    split, parts = split_lesion(labels, 1)
    relabeled, report = relabel_after_edit(split, split)
    assert np.array_equal(relabeled, split) and report["kept"] == parts
    # an expert erases the bridge of one id: the larger part keeps the id, the other is new
    cut = labels.copy()
    cut[:, :, 22:25] = 0
    out, report = relabel_after_edit(cut)
    assert out[15, 15, 14] == 1 and out[15, 15, 32] == 2 and report["new"] == [2]


# ---------------------------------------------------------------- table

def test_table_values_on_hand_made_arrays():
    image = sitk.Image(8, 6, 5, sitk.sitkUInt8)
    image.SetSpacing((2.0, 1.0, 1.0))
    image.SetOrigin((10.0, 20.0, 30.0))
    labels = np.zeros((5, 6, 8), np.int32)   # [k, j, i]
    labels[4, 2, 1:4] = 1                    # 3 voxels along i (2 mm each)
    labels[0, 0, 7] = 2                      # one voxel
    labels[2, 1:5, 5] = 3                    # 4 voxels along j, within one sagittal slice
    flair = np.ones(labels.shape, np.float32)
    flair[4, 2, 1:4] = [1.5, 2.0, 2.5]
    rows = lesion_rows(labels, image, flair, {1: "deep_white_matter", 2: "cortical", 3: "periventricular"},
                       {1: True, 2: False, 3: False})
    first, second, third = rows
    assert first["voxels"] == 3 and first["volume_mm3"] == pytest.approx(6.0)
    # LPS centroid (10 + 2*2, 20 + 2, 30 + 4) -> RAS (-14, -22, 34)
    assert (first["centroid_r"], first["centroid_a"], first["centroid_s"]) == pytest.approx((-14.0, -22.0, 34.0))
    assert (first["bbox_i_min"], first["bbox_i_max"], first["bbox_j_min"], first["bbox_k_max"]) == (1, 3, 2, 4)
    # 2 x 1 x 1 mm is read as sagittal slices (2 mm thick): lesion 1 is one 1 mm voxel in each of
    # three slices, so its long axis is 1 mm, not 6 mm; slice thickness is not length
    assert first["long_axis_mm"] == pytest.approx(1.0)
    assert first["flair_mean"] == pytest.approx(2.0) and first["flair_max"] == pytest.approx(2.5)
    assert first["mcdonald_countable"] is False and first["enhancing"] is True
    assert second["long_axis_mm"] == pytest.approx(1.0) and second["mcdonald_countable"] is False
    assert second["location"] == "cortical" and second["enhancing"] is False
    assert third["long_axis_mm"] == pytest.approx(4.0) and third["mcdonald_countable"] is True  # 3 mm + 1 voxel
    summary = summarise(rows)
    assert summary["lesion_count"] == 3 and summary["lesion_volume_mm3"] == pytest.approx(16.0)
    assert summary["lesion_count_cortical"] == 1 and summary["lesion_volume_mm3_deep_white_matter"] == pytest.approx(6.0)
    assert summary["lesion_count_mcdonald"] == 1 and summary["lesion_count_enhancing"] == 1


def test_long_axis_ignores_slice_thickness_on_2d_grid():
    """Issue 12: on a 1 x 1 x 3 mm grid a one-voxel lesion is 1 mm long, not 3 mm, and not countable."""
    from mspathobiology.lesions import long_axis_mm
    from mspathobiology.lesions.measure import slice_axis
    image = sitk.Image(12, 12, 10, sitk.sitkUInt8)
    image.SetSpacing((1.0, 1.0, 3.0))
    matrix = voxel_to_ras(image)
    assert slice_axis(matrix) == 0          # k: the 3 mm axis
    labels = np.zeros((10, 12, 12), np.int32)
    labels[2, 3, 3] = 1                     # one voxel
    labels[5:8, 8, 8] = 2                   # a column through 3 slices (9 mm of slice thickness)
    labels[8, 2, 2:5] = 3                   # three voxels in one slice: 2 mm + 1 mm
    labels[8, 6:8, 6:8] = 4                 # 2 x 2 in plane: diagonal sqrt(2) + sqrt(2)
    rows = {r["id"]: r for r in lesion_rows(labels, image)}
    assert rows[1]["long_axis_mm"] == pytest.approx(1.0) and rows[1]["mcdonald_countable"] is False
    assert rows[2]["long_axis_mm"] == pytest.approx(1.0) and rows[2]["mcdonald_countable"] is False
    assert rows[3]["long_axis_mm"] == pytest.approx(3.0) and rows[3]["mcdonald_countable"] is True
    assert rows[4]["long_axis_mm"] == pytest.approx(2 * np.sqrt(2))
    # the same column on a 1 mm isotropic (3D) grid can be reformatted: 3 mm long
    iso = sitk.Image(12, 12, 10, sitk.sitkUInt8)
    assert long_axis_mm(np.argwhere(labels == 2), voxel_to_ras(iso)) == pytest.approx(3.0)
    # forcing the slice axis gives the in-plane value on any grid
    assert long_axis_mm(np.argwhere(labels == 2), voxel_to_ras(iso), slice_axis_kji=0) == pytest.approx(1.0)


def test_long_axis_in_plane_on_oblique_2d_grid():
    image = sitk.Image(20, 20, 6, sitk.sitkUInt8)
    image.SetSpacing((0.5, 0.5, 4.0))
    angle = np.deg2rad(30)
    c, s = np.cos(angle), np.sin(angle)
    image.SetDirection((c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0))
    labels = np.zeros((6, 20, 20), np.int32)
    labels[1:4, 5, 3:9] = 1                 # 6 voxels along i in each of 3 slices
    row = lesion_rows(labels, image)[0]
    assert row["long_axis_mm"] == pytest.approx(3.0)   # 2.5 mm between centres + one 0.5 mm voxel


def test_centroid_matches_affine_on_oblique_grid(oblique):
    labels = np.zeros(sitk.GetArrayViewFromImage(oblique).shape, np.int32)
    labels[2:4, 3:6, 4:9] = 1
    kji = np.argwhere(labels == 1).mean(axis=0)
    expected = voxel_to_ras(oblique) @ np.array([kji[2], kji[1], kji[0], 1.0])
    row = lesion_rows(labels, oblique)[0]
    assert (row["centroid_r"], row["centroid_a"], row["centroid_s"]) == pytest.approx(tuple(expected[:3]))
    assert row["volume_mm3"] == pytest.approx(30 * 0.9 * 1.1 * 1.7)


# ---------------------------------------------------------------- locations and DIS

def _aseg_scene():
    anat = np.full((20, 20, 40), 2, np.uint32)    # cerebral WM
    anat[:, :, 0:3] = 3                           # cortex at i < 3
    anat[8:12, 8:12, 18:22] = 4                   # lateral ventricle
    anat[0:4, :, :] = 16                          # brain stem (k < 4)
    anat[8:12, 8:12, 30:34] = 10                  # thalamus (deep GM)
    labels = np.zeros(anat.shape, np.int32)
    labels[8:11, 8:11, 15:18] = 1      # face-adjacent to the ventricle -> periventricular
    labels[1:3, 9:11, 10:12] = 2       # inside the brain stem -> infratentorial
    labels[9:11, 9:11, 3:5] = 3        # touches cortex -> juxtacortical
    labels[14:17, 14:17, 0:2] = 4      # inside cortex -> cortical
    labels[15:17, 5:7, 10:13] = 5      # deep WM
    labels[9:11, 9:11, 26:29] = 6      # touches thalamus only: deep GM counts as WM
    labels[6:8, 15:17, 6:8] = 7        # lesion voxel mislabelled cortex in the aseg
    anat[6, 15, 6] = 3
    labels[5:8, 12:14, 22:24] = 8      # diagonal contact with ventricle (corner only)
    return anat, labels


def test_locations_on_synthetic_aseg():
    anat, labels = _aseg_scene()
    locations = classify_locations(labels, anatomy_classes(anat))
    assert locations == {1: "periventricular", 2: "infratentorial", 3: "juxtacortical", 4: "cortical",
                         5: "deep_white_matter", 6: "deep_white_matter", 7: "deep_white_matter",
                         8: "periventricular"}
    # with 6-connectivity the corner contact no longer counts
    assert classify_locations(labels, anatomy_classes(anat), connectivity=6)[8] == "deep_white_matter"


def test_location_priority_periventricular_over_juxtacortical():
    anat = np.full((10, 10, 10), 2, np.uint32)
    anat[:, :, 0:2] = 3
    anat[:, :, 6:8] = 4
    labels = np.zeros(anat.shape, np.int32)
    labels[4:6, 4:6, 2:6] = 1          # touches both cortex and ventricle
    assert classify_locations(labels, anatomy_classes(anat)) == {1: "periventricular"}


def _rows(*locations, countable=True):
    return [{"id": n, "location": loc, "mcdonald_countable": countable, "volume_mm3": 10.0}
            for n, loc in enumerate(locations, 1)]


def test_dissemination_in_space():
    assert dissemination_in_space(_rows("periventricular", "infratentorial"))["dis_2017_met"] is True
    one_area = dissemination_in_space(_rows("periventricular", "periventricular"))
    assert one_area["dis_2017_met"] is False and one_area["dis_2017_areas"] == 1
    assert one_area["dis_2017_areas_not_assessed"] == "spinal_cord"
    cortical = dissemination_in_space(_rows("cortical", "deep_white_matter", "periventricular"))
    assert cortical["dis_2017_count_cortical_juxtacortical"] == 1 and cortical["dis_2017_met"] is True
    assert dissemination_in_space(_rows("deep_white_matter", "deep_white_matter"))["dis_2017_areas"] == 0
    small = dissemination_in_space(_rows("periventricular", "infratentorial", countable=False))
    assert small["dis_2017_met"] is False
    unknown = dissemination_in_space(_rows("periventricular", "infratentorial", countable=None))
    assert unknown["dis_2017_met"] is False and unknown["dis_2017_areas"] == 0
    assert unknown["dis_lesions_countability_unknown"] == 2
    missing = [{k: v for k, v in r.items() if k != "mcdonald_countable"} for r in _rows("cortical", "infratentorial")]
    assert dissemination_in_space(missing)["dis_2024_met"] is False
    mixed = _rows("periventricular") + [dict(r, id=2) for r in _rows("infratentorial", countable=None)]
    assert dissemination_in_space(mixed)["dis_2017_areas_involved"] == "periventricular"
    cord = dissemination_in_space(_rows("periventricular"), spinal_cord_lesions=1)
    assert cord["dis_2017_met"] is True and cord["dis_2017_areas_involved"] == "periventricular,spinal_cord"
    optic = dissemination_in_space(_rows("juxtacortical"), optic_nerve_lesions=2)
    assert optic["dis_2017_met"] is False and optic["dis_2024_met"] is True


# ---------------------------------------------------------------- change, enhancement

def test_change_classification():
    shape = (30, 30, 80)
    base = np.zeros(shape, np.int32)
    follow = np.zeros(shape, np.int32)
    base[ball(shape, (15, 15, 8), 3)] = 1; follow[ball(shape, (15, 15, 8), 3)] = 1        # stable
    base[ball(shape, (15, 15, 22), 3)] = 2; follow[ball(shape, (15, 15, 22), 4)] = 2      # enlarging
    base[ball(shape, (15, 15, 38), 4)] = 3; follow[ball(shape, (15, 15, 38), 3)] = 3      # shrinking
    base[ball(shape, (15, 15, 52), 3)] = 4                                                # resolved
    follow[ball(shape, (15, 15, 68), 3)] = 5                                              # new
    rows, change_map = classify_change(base, follow, 1.0)
    by = {r["followup_id"]: r["change"] for r in rows}
    assert by == {1: "stable", 2: "enlarging", 3: "shrinking", 5: "new", None: "resolved"}
    assert change_map[15, 15, 8] == 4 and change_map[15, 15, 22] == 2 and change_map[15, 15, 38] == 3
    assert change_map[15, 15, 52] == 5 and change_map[15, 15, 68] == 1
    grown = next(r for r in rows if r["followup_id"] == 2)
    assert grown["volume_change_percent"] > 50 and grown["baseline_ids"] == "2"


def test_analyse_change_in_memory():
    from mspathobiology.lesions import ChangeResult, analyse_change
    shape = (20, 20, 50)
    base = np.zeros(shape, np.uint16)
    follow = np.zeros(shape, np.uint16)
    base[ball(shape, (10, 10, 10), 3)] = 1
    follow[ball(shape, (10, 10, 10), 3)] = 1                  # stable
    base[ball(shape, (10, 10, 25), 3)] = 2
    follow[ball(shape, (10, 10, 25), 4.2)] = 2                # enlarging (x2.7)
    follow[ball(shape, (10, 10, 40), 2.5)] = 3                # new
    images = {"baseline_lesions": sitk.GetImageFromArray(base), "followup_lesions": sitk.GetImageFromArray(follow)}
    result = analyse_change(images)
    assert isinstance(result, ChangeResult) and result.transform is None
    assert (result.summary["lesions_new"], result.summary["lesions_enlarging"], result.summary["lesions_stable"]) == (1, 1, 1)
    assert sitk.GetArrayFromImage(result.change)[10, 10, 40] == 1 and result.summary["registration"].startswith("none")
    with pytest.raises(InputError, match="followup_lesions"):
        analyse_change({"baseline_lesions": images["baseline_lesions"]})
    with pytest.raises(InputError, match="registration needs both FLAIR"):
        analyse_change(images, register=True)


def test_analyse_registers_a_t1_on_its_own_grid(case):
    """Issue 11: with a T1 on another grid, its brain mask is carried to the FLAIR by rigid registration."""
    from mspathobiology.lesions import analyse
    flair, anat, brain, truth = case
    a = sitk.GetArrayFromImage(anat)
    t1 = np.zeros(a.shape, np.float32)
    t1[np.isin(a, (2, 16))] = 100.0
    t1[a == 3] = 60.0
    t1[np.isin(a, (4, 43))] = 20.0
    t1[truth > 0] = 70.0
    t1 += np.random.default_rng(1).normal(0, 2, a.shape).astype(np.float32)
    flair = sitk.Image(flair)
    flair.SetSpacing((3.0, 3.0, 3.0))        # a head-sized brain (1.2 L) for the T1 brain extraction
    t1_image = sitk.GetImageFromArray(t1)
    t1_image.CopyInformation(flair)
    angle = np.deg2rad(6.0)
    grid = sitk.Image([48, 48, 36], sitk.sitkFloat32)
    grid.SetSpacing((3.75, 3.75, 3.75))
    grid.SetDirection((np.cos(angle), -np.sin(angle), 0.0, np.sin(angle), np.cos(angle), 0.0, 0.0, 0.0, 1.0))
    centre = np.array(flair.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in flair.GetSize()]))
    grid.SetOrigin(tuple(centre - np.array(grid.GetDirection()).reshape(3, 3) @ (3.75 * (np.array([48, 48, 36]) - 1) / 2)))
    moved = sitk.Resample(t1_image, grid, sitk.Transform(), sitk.sitkLinear, 0.0)
    result = analyse({"flair": flair, "t1": moved}, bias_correction=False, brain_extraction="threshold")
    assert "registered rigidly to the FLAIR" in result.info["brain_mask_method"]
    from mspathobiology.atrophy.brain_extraction import extract_brain
    mask = sitk.GetArrayFromImage(result.brain_mask) > 0
    own = extract_brain(moved, method="threshold").mask       # on the T1's grid; the true transform is identity
    reference = sitk.GetArrayFromImage(sitk.Resample(own, flair, sitk.Transform(), sitk.sitkNearestNeighbor, 0)) > 0
    assert 2 * np.count_nonzero(mask & reference) / (mask.sum() + reference.sum()) > 0.95
    labels = sitk.GetArrayFromImage(result.labels)
    assert result.summary["lesion_count"] >= 1 and not (labels[~mask] > 0).any()
    assert result.brain_mask.GetSize() == flair.GetSize() and result.normalised_flair.GetSize() == flair.GetSize()


def test_enhancing_lesions():
    shape = (20, 20, 40)
    pre = np.full(shape, 100.0, np.float32)
    labels = np.zeros(shape, np.int32)
    labels[5:9, 5:9, 5:9] = 1
    labels[5:9, 5:9, 25:29] = 2
    pre[labels > 0] = 70
    post = pre * 1.05
    post[5:9, 5:9, 5:9] *= 1.6
    flags = enhancing_lesions(labels, pre, post, np.ones(shape, bool))
    assert flags == {1: True, 2: False}


# ---------------------------------------------------------------- evaluation vs medpy

def test_dice_and_detection_against_medpy():
    import medpy.metric.binary as medpy
    shape = (30, 40, 60)
    truth = np.zeros(shape, bool)
    seg = np.zeros(shape, bool)
    for n, x in enumerate((8, 22, 36, 50)):
        truth |= ball(shape, (15, 20, x), 3 + n % 2)
        if n < 3:
            seg |= ball(shape, (15, 21, x + 1), 3 + n % 2)   # detected, shifted
    seg |= ball(shape, (5, 5, 30), 2.5)                    # false positive
    result = lesion_detection(seg, truth)
    assert result["dice"] == pytest.approx(medpy.dc(seg, truth))
    assert result["tpr"] == pytest.approx(medpy.obj_tpr(seg, truth, connectivity=1)) == pytest.approx(0.75)
    false_pos = result["n_segmented"] - result["n_segmented_true"]
    assert false_pos / result["n_truth"] == pytest.approx(medpy.obj_fpr(seg, truth, connectivity=1))
    assert result["ppv"] == pytest.approx(0.75) and result["f1"] == pytest.approx(0.75)


def test_detection_rule_differs_from_any_overlap():
    import medpy.metric.binary as medpy
    shape = (20, 20, 40)
    truth = ball(shape, (10, 10, 10), 4)
    seg = ball(shape, (10, 10, 17.5), 4)       # overlaps truth by a sliver (< 10 % of it)
    big = ball(shape, (10, 10, 24), 3) | ball(shape, (10, 10, 30), 8)
    truth2 = truth | ball(shape, (10, 10, 30), 1.5)   # a tiny truth lesion inside a huge segmentation
    assert medpy.obj_tpr(seg, truth, connectivity=1) == 1.0
    assert lesion_detection(seg, truth)["tpr"] == 0.0
    result = lesion_detection(big, truth2)
    assert result["truth_detected"].tolist() == [False, False]   # > 70 % of the detecting lesion is outside
    assert dice(np.zeros(shape), np.zeros(shape)) == 1.0
    assert detection_components(np.ones((1, 1, 3), bool)).max() == 0   # 3 mm^3 is not > 3 mm^3


# ---------------------------------------------------------------- segmentation and pipeline

def test_segment_synthetic_case(case):
    flair, anat, brain, truth = case
    seg = segment_flair(flair, brain, anatomy=anat, bias_correction=False)
    labels = label_lesions(seg.mask)
    scores = lesion_detection(labels, truth)
    assert scores["f1"] == 1.0 and scores["dice"] > 0.9
    assert seg.nawm == pytest.approx(100, rel=0.05)
    assert np.array_equal(seg.brain_mask, sitk.GetArrayFromImage(brain) > 0)


def _write_case(tmp_path, case):
    flair, anat, brain, truth = case
    paths = {name: tmp_path / f"{name}.nii.gz" for name in ("flair", "anatomy", "brain_mask", "truth")}
    write_image(flair, paths["flair"])
    write_image(anat, paths["anatomy"])
    write_image(brain, paths["brain_mask"])
    truth_img = sitk.GetImageFromArray(truth.astype(np.uint16))
    truth_img.CopyInformation(flair)
    write_image(truth_img, paths["truth"])
    return paths


def test_cli_writes_files_and_locations(tmp_path, case):
    paths = _write_case(tmp_path, case)
    out = tmp_path / "out"
    code = cli.main(["lesions", "--flair", str(paths["flair"]), "--anatomy", str(paths["anatomy"]),
                     "--brain-mask", str(paths["brain_mask"]), "--no-bias-correction", "--out", str(out)])
    assert code == 0
    rows = read_lesion_table(out / "lesions.tsv")
    assert [r["location"] for r in rows[:2]] == ["deep_white_matter", "periventricular"]
    assert sorted(r["location"] for r in rows[2:]) == ["infratentorial", "juxtacortical"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["lesion_count"] == 4 and summary["dis_2017_met"] is True
    assert summary["lesion_count_periventricular"] == 1
    assert summary["lesion_volume_mm3"] == pytest.approx(sum(r["volume_mm3"] for r in rows))
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "lesions.nii.gz")))
    assert lesion_detection(labels, case[3])["f1"] == 1.0
    # --labels: an expert mask, labeled without segmentation; change against itself is stable
    code = cli.main(["lesions", "--flair", str(paths["flair"]), "--labels", str(paths["truth"]),
                     "--anatomy", str(paths["anatomy"]), "--out", str(tmp_path / "expert")])
    assert code == 0
    assert len(read_lesion_table(tmp_path / "expert" / "lesions.tsv")) == 4
    code = cli.main(["lesions-change", "--baseline", str(out), "--followup", str(tmp_path / "expert"),
                     "--no-registration", "--out", str(tmp_path / "change")])
    assert code == 0
    counts = json.loads((tmp_path / "change" / "change_summary.json").read_text())
    assert counts["lesions_stable"] == 4 and counts["lesions_new"] == 0


def test_run_change_registers_moved_followup(tmp_path, case):
    flair, anat, brain, truth = case
    base_paths = _write_case(tmp_path / "base", case)
    follow_truth = truth.copy()
    follow_truth[ball(truth.shape, (20, 40, 28), 2.5)] = 5         # a new deep WM lesion
    moved_flair = sitk.GetArrayFromImage(flair)
    moved_flair[follow_truth == 5] = 190
    # the head moved by 2 voxels in the field of view and the field of view by (2, -3, 1) mm
    arrays = [np.roll(a, 2, axis=2) for a in (moved_flair, sitk.GetArrayFromImage(anat),
                                               sitk.GetArrayFromImage(brain), follow_truth)]
    moved = [sitk.GetImageFromArray(a) for a in arrays[:3]]
    follow_truth = arrays[3]
    for im in moved:
        im.SetOrigin((2.0, -3.0, 1.0))
    follow_dir = tmp_path / "follow"
    follow_paths = _write_case(follow_dir, (moved[0], moved[1], moved[2], follow_truth))
    run_case({"flair": base_paths["flair"], "lesions": base_paths["truth"], "anatomy": base_paths["anatomy"]},
             tmp_path / "b")
    run_case({"flair": follow_paths["flair"], "lesions": follow_paths["truth"],
              "anatomy": follow_paths["anatomy"]}, tmp_path / "f")
    counts = run_change(tmp_path / "b", tmp_path / "f", tmp_path / "c")
    assert counts["lesions_new"] == 1 and counts["lesions_stable"] == 4 and counts["lesions_resolved"] == 0
    assert (tmp_path / "c" / "followup_to_baseline.tfm").exists()
    with pytest.raises(InputError, match="different grids"):
        run_change(tmp_path / "b", tmp_path / "f", tmp_path / "c2", register=False)


# ---------------------------------------------------------------- bad inputs

def test_flair_and_mask_on_different_grids(tmp_path, case):
    paths = _write_case(tmp_path, case)
    shifted = sitk.ReadImage(str(paths["brain_mask"]))
    shifted.SetSpacing((1.0, 1.0, 1.2))
    write_image(shifted, tmp_path / "shifted.nii.gz")
    with pytest.raises(GeometryMismatchError, match="brain mask.*different voxel grids"):
        run_case({"flair": paths["flair"], "brain_mask": tmp_path / "shifted.nii.gz"}, tmp_path / "out")
    code = cli.main(["lesions", "--flair", str(paths["flair"]), "--labels", str(tmp_path / "shifted.nii.gz"),
                     "--out", str(tmp_path / "out")])
    assert code == 2 and not (tmp_path / "out" / "lesions.tsv").exists()


def test_empty_brain_mask(tmp_path, case, capsys):
    paths = _write_case(tmp_path, case)
    empty = sitk.Image(sitk.ReadImage(str(paths["brain_mask"])))
    empty = empty * 0
    write_image(empty, tmp_path / "empty.nii.gz")
    with pytest.raises(InputError, match="brain mask.*is empty"):
        run_case({"flair": paths["flair"], "brain_mask": tmp_path / "empty.nii.gz"}, tmp_path / "out")
    assert cli.main(["lesions", "--flair", str(paths["flair"]), "--brain-mask", str(tmp_path / "empty.nii.gz"),
                     "--out", str(tmp_path / "out")]) == 2
    assert "is empty" in capsys.readouterr().err


def test_probability_map_given_as_labels(tmp_path, case, capsys):
    paths = _write_case(tmp_path, case)
    prob = sitk.GetImageFromArray((case[3] > 0).astype(np.float32) * 0.8 + 0.05)
    prob.CopyInformation(case[0])
    write_image(prob, tmp_path / "prob.nii.gz")
    with pytest.raises(InputError, match="probability map"):
        run_case({"flair": paths["flair"], "lesions": tmp_path / "prob.nii.gz"}, tmp_path / "out")
    assert cli.main(["lesions", "--flair", str(paths["flair"]), "--labels", str(tmp_path / "prob.nii.gz"),
                     "--out", str(tmp_path / "out")]) == 2
    assert "probability map" in capsys.readouterr().err


def test_t1_post_without_t1_is_refused(tmp_path, case):
    paths = _write_case(tmp_path, case)
    with pytest.raises(InputError, match="pre-contrast T1"):
        run_case({"flair": paths["flair"], "t1post": paths["flair"]}, tmp_path / "out")


def test_own_anatomy_estimate_without_labelmap(case, tmp_path):
    from mspathobiology.lesions import estimate_anatomy_classes
    flair, anat, brain, truth = case
    seg = segment_flair(flair, None, bias_correction=False)
    assert dice(seg.brain_mask, sitk.GetArrayFromImage(brain)) > 0.95
    estimate = estimate_anatomy_classes(seg.brain_mask, seg.normalised_flair, flair, truth)
    reference = anatomy_classes(sitk.GetArrayFromImage(anat))
    assert dice(estimate["ventricle"], reference["ventricle"]) > 0.9
    assert dice(estimate["cortex"], reference["cortex"]) > 0.8
    assert classify_locations(truth, estimate) == {1: "deep_white_matter", 2: "periventricular",
                                                   3: "juxtacortical", 4: "infratentorial"}
    paths = _write_case(tmp_path, case)
    summary = run_case({"flair": paths["flair"]}, tmp_path / "out", bias_correction=False)
    assert summary["lesion_count"] == 4
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["location_source"] == "estimate" and written["brain_mask_estimated"] is True
    assert written["brain_mask_method"].startswith("FLAIR Otsu")
    assert (tmp_path / "out" / "brain_mask.nii.gz").exists()   # the mask made here, to inspect or correct


def test_analyse_case_in_memory_reports_progress(case):
    from mspathobiology.lesions import analyse_case
    flair, anat, brain, truth = case
    steps = []
    result = analyse_case({"flair": flair, "anatomy": anat, "brain_mask": brain}, bias_correction=False,
                          progress=lambda fraction, text: steps.append((fraction, text)))
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] >= 0.95 and len(steps) >= 5
    assert result.summary["lesion_count"] == len(result.rows) == 4
    assert result.labels.GetSize() == flair.GetSize() and result.info["location_source"] == "anatomy"
    with pytest.raises(InputError, match="unknown image keys"):
        run_case({"flair": "x.nii.gz", "dwi": "y.nii.gz"}, "out")


def test_change_tolerates_one_voxel_shift_and_uses_baseline_flair():
    shape = (20, 20, 40)
    base = np.zeros(shape, np.int32)
    follow = np.zeros(shape, np.int32)
    base[10, 10, 5:9] = 1
    follow[11, 11, 5:9] = 1                     # same thin lesion, moved by one voxel diagonally
    follow[ball(shape, (10, 10, 28), 2.5)] = 2  # no baseline label ...
    flair = np.ones(shape, np.float32)
    assert {r["followup_id"]: r["change"] for r in classify_change(base, follow, 1.0)[0]} == {1: "stable", 2: "new"}
    assert classify_change(base, follow, 1.0, tolerance_voxels=0)[0][0]["change"] == "new"
    flair[ball(shape, (10, 10, 28), 2.5)] = 1.8  # ... but already hyperintense at baseline: missed, not new
    rows, _ = classify_change(base, follow, 1.0, baseline_normalised_flair=flair)
    second = next(r for r in rows if r["followup_id"] == 2)
    assert second["change"] == "stable" and second["baseline_ids"] == "flair"


def test_label_and_measure_with_and_without_kept_ids():
    from mspathobiology.lesions import label_and_measure
    anat, labels = _aseg_scene()
    reference = sitk.GetImageFromArray(anat)
    edited = np.where(labels > 0, labels + 10, 0)            # ids as an editor left them
    fresh, rows = label_and_measure(edited > 0, reference, classes=anatomy_classes(anat))
    assert sorted(np.unique(fresh))[1:] == list(range(1, 9)) and len(rows) == 8
    assert [r["voxels"] for r in rows] == sorted((r["voxels"] for r in rows), reverse=True)
    kept, rows = label_and_measure(edited, reference, classes=anatomy_classes(anat), keep_ids=True)
    assert np.array_equal(kept, edited)
    assert {r["id"]: r["location"] for r in rows}[11] == "periventricular"


def test_long_axis_hull_path_equals_brute_force():
    from scipy.spatial.distance import cdist
    from mspathobiology.lesions import long_axis_mm
    shape = (20, 20, 24)
    labels = ball(shape, (10, 10, 12), 7.3).astype(np.int32)
    labels[10, 10, 1:4] = 1                            # a tail makes the longest axis unique
    image = sitk.Image(24, 20, 20, sitk.sitkUInt8)
    image.SetSpacing((1.0, 1.0, 1.0))
    row = lesion_rows(labels, image)[0]
    kji = np.argwhere(labels == 1).astype(float)
    d = cdist(kji, kji)
    a, b = np.unravel_index(np.argmax(d), d.shape)
    u = (kji[b] - kji[a]) / d[a, b]
    assert row["long_axis_mm"] == pytest.approx(d[a, b] + np.abs(u).sum())
    assert long_axis_mm(np.argwhere(labels == 1), voxel_to_ras(image)) == pytest.approx(row["long_axis_mm"])
