"""MRML bridge of MSPathobiology: conversions between MRML nodes and the logic layer's types.

Every function takes an explicit ``vtkMRMLScene`` (or a node, which knows its scene) and
uses only MRML classes, storage nodes and module logics, never ``slicer.mrmlScene``,
``slicer.app`` or ``slicer.util`` functions that need the application. Inside Slicer pass
``slicer.mrmlScene``; outside (tests, batch jobs, the PyPI ``slicer-core`` wheel) make a
scene with :func:`new_scene`.

- volumes: :func:`volume_to_image`, :func:`image_to_volume`, :func:`labelmap_node_to_image`
- segmentations: :func:`label_image_to_segmentation`, :func:`segmentation_to_label_image`
- subject hierarchy: outputs under their input's patient and study (:mod:`mspathobiology_mrml.hierarchy`)
- lesion segmentations with stable segment IDs ``lesion_<id>`` and the relabel after edits:
  :mod:`mspathobiology_mrml.lesion_segments`
- tables: :func:`rows_to_table`, :func:`table_to_rows`
- slowly expanding lesions: visit nodes -> ``mspathobiology.sel.analyse`` -> log-Jacobian volumes, SEL
  table and volume-per-visit plot (:mod:`mspathobiology_mrml.sel`)
- markups: :func:`points_to_markups`, :func:`markups_to_points`
- files: :func:`save_node`, :func:`load_volume`, :func:`load_segmentation`, :func:`load_table`,
  :func:`load_markups`
- run-time Python requirements of the extension: :func:`requirements_path` (installed inside Slicer by
  ``MSPathobiologyLib.dependencies``)
"""

from pathlib import Path

from . import hierarchy, lesion_segments
from .markups import markups_to_points, points_to_markups
from .scene import application_logic, module_logic, new_scene, release_scene
from .segmentations import label_image_to_segmentation, segment_table, segmentation_to_label_image
from .storage import load_markups, load_segmentation, load_table, load_volume, node_name_from_path, save_node
from .table_nodes import rows_to_table, table_to_rows
from .volumes import image_to_volume, labelmap_node_to_image, volume_to_image

__all__ = [
    "application_logic", "image_to_volume", "label_image_to_segmentation",
    "hierarchy", "labelmap_node_to_image", "lesion_segments", "load_markups", "load_segmentation", "load_table", "load_volume",
    "markups_to_points", "module_logic", "new_scene", "node_name_from_path", "points_to_markups",
    "release_scene", "requirements_path", "rows_to_table", "save_node", "segment_table",
    "segmentation_to_label_image", "table_to_rows", "volume_to_image",
]


def requirements_path() -> Path:
    """The extension's ``requirements.txt``: Python packages the logic layer needs that Slicer does not bundle."""
    return Path(__file__).resolve().parent / "requirements.txt"
