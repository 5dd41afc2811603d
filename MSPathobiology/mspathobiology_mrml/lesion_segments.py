"""Lesion segmentations with stable segment IDs, and the relabel after an expert's edits.

Each lesion is one segment whose segment ID is ``lesion_<id>`` (:func:`segment_id`), named
``Lesion <id>`` and tagged with its label value. Writing new labels into a segmentation
(:func:`write_lesion_labels`) touches only the segments whose voxels changed: an untouched
lesion keeps its segment (ID, name, colour, per-segment visibility), so the Segment Editor's
selected segment and undo history stay valid. Changed segments are rewritten in place
with ``vtkSlicerSegmentationsModuleLogic.SetBinaryLabelmapToSegment`` over the bounding box
of their old and new voxels (the call the Segment Editor's effects use); new lesions are
added as new segments, and lesions that are gone are removed.

:func:`relabel` applies the logic layer's rule (:func:`mspathobiology.lesions.relabel_after_edit`:
untouched lesions keep their ids, the parts of a split lesion get new ids, merged lesions
keep the id of their largest overlap) against the labels of the last lesion table, which
are kept in a hidden labelmap node referenced from the segmentation
(:func:`store_table_labels`, :func:`table_labels`).

:class:`LesionEditWatcher` tells when a reader edits the segments (so a widget can mark the
lesion table out of date), and stays silent while this module writes them.
"""

from __future__ import annotations

import contextlib

import numpy as np
import SimpleITK as sitk
import slicer
import vtk
from vtk.util.numpy_support import numpy_to_vtk

from mspathobiology.errors import InputError
from mspathobiology.geometry import image_like, set_voxel_to_ras, voxel_to_ras

from .defaults import (LABEL_VALUE_TAG, LESION_NAME_FORMAT, LESION_SEGMENT_ID_PREFIX, TABLE_LABELS_ROLE,
                       TABLE_LABELS_SUFFIX)
from .segmentations import _default_color, segment_table, segmentation_to_label_image
from .volumes import array_view, ijk_to_ras, image_to_volume, matrix_to_numpy, numpy_to_matrix, volume_to_image

#: Segmentation events that mean the segments were edited.
EDIT_EVENTS = ("SourceRepresentationModified", "SegmentAdded", "SegmentRemoved", "SegmentModified")


def segment_id(lesion_id: int) -> str:
    """The segment ID of lesion ``lesion_id``: ``lesion_<id>``."""
    return f"{LESION_SEGMENT_ID_PREFIX}{int(lesion_id)}"


def lesion_id(segment_id_: str) -> int | None:
    """The lesion id of a segment ID made by :func:`segment_id`, else None."""
    text = str(segment_id_)
    if text.startswith(LESION_SEGMENT_ID_PREFIX) and text[len(LESION_SEGMENT_ID_PREFIX):].isdigit():
        return int(text[len(LESION_SEGMENT_ID_PREFIX):])
    return None


def lesion_labels(segmentation_node, reference_volume_node=None, first_new_id: int = 1) -> sitk.Image:
    """The segmentation as a lesion-id image (UInt32) on the reference grid.

    Segments ``lesion_<id>`` give ``<id>``; any other segment (drawn by the reader) gets a new
    id, counting up from ``max(first_new_id, largest lesion id + 1)`` in segment order.
    """
    rows = segment_table(segmentation_node)
    ids = [lesion_id(row["id"]) for row in rows]
    following = max([first_new_id] + [i + 1 for i in ids if i is not None])
    new_id = {}
    for row, known in zip(rows, ids):
        if known is None:
            known, following = following, following + 1
        new_id[row["id"]] = known
    fast = _labels_from_layers(segmentation_node, reference_volume_node, new_id)
    if fast is not None:
        return fast
    image, _ = segmentation_to_label_image(segmentation_node, reference_volume_node)
    following = max([first_new_id] + [i + 1 for i in ids if i is not None])
    lookup = np.zeros(max([row["label"] for row in rows] + [0]) + 1, dtype=np.uint32)
    for row in rows:
        lookup[row["label"]] = new_id[row["id"]]
    out = sitk.GetImageFromArray(lookup[sitk.GetArrayViewFromImage(image)])
    out.CopyInformation(image)
    return out


