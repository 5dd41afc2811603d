"""SEL through the MRML bridge on a real vtkMRMLScene (slicer-core): visit nodes and a lesion
segmentation in, log-Jacobian volume nodes, the SEL table node and a volume-per-visit plot out.

One small (2 mm) longitudinal phantom subject with three visits is analysed once per module; its
truth (which lesions were drawn expanding, voxel counts per visit) comes from the phantom's design.
"""

import math

import numpy as np
import pytest
import SimpleITK as sitk

import slicer  # the slicer-core wheel

import mspathobiology_mrml as bridge
from mspathobiology.errors import InputError
from mspathobiology.lesion_table import COLUMNS
from mspathobiology.phantom.longitudinal import generate_longitudinal_subject
from mspathobiology_mrml import sel as sel_bridge
from mspathobiology_mrml.defaults import LOGJAC_COLOR_NODE_ID


@pytest.fixture(scope="module")
def phantom():
    return generate_longitudinal_subject(seed=0, small=True, visits=3)


@pytest.fixture(scope="module")
def analysed(phantom):
    scene = bridge.new_scene()
    visits = [bridge.image_to_volume(scene, image, f"T1 visit {n + 1}") for n, image in enumerate(phantom.t1)]
    sh = bridge.hierarchy.subject_hierarchy(scene)  # as Slicer's application puts loaded volumes in the hierarchy
    study = sh.CreateStudyItem(sh.CreateSubjectItem(sh.GetSceneItemID(), "sub-01"), "ses-01")
    sh.CreateItem(study, visits[0])
    lesions = bridge.label_image_to_segmentation(scene, phantom.baseline_lesions, name="Baseline lesions",
                                                 reference_volume_node=visits[0])
    mask = bridge.image_to_volume(scene, phantom.subject.sessions[0].brain_mask, "brain mask", labelmap=True)
    nodes = sel_bridge.analyse_nodes(scene, visits, lesions, brain_mask_node=mask, name="SEL",
                                     folder_name="MS Slowly Expanding Lesions")
    yield scene, visits, lesions, mask, nodes
    bridge.release_scene(scene)


def test_candidates_are_the_phantoms_expanding_lesions(phantom, analysed):
    *_, nodes = analysed
    truth = {r["id"]: r for r in phantom.truth}
    rows = bridge.table_to_rows(nodes.table)
    assert [r["id"] for r in rows] == sorted(truth)  # one row per baseline lesion: ids kept through the segmentation
    assert set(COLUMNS) <= set(rows[0]) and {"sel_candidate", "sel_score", "logjac_visit-03"} <= set(rows[0])
    candidates = {r["id"] for r in rows if r["sel_candidate"]}
    expanding = {i for i, t in truth.items() if t["sel"] and t["evaluable"]}
    stable = {i for i, t in truth.items() if t["evolution"] == "stable"}
    assert candidates and candidates <= expanding and not candidates & stable, (candidates, expanding)
    for row, original in zip(rows, nodes.result.rows):  # the table holds the result, typed and exact
        assert row["sel_candidate"] == original["sel_candidate"] and row["sel_score"] == original["sel_score"]


def test_logjac_maps_are_volume_nodes_on_the_baseline_grid(phantom, analysed):
    scene, visits, *_, nodes = analysed
    assert [n.GetName() for n in nodes.logjac] == ["SEL logjac_visit-02", "SEL logjac_visit-03"]
    for node, key in zip(nodes.logjac, ("logjac_visit-02", "logjac_visit-03")):
        image = bridge.volume_to_image(node)
        expected = nodes.result.images[key]
        np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(expected))
        np.testing.assert_allclose(image.GetOrigin(), phantom.t1[0].GetOrigin(), atol=1e-9)
        np.testing.assert_allclose(image.GetDirection(), phantom.t1[0].GetDirection(), atol=1e-12)
        display = node.GetDisplayNode()
        assert display.GetColorNodeID() == LOGJAC_COLOR_NODE_ID and scene.GetNodeByID(LOGJAC_COLOR_NODE_ID)
        assert not display.GetAutoWindowLevel() and display.GetLevel() == 0.0
        assert 0.1 < display.GetWindow() / 2 < 1.0  # symmetric: +-log(1.25) shows a definite SEL mid-scale
    sh = bridge.hierarchy.subject_hierarchy(scene)
    folder = sh.GetItemParent(sh.GetItemByDataNode(nodes.logjac[0]))
    assert sh.GetItemName(folder) == "MS Slowly Expanding Lesions"
    assert sh.GetItemName(sh.GetItemParent(folder)) == "ses-01"  # under the baseline's study
    for node in (nodes.table, nodes.volumes, nodes.chart, nodes.logjac[1]):
        assert sh.GetItemParent(sh.GetItemByDataNode(node)) == folder


