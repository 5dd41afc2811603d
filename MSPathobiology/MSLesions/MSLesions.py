import os
import sys
from typing import Annotated

import qt
import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import parameterNodeWrapper, Choice, WithinRange
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode

# In a source checkout the shared packages sit in MSPathobiology/, the parent of this module's folder.
sys.path.extend({os.path.dirname(os.path.dirname(os.path.abspath(__file__)))} - set(sys.path))

from MSPathobiologyLib import cases, defaults as display  # noqa: E402
from MSPathobiologyLib.widgets import (describeModule, BackgroundJobMixin, ParameterNodeGuiMixin, connectButtons,  # noqa: E402
                                       loadModuleUi)
from mspathobiology.defaults.common import DEFAULT_CONNECTIVITY, MIN_LESION_VOLUME_MM3  # noqa: E402

#: Parameter-node field -> image key of ``mspathobiology.lesions.analyse``.
INPUT_KEYS = {
    "flairVolume": "flair",
    "t1Volume": "t1",
    "t1PostVolume": "t1post",
    "anatomyVolume": "anatomy",
    "brainMaskVolume": "brain_mask",
}
#: Subject-hierarchy folder of this module's outputs (under the FLAIR's study).
OUTPUT_FOLDER = "MS Lesions"


HELP_TEXT = _("""
Semi-automatic segmentation of FLAIR-hyperintense multiple sclerosis lesions, the lesion table
(volume, centroid, long axis, McDonald location) and expert correction.
<ul>
<li>Pick FLAIR (and optionally T1, T1 post-contrast, an anatomy labelmap and a brain mask), then
<b>Segment lesions</b>: one segment per lesion (segment ID <i>lesion_&lt;id&gt;</i>), ids ordered by volume.</li>
<li>Click a table row, or use <b>Previous</b>/<b>Next</b>, to centre the views on a lesion.</li>
<li>Correct in the <b>Segment Editor</b>. The table is marked out of date at once and updated a moment
after your last edit (or when you come back, or with <b>Relabel</b>): untouched lesions keep their ids
and their segments, a split lesion's new parts get new ids, merged lesions keep the lower id.</li>
</ul>
Methods: lesion growth in the spirit of LST-LGA (Schmidt et al., NeuroImage 2012); locations by the
LST-AI v2 rule (Wiltgen et al., NeuroImage: Clinical 2024); dissemination in space by the McDonald 2017
criteria (Thompson et al., Lancet Neurol 2018); 3 mm&sup3; minimum lesion volume as in the MSSEG
evaluation (Commowick et al., Sci Rep 2018).
""")
ACKNOWLEDGEMENT = _("""
Part of the MSPathobiology extension. The module layout follows the 3D Slicer scripted module template
(Jean-Christophe Fillion-Robin, Kitware; Andras Lasso, PerkLab; Steve Pieper, Isomics).
""")


#
# MSLesions
#


