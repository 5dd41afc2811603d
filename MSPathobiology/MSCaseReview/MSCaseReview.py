import logging
import os
import pathlib
import sys

import qt

import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import parameterNodeWrapper


def _addSourceCheckoutPaths():
    """Make ``mspathobiology``, ``MSPathobiologyLib`` and the sibling modules importable from a
    source checkout (a built extension installs all of them next to this file)."""
    here = os.path.dirname(os.path.abspath(__file__))
    parent = os.path.dirname(here)
    candidates = [(parent, "mspathobiology"), (os.path.join(parent, "MSLesions"), "MSPathobiologyLib")]
    candidates += [(os.path.join(parent, m), m + ".py") for m in ("MSLesions", "MSRimLesions", "MSAtrophy", "MSNetworks")]
    for path, marker in candidates:
        if os.path.exists(os.path.join(path, marker)) and path not in sys.path:
            sys.path.append(path)


_addSourceCheckoutPaths()

from MSPathobiologyLib.widgets import ParameterNodeGuiMixin  # noqa: E402

#: Files saved per case: key -> (desc label, BIDS suffix, extension). The reader's name is appended
#: to the desc label by ``mspathobiology.cohort.save_derivative`` (``desc-lesionsJaneDoe``).
SAVED_FILES = {
    "lesions": ("lesions", "dseg", ".nii.gz"),
    "lesion_table": ("lesiontable", "dseg", ".tsv"),
    "rim_scores": ("rimscores", "stats", ".tsv"),
    "tissues": ("tissues", "dseg", ".nii.gz"),
    "atrophy": ("atrophy", "stats", ".tsv"),
    "network_nodes": ("networknodes", "stats", ".tsv"),
    "disconnection": ("disconnection", "stats", ".tsv"),
}
#: Image keys loaded as labelmaps.
LABEL_KEYS = ("anatomy", "parcellation", "brain_mask")
#: Node classes a case adds to the scene and that are removed when the reader leaves it.
CASE_NODE_CLASSES = ("vtkMRMLVolumeNode", "vtkMRMLSegmentationNode", "vtkMRMLTableNode", "vtkMRMLModelNode",
                     "vtkMRMLMarkupsNode", "vtkMRMLPlotSeriesNode", "vtkMRMLPlotChartNode", "vtkMRMLColorTableNode")
NEXT_CASE_KEY, PREVIOUS_CASE_KEY = "Ctrl+N", "Ctrl+P"


#
# MSCaseReview
#


class MSCaseReview(ScriptedLoadableModule):
    """Uses ScriptedLoadableModule base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("MS Case Review")
        self.parent.categories = ["MS Pathobiology"]
        self.parent.dependencies = []
        self.parent.contributors = ["MSPathobiology developers"]
        self.parent.helpText = _("""
