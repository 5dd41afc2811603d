"""Central vein sign on synthetic veins; per-subject rules."""

import numpy as np
import pytest

from mspathobiology.rims.cvs import central_vein_sign, central_vein_sign_images, cvs_subject_summary, vesselness
from mspathobiology.rims.synthetic import to_image, vein_lesions

KINDS = ["central", "eccentric", "none", "multiple", "small", "central"]
EXPECTED = ["CVS+", "CVS-", "CVS-", "excluded", "excluded", "CVS+"]


@pytest.fixture(scope="module")
def veins():
    return vein_lesions(KINDS, seed=2)


def test_cvs_calls_on_synthetic_veins(veins):
    labels, mag, spacing, kinds = veins
    rows = central_vein_sign_images(to_image(labels, spacing), to_image(mag, spacing))
    assert [r["cvs"] for r in rows] == EXPECTED
    by_kind = dict(zip(kinds, rows))
    assert by_kind["multiple"]["cvs_exclusion"] == "multiple_veins" and by_kind["multiple"]["cvs_veins"] == 2
    assert by_kind["small"]["cvs_exclusion"] == "small"
    assert rows[0]["cvs_eccentricity"] < 0.2 and by_kind["eccentric"]["cvs_eccentricity"] > 0.6
    assert rows[0]["cvs_vein_length_mm"] > 5.0  # vein through a 7 mm lesion
    assert by_kind["none"]["cvs_veins"] == 0


def test_vesselness_is_high_on_the_vein_only(veins):
    labels, mag, spacing, _ = veins
    v = __import__("SimpleITK").GetArrayFromImage(vesselness(to_image(mag, spacing)))
    assert v[labels == 1].max() > 0.5  # central vein
    assert v[labels == 3].max() < 0.15  # lesion without vein


def test_confluent_lesions_are_excluded():
    labels = np.zeros((12, 12, 24), np.uint32)
    labels[3:9, 3:9, 3:12] = 1
    labels[3:9, 3:9, 12:20] = 2  # touches lesion 1
    labels[3:9, 3:9, 22:24] = 3  # separate (but small in one axis)
    vessel = np.zeros(labels.shape, np.float32)
    rows = central_vein_sign(labels, vessel, (1.0, 1.0, 1.0))
    assert [r["cvs_exclusion"] for r in rows] == ["confluent", "confluent", "small"]


def test_confluent_lesions_found_after_automatic_labeling():
    # two overlapping ellipsoids merge into ONE 26-connected label: their shape has two lobes
    from mspathobiology.lesions.labeling import label_lesions
    k, j, i = np.indices((20, 20, 50)).astype(float)
    pair = (((k - 10) / 5) ** 2 + ((j - 10) / 5) ** 2 + ((i - 12) / 7) ** 2 <= 1) | \
           (((k - 10) / 4.5) ** 2 + ((j - 10) / 4.5) ** 2 + ((i - 24) / 6) ** 2 <= 1)
    single = ((k - 10) / 5) ** 2 + ((j - 10) / 5) ** 2 + ((i - 41) / 6) ** 2 <= 1
    labels = label_lesions(pair | single)
    assert len(np.unique(labels[labels > 0])) == 2
    rows = {r["id"]: r for r in central_vein_sign(labels, np.zeros(labels.shape, np.float32), (1.0, 1.0, 1.0))}
    pair_id, single_id = int(labels[10, 10, 12]), int(labels[10, 10, 41])
    assert rows[pair_id]["cvs"] == "excluded" and rows[pair_id]["cvs_exclusion"] == "confluent"
    assert "2 lobes" in rows[pair_id]["cvs_exclusion_detail"]
    assert rows[single_id]["cvs"] == "CVS-" and rows[single_id]["cvs_exclusion_detail"] is None


def test_lobe_necks_measure_the_waist():
    # two 5 mm spheres joined by a 2 mm-radius cylinder: one neck, smaller lobe radius 5, neck 2
    from mspathobiology.rims.cvs import lobe_necks
    k, j, i = np.indices((20, 20, 40)).astype(float)
    ball = lambda c, r: (k - 10) ** 2 + (j - 10) ** 2 + (i - c) ** 2 <= r * r  # noqa: E731
    dumbbell = ball(8, 5) | ball(24, 5) | (((k - 10) ** 2 + (j - 10) ** 2 <= 4) & (i > 8) & (i < 24))
    (radius, neck), = lobe_necks(dumbbell, (1.0, 1.0, 1.0))
    assert radius == pytest.approx(5.0, abs=0.5) and neck == pytest.approx(2.0, abs=0.5)
    assert lobe_necks(ball(20, 8), (1.0, 1.0, 1.0)) == []