class MSLesions(ScriptedLoadableModule):
    """MS Lesions (scripted module; see Slicer's ScriptedLoadableModule)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        describeModule(self.parent, _("MS Lesions"), HELP_TEXT, ACKNOWLEDGEMENT)


#
# MSLesionsParameterNode
#


@parameterNodeWrapper
class MSLesionsParameterNode:
    """
    flairVolume, t1Volume, t1PostVolume, anatomyVolume, brainMaskVolume - inputs (FLAIR required).
    minimumVolumeMm3 - smallest lesion kept (mm^3).
    connectivity - voxel neighbourhood joining a lesion (6, 18 or 26).
    runInBackground - segment in a child process (PythonSlicer).
    autoRelabel - relabel and update the table shortly after the last segment edit.
    lesionSegmentation - output: one segment per lesion, segment ID "lesion_<id>".
    lesionTable - output: the lesion table (mspathobiology.lesion_table schema).
    """

    flairVolume: vtkMRMLScalarVolumeNode
    t1Volume: vtkMRMLScalarVolumeNode
    t1PostVolume: vtkMRMLScalarVolumeNode
    anatomyVolume: vtkMRMLScalarVolumeNode
    brainMaskVolume: vtkMRMLScalarVolumeNode
    minimumVolumeMm3: Annotated[float, WithinRange(0.0, 100.0)] = MIN_LESION_VOLUME_MM3
    connectivity: Annotated[int, Choice([6, 18, 26])] = DEFAULT_CONNECTIVITY
    runInBackground: bool = False
    autoRelabel: bool = True
    lesionSegmentation: vtkMRMLSegmentationNode
    lesionTable: vtkMRMLTableNode


#
# MSLesionsWidget
#


class MSLesionsWidget(ParameterNodeGuiMixin, BackgroundJobMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Uses ScriptedLoadableModuleWidget base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    choiceLabels = {"connectivityComboBox": {"6": _("6 (faces)"), "18": _("18 (faces, edges)"),
                                             "26": _("26 (faces, edges, corners)")}}

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._rows = []
        self._currentRow = -1
        self._stale = False
        self._watcher = None
        self._refreshTimer = None

    def setup(self) -> None:
        from mspathobiology_mrml.lesion_segments import LesionEditWatcher

        ScriptedLoadableModuleWidget.setup(self)
        self.ui = loadModuleUi(self, "MSLesions")
        self.logic = MSLesionsLogic()
        self._watcher = LesionEditWatcher(self.onSegmentsEdited)
        self._refreshTimer = qt.QTimer()
        self._refreshTimer.setSingleShot(True)
        self._refreshTimer.setInterval(display.TABLE_REFRESH_DELAY_MS)
        self._refreshTimer.connect("timeout()", self.refreshIfStale)
        connectButtons(self.ui, {
            "segmentButton": self.onSegmentButton, "cancelButton": self.onCancelButton,
            "previousLesionButton": lambda: self.selectLesionRow(self._currentRow - 1),
            "nextLesionButton": lambda: self.selectLesionRow(self._currentRow + 1),
            "segmentEditorButton": self.onSegmentEditorButton, "relabelButton": self.relabelNow,
            "deleteLesionsButton": lambda: self.onEditLesions("delete"),
            "mergeLesionsButton": lambda: self.onEditLesions("merge"),
            "splitLesionButton": lambda: self.onEditLesions("split")})
        self.ui.lesionTableView.connect("selectionChanged()", self.onLesionTableSelection)
        self.ui.progressBar.setVisible(False)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self._refreshTimer.stop()
        self._watcher.stop()
        self.removeObservers()

    def enter(self) -> None:
        ParameterNodeGuiMixin.enter(self)
        self.refreshIfStale()  # the reader comes back from the Segment Editor

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.flairVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first and not first.IsA("vtkMRMLLabelMapVolumeNode"):
                self._parameterNode.flairVolume = first

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        running = self._jobRunning()
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
        self._watcher.watch(p.lesionSegmentation if p else None)

    # --- segmentation -------------------------------------------------------------------

    def _inputs(self) -> dict:
        return {field: getattr(self._parameterNode, field) for field in INPUT_KEYS}

    def _options(self) -> dict:
        p = self._parameterNode
        return {"min_volume_mm3": p.minimumVolumeMm3, "connectivity": p.connectivity}

    def onSegmentButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to segment lesions."), waitCursor=True):
            p = self._parameterNode
            p.lesionSegmentation, p.lesionTable = self.logic.ensureOutputs(p.flairVolume, p.lesionSegmentation,
                                                                          p.lesionTable)
            if p.runInBackground:
                from MSPathobiologyLib.background import BackgroundCommand

                folder, commandLine = self.logic.prepareCommand(self._inputs(), **self._options())
                segmentationNode, tableNode, reference = p.lesionSegmentation, p.lesionTable, p.flairVolume
                self._startJob(BackgroundCommand(commandLine),
                               lambda: self._showResults(self._written(lambda: self.logic.loadResults(
                                   folder, reference, segmentationNode, tableNode))),
                               _("Lesion segmentation failed."))
                return

            def progress(fraction, text):
                self._setProgress(fraction, text)
                slicer.app.processEvents()

            progress(0.0, _("Segmenting..."))
            try:
                summary = self._written(lambda: self.logic.segment(self._inputs(), p.lesionSegmentation, p.lesionTable,
                                                                   progress=progress, **self._options()))
            finally:
                self._setProgress(False)
            self._showResults(summary)

    def _written(self, write):
        """Run ``write()`` (which changes the segments) without it counting as the reader's edit."""
        with self._watcher.quiet():
            result = write()
        self._setStale(False)
        return result

    def _showResults(self, summary):
        p = self._parameterNode
        self.ui.statusLabel.text = _("Done.")
        self.ui.summaryLabel.text = self.logic.summaryText(summary)
        self.ui.lesionTableView.setMRMLTableNode(p.lesionTable)
        self._refreshLesionList()
        self.showLesions(p.flairVolume, p.lesionSegmentation)
        if self._rows:
            self.selectLesionRow(0)

    @staticmethod
    def showLesions(flairVolumeNode, segmentationNode) -> None:
        from MSPathobiologyLib import views

        if flairVolumeNode is not None:
            views.showVolumes(background=flairVolumeNode)
        if segmentationNode is not None:
            if segmentationNode.GetDisplayNode() is None:
                segmentationNode.CreateDefaultDisplayNodes()
            segmentationNode.GetDisplayNode().SetVisibility(True)

    # --- the correction loop ------------------------------------------------------------

    def onSegmentsEdited(self, segmentationNode) -> None:
        """A segment was edited: the table is out of date now; update it after the last edit."""
        self._setStale(True)
        if self._parameterNode and self._parameterNode.autoRelabel:
            self._refreshTimer.start()  # restarts: fires once the reader pauses

    def _setStale(self, stale: bool) -> None:
        self._stale = stale
        self.ui.lesionTableView.enabled = not stale
        if stale:
            self.ui.statusLabel.text = _("Segments edited: the lesion table is out of date.")

    def refreshIfStale(self) -> None:
        p = self._parameterNode
        if not (self._stale and not self._jobRunning() and p and p.lesionSegmentation):
            return
        if p.lesionTable is not None and p.lesionTable.GetNumberOfRows() and \
                not self.logic.isEdited(p.lesionSegmentation, p.flairVolume):
            self._setStale(False)  # written by another module (e.g. a case opened in MS Case Review): up to date
            self.ui.statusLabel.text = ""
            return
        self.relabelNow()

    def relabelNow(self) -> None:
        self._refreshTimer.stop()
        with slicer.util.tryWithErrorDisplay(_("Failed to relabel lesions."), waitCursor=True):
            p = self._parameterNode
            p.lesionSegmentation, p.lesionTable = self.logic.ensureOutputs(p.flairVolume, p.lesionSegmentation,
                                                                          p.lesionTable)
            undo = self._segmentEditorUndoPoint(p.lesionSegmentation)
            self.ui.statusLabel.text = _("Relabelling and updating the lesion table...")
            slicer.app.processEvents()
            summary = self._written(lambda: self.logic.relabel(self._inputs(), p.lesionSegmentation, p.lesionTable,
                                                               **self._options()))
            current = self.currentLesionId()
            self.ui.summaryLabel.text = self.logic.summaryText(summary)
            self._refreshLesionList()
            if current is not None:
                self._goToLesion(current)
            report = summary.get("relabel", {})
            self.ui.statusLabel.text = _("Table updated: {kept} ids kept, {new} new, {removed} removed.").format(
                kept=len(report.get("kept", [])), new=len(report.get("new", [])),
                removed=len(report.get("removed", []))) + (undo or "")

    @staticmethod
    def _segmentEditorUndoPoint(segmentationNode) -> str:
        """When the Segment Editor edits this segmentation, save an undo state first so that its Undo
        takes back the relabel too (the relabel keeps segment IDs, so the history stays valid)."""
        from MSPathobiologyLib import views

        editor = views.segmentEditor()
        if editor is None or editor.segmentationNode() is not segmentationNode:
            return ""
        editor.saveStateForUndo()
        return _(" Undo in the Segment Editor reverts it.")

    def onEditLesions(self, action: str) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to edit lesions."), waitCursor=True):
            ids = [int(t) for t in self.ui.lesionIdsLineEdit.text.replace(",", " ").split()]
            if not ids and self.currentLesionId() is not None:
                ids = [self.currentLesionId()]
            if not ids:
                raise ValueError(_("Enter lesion ids (or select a lesion in the table)."))
            p = self._parameterNode
            p.lesionSegmentation, p.lesionTable = self.logic.ensureOutputs(p.flairVolume, p.lesionSegmentation,
                                                                          p.lesionTable)
            self._segmentEditorUndoPoint(p.lesionSegmentation)
            summary = self._written(lambda: self.logic.editLesions(action, ids, self._inputs(), p.lesionSegmentation,
                                                                   p.lesionTable, **self._options()))
            self._showResults(summary)

    def onSegmentEditorButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to open the Segment Editor."), waitCursor=True):
            from MSPathobiologyLib import views
            from mspathobiology_mrml.lesion_segments import segment_id

            p = self._parameterNode
            if p.lesionSegmentation is None:
                raise ValueError(_("No lesion segmentation yet."))
            lesion = self.currentLesionId()
            views.openSegmentEditor(p.lesionSegmentation, p.flairVolume, segment_id(lesion) if lesion else None)

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

    def _goToLesion(self, lesionId: int) -> None:
        row = next((n for n, r in enumerate(self._rows) if int(r["id"]) == int(lesionId)), None)
        if row is not None:
            self.selectLesionRow(row)

    def onLesionTableSelection(self) -> None:
        model = self.ui.lesionTableView.selectionModel()
        indexes = model.selectedIndexes() if model else []
        if indexes:
            self._goToRow(indexes[0].row())

    def _goToRow(self, rowIndex):
        from MSPathobiologyLib import views

        if not (0 <= rowIndex < len(self._rows)):
            return
        self._currentRow = rowIndex
        row = self._rows[rowIndex]
        views.centerOn(MSLesionsLogic.centroid(row))
        self._updateLesionLabel()

    def currentLesionId(self):
        if 0 <= self._currentRow < len(self._rows):
            return int(self._rows[self._currentRow]["id"])
        return None


