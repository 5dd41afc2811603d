"""Label images <-> segmentation nodes, keeping segment names, colours and label values.

Import goes through ``vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode``
(one segment per label value, in ascending order) and export through
``ExportSegmentsToLabelmapNode`` (segment k of the list gets value k + 1), as Slicer's
Segmentations module does. The label value of each segment is stored in the segment tag
:data:`~mspathobiology_mrml.defaults.LABEL_VALUE_TAG` (tags are saved in ``.seg.nrrd``
files), and the exported values are mapped back to it, so a label image survives
image -> segmentation -> image (and a ``.seg.nrrd`` save/load) exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import SimpleITK as sitk
import vtk
import slicer

from mspathobiology.errors import InputError
from mspathobiology.geometry import set_voxel_to_ras
from mspathobiology.io import validate_label_array

from .defaults import COLORS_LOGIC_NAME, DEFAULT_SEGMENTATION_NAME, FALLBACK_LABEL_COLOR_NODE_ID, LABEL_VALUE_TAG
from .scene import module_logic
from .volumes import LABELMAP_VOLUME_CLASS, image_to_volume, matrix_to_numpy, volume_to_image


def _per_label(values, labels: list[int], what: str) -> dict[int, object]:
    """Normalise ``names``/``colors`` given as a mapping label -> value or a sequence in label order."""
    if values is None:
        return {}
    if isinstance(values, Mapping):
        return {int(k): v for k, v in values.items()}
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        raise InputError(what, "give a mapping label -> value or a list in ascending label order")
    values = list(values)
    if len(values) != len(labels):
        raise InputError(what, f"has {len(values)} entries for {len(labels)} labels {labels}")
    return dict(zip(labels, values))


def _rgb(color, label: int) -> tuple[float, float, float]:
    rgb = tuple(float(c) for c in color)[:3]
    if len(rgb) != 3 or not all(0.0 <= c <= 1.0 for c in rgb):
        raise InputError("colors", f"colour of label {label} must be 3 numbers in 0..1 (RGB), got {color!r}")
    return rgb


def _default_color(scene, label: int) -> tuple[float, float, float]:
    """A fixed colour for ``label``: from Slicer's default labelmap colour table, else the built-in "Labels" table."""
    logic = module_logic(scene, COLORS_LOGIC_NAME)
    color_node = scene.GetNodeByID(logic.GetDefaultLabelMapColorNodeID()) if logic is not None else None
    if color_node is None or not color_node.IsA("vtkMRMLColorTableNode"):  # procedural tables are random
        color_node = scene.GetNodeByID(FALLBACK_LABEL_COLOR_NODE_ID)
    rgba = [0.5, 0.5, 0.5, 1.0]
    if color_node is not None and color_node.GetNumberOfColors() > 1:
        count = color_node.GetNumberOfColors()
        color_node.GetColor(label if label < count else (label - 1) % (count - 1) + 1, rgba)
    return float(rgba[0]), float(rgba[1]), float(rgba[2])


def _remove_node_with_dependents(scene, node) -> None:
    if node is None or scene is None:
        return
    for getter in ("GetNumberOfDisplayNodes", "GetNumberOfStorageNodes"):
        if hasattr(node, getter):
            count = getattr(node, getter)()
            nth = getattr(node, getter.replace("GetNumberOf", "GetNth")[:-1])
            for index in reversed(range(count)):
                dependent = nth(index)
                if dependent is not None:
                    scene.RemoveNode(dependent)
    scene.RemoveNode(node)


def segment_label_value(segment, default: int | None = None) -> int | None:
    """The label value stored in a segment's tag, or ``default`` if it has none."""
    text = vtk.reference("")
    if segment.GetTag(LABEL_VALUE_TAG, text):
        try:
            return int(str(text))
        except ValueError:
            return default
    return default


