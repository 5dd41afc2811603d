"""Slowly expanding lesions between MRML nodes and :func:`mspathobiology.sel.analyse`.

In: visit volume nodes (T1, baseline first, any grids) and the baseline lesions (segmentation or
labelmap node, put on the baseline grid). Out, all in an explicit scene:

- one scalar volume node per follow-up with the corrected log-Jacobian (``logjac_visit-NN``,
  baseline grid; > 0 = expansion relative to the brain), shown with a diverging colour table
  centred on 0 (:data:`~mspathobiology_mrml.defaults.LOGJAC_COLOR_NODE_ID`);
- the SEL table node: the lesion table schema plus the SEL columns, one row per baseline lesion;
- the volume-per-visit table node (:func:`volume_change_rows`: one row per visit, ``time`` and one
  ``lesion_<id>`` column per lesion) and a plot chart node showing one lesion's curve
  (:func:`show_lesion_in_chart`).

The SEL table node references the other outputs (:func:`output_nodes`), so a second run updates
the same nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import slicer

from mspathobiology.errors import InputError
from mspathobiology.geometry import resample_label, same_geometry
from mspathobiology.lesion_table import COLUMNS

from .defaults import (LOGJAC_COLOR_NODE_ID, LOGJAC_DISPLAY_DEFINITE_MULTIPLE, SEL_CHART_ROLE, SEL_LOGJAC_ROLE,
                       SEL_SERIES_ROLE, SEL_VOLUMES_ROLE)
from .hierarchy import place_outputs
from .segmentations import segmentation_to_label_image
from .table_nodes import rows_to_table
from .volumes import image_to_volume, labelmap_node_to_image, volume_to_image

#: Name of the time column of the volume-per-visit table (the unit of the analysis' ``times``).
TIME_COLUMN = "time"


@dataclass
class SelNodes:
    """The nodes holding one SEL result."""

    table: object                                  #: vtkMRMLTableNode, lesion table + SEL columns
    logjac: list = field(default_factory=list)     #: vtkMRMLScalarVolumeNode per follow-up (visit 2, 3, ...)
    volumes: object = None                         #: vtkMRMLTableNode, volume change per visit
    chart: object = None                           #: vtkMRMLPlotChartNode
    result: object = None                          #: the SelResult (None when read back from a scene)


def lesion_column(lesion_id: int) -> str:
    """Column of a lesion in the volume-per-visit table."""
    return f"lesion_{int(lesion_id)}"


def _label_image(node, reference_image, reference_node, what: str):
    """A label image of ``node`` (segmentation, labelmap or scalar volume) on the reference grid."""
    if node is None:
        return None
    if node.IsA("vtkMRMLSegmentationNode"):
        image, _ = segmentation_to_label_image(node, reference_volume_node=reference_node)
    elif node.IsA("vtkMRMLVolumeNode"):
        image = labelmap_node_to_image(node)
    else:
        raise InputError(what, f"{node.GetName()!r} is a {node.GetClassName()}, not a segmentation or volume")
    return image if same_geometry(image, reference_image) else resample_label(image, reference_image)


def images_from_nodes(visit_nodes, lesions_node, brain_mask_node=None, flair_nodes=None) -> dict:
    """The images dict of :func:`mspathobiology.sel.analyse`: ``t1`` (one image per visit),
    ``lesions`` and optional ``brain_mask`` on the baseline (first visit) grid, optional ``flair``
    (one per visit, each on its visit's grid)."""
    visit_nodes = [n for n in (visit_nodes or []) if n is not None]
    if not visit_nodes:
        raise InputError("visits", "no visit volume selected")
    if lesions_node is None:
        raise InputError("lesions", "select the baseline lesions (segmentation or labelmap)")
    t1 = [volume_to_image(node) for node in visit_nodes]
    images = {"t1": t1, "lesions": _label_image(lesions_node, t1[0], visit_nodes[0], "lesions")}
    if brain_mask_node is not None:
        images["brain_mask"] = _label_image(brain_mask_node, t1[0], visit_nodes[0], "brain mask")
    if flair_nodes:
        images["flair"] = [volume_to_image(node) for node in flair_nodes]
    return images


def volume_change_rows(result) -> list[dict]:
    """One row per visit: ``visit`` (1 = baseline), ``time``, ``brain_volume_change_percent`` (global
    change, before correction) and ``lesion_<id>``: the lesion's volume change against baseline in
    percent relative to the brain, 100 (exp(mean corrected log-Jacobian) - 1); 0 at baseline."""
    times = result.summary["times"]
    brain = [0.0] + [float(v) for v in result.summary["global_volume_change_percent"]]
    rows = []
    for n, time in enumerate(times, start=1):
        row = {"visit": n, TIME_COLUMN: float(time), "brain_volume_change_percent": brain[n - 1]}
        for lesion in result.rows:
            value = 0.0 if n == 1 else lesion.get(f"logjac_visit-{n:02d}")
            row[lesion_column(lesion["id"])] = None if value is None else 100.0 * (math.exp(float(value)) - 1.0)
        rows.append(row)
    return rows


def show_logjac(volume_node) -> None:
    """Diverging colour table centred on 0 (blue contraction, red-yellow expansion) on a log-Jacobian node."""
    from mspathobiology.defaults.sel import SEL_DEFINITE_EXPANSION_LOGJAC

    if volume_node.GetDisplayNode() is None:
        volume_node.CreateDefaultDisplayNodes()
    display = volume_node.GetDisplayNode()
    if volume_node.GetScene() is not None and volume_node.GetScene().GetNodeByID(LOGJAC_COLOR_NODE_ID) is not None:
        display.SetAndObserveColorNodeID(LOGJAC_COLOR_NODE_ID)
    display.SetAutoWindowLevel(False)
    display.SetWindowLevel(2.0 * LOGJAC_DISPLAY_DEFINITE_MULTIPLE * SEL_DEFINITE_EXPANSION_LOGJAC, 0.0)


def output_nodes(table_node) -> SelNodes:
    """The nodes of a SEL result, found from its table node's references."""
    logjac = [table_node.GetNthNodeReference(SEL_LOGJAC_ROLE, n)
              for n in range(table_node.GetNumberOfNodeReferences(SEL_LOGJAC_ROLE))]
    return SelNodes(table=table_node, logjac=[n for n in logjac if n is not None],
                    volumes=table_node.GetNodeReference(SEL_VOLUMES_ROLE),
                    chart=table_node.GetNodeReference(SEL_CHART_ROLE))


def result_to_nodes(scene, result, name: str = "SEL", table_node=None, input_node=None,
                    folder_name: str | None = None) -> SelNodes:
    """Put a :class:`mspathobiology.sel.SelResult` into nodes of ``scene``.

    ``table_node``: the SEL table node of an earlier run, whose referenced nodes are updated
    (else new nodes named from ``name``). ``input_node`` (e.g. the baseline volume): the outputs
    go under its study in the Subject Hierarchy, in ``folder_name``. The chart shows the first
    lesion in the table (:func:`show_lesion_in_chart` changes it).
    """
    if scene is None:
        raise InputError(name, "no scene given for the SEL outputs")
    if table_node is None:
        table_node = scene.AddNewNodeByClass("vtkMRMLTableNode", f"{name} lesions")
    columns = list(COLUMNS) + list(dict.fromkeys(k for row in result.rows for k in row if k not in COLUMNS))
    rows_to_table(scene, result.rows, table_node.GetName(), columns=columns, node=table_node)
    old = output_nodes(table_node)

    logjac = []
    for n, (key, image) in enumerate(sorted(result.images.items())):
        node = old.logjac[n] if n < len(old.logjac) else None
        node = image_to_volume(scene, image, f"{name} {key}", node=node)
        node.SetName(f"{name} {key}")
        show_logjac(node)
        logjac.append(node)
    for stale in old.logjac[len(logjac):]:
        scene.RemoveNode(stale)
    table_node.RemoveNodeReferenceIDs(SEL_LOGJAC_ROLE)
    for node in logjac:
        table_node.AddNodeReferenceID(SEL_LOGJAC_ROLE, node.GetID())

    volumes = old.volumes or scene.AddNewNodeByClass("vtkMRMLTableNode", f"{name} volume per visit")
    rows_to_table(scene, volume_change_rows(result), volumes.GetName(), node=volumes)
    table_node.SetNodeReferenceID(SEL_VOLUMES_ROLE, volumes.GetID())
    chart = old.chart or scene.AddNewNodeByClass("vtkMRMLPlotChartNode", f"{name} volume chart")
    table_node.SetNodeReferenceID(SEL_CHART_ROLE, chart.GetID())
    nodes = SelNodes(table=table_node, logjac=logjac, volumes=volumes, chart=chart, result=result)
    if result.rows:
        show_lesion_in_chart(nodes, result.rows[0]["id"], time_unit=_time_unit(result))
    place_outputs(input_node, [table_node, volumes, chart, *logjac, *_series_nodes(table_node)], folder_name)
    return nodes


def _time_unit(result) -> str:
    times = result.summary.get("times") or []
    return "visit" if list(times) == [float(v) for v in range(len(times))] else "time"


def _series_nodes(table_node) -> list:
    return [table_node.GetNthNodeReference(SEL_SERIES_ROLE, n)
            for n in range(table_node.GetNumberOfNodeReferences(SEL_SERIES_ROLE))]


def show_lesion_in_chart(nodes: SelNodes, lesion_id: int, time_unit: str = "time"):
    """Make the chart show ``lesion_id``'s volume change per visit (one scatter-line series reading
    the volume-per-visit table). Returns the plot series node."""
    column = lesion_column(lesion_id)
    volumes, chart = nodes.volumes, nodes.chart
    if volumes is None or chart is None:
        raise InputError("SEL result", "has no volume-per-visit table or chart (run the analysis first)")
    if volumes.GetTable().GetColumnByName(column) is None:
        raise InputError("lesion", f"{lesion_id} is not a lesion of this SEL result")
    scene = chart.GetScene()
    series = next((s for s in _series_nodes(nodes.table) if s is not None), None)
    if series is None:
        series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", f"{chart.GetName()} series")
        nodes.table.AddNodeReferenceID(SEL_SERIES_ROLE, series.GetID())
    series.SetName(f"Lesion {int(lesion_id)}")
    series.SetAndObserveTableNodeID(volumes.GetID())
    series.SetXColumnName(TIME_COLUMN)
    series.SetYColumnName(column)
    series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
    series.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleCircle)
    chart.RemoveAllPlotSeriesNodeIDs()
    chart.AddAndObservePlotSeriesNodeID(series.GetID())
    chart.SetTitle(f"Lesion {int(lesion_id)}: volume change")
    chart.SetXAxisTitle("visit (baseline = 0)" if time_unit == "visit" else "time")
    chart.SetYAxisTitle("volume change vs baseline (%), relative to the brain")
    return series