#
# MSLesionsLogic
#


class MSLesionsLogic(ScriptedLoadableModuleLogic):
    """Wiring between MRML nodes and ``mspathobiology.lesions.analyse`` (in memory), with the lesion
    segments kept by ``mspathobiology_mrml.lesion_segments`` (stable segment IDs). No GUI calls."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._brainMasks = {}  # segmentation node ID -> brain mask image of its last analysis

    def getParameterNode(self):
        return MSLesionsParameterNode(super().getParameterNode())

    # --- inputs / outputs ---------------------------------------------------------------

    @staticmethod
    def ensureOutputs(flairVolume, segmentationNode=None, tableNode=None):
        """The output segmentation and table (new ones under the FLAIR's study when missing)."""
        from MSPathobiologyLib.nodes import outputNode

        if segmentationNode is None:
            segmentationNode = outputNode("vtkMRMLSegmentationNode", "Lesions", flairVolume, OUTPUT_FOLDER)
            segmentationNode.CreateDefaultDisplayNodes()
        if tableNode is None:
            tableNode = outputNode("vtkMRMLTableNode", "Lesion table", flairVolume, OUTPUT_FOLDER)
        return segmentationNode, tableNode

    @staticmethod
    def images(inputs: dict) -> dict:
        """``{image key: SimpleITK image}`` of the selected input nodes (FLAIR required); labelmaps and
        segmentations on another grid are put on the FLAIR's (nearest neighbour)."""
        from MSPathobiologyLib.nodes import imageFromNode, imagesFromNodes

        if not inputs.get("flairVolume"):
            raise ValueError(_("A FLAIR volume is required."))
        flair = inputs["flairVolume"]
        return imagesFromNodes({INPUT_KEYS[f]: n for f, n in inputs.items() if f in INPUT_KEYS}, flair,
                               onGridOf=imageFromNode(flair))

    def segment(self, inputs: dict, segmentationNode, tableNode, min_volume_mm3=MIN_LESION_VOLUME_MM3,
                connectivity=DEFAULT_CONNECTIVITY, progress=None) -> dict:
        """Segment in memory (``mspathobiology.lesions.analyse``), fill the nodes; returns the summary."""
        from mspathobiology import lesions

        result = lesions.analyse(self.images(inputs), min_volume_mm3=min_volume_mm3, connectivity=connectivity,
                                 progress=progress)
        self.updateNodes(result, inputs["flairVolume"], segmentationNode, tableNode)
        return result.summary

    def prepareCommand(self, inputs: dict, min_volume_mm3=MIN_LESION_VOLUME_MM3, connectivity=DEFAULT_CONNECTIVITY):
        """For a child process: write the inputs and build the command that runs
        ``mspathobiology.lesions.run_case`` (read -> analyse -> write). Returns (output folder, command line)."""
        from MSPathobiologyLib.background import function_command_line
        from MSPathobiologyLib.nodes import workFolder, writeInputs

        folder = workFolder("lesions")
        paths = writeInputs(folder / "inputs", {INPUT_KEYS[f]: n for f, n in inputs.items() if f in INPUT_KEYS})
        commandLine = function_command_line("mspathobiology.lesions:run_case", {k: str(v) for k, v in paths.items()},
                                            str(folder / "out"), min_volume_mm3=float(min_volume_mm3),
                                            connectivity=int(connectivity))
        return folder / "out", commandLine

    def loadResults(self, folder, referenceVolumeNode, segmentationNode, tableNode) -> dict:
        """Load what the child process wrote (``lesions.nii.gz``, ``lesions.tsv``, ``summary.json``)."""
        from pathlib import Path
        from types import SimpleNamespace

        from mspathobiology.io import read_image, read_json
        from mspathobiology.lesion_table import read_lesion_table

        folder = Path(folder)
        summary = read_json(folder / "summary.json") if (folder / "summary.json").exists() else {}
        result = SimpleNamespace(labels=read_image(folder / "lesions.nii.gz", kind="label"),
                                 rows=read_lesion_table(folder / "lesions.tsv"), summary=summary, brain_mask=None)
        self.updateNodes(result, referenceVolumeNode, segmentationNode, tableNode)
        return summary

    def updateNodes(self, result, referenceVolumeNode, segmentationNode, tableNode) -> dict:
        """Write a lesions result (labels, rows) into the segmentation (only changed segments) and the
        table; keep its labels as the reference of the next relabel. Returns the segment changes."""
        import mspathobiology_mrml as bridge
        from mspathobiology.lesion_table import COLUMNS
        from mspathobiology_mrml import lesion_segments

        changes = lesion_segments.write_lesion_labels(segmentationNode, result.labels, referenceVolumeNode)
        lesion_segments.store_table_labels(segmentationNode, result.labels)
        extra = [c for r in result.rows for c in r if c not in COLUMNS]
        bridge.rows_to_table(slicer.mrmlScene, result.rows, tableNode.GetName(),
                             columns=list(COLUMNS) + list(dict.fromkeys(extra)), node=tableNode)
        tableNode.SetLocked(True)  # edits go through the segments, not the table cells
        if getattr(result, "brain_mask", None) is not None:
            self._brainMasks[segmentationNode.GetID()] = result.brain_mask
        return changes

    @staticmethod
    def lesionRows(tableNode) -> list:
        import mspathobiology_mrml as bridge

        if tableNode is None or tableNode.GetNumberOfRows() == 0:
            return []
        return bridge.table_to_rows(tableNode)

    @staticmethod
    def centroid(row: dict) -> tuple:
        """A lesion table row's centroid (RAS mm)."""
        return float(row["centroid_r"]), float(row["centroid_a"]), float(row["centroid_s"])

    # --- correction ---------------------------------------------------------------------

    def measure(self, labels, inputs: dict, segmentationNode, connectivity=DEFAULT_CONNECTIVITY,
                min_volume_mm3=MIN_LESION_VOLUME_MM3):
        """``mspathobiology.lesions.analyse`` on given lesion ids (``keep_ids``): the same table as a
        segmentation run. The brain mask of the last analysis of this segmentation is reused."""
        from mspathobiology import lesions

        images = self.images(inputs)
        images["lesions"] = labels
        if "brain_mask" not in images and segmentationNode.GetID() in self._brainMasks:
            images["brain_mask"] = self._brainMasks[segmentationNode.GetID()]
        return lesions.analyse(images, connectivity=connectivity, min_volume_mm3=min_volume_mm3, keep_ids=True)

    def relabel(self, inputs: dict, segmentationNode, tableNode, min_volume_mm3=MIN_LESION_VOLUME_MM3,
                connectivity=DEFAULT_CONNECTIVITY) -> dict:
        """After the reader's edits: relabel by the logic layer's rule against the labels of the last
        table (untouched lesions keep ids, split parts get new ids, merged lesions keep the lower id),
        rewrite only changed segments, and recompute the table. Returns the summary + ``relabel`` report."""
        from mspathobiology_mrml import lesion_segments

        labels, report = lesion_segments.relabel(segmentationNode, inputs.get("flairVolume"), connectivity,
                                                 min_volume_mm3)
        result = self.measure(labels, inputs, segmentationNode, connectivity, min_volume_mm3)
        self.updateNodes(result, inputs.get("flairVolume"), segmentationNode, tableNode)
        return {**result.summary, "relabel": report}

    def isEdited(self, segmentationNode, referenceVolumeNode) -> bool:
        from mspathobiology_mrml import lesion_segments

        return lesion_segments.is_edited(segmentationNode, referenceVolumeNode)

    def editLesions(self, action: str, ids, inputs: dict, segmentationNode, tableNode,
                    min_volume_mm3=MIN_LESION_VOLUME_MM3, connectivity=DEFAULT_CONNECTIVITY) -> dict:
        """Delete, merge (into the lowest id) or split lesions by id (``mspathobiology.lesions``), then
        recompute the table keeping ids; only the segments concerned change."""
        import numpy as np
        import SimpleITK as sitk

        from mspathobiology import lesions
        from mspathobiology.geometry import image_like
        from mspathobiology_mrml import lesion_segments

        image = lesion_segments.lesion_labels(segmentationNode, inputs.get("flairVolume"))
        labels = sitk.GetArrayFromImage(image)
        ids = [int(i) for i in ids]
        if action == "delete":
            labels = lesions.delete_lesions(labels, ids)
        elif action == "merge":
            labels = lesions.merge_lesions(labels, ids, into=min(ids))
        elif action == "split":
            spacing_kji = tuple(reversed(image.GetSpacing()))
            for lesionId in ids:
                result = lesions.split_lesion(labels, lesionId, spacing_kji=spacing_kji)
                labels = result[0] if isinstance(result, tuple) else result
        else:
            raise ValueError(f"unknown lesion edit {action!r}")
        result = self.measure(image_like(np.asarray(labels).astype(np.uint32), image), inputs, segmentationNode,
                              connectivity, min_volume_mm3)
        self.updateNodes(result, inputs.get("flairVolume"), segmentationNode, tableNode)
        return result.summary

    @staticmethod
    def summaryText(summary: dict) -> str:
        if not summary:
            return ""
        from mspathobiology.lesion_table import LOCATIONS

        parts = [_("{n} lesions, {v:.0f} mm³").format(n=summary.get("lesion_count", 0), v=summary.get("lesion_volume_mm3", 0.0))]
        byLocation = [(name, summary.get(f"lesion_count_{name}")) for name in LOCATIONS if summary.get(f"lesion_count_{name}")]
        if byLocation:
            parts.append(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in byLocation))
        for key, label in (("dis_2017_met", _("DIS (McDonald 2017)")), ("dis_2024_met", _("DIS (McDonald 2024)"))):
            if summary.get(key) is not None:
                parts.append(f"{label}: {_('met') if summary[key] else _('not met')}")
        return "\n".join(parts)


