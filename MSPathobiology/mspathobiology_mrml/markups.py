"""Points in RAS mm <-> markups point-list (fiducial) nodes.

Positions are world RAS coordinates in mm (``SetControlPointPositionsWorld`` /
``GetControlPointPositionsWorld``); for a node without a parent transform these equal the
node's own coordinates. Points are passed as double precision, so they round-trip exactly.
"""

from __future__ import annotations

import numpy as np
import vtk

from mspathobiology.errors import InputError

from .defaults import DEFAULT_MARKUPS_NAME


def points_to_markups(scene, points_ras, labels=None, name: str = DEFAULT_MARKUPS_NAME, node=None):
    """Put an (N, 3) array of RAS points (mm) into a markups fiducial node, with optional labels.

    ``node``: an existing markups node whose control points are replaced; otherwise a new
    ``vtkMRMLMarkupsFiducialNode`` named ``name`` is added to ``scene``. Returns the node.
    """
    points = np.asarray(points_ras, dtype=float)
    if points.size == 0:
        points = points.reshape(0, 3)
    if points.ndim != 2 or points.shape[1] != 3:
        raise InputError("points_ras", f"must be an (N, 3) array of RAS mm, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise InputError("points_ras", "contains NaN or infinite coordinates")
    if labels is not None:
        labels = [str(label) for label in labels]
        if len(labels) != len(points):
            raise InputError("labels", f"has {len(labels)} labels for {len(points)} points")
    if node is None:
        if scene is None:
            raise InputError(name, "no scene given to add the markups node to")
        node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", name)
        node.CreateDefaultDisplayNodes()
    elif not node.IsA("vtkMRMLMarkupsNode"):
        raise InputError(node.GetName(), f"is a {node.GetClassName()}, not a markups node")
    vtk_points = vtk.vtkPoints()
    vtk_points.SetDataTypeToDouble()
    for point in points:
        vtk_points.InsertNextPoint(*point)
    was_modifying = node.StartModify()
    try:
        node.RemoveAllControlPoints()
        node.SetControlPointPositionsWorld(vtk_points)
        if labels is not None:
            for index, label in enumerate(labels):
                node.SetNthControlPointLabel(index, label)
    finally:
        node.EndModify(was_modifying)
    return node


def markups_to_points(node):
    """Return ``(points, labels)``: an (N, 3) float array of world RAS mm and the N control point labels."""
    if node is None or not node.IsA("vtkMRMLMarkupsNode"):
        raise InputError("markups", "is not a markups node")
    vtk_points = vtk.vtkPoints()
    vtk_points.SetDataTypeToDouble()
    node.GetControlPointPositionsWorld(vtk_points)
    count = vtk_points.GetNumberOfPoints()
    points = np.array([vtk_points.GetPoint(i) for i in range(count)], dtype=float).reshape(count, 3)
    labels = [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())]
    return points, labels
