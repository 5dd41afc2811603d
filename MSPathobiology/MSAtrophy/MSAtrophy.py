import os
import sys
from pathlib import Path
from typing import Annotated, Union

import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import parameterNodeWrapper, WithinRange
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode

# In a source checkout the shared packages sit in MSPathobiology/, the parent of this module's folder.
sys.path.extend({os.path.dirname(os.path.dirname(os.path.abspath(__file__)))} - set(sys.path))

from MSPathobiologyLib import cases  # noqa: E402
from MSPathobiologyLib.widgets import (describeModule, BackgroundJobMixin, ParameterNodeGuiMixin, connectButtons,  # noqa: E402
                                       loadModuleUi)

#: Parameter-node field -> image key of ``mspathobiology.atrophy`` (baseline visit).
INPUT_KEYS = {
    "t1Volume": "t1",
    "lesions": "lesions",
    "brainMaskVolume": "brain_mask",
    "anatomyVolume": "anatomy",
    "parcellationVolume": "parcellation",
}
#: Volumes shown in the bar plot: (key of the summary, bar label), in this order when present.
PLOTTED_VOLUMES = (("csf_ml", "CSF"), ("gm_ml", "GM"), ("wm_ml", "WM"), ("lesion_ml", "Lesions"),
                   ("deep_gm_ml", "Deep GM"), ("thalamus_ml", "Thalamus"))
#: Units of the result rows, by key suffix.
UNITS = (("_ml", "mL"), ("_percent", "%"), ("_percent_per_year", "%/year"), ("bpf", "fraction"))
#: Segment names of the tissue label values (``mspathobiology.atrophy``: 1 CSF, 2 GM, 3 WM, lesions).
TISSUE_NAMES = {"csf": "CSF", "gm": "GM", "wm": "WM", "lesion": "Lesions"}
#: Subject-hierarchy folder of this module's outputs (under the T1's study).
OUTPUT_FOLDER = "MS Atrophy"