def _grid(segmentation_node, reference_volume_node):
    """``(shape [k, j, i], IJK->RAS 4x4)`` of the reference volume, else of the segmentation's reference geometry."""
    if reference_volume_node is not None:
        image_data = reference_volume_node.GetImageData()
        if image_data is None:
            return None
        dims = image_data.GetDimensions()
        return (dims[2], dims[1], dims[0]), ijk_to_ras(reference_volume_node)
    converter = slicer.vtkSegmentationConverter
    text = segmentation_node.GetSegmentation().GetConversionParameter(
        converter.GetReferenceImageGeometryParameterName())
    if not text:
        return None
    geometry = slicer.vtkOrientedImageData()
    converter.DeserializeImageGeometry(text, geometry, False)
    extent = geometry.GetExtent()
    if extent[0] != 0 or extent[2] != 0 or extent[4] != 0:
        return None
    matrix = vtk.vtkMatrix4x4()
    geometry.GetImageToWorldMatrix(matrix)
    return (extent[5] + 1, extent[3] + 1, extent[1] + 1), matrix_to_numpy(matrix)


def _labels_from_layers(segmentation_node, reference_volume_node, new_id: dict) -> sitk.Image | None:
    """Lesion ids read straight from the segmentation's binary-labelmap layers when every layer lies
    on the reference grid (the usual case: imported on it, edited in the Segment Editor on it);
    None otherwise (then the segments are exported and resampled by Slicer)."""
    grid = _grid(segmentation_node, reference_volume_node)
    if grid is None:
        return None
    shape, matrix = grid
    segmentation = segmentation_node.GetSegmentation()
    if segmentation.GetSourceRepresentationName() != slicer.vtkSegmentationConverter.GetBinaryLabelmapRepresentationName():
        return None
    out = np.zeros(shape, dtype=np.uint32)
    layer_matrix = vtk.vtkMatrix4x4()
    for layer in range(segmentation.GetNumberOfLayers()):
        image = segmentation.GetLayerDataObject(layer)
        if image is None:
            continue
        image.GetImageToWorldMatrix(layer_matrix)
        if not np.allclose(matrix_to_numpy(layer_matrix), matrix, rtol=0, atol=1e-6):
            return None
        extent = image.GetExtent()
        if extent[1] < extent[0] or extent[3] < extent[2] or extent[5] < extent[4]:
            continue
        if min(extent[0], extent[2], extent[4]) < 0 or extent[5] >= shape[0] or extent[3] >= shape[1] \
                or extent[1] >= shape[2]:
            return None
        scalars = image.GetPointData().GetScalars()
        if scalars is None or scalars.GetNumberOfComponents() != 1:
            return None
        values = array_view(scalars).reshape(extent[5] - extent[4] + 1, extent[3] - extent[2] + 1,
                                             extent[1] - extent[0] + 1)
        segment_ids = segmentation.GetSegmentIDsForLayer(layer)
        lookup = np.zeros(int(max([segmentation.GetSegment(s).GetLabelValue() for s in segment_ids] + [0])) + 1,
                          dtype=np.uint32)
        for segment in segment_ids:
            lookup[segmentation.GetSegment(segment).GetLabelValue()] = new_id[segment]
        if values.size and int(values.max()) >= len(lookup):
            return None
        box = (slice(extent[4], extent[5] + 1), slice(extent[2], extent[3] + 1), slice(extent[0], extent[1] + 1))
        mapped = lookup[values]
        target = out[box]
        np.copyto(target, mapped, where=mapped > 0)
    result = sitk.GetImageFromArray(out)
    set_voxel_to_ras(result, matrix)
    return result


