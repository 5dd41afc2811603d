import os
import sys
from pathlib import Path
from typing import Annotated, Union


import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import (
    parameterNodeWrapper,
    WithinRange,
)

from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode


def _addSourceCheckoutPaths():
    """Make ``mspathobiology`` and ``MSPathobiologyLib`` importable from a source checkout
    (a built extension installs both next to this file)."""
    here = os.path.dirname(os.path.abspath(__file__))
    parent = os.path.dirname(here)
    for path, marker in ((parent, "mspathobiology"), (os.path.join(parent, "MSLesions"), "MSPathobiologyLib")):
        if os.path.isdir(os.path.join(path, marker)) and path not in sys.path:
            sys.path.append(path)


_addSourceCheckoutPaths()

from MSPathobiologyLib.widgets import BackgroundJobMixin, ParameterNodeGuiMixin  # noqa: E402

#: Parameter-node field -> image key of ``mspathobiology.atrophy.run_case`` / the ``atrophy`` command.
INPUT_KEYS = {
    "t1Volume": "t1",
    "lesions": "lesions",
    "brainMaskVolume": "brain_mask",
    "anatomyVolume": "anatomy",
    "parcellationVolume": "parcellation",
}
#: Volumes shown in the bar plot: (key in atrophy.json, bar label), in this order when present.
PLOTTED_VOLUMES = (("csf_ml", "CSF"), ("gm_ml", "GM"), ("wm_ml", "WM"), ("lesion_ml", "Lesions"),
                   ("deep_gm_ml", "Deep GM"), ("thalamus_ml", "Thalamus"))
#: Units of the result rows, by key suffix.
UNITS = (("_ml", "mL"), ("_percent", "%"), ("_percent_per_year", "%/year"), ("bpf", "fraction"))


#
# MSAtrophy
#


class MSAtrophy(ScriptedLoadableModule):
    """Uses ScriptedLoadableModule base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("MS Atrophy")
        self.parent.categories = ["MS Pathobiology"]
        self.parent.dependencies = []
        self.parent.contributors = ["MSPathobiology developers"]
        self.parent.helpText = _("""
Brain atrophy in MS: tissue volumes (CSF, GM, WM, lesions) in mL, brain parenchymal fraction,
deep grey matter and thalamus, and the percent brain volume change (PBVC) between two visits.
<ul>
<li>Lesions are filled with normal-appearing white matter intensity before tissue classification
(Battaglini et al., Hum Brain Mapp 2012; Magon et al., BMC Neurol 2014).</li>
<li>Tissue classes by EM on a Gaussian mixture with a spatial (MRF) prior and partial volumes
(in the spirit of FSL FAST, Zhang et al., IEEE TMI 2001); BPF = (GM + WM + lesions) / ICV.</li>
<li>PBVC: both visits registered to a halfway space, then edge displacement as in SIENA
(Smith et al., NeuroImage 2002), with self-calibration.</li>
</ul>
Runs in a background process so Slicer stays responsive; results go to a Segmentation node, a table,
a bar plot (Plots module) and, for two visits, a change map overlaid on the baseline.
""")
        self.parent.acknowledgementText = _("""