#
# Case review: what MS Lesions loads and saves for a case (MSPathobiologyLib.cases)
#


def _beforeSave(p, nodes) -> None:
    """Keep the saved lesion table consistent with the edited segments (relabel when edited)."""
    if p.lesionSegmentation is None or p.lesionTable is None:
        return
    logic = MSLesionsLogic()
    inputs = {field: getattr(p, field) for field in INPUT_KEYS}
    if logic.isEdited(p.lesionSegmentation, p.flairVolume) or p.lesionTable.GetNumberOfRows() == 0:
        logic.relabel(inputs, p.lesionSegmentation, p.lesionTable, p.minimumVolumeMm3, p.connectivity)


def _configure(p, case, nodes, context) -> None:
    """A case opened with lesions but no saved table: compute the table of its lesions now."""
    if p.lesionSegmentation is not None and p.flairVolume is not None and p.lesionTable is not None \
            and p.lesionTable.GetNumberOfRows() == 0:
        _beforeSave(p, nodes)


cases.register(cases.CaseParticipant(
    module="MSLesions",
    parameterNode=lambda: MSLesionsLogic().getParameterNode(),
    inputs={"flairVolume": "flair", "t1Volume": "t1", "t1PostVolume": "t1post", "anatomyVolume": "anatomy",
            "brainMaskVolume": "brain_mask"},
    outputs=(cases.CaseFile("lesionSegmentation", "lesions", "lesions", "dseg", ".nii.gz", "lesion_labels"),
             cases.CaseFile("lesionTable", "lesion_table", "lesiontable", "dseg", ".tsv", "lesion_table")),
    configure=_configure,
    beforeSave=_beforeSave,
))


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
        from MSPathobiologyLib import selftest_data, views
        from mspathobiology_mrml import lesion_segments

        self.delayDisplay("Generating the small phantom")
        data = selftest_data.lesions_data()
        scene = slicer.mrmlScene
        flair = bridge.image_to_volume(scene, data["flair"], "FLAIR")
        t1 = bridge.image_to_volume(scene, data["t1"], "T1")
        anatomy = bridge.image_to_volume(scene, data["anatomy"], "anatomy", labelmap=True)

        logic = MSLesionsLogic()
        segmentation, table = logic.ensureOutputs(flair)
        inputs = {"flairVolume": flair, "t1Volume": t1, "t1PostVolume": None, "anatomyVolume": anatomy, "brainMaskVolume": None}
        self.delayDisplay("Segmenting")
        summary = logic.segment(inputs, segmentation, table)

        rows = logic.lesionRows(table)
        self.assertGreater(len(rows), 2)
        self.assertEqual(segmentation.GetSegmentation().GetNumberOfSegments(), len(rows))
        self.assertEqual(summary.get("lesion_count", len(rows)), len(rows))
        ids = [int(r["id"]) for r in rows]
        self.assertEqual(sorted(segmentation.GetSegmentation().GetSegmentIDs()),
                         sorted(lesion_segments.segment_id(i) for i in ids))
        # Detection against the phantom's truth: most true lesions >= 10 mm^3 are hit.
        truth = sitk.GetArrayFromImage(data["truth_labels"])
        found = sitk.GetArrayFromImage(lesion_segments.lesion_labels(segmentation, flair))
        big = [les["id"] for les in data["truth_lesions"] if les["volume_mm3"] >= 10]
        hit = [i for i in big if np.any(found[truth == i] > 0)]
        self.assertGreaterEqual(len(hit), 0.8 * len(big))

        self.delayDisplay("Centring on lesion 1")
        views.centerOn(logic.centroid(rows[0]))
        red = slicer.app.layoutManager().sliceWidget("Red").mrmlSliceNode()
        self.assertAlmostEqual(red.GetSliceOffset(), rows[0]["centroid_s"], delta=1.0)

        self.delayDisplay("Deleting lesion 2 in the segmentation, then Relabel")
        kept = segmentation.GetSegmentation().GetSegment(lesion_segments.segment_id(ids[0]))
        segmentation.GetSegmentation().RemoveSegment(lesion_segments.segment_id(ids[1]))
        self.assertTrue(logic.isEdited(segmentation, flair))
        logic.relabel(inputs, segmentation, table)
        after = {r["id"]: r for r in logic.lesionRows(table)}
        self.assertEqual(len(after), len(rows) - 1)
        self.assertNotIn(ids[1], after)
        for row in (rows[0], rows[2]):
            self.assertIn(row["id"], after)
            self.assertEqual(after[row["id"]]["voxels"], row["voxels"])
        self.assertIs(segmentation.GetSegmentation().GetSegment(lesion_segments.segment_id(ids[0])), kept)
        self.assertFalse(logic.isEdited(segmentation, flair))
        self.delayDisplay("Test passed")