Click through a cohort case by case, correcting lesions and rating rims with the other MS Pathobiology
modules.
<ul>
<li>Case lists: a BIDS dataset (sub-*/ses-*/anat, derivatives respected), a folder of case folders, or a
CSV/TSV with one column per image.</li>
<li>Each case shows its status (not started, in progress, done, flagged); <b>Ctrl+N</b> / <b>Ctrl+P</b>
open the next / previous case, double-click opens any case; reading resumes where this reader stopped.</li>
<li>Opening a case loads FLAIR as background and the lesions as a segmentation overlay, fills the inputs of
MS Lesions, MS Rim Lesions, MS Atrophy (with the subject's next session as follow-up) and MS Networks, and
brings back what this reader saved before.</li>
<li>Leaving a case saves lesion corrections, tables and markups annotations into the review derivatives
folder under BIDS-derivatives names carrying the reader name; an existing different file is first copied
to <i>backups/</i>, never overwritten.</li>
</ul>
The workflow follows SlicerCaseIterator (Joost van Griethuysen et al.). The <b>Make phantom cohort</b> button
and the Sample Data entry "MS phantom (small)" generate synthetic data with the logic layer (no download).
""")
        self.parent.acknowledgementText = _("""
Part of the MSPathobiology extension. Inspired by SlicerCaseIterator (JoostJM/SlicerCaseIterator).
""")
        slicer.app.connect("startupCompleted()", registerSampleData)


#
# Sample data: the phantom is generated locally, nothing is downloaded
#


def registerSampleData():
    """Add "MS phantom (small)" to the Sample Data module.

    Sample Data sources are download-based; this one uses ``customDownloader`` (called instead of a
    download when its button is clicked) to generate the small phantom with ``mspathobiology.phantom``.
    The ``uris`` value is only an identifier and is never fetched.
    """
    import SampleData

    iconsPath = os.path.join(os.path.dirname(__file__), "Resources", "Icons")
    SampleData.SampleDataLogic.registerCustomSampleDataCategory("MSPathobiology", title=_("MS Pathobiology"))
    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category="MSPathobiology",
        sampleName="MSPhantomSmall",
        uris="mspathobiology-phantom:small?seed=0",
        fileNames="MSPhantomSmall",
        nodeNames="MSPhantomSmall",
        thumbnailFileName=os.path.join(iconsPath, "MSCaseReview.png"),
        customDownloader=lambda source: loadPhantomSample(),
    )


def loadPhantomSample(seed: int = 0) -> dict:
    """Generate the small phantom (one session) and load it: volumes, labelmaps, lesion segmentation, tractogram."""
    with slicer.util.tryWithErrorDisplay(_("Failed to generate the phantom."), waitCursor=True):
        from MSPathobiologyLib import dependencies

        dependencies.ensure("MSCaseReview")
        from mspathobiology.phantom import generate_subject

        session = generate_subject(seed=seed, small=True, sessions=1).sessions[0]
        return MSCaseReviewLogic().loadSessionImages(session, prefix=f"phantom{seed}")


#
# MSCaseReviewParameterNode
#


@parameterNodeWrapper
class MSCaseReviewParameterNode:
    """
    caseSource - BIDS dataset, folder of case folders or CSV/TSV case list.
    reviewFolder - derivatives folder of the review (empty: <dataset>/derivatives/mspathobiology-review).
    readerName - the reader; in saved file names and the review state file.
    saveOnLeave - save corrections and annotations whenever another case is opened.
    """

    caseSource: pathlib.Path
    reviewFolder: pathlib.Path
    readerName: str = ""
    saveOnLeave: bool = True


#
# MSCaseReviewWidget
#


class MSCaseReviewWidget(ParameterNodeGuiMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Uses ScriptedLoadableModuleWidget base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._shortcuts = []

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MSCaseReview.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = MSCaseReviewLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.loadCasesButton.connect("clicked(bool)", self.onLoadCases)
        self.ui.generatePhantomButton.connect("clicked(bool)", self.onGeneratePhantom)
        self.ui.previousCaseButton.connect("clicked(bool)", lambda: self.openCase(self.logic.currentIndex - 1))
        self.ui.nextCaseButton.connect("clicked(bool)", lambda: self.openCase(self.logic.currentIndex + 1))
        self.ui.openSelectedButton.connect("clicked(bool)", self.onOpenSelected)
        self.ui.casesTableWidget.connect("cellDoubleClicked(int,int)", lambda row, column: self.openCase(row))
        self.ui.markDoneButton.connect("clicked(bool)", lambda: self.onSetStatus("done"))
        self.ui.flagButton.connect("clicked(bool)", lambda: self.onSetStatus("flagged"))
        self.ui.saveButton.connect("clicked(bool)", self.onSave)

        table = self.ui.casesTableWidget
        table.setColumnCount(4)
        table.setHorizontalHeaderLabels([_("Case"), _("Status"), _("Images"), _("Note")])
        table.horizontalHeader().setStretchLastSection(True)

        for key, callback in ((NEXT_CASE_KEY, lambda: self.openCase(self.logic.currentIndex + 1)),
                              (PREVIOUS_CASE_KEY, lambda: self.openCase(self.logic.currentIndex - 1))):
            shortcut = qt.QShortcut(qt.QKeySequence(key), slicer.util.mainWindow())
            shortcut.connect("activated()", callback)
            shortcut.setEnabled(False)
            self._shortcuts.append(shortcut)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        for shortcut in self._shortcuts:
            shortcut.setEnabled(False)
            shortcut.setParent(None)
        self._shortcuts = []
        self.removeObservers()

    def enter(self) -> None:
        ParameterNodeGuiMixin.enter(self)
        for shortcut in self._shortcuts:
            shortcut.setEnabled(True)

    def onSceneStartClose(self, caller, event) -> None:
        if self.logic.currentCase is not None and self._parameterNode and self._parameterNode.saveOnLeave:
            try:
                self.logic.saveCase()
            except Exception:  # noqa: BLE001 - never block closing the scene; the error is logged
                logging.exception("MSCaseReview: saving the open case before closing the scene failed")
        self.logic.forgetCase()
        ParameterNodeGuiMixin.onSceneStartClose(self, caller, event)

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        if not p:
            return
        self.ui.loadCasesButton.enabled = str(p.caseSource) not in ("", ".") and bool(p.readerName.strip())
        self._updateCaseButtons()

    def _updateCaseButtons(self):
        haveCases = bool(self.logic.cases)
        index = self.logic.currentIndex
        isOpen = self.logic.currentCase is not None
        self.ui.previousCaseButton.enabled = haveCases and index > 0
        self.ui.nextCaseButton.enabled = haveCases and index + 1 < len(self.logic.cases)
        self.ui.openSelectedButton.enabled = haveCases
        for name in ("markDoneButton", "flagButton", "saveButton"):
            getattr(self.ui, name).enabled = isOpen

    # --- case list ----------------------------------------------------------------------

    def onLoadCases(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to load the case list."), waitCursor=True):
            from MSPathobiologyLib import dependencies

            dependencies.ensure("MSCaseReview")
            p = self._parameterNode
            self.logic.loadCases(p.caseSource, p.reviewFolder, p.readerName)
            if str(p.reviewFolder) in ("", "."):
                p.reviewFolder = self.logic.reviewRoot
            self._refreshCaseTable()
            if self.logic.cases:
                self.openCase(self.logic.store.resume_index(self.logic.cases), save=False)

    def onGeneratePhantom(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to generate the phantom cohort."), waitCursor=True):
            from MSPathobiologyLib import dependencies

            dependencies.ensure("MSCaseReview")
            folder = pathlib.Path(slicer.app.temporaryPath) / "MSPathobiology" / "phantom-cohort"
            self.ui.saveStatusLabel.text = _("Generating the phantom cohort in {folder} ...").format(folder=folder)
            slicer.app.processEvents()
            dataset = self.logic.generatePhantomCohort(folder)
            p = self._parameterNode
            p.caseSource = dataset
            if not p.readerName.strip():
                p.readerName = "reader"
            self.ui.saveStatusLabel.text = _("Phantom cohort written to {folder}.").format(folder=dataset)
        self.onLoadCases()

    def _refreshCaseTable(self):
        table = self.ui.casesTableWidget
        rows = self.logic.caseRows()
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, key in enumerate(("case", "status_label", "images", "note")):
                item = qt.QTableWidgetItem(str(row[key]))
                if key == "status_label":
                    item.setForeground(qt.QBrush(qt.QColor(STATUS_COLORS.get(row["status"], "black"))))
                table.setItem(r, c, item)
        if 0 <= self.logic.currentIndex < len(rows):
            table.selectRow(self.logic.currentIndex)
        done, total = self.logic.progress()
        self.ui.reviewProgressBar.setRange(0, max(total, 1))
        self.ui.reviewProgressBar.setValue(done)
        self._updateCaseButtons()

    # --- navigation ---------------------------------------------------------------------

    def onOpenSelected(self) -> None:
        rows = {index.row() for index in self.ui.casesTableWidget.selectedIndexes()}
        if rows:
            self.openCase(min(rows))

    def openCase(self, index: int, save: bool | None = None) -> None:
        if not self.logic.cases or not (0 <= index < len(self.logic.cases)):
            return
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Failed to open the case."), waitCursor=True):
            if self.logic.currentCase is not None and (p.saveOnLeave if save is None else save):
                self._reportSaved(self.logic.saveCase(note=self.ui.noteLineEdit.text))
            self.logic.openCase(index)
            case = self.logic.currentCase
            self.ui.noteLineEdit.text = self.logic.store.note(case)
            self.ui.currentCaseLabel.text = _("{case} ({n}/{total}) \u2014 {status}; images: {images}").format(
                case=case.id, n=index + 1, total=len(self.logic.cases),
                status=self.logic.store.status(case).replace("_", " "), images=", ".join(sorted(case.images)))
        self._refreshCaseTable()

    def onSetStatus(self, status: str) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to save the case."), waitCursor=True):
            self._reportSaved(self.logic.saveCase(note=self.ui.noteLineEdit.text, status=status))
        self._refreshCaseTable()

    def onSave(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to save the case."), waitCursor=True):
            self._reportSaved(self.logic.saveCase(note=self.ui.noteLineEdit.text))
        self._refreshCaseTable()

    def _reportSaved(self, saved):
        backups = [s for s in saved if s.backup is not None]
        text = _("Saved {n} files").format(n=len(saved))
        if backups:
            text += _(" ({b} previous versions moved to backups)").format(b=len(backups))
        self.ui.saveStatusLabel.text = text + "."


#: Status colours in the case table.
STATUS_COLORS = {"not_started": "gray", "in_progress": "#d08000", "done": "#2a8c2a", "flagged": "#c02020"}


#
# MSCaseReviewLogic
#


class MSCaseReviewLogic(ScriptedLoadableModuleLogic):
    """Case list, review state and per-case load/save, on ``mspathobiology.cohort``.

    Usable without the widget: ``loadCases``, ``openCase``, ``saveCase``, ``forgetCase``.
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.cases = []
        self.store = None
        self.reviewRoot = None
        self.currentIndex = -1
        self.caseNodes = {}
        self._sceneSnapshot = set()

    def getParameterNode(self):
        return MSCaseReviewParameterNode(super().getParameterNode())

    @property
    def currentCase(self):
        return self.cases[self.currentIndex] if 0 <= self.currentIndex < len(self.cases) else None

    # --- case list and state ------------------------------------------------------------

    def loadCases(self, source, reviewFolder=None, reader: str = ""):
        """Read a case list (``mspathobiology.cohort.discover_cases``) and this reader's review state
        (``mspathobiology.cohort.ReviewStore``) in ``reviewFolder`` (default ``default_review_root``)."""
        from mspathobiology.cohort import ReviewStore, default_review_root, discover_cases

        source = pathlib.Path(source)
        if str(source) in ("", "."):
            raise ValueError(_("Choose a BIDS dataset, a folder of case folders or a CSV/TSV case list."))
        if not str(reader).strip():
            raise ValueError(_("Enter the reader name."))
        self.forgetCase()
        self.cases = discover_cases(source)
        if not self.cases:
            raise ValueError(_("No cases found in {source}.").format(source=source))
        folder = pathlib.Path(reviewFolder) if reviewFolder is not None and str(reviewFolder) not in ("", ".") else None
        self.reviewRoot = folder or default_review_root(source)
        self.store = ReviewStore(self.reviewRoot, reader)
        self.currentIndex = -1
        return self.cases

    def caseRows(self) -> list:
        return self.store.table(self.cases) if self.store else []

    def progress(self) -> tuple:
        return self.store.progress(self.cases) if self.store else (0, 0)

    def caseFolder(self, case) -> pathlib.Path:
        """The case's folder in the review derivatives (``<root>/sub-XX/ses-YY/anat``)."""
        return self.reviewRoot / case.relative_dir / "anat"

    # --- opening a case -----------------------------------------------------------------

    def openCase(self, index: int) -> dict:
        """Close the current case (without saving), open case ``index``: load its images, restore what
        this reader saved before, fill the other modules' inputs and mark it in progress."""
        self.forgetCase()
        self.currentIndex = index
        case = self.currentCase
        self._sceneSnapshot = {slicer.mrmlScene.GetNthNode(i).GetID() for i in range(slicer.mrmlScene.GetNumberOfNodes())}
        self.store.open_case(case)
        saved = self.store.files(case)
        nodes = self.loadCaseImages(case, saved)
        nodes.update(self.restoreSaved(case, saved, nodes))
        self.caseNodes = nodes
        self.configureModules(case, nodes)
        self.showCase(nodes)
        return nodes

    def loadCaseImages(self, case, saved: dict) -> dict:
        """Volumes of the case (labelmaps for label keys), lesions as a segmentation (the reader's
        saved correction when there is one) and the tractogram."""
        import mspathobiology_mrml as bridge
        from mspathobiology.io import read_image

        scene = slicer.mrmlScene
        nodes = {}
        for key, path in sorted(case.images.items()):
            if key in ("lesions", "tractogram"):
                continue
            nodes[key] = bridge.load_volume(scene, path, labelmap=key in LABEL_KEYS, name=f"{case.id} {key}")
        reference = nodes.get("flair") or nodes.get("t1")
        lesionsPath = saved.get(SAVED_FILES["lesions"][0]) or case.images.get("lesions")
        if lesionsPath is not None:
            nodes["lesions"], nodes["lesion_table"] = self._lesionSegmentation(
                read_image(lesionsPath, kind="label"), reference, f"{case.id} lesions",
                saved.get(SAVED_FILES["lesion_table"][0]), nodes)
        followup = self.followupCase(case)
        if followup is not None and followup.images.get("t1") is not None:
            nodes["followup_t1"] = bridge.load_volume(scene, followup.images["t1"], name=f"{followup.id} t1 (follow-up)")
        if case.images.get("tractogram") is not None:
            try:
                from MSNetworks import MSNetworksLogic

                nodes["tractogram"] = MSNetworksLogic().loadTractogram(case.images["tractogram"], f"{case.id} tractogram")
            except ImportError:
                logging.warning("MSCaseReview: MS Networks is not loaded; tractogram not shown")
        return nodes

    def followupCase(self, case):
        """The next session of the same subject in the case list (for PBVC in MS Atrophy), or None."""
        from mspathobiology.cohort import consecutive_pairs

        return next((later for earlier, later in consecutive_pairs(self.cases) if earlier.id == case.id), None)

    def _lesionSegmentation(self, labelImage, reference, name, savedTablePath, nodes):
        """Lesion segmentation ("Lesion <id>" segments) and lesion table through MS Lesions' logic."""
        from MSLesions import INPUT_KEYS, MSLesionsLogic
        from mspathobiology.lesion_table import read_lesion_table

        lesionsLogic = MSLesionsLogic()
        segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        table = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", name + " table")
        rows = []
        if savedTablePath is not None:
            rows = read_lesion_table(savedTablePath)
        elif reference is not None:
            inputs = {field: nodes.get(key) for field, key in INPUT_KEYS.items()}
            inputs["flairVolume"] = reference
            try:
                labelImage, rows, _summary = lesionsLogic.tableFromLabels(labelImage, inputs)
            except Exception:  # noqa: BLE001 - the segmentation is still usable; Relabel rebuilds the table
                logging.exception("MSCaseReview: lesion table could not be computed")
        lesionsLogic.updateNodes(labelImage, rows, reference, segmentation, table)
        return segmentation, table

    def restoreSaved(self, case, saved: dict, nodes: dict) -> dict:
        """Bring back the reader's saved tables, tissue segmentation and markups annotations."""
        import mspathobiology_mrml as bridge
        from mspathobiology.io import read_image

        scene = slicer.mrmlScene
        restored = {}
        for key in ("rim_scores", "atrophy", "network_nodes", "disconnection"):
            path = saved.get(SAVED_FILES[key][0])
            if path is not None:
                restored[key] = bridge.load_table(scene, path, name=f"{case.id} {key.replace('_', ' ')}")
        path = saved.get(SAVED_FILES["tissues"][0])
        if path is not None:
            restored["tissues"] = bridge.label_image_to_segmentation(scene, read_image(path, kind="label"),
                                                                     name=f"{case.id} tissues",
                                                                     reference_volume_node=nodes.get("t1"))
        for label, path in sorted(saved.items()):
            if label.startswith("annotation") and str(path).endswith(".mrk.json"):
                restored[label] = bridge.load_markups(scene, path)
        return restored

    def configureModules(self, case, nodes: dict) -> None:
        """Fill the inputs of MS Lesions, MS Rim Lesions, MS Atrophy and MS Networks with this case."""
        reader = self.store.reader
        try:
            from MSLesions import MSLesionsLogic

            p = MSLesionsLogic().getParameterNode()
            p.flairVolume, p.t1Volume, p.t1PostVolume = nodes.get("flair"), nodes.get("t1"), nodes.get("t1post")
            p.anatomyVolume, p.brainMaskVolume = nodes.get("anatomy"), nodes.get("brain_mask")
            p.lesionSegmentation, p.lesionTable = nodes.get("lesions"), nodes.get("lesion_table")
        except ImportError:
            logging.warning("MSCaseReview: MS Lesions is not loaded")
        try:
            from MSRimLesions import MSRimLesionsLogic

            p = MSRimLesionsLogic().getParameterNode()
            p.lesions = nodes.get("lesions")
            p.susceptibilityVolume = nodes.get("qsm") or nodes.get("phase")
            p.imageKind = "qsm" if nodes.get("qsm") else "phase"
            p.flairVolume, p.t1PostVolume, p.t2starVolume = nodes.get("flair"), nodes.get("t1post"), nodes.get("t2star")
            p.scoreTable = nodes.get("rim_scores")
            p.raterName = "".join(ch for ch in reader if ch.isalnum())
            p.caseId = case.id
            p.ratingsFolder = self.caseFolder(case)
        except ImportError:
            logging.warning("MSCaseReview: MS Rim Lesions is not loaded")
        try:
            from MSAtrophy import MSAtrophyLogic

            p = MSAtrophyLogic().getParameterNode()
            p.t1Volume, p.lesions = nodes.get("t1"), nodes.get("lesions")
            p.brainMaskVolume, p.anatomyVolume, p.parcellationVolume = nodes.get("brain_mask"), nodes.get("anatomy"), nodes.get("parcellation")
            p.tissueSegmentation, p.resultsTable = nodes.get("tissues"), nodes.get("atrophy")
            p.followupT1Volume = nodes.get("followup_t1")
        except ImportError:
            logging.warning("MSCaseReview: MS Atrophy is not loaded")
        try:
            from MSNetworks import MSNetworksLogic

            p = MSNetworksLogic().getParameterNode()
            p.tractogram, p.parcellationVolume, p.lesions = nodes.get("tractogram"), nodes.get("parcellation"), nodes.get("lesions")
            p.nodesTable, p.disconnectionTable = nodes.get("network_nodes"), nodes.get("disconnection")
        except ImportError:
            logging.warning("MSCaseReview: MS Networks is not loaded")

    @staticmethod
    def showCase(nodes: dict) -> None:
        """FLAIR (else T1) in the background of every slice view, lesions as a segmentation overlay."""
        background = nodes.get("flair") or nodes.get("t1") or next((n for n in nodes.values() if n.IsA("vtkMRMLScalarVolumeNode")), None)
        if slicer.app.layoutManager() is not None and background is not None:
            slicer.app.layoutManager().setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpView)
            slicer.util.setSliceViewerLayers(background=background, foreground=None, label=None, fit=True)
        lesions = nodes.get("lesions")
        if lesions is not None:
            if lesions.GetDisplayNode() is None:
                lesions.CreateDefaultDisplayNodes()
            lesions.GetDisplayNode().SetVisibility(True)
            lesions.GetDisplayNode().SetOpacity2DFill(0.3)

    # --- saving and leaving -------------------------------------------------------------

    def _currentModuleNodes(self) -> dict:
        """The nodes the other modules point at now (the reader may have made new ones there)."""
        found = dict(self.caseNodes)
        try:
            from MSLesions import MSLesionsLogic

            p = MSLesionsLogic().getParameterNode()
            found["lesions"], found["lesion_table"], found["flair"] = p.lesionSegmentation, p.lesionTable, p.flairVolume or found.get("flair")
        except ImportError:
            pass
        try:
            from MSRimLesions import MSRimLesionsLogic

            found["rim_scores"] = MSRimLesionsLogic().getParameterNode().scoreTable
        except ImportError:
            pass
        try:
            from MSAtrophy import MSAtrophyLogic

            p = MSAtrophyLogic().getParameterNode()
            found["tissues"], found["atrophy"] = p.tissueSegmentation, p.resultsTable
        except ImportError:
            pass
        try:
            from MSNetworks import MSNetworksLogic

            p = MSNetworksLogic().getParameterNode()
            found["network_nodes"], found["disconnection"] = p.nodesTable, p.disconnectionTable
        except ImportError:
            pass
        return found

    def saveCase(self, note: str | None = None, status: str | None = None) -> list:
        """Save every correction and annotation of the open case (``ReviewStore.save_file``: BIDS-derivatives
        names with the reader, backup of a different previous file) and update its status. Returns SavedFile list."""
        import mspathobiology_mrml as bridge
        from mspathobiology.io import write_image
        from mspathobiology.lesion_table import write_lesion_table
        from mspathobiology.tables import write_table

        case = self.currentCase
        if case is None:
            return []
        nodes = self._currentModuleNodes()
        reference = nodes.get("flair") or nodes.get("t1")
        saved = []

        def save(key, writer):
            label, suffix, ext = SAVED_FILES[key]
            saved.append(self.store.save_file(case, label, suffix=suffix, ext=ext, writer=writer))

        lesions = nodes.get("lesions")
        table = nodes.get("lesion_table")
        if lesions is not None and lesions.GetScene() is not None and table is not None and reference is not None:
            self._relabelIfEdited(lesions, table, nodes)
        if lesions is not None and lesions.GetScene() is not None:
            image, _segments = bridge.segmentation_to_label_image(lesions, reference_volume_node=reference)
            save("lesions", lambda path: write_image(image, path))
        if table is not None and table.GetScene() is not None and table.GetNumberOfRows():
            rows = bridge.table_to_rows(table)
            save("lesion_table", lambda path: write_lesion_table(rows, path))
        tissues = nodes.get("tissues")
        if tissues is not None and tissues.GetScene() is not None and tissues.GetSegmentation().GetNumberOfSegments():
            image, _segments = bridge.segmentation_to_label_image(tissues, reference_volume_node=nodes.get("t1"))
            save("tissues", lambda path: write_image(image, path))
        for key in ("rim_scores", "atrophy", "network_nodes", "disconnection"):
            node = nodes.get(key)
            if node is not None and node.GetScene() is not None and node.GetNumberOfRows():
                rows = bridge.table_to_rows(node)
                save(key, lambda path, rows=rows: write_table(rows, path))
        for n, markups in enumerate(self._caseMarkups(), start=1):
            saved.append(self.store.save_file(case, f"annotation{n}", suffix="markups", ext=".mrk.json",
                                              writer=lambda path, m=markups: bridge.save_node(m, path)))
        if status is not None:
            self.store.set_status(case, status, note)
        elif note is not None and note != self.store.note(case):
            self.store.set_status(case, self.store.status(case), note)
        return saved

    @staticmethod
    def _relabelIfEdited(segmentationNode, tableNode, nodes) -> None:
        """Keep the saved lesion table consistent with the edited segmentation: MS Lesions' Relabel
        (untouched lesions keep their ids) when the segmentation changed since its table was made."""
        try:
            from MSLesions import INPUT_KEYS, MSLesionsLogic
        except ImportError:
            return
        lesionsLogic = MSLesionsLogic()
        reference = nodes.get("flair") or nodes.get("t1")
        if not lesionsLogic.isEdited(segmentationNode, reference):
            return
        p = lesionsLogic.getParameterNode()
        inputs = {field: getattr(p, field) for field in INPUT_KEYS}
        inputs["flairVolume"] = inputs["flairVolume"] or reference
        lesionsLogic.relabel(inputs, segmentationNode, tableNode, min_volume_mm3=p.minimumVolumeMm3, connectivity=p.connectivity)

    def _caseMarkups(self) -> list:
        """Markups nodes (points, lines, ...) the reader placed while this case was open, or restored for it."""
        scene = slicer.mrmlScene
        found = []
        for i in range(scene.GetNumberOfNodes()):
            node = scene.GetNthNode(i)
            if node.IsA("vtkMRMLMarkupsNode") and (node.GetID() not in self._sceneSnapshot) and node.GetNumberOfControlPoints():
                found.append(node)
        return found

    def forgetCase(self) -> None:
        """Remove the nodes the open case added to the scene (no saving) and clear the modules' inputs."""
        if self.currentCase is None and not self.caseNodes:
            return
        scene = slicer.mrmlScene
        added = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
        added = [n for n in added
                 if (n.GetID() not in self._sceneSnapshot and any(n.IsA(c) for c in CASE_NODE_CLASSES))
                 or n in self.caseNodes.values()]
        for node in added:
            for getter, nth in (("GetNumberOfDisplayNodes", "GetNthDisplayNode"), ("GetNumberOfStorageNodes", "GetNthStorageNode")):
                if hasattr(node, getter):
                    dependents = [getattr(node, nth)(k) for k in range(getattr(node, getter)())]
                    for dependent in dependents:
                        if dependent is not None and dependent.GetScene() is not None:
                            scene.RemoveNode(dependent)
            if node.GetScene() is not None:
                scene.RemoveNode(node)
        self.caseNodes = {}
        self._sceneSnapshot = set()
        self.currentIndex = -1

    # --- phantom ------------------------------------------------------------------------

    @staticmethod
    def generatePhantomCohort(folder, n_subjects: int = 2, seed: int = 0) -> pathlib.Path:
        """A small BIDS phantom cohort (``mspathobiology.phantom.write_dataset``, two sessions each)."""
        from mspathobiology.phantom import write_dataset

        folder = pathlib.Path(folder)
        write_dataset(folder, n_subjects=n_subjects, seed=seed, small=True, sessions=2)
        return folder

    @staticmethod
    def loadSessionImages(session, prefix: str = "phantom") -> dict:
        """Load a phantom session (``mspathobiology.phantom`` Session) into the scene through the bridge."""
        import mspathobiology_mrml as bridge

        scene = slicer.mrmlScene
        nodes = {key: bridge.image_to_volume(scene, image, f"{prefix} {key}") for key, image in session.images.items()}
        for key in LABEL_KEYS:
            image = getattr(session, key, None)
            if image is not None:
                nodes[key] = bridge.image_to_volume(scene, image, f"{prefix} {key}", labelmap=True)
        ids = sorted(int(les["id"]) for les in session.truth["lesions"])
        nodes["lesions"] = bridge.label_image_to_segmentation(
            scene, session.lesions, names={i: f"Lesion {i}" for i in ids}, name=f"{prefix} lesions",
            reference_volume_node=nodes.get("flair"))
        try:
            from mspathobiology.networks import flat_arrays
            from MSNetworks import MSNetworksLogic
            from MSNetworksLib.geometry import streamlines_to_polydata
            from MSPathobiologyLib import defaults

            data, offsets, lengths = flat_arrays(session.streamlines)
            poly = streamlines_to_polydata(data, offsets, lengths, max_streamlines=defaults.MAX_DISPLAYED_STREAMLINES)
            nodes["tractogram"] = MSNetworksLogic.tractogramNode(poly, f"{prefix} tractogram")
        except ImportError:
            logging.warning("MSCaseReview: MS Networks is not loaded; phantom tractogram not shown")
        MSCaseReviewLogic.showCase(nodes)
        return nodes


