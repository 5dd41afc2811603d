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

# In a source checkout the shared packages sit in MSPathobiology/, the parent of this module's folder.
sys.path.extend({os.path.dirname(os.path.dirname(os.path.abspath(__file__)))} - set(sys.path))

from MSPathobiologyLib import cases  # noqa: E402
from MSPathobiologyLib.widgets import describeModule, ParameterNodeGuiMixin, connectButtons, loadModuleUi  # noqa: E402

#: Image keys loaded as labelmaps.
LABEL_KEYS = ("anatomy", "parcellation", "brain_mask")
#: Node classes a case adds to the scene and that are removed when the reader leaves it.
CASE_NODE_CLASSES = ("vtkMRMLVolumeNode", "vtkMRMLSegmentationNode", "vtkMRMLTableNode", "vtkMRMLModelNode",
                     "vtkMRMLMarkupsNode", "vtkMRMLPlotSeriesNode", "vtkMRMLPlotChartNode", "vtkMRMLColorTableNode")
NEXT_CASE_KEY, PREVIOUS_CASE_KEY = "Ctrl+N", "Ctrl+P"
#: Status colours in the case table.
STATUS_COLORS = {"not_started": "gray", "in_progress": "#d08000", "done": "#2a8c2a", "flagged": "#c02020"}


HELP_TEXT = _("""
Click through a cohort case by case, correcting lesions and rating rims with the other MS Pathobiology
modules.
<ul>
<li>Case lists: a BIDS dataset (sub-*/ses-*/anat, derivatives respected), a folder of case folders, or a
CSV/TSV with one column per image.</li>
<li>Each case shows its status (not started, in progress, done, flagged); <b>Ctrl+N</b> / <b>Ctrl+P</b>
open the next / previous case, double-click opens any case; reading resumes where this reader stopped.</li>
<li>Opening a case loads its images under the case's patient and study, FLAIR as background and the lesions
as a segmentation overlay, fills the inputs of every MS Pathobiology module (each module declares what it
takes and saves; MS Atrophy gets the subject's next session as follow-up), and brings back what this reader
saved before.</li>
<li>Leaving a case saves lesion corrections, tables and markups annotations into the review derivatives
folder under BIDS-derivatives names carrying the reader name; an existing different file is first copied
to <i>backups/</i>, never overwritten.</li>
</ul>
The workflow follows SlicerCaseIterator (Joost van Griethuysen et al.). The <b>Make phantom cohort</b> button
and the Sample Data entry "MS phantom (small)" generate synthetic data with the logic layer (no download).
""")
ACKNOWLEDGEMENT = _("""
Part of the MSPathobiology extension. Inspired by SlicerCaseIterator (JoostJM/SlicerCaseIterator).
""")


#
# MSCaseReview
#


