import math
import os
import pathlib
import sys
from typing import Annotated, Union

import qt
import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import parameterNodeWrapper, WithinRange
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode

# In a source checkout the shared packages sit in MSPathobiology/, the parent of this module's folder.
sys.path.extend({os.path.dirname(os.path.dirname(os.path.abspath(__file__)))} - set(sys.path))

from MSPathobiologyLib.widgets import (describeModule, BackgroundJobMixin, ParameterNodeGuiMixin, connectButtons,  # noqa: E402
                                       loadModuleUi)
from MSPathobiologyLib.rating import RatingLoop, ReadingLogicMixin, readingPosition  # noqa: E402
from MSPathobiologyLib.reading import LesionReadingMixin  # noqa: E402
from mspathobiology.defaults import rims as RATING_DEFAULTS  # noqa: E402

#: Rating buttons / keys 1-3: (label stored in the ratings file, button text).
RATING_LABELS = list(zip(RATING_DEFAULTS.SEL_LABELS, ("Confirm SEL (1)", "Reject (2)", "Unsure (3)")))
#: Task of the SEL ratings in the shared rating store (mspathobiology.rims.ratings).
RATING_TASK = "sel"
#: Parameter-node fields of the visits, baseline first.
VISIT_FIELDS = ("baselineVolume", "visit2Volume", "visit3Volume", "visit4Volume", "visit5Volume")
#: Parameter-node fields of the optional FLAIR of each visit (same order).
FLAIR_FIELDS = ("baselineFlair", "visit2Flair", "visit3Flair", "visit4Flair", "visit5Flair")
#: Subject-hierarchy folder of this module's outputs (under the baseline volume's study).
OUTPUT_FOLDER = "MS Slowly Expanding Lesions"


HELP_TEXT = _("""
Slowly expanding lesions (SEL), a marker of chronic active multiple sclerosis lesions, from three or more
T1 visits and the baseline lesions.
<ul>
<li><b>Apply</b>: each visit is registered rigidly, then non-linearly (demons) to the baseline; the
log-Jacobian maps, corrected for global brain change, give each lesion's expansion per visit. A
candidate expands constantly (positive linear slope, no shrinking interval) and concentrically (outer
band against core), is at least 10 voxels and grows more than the tissue around it (Elliott et al.,
Brain 2019 and MSJ 2023). Outputs: one log-Jacobian map per follow-up, the SEL table (lesion table +
SEL columns) and a plot of each lesion's volume change per visit.</li>
<li><b>Start / resume reading</b>: candidates in order of SEL score (or random and blinded); the views are
centred on each one with its Jacobian map over the baseline and its volume curve in the plot view.
Keys <b>1</b> confirm, <b>2</b> reject, <b>3</b> unsure, <b>Space</b> / <b>Backspace</b> move,
<b>U</b> undoes. Every rating is saved at once in your own ratings file, the same store as rim ratings,
so reading resumes where you stopped and rater agreement (<code>mspathobiology agreement</code>) covers SEL.</li>
</ul>
""")
ACKNOWLEDGEMENT = _("""
Part of the MSPathobiology extension. SEL method after Elliott et al. (Brain 2019; Mult Scler 2023).
""")


#
# MSSlowlyExpandingLesions
#