def _oriented_mask(mask: np.ndarray, box: tuple, ijk_to_ras: np.ndarray):
    """A vtkOrientedImageData (UInt8) of ``mask`` [k, j, i] placed at ``box`` (k, j, i slices) of the grid."""
    k, j, i = box
    image = slicer.vtkOrientedImageData()
    image.SetExtent(i.start, i.stop - 1, j.start, j.stop - 1, k.start, k.stop - 1)
    image.SetImageToWorldMatrix(numpy_to_matrix(ijk_to_ras))
    image.GetPointData().SetScalars(numpy_to_vtk(np.ascontiguousarray(mask, dtype=np.uint8).ravel(), deep=True,
                                                 array_type=vtk.VTK_UNSIGNED_CHAR))
    return image


def _oriented_extent(box) -> tuple:
    k, j, i = box
    return (i.start, i.stop - 1, j.start, j.stop - 1, k.start, k.stop - 1)


def _boxes(array: np.ndarray) -> dict[int, tuple]:
    from scipy import ndimage

    found = ndimage.find_objects(array)
    return {value + 1: box for value, box in enumerate(found) if box is not None}


def _union(a, b):
    if a is None or b is None:
        return a or b
    return tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in zip(a, b))


def _style(segmentation_node, segment, lesion: int, names=None) -> None:
    segment.SetName(str((names or {}).get(lesion, LESION_NAME_FORMAT.format(id=lesion))))
    segment.SetColor(*_default_color(segmentation_node.GetScene(), lesion))
    segment.SetTag(LABEL_VALUE_TAG, str(lesion))


def write_lesion_labels(segmentation_node, labels: sitk.Image, reference_volume_node=None, names=None,
                        current: sitk.Image | None = None) -> dict:
    """Make ``segmentation_node`` hold one ``lesion_<id>`` segment per lesion of ``labels``, touching
    only segments whose voxels differ.

    ``labels``: lesion-id image (0 = background) on the reference grid. ``current``: the
    segmentation's present lesion-id image on the same grid when the caller already has it
    (else it is exported). Segments that are not ``lesion_<id>`` are removed (their voxels are
    in ``labels``). Returns ``{"added", "changed", "removed", "unchanged"}`` lesion-id lists.
    """
    if segmentation_node is None or not segmentation_node.IsA("vtkMRMLSegmentationNode"):
        raise InputError("lesion segmentation", "is not a segmentation node")
    segmentation = segmentation_node.GetSegmentation()
    new = np.asarray(sitk.GetArrayViewFromImage(labels))
    if new.dtype.kind not in "ui":
        raise InputError("lesion labels", f"must be an integer image, not {new.dtype}")
    if segmentation.GetNumberOfSegments() == 0:
        if reference_volume_node is not None:
            segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume_node)
        current_array = np.zeros_like(new)
    else:
        if current is None:
            current = lesion_labels(segmentation_node, reference_volume_node)
        current_array = np.asarray(sitk.GetArrayViewFromImage(current))
        if current_array.shape != new.shape:
            raise InputError(segmentation_node.GetName(), f"grid {current_array.shape[::-1]} differs from the "
                                                          f"labels' {new.shape[::-1]}")
    if reference_volume_node is None and segmentation.GetNumberOfSegments() == 0:
        holder = image_to_volume(segmentation_node.GetScene(), labels, "lesion grid (temporary)", labelmap=True)
        segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(holder)
        segmentation_node.GetScene().RemoveNode(holder)

    existing = {lesion_id(i): i for i in segmentation.GetSegmentIDs()}
    strangers = [i for known, i in existing.items() if known is None]
    existing.pop(None, None)
    new_boxes = _boxes(new)  # one pass: the lesions present and where they are
    new_ids = set(new_boxes)
    differ = new != current_array
    changed = (set(np.unique(new[differ]).tolist()) | set(np.unique(current_array[differ]).tolist())) - {0}
    report = {"added": sorted(new_ids - set(existing)), "removed": sorted(set(existing) - new_ids),
              "changed": sorted((changed & new_ids) & set(existing)),
              "unchanged": sorted((new_ids & set(existing)) - changed)}

    matrix = voxel_to_ras(labels)
    old_boxes = _boxes(current_array) if report["changed"] else {}
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    was = segmentation_node.StartModify()
    try:
        for removed in [existing[i] for i in report["removed"]] + strangers:
            segmentation.RemoveSegment(removed)
        for lesion in report["changed"] + report["added"]:
            box = _union(new_boxes.get(lesion), old_boxes.get(lesion))
            if lesion in report["added"]:
                segmentation.AddEmptySegment(segment_id(lesion))
                _style(segmentation_node, segmentation.GetSegment(segment_id(lesion)), lesion, names)
            mask = new[box] == lesion
            if not logic.SetBinaryLabelmapToSegment(_oriented_mask(mask, box, matrix), segmentation_node,
                                                    segment_id(lesion), logic.MODE_REPLACE,
                                                    _oriented_extent(box)):
                raise InputError(segmentation_node.GetName(), f"could not write lesion {lesion}")
    finally:
        segmentation_node.EndModify(was)
    return report