def analyse_nodes(scene, visit_nodes, lesions_node, brain_mask_node=None, flair_nodes=None, times=None,
                  name: str = "SEL", table_node=None, folder_name: str | None = None, progress=None) -> SelNodes:
    """Images from the nodes (:func:`images_from_nodes`), :func:`mspathobiology.sel.analyse`, and the
    result into nodes (:func:`result_to_nodes`; outputs under the baseline volume's study)."""
    from mspathobiology import sel

    images = images_from_nodes(visit_nodes, lesions_node, brain_mask_node, flair_nodes)
    result = sel.analyse(images, times=times, progress=progress)
    visits = [n for n in visit_nodes if n is not None]
    return result_to_nodes(scene, result, name=name, table_node=table_node, input_node=visits[0],
                           folder_name=folder_name)


def read_result(folder):
    """A :class:`mspathobiology.sel.SelResult` from what :func:`mspathobiology.sel.run` wrote in
    ``folder`` (``sel.tsv``, ``logjac_visit-NN.nii.gz``, ``sel_summary.json``), e.g. in a child process."""
    from pathlib import Path

    from mspathobiology.io import read_image, read_json
    from mspathobiology.lesion_table import read_lesion_table
    from mspathobiology.sel import SelResult

    folder = Path(folder)
    summary = read_json(folder / "sel_summary.json", name="SEL summary", expect=dict)
    images = {}
    for n in range(2, int(summary.get("n_visits", 0)) + 1):
        key = f"logjac_visit-{n:02d}"
        images[key] = read_image(folder / f"{key}.nii.gz", "intensity", key)
    return SelResult(images=images, rows=read_lesion_table(folder / "sel.tsv"), summary=summary)
