"""Slice-view, layout and Segment Editor helpers used by the module widgets (needs the application)."""

from __future__ import annotations

import slicer
import vtk


def sliceNodes():
    """Slice nodes of the views in the current layout."""
    layoutManager = slicer.app.layoutManager()
    if layoutManager is None:
        return []
    nodes = []
    for name in layoutManager.sliceViewNames():
        widget = layoutManager.sliceWidget(name)
        if widget is not None:
            nodes.append(widget.mrmlSliceNode())
    return nodes


def centerOn(ras, fieldOfViewMm: float | None = None):
    """Centre every slice view on ``ras`` (RAS mm), optionally zoomed to ``fieldOfViewMm`` across,
    and point every 3D view's camera at it.

    Uses the Markups logic's ``JumpSlicesToLocation`` (the same call as clicking a control point).
    """
    r, a, s = (float(v) for v in ras)
    slicer.modules.markups.logic().JumpSlicesToLocation(r, a, s, True)
    if fieldOfViewMm:
        for sliceNode in sliceNodes():
            fx, fy, fz = sliceNode.GetFieldOfView()
            aspect = fy / fx if fx > 0 else 1.0
            sliceNode.SetFieldOfView(fieldOfViewMm, fieldOfViewMm * aspect, fz)
    layoutManager = slicer.app.layoutManager()
    for index in range(layoutManager.threeDViewCount if layoutManager is not None else 0):
        viewNode = layoutManager.threeDWidget(index).mrmlViewNode()
        camera = slicer.modules.cameras.logic().GetViewActiveCameraNode(viewNode)
        if camera is not None:
            camera.SetFocalPoint(r, a, s)


def showVolumes(background=None, foreground=None, foregroundOpacity=None, fit=False):
    """Put volumes in all slice views (``None`` keeps the current layer)."""
    kwargs = {"fit": fit}
    if background is not None:
        kwargs["background"] = background
    if foreground is not None:
        kwargs["foreground"] = foreground
    if foregroundOpacity is not None:
        kwargs["foregroundOpacity"] = foregroundOpacity
    slicer.util.setSliceViewerLayers(**kwargs)


def setWindowLevel(volumeNode, window: float, level: float):
    """Fixed window/level on a scalar volume (turns automatic window/level off)."""
    if volumeNode is None:
        return
    if volumeNode.GetDisplayNode() is None:
        volumeNode.CreateDefaultDisplayNodes()
    displayNode = volumeNode.GetDisplayNode()
    displayNode.SetAutoWindowLevel(False)
    displayNode.SetWindowLevel(float(window), float(level))


def setColorMap(volumeNode, colorNodeID: str):
    if volumeNode is None:
        return
    if volumeNode.GetDisplayNode() is None:
        volumeNode.CreateDefaultDisplayNodes()
    volumeNode.GetDisplayNode().SetAndObserveColorNodeID(colorNodeID)


def showOutlines(segmentationNode):
    """Show a segmentation as outlines only in the slice views, so the image under it stays visible
    (a rim, a Jacobian map). Labelmap volumes are left as they are."""
    if segmentationNode is None or not segmentationNode.IsA("vtkMRMLSegmentationNode"):
        return
    if segmentationNode.GetDisplayNode() is None:
        segmentationNode.CreateDefaultDisplayNodes()
    display = segmentationNode.GetDisplayNode()
    display.SetVisibility(True)
    display.SetVisibility2DFill(False)


def showSideBySide(leftVolume, rightVolume, label=None):
    """Two linked axial views: ``leftVolume`` in Red, ``rightVolume`` in Yellow, both same position.

    Linked control keeps slice position and zoom identical in both views while reading.
    """
    layoutManager = slicer.app.layoutManager()
    layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutSideBySideView)
    for viewName, volume in (("Red", leftVolume), ("Yellow", rightVolume)):
        widget = layoutManager.sliceWidget(viewName)
        if widget is None:
            continue
        widget.mrmlSliceNode().SetOrientation("Axial")
        composite = widget.mrmlSliceCompositeNode()
        composite.SetBackgroundVolumeID(volume.GetID() if volume is not None else None)
        composite.SetForegroundVolumeID(None)
        composite.SetLinkedControl(True)
        composite.SetHotLinkedControl(True)
        if label is not None:
            composite.SetLabelVolumeID(label.GetID())


def segmentEditor():
    """The Segment Editor module's ``qMRMLSegmentEditorWidget`` (None without the module)."""
    module = getattr(slicer.modules, "segmenteditor", None)
    representation = module.widgetRepresentation() if module is not None else None
    return representation.self().editor if representation is not None else None


def openSegmentEditor(segmentationNode, sourceVolumeNode, segmentID: str | None = None):
    """Switch to the Segment Editor with this segmentation, source volume and (optional) segment."""
    slicer.util.selectModule("SegmentEditor")
    editor = segmentEditor()
    editor.setSegmentationNode(segmentationNode)
    if sourceVolumeNode is not None:
        editor.setSourceVolumeNode(sourceVolumeNode)
    if segmentID:
        editor.setCurrentSegmentID(segmentID)
    return editor


def showChart(chartNode):
    """Show a plot chart node in the layout's plot view (switches to a layout with one)."""
    slicer.modules.plots.logic().ShowChartInLayout(chartNode)


def showModel(modelNode, color=None, opacity=None, scalarName=None, colorNodeID=None, scalarRange=None):
    """Display settings of a model node built from vtkPolyData."""
    if modelNode.GetDisplayNode() is None:
        modelNode.CreateDefaultDisplayNodes()
    display = modelNode.GetDisplayNode()
    if color is not None:
        display.SetColor(*color)
    if opacity is not None:
        display.SetOpacity(opacity)
    if scalarName:
        display.SetActiveScalar(scalarName, vtk.vtkAssignAttribute.POINT_DATA)
        if colorNodeID:
            display.SetAndObserveColorNodeID(colorNodeID)
        if scalarRange is not None:
            display.SetScalarRangeFlag(slicer.vtkMRMLDisplayNode.UseManualScalarRange)
            display.SetScalarRange(*scalarRange)
        display.SetScalarVisibility(True)
    display.SetVisibility(True)
    display.SetVisibility2D(False)
    return display