def store_table_labels(segmentation_node, labels: sitk.Image):
    """Keep ``labels`` (the lesion ids the lesion table was computed from) in a hidden labelmap node
    referenced from the segmentation; saved with the scene. Returns that node."""
    node = segmentation_node.GetNodeReference(TABLE_LABELS_ROLE)
    node = image_to_volume(segmentation_node.GetScene(), labels, segmentation_node.GetName() + TABLE_LABELS_SUFFIX,
                           node=node, labelmap=True)
    node.SetHideFromEditors(True)
    if node.GetDisplayNode() is not None:
        node.GetDisplayNode().SetVisibility(False)
    segmentation_node.SetNodeReferenceID(TABLE_LABELS_ROLE, node.GetID())
    return node


def table_labels(segmentation_node, like: sitk.Image | None = None) -> sitk.Image | None:
    """The labels stored by :func:`store_table_labels` (None when absent or not on the grid of ``like``)."""
    node = segmentation_node.GetNodeReference(TABLE_LABELS_ROLE)
    if node is None or node.GetImageData() is None:
        return None
    image = volume_to_image(node)
    if like is not None and image.GetSize() != like.GetSize():
        return None
    return image


def is_edited(segmentation_node, reference_volume_node=None) -> bool:
    """True when the segments no longer match the labels of the last lesion table."""
    edited = lesion_labels(segmentation_node, reference_volume_node)
    previous = table_labels(segmentation_node, edited)
    return previous is None or not np.array_equal(sitk.GetArrayViewFromImage(edited),
                                                  sitk.GetArrayViewFromImage(previous))


def relabel_where_edited(edited: np.ndarray, previous: np.ndarray, voxel_volume_mm3: float, connectivity: int,
                         min_volume_mm3: float) -> tuple[np.ndarray, dict]:
    """:func:`mspathobiology.lesions.relabel_after_edit` applied where the edit is: the same labels and
    report as on the whole image, computed on the box holding every lesion whose voxels changed.

    ``previous`` holds labels the rule made with the same connectivity and minimum volume (each
    lesion one component, none too small), so a lesion whose voxels all stayed the same keeps its
    id; the others are relabelled inside the box with the rest set to background, and their new
    ids continue after the largest id of ``previous``, as on the whole image.
    """
    from mspathobiology.lesions import relabel_after_edit

    previous_boxes = _boxes(previous)
    differ = edited != previous
    affected = (set(np.unique(edited[differ]).tolist()) | set(np.unique(previous[differ]).tolist())) - {0}
    out = np.asarray(edited, dtype=np.int32).copy()
    if not affected:
        return out, {"kept": sorted(previous_boxes), "new": [], "removed": []}
    edited_boxes = _boxes(edited)
    box = None
    for lesion in affected:
        box = _union(box, _union(edited_boxes.get(lesion), previous_boxes.get(lesion)))
    box = tuple(slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(box, edited.shape))
    ids = np.array(sorted(affected))
    in_edited, in_previous = np.isin(edited[box], ids), np.isin(previous[box], ids)
    labels, report = relabel_after_edit(np.where(in_edited, edited[box], 0), np.where(in_previous, previous[box], 0),
                                        voxel_volume_mm3, connectivity, min_volume_mm3)
    start = max(previous_boxes, default=0) + 1
    lookup = np.arange(int(labels.max(initial=0)) + 1, dtype=np.int32)
    new_ids = [start + n for n in range(len(report["new"]))]
    lookup[report["new"]] = new_ids
    out[box] = np.where(in_edited | in_previous, lookup[labels], out[box])
    kept = (set(previous_boxes) - affected) | set(report["kept"])
    return out, {"kept": sorted(kept), "new": new_ids, "removed": sorted(report["removed"])}


