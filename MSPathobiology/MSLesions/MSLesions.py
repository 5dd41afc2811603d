import os
import sys
from typing import Annotated


import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import (
    parameterNodeWrapper,
    Choice,
    WithinRange,
)

from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode


def _addSourceCheckoutPaths():
    """Make ``mspathobiology`` and ``MSPathobiologyLib`` importable from a source checkout.

    A built extension installs both next to this file; a source checkout keeps the logic
    packages in ``MSPathobiology/`` and the shared widget library in ``MSPathobiology/MSLesions/``.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    parent = os.path.dirname(here)
    for path, marker in ((parent, "mspathobiology"), (os.path.join(parent, "MSLesions"), "MSPathobiologyLib")):
        if os.path.isdir(os.path.join(path, marker)) and path not in sys.path:
            sys.path.append(path)


_addSourceCheckoutPaths()

from MSPathobiologyLib.widgets import BackgroundJobMixin, ParameterNodeGuiMixin  # noqa: E402

from mspathobiology.defaults.common import DEFAULT_CONNECTIVITY, MIN_LESION_VOLUME_MM3  # noqa: E402

#: Parameter-node field -> image key of ``mspathobiology.lesions.run_case`` / the ``lesions`` command.
INPUT_KEYS = {
    "flairVolume": "flair",
    "t1Volume": "t1",
    "t1PostVolume": "t1post",
    "anatomyVolume": "anatomy",
    "brainMaskVolume": "brain_mask",
}

#: Node reference (on the segmentation node) to the label image the lesion table was computed
#: from; Relabel compares the edited segmentation with it to keep the ids of untouched lesions.
REFERENCE_LABELS_ROLE = "MSLesionsReferenceLabels"


#
# MSLesions
#


class MSLesions(ScriptedLoadableModule):
    """Uses ScriptedLoadableModule base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("MS Lesions")
        self.parent.categories = ["MS Pathobiology"]
        self.parent.dependencies = []
        self.parent.contributors = ["MSPathobiology developers"]
        self.parent.helpText = _("""
Semi-automatic segmentation of FLAIR-hyperintense multiple sclerosis lesions, the lesion table
(volume, centroid, long axis, McDonald location) and expert correction.
<ul>
<li>Pick FLAIR (and optionally T1, T1 post-contrast, an anatomy labelmap and a brain mask), then
<b>Segment lesions</b>: one segment per lesion, ids ordered by volume.</li>
<li>Click a table row, or use <b>Previous</b>/<b>Next</b>, to centre the slice views on a lesion.</li>
<li><b>Edit in Segment Editor</b>, then <b>Relabel</b>: lesions you did not touch keep their ids.</li>
</ul>
Methods: lesion growth in the spirit of LST-LGA (Schmidt et al., NeuroImage 2012); locations by the
LST-AI v2 rule (Wiltgen et al., NeuroImage: Clinical 2024); dissemination in space by the McDonald 2017
criteria (Thompson et al., Lancet Neurol 2018); 3 mm&sup3; minimum lesion volume as in the MSSEG
evaluation (Commowick et al., Sci Rep 2018).
""")
        self.parent.acknowledgementText = _("""
Part of the MSPathobiology extension. The module layout follows the 3D Slicer scripted module template
(Jean-Christophe Fillion-Robin, Kitware; Andras Lasso, PerkLab; Steve Pieper, Isomics).
""")


#
# MSLesionsParameterNode
#


@parameterNodeWrapper
class MSLesionsParameterNode:
    """
    flairVolume, t1Volume, t1PostVolume, anatomyVolume, brainMaskVolume - inputs (FLAIR required).
    minimumVolumeMm3 - smallest lesion kept (mm^3).
    connectivity - voxel neighbourhood joining a lesion (6, 18 or 26).
    runInBackground - segment in a child process (``mspathobiology lesions``).
    lesionSegmentation - output: one segment per lesion, named "Lesion <id>".
    lesionTable - output: the lesion table (mspathobiology.lesion_table schema).
    """

    flairVolume: vtkMRMLScalarVolumeNode
    t1Volume: vtkMRMLScalarVolumeNode
    t1PostVolume: vtkMRMLScalarVolumeNode
    anatomyVolume: vtkMRMLScalarVolumeNode
    brainMaskVolume: vtkMRMLScalarVolumeNode
    minimumVolumeMm3: Annotated[float, WithinRange(0.0, 100.0)] = MIN_LESION_VOLUME_MM3
    connectivity: Annotated[int, Choice([6, 18, 26])] = DEFAULT_CONNECTIVITY
    runInBackground: bool = True
    lesionSegmentation: vtkMRMLSegmentationNode
    lesionTable: vtkMRMLTableNode


