"""Save and load nodes through MRML storage nodes (no Slicer application needed).

``slicer.util.loadVolume`` / ``saveNode`` go through the application's I/O manager, which
the ``slicer-core`` wheel lacks; the storage nodes below are what that manager uses, so
files written here are the files Slicer writes (NRRD/NIfTI volumes,
``.seg.nrrd`` segmentations, TSV/CSV tables with a ``.schema`` file, ``.mrk.json`` markups).

Every file is written under a temporary name in the target folder and renamed over the
target, so a failed save never leaves a half-written file. Table files are rewritten with
every float in full precision (``repr``), because ``vtkDelimitedTextWriter``, which the
table storage node uses, keeps only 6 significant digits; the schema still declares the
columns as ``double`` so Slicer reads them as numbers.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path

import slicer
import vtk

from mspathobiology.errors import InputError
from mspathobiology.io import atomic_write_text

from .defaults import MARKUPS_LOGIC_NAME, VOLUMES_LOGIC_NAME
from .scene import module_logic
from .segmentations import label_image_to_segmentation
from .volumes import labelmap_node_to_image

#: Longest suffixes first: the node name is the file name without them.
KNOWN_SUFFIXES = (".seg.nrrd", ".seg.nhdr", ".seg.vtm", ".mrk.json", ".nii.gz", ".nrrd", ".nhdr", ".nii",
                  ".mha", ".mhd", ".tsv", ".csv", ".txt", ".json", ".vtm")
SEGMENTATION_FILE_SUFFIXES = (".seg.nrrd", ".seg.nhdr", ".seg.vtm")
#: Volumes logic ``AddArchetypeVolume`` loading options: bit 0 labelmap, bit 2 single file
#: (do not gather numbered files as a series), bit 3 automatic window/level.
_LABELMAP_OPTION, _SINGLE_FILE_OPTION, _AUTO_WINDOW_LEVEL_OPTION = 1, 4, 8


def node_name_from_path(path) -> str:
    """File name without its (possibly double) suffix: ``sub-01_lesions.seg.nrrd`` -> ``sub-01_lesions``."""
    name = Path(path).name
    for suffix in KNOWN_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def _messages(storage_node) -> str:
    messages = storage_node.GetUserMessages() if storage_node is not None else None
    text = messages.GetAllMessagesAsString() if messages is not None else ""
    return text.strip() or "no details reported"


def _storage_node_for(node):
    scene = node.GetScene()
    storage = node.GetStorageNode()
    if storage is None:
        storage = node.CreateDefaultStorageNode()
        if storage is None:
            raise InputError(node.GetName(), f"{node.GetClassName()} has no storage node class in this scene")
        if scene is not None:
            scene.AddNode(storage)
            node.SetAndObserveStorageNodeID(storage.GetID())
    return storage


def _check_table_text(node) -> None:
    table = node.GetTable()
    for c in range(table.GetNumberOfColumns()):
        array = table.GetColumn(c)
        if isinstance(array, vtk.vtkStringArray):
            for r in range(array.GetNumberOfValues()):
                text = array.GetValue(r)
                if any(ch in text for ch in ("\t", "\n", "\r", '"')):
                    raise InputError(node.GetName(), f"column {array.GetName()!r} row {r} holds a tab, line break or "
                                                     "double quote, which Slicer's table files cannot store")


def _format_cell(array, row: int) -> str:
    if isinstance(array, vtk.vtkStringArray):
        return array.GetValue(row)
    if isinstance(array, vtk.vtkDataArray) and array.GetDataType() in (vtk.VTK_FLOAT, vtk.VTK_DOUBLE):
        value = float(array.GetValue(row))
        return "nan" if math.isnan(value) else repr(value)
    return array.GetVariantValue(row).ToString()


def _rewrite_table_full_precision(node, path: Path) -> None:
    """Rewrite a table file written by the storage node with floats in full precision."""
    table = node.GetTable()
    columns = [table.GetColumn(c) for c in range(table.GetNumberOfColumns())]
    has_float = any(isinstance(a, vtk.vtkDataArray) and a.GetDataType() in (vtk.VTK_FLOAT, vtk.VTK_DOUBLE)
                    for a in columns)
    if not has_float or any(a.GetNumberOfComponents() != 1 for a in columns):
        return
    csv = path.suffix.lower() == ".csv"
    delimiter = "," if csv else "\t"

    def cell(array, text: str) -> str:  # Slicer quotes every string cell in CSV files, and nothing in TSV files
        return f'"{text}"' if csv and isinstance(array, vtk.vtkStringArray) else text

    lines = [delimiter.join(f'"{a.GetName()}"' if csv else a.GetName() for a in columns)]
    for r in range(table.GetNumberOfRows()):
        lines.append(delimiter.join(cell(a, _format_cell(a, r)) for a in columns))
    atomic_write_text(path, "\n".join(lines) + "\n")


def save_node(node, path) -> Path:
    """Write a volume, labelmap, segmentation, table or markups node to ``path`` through its storage node.

    The format follows the suffix (``.nrrd``, ``.nii.gz``, ``.seg.nrrd``, ``.tsv``, ``.csv``,
    ``.mrk.json``, ...). A table also gets its ``.schema`` file. The node's storage node
    (created if missing) points at ``path`` afterwards, as after a save in Slicer.
    Returns ``path``.
    """
    path = Path(path)
    if node is None:
        raise InputError(str(path), "no node given to save")
    storage = _storage_node_for(node)
    if node.IsA("vtkMRMLTableNode"):
        _check_table_text(node)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-save-", dir=path.parent))
    try:
        staged = staging / path.name
        storage.ResetFileNameList()
        storage.SetFileName(str(staged))
        if not storage.WriteData(node):
            raise InputError(str(path), f"could not write {node.GetClassName()} {node.GetName()!r}: "
                                        f"{_messages(storage)}")
        if node.IsA("vtkMRMLTableNode"):
            _rewrite_table_full_precision(node, staged)
        written = sorted(p for p in staging.iterdir())
        for file in written:
            os.replace(file, path.parent / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    storage.ResetFileNameList()
    storage.SetFileName(str(path))
    if storage.IsA("vtkMRMLTableStorageNode"):
        schema = path.with_name(f"{path.stem}.schema{path.suffix}")  # Slicer's name: t.tsv -> t.schema.tsv
        if schema.exists():
            storage.SetSchemaFileName(str(schema))
    return path


def _existing(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "file not found")
    if path.is_dir():
        raise InputError(str(path), "is a folder, not a file")
    return path


def _read_into(scene, node_class: str, storage_class: str, path: Path, name: str, configure=None):
    node = scene.AddNewNodeByClass(node_class, name)
    storage = scene.AddNewNodeByClass(storage_class)
    storage.SetFileName(str(path))
    if configure is not None:
        configure(storage)
    node.SetAndObserveStorageNodeID(storage.GetID())
    if not storage.ReadData(node):
        message = _messages(storage)
        scene.RemoveNode(storage)
        scene.RemoveNode(node)
        raise InputError(str(path), f"could not be read as {node_class}: {message}")
    return node


def load_volume(scene, path, labelmap: bool = False, name: str | None = None, right_handed: bool = False):
    """Load an image file (NRRD, NIfTI, ...) into a new scalar or labelmap volume node.

    By default the node gets the file's grid exactly (a ``vtkMRMLVolumeArchetypeStorageNode``
    reading a single file), the grid ``mspathobiology.io.read_image`` gives for the same file,
    so that images from nodes and from files pass ``check_same_geometry`` together, and
    anything saved from the node lines up with the original files.

    ``right_handed=True`` loads as Slicer's "Add data" does: through the Volumes logic's
    ``AddArchetypeVolume``, whose storage node reverses the slice order of a volume with
    left-handed IJK axes (``ForceRightHandedIJKCoordinateSystem``; e.g. most NIfTI files in
    LAS orientation). The voxels stay at the same RAS positions, but the grid's K axis is
    flipped, so it no longer equals the file's grid.
    """
    path = _existing(path)
    name = name or node_name_from_path(path)
    logic = module_logic(scene, VOLUMES_LOGIC_NAME)
    if logic is not None and right_handed:
        options = _SINGLE_FILE_OPTION | (_LABELMAP_OPTION if labelmap else _AUTO_WINDOW_LEVEL_OPTION)
        messages = slicer.vtkMRMLMessageCollection()
        node = logic.AddArchetypeVolume(str(path), name, options, None, messages)
        if node is None:
            text = messages.GetAllMessagesAsString().strip() or "unsupported or corrupt image"
            raise InputError(str(path), f"could not be loaded as a volume: {text}")
        return node
    node_class = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"

    def configure(storage):
        storage.SetSingleFile(True)
        storage.SetForceRightHandedIJKCoordinateSystem(bool(right_handed))

    node = _read_into(scene, node_class, "vtkMRMLVolumeArchetypeStorageNode", path, name, configure)
    node.CreateDefaultDisplayNodes()
    return node


def load_segmentation(scene, path, name: str | None = None, names=None, colors=None, right_handed: bool = False):
    """Load a segmentation: a ``.seg.nrrd`` (segments with names, colours and tags) or a label image.

    A plain label image (``.nii.gz``, ``.nrrd``, ...) is read as a labelmap and imported with
    :func:`~mspathobiology_mrml.segmentations.label_image_to_segmentation` (``names`` and
    ``colors`` as there), so each segment keeps its label value.
    """
    path = _existing(path)
    name = name or node_name_from_path(path)
    if path.name.lower().endswith(SEGMENTATION_FILE_SUFFIXES):
        node = _read_into(scene, "vtkMRMLSegmentationNode", "vtkMRMLSegmentationStorageNode", path, name)
        node.CreateDefaultDisplayNodes()
        return node
    labelmap = load_volume(scene, path, labelmap=True, name=f"{name} labels (temporary)", right_handed=right_handed)
    try:
        image = labelmap_node_to_image(labelmap)
    finally:
        for i in reversed(range(labelmap.GetNumberOfDisplayNodes())):
            scene.RemoveNode(labelmap.GetNthDisplayNode(i))
        if labelmap.GetStorageNode() is not None:
            scene.RemoveNode(labelmap.GetStorageNode())
        scene.RemoveNode(labelmap)
    return label_image_to_segmentation(scene, image, names=names, colors=colors, name=name)


def load_table(scene, path, name: str | None = None):
    """Load a TSV/CSV table (and its ``.schema`` file if present) into a new table node."""
    path = _existing(path)
    return _read_into(scene, "vtkMRMLTableNode", "vtkMRMLTableStorageNode", path, name or node_name_from_path(path))


def load_markups(scene, path, name: str | None = None):
    """Load a ``.mrk.json`` markups file into a new markups node (the class the file names)."""
    path = _existing(path)
    name = name or node_name_from_path(path)
    logic = module_logic(scene, MARKUPS_LOGIC_NAME)
    if logic is not None:
        node_id = logic.LoadMarkups(str(path), name)
        node = scene.GetNodeByID(node_id) if node_id else None
        if node is None:
            raise InputError(str(path), "could not be read as a markups file")
        return node
    node = _read_into(scene, "vtkMRMLMarkupsFiducialNode", "vtkMRMLMarkupsJsonStorageNode", path, name)
    node.CreateDefaultDisplayNodes()
    return node