#
# MSCaseReviewTest
#


class MSCaseReviewTest(ScriptedLoadableModuleTest):
    """In-Slicer test: a phantom cohort written by the logic layer (no download), opened, corrected,
    saved with backups and resumed."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_review_cycle()
        self.setUp()
        self.test_phantom_sample()

    def test_review_cycle(self):
        import tempfile

        from mspathobiology.cohort import ReviewStore
        from MSPathobiologyLib.nodes import segmentIdForLesion

        self.delayDisplay("Writing a phantom cohort")
        folder = pathlib.Path(tempfile.mkdtemp()) / "cohort"
        logic = MSCaseReviewLogic()
        dataset = logic.generatePhantomCohort(folder, n_subjects=1)
        cases = logic.loadCases(dataset, None, "Test Reader")
        self.assertEqual(len(cases), 2)

        self.delayDisplay("Opening case 1, deleting a lesion, saving")
        nodes = logic.openCase(0)
        self.assertIn("flair", nodes)
        self.assertIn("lesions", nodes)
        red = slicer.app.layoutManager().sliceWidget("Red").mrmlSliceCompositeNode()
        self.assertEqual(red.GetBackgroundVolumeID(), nodes["flair"].GetID())
        segmentation = nodes["lesions"]
        before = segmentation.GetSegmentation().GetNumberOfSegments()
        self.assertGreater(before, 1)
        segmentation.GetSegmentation().RemoveSegment(segmentIdForLesion(segmentation, 1))
        saved = logic.saveCase(status="done")
        names = [s.path.name for s in saved]
        self.assertTrue(any("desc-lesionsTestReader_dseg.nii.gz" in n for n in names), names)

        self.delayDisplay("Case 2, then back to case 1: the correction is restored")
        logic.openCase(1)
        nodes = logic.openCase(0)
        self.assertEqual(nodes["lesions"].GetSegmentation().GetNumberOfSegments(), before - 1)
        self.assertIsNone(segmentIdForLesion(nodes["lesions"], 1))

        self.delayDisplay("Saving a different version keeps a backup")
        nodes["lesions"].GetSegmentation().RemoveSegment(nodes["lesions"].GetSegmentation().GetNthSegmentID(0))
        saved = logic.saveCase()
        self.assertTrue(any(s.backup is not None and s.backup.exists() for s in saved))

        self.delayDisplay("Resuming: a new store finds this reader's position and statuses")
        store = ReviewStore(logic.reviewRoot, "Test Reader")
        self.assertEqual(store.status(cases[0]), "done")
        self.assertEqual(store.position, cases[0].id)
        logic.forgetCase()
        self.delayDisplay("Test passed")

    def test_phantom_sample(self):
        nodes = loadPhantomSample()
        self.assertIn("flair", nodes)
        self.assertGreater(nodes["lesions"].GetSegmentation().GetNumberOfSegments(), 0)
        self.assertGreater(nodes["parcellation"].GetImageData().GetScalarRange()[1], 0)