def label_image_to_segmentation(scene, image: sitk.Image, names=None, colors=None,
                                name: str = DEFAULT_SEGMENTATION_NAME, node=None, reference_volume_node=None):
    """Turn a label image (voxel value = label, 0 = background) into a segmentation node.

    One segment per non-zero label value, in ascending order, tagged with its value.
    ``names`` and ``colors`` map a label value to the segment name and RGB colour (0..1), as a
    dict or as lists in ascending label order; unnamed labels are called ``"Label <value>"``,
    uncoloured ones get their entry in Slicer's default labelmap colour table (or the built-in
    "Labels" table). ``node``: an existing segmentation node whose segments are replaced;
    otherwise a new node ``name`` is added. The segmentation's reference geometry is
    ``reference_volume_node``'s grid if given, else the label image's own grid.
    Returns the segmentation node.
    """
    if scene is None:
        raise InputError(name, "no scene given to add the segmentation node to")
    if not isinstance(image, sitk.Image):
        raise InputError(name, f"expected a SimpleITK label image, got {type(image).__name__}")
    array = sitk.GetArrayViewFromImage(image)
    validate_label_array(np.asarray(array), name)
    labels = [int(v) for v in np.unique(array) if v != 0]
    name_of = _per_label(names, labels, "names")
    color_of = {k: _rgb(v, k) for k, v in _per_label(colors, labels, "colors").items()}

    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        node.CreateDefaultDisplayNodes()
    elif not node.IsA("vtkMRMLSegmentationNode"):
        raise InputError(node.GetName(), f"is a {node.GetClassName()}, not a segmentation node")
    else:
        node.GetSegmentation().RemoveAllSegments()

    labelmap_node = image_to_volume(scene, image, f"{name} labels (temporary)", labelmap=True)
    try:
        geometry_node = reference_volume_node if reference_volume_node is not None else labelmap_node
        node.SetReferenceImageGeometryParameterFromVolumeNode(geometry_node)
        segmentation = node.GetSegmentation()
        before = segmentation.GetNumberOfSegments()
        logic = slicer.vtkSlicerSegmentationsModuleLogic
        if labels and not logic.ImportLabelmapToSegmentationNode(labelmap_node, node):
            raise InputError(name, "Slicer could not import the label image into a segmentation")
        new_ids = [segmentation.GetNthSegmentID(i) for i in range(before, segmentation.GetNumberOfSegments())]
        if len(new_ids) != len(labels):
            raise InputError(name, f"import made {len(new_ids)} segments for {len(labels)} labels")
        # Imported segments keep their label value in the shared labelmap (and come in ascending order)
        imported = [segmentation.GetSegment(i).GetLabelValue() for i in new_ids]
        values = imported if sorted(imported) == labels else labels
        for segment_id, label in zip(new_ids, values):
            segment = segmentation.GetSegment(segment_id)
            segment.SetName(str(name_of.get(label, f"Label {label}")))
            segment.SetColor(*(color_of.get(label) or _default_color(scene, label)))
            segment.SetTag(LABEL_VALUE_TAG, str(label))
    finally:
        _remove_node_with_dependents(scene, labelmap_node)
    return node


def segment_table(segmentation_node) -> list[dict]:
    """The segments of a segmentation node as ``[{"id", "label", "name", "color"}]`` in segment order.

    ``label`` is the value from the segment's label-value tag; segments without one get the
    smallest positive integers not used by tagged segments, in segment order.
    """
    segmentation = segmentation_node.GetSegmentation()
    rows = []
    for index in range(segmentation.GetNumberOfSegments()):
        segment_id = segmentation.GetNthSegmentID(index)
        segment = segmentation.GetSegment(segment_id)
        rows.append({"id": segment_id, "label": segment_label_value(segment), "name": segment.GetName(),
                     "color": tuple(float(c) for c in segment.GetColor())})
    taken = {row["label"] for row in rows if row["label"] is not None}
    duplicates = sorted(v for v in taken if sum(row["label"] == v for row in rows) > 1)
    if duplicates:
        raise InputError(segmentation_node.GetName(), f"several segments carry label value(s) {duplicates}")
    free = (v for v in range(1, len(rows) + len(taken) + 2) if v not in taken)
    for row in rows:
        if row["label"] is None:
            row["label"] = next(free)
    return rows