#
# MSLesionsWidget
#


class MSLesionsWidget(ParameterNodeGuiMixin, BackgroundJobMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Uses ScriptedLoadableModuleWidget base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._job = None
        self._rows = []
        self._currentRow = -1

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MSLesions.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = MSLesionsLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.segmentButton.connect("clicked(bool)", self.onSegmentButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.previousLesionButton.connect("clicked(bool)", lambda: self.selectLesionRow(self._currentRow - 1))
        self.ui.nextLesionButton.connect("clicked(bool)", lambda: self.selectLesionRow(self._currentRow + 1))
        self.ui.segmentEditorButton.connect("clicked(bool)", self.onSegmentEditorButton)
        self.ui.relabelButton.connect("clicked(bool)", self.onRelabelButton)
        self.ui.deleteLesionsButton.connect("clicked(bool)", lambda: self.onEditLesions("delete"))
        self.ui.mergeLesionsButton.connect("clicked(bool)", lambda: self.onEditLesions("merge"))
        self.ui.splitLesionButton.connect("clicked(bool)", lambda: self.onEditLesions("split"))
        self.ui.lesionTableView.connect("selectionChanged()", self.onLesionTableSelection)
        self.ui.progressBar.setVisible(False)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self.removeObservers()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.flairVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first and not first.IsA("vtkMRMLLabelMapVolumeNode"):
                self._parameterNode.flairVolume = first

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        running = self._job is not None and self._job.running
        canRun = bool(p and p.flairVolume) and not running
        self.ui.segmentButton.enabled = canRun
        self.ui.segmentButton.toolTip = _("Segment lesions") if canRun else _("Select a FLAIR volume")
        self.ui.cancelButton.enabled = running
        tableNode = p.lesionTable if p else None
        if self.ui.lesionTableView.mrmlTableNode() != tableNode:
            self.ui.lesionTableView.setMRMLTableNode(tableNode)
            self._refreshLesionList()
        haveLesions = bool(p and p.lesionSegmentation)
        for name in ("segmentEditorButton", "relabelButton", "deleteLesionsButton", "mergeLesionsButton", "splitLesionButton"):
            getattr(self.ui, name).enabled = haveLesions and not running

    # --- segmentation -------------------------------------------------------------------

    def _ensureOutputs(self):
        p = self._parameterNode
        if not p.lesionSegmentation:
            p.lesionSegmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Lesions")
        if not p.lesionTable:
            p.lesionTable = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "Lesion table")

    def onSegmentButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to segment lesions."), waitCursor=True):
            from MSPathobiologyLib import dependencies

            dependencies.ensure("MSLesions")
            self._ensureOutputs()
            p = self._parameterNode
            inputs = {field: getattr(p, field) for field in INPUT_KEYS}
            options = {"min_volume_mm3": p.minimumVolumeMm3, "connectivity": p.connectivity}
            if p.runInBackground:
                self._startBackground(inputs, options)
            else:
                def progress(fraction, text):
                    self._setProgress(fraction, text)
                    slicer.app.processEvents()

                progress(0.0, _("Segmenting..."))
                try:
                    summary = self.logic.segment(inputs, p.lesionSegmentation, p.lesionTable, progress=progress, **options)
                finally:
                    self._setProgress(False)
                self._showResults(summary)

    def _startBackground(self, inputs, options):
        from MSPathobiologyLib.background import BackgroundCommand

        folder, commandLine = self.logic.prepareCommand(inputs, **options)
        p = self._parameterNode
        segmentationNode, tableNode, reference = p.lesionSegmentation, p.lesionTable, p.flairVolume

        def finished(returnCode, lines):
            self._job = None
            self._setProgress(False)
            self._onParameterNodeModified()
            if returnCode != 0:
                self.ui.statusLabel.text = _("Segmentation stopped (code {code}).").format(code=returnCode)
                if returnCode > 0:
                    slicer.util.errorDisplay(_("Lesion segmentation failed."), detailedText="\n".join(lines[-30:]))
                return
            with slicer.util.tryWithErrorDisplay(_("Failed to load the lesion segmentation."), waitCursor=True):
                summary = self.logic.loadResults(folder, reference, segmentationNode, tableNode)
                self._showResults(summary)

        self._job = BackgroundCommand(commandLine,
                                      onLine=lambda line: setattr(self.ui.statusLabel, "text", line[-200:]),
                                      onProgress=lambda fraction: self._setProgress(fraction),
                                      onFinished=finished).start()
        self._onParameterNodeModified()

    def _showResults(self, summary):
        self.ui.statusLabel.text = _("Done.")
        self.ui.summaryLabel.text = self.logic.summaryText(summary)
        p = self._parameterNode
        self.ui.lesionTableView.setMRMLTableNode(p.lesionTable)
        self._refreshLesionList()
        self.logic.showLesions(p.flairVolume, p.lesionSegmentation)
        if self._rows:
            self.selectLesionRow(0)

    # --- lesion navigation ----------------------------------------------------------------

    def _refreshLesionList(self):
        p = self._parameterNode
        self._rows = self.logic.lesionRows(p.lesionTable) if p and p.lesionTable else []
        self._currentRow = -1
        self._updateLesionLabel()

    def _updateLesionLabel(self):
        if 0 <= self._currentRow < len(self._rows):
            row = self._rows[self._currentRow]
            self.ui.currentLesionLabel.text = _("Lesion {id} ({n}/{total})").format(
                id=row["id"], n=self._currentRow + 1, total=len(self._rows))
        else:
            self.ui.currentLesionLabel.text = _("{total} lesions").format(total=len(self._rows))
        self.ui.previousLesionButton.enabled = self._currentRow > 0
        self.ui.nextLesionButton.enabled = self._currentRow + 1 < len(self._rows)

    def selectLesionRow(self, rowIndex: int) -> None:
        if not self._rows:
            return
        rowIndex = max(0, min(rowIndex, len(self._rows) - 1))
        self.ui.lesionTableView.selectRow(rowIndex)  # triggers onLesionTableSelection
        if self._currentRow != rowIndex:
            self._goToRow(rowIndex)

    def onLesionTableSelection(self) -> None:
        indexes = self.ui.lesionTableView.selectionModel().selectedIndexes() if self.ui.lesionTableView.selectionModel() else []
        if indexes:
            self._goToRow(indexes[0].row())

    def _goToRow(self, rowIndex):
        if not (0 <= rowIndex < len(self._rows)):
            return
        self._currentRow = rowIndex
        self.logic.centerOnLesion(self._rows[rowIndex])
        self._updateLesionLabel()

    def currentLesionId(self):
        if 0 <= self._currentRow < len(self._rows):
            return int(self._rows[self._currentRow]["id"])
        return None

    # --- correction -------------------------------------------------------------------

    def onSegmentEditorButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to open the Segment Editor."), waitCursor=True):
            p = self._parameterNode
            self.logic.openSegmentEditor(p.lesionSegmentation, p.flairVolume, self.currentLesionId())

    def onRelabelButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to relabel lesions."), waitCursor=True):
            p = self._parameterNode
            inputs = {field: getattr(p, field) for field in INPUT_KEYS}
            summary = self.logic.relabel(inputs, p.lesionSegmentation, p.lesionTable,
                                         min_volume_mm3=p.minimumVolumeMm3, connectivity=p.connectivity)
            self._showResults(summary)
            report = summary.get("relabel", {})
            self.ui.statusLabel.text = _("Relabelled: {kept} ids kept, {new} new, {removed} removed.").format(
                kept=len(report.get("kept", [])), new=len(report.get("new", [])), removed=len(report.get("removed", [])))

    def onEditLesions(self, action: str) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to {action} lesions.").format(action=action), waitCursor=True):
            ids = [int(t) for t in self.ui.lesionIdsLineEdit.text.replace(",", " ").split()]
            if not ids and self.currentLesionId() is not None:
                ids = [self.currentLesionId()]
            if not ids:
                raise ValueError(_("Enter lesion ids (or select a lesion in the table)."))
            p = self._parameterNode
            inputs = {field: getattr(p, field) for field in INPUT_KEYS}
            summary = self.logic.editLesions(action, ids, inputs, p.lesionSegmentation, p.lesionTable,
                                             min_volume_mm3=p.minimumVolumeMm3, connectivity=p.connectivity)
            self._showResults(summary)


#
# MSLesionsLogic
#


class MSLesionsLogic(ScriptedLoadableModuleLogic):
    """Wiring between MRML nodes and ``mspathobiology.lesions``; usable without the widget."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return MSLesionsParameterNode(super().getParameterNode())

    # --- inputs / outputs ---------------------------------------------------------------

    @staticmethod
    def writeInputs(inputs: dict, folder) -> dict:
        """Write the selected input nodes as NIfTI; returns {image key: Path}."""
        from MSPathobiologyLib.nodes import writeInputs

        if not inputs.get("flairVolume"):
            raise ValueError(_("A FLAIR volume is required."))
        return writeInputs(folder, {INPUT_KEYS[f]: node for f, node in inputs.items() if f in INPUT_KEYS})

    def prepareCommand(self, inputs: dict, min_volume_mm3=MIN_LESION_VOLUME_MM3, connectivity=DEFAULT_CONNECTIVITY):
        """Write the inputs and build the child command that runs ``mspathobiology.lesions.run_case`` on
        them with progress (the function behind ``mspathobiology lesions``, same output files).
        Returns (output folder, command line)."""
        from MSPathobiologyLib.background import function_command_line
        from MSPathobiologyLib.nodes import workFolder

        folder = workFolder("lesions")
        paths = self.writeInputs(inputs, folder / "inputs")
        out = folder / "out"
        commandLine = function_command_line("mspathobiology.lesions:run_case", {k: str(v) for k, v in paths.items()}, str(out),
                                            min_volume_mm3=float(min_volume_mm3), connectivity=int(connectivity))
        return out, commandLine

    def segment(self, inputs: dict, segmentationNode, tableNode, min_volume_mm3=MIN_LESION_VOLUME_MM3,
                connectivity=DEFAULT_CONNECTIVITY, progress=None) -> dict:
        """Segment in this process with ``mspathobiology.lesions.run_case``; fills the nodes; returns the summary.

        ``progress``: optional callable(fraction, text) forwarded to ``run_case``.
        """
        from mspathobiology import lesions
        from MSPathobiologyLib.nodes import workFolder

        folder = workFolder("lesions")
        paths = self.writeInputs(inputs, folder / "inputs")
        out = folder / "out"
        lesions.run_case(paths, out, min_volume_mm3=min_volume_mm3, connectivity=connectivity, progress=progress)
        return self.loadResults(out, inputs["flairVolume"], segmentationNode, tableNode)

    def loadResults(self, folder, referenceVolumeNode, segmentationNode, tableNode) -> dict:
        """Load ``lesions.nii.gz``, ``lesions.tsv`` and ``summary.json`` written by the lesions command."""
        from pathlib import Path

        from mspathobiology.io import read_image, read_json
        from mspathobiology.lesion_table import read_lesion_table

        folder = Path(folder)
        labels = read_image(folder / "lesions.nii.gz", kind="label")
        rows = read_lesion_table(folder / "lesions.tsv")
        summary = read_json(folder / "summary.json") if (folder / "summary.json").exists() else {}
        self.updateNodes(labels, rows, referenceVolumeNode, segmentationNode, tableNode)
        return summary

    def updateNodes(self, labelImage, rows, referenceVolumeNode, segmentationNode, tableNode) -> None:
        """Put a lesion label image into the segmentation (one segment per id) and rows into the table.

        The label image is also kept (hidden) as the reference for the next Relabel.
        """
        import mspathobiology_mrml as bridge
        from mspathobiology.lesion_table import COLUMNS
        from MSPathobiologyLib.nodes import lesionSegmentNames

        import numpy as np
        import SimpleITK as sitk

        ids = [int(v) for v in np.unique(sitk.GetArrayViewFromImage(labelImage)) if v > 0]
        bridge.label_image_to_segmentation(slicer.mrmlScene, labelImage, names=dict(zip(ids, lesionSegmentNames(ids))),
                                           name=segmentationNode.GetName(), node=segmentationNode,
                                           reference_volume_node=referenceVolumeNode)
        extra = [c for r in rows for c in r if c not in COLUMNS]
        bridge.rows_to_table(slicer.mrmlScene, rows, tableNode.GetName(),
                             columns=list(COLUMNS) + list(dict.fromkeys(extra)), node=tableNode)
        tableNode.SetLocked(True)  # edits go through the segmentation + Relabel, not the table cells
        referenceNode = segmentationNode.GetNodeReference(REFERENCE_LABELS_ROLE)
        referenceNode = bridge.image_to_volume(slicer.mrmlScene, labelImage, segmentationNode.GetName() + " reference labels",
                                               node=referenceNode, labelmap=True)
        referenceNode.SetHideFromEditors(True)
        if referenceNode.GetDisplayNode():
            referenceNode.GetDisplayNode().SetVisibility(False)
        segmentationNode.SetNodeReferenceID(REFERENCE_LABELS_ROLE, referenceNode.GetID())

    @staticmethod
    def lesionRows(tableNode) -> list:
        import mspathobiology_mrml as bridge

        if tableNode is None or tableNode.GetNumberOfRows() == 0:
            return []
        return bridge.table_to_rows(tableNode)

    # --- correction ---------------------------------------------------------------------

    def editedLabels(self, segmentationNode, referenceVolumeNode):
        """The edited segmentation as a lesion-id array [k, j, i] plus its image.

        Segments named ``Lesion <id>`` carry that id; segments the reader added get new ids
        above every existing one (so Relabel numbers them after the kept lesions).
        """
        import numpy as np
        import SimpleITK as sitk

        import mspathobiology_mrml as bridge
        from MSPathobiologyLib.nodes import lesionIdFromSegmentName

        image, segments = bridge.segmentation_to_label_image(segmentationNode, reference_volume_node=referenceVolumeNode)
        values = sitk.GetArrayFromImage(image)
        out = np.zeros(values.shape, dtype=np.int64)
        named = {}
        for segment in segments:
            lesionId = lesionIdFromSegmentName(segment["name"])
            named[int(segment["label"])] = lesionId
        nextId = max([i for i in named.values() if i is not None] + [0]) + 1
        for value, lesionId in sorted(named.items()):
            if lesionId is None:
                lesionId, nextId = nextId, nextId + 1
            out[values == value] = lesionId
        return out, image

    def referenceLabels(self, segmentationNode, shape):
        """The label array the current table was computed from (None if absent or of another grid)."""
        import mspathobiology_mrml as bridge
        import SimpleITK as sitk

        node = segmentationNode.GetNodeReference(REFERENCE_LABELS_ROLE)
        if node is None:
            return None
        array = sitk.GetArrayFromImage(bridge.volume_to_image(node))
        return array if array.shape == tuple(shape) else None

    def isEdited(self, segmentationNode, referenceVolumeNode) -> bool:
        """True when the segmentation no longer matches the labels its lesion table was computed from."""
        import numpy as np

        edited, _image = self.editedLabels(segmentationNode, referenceVolumeNode)
        previous = self.referenceLabels(segmentationNode, edited.shape)
        return previous is None or not np.array_equal(edited, previous)

    def tableFromLabels(self, labelImage, inputs: dict, connectivity=DEFAULT_CONNECTIVITY,
                        min_volume_mm3=MIN_LESION_VOLUME_MM3) -> tuple:
        """Lesion table of a label image whose ids must be kept: ``mspathobiology.lesions.run_case``
        with ``images["lesions"]`` and ``keep_ids=True`` (same locations and FLAIR statistics as a
        segmentation run). Returns (label image, rows, summary)."""
        from mspathobiology import lesions
        from mspathobiology.io import read_image, write_image
        from mspathobiology.lesion_table import read_lesion_table
        from mspathobiology.io import read_json
        from MSPathobiologyLib.nodes import workFolder

        folder = workFolder("relabel")
        paths = self.writeInputs(inputs, folder / "inputs")
        paths["lesions"] = write_image(labelImage, folder / "inputs" / "lesions.nii.gz")
        out = folder / "out"
        lesions.run_case(paths, out, connectivity=connectivity, min_volume_mm3=min_volume_mm3, keep_ids=True)
        return (read_image(out / "lesions.nii.gz", kind="label"), read_lesion_table(out / "lesions.tsv"),
                read_json(out / "summary.json"))

    def relabel(self, inputs: dict, segmentationNode, tableNode, min_volume_mm3=MIN_LESION_VOLUME_MM3,
                connectivity=DEFAULT_CONNECTIVITY) -> dict:
        """Relabel after edits (``mspathobiology.lesions.relabel_after_edit`` against the labels the
        table was computed from): lesions that were not touched keep their ids."""
        import numpy as np

        from mspathobiology.geometry import image_like, voxel_volume_mm3
        from mspathobiology.lesions import relabel_after_edit

        reference = inputs["flairVolume"]
        edited, image = self.editedLabels(segmentationNode, reference)
        previous = self.referenceLabels(segmentationNode, edited.shape)
        labels, report = relabel_after_edit(edited, previous, voxel_volume_mm3(image), connectivity, min_volume_mm3)
        labelImage, rows, summary = self.tableFromLabels(image_like(labels.astype(np.uint32), image), inputs,
                                                         connectivity, min_volume_mm3)
        self.updateNodes(labelImage, rows, reference, segmentationNode, tableNode)
        summary = dict(summary)
        summary["relabel"] = report
        return summary

    def editLesions(self, action: str, ids, inputs: dict, segmentationNode, tableNode,
                    min_volume_mm3=MIN_LESION_VOLUME_MM3, connectivity=DEFAULT_CONNECTIVITY) -> dict:
        """Delete, merge or split lesions by id (``mspathobiology.lesions.delete_lesions`` /
        ``merge_lesions`` / ``split_lesion``), then recompute the table keeping ids."""
        import numpy as np

        from mspathobiology import lesions
        from mspathobiology.geometry import image_like

        reference = inputs["flairVolume"]
        labels, image = self.editedLabels(segmentationNode, reference)
        if action == "delete":
            labels = lesions.delete_lesions(labels, ids)
        elif action == "merge":
            labels = lesions.merge_lesions(labels, ids, into=ids[0])
        elif action == "split":
            spacing_kji = tuple(reversed(image.GetSpacing()))
            for lesionId in ids:
                result = lesions.split_lesion(labels, lesionId, spacing_kji=spacing_kji)
                labels = result[0] if isinstance(result, tuple) else result
        else:
            raise ValueError(f"unknown lesion edit {action!r}")
        labelImage, rows, summary = self.tableFromLabels(image_like(np.asarray(labels).astype(np.uint32), image),
                                                         inputs, connectivity, min_volume_mm3)
        self.updateNodes(labelImage, rows, reference, segmentationNode, tableNode)
        return summary

    # --- display ------------------------------------------------------------------------

    @staticmethod
    def showLesions(flairVolumeNode, segmentationNode) -> None:
        from MSPathobiologyLib import views

        if flairVolumeNode is not None:
            views.showVolumes(background=flairVolumeNode)
        if segmentationNode is not None:
            if segmentationNode.GetDisplayNode() is None:
                segmentationNode.CreateDefaultDisplayNodes()
            segmentationNode.GetDisplayNode().SetVisibility(True)

    @staticmethod
    def centerOnLesion(row: dict, zoom: bool = False) -> None:
        """Centre the slice views on a lesion table row's centroid (RAS mm)."""
        from MSPathobiologyLib import defaults, views

        fov = None
        if zoom:
            fov = max(defaults.LESION_VIEW_MIN_FOV_MM, defaults.LESION_VIEW_FOV_PER_LONG_AXIS * float(row.get("long_axis_mm") or 0))
        views.centerOn((row["centroid_r"], row["centroid_a"], row["centroid_s"]), fov)

    @staticmethod
    def openSegmentEditor(segmentationNode, sourceVolumeNode, lesionId=None):
        from MSPathobiologyLib import views
        from MSPathobiologyLib.nodes import segmentIdForLesion

        if segmentationNode is None:
            raise ValueError(_("No lesion segmentation yet."))
        segmentID = segmentIdForLesion(segmentationNode, lesionId) if lesionId is not None else None
        return views.openSegmentEditor(segmentationNode, sourceVolumeNode, segmentID)

    @staticmethod
    def summaryText(summary: dict) -> str:
        if not summary:
            return ""
        parts = [_("{n} lesions, {v:.0f} mm³").format(n=summary.get("lesion_count", 0), v=summary.get("lesion_volume_mm3", 0.0))]
        from mspathobiology.lesion_table import LOCATIONS

        byLocation = [(name, summary.get(f"lesion_count_{name}")) for name in LOCATIONS if summary.get(f"lesion_count_{name}")]
        if byLocation:
            parts.append(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in byLocation))
        for key, label in (("dis_2017_met", _("DIS (McDonald 2017)")), ("dis_2024_met", _("DIS (McDonald 2024)"))):
            if summary.get(key) is not None:
                parts.append(f"{label}: {_('met') if summary[key] else _('not met')}")
        return "\n".join(parts)


