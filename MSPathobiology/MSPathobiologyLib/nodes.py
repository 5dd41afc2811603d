"""Exchange between MRML nodes and the logic layer's images, through the bridge.

Every conversion goes through ``mspathobiology_mrml`` (one RAS/LPS flip, exact geometry); the
scene is ``slicer.mrmlScene``. Files are written only for work done in a child process
(:func:`writeInputs`), with ``mspathobiology.io`` (atomic).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import slicer


def isSegmentation(node) -> bool:
    return node is not None and node.IsA("vtkMRMLSegmentationNode")


def imageFromNode(node, referenceVolumeNode=None):
    """SimpleITK image of a volume node, or the label image of a segmentation node.

    A segmentation is exported on ``referenceVolumeNode``'s grid when given; voxel values are
    the segments' label values (lesion ids for lesion segmentations).
    """
    import mspathobiology_mrml as bridge

    if node is None:
        raise ValueError("no node selected")
    if isSegmentation(node):
        image, _ = bridge.segmentation_to_label_image(node, reference_volume_node=referenceVolumeNode)
        return image
    return bridge.volume_to_image(node)


def imagesFromNodes(nodes: dict, referenceVolumeNode=None, onGridOf=None) -> dict:
    """``{key: image}`` of the selected nodes (None skipped). Label images (segmentations and
    labelmaps) of another grid than ``onGridOf`` (a SimpleITK image) are resampled to it."""
    from mspathobiology.geometry import resample_label, same_geometry

    images = {}
    for key, node in nodes.items():
        if node is None:
            continue
        image = imageFromNode(node, referenceVolumeNode)
        if onGridOf is not None and (isSegmentation(node) or node.IsA("vtkMRMLLabelMapVolumeNode")) \
                and not same_geometry(image, onGridOf):
            image = resample_label(image, onGridOf)
        images[key] = image
    return images


def writeInputs(folder, nodes: dict, referenceVolumeNode=None) -> dict:
    """For a child process: write each selected node as ``folder/<key>.nii.gz``; returns ``{key: Path}``."""
    from mspathobiology.io import write_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return {key: write_image(imageFromNode(node, referenceVolumeNode), folder / f"{key}.nii.gz")
            for key, node in nodes.items() if node is not None}


def workFolder(purpose: str) -> Path:
    """A new folder under Slicer's temporary path for one child-process run."""
    base = Path(slicer.app.temporaryPath) / "MSPathobiology"
    folder = base / f"{purpose}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{int(time.time() * 1000) % 1000:03d}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def outputNode(className: str, name: str, inputNode=None, folderName: str | None = None):
    """A new node for an analysis output, placed under ``inputNode``'s patient and study in the
    Subject Hierarchy (in a ``folderName`` folder), as Slicer's own modules place results."""
    from mspathobiology_mrml.hierarchy import place_outputs

    node = slicer.mrmlScene.AddNewNodeByClass(className, name)
    place_outputs(inputNode, [node], folderName)
    return node
