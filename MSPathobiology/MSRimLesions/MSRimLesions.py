import os
import pathlib
import sys
from typing import Annotated, Union

import qt
import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import parameterNodeWrapper, Choice, WithinRange
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode

# In a source checkout the shared packages sit in MSPathobiology/, the parent of this module's folder.
sys.path.extend({os.path.dirname(os.path.dirname(os.path.abspath(__file__)))} - set(sys.path))

from MSPathobiologyLib import cases  # noqa: E402
from MSPathobiologyLib.rating import RatingLoop, ReadingLogicMixin, readingPosition  # noqa: E402
from MSPathobiologyLib.reading import LesionReadingMixin  # noqa: E402
from MSPathobiologyLib.widgets import describeModule, ParameterNodeGuiMixin, connectButtons, loadModuleUi  # noqa: E402
from mspathobiology.defaults import rims as RIM_DEFAULTS  # noqa: E402

#: Rating buttons / keys 1-3 per task: (label stored in the ratings file, button text).
TASK_LABELS = {
    "prl": [(label, text) for label, text in zip(RIM_DEFAULTS.PRL_LABELS, ("PRL (1)", "Not PRL (2)", "Indeterminate (3)"))],
    "cvs": [(label, text) for label, text in zip(RIM_DEFAULTS.CVS_LABELS, ("CVS+ (1)", "CVS\u2212 (2)", "Excluded (3)"))],
}
#: Parameter-node field -> image key of ``mspathobiology.rims.analyse`` (the map is qsm or phase).
INPUT_KEYS = {"t1PostVolume": "t1post", "t2starVolume": "t2star", "anatomyVolume": "anatomy", "t1Volume": "t1",
              "flairVolume": "flair"}
#: Subject-hierarchy folder of this module's outputs (under the QSM/phase volume's study).
OUTPUT_FOLDER = "MS Rim Lesions"


HELP_TEXT = _("""
Paramagnetic rim lesions (PRL) and the central vein sign (CVS): automatic rim scores, then expert
rating lesion by lesion.
<ul>
<li><b>Score rims</b>: per lesion, the angular coverage of paramagnetic signal in an edge band on each
axial slice of QSM or filtered phase, the consecutive slices meeting the criterion and the rim contrast;
a PRL candidate needs a rim over at least 2/3 of the edge on at least 2 consecutive slices, enhancing
lesions excluded (NAIMS consensus, Bagnato et al., Brain 2024; Absinta et al., JCI 2016).</li>
<li><b>Start / resume reading</b>: lesions sorted by rim score, or in random order with scores hidden for
blinded reading; QSM/phase and FLAIR side by side, linked, zoomed on the lesion. Keys <b>1</b>, <b>2</b>,
<b>3</b> rate, <b>Space</b> / <b>Backspace</b> move, <b>U</b> undoes the last rating; the lesion is
centred and zoomed in every view. Every rating is saved at once in your own file
(TSV + JSON sidecar), so reading resumes exactly where you stopped.</li>
</ul>
CVS: Frangi vesselness (Frangi et al., MICCAI 1998) on T2*/SWI, NAIMS CVS criteria (Sati et al., Nat Rev
Neurol 2016).
""")
ACKNOWLEDGEMENT = _("""
Part of the MSPathobiology extension. The reading loop is inspired by CVS_rater (ITK-SNAP based).
""")


#
# MSRimLesions
#