class MSCaseReview(ScriptedLoadableModule):
    """MS Case Review (scripted module; see Slicer's ScriptedLoadableModule)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        describeModule(self.parent, _("MS Case Review"), HELP_TEXT, ACKNOWLEDGEMENT,
                       dependencies=["MSLesions", "MSRimLesions", "MSAtrophy", "MSNetworks"])
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


def loadPhantomSample() -> dict:
    """Generate the small phantom (one session) and load its images and lesions, then show them."""
    with slicer.util.tryWithErrorDisplay(_("Failed to generate the phantom."), waitCursor=True):
        from MSPathobiologyLib import selftest_data

        session = selftest_data.phantom_subject().sessions[0]
        nodes = MSCaseReviewLogic().loadSessionImages(session, prefix=f"phantom{selftest_data.SEED}")
        MSCaseReviewWidget.showCase(nodes)
        return nodes


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
        self._shortcuts = []

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        self.ui = loadModuleUi(self, "MSCaseReview")
        self.logic = MSCaseReviewLogic()
        connectButtons(self.ui, {
            "loadCasesButton": self.onLoadCases, "generatePhantomButton": self.onGeneratePhantom,
            "previousCaseButton": lambda: self.openCase(self.logic.currentIndex - 1),
            "nextCaseButton": lambda: self.openCase(self.logic.currentIndex + 1),
            "openSelectedButton": self.onOpenSelected, "markDoneButton": lambda: self.onSetStatus("done"),
            "flagButton": lambda: self.onSetStatus("flagged"), "saveButton": self.onSave})
        self.ui.casesTableWidget.connect("cellDoubleClicked(int,int)", lambda row, column: self.openCase(row))
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
            p = self._parameterNode
            self.logic.loadCases(p.caseSource, p.reviewFolder, p.readerName)
            if str(p.reviewFolder) in ("", "."):
                p.reviewFolder = self.logic.reviewRoot
            self._refreshCaseTable()
            if self.logic.cases:
                self.openCase(self.logic.store.resume_index(self.logic.cases), save=False)

    def onGeneratePhantom(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to generate the phantom cohort."), waitCursor=True):
            from MSPathobiologyLib import selftest_data

            folder = pathlib.Path(slicer.app.temporaryPath) / "MSPathobiology" / "phantom-cohort"
            self.ui.saveStatusLabel.text = _("Generating the phantom cohort in {folder} ...").format(folder=folder)
            slicer.app.processEvents()
            dataset = selftest_data.case_review_data(folder, n_subjects=2)
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
            nodes = self.logic.openCase(index)
            self.showCase(nodes)
            case = self.logic.currentCase
            self.ui.noteLineEdit.text = self.logic.store.note(case)
            self.ui.currentCaseLabel.text = _("{case} ({n}/{total}) \u2014 {status}; images: {images}").format(
                case=case.id, n=index + 1, total=len(self.logic.cases),
                status=self.logic.store.status(case).replace("_", " "), images=", ".join(sorted(case.images)))
        self._refreshCaseTable()

    @staticmethod
    def showCase(nodes: dict) -> None:
        """FLAIR (else T1) in the background of every slice view, lesions as a segmentation overlay."""
        background = nodes.get("flair") or nodes.get("t1") or next(
            (n for n in nodes.values() if n is not None and n.IsA("vtkMRMLScalarVolumeNode")), None)
        if slicer.app.layoutManager() is not None and background is not None:
            slicer.app.layoutManager().setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpView)
            slicer.util.setSliceViewerLayers(background=background, foreground=None, label=None, fit=True)
        lesions = nodes.get("lesions")
        if lesions is not None:
            if lesions.GetDisplayNode() is None:
                lesions.CreateDefaultDisplayNodes()
            lesions.GetDisplayNode().SetVisibility(True)
            lesions.GetDisplayNode().SetOpacity2DFill(0.3)

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


#
# MSCaseReviewLogic
#


class MSCaseReviewLogic(ScriptedLoadableModuleLogic):
    """Case list, review state and per-case load/save, on ``mspathobiology.cohort``; what each module
    takes from and saves for a case comes from the case registry (``MSPathobiologyLib.cases``).

    Usable without the widget: ``loadCases``, ``openCase``, ``saveCase``, ``forgetCase``. No GUI calls.
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.cases = []
        self.store = None
        self.reviewRoot = None
        self.currentIndex = -1
        self.caseNodes = {}
        self._sceneSnapshot = set()
        self._study = None

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
        this reader saved before, fill every registered module and mark it in progress."""
        self.forgetCase()
        self.currentIndex = index
        case = self.currentCase
        self._sceneSnapshot = {slicer.mrmlScene.GetNthNode(i).GetID() for i in range(slicer.mrmlScene.GetNumberOfNodes())}
        self.store.open_case(case)
        saved = self.store.files(case)
        nodes = self.loadCaseImages(case, saved)
        nodes.update(self.restoreSaved(case, saved, nodes))
        self.placeInStudy(case, nodes)
        self.caseNodes = nodes
        context = {"reader": self.store.reader, "caseFolder": self.caseFolder(case)}
        for participant in cases.participants():
            participant.fill(case, nodes, context)
        return nodes

    def loadCaseImages(self, case, saved: dict) -> dict:
        """Volumes of the case (labelmaps for label keys), files a module loads itself (tractograms),
        the lesions (the reader's saved correction when there is one) and the next session's T1."""
        import mspathobiology_mrml as bridge

        scene = slicer.mrmlScene
        loaders = cases.loaders()
        files = cases.caseFiles()
        nodes = {}
        for key, path in sorted(case.images.items()):
            if key in files:
                continue  # an output of a module (lesions): restored below, the reader's version first
            if key in loaders:
                nodes[key] = loaders[key](path, f"{case.id} {key}")
            else:
                nodes[key] = bridge.load_volume(scene, path, labelmap=key in LABEL_KEYS, name=f"{case.id} {key}")
        for key, caseFile in files.items():
            if caseFile.desc not in saved and case.images.get(key) is not None:
                nodes.update(self.loadFile(caseFile, case.images[key], f"{case.id} {key}", nodes))
        followup = self.followupCase(case)
        if followup is not None and followup.images.get("t1") is not None:
            nodes["followup_t1"] = bridge.load_volume(scene, followup.images["t1"], name=f"{followup.id} t1 (follow-up)")
        return nodes

    def followupCase(self, case):
        """The next session of the same subject in the case list (for PBVC in MS Atrophy), or None."""
        from mspathobiology.cohort import consecutive_pairs

        return next((later for earlier, later in consecutive_pairs(self.cases) if earlier.id == case.id), None)

    @staticmethod
    def loadFile(caseFile, path, name, nodes) -> dict:
        """``{key: node}`` of one saved output read back by its kind."""
        import mspathobiology_mrml as bridge
        from mspathobiology.io import read_image

        scene = slicer.mrmlScene
        reference = nodes.get("flair") or nodes.get("t1")
        if caseFile.kind == "lesion_labels":
            from mspathobiology_mrml import lesion_segments

            node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
            node.CreateDefaultDisplayNodes()
            labels = read_image(path, kind="label")
            lesion_segments.write_lesion_labels(node, labels, reference)
            return {caseFile.key: node}
        if caseFile.kind == "labels":
            return {caseFile.key: bridge.label_image_to_segmentation(scene, read_image(path, kind="label"), name=name,
                                                                     reference_volume_node=nodes.get("t1") or reference)}
        return {caseFile.key: bridge.load_table(scene, path, name=name)}

    def restoreSaved(self, case, saved: dict, nodes: dict) -> dict:
        """Bring back what this reader saved for the case (every registered output) and markups
        annotations; an output without a table gets an empty table for its module to fill."""
        import mspathobiology_mrml as bridge

        restored = {}
        for key, caseFile in cases.caseFiles().items():
            path = saved.get(caseFile.desc)
            if path is not None:
                restored.update(self.loadFile(caseFile, path, f"{case.id} {key.replace('_', ' ')}", {**nodes, **restored}))
        if (nodes.get("lesions") or restored.get("lesions")) is not None and "lesion_table" not in restored:
            restored["lesion_table"] = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", f"{case.id} lesion table")
        for label, path in sorted(saved.items()):
            if label.startswith("annotation") and str(path).endswith(".mrk.json"):
                restored[label] = bridge.load_markups(slicer.mrmlScene, path)
        return restored

    def placeInStudy(self, case, nodes: dict) -> None:
        """Put the case's nodes under its patient (``sub-XX``) and study (``ses-YY``) in the Subject Hierarchy;
        the modules put their outputs in the same study."""
        from mspathobiology_mrml.hierarchy import subject_hierarchy

        sh = subject_hierarchy(slicer.mrmlScene)
        patientName = f"sub-{case.subject}"
        patient = sh.GetItemChildWithName(sh.GetSceneItemID(), patientName) or sh.CreateSubjectItem(
            sh.GetSceneItemID(), patientName)
        studyName = f"ses-{case.session}" if case.session else case.id
        study = sh.GetItemChildWithName(patient, studyName) or sh.CreateStudyItem(patient, studyName)
        for key, node in nodes.items():
            if node is None or key == "followup_t1":
                continue
            item = sh.GetItemByDataNode(node) or sh.CreateItem(study, node)
            sh.SetItemParent(item, study)
        self._study = study

    # --- saving and leaving -------------------------------------------------------------

    def _currentModuleNodes(self) -> dict:
        """The case's nodes with the outputs the modules point at now (the reader may have made new ones)."""
        found = dict(self.caseNodes)
        for participant in cases.participants():
            found.update({k: v for k, v in participant.currentOutputs().items() if v is not None})
        return found

    def saveCase(self, note: str | None = None, status: str | None = None) -> list:
        """Save every output and annotation of the open case (``ReviewStore.save_file``: BIDS-derivatives
        names with the reader, backup of a different previous file) and update its status. Returns SavedFile list."""
        import mspathobiology_mrml as bridge
        from mspathobiology.io import write_image
        from mspathobiology.lesion_table import write_lesion_table
        from mspathobiology.tables import write_table

        case = self.currentCase
        if case is None:
            return []
        for participant in cases.participants():
            if participant.beforeSave is not None:
                participant.beforeSave(participant.parameterNode(), self.caseNodes)
        nodes = self._currentModuleNodes()
        reference = nodes.get("flair") or nodes.get("t1")
        saved = []
        for key, caseFile in cases.caseFiles().items():
            node = nodes.get(key)
            if node is None or node.GetScene() is None:
                continue
            if caseFile.kind in ("lesion_labels", "labels"):
                if caseFile.kind == "labels" and not node.GetSegmentation().GetNumberOfSegments():
                    continue
                grid = reference if caseFile.kind == "lesion_labels" else nodes.get("t1") or reference
                image, _segments = bridge.segmentation_to_label_image(node, reference_volume_node=grid)
                writer = lambda path, image=image: write_image(image, path)  # noqa: E731
            elif node.GetNumberOfRows():
                rows = bridge.table_to_rows(node)
                write = write_lesion_table if caseFile.kind == "lesion_table" else write_table
                writer = lambda path, rows=rows, write=write: write(rows, path)  # noqa: E731
            else:
                continue
            saved.append(self.store.save_file(case, caseFile.desc, suffix=caseFile.suffix, ext=caseFile.ext,
                                              writer=writer))
        for n, markups in enumerate(self._caseMarkups(), start=1):
            saved.append(self.store.save_file(case, f"annotation{n}", suffix="markups", ext=".mrk.json",
                                              writer=lambda path, m=markups: bridge.save_node(m, path)))
        if status is not None:
            self.store.set_status(case, status, note)
        elif note is not None and note != self.store.note(case):
            self.store.set_status(case, self.store.status(case), note)
        return saved

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
        if self._study:
            from mspathobiology_mrml.hierarchy import subject_hierarchy

            sh = subject_hierarchy(scene)
            patient = sh.GetItemParent(self._study)
            sh.RemoveItem(self._study, False, True)  # the case's items; its nodes are removed below
            if patient and patient != sh.GetSceneItemID() and not sh.GetNumberOfItemChildren(patient):
                sh.RemoveItem(patient, False, True)
            self._study = None
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
    def loadSessionImages(session, prefix: str = "phantom") -> dict:
        """Load a phantom session (``mspathobiology.phantom`` Session): volumes, labelmaps and the lesions
        as ``lesion_<id>`` segments, through the bridge."""
        import mspathobiology_mrml as bridge
        from mspathobiology_mrml import lesion_segments

        scene = slicer.mrmlScene
        nodes = {key: bridge.image_to_volume(scene, image, f"{prefix} {key}") for key, image in session.images.items()}
        for key in LABEL_KEYS:
            image = getattr(session, key, None)
            if image is not None:
                nodes[key] = bridge.image_to_volume(scene, image, f"{prefix} {key}", labelmap=True)
        nodes["lesions"] = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{prefix} lesions")
        nodes["lesions"].CreateDefaultDisplayNodes()
        lesion_segments.write_lesion_labels(nodes["lesions"], session.lesions, nodes.get("flair"))
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
        from MSPathobiologyLib import dependencies, selftest_data
        from mspathobiology_mrml.lesion_segments import segment_id

        dependencies.requireForTest(self, "MSCaseReview", ["nibabel"])  # the cohort's tractograms are .tck/.trk
        self.delayDisplay("Writing a phantom cohort")
        folder = pathlib.Path(tempfile.mkdtemp()) / "cohort"
        logic = MSCaseReviewLogic()
        dataset = selftest_data.case_review_data(folder, n_subjects=1)
        found = logic.loadCases(dataset, None, "Test Reader")
        self.assertEqual(len(found), 2)
        self.assertEqual({p.module for p in cases.participants()},
                         {"MSLesions", "MSRimLesions", "MSAtrophy", "MSNetworks"})

        self.delayDisplay("Opening case 1, deleting a lesion, saving")
        nodes = logic.openCase(0)
        self.assertIn("flair", nodes)
        self.assertIn("lesions", nodes)
        MSCaseReviewWidget.showCase(nodes)
        red = slicer.app.layoutManager().sliceWidget("Red").mrmlSliceCompositeNode()
        self.assertEqual(red.GetBackgroundVolumeID(), nodes["flair"].GetID())
        segmentation = nodes["lesions"]
        before = segmentation.GetSegmentation().GetNumberOfSegments()
        self.assertGreater(before, 1)
        segmentation.GetSegmentation().RemoveSegment(segment_id(1))
        saved = logic.saveCase(status="done")
        names = [s.path.name for s in saved]
        self.assertTrue(any("desc-lesionstestreader_dseg.nii.gz" in n for n in names), names)
        self.assertTrue(any("desc-lesiontabletestreader_dseg.tsv" in n for n in names), names)

        self.delayDisplay("Case 2, then back to case 1: the correction is restored")
        logic.openCase(1)
        nodes = logic.openCase(0)
        self.assertEqual(nodes["lesions"].GetSegmentation().GetNumberOfSegments(), before - 1)
        self.assertIsNone(nodes["lesions"].GetSegmentation().GetSegment(segment_id(1)))

        self.delayDisplay("Saving a different version keeps a backup")
        nodes["lesions"].GetSegmentation().RemoveSegment(nodes["lesions"].GetSegmentation().GetNthSegmentID(0))
        saved = logic.saveCase()
        self.assertTrue(any(s.backup is not None and s.backup.exists() for s in saved))

        self.delayDisplay("Resuming: a new store finds this reader's position and statuses")
        store = ReviewStore(logic.reviewRoot, "Test Reader")
        self.assertEqual(store.status(found[0]), "done")
        self.assertEqual(store.position, found[0].id)
        logic.forgetCase()
        self.delayDisplay("Test passed")

    def test_phantom_sample(self):
        nodes = loadPhantomSample()
        self.assertIn("flair", nodes)
        self.assertGreater(nodes["lesions"].GetSegmentation().GetNumberOfSegments(), 0)
        self.assertGreater(nodes["parcellation"].GetImageData().GetScalarRange()[1], 0)
