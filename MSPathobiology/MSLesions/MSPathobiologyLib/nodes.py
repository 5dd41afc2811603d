"""Exchange between MRML nodes and the logic layer's images and files, through the bridge.

Every conversion goes through ``mspathobiology_mrml`` (one RAS/LPS flip, exact geometry);
files are written with ``mspathobiology.io`` (atomic). The scene is always passed explicitly.
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


def writeNodeImage(node, path, referenceVolumeNode=None) -> Path:
    """Write a volume or segmentation node as an image file (NIfTI by suffix), atomically."""
    from mspathobiology.io import write_image

    return write_image(imageFromNode(node, referenceVolumeNode), Path(path))


def writeInputs(folder, nodes: dict, referenceVolumeNode=None) -> dict:
    """Write each selected node as ``folder/<key>.nii.gz``; returns ``{key: Path}`` (keys without node skipped)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, node in nodes.items():
        if node is None:
            continue
        paths[key] = writeNodeImage(node, folder / f"{key}.nii.gz", referenceVolumeNode)
    return paths


def workFolder(purpose: str) -> Path:
    """A new folder under Slicer's temporary path for one run's inputs and outputs."""
    base = Path(slicer.app.temporaryPath) / "MSPathobiology"
    folder = base / f"{purpose}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{int(time.time() * 1000) % 1000:03d}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def lesionSegmentNames(ids) -> list[str]:
    """Segment names for lesion ids: ``Lesion 7``; :func:`lesionIdFromSegmentName` inverts it."""
    return [f"Lesion {int(i)}" for i in ids]


def lesionIdFromSegmentName(name: str) -> int | None:
    parts = str(name).split()
    if len(parts) == 2 and parts[0] == "Lesion" and parts[1].isdigit():
        return int(parts[1])
    return None


def segmentIdForLesion(segmentationNode, lesionId: int) -> str | None:
    """Segment id whose name is ``Lesion <lesionId>``, or None."""
    segmentation = segmentationNode.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(index)
        if lesionIdFromSegmentName(segment.GetName()) == int(lesionId):
            return segmentation.GetNthSegmentID(index)
    return None