class MSSlowlyExpandingLesions(ScriptedLoadableModule):
    """MS Slowly Expanding Lesions (scripted module; see Slicer's ScriptedLoadableModule)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        describeModule(self.parent, _("MS Slowly Expanding Lesions"), HELP_TEXT, ACKNOWLEDGEMENT)


#
# MSSlowlyExpandingLesionsParameterNode
#


@parameterNodeWrapper
class MSSlowlyExpandingLesionsParameterNode:
    """
    baselineVolume, visit2Volume .. visit5Volume - T1 of each visit (>= 3), baseline first.
    baselineFlair .. visit5Flair - optional FLAIR of each visit (all or none): FLAIR columns, lesion locations.
    visitTimes - optional visit times ("0, 1.1, 2"), the unit of every slope.
    lesions - baseline lesion segmentation or labelmap; brainMask - optional baseline brain mask.
    selTable - output SEL table (it references the log-Jacobian maps, volume table and chart).
    logjacVolume - the log-Jacobian map shown while reading.
    runInBackground - run ``mspathobiology.sel.run`` in a child process.
    raterName, caseId, ratingsFolder, candidatesOnly, blinded - the rating session.
    zoomOnLesion, autoAdvance, confidence - reading preferences.
    """

    baselineVolume: vtkMRMLScalarVolumeNode
    visit2Volume: vtkMRMLScalarVolumeNode
    visit3Volume: vtkMRMLScalarVolumeNode
    visit4Volume: vtkMRMLScalarVolumeNode
    visit5Volume: vtkMRMLScalarVolumeNode
    baselineFlair: vtkMRMLScalarVolumeNode
    visit2Flair: vtkMRMLScalarVolumeNode
    visit3Flair: vtkMRMLScalarVolumeNode
    visit4Flair: vtkMRMLScalarVolumeNode
    visit5Flair: vtkMRMLScalarVolumeNode
    visitTimes: str = ""
    lesions: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]
    brainMask: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]
    selTable: vtkMRMLTableNode
    logjacVolume: vtkMRMLScalarVolumeNode
    runInBackground: bool = False
    raterName: str = ""
    caseId: str = ""
    ratingsFolder: pathlib.Path
    candidatesOnly: bool = True
    blinded: bool = False
    zoomOnLesion: bool = True
    autoAdvance: bool = True
    confidence: Annotated[int, WithinRange(RATING_DEFAULTS.CONFIDENCE_MIN, RATING_DEFAULTS.CONFIDENCE_MAX)] = 3


#
# MSSlowlyExpandingLesionsWidget
#


class MSSlowlyExpandingLesionsWidget(LesionReadingMixin, ParameterNodeGuiMixin, BackgroundJobMixin,
                                     ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Uses ScriptedLoadableModuleWidget base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._currentLesion = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        self.ui = loadModuleUi(self, "MSSlowlyExpandingLesions")
        self.logic = MSSlowlyExpandingLesionsLogic()
        connectButtons(self.ui, {"applyButton": self.onApplyButton, "cancelButton": self.onCancelButton,
                                 "startButton": self.onStartButton})
        self.ui.progressBar.setVisible(False)
        self.setupReading()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self.cleanupReading()
        self.removeObservers()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        if not p:
            return
        running = self._jobRunning()
        enoughVisits = len(self.logic.visitNodes(p)) >= 3
        self.ui.applyButton.enabled = bool(enoughVisits and p.lesions) and not running
        self.ui.cancelButton.enabled = running
        self.ui.startButton.enabled = bool(p.selTable and p.raterName.strip() and p.caseId.strip())
        session = self.logic.session
        if session is not None and session.case != p.caseId.strip():  # that subject's ratings are saved
            self.closeReading(_("Press Start / resume reading for {case}.").format(case=p.caseId))
        self.updateReadingState()

    # --- analysis -----------------------------------------------------------------------

    def onApplyButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to find slowly expanding lesions."), waitCursor=True):
            p = self._parameterNode
            visits = self.logic.visitNodes(p)
            flair = self.logic.flairNodes(p)
            times = self.logic.parseTimes(p.visitTimes, len(visits))
            if p.runInBackground:
                from MSPathobiologyLib.background import BackgroundSequence

                folder, steps = self.logic.prepareCommands(visits, p.lesions, p.brainMask, times, flair)
                self._startJob(BackgroundSequence(steps),
                               lambda: self._showResults(self.logic.loadResults(folder, visits[0], p.selTable)),
                               _("The SEL analysis failed."))
                return

            def progress(fraction, text=""):
                self._setProgress(fraction, text)
                slicer.app.processEvents()

            progress(0.0, _("Registering the visits..."))
            try:
                nodes = self.logic.analyse(visits, p.lesions, p.brainMask, times, tableNode=p.selTable, progress=progress,
                                           flairNodes=flair)
            finally:
                self._setProgress(False)
            self._showResults(nodes)

    def _showResults(self, nodes) -> None:
        from MSPathobiologyLib import defaults, views

        p = self._parameterNode
        p.selTable = nodes.table
        p.logjacVolume = nodes.logjac[-1] if nodes.logjac else None
        self.ui.statusLabel.text = _("Done.")
        self.ui.resultsLabel.text = self.logic.summaryText(nodes)
        views.showVolumes(background=p.baselineVolume, foreground=p.logjacVolume,
                          foregroundOpacity=defaults.OVERLAY_OPACITY)
        if nodes.chart is not None:
            views.showChart(nodes.chart)

    # --- reading ------------------------------------------------------------------------

    def onStartButton(self) -> None:
        from MSPathobiologyLib import views

        with slicer.util.tryWithErrorDisplay(_("Failed to open the rating session."), waitCursor=True):
            p = self._parameterNode
            session = self.logic.openSession(self.ratingsFolder(p), p.caseId, p.raterName, p.selTable,
                                             candidatesOnly=p.candidatesOnly, blinded=p.blinded)
            views.showOutlines(p.lesions)  # the Jacobian map stays visible
            self.startReading(session)
            if not session.order:
                self.ui.currentLesionLabel.text = _("No SEL candidate to rate.")

    def _itemText(self, lesionId) -> str:
        session = self.logic.session
        text = _("Lesion {id}").format(id=lesionId)
        score = session.score(lesionId)  # None when blinded
        if score is not None:
            text += f"  SEL score {float(score):.3f}"
            grade = self.logic.lesionRow(lesionId).get("sel_grade")
            text += f" ({grade})" if grade else ""
        rating = session.rating(lesionId)
        if rating:
            text += f"  \u2713 {rating['label']}"
        return text

    def _lesionText(self, lesionId) -> str:
        return self.logic.lesionText(lesionId)

    def _showLesion(self, lesionId) -> None:
        """Its Jacobian map over the baseline, its volume curve in the plot view."""
        from MSPathobiologyLib import defaults, views

        p = self._parameterNode
        views.showVolumes(background=p.baselineVolume, foreground=p.logjacVolume,
                          foregroundOpacity=defaults.OVERLAY_OPACITY)
        chart = self.logic.showLesionInChart(p.selTable, lesionId)
        if chart is not None:
            views.showChart(chart)

    def _ratingLabel(self, index: int) -> str:
        return RATING_LABELS[index][0]


#
# MSSlowlyExpandingLesionsLogic
#


class MSSlowlyExpandingLesionsLogic(ReadingLogicMixin, ScriptedLoadableModuleLogic):
    """Wiring between MRML nodes and ``mspathobiology.sel.analyse`` (through ``mspathobiology_mrml.sel``)
    and the shared rating store (task ``sel``). No GUI calls."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.ratings = RatingLoop()
        self._rows = {}

    def getParameterNode(self):
        return MSSlowlyExpandingLesionsParameterNode(super().getParameterNode())

    @staticmethod
    def visitNodes(parameterNode) -> list:
        """The selected visit volumes, baseline first (empty selectors skipped)."""
        return [getattr(parameterNode, f) for f in VISIT_FIELDS if getattr(parameterNode, f) is not None]

    @staticmethod
    def flairNodes(parameterNode):
        """The FLAIR of each selected visit, or None when no FLAIR is selected; a FLAIR is needed for
        every visit or none."""
        pairs = [(getattr(parameterNode, v), getattr(parameterNode, f)) for v, f in zip(VISIT_FIELDS, FLAIR_FIELDS)]
        flair = [f for v, f in pairs if v is not None]
        if all(f is None for _, f in pairs):
            return None
        if any(f is None for f in flair) or any(v is None and f is not None for v, f in pairs):
            raise ValueError(_("Select a FLAIR for every visit, or none."))
        return flair

    @staticmethod
    def parseTimes(text: str, nVisits: int):
        """Visit times from ``"0, 1.1, 2"`` (commas or spaces), or None for an empty text."""
        parts = [t for t in str(text or "").replace(",", " ").split() if t]
        if not parts:
            return None
        try:
            times = [float(t) for t in parts]
        except ValueError:
            raise ValueError(_("Visit times must be numbers, e.g. 0, 1, 2 (got {text!r}).").format(text=text)) from None
        if len(times) != nVisits:
            raise ValueError(_("{n} visit times for {m} visits.").format(n=len(times), m=nVisits))
        return times

    def analyse(self, visitNodes, lesionsNode, brainMaskNode=None, times=None, tableNode=None, progress=None,
                flairNodes=None):
        """``mspathobiology.sel.analyse`` on the nodes; results into nodes of the scene (the SEL table node,
        which references one log-Jacobian volume per follow-up, the volume-per-visit table and a chart)."""
        from mspathobiology_mrml import sel as selBridge

        nodes = selBridge.analyse_nodes(slicer.mrmlScene, visitNodes, lesionsNode, brainMaskNode, flair_nodes=flairNodes,
                                        times=times, name="SEL", table_node=tableNode, folder_name=OUTPUT_FOLDER,
                                        progress=progress)
        self._rows = {int(r["id"]): r for r in nodes.result.rows}
        return nodes

    def prepareCommands(self, visitNodes, lesionsNode, brainMaskNode=None, times=None, flairNodes=None):
        """For a child process: write the visits, the lesions and mask on the baseline grid; return the
        output folder and the command running ``mspathobiology.sel.run``."""
        from mspathobiology.io import write_image
        from mspathobiology_mrml import sel as selBridge
        from MSPathobiologyLib.background import function_command_line
        from MSPathobiologyLib.nodes import workFolder

        work = workFolder("sel")
        images = selBridge.images_from_nodes(visitNodes, lesionsNode, brainMaskNode, flairNodes)
        (work / "inputs").mkdir(parents=True, exist_ok=True)
        visits = [str(write_image(image, work / "inputs" / f"t1_visit-{n + 1:02d}.nii.gz"))
                  for n, image in enumerate(images["t1"])]
        lesions = str(write_image(images["lesions"], work / "inputs" / "lesions.nii.gz"))
        options = {"times": times}
        if "flair" in images:
            options["flair"] = [str(write_image(image, work / "inputs" / f"flair_visit-{n + 1:02d}.nii.gz"))
                                for n, image in enumerate(images["flair"])]
        if "brain_mask" in images:
            options["brain_mask"] = str(write_image(images["brain_mask"], work / "inputs" / "brain_mask.nii.gz"))
        folder = work / "sel"
        return folder, [(_("slowly expanding lesions"), function_command_line(
            "mspathobiology.sel:run", visits, lesions, str(folder), **options))]

    def loadResults(self, folder, baselineNode, tableNode=None):
        """Read what ``mspathobiology.sel.run`` wrote in ``folder`` into nodes, as :meth:`analyse` does."""
        from mspathobiology_mrml import sel as selBridge

        result = selBridge.read_result(folder)
        nodes = selBridge.result_to_nodes(slicer.mrmlScene, result, name="SEL", table_node=tableNode,
                                          input_node=baselineNode, folder_name=OUTPUT_FOLDER)
        self._rows = {int(r["id"]): r for r in result.rows}
        return nodes

    @staticmethod
    def summaryText(nodes) -> str:
        s = nodes.result.summary
        share = s.get("sel_volume_share")
        text = _("{n} SEL candidates ({d} definite) among {e} evaluated lesions ({t} in all)").format(
            n=s["sel_count"], d=s["sel_definite_count"], e=s["lesions_evaluated"], t=s["lesion_count"])
        if share is not None:
            text += _("; {p:.1f} % of the lesion volume").format(p=100.0 * share)
        change = ", ".join(f"{v:+.2f} %" for v in s.get("global_volume_change_percent", []))
        return text + _(". Global brain change per follow-up (removed from the maps): {c}.").format(c=change)

    def rowsFromTable(self, tableNode) -> dict:
        import mspathobiology_mrml as bridge

        self._rows = {int(r["id"]): r for r in bridge.table_to_rows(tableNode)} if tableNode is not None else {}
        return self._rows

    # --- the rating session (the rims rating store, task "sel") ---------------------------

    def openSession(self, folder, caseId: str, rater: str, tableNode, candidatesOnly: bool = True, blinded: bool = False):
        """Open (create or resume) this rater's ratings of the subject's SEL candidates (every lesion when
        ``candidatesOnly`` is false), ordered by SEL score, or randomly and blinded."""
        from mspathobiology.rims.ratings import sel_lesions_to_rate

        if tableNode is None or tableNode.GetNumberOfRows() == 0:
            raise ValueError(_("Run the analysis first (the SEL table is empty)."))
        rows = list(self.rowsFromTable(tableNode).values())
        return self.ratings.open(folder, caseId, rater, sel_lesions_to_rate(rows, candidatesOnly), RATING_TASK, blinded)

    def lesionText(self, lesionId: int) -> str:
        """What the reader sees about the current lesion (scores hidden when blinded)."""
        session = self.session
        parts = [readingPosition(session, lesionId)]
        row = self.lesionRow(lesionId)
        if session.score(lesionId) is not None and row:
            expansion = row.get("sel_expansion_logjac")
            if expansion is not None:
                parts.append(_("expansion at the last visit {p:+.1f} % (relative to the brain), SEL score {s:.3f}").format(
                    p=100.0 * math.expm1(float(expansion)), s=float(session.score(lesionId))))
        rating = session.rating(lesionId)
        parts.append(_("rated: {label}").format(label=rating["label"]) if rating else _("not rated yet"))
        return "\n".join(parts)

    def showLesionInChart(self, tableNode, lesionId: int):
        """Point the SEL chart at ``lesionId``'s volume curve; returns the chart node (None without one)."""
        from mspathobiology_mrml import sel as selBridge

        if tableNode is None:
            return None
        nodes = selBridge.output_nodes(tableNode)
        if nodes.chart is None or nodes.volumes is None:
            return None
        selBridge.show_lesion_in_chart(nodes, lesionId)
        return nodes.chart

    def fieldOfView(self, lesionId: int) -> float:
        """Field of view (mm) showing the lesion with a margin around it (as for rim reading)."""
        return self.viewFieldOfView(self.lesionRow(lesionId).get("long_axis_mm") or 0.0)