#
# MSLesionsTest
#


class MSLesionsTest(ScriptedLoadableModuleTest):
    """In-Slicer test on the small phantom built by the logic layer (no download)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_segment_navigate_relabel()

    def test_segment_navigate_relabel(self):
        import numpy as np
        import SimpleITK as sitk

        import mspathobiology_mrml as bridge
        from mspathobiology.phantom import generate_subject

        self.delayDisplay("Generating the small phantom")
        session = generate_subject(seed=0, small=True, sessions=1).sessions[0]
        scene = slicer.mrmlScene
        flair = bridge.image_to_volume(scene, session.images["flair"], "FLAIR")
        t1 = bridge.image_to_volume(scene, session.images["t1"], "T1")
        anatomy = bridge.image_to_volume(scene, session.anatomy, "anatomy", labelmap=True)

        logic = MSLesionsLogic()
        segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Lesions")
        table = scene.AddNewNodeByClass("vtkMRMLTableNode", "Lesion table")
        inputs = {"flairVolume": flair, "t1Volume": t1, "t1PostVolume": None, "anatomyVolume": anatomy, "brainMaskVolume": None}
        self.delayDisplay("Segmenting")
        summary = logic.segment(inputs, segmentation, table)

        rows = logic.lesionRows(table)
        self.assertGreater(len(rows), 0)
        self.assertEqual(segmentation.GetSegmentation().GetNumberOfSegments(), len(rows))
        self.assertEqual(summary.get("lesion_count", len(rows)), len(rows))
        # Detection against the phantom's truth: most true lesions >= 10 mm^3 are hit.
        truth = sitk.GetArrayFromImage(session.lesions)
        found, _image = logic.editedLabels(segmentation, flair)
        big = [les["id"] for les in session.truth["lesions"] if les["volume_mm3"] >= 10]
        hit = [i for i in big if np.any(found[truth == i] > 0)]
        self.assertGreaterEqual(len(hit), 0.8 * len(big))

        self.delayDisplay("Centring on lesion 1")
        logic.centerOnLesion(rows[0])
        red = slicer.app.layoutManager().sliceWidget("Red").mrmlSliceNode()
        self.assertAlmostEqual(red.GetSliceOffset(), rows[0]["centroid_s"], delta=1.0)

        if len(rows) >= 3:
            self.delayDisplay("Deleting lesion 2 in the segmentation, then Relabel")
            from MSPathobiologyLib.nodes import segmentIdForLesion

            segmentation.GetSegmentation().RemoveSegment(segmentIdForLesion(segmentation, rows[1]["id"]))
            logic.relabel(inputs, segmentation, table)
            after = {r["id"]: r for r in logic.lesionRows(table)}
            self.assertEqual(len(after), len(rows) - 1)
            self.assertNotIn(rows[1]["id"], after)
            for row in (rows[0], rows[2]):
                self.assertIn(row["id"], after)
                self.assertEqual(after[row["id"]]["voxels"], row["voxels"])
        self.delayDisplay("Test passed")