HELP_TEXT = _("""
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
ACKNOWLEDGEMENT = _("""
Part of the MSPathobiology extension. SIENA/SIENAX (FSL) are the reference methods whose design is followed.
""")


#
# MSAtrophy
#


class MSAtrophy(ScriptedLoadableModule):
    """MS Atrophy (scripted module; see Slicer's ScriptedLoadableModule)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        describeModule(self.parent, _("MS Atrophy"), HELP_TEXT, ACKNOWLEDGEMENT)


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

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        self.ui = loadModuleUi(self, "MSAtrophy")
        self.logic = MSAtrophyLogic()
        connectButtons(self.ui, {"runButton": self.onRunButton, "cancelButton": self.onCancelButton})
        self.ui.progressBar.setVisible(False)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self.removeObservers()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        running = self._jobRunning()
        self.ui.runButton.enabled = bool(p and p.t1Volume) and not running
        self.ui.cancelButton.enabled = running

    def onRunButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to measure atrophy."), waitCursor=True):
            p = self._parameterNode
            p.tissueSegmentation, p.resultsTable, p.changeMap = self.logic.ensureOutputs(
                p.t1Volume, p.tissueSegmentation, p.resultsTable, p.changeMap, bool(p.followupT1Volume))
            inputs = {field: getattr(p, field) for field in INPUT_KEYS}
            followup = {"t1": p.followupT1Volume, "brain_mask": p.followupBrainMaskVolume} if p.followupT1Volume else None
            interval = p.intervalYears or None
            outputs = (p.t1Volume, p.tissueSegmentation, p.resultsTable, p.changeMap)
            if p.runInBackground:
                from MSPathobiologyLib.background import BackgroundSequence

                folders, steps = self.logic.prepareCommands(inputs, followup, interval)
                self._startJob(BackgroundSequence(steps),
                               lambda: self._showResults(self.logic.loadResults(folders, *outputs)),
                               _("Atrophy measurement failed."))
                return

            def progress(fraction, text=""):
                self._setProgress(fraction, text)
                slicer.app.processEvents()

            progress(None, _("Measuring..."))
            try:
                summary = self.logic.run(inputs, followup, interval, *outputs[1:], progress=progress)
            finally:
                self._setProgress(False)
            self._showResults(summary)

    def _showResults(self, summary: dict):
        from MSPathobiologyLib import defaults, views

        p = self._parameterNode
        self.ui.statusLabel.text = _("Done.")
        self.ui.resultsLabel.text = self.logic.summaryText(summary)
        chart = p.resultsTable.GetNodeReference("MSAtrophyPlotChart") if p.resultsTable else None
        if chart is not None:
            views.showChart(chart)
        if p.changeMap is not None and p.changeMap.GetImageData() is not None and p.followupT1Volume:
            views.showVolumes(background=p.t1Volume, foreground=p.changeMap, foregroundOpacity=defaults.OVERLAY_OPACITY)


#
# MSAtrophyLogic
#


class MSAtrophyLogic(ScriptedLoadableModuleLogic):
    """Wiring between MRML nodes and ``mspathobiology.atrophy`` (tissue volumes and PBVC, in memory).
    No GUI calls."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return MSAtrophyParameterNode(super().getParameterNode())

    @staticmethod
    def ensureOutputs(t1Volume, segmentationNode=None, tableNode=None, mapNode=None, withFollowup=False):
        """The outputs (new ones under the T1's study when missing)."""
        from MSPathobiologyLib.nodes import outputNode

        segmentationNode = segmentationNode or outputNode("vtkMRMLSegmentationNode", "Tissues", t1Volume, OUTPUT_FOLDER)
        tableNode = tableNode or outputNode("vtkMRMLTableNode", "Atrophy results", t1Volume, OUTPUT_FOLDER)
        if withFollowup and mapNode is None:
            mapNode = outputNode("vtkMRMLScalarVolumeNode", "Brain change map", t1Volume, OUTPUT_FOLDER)
        return segmentationNode, tableNode, mapNode

    @staticmethod
    def _images(nodes: dict, reference) -> dict:
        from MSPathobiologyLib.nodes import imageFromNode, imagesFromNodes

        if reference is None:
            raise ValueError(_("A T1 volume is required."))
        return imagesFromNodes(nodes, reference, onGridOf=imageFromNode(reference))

    def run(self, inputs: dict, followup: dict | None, intervalYears, segmentationNode, tableNode, mapNode=None,
            progress=None) -> dict:
        """Measure in memory (``mspathobiology.atrophy.analyse`` and, with a follow-up, ``analyse_pbvc``) and fill the nodes."""
        from mspathobiology import atrophy

        report = progress or (lambda fraction, text="": None)
        images = self._images({INPUT_KEYS[f]: n for f, n in inputs.items() if f in INPUT_KEYS}, inputs.get("t1Volume"))
        report(0.05, _("tissue classification"))
        tissues = atrophy.analyse(images)
        pbvc = None
        if followup and followup.get("t1") is not None:
            report(0.5, _("percent brain volume change"))
            later = self._images(followup, followup["t1"])
            visits = {"baseline": images["t1"], "followup": later["t1"], "baseline_mask": images.get("brain_mask"),
                      "followup_mask": later.get("brain_mask"), "baseline_lesions": images.get("lesions"),
                      "baseline_parcellation": images.get("parcellation")}
            found = atrophy.analyse_pbvc({k: v for k, v in visits.items() if v is not None}, interval_years=intervalYears)
            pbvc = {**found.summary, "displacement_map": found.displacement_map, "regions": found.rows}
        report(0.95, _("showing results"))
        return self.fillNodes(tissues.summary, tissues.tissue_labels, tissues.rows, pbvc, inputs["t1Volume"],
                              segmentationNode, tableNode, mapNode)

    def prepareCommands(self, inputs: dict, followup: dict | None = None, intervalYears=None):
        """For child processes: write the inputs; return the output folders and the commands (title,
        command line) running ``mspathobiology.atrophy.run_case`` and, with a follow-up, ``run_pbvc``."""
        from MSPathobiologyLib.background import function_command_line
        from MSPathobiologyLib.nodes import workFolder, writeInputs

        work = workFolder("atrophy")
        reference = inputs.get("t1Volume")
        if reference is None:
            raise ValueError(_("A T1 volume is required."))
        paths = writeInputs(work / "inputs" / "baseline", {INPUT_KEYS[f]: n for f, n in inputs.items() if f in INPUT_KEYS},
                            reference)
        folders = {"atrophy": work / "atrophy", "pbvc": None}
        steps = [(_("tissue volumes"), function_command_line("mspathobiology.atrophy:run_case",
                                                             {k: str(v) for k, v in paths.items()}, str(folders["atrophy"])))]
        if followup and followup.get("t1") is not None:
            later = writeInputs(work / "inputs" / "followup", followup, followup["t1"])
            folders["pbvc"] = work / "pbvc"
            optional = {"baseline_mask": paths.get("brain_mask"), "followup_mask": later.get("brain_mask"),
                        "baseline_lesions": paths.get("lesions"), "baseline_parcellation": paths.get("parcellation")}
            steps.append((_("percent brain volume change"), function_command_line(
                "mspathobiology.atrophy:run_pbvc", str(paths["t1"]), str(later["t1"]), str(folders["pbvc"]),
                interval_years=intervalYears, **{k: str(v) for k, v in optional.items() if v is not None})))
        return folders, steps

    def loadResults(self, folders: dict, referenceVolumeNode, segmentationNode, tableNode, mapNode=None) -> dict:
        """Read what the child processes wrote (file names from the ``files`` entry of ``atrophy.json`` /
        ``pbvc.json``) and fill the nodes as :meth:`run` does."""
        from mspathobiology.io import read_image, read_json
        from mspathobiology.tables import read_table

        atrophyDir = Path(folders["atrophy"])
        document = read_json(atrophyDir / "atrophy.json")
        files = document.get("files", {})
        labels = read_image(atrophyDir / files["tissue_labels"], kind="label") if files.get("tissue_labels") else None
        regions = read_table(atrophyDir / files["regional_volumes"]) if files.get("regional_volumes") else None
        pbvc = None
        if folders.get("pbvc"):
            pbvcDir = Path(folders["pbvc"])
            pbvc = dict(read_json(pbvcDir / "pbvc.json"))
            pbvcFiles = pbvc.pop("files", {})
            if pbvcFiles.get("edge_displacement_map"):
                pbvc["displacement_map"] = read_image(pbvcDir / pbvcFiles["edge_displacement_map"])
            if pbvcFiles.get("regional_change"):
                pbvc["regions"] = read_table(pbvcDir / pbvcFiles["regional_change"])
        return self.fillNodes(document, labels, regions, pbvc, referenceVolumeNode, segmentationNode, tableNode, mapNode)

    def fillNodes(self, tissueSummary: dict, labels, regions, pbvc, referenceVolumeNode, segmentationNode, tableNode,
                  mapNode=None) -> dict:
        """Tissue labels as segments, the results and regional tables, the bar plot and, with PBVC, the
        edge-displacement map. Returns the flat summary."""
        import numpy as np
        import SimpleITK as sitk

        import mspathobiology_mrml as bridge
        from mspathobiology.defaults.atrophy import LESION_TISSUE_LABEL

        scene = slicer.mrmlScene
        summary = {k: v for k, v in tissueSummary.items() if not isinstance(v, (dict, list))}
        if labels is not None and segmentationNode is not None:
            names = dict(zip((1, 2, 3, LESION_TISSUE_LABEL), TISSUE_NAMES.values()))
            present = {int(v) for v in np.unique(sitk.GetArrayViewFromImage(labels))}
            bridge.label_image_to_segmentation(scene, labels, names={k: v for k, v in names.items() if k in present},
                                               name=segmentationNode.GetName(), node=segmentationNode,
                                               reference_volume_node=referenceVolumeNode)
        if pbvc is not None:
            summary.update({k: v for k, v in pbvc.items() if isinstance(v, (int, float, str, bool)) or v is None})
            if pbvc.get("displacement_map") is not None and mapNode is not None:
                self.fillChangeMap(pbvc["displacement_map"], mapNode)
            if pbvc.get("regions") and tableNode is not None:
                self._referencedTable(tableNode, "MSAtrophyRegionalChange", pbvc["regions"], " regional change")
        if tableNode is not None:
            self.fillTables(summary, tableNode)
            if regions:
                self._referencedTable(tableNode, "MSAtrophyRegionalVolumes", regions, " regional volumes")
        return summary

    @staticmethod
    def _referencedTable(ownerNode, role, rows, suffix):
        """Rows into a table node referenced from ``ownerNode`` under ``role``."""
        import mspathobiology_mrml as bridge

        from mspathobiology_mrml.hierarchy import place_outputs

        node = bridge.rows_to_table(slicer.mrmlScene, rows, ownerNode.GetName() + suffix,
                                    node=ownerNode.GetNodeReference(role))
        ownerNode.SetNodeReferenceID(role, node.GetID())
        place_outputs(ownerNode, [node], OUTPUT_FOLDER)
        return node

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
        """Results table (measure, value, unit) and a bar chart of the tissue volumes (Plots module nodes)."""
        import mspathobiology_mrml as bridge

        bridge.rows_to_table(slicer.mrmlScene, self.resultRows(summary), tableNode.GetName(),
                             columns=["measure", "value", "unit"], node=tableNode)
        bars = [{"tissue": label, "volume_ml": float(summary[key])} for key, label in PLOTTED_VOLUMES
                if isinstance(summary.get(key), (int, float))]
        if bars:
            volumesNode = bridge.rows_to_table(slicer.mrmlScene, bars, tableNode.GetName() + " volumes",
                                               columns=["tissue", "volume_ml"],
                                               node=tableNode.GetNodeReference("MSAtrophyVolumes"))
            tableNode.SetNodeReferenceID("MSAtrophyVolumes", volumesNode.GetID())
            self.barChart(volumesNode, tableNode)

    @staticmethod
    def barChart(volumesTableNode, ownerNode):
        """Bar chart of ``volume_ml`` by ``tissue`` (vtkMRMLPlotSeriesNode bar type), referenced from ``ownerNode``."""
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
        from mspathobiology_mrml.hierarchy import place_outputs

        place_outputs(ownerNode, [volumesTableNode, series, chart], OUTPUT_FOLDER)
        return chart

    @staticmethod
    def fillChangeMap(image, mapNode):
        """The edge-displacement map (mm, 0 = no change) in ``mapNode`` with a diverging colour map."""
        import numpy as np
        import SimpleITK as sitk

        import mspathobiology_mrml as bridge

        mapNode = bridge.image_to_volume(slicer.mrmlScene, image, mapNode.GetName(), node=mapNode)
        values = sitk.GetArrayViewFromImage(image)
        finite = values[np.isfinite(values)]
        spread = float(np.percentile(np.abs(finite), 99)) if finite.size else 1.0
        display = mapNode.GetDisplayNode()
        display.SetAndObserveColorNodeID("vtkMRMLColorTableNodeFileDivergingBlueRed.txt")
        display.SetAutoWindowLevel(False)
        display.SetWindowLevel(2 * max(spread, 1e-6), 0.0)
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
# Case review: what MS Atrophy loads and saves for a case (MSPathobiologyLib.cases)
#


cases.register(cases.CaseParticipant(
    module="MSAtrophy",
    parameterNode=lambda: MSAtrophyLogic().getParameterNode(),
    inputs={"t1Volume": "t1", "lesions": "lesions", "brainMaskVolume": "brain_mask", "anatomyVolume": "anatomy",
            "parcellationVolume": "parcellation", "followupT1Volume": "followup_t1"},
    outputs=(cases.CaseFile("tissueSegmentation", "tissues", "tissues", "dseg", ".nii.gz", "labels"),
             cases.CaseFile("resultsTable", "atrophy", "atrophy", "stats", ".tsv", "table")),
))


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
        from MSPathobiologyLib import selftest_data

        self.delayDisplay("Generating the small phantom (two visits)")
        data = selftest_data.atrophy_data()
        scene = slicer.mrmlScene
        t1 = bridge.image_to_volume(scene, data["t1"], "T1 baseline")
        t1b = bridge.image_to_volume(scene, data["followup_t1"], "T1 follow-up")
        lesions = bridge.image_to_volume(scene, data["lesions"], "lesions", labelmap=True)
        mask = bridge.image_to_volume(scene, data["brain_mask"], "brain mask", labelmap=True)
        maskb = bridge.image_to_volume(scene, data["followup_brain_mask"], "brain mask follow-up", labelmap=True)
        logic = MSAtrophyLogic()
        segmentation, table, changeMap = logic.ensureOutputs(t1, withFollowup=True)

        inputs = {"t1Volume": t1, "lesions": lesions, "brainMaskVolume": mask, "anatomyVolume": None, "parcellationVolume": None}
        self.delayDisplay("Measuring tissues and PBVC")
        summary = logic.run(inputs, {"t1": t1b, "brain_mask": maskb}, 1.0, segmentation, table, changeMap)

        self.assertGreaterEqual(segmentation.GetSegmentation().GetNumberOfSegments(), 3)
        measures = {r["measure"]: r["value"] for r in bridge.table_to_rows(table)}
        self.assertAlmostEqual(measures["bpf"], data["truth_bpf"], delta=0.02)
        self.assertAlmostEqual(measures["pbvc_percent"], data["truth_pbvc_percent"], delta=0.5)
        self.assertIsNotNone(changeMap.GetImageData())
        chart = table.GetNodeReference("MSAtrophyPlotChart")
        self.assertIsNotNone(chart)
        self.assertEqual(chart.GetNumberOfPlotSeriesNodes(), 1)
        self.assertIn("GM", logic.summaryText(summary))
        self.delayDisplay("Test passed")