def segmentation_to_label_image(segmentation_node, reference_volume_node=None):
    """Export a segmentation node to a label image (UInt32) and its segment list.

    Returns ``(image, segments)`` with ``segments = [{"label", "name", "color"}]`` in segment
    order (colour RGB 0..1). Voxels of each segment get its label value (see
    :func:`segment_table`); where segments overlap, the later segment wins. The grid is
    ``reference_volume_node``'s if given, else the segmentation's reference geometry (the
    grid it was imported from), else the smallest box holding all segments.
    """
    if segmentation_node is None or not segmentation_node.IsA("vtkMRMLSegmentationNode"):
        raise InputError("segmentation", "is not a segmentation node")
    scene = segmentation_node.GetScene()
    if scene is None:
        raise InputError(segmentation_node.GetName(), "is not in a scene")
    rows = segment_table(segmentation_node)
    segmentation = segmentation_node.GetSegmentation()
    has_geometry = bool(segmentation.GetConversionParameter(
        slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName()))
    extent_mode = (slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY if has_geometry
                   else slicer.vtkSegmentation.EXTENT_UNION_OF_EFFECTIVE_SEGMENTS)
    if not rows:
        if reference_volume_node is None and not has_geometry:
            raise InputError(segmentation_node.GetName(), "has no segments and no reference geometry to export")
        return _empty_like(reference_volume_node, segmentation), []
    ids = vtk.vtkStringArray()
    for row in rows:
        ids.InsertNextValue(row["id"])
    labelmap_node = scene.AddNewNodeByClass(LABELMAP_VOLUME_CLASS, f"{segmentation_node.GetName()} export (temporary)")
    try:
        if not slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
                segmentation_node, ids, labelmap_node, reference_volume_node, extent_mode):
            raise InputError(segmentation_node.GetName(), "Slicer could not export the segments to a labelmap")
        exported = volume_to_image(labelmap_node)
    finally:
        _remove_node_with_dependents(scene, labelmap_node)
    lookup = np.zeros(len(rows) + 1, dtype=np.uint32)
    lookup[1:] = [row["label"] for row in rows]
    array = sitk.GetArrayViewFromImage(exported)
    out = sitk.GetImageFromArray(lookup[np.asarray(array, dtype=np.int64)])
    out.CopyInformation(exported)
    return out, [{"label": row["label"], "name": row["name"], "color": row["color"]} for row in rows]


def _empty_like(reference_volume_node, segmentation) -> sitk.Image:
    """An all-zero UInt32 image on the reference volume's grid or the segmentation's reference geometry."""
    if reference_volume_node is not None:
        reference = volume_to_image(reference_volume_node)
        out = sitk.Image(reference.GetSize(), sitk.sitkUInt32)
        out.CopyInformation(reference)
        return out
    converter = slicer.vtkSegmentationConverter
    geometry = slicer.vtkOrientedImageData()
    converter.DeserializeImageGeometry(
        segmentation.GetConversionParameter(converter.GetReferenceImageGeometryParameterName()), geometry, False)
    matrix = vtk.vtkMatrix4x4()
    geometry.GetImageToWorldMatrix(matrix)
    extent = geometry.GetExtent()
    size = [extent[1] - extent[0] + 1, extent[3] - extent[2] + 1, extent[5] - extent[4] + 1]
    m = matrix_to_numpy(matrix)
    m[:3, 3] = m[:3, :3] @ np.array(extent[::2], dtype=float) + m[:3, 3]
    out = sitk.Image(size, sitk.sitkUInt32)
    set_voxel_to_ras(out, m)
    return out