def test_small_lobe_behind_a_narrow_neck_is_confluent():
    # a 1.8 mm bump on a 6 mm lesion: too small to stand h = 1 mm above its neck, so only the neck
    # rule finds it; a neck of half its radius is a waist (confluent), 0.83 of it is not
    from mspathobiology.lesions.labeling import split_lesion
    from mspathobiology.rims.cvs import lesion_lobes
    h = 0.5
    k, j, i = np.indices((36, 36, 60)).astype(float) * h
    for neck, confluent in ((0.9, True), (1.5, False)):
        d = np.sqrt(36 - neck ** 2) + np.sqrt(1.8 ** 2 - neck ** 2)  # centre distance for that neck radius
        shape = (((k - 9) ** 2 + (j - 9) ** 2 + (i - 10) ** 2) <= 36) | \
                (((k - 9) ** 2 + (j - 9) ** 2 + (i - 10 - d) ** 2) <= 1.8 ** 2)
        labels = shape.astype(np.int64)
        assert len(split_lesion(labels, 1, spacing_kji=(h, h, h))[1]) == 1
        lobes, _, _, ratio = lesion_lobes(labels, (h, h, h), [1])
        assert bool(lobes[0] > 1) is confluent
        row, = central_vein_sign(labels, np.zeros(labels.shape, np.float32), (h, h, h))
        assert (row["cvs_exclusion"] == "confluent") is confluent
        if confluent:
            assert "narrowest neck" in row["cvs_exclusion_detail"] and ratio[0] < 0.7


def test_confluence_seen_only_across_the_join_is_found_in_the_perpendicular_plane():
    # a plate (10 x 3 x 10 mm) joined over a broad face to a 12 mm sphere: thin in j, so axial slices
    # and the 3D distance show one lobe (neck 0.95 x the plate's radius); coronal slices show two
    from mspathobiology.rims.cvs import lesion_lobes
    h = 0.5
    k, j, i = np.indices((36, 36, 64)).astype(float) * h
    host = ((k - 9) ** 2 + (j - 9) ** 2 + (i - 8) ** 2) <= 36
    plate = ((k - 9) / 5) ** 2 + ((j - 9) / 1.5) ** 2 + ((i - 17) / 5) ** 2 <= 1
    labels = (host | plate).astype(np.int64)
    axial, _, _, ratio = lesion_lobes(labels, (h, h, h), [1], axes=(0,))
    assert axial[0] == 1 and ratio[0] > 0.9
    lobes, runs, planes, _ = lesion_lobes(labels, (h, h, h), [1])
    assert lobes[0] == 2 and planes[0] == "coronal" and runs[0] >= 2
    row, = central_vein_sign(labels, np.zeros(labels.shape, np.float32), (h, h, h))
    assert row["cvs_exclusion"] == "confluent" and "coronal slices" in row["cvs_exclusion_detail"]
    # the sphere alone, or the plate alone, is one lobe in every plane
    for shape in (host, plate):
        assert lesion_lobes(shape.astype(np.int64), (h, h, h), [1])[0][0] == 1
    # on a 2D grid (1.5 mm slices, 0.5 mm in plane) only the acquired (axial) slices are read
    thick = labels[::3]
    assert lesion_lobes(thick, (3 * h, h, h), [1])[2][0] in (None, "axial")


def test_a_staircase_across_thick_slices_is_not_read_as_lobes():
    """An ellipsoid on a 2D grid (1 x 1 x 3 mm) whose sagittal reformat is a staircase with two
    'lobes' on 2 consecutive slices: only the acquired (axial) slices are read on a 2D grid."""
    from scipy.spatial.transform import Rotation

    import mspathobiology.lesions.measure as measure
    from mspathobiology.rims.cvs import lesion_lobes
    spacing = (3.0, 1.0, 1.0)
    axes, extent = np.array([7.786, 8.981, 4.779]), 8.981 + 4
    rotation = Rotation.random(random_state=711486824).as_matrix()
    grid = np.stack(np.indices([int(2 * extent / s) + 1 for s in spacing]), -1) * spacing - extent
    labels = (((((grid + [-0.329, -0.108, 0.253]) @ rotation) / axes) ** 2).sum(-1) <= 1).astype(np.int64)
    assert lesion_lobes(labels, spacing, [1])[0][0] == 1
    read_as_3d = measure.slice_axis
    try:
        measure.slice_axis = lambda matrix: None  # the grid read as 3D: the reformat's staircase splits
        lobes, _, planes, _ = lesion_lobes(labels, spacing, [1])
    finally:
        measure.slice_axis = read_as_3d
    assert lobes[0] == 2 and planes[0] == "sagittal"


def test_subject_rules():
    rows = [{"cvs": c} for c in ["CVS+"] * 2 + ["CVS-"] * 3 + ["excluded"] * 4]
    s = cvs_subject_summary(rows)
    assert (s["cvs_positive"], s["cvs_eligible"], s["cvs_excluded"]) == (2, 5, 4)
    assert s["cvs_fraction"] == pytest.approx(0.4) and s["cvs_rule40"] is True
    assert s["cvs_select3"] is False and s["cvs_select6"] is False
    s = cvs_subject_summary([{"cvs": "CVS+"}] * 6 + [{"cvs": "CVS-"}] * 10)
    assert s["cvs_rule40"] is False and s["cvs_select3"] is True and s["cvs_select6"] is True
    s = cvs_subject_summary([{"label": "CVS+"}] * 3 + [{"label": "CVS-"}] * 5)  # rater rows
    assert s["cvs_rule40"] is False and s["cvs_select3"] is True and s["cvs_select6"] is False
    s = cvs_subject_summary([{"cvs": "excluded"}])
    assert np.isnan(s["cvs_fraction"]) and s["cvs_rule40"] is False