#
# MSSlowlyExpandingLesionsTest
#


class MSSlowlyExpandingLesionsTest(ScriptedLoadableModuleTest):
    """In-Slicer test on the small longitudinal phantom built by the logic layer (no download)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_find_and_rate_candidates()

    def test_find_and_rate_candidates(self):
        import tempfile

        import mspathobiology_mrml as bridge
        from MSPathobiologyLib import selftest_data, views

        self.delayDisplay("Generating the small longitudinal phantom (3 visits)")
        data = selftest_data.sel_data()
        scene = slicer.mrmlScene
        visits = [bridge.image_to_volume(scene, image, f"T1 visit {n + 1}") for n, image in enumerate(data["visits"])]
        lesions = bridge.label_image_to_segmentation(scene, data["lesions"], name="Baseline lesions",
                                                     reference_volume_node=visits[0])
        mask = bridge.image_to_volume(scene, data["brain_mask"], "Brain mask", labelmap=True)

        self.delayDisplay("Finding slowly expanding lesions")
        logic = MSSlowlyExpandingLesionsLogic()
        nodes = logic.analyse(visits, lesions, mask)
        rows = bridge.table_to_rows(nodes.table)
        self.assertEqual(len(rows), data["n_lesions"])
        candidates = [r["id"] for r in rows if r["sel_candidate"]]
        self.assertTrue(candidates, "no SEL candidate found on the phantom")
        self.assertLessEqual(set(candidates), set(data["truth_sel"]))  # only lesions drawn expanding
        self.assertEqual(len(nodes.logjac), 2)
        self.assertIn(str(len(candidates)), logic.summaryText(nodes))

        self.delayDisplay("Rating candidates, undoing one, then resuming")
        folder = tempfile.mkdtemp()
        session = logic.openSession(folder, "sub-01", "tester", nodes.table)
        self.assertEqual(sorted(session.order), sorted(candidates))
        first = session.next_unrated()
        views.showVolumes(background=visits[0], foreground=nodes.logjac[-1], foregroundOpacity=0.5)
        chart = logic.showLesionInChart(nodes.table, first)
        views.showChart(chart)
        self.assertEqual(chart.GetNthPlotSeriesNode(0).GetYColumnName(), f"lesion_{first}")
        views.centerOn(logic.centroid(first), logic.fieldOfView(first))
        layoutManager = slicer.app.layoutManager()
        red = layoutManager.sliceWidget("Red") if layoutManager is not None else None
        if red is not None:  # with a main window: the view is zoomed on the lesion
            self.assertAlmostEqual(red.mrmlSliceNode().GetFieldOfView()[0], logic.fieldOfView(first), delta=0.01)
        logic.rate(first, "confirmed", confidence=4)
        if len(candidates) > 1:
            second = session.next_unrated()
            logic.rate(second, "rejected")
            logic.rate(second, "unsure")
            self.assertEqual(logic.undoLastRating(), second)
            self.assertEqual(session.rating(second)["label"], "rejected")
        logic.closeSession()
        resumed = logic.openSession(folder, "sub-01", "tester", nodes.table)
        self.assertEqual(resumed.rating(first)["label"], "confirmed")
        self.assertEqual(resumed.progress()[0], min(2, len(candidates)))
        logic.closeSession()
        self.delayDisplay("Test passed")