Part of the MSPathobiology extension. SIENA/SIENAX (FSL) are the reference methods whose design is followed.
""")


#
# MSAtrophyParameterNode
#


@parameterNodeWrapper
class MSAtrophyParameterNode:
    """
    t1Volume (required), lesions, brainMaskVolume, anatomyVolume, parcellationVolume - baseline inputs.
    followupT1Volume, followupBrainMaskVolume, intervalYears - second visit for PBVC (interval 0 = unknown).
    tissueSegmentation, resultsTable, changeMap - outputs.
    runInBackground - run ``mspathobiology atrophy`` / ``pbvc`` in a child process.
    """

    t1Volume: vtkMRMLScalarVolumeNode
    lesions: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]
    brainMaskVolume: vtkMRMLScalarVolumeNode
    anatomyVolume: vtkMRMLScalarVolumeNode
    parcellationVolume: vtkMRMLScalarVolumeNode
    followupT1Volume: vtkMRMLScalarVolumeNode
    followupBrainMaskVolume: vtkMRMLScalarVolumeNode
    intervalYears: Annotated[float, WithinRange(0.0, 50.0)] = 0.0
    tissueSegmentation: vtkMRMLSegmentationNode
    resultsTable: vtkMRMLTableNode
    changeMap: vtkMRMLScalarVolumeNode
    runInBackground: bool = True


#
# MSAtrophyWidget
#


class MSAtrophyWidget(ParameterNodeGuiMixin, BackgroundJobMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
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

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MSAtrophy.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = MSAtrophyLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.runButton.connect("clicked(bool)", self.onRunButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.progressBar.setVisible(False)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self.removeObservers()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        running = self._job is not None and self._job.running
        self.ui.runButton.enabled = bool(p and p.t1Volume) and not running
        self.ui.cancelButton.enabled = running

    def _inputs(self) -> dict:
        p = self._parameterNode
        return {field: getattr(p, field) for field in INPUT_KEYS}

    def _ensureOutputs(self):
        p = self._parameterNode
        if not p.tissueSegmentation:
            p.tissueSegmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Tissues")
        if not p.resultsTable:
            p.resultsTable = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "Atrophy results")
        if p.followupT1Volume and not p.changeMap:
            p.changeMap = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Brain change map")

    def onRunButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to measure atrophy."), waitCursor=True):
            from MSPathobiologyLib import dependencies

            dependencies.ensure("MSAtrophy")
            self._ensureOutputs()
            p = self._parameterNode
            followup = {"t1": p.followupT1Volume, "brain_mask": p.followupBrainMaskVolume} if p.followupT1Volume else None
            interval = p.intervalYears or None
            outputs = (p.t1Volume, p.tissueSegmentation, p.resultsTable, p.changeMap)
            if p.runInBackground:
                self._startBackground(self._inputs(), followup, interval, outputs)
            else:
                def progress(fraction, text=""):
                    self._setProgress(fraction, text)
                    slicer.app.processEvents()

                progress(None, _("Measuring..."))
                try:
                    summary = self.logic.run(self._inputs(), followup, interval, *outputs[1:], progress=progress)
                finally:
                    self._setProgress(False)
                self._showResults(summary)

    def _startBackground(self, inputs, followup, interval, outputs):
        from MSPathobiologyLib.background import BackgroundSequence

        folders, steps = self.logic.prepareCommands(inputs, followup, interval)

        def finished(returnCode, lines):
            self._job = None
            self._setProgress(False)
            self._onParameterNodeModified()
            if returnCode != 0:
                self.ui.statusLabel.text = _("Stopped (code {code}).").format(code=returnCode)
                if returnCode > 0:
                    slicer.util.errorDisplay(_("Atrophy measurement failed."), detailedText="\n".join(lines[-30:]))
                return
            with slicer.util.tryWithErrorDisplay(_("Failed to load the atrophy results."), waitCursor=True):
                reference, segmentationNode, tableNode, mapNode = outputs
                summary = self.logic.loadResults(folders, reference, segmentationNode, tableNode, mapNode)
                self._showResults(summary)

        self._job = BackgroundSequence(steps,
                                       onLine=lambda line: setattr(self.ui.statusLabel, "text", line[-200:]),
                                       onProgress=lambda fraction: self._setProgress(fraction),
                                       onFinished=finished).start()
        self._onParameterNodeModified()

    def _showResults(self, summary: dict):
        self.ui.statusLabel.text = _("Done.")
        self.ui.resultsLabel.text = self.logic.summaryText(summary)


#
# MSAtrophyLogic
#


class MSAtrophyLogic(ScriptedLoadableModuleLogic):
    """Wiring between MRML nodes and ``mspathobiology.atrophy`` (run_case, run_pbvc)."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return MSAtrophyParameterNode(super().getParameterNode())

    @staticmethod
    def writeInputs(inputs: dict, followup: dict | None, folder: Path) -> tuple[dict, dict]:
        """Write the input nodes as NIfTI; lesion segmentations are exported on the T1 grid."""
        from MSPathobiologyLib.nodes import writeInputs

        reference = inputs.get("t1Volume")
        if reference is None:
            raise ValueError(_("A T1 volume is required."))
        paths = writeInputs(folder / "baseline", {INPUT_KEYS[f]: n for f, n in inputs.items() if f in INPUT_KEYS}, reference)
        followupPaths = {}
        if followup and followup.get("t1") is not None:
            followupPaths = writeInputs(folder / "followup", followup, followup["t1"])
        return paths, followupPaths

    def prepareCommands(self, inputs: dict, followup: dict | None = None, intervalYears=None):
        """Write the inputs; return the output folders and the child commands (title, command line)
        that run ``mspathobiology.atrophy.run_case`` and, with a follow-up, ``run_pbvc`` with progress
        (the functions behind ``mspathobiology atrophy`` / ``pbvc``, same output files)."""
        from MSPathobiologyLib.background import function_command_line
        from MSPathobiologyLib.nodes import workFolder

        work = workFolder("atrophy")
        paths, followupPaths = self.writeInputs(inputs, followup, work / "inputs")
        folders = {"atrophy": work / "atrophy", "pbvc": None}
        steps = [(_("tissue volumes"), function_command_line("mspathobiology.atrophy:run_case",
                                                             {k: str(v) for k, v in paths.items()}, str(folders["atrophy"])))]
        if followupPaths:
            folders["pbvc"] = work / "pbvc"
            steps.append((_("percent brain volume change"), function_command_line(
                "mspathobiology.atrophy:run_pbvc", str(paths["t1"]), str(followupPaths["t1"]), str(folders["pbvc"]),
                baseline_mask=str(paths["brain_mask"]) if "brain_mask" in paths else None,
                followup_mask=str(followupPaths["brain_mask"]) if "brain_mask" in followupPaths else None,
                interval_years=intervalYears, baseline_lesions=str(paths["lesions"]) if "lesions" in paths else None,
                baseline_parcellation=str(paths["parcellation"]) if "parcellation" in paths else None)))
        return folders, steps

    def run(self, inputs: dict, followup: dict | None, intervalYears, segmentationNode, tableNode, mapNode=None,
            progress=None) -> dict:
        """Measure in this process (``mspathobiology.atrophy.run_case`` and ``run_pbvc``) and fill the nodes."""
        from mspathobiology import atrophy
        from MSPathobiologyLib.nodes import workFolder

        report = progress or (lambda fraction, text="": None)
        work = workFolder("atrophy")
        paths, followupPaths = self.writeInputs(inputs, followup, work / "inputs")
        folders = {"atrophy": work / "atrophy", "pbvc": None}
        report(0.05, _("tissue classification"))
        atrophy.run_case(paths, folders["atrophy"])
        if followupPaths:
            report(0.5, _("percent brain volume change"))
            folders["pbvc"] = work / "pbvc"
            atrophy.run_pbvc(paths["t1"], followupPaths["t1"], folders["pbvc"], baseline_mask=paths.get("brain_mask"),
                             followup_mask=followupPaths.get("brain_mask"), interval_years=intervalYears,
                             baseline_lesions=paths.get("lesions"), baseline_parcellation=paths.get("parcellation"))
        report(0.95, _("loading results"))
        return self.loadResults(folders, inputs["t1Volume"], segmentationNode, tableNode, mapNode)

    def loadResults(self, folders: dict, referenceVolumeNode, segmentationNode, tableNode, mapNode=None) -> dict:
        """Load what ``run_case`` / ``run_pbvc`` wrote (file names from the ``files`` entry of
        ``atrophy.json`` / ``pbvc.json``): tissue labels as segments, the results and regional
        tables, the bar plot and, with a follow-up, the edge-displacement map over the baseline."""
        import mspathobiology_mrml as bridge
        from mspathobiology.io import read_image, read_json

        atrophyDir = Path(folders["atrophy"])
        document = read_json(atrophyDir / "atrophy.json")
        files = document.get("files", {})
        summary = {k: v for k, v in document.items() if not isinstance(v, (dict, list))}
        if files.get("tissue_labels") and segmentationNode is not None:
            bridge.label_image_to_segmentation(slicer.mrmlScene, read_image(atrophyDir / files["tissue_labels"], kind="label"),
                                               names=self.tissueNames(document) or None, name=segmentationNode.GetName(),
                                               node=segmentationNode, reference_volume_node=referenceVolumeNode)
        if folders.get("pbvc"):
            pbvcDir = Path(folders["pbvc"])
            pbvc = read_json(pbvcDir / "pbvc.json")
            summary.update({k: v for k, v in pbvc.items() if not isinstance(v, (dict, list))})
            pbvcFiles = pbvc.get("files", {})
            if pbvcFiles.get("edge_displacement_map") and mapNode is not None:
                self.showChangeMap(read_image(pbvcDir / pbvcFiles["edge_displacement_map"]), referenceVolumeNode, mapNode)
            if pbvcFiles.get("regional_change") and tableNode is not None:
                self._referencedTable(tableNode, "MSAtrophyRegionalChange", pbvcDir / pbvcFiles["regional_change"], " regional change")
        if tableNode is not None:
            self.fillTables(summary, tableNode)
            if files.get("regional_volumes"):
                self._referencedTable(tableNode, "MSAtrophyRegionalVolumes", atrophyDir / files["regional_volumes"], " regional volumes")
        return summary

    @staticmethod
    def _referencedTable(ownerNode, role, path, suffix):
        """Rows of a TSV into a table node referenced from ``ownerNode`` under ``role``."""
        import mspathobiology_mrml as bridge
        from mspathobiology.tables import read_table

        node = bridge.rows_to_table(slicer.mrmlScene, read_table(path), ownerNode.GetName() + suffix,
                                    node=ownerNode.GetNodeReference(role))
        ownerNode.SetNodeReferenceID(role, node.GetID())
        return node

    @staticmethod
    def tissueNames(document: dict) -> dict:
        """Segment names by label value from ``tissue_label_values`` ({"csf": 1, ...}) of atrophy.json."""
        pretty = {"csf": "CSF", "gm": "GM", "wm": "WM", "lesion": "Lesions"}
        values = document.get("tissue_label_values") or {}
        return {int(value): pretty.get(name, str(name)) for name, value in values.items()}

    @staticmethod
    def resultRows(summary: dict) -> list:
        rows = []
        for key, value in summary.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            unit = next((u for suffix, u in reversed(UNITS) if key.endswith(suffix)), "")
            rows.append({"measure": key, "value": float(value), "unit": unit})
        return rows

    def fillTables(self, summary: dict, tableNode) -> None:
        """Results table (measure, value, unit) and a bar plot of the tissue volumes (Plots module)."""
        import mspathobiology_mrml as bridge

        bridge.rows_to_table(slicer.mrmlScene, self.resultRows(summary), tableNode.GetName(),
                             columns=["measure", "value", "unit"], node=tableNode)
        bars = [{"tissue": label, "volume_ml": float(summary[key])} for key, label in PLOTTED_VOLUMES
                if isinstance(summary.get(key), (int, float))]
        if not bars:
            return
        volumesNode = tableNode.GetNodeReference("MSAtrophyVolumes")
        volumesNode = bridge.rows_to_table(slicer.mrmlScene, bars, tableNode.GetName() + " volumes",
                                           columns=["tissue", "volume_ml"], node=volumesNode)
        tableNode.SetNodeReferenceID("MSAtrophyVolumes", volumesNode.GetID())
        self.showBarPlot(volumesNode, tableNode)

    @staticmethod
    def showBarPlot(volumesTableNode, ownerNode):
        """Bar chart of ``volume_ml`` by ``tissue`` (vtkMRMLPlotSeriesNode bar type) shown in the layout."""
        scene = slicer.mrmlScene
        series = ownerNode.GetNodeReference("MSAtrophyPlotSeries")
        if series is None:
            series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", ownerNode.GetName() + " volumes")
            ownerNode.SetNodeReferenceID("MSAtrophyPlotSeries", series.GetID())
        series.SetAndObserveTableNodeID(volumesTableNode.GetID())
        series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeBar)
        series.SetLabelColumnName("tissue")
        series.SetYColumnName("volume_ml")
        series.SetColor(0.23, 0.49, 0.85)
        chart = ownerNode.GetNodeReference("MSAtrophyPlotChart")
        if chart is None:
            chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", ownerNode.GetName() + " chart")
            ownerNode.SetNodeReferenceID("MSAtrophyPlotChart", chart.GetID())
        chart.RemoveAllPlotSeriesNodeIDs()
        chart.AddAndObservePlotSeriesNodeID(series.GetID())
        chart.SetTitle(_("Tissue volumes"))
        chart.SetXAxisTitle(_("tissue"))
        chart.SetYAxisTitle(_("volume (mL)"))
        chart.SetLegendVisibility(False)
        if slicer.app.layoutManager() is not None:
            from MSPathobiologyLib import views

            views.showChart(chart)
        return chart

    @staticmethod
    def showChangeMap(image, baselineVolumeNode, mapNode):
        """Change map (Jacobian or edge displacement) as a foreground overlay on the baseline T1."""
        import numpy as np
        import SimpleITK as sitk

        import mspathobiology_mrml as bridge
        from MSPathobiologyLib import defaults, views

        mapNode = bridge.image_to_volume(slicer.mrmlScene, image, mapNode.GetName(), node=mapNode)
        values = sitk.GetArrayViewFromImage(image)
        finite = values[np.isfinite(values)]
        center = 1.0 if finite.size and np.median(finite) > 0.5 else 0.0  # Jacobian ~ 1, displacement ~ 0
        spread = float(np.percentile(np.abs(finite - center), 99)) if finite.size else 1.0
        views.setColorMap(mapNode, "vtkMRMLColorTableNodeFileDivergingBlueRed.txt")
        views.setWindowLevel(mapNode, 2 * max(spread, 1e-6), center)
        if baselineVolumeNode is not None and slicer.app.layoutManager() is not None:
            views.showVolumes(background=baselineVolumeNode, foreground=mapNode, foregroundOpacity=defaults.OVERLAY_OPACITY)
        return mapNode

    @staticmethod
    def summaryText(summary: dict) -> str:
        lines = []
        for key, label, fmt in (("icv_ml", "ICV", "{:.0f} mL"), ("brain_ml", "Brain", "{:.0f} mL"),
                                ("gm_ml", "GM", "{:.0f} mL"), ("wm_ml", "WM", "{:.0f} mL"), ("csf_ml", "CSF", "{:.0f} mL"),
                                ("lesion_ml", "Lesions", "{:.1f} mL"), ("thalamus_ml", "Thalamus", "{:.1f} mL"),
                                ("bpf", "BPF", "{:.3f}"), ("pbvc_percent", "PBVC", "{:+.2f} %"),
                                ("pbvc_annualised_percent_per_year", "PBVC per year", "{:+.2f} %/year")):
            if isinstance(summary.get(key), (int, float)):
                lines.append(f"{label}: {fmt.format(summary[key])}")
        return "\n".join(lines)