def test_volume_per_visit_table_and_chart(phantom, analysed):
    *_, nodes = analysed
    truth = {r["id"]: r for r in phantom.truth}
    rows = bridge.table_to_rows(nodes.volumes)
    assert [r["visit"] for r in rows] == [1, 2, 3] and [r["time"] for r in rows] == [0.0, 1.0, 2.0]
    assert rows[0]["brain_volume_change_percent"] == 0.0 and rows[2]["brain_volume_change_percent"] < 0  # atrophy
    grown = [i for i, t in truth.items() if t["sel"] and t["voxels"] >= 50]
    assert grown
    for lesion in grown:
        curve = [r[f"lesion_{lesion}"] for r in rows]
        assert curve[0] == 0.0 and curve[2] > curve[1] > 0, (lesion, curve)
        counted = 100.0 * (truth[lesion]["voxels_per_visit"][2] / truth[lesion]["voxels"] - 1.0)
        assert curve[2] == pytest.approx(counted, abs=0.5 * counted), (lesion, curve, counted)
    for lesion in (i for i, t in truth.items() if t["evolution"] == "shrinking" and t["voxels"] >= 50):
        assert rows[2][f"lesion_{lesion}"] < 0, lesion
    # the chart plots the first lesion, then any lesion asked for, reading the table's columns
    assert nodes.chart.GetNumberOfPlotSeriesNodes() == 1
    series = sel_bridge.show_lesion_in_chart(nodes, grown[0])
    assert nodes.chart.GetNumberOfPlotSeriesNodes() == 1 and nodes.chart.GetNthPlotSeriesNode(0) is series
    assert series.GetTableNode() is nodes.volumes
    assert (series.GetXColumnName(), series.GetYColumnName()) == ("time", f"lesion_{grown[0]}")
    assert series.GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter
    assert str(grown[0]) in nodes.chart.GetTitle()
    with pytest.raises(InputError, match="not a lesion"):
        sel_bridge.show_lesion_in_chart(nodes, 999)


def test_second_run_updates_the_same_nodes(analysed):
    scene, *_, nodes = analysed
    count = scene.GetNumberOfNodes()
    again = sel_bridge.result_to_nodes(scene, nodes.result, name="SEL", table_node=nodes.table)
    assert scene.GetNumberOfNodes() == count
    assert again.volumes is nodes.volumes and again.chart is nodes.chart
    assert [n.GetID() for n in again.logjac] == [n.GetID() for n in nodes.logjac]
    found = sel_bridge.output_nodes(nodes.table)
    assert found.volumes is nodes.volumes and [n.GetID() for n in found.logjac] == [n.GetID() for n in nodes.logjac]


def test_labelmap_lesions_on_another_grid_are_put_on_the_baseline_grid(phantom, analysed):
    scene, visits, *_ = analysed
    labels = phantom.baseline_lesions
    coarse = sitk.Resample(labels, [s // 2 for s in labels.GetSize()], sitk.Transform(), sitk.sitkNearestNeighbor,
                           labels.GetOrigin(), [2 * s for s in labels.GetSpacing()], labels.GetDirection(), 0,
                           labels.GetPixelID())
    node = bridge.image_to_volume(scene, coarse, "coarse lesions", labelmap=True)
    images = sel_bridge.images_from_nodes(visits, node)
    assert images["lesions"].GetSize() == phantom.t1[0].GetSize()
    assert set(np.unique(sitk.GetArrayFromImage(images["lesions"]))) <= set(np.unique(sitk.GetArrayFromImage(labels)))
    scene.RemoveNode(node)


def test_bad_inputs_give_clear_errors(analysed):
    scene, visits, lesions, *_ = analysed
    with pytest.raises(InputError, match="baseline lesions"):
        sel_bridge.images_from_nodes(visits, None)
    with pytest.raises(InputError, match="no visit"):
        sel_bridge.images_from_nodes([None], lesions)
    with pytest.raises(InputError, match="needs >= 3 visits"):
        sel_bridge.analyse_nodes(scene, visits[:2], lesions)
    assert math.isfinite(sel_bridge.volume_change_rows(analysed[-1].result)[1]["time"])