class MSRimLesions(ScriptedLoadableModule):
    """MS Rim Lesions (scripted module; see Slicer's ScriptedLoadableModule)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        describeModule(self.parent, _("MS Rim Lesions"), HELP_TEXT, ACKNOWLEDGEMENT)


#
# MSRimLesionsParameterNode
#


@parameterNodeWrapper
class MSRimLesionsParameterNode:
    """
    lesions - lesion segmentation or labelmap (ids = lesion ids).
    susceptibilityVolume - QSM (ppb) or filtered phase (rad), per imageKind; phaseSign: vendor convention.
    flairVolume, t1PostVolume, t2starVolume - reading context, enhancing exclusion, CVS.
    anatomyVolume - aseg labels: the white-matter reference for rim contrast; t1Volume - pre-contrast T1.
    scoreTable - output rim score table.
    raterName, caseId, ratingsFolder, task, blinded - the rating session.
    zoomOnLesion, autoAdvance, confidence - reading preferences.
    """

    lesions: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]
    susceptibilityVolume: vtkMRMLScalarVolumeNode
    imageKind: Annotated[str, Choice(["qsm", "phase"])] = "qsm"
    phaseSign: Annotated[int, Choice([1, -1])] = RIM_DEFAULTS.DEFAULT_PHASE_SIGN
    flairVolume: vtkMRMLScalarVolumeNode
    t1PostVolume: vtkMRMLScalarVolumeNode
    t2starVolume: vtkMRMLScalarVolumeNode
    anatomyVolume: vtkMRMLScalarVolumeNode
    t1Volume: vtkMRMLScalarVolumeNode
    scoreTable: vtkMRMLTableNode
    raterName: str = ""
    caseId: str = ""
    ratingsFolder: pathlib.Path
    task: Annotated[str, Choice(["prl", "cvs"])] = "prl"
    blinded: bool = False
    zoomOnLesion: bool = True
    autoAdvance: bool = True
    confidence: Annotated[int, WithinRange(RIM_DEFAULTS.CONFIDENCE_MIN, RIM_DEFAULTS.CONFIDENCE_MAX)] = 3


#
# MSRimLesionsWidget
#


class MSRimLesionsWidget(LesionReadingMixin, ParameterNodeGuiMixin, ScriptedLoadableModuleWidget,
                         VTKObservationMixin):
    """Uses ScriptedLoadableModuleWidget base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    choiceLabels = {
        "imageKindComboBox": {"qsm": _("QSM (ppb)"), "phase": _("Filtered phase (rad)")},
        "phaseSignComboBox": {"1": _("+1: paramagnetic is positive phase"),
                              "-1": _("\u22121: paramagnetic is negative phase")},
        "taskComboBox": {"prl": _("Paramagnetic rim (PRL)"), "cvs": _("Central vein sign (CVS)")},
    }

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._currentLesion = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        self.ui = loadModuleUi(self, "MSRimLesions")
        self.logic = MSRimLesionsLogic()
        connectButtons(self.ui, {"scoreButton": self.onScoreButton, "startButton": self.onStartButton,
                                 "windowPresetButton": self.onWindowPreset})
        self.ui.reasonComboBox.addItems(list(RIM_DEFAULTS.CVS_EXCLUSION_REASONS))
        self.setupReading()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.cleanupReading()
        self.removeObservers()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        if not p:
            return
        self.ui.scoreButton.enabled = bool(p.lesions and p.susceptibilityVolume)
        self.ui.startButton.enabled = bool(p.lesions and p.raterName.strip() and p.caseId.strip())
        self.ui.phaseSignComboBox.enabled = p.imageKind == "phase"
        for index, (label, text) in enumerate(TASK_LABELS[p.task]):
            getattr(self.ui, f"rating{index + 1}Button").text = text
        self.ui.reasonComboBox.enabled = p.task == "cvs"
        session = self.logic.session
        if session is not None and (session.case != p.caseId.strip() or session.task != p.task):
            # another case (e.g. opened by MS Case Review) or task: that session's ratings are saved; close it
            self.closeReading(_("Press Start / resume reading for {case}.").format(case=p.caseId))
        self.updateReadingState()

    # --- scoring ------------------------------------------------------------------------

    def _score(self):
        p = self._parameterNode
        return self.logic.scoreRims(p.lesions, p.susceptibilityVolume, p.imageKind, p.phaseSign,
                                    **{field: getattr(p, field) for field in INPUT_KEYS}, tableNode=p.scoreTable)

    def onScoreButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to score rims."), waitCursor=True):
            p = self._parameterNode
            p.scoreTable = p.scoreTable or self.logic.newScoreTable(p.susceptibilityVolume)
            rows = self._score()
            candidates = sum(1 for r in rows if r.get("prl_candidate"))
            text = _("{n} lesions scored, {c} PRL candidates.").format(n=len(rows), c=candidates)
            if p.imageKind == "phase":
                text += "\n" + RIM_DEFAULTS.PHASE_CAVEAT
            self.ui.currentLesionLabel.text = text

    # --- reading ------------------------------------------------------------------------

    def onStartButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to open the rating session."), waitCursor=True):
            p = self._parameterNode
            if (not p.scoreTable or p.scoreTable.GetNumberOfRows() == 0) and p.susceptibilityVolume:
                p.scoreTable = p.scoreTable or self.logic.newScoreTable(p.susceptibilityVolume)
                self._score()
            session = self.logic.openSession(self.ratingsFolder(p), p.caseId, p.raterName, p.scoreTable,
                                             task=p.task, blinded=p.blinded, lesionsNode=p.lesions)
            self.showReadingLayout(p.susceptibilityVolume, p.flairVolume, p.lesions, p.imageKind)
            self.startReading(session)

    def _itemText(self, lesionId) -> str:
        session = self.logic.session
        text = _("Lesion {id}").format(id=lesionId)
        score = session.score(lesionId)  # None when blinded
        if score is not None:
            text += f"  score {float(score):.2f}"
        rating = session.rating(lesionId)
        if rating:
            text += f"  \u2713 {rating['label']}"
        return text

    def _lesionText(self, lesionId) -> str:
        session = self.logic.session
        rating = session.rating(lesionId)
        score = session.score(lesionId)
        parts = [readingPosition(session, lesionId)]
        if score is not None:
            parts.append(_("automatic rim score {s:.2f}").format(s=float(score)))
        parts.append(_("rated: {label}").format(label=rating["label"]) if rating else _("not rated yet"))
        return "\n".join(parts)

    def _ratingLabel(self, index: int) -> str:
        return TASK_LABELS[self._parameterNode.task][index][0]

    def _ratingDetails(self, label: str) -> dict:
        excluded = self._parameterNode.task == "cvs" and label == "excluded"
        return {"reason": self.ui.reasonComboBox.currentText if excluded else None}

    def onWindowPreset(self):
        p = self._parameterNode
        self.applyWindowPreset(p.susceptibilityVolume, p.imageKind)

    @staticmethod
    def applyWindowPreset(volumeNode, kind: str):
        from MSPathobiologyLib import defaults, views

        if kind == "phase":
            views.setWindowLevel(volumeNode, defaults.PHASE_WINDOW_RAD, defaults.PHASE_LEVEL_RAD)
        else:
            views.setWindowLevel(volumeNode, defaults.QSM_WINDOW_PPB, defaults.QSM_LEVEL_PPB)

    @classmethod
    def showReadingLayout(cls, susceptibilityVolume, flairVolume, lesionsNode=None, kind="qsm"):
        """QSM/phase (left) and FLAIR (right), linked axial views, with the window preset; lesion outlines."""
        from MSPathobiologyLib import views

        if susceptibilityVolume is None and flairVolume is None:
            return
        views.showSideBySide(susceptibilityVolume or flairVolume, flairVolume or susceptibilityVolume)
        if susceptibilityVolume is not None:
            cls.applyWindowPreset(susceptibilityVolume, kind)
        views.showOutlines(lesionsNode)  # the rim must stay visible