#
# MSAtrophyTest
#


class MSAtrophyTest(ScriptedLoadableModuleTest):
    """In-Slicer test on the small phantom built by the logic layer (no download)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_tissues_and_pbvc()

    def test_tissues_and_pbvc(self):
        import mspathobiology_mrml as bridge
        from mspathobiology.phantom import generate_subject

        self.delayDisplay("Generating the small phantom (two visits)")
        subject = generate_subject(seed=0, small=True, sessions=2)
        base, follow = subject.sessions
        scene = slicer.mrmlScene
        t1 = bridge.image_to_volume(scene, base.images["t1"], "T1 baseline")
        t1b = bridge.image_to_volume(scene, follow.images["t1"], "T1 follow-up")
        lesions = bridge.image_to_volume(scene, base.lesions, "lesions", labelmap=True)
        segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Tissues")
        table = scene.AddNewNodeByClass("vtkMRMLTableNode", "Atrophy results")
        changeMap = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Brain change map")

        logic = MSAtrophyLogic()
        inputs = {"t1Volume": t1, "lesions": lesions, "brainMaskVolume": None, "anatomyVolume": None, "parcellationVolume": None}
        self.delayDisplay("Measuring tissues and PBVC")
        summary = logic.run(inputs, {"t1": t1b, "brain_mask": None}, 1.0, segmentation, table, changeMap)

        self.assertGreaterEqual(segmentation.GetSegmentation().GetNumberOfSegments(), 3)
        measures = {r["measure"]: r["value"] for r in bridge.table_to_rows(table)}
        self.assertAlmostEqual(measures["bpf"], base.truth["bpf"], delta=0.02)
        self.assertAlmostEqual(measures["pbvc_percent"], follow.truth["pbvc_percent"], delta=0.5)
        self.assertIsNotNone(changeMap.GetImageData())
        chart = table.GetNodeReference("MSAtrophyPlotChart")
        self.assertIsNotNone(chart)
        self.assertEqual(chart.GetNumberOfPlotSeriesNodes(), 1)
        self.assertIn("GM", logic.summaryText(summary))
        self.delayDisplay("Test passed")