def relabel(segmentation_node, reference_volume_node=None, connectivity: int | None = None,
            min_volume_mm3: float | None = None) -> tuple[sitk.Image, dict]:
    """Relabel the edited segmentation by the logic layer's rule and write back only what changed.

    Returns ``(labels, report)``: the new lesion-id image (UInt32) and the report of
    :func:`mspathobiology.lesions.relabel_after_edit` (``kept``, ``new``, ``removed``) plus the
    segment changes of :func:`write_lesion_labels` under ``"segments"``. The caller computes the
    lesion table of ``labels`` and then calls :func:`store_table_labels`.
    """
    from mspathobiology.defaults.common import DEFAULT_CONNECTIVITY, MIN_LESION_VOLUME_MM3
    from mspathobiology.geometry import voxel_volume_mm3
    from mspathobiology.lesions import relabel_after_edit

    connectivity = DEFAULT_CONNECTIVITY if connectivity is None else connectivity
    min_volume_mm3 = MIN_LESION_VOLUME_MM3 if min_volume_mm3 is None else min_volume_mm3
    previous = table_labels(segmentation_node)
    first_new = 1 if previous is None else int(np.max(sitk.GetArrayViewFromImage(previous), initial=0)) + 1
    edited = lesion_labels(segmentation_node, reference_volume_node, first_new_id=first_new)
    edited_array = sitk.GetArrayViewFromImage(edited)
    if previous is None or previous.GetSize() != edited.GetSize():
        labels, report = relabel_after_edit(edited_array, None, voxel_volume_mm3(edited), connectivity, min_volume_mm3)
    else:
        labels, report = relabel_where_edited(edited_array, sitk.GetArrayViewFromImage(previous),
                                              voxel_volume_mm3(edited), connectivity, min_volume_mm3)
    image = image_like(labels.astype(np.uint32, copy=False), edited)
    report = dict(report)
    report["segments"] = write_lesion_labels(segmentation_node, image, reference_volume_node, current=edited)
    return image, report


class LesionEditWatcher:
    """Calls ``on_edit(segmentation_node)`` when the segments of a segmentation are edited.

    Observes the segmentation's add / remove / modify and source-representation events (what
    the Segment Editor's effects and the Segmentations module change). Writes made inside
    ``with watcher.quiet():`` are not reported.
    """

    def __init__(self, on_edit):
        self.on_edit = on_edit
        self.node = None
        self._tags = []
        self._quiet = 0

    def watch(self, segmentation_node) -> None:
        """Observe ``segmentation_node`` (None stops watching)."""
        if segmentation_node is self.node and (self._tags or segmentation_node is None):
            return
        self.stop()
        self.node = segmentation_node
        if segmentation_node is None:
            return
        segmentation = segmentation_node.GetSegmentation()
        for event in EDIT_EVENTS:
            self._tags.append((segmentation, segmentation.AddObserver(getattr(slicer.vtkSegmentation, event),
                                                                       self._edited)))

    def stop(self) -> None:
        for source, tag in self._tags:
            source.RemoveObserver(tag)
        self._tags = []
        self.node = None

    @contextlib.contextmanager
    def quiet(self):
        self._quiet += 1
        try:
            yield self
        finally:
            self._quiet -= 1

    def _edited(self, caller=None, event=None) -> None:
        if not self._quiet and self.node is not None:
            self.on_edit(self.node)