#
# MSRimLesionsLogic
#


class MSRimLesionsLogic(ReadingLogicMixin, ScriptedLoadableModuleLogic):
    """Wiring between MRML nodes and ``mspathobiology.rims`` (``analyse`` for scoring, the ratings
    store for reading: ``ReadingLogicMixin``). No GUI calls."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._rows = {}
        self.ratings = RatingLoop()  # the open session and its undo stack

    def getParameterNode(self):
        return MSRimLesionsParameterNode(super().getParameterNode())

    @staticmethod
    def newScoreTable(mapVolume):
        from MSPathobiologyLib.nodes import outputNode

        return outputNode("vtkMRMLTableNode", "Rim scores", mapVolume, OUTPUT_FOLDER)

    def scoreRims(self, lesionsNode, imageVolumeNode, kind="qsm", phaseSign=RIM_DEFAULTS.DEFAULT_PHASE_SIGN,
                  tableNode=None, **inputs) -> list:
        """Rim scores and, with T2*, central-vein-sign columns: ``mspathobiology.rims.analyse`` on the
        nodes' images (lesions and label inputs put on the QSM/phase grid); fills ``tableNode``.

        ``inputs``: optional nodes ``t1PostVolume``, ``t1Volume`` (pre-contrast), ``t2starVolume``,
        ``anatomyVolume`` (aseg: the rim is compared with white matter), ``flairVolume``."""
        import mspathobiology_mrml as bridge
        from mspathobiology import rims
        from MSPathobiologyLib.nodes import imageFromNode, imagesFromNodes

        if lesionsNode is None or imageVolumeNode is None:
            raise ValueError(_("Select the lesions and a QSM or phase volume."))
        mapImage = imageFromNode(imageVolumeNode)
        images = imagesFromNodes({"lesions": lesionsNode, **{INPUT_KEYS[f]: n for f, n in inputs.items()
                                                             if f in INPUT_KEYS}}, imageVolumeNode, onGridOf=mapImage)
        images[kind] = mapImage
        result = rims.analyse(images, phase_sign=phaseSign)
        rows = list(result.rows)
        if tableNode is not None:
            bridge.rows_to_table(slicer.mrmlScene, rows, tableNode.GetName(), node=tableNode)
        self._rows = {int(r["id"]): r for r in rows}
        return rows

    def rowsFromTable(self, tableNode) -> dict:
        import mspathobiology_mrml as bridge

        self._rows = {int(r["id"]): r for r in bridge.table_to_rows(tableNode)} if tableNode is not None else {}
        return self._rows

    def openSession(self, folder, caseId: str, rater: str, scoreTableNode=None, task="prl", blinded=False, lesionsNode=None):
        """Open (create or resume) this rater's ratings file for the case (``mspathobiology.rims.ratings.RatingSession``).

        Lesions come from the rim score table (sorted by ``rim_score``) or, without scores, from the lesion ids.
        """
        rows = self.rowsFromTable(scoreTableNode) if scoreTableNode is not None and scoreTableNode.GetNumberOfRows() else {}
        lesions = list(rows.values())
        if not lesions and lesionsNode is not None:
            lesions = self._lesionsFromNode(lesionsNode)
        # RatingSession applies the one name rule (mspathobiology.identity.person_label)
        return self.ratings.open(folder, caseId, rater, lesions or None, task, blinded)

    def _lesionsFromNode(self, lesionsNode) -> list:
        import SimpleITK as sitk

        from mspathobiology.rims.scoring import lesion_geometry
        from MSPathobiologyLib.nodes import imageFromNode

        image = imageFromNode(lesionsNode)
        geometry = lesion_geometry(sitk.GetArrayViewFromImage(image), image)
        rows = [{"id": lesionId, "volume_mm3": vol, "radius_mm": radius,
                 "centroid_r": float(ras[0]), "centroid_a": float(ras[1]), "centroid_s": float(ras[2])}
                for lesionId, (_n, vol, radius, ras) in geometry.items()]
        self._rows = {r["id"]: r for r in rows}
        return rows

    def fieldOfView(self, lesionId: int) -> float:
        """Field of view (mm) that shows the lesion with a margin of white matter around it."""
        return self.viewFieldOfView(2.0 * float(self.lesionRow(lesionId).get("radius_mm") or 0.0))


#
# Case review: what MS Rim Lesions loads and saves for a case (MSPathobiologyLib.cases)
#


def _configure(p, case, nodes, context) -> None:
    p.imageKind = "qsm" if nodes.get("qsm") is not None else "phase"
    from mspathobiology.identity import display_name  # the label comes from identity.person_label in RatingSession
    p.raterName = display_name(context["reader"])
    p.caseId = case.id
    p.ratingsFolder = context["caseFolder"]


cases.register(cases.CaseParticipant(
    module="MSRimLesions",
    parameterNode=lambda: MSRimLesionsLogic().getParameterNode(),
    inputs={"lesions": "lesions", "susceptibilityVolume": ("qsm", "phase"), "flairVolume": "flair",
            "t1PostVolume": "t1post", "t2starVolume": "t2star", "anatomyVolume": "anatomy", "t1Volume": "t1"},
    outputs=(cases.CaseFile("scoreTable", "rim_scores", "rimscores", "stats", ".tsv", "table"),),
    configure=_configure,
))


#
# MSRimLesionsTest
#


class MSRimLesionsTest(ScriptedLoadableModuleTest):
    """In-Slicer test on the small phantom built by the logic layer (no download)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_score_and_rate()

    def test_score_and_rate(self):
        import tempfile

        import mspathobiology_mrml as bridge
        from MSPathobiologyLib import selftest_data, views

        self.delayDisplay("Generating the small phantom")
        data = selftest_data.rims_data()
        scene = slicer.mrmlScene
        qsm = bridge.image_to_volume(scene, data["qsm"], "QSM")
        flair = bridge.image_to_volume(scene, data["flair"], "FLAIR")
        lesions = bridge.label_image_to_segmentation(scene, data["lesions"], name="Lesions", reference_volume_node=qsm)
        anatomy = bridge.image_to_volume(scene, data["anatomy"], "aseg", labelmap=True)

        logic = MSRimLesionsLogic()
        table = logic.newScoreTable(qsm)
        rows = logic.scoreRims(lesions, qsm, "qsm", tableNode=table, anatomyVolume=anatomy)
        self.assertEqual(len(rows), len(data["rim_class"]))
        self.assertEqual(table.GetNumberOfRows(), len(rows))
        # NAIMS: a rim over >= 2/3 of the edge; the phantom's rims at <= 0.55 of the edge must never be called
        rimLesions = {i for i, fraction in data["rim_fraction"].items() if fraction > 0.55}
        candidates = {r["id"] for r in rows if r["prl_candidate"]}
        self.assertTrue(candidates, "no PRL candidate found on the phantom")
        self.assertLessEqual(candidates, rimLesions)

        self.delayDisplay("Rating two lesions, undoing one, then resuming")
        folder = tempfile.mkdtemp()
        first = logic.openSession(folder, "sub-01_ses-01", "tester", table)
        self.assertEqual(first.order[0], max(rows, key=lambda r: r["rim_score"])["id"])
        MSRimLesionsWidget.showReadingLayout(qsm, flair, lesions)
        rated = [first.next_unrated()]
        logic.rate(rated[0], "PRL", confidence=4)
        rated.append(first.next_unrated())
        logic.rate(rated[1], "not_PRL", confidence=3)
        logic.rate(rated[1], "indeterminate", confidence=2)
        self.assertEqual(logic.undoLastRating(), rated[1])
        self.assertEqual(first.rating(rated[1])["label"], "not_PRL")  # the earlier rating is back
        views.centerOn(logic.centroid(rated[1]), logic.fieldOfView(rated[1]))
        red = slicer.app.layoutManager().sliceWidget("Red").mrmlSliceNode()
        self.assertAlmostEqual(red.GetFieldOfView()[0], logic.fieldOfView(rated[1]), delta=0.01)
        logic.closeSession()
        resumed = logic.openSession(folder, "sub-01_ses-01", "tester", table)
        self.assertEqual(resumed.progress(), (2, len(rows)))
        self.assertEqual(resumed.rating(rated[0])["label"], "PRL")
        self.assertNotIn(resumed.next_unrated(), rated)
        logic.closeSession()
        self.delayDisplay("Test passed")
