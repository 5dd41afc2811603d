"""What the five module widgets share (MSPathobiologyLib), outside the Slicer application.

- A fresh Slicer 5.12 has numpy, SimpleITK, VTK and scipy only: the logic layer must import and
  every module's self-test data must build there (a child interpreter that cannot import
  nibabel, networkx, trx-python, matplotlib or dask proves it).
- The parameter-node lifecycle of every widget. The GUI binding (``connectGui``) belongs to Slicer's parameterNodeWrapper, which the
slicer-core wheel lacks; a vtkObject subclass records the calls instead. The observer
handling is the real VTKObservationMixin of slicer-core.
"""

import json
import subprocess
import sys
import textwrap

import pytest
import vtk
from slicer.util import VTKObservationMixin

from conftest import ROOT

sys.path.insert(0, str(ROOT / "MSPathobiology"))
from MSPathobiologyLib.widgets import BackgroundJobMixin, ParameterNodeGuiMixin  # noqa: E402

#: What Slicer 5.12 does not bundle and the logic layer may import only where it is used.
NOT_IN_SLICER = ("nibabel", "networkx", "trx", "matplotlib", "dask", "nilearn")

FRESH_SLICER = textwrap.dedent("""
    import importlib, importlib.abc, json, pkgutil, sys, tempfile
    BLOCKED = set(sys.argv[1].split(","))

    class NotInSlicer(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (not bundled with Slicer)", name=name)

    sys.meta_path.insert(0, NotInSlicer())
    sys.path.insert(0, sys.argv[2])
    import mspathobiology
    packages = [m.name for m in pkgutil.walk_packages(mspathobiology.__path__, "mspathobiology.") if m.ispkg]
    for name in ["mspathobiology_mrml", "mspathobiology.cli"] + packages:
        importlib.import_module(name)
    from MSPathobiologyLib import selftest_data
    built = {}
    for module, builder in selftest_data.BUILDERS.items():
        data = builder(tempfile.mkdtemp()) if module == "MSCaseReview" else builder()
        built[module] = sorted(data) if isinstance(data, dict) else str(type(data).__name__)
    leaked = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
    print(json.dumps({"packages": packages, "built": built, "leaked": leaked}))
""")


def run_fresh_slicer(blocked=NOT_IN_SLICER):
    out = subprocess.run([sys.executable, "-c", FRESH_SLICER, ",".join(blocked), str(ROOT / "MSPathobiology")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_self_test_data_builds_with_only_what_slicer_bundles():
    """The logic layer imports (every subpackage, the CLI, the bridge) and the phantom builds every
    module's self-test data while nibabel, networkx, trx-python, matplotlib and dask cannot be imported."""
    result = run_fresh_slicer()
    assert {"mspathobiology.lesions", "mspathobiology.rims", "mspathobiology.atrophy", "mspathobiology.networks",
            "mspathobiology.phantom", "mspathobiology.cohort"} <= set(result["packages"])
    assert set(result["built"]) == {"MSLesions", "MSRimLesions", "MSAtrophy", "MSNetworks", "MSCaseReview",
                                    "MSSlowlyExpandingLesions"}
    assert {"visits", "lesions", "truth_sel"} <= set(result["built"]["MSSlowlyExpandingLesions"])
    assert {"flair", "anatomy", "truth_lesions"} <= set(result["built"]["MSLesions"])
    assert {"points", "offsets", "parcellation", "truth_connectome"} <= set(result["built"]["MSNetworks"])
    assert result["leaked"] == []


def test_the_import_blocker_bites():
    """The same child fails when the code it runs imports a blocked package (here: SimpleITK)."""
    out = subprocess.run([sys.executable, "-c", FRESH_SLICER, "SimpleITK", str(ROOT / "MSPathobiology")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "not bundled with Slicer" in out.stderr


class RecordingParameterNode(vtk.vtkObject):
    def __init__(self):
        super().__init__()
        self.calls = []

    def connectGui(self, ui):
        self.calls.append(("connect", ui))
        return f"tag{len(self.calls)}"

    def disconnectGui(self, tag):
        self.calls.append(("disconnect", tag))


class Widget(ParameterNodeGuiMixin, VTKObservationMixin):
    def __init__(self, node):
        VTKObservationMixin.__init__(self)
        self.ui = "ui"
        self.modified = 0
        self.logic = type("Logic", (), {"getParameterNode": staticmethod(lambda: node)})()
        self.parent = type("Parent", (), {"isEntered": True})()

    def _onParameterNodeModified(self, caller=None, event=None):
        self.modified += 1


def test_enter_binds_and_observes_exit_releases():
    node = RecordingParameterNode()
    widget = Widget(node)
    widget.enter()
    assert widget._parameterNode is node and node.calls == [("connect", "ui")]
    assert widget.modified == 1
    node.Modified()
    assert widget.modified == 2
    widget.exit()
    assert node.calls[-1] == ("disconnect", "tag1") and widget._parameterNodeGuiTag is None
    node.Modified()
    assert widget.modified == 2  # no longer observed


def test_scene_close_drops_the_node_and_reopen_rebinds():
    node = RecordingParameterNode()
    widget = Widget(node)
    widget.enter()
    widget.onSceneStartClose(None, None)
    assert widget._parameterNode is None and node.calls[-1] == ("disconnect", "tag1")
    node.Modified()
    assert widget.modified == 1
    widget.onSceneEndClose(None, None)
    assert widget._parameterNode is node and node.calls[-1] == ("connect", "ui") and widget.modified == 2


class Bar:
    def __init__(self):
        self.visible, self.range, self.value = False, None, None

    def setVisible(self, visible):
        self.visible = visible

    def setRange(self, low, high):
        self.range = (low, high)

    def setValue(self, value):
        self.value = value


def test_background_progress_and_cancel():
    ui = type("UI", (), {})()
    ui.progressBar, ui.statusLabel = Bar(), type("Label", (), {"text": ""})()
    job = type("Job", (), {"cancelled": False, "cancel": lambda self: setattr(self, "cancelled", True)})()
    widget = type("W", (BackgroundJobMixin,), {})()
    widget.ui, widget._job = ui, job
    widget._setProgress(None, "Segmenting")
    assert ui.progressBar.visible and ui.progressBar.range == (0, 0) and ui.statusLabel.text == "Segmenting"
    widget._setProgress(0.426)
    assert ui.progressBar.range == (0, 100) and ui.progressBar.value == 43
    widget._setProgress(False)
    assert not ui.progressBar.visible
    widget.onCancelButton()
    assert job.cancelled


# ----------------------------------------------------------------------------- the case registry
def test_case_registry_fills_modules_and_reads_their_outputs(monkeypatch):
    from types import SimpleNamespace

    from MSPathobiologyLib import cases

    monkeypatch.setattr(cases, "_participants", {})
    rims, lesions = SimpleNamespace(), SimpleNamespace()
    configured = []
    cases.register(cases.CaseParticipant(
        module="Lesions", parameterNode=lambda: lesions, inputs={"flairVolume": "flair"},
        outputs=(cases.CaseFile("segmentation", "lesions", "lesions", "dseg", ".nii.gz", "lesion_labels"),)))
    cases.register(cases.CaseParticipant(
        module="Rims", parameterNode=lambda: rims, inputs={"lesions": "lesions", "map": ("qsm", "phase")},
        outputs=(cases.CaseFile("scores", "rim_scores", "rimscores", "stats", ".tsv", "table"),),
        configure=lambda p, case, nodes, context: configured.append((case, context["reader"]))))
    nodes = {"flair": "F", "phase": "P", "lesions": "L"}
    for participant in cases.participants():
        participant.fill("sub-01", nodes, {"reader": "R"})
    assert (lesions.flairVolume, lesions.segmentation) == ("F", "L")
    assert (rims.lesions, rims.map, rims.scores) == ("L", "P", None)  # first present of ("qsm", "phase")
    assert configured == [("sub-01", "R")]
    rims.scores = "T"
    assert cases.participants()[1].currentOutputs() == {"rim_scores": "T"}
    assert set(cases.caseFiles()) == {"lesions", "rim_scores"}
    with pytest.raises(ValueError, match="already saved by another module"):
        cases.register(cases.CaseParticipant(module="Other", parameterNode=dict, outputs=(
            cases.CaseFile("x", "lesions", "lesions", "dseg", ".nii.gz", "labels"),)))
    cases.register(cases.CaseParticipant(module="Rims", parameterNode=lambda: rims))  # a reloaded module replaces itself
    assert [p.module for p in cases.participants()] == ["Lesions", "Rims"] and "rim_scores" not in cases.caseFiles()
    with pytest.raises(ValueError, match="kind"):
        cases.CaseFile("x", "y", "y", "dseg", ".nii.gz", "mesh")


def test_self_test_skips_naming_a_package_it_cannot_install(monkeypatch):
    import unittest

    from MSPathobiologyLib import dependencies

    class Case(unittest.TestCase):
        def runTest(self):
            pass

    def offline(*args, **kwargs):
        raise RuntimeError("no network")

    assert dependencies.missing(["numpy", "a-package-that-is-not-there"]) == ["a-package-that-is-not-there"]
    dependencies.requireForTest(Case(), "MSNetworks", ["numpy", "vtk"])  # present: no install, no skip
    monkeypatch.setattr(dependencies, "ensure", offline)
    monkeypatch.setattr(dependencies, "missing", lambda modules: [m for m in modules if m in ("trx", "nibabel")])
    with pytest.raises(unittest.SkipTest, match="needs trx-python, nibabel .install failed: no network"):
        dependencies.requireForTest(Case(), "MSNetworks", ["numpy", "trx", "nibabel"])


# ----------------------------------------------------------------------------- the modules' Logic on real MRML
#: Runs in a child interpreter: the module files are imported with minimal stand-ins for what only the
#: Slicer application has (Qt, the scripted-module base classes, the parameter-node wrapper, slicer.app);
#: their Logic then runs on slicer-core's real MRML scene and the real logic layer.
MODULE_LOGIC = textwrap.dedent("""
    import json, pathlib, sys, tempfile, types
    root = pathlib.Path(sys.argv[1])
    sys.path.insert(0, str(root))
    import slicer
    import mspathobiology_mrml as bridge
    slicer.mrmlScene = scene = bridge.new_scene()
    slicer.app = types.SimpleNamespace(temporaryPath=tempfile.mkdtemp(), defaultScenePath=tempfile.mkdtemp(),
                                       layoutManager=lambda: None, connect=lambda *a: None)
    sys.modules["qt"] = types.ModuleType("qt")
    i18n = types.ModuleType("slicer.i18n"); i18n.tr = lambda text: text; sys.modules["slicer.i18n"] = i18n
    base = types.ModuleType("slicer.ScriptedLoadableModule")
    class Logic:
        nodes = {}
        def getParameterNode(self):
            return Logic.nodes.setdefault(type(self).__name__, {})
    for name in ("ScriptedLoadableModule", "ScriptedLoadableModuleWidget", "ScriptedLoadableModuleTest"):
        setattr(base, name, type(name, (), {}))
    base.ScriptedLoadableModuleLogic = Logic
    base.__all__ = [n for n in dir(base) if n.startswith("Scripted")]
    sys.modules["slicer.ScriptedLoadableModule"] = base
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    def parameterNodeWrapper(cls):
        class Wrapped:
            def __init__(self, store):
                object.__setattr__(self, "_store", store)
                for key in cls.__annotations__:
                    store.setdefault(key, getattr(cls, key, None))
            def __getattr__(self, key):
                return self._store[key]
            def __setattr__(self, key, value):
                if key not in cls.__annotations__:
                    raise AttributeError(f"{cls.__name__} has no parameter {key!r}")
                self._store[key] = value
        return Wrapped
    wrapper.parameterNodeWrapper = parameterNodeWrapper
    wrapper.Choice = wrapper.WithinRange = lambda *args: None
    sys.modules["slicer.parameterNodeWrapper"] = wrapper
    for module in ("MSLesions", "MSRimLesions", "MSAtrophy", "MSNetworks", "MSCaseReview"):
        sys.path.insert(0, str(root / module))
    import MSAtrophy, MSCaseReview, MSLesions, MSNetworks, MSRimLesions
    from MSPathobiologyLib import cases, selftest_data
    from mspathobiology_mrml import lesion_segments
    out = {"participants": [p.module for p in cases.participants()]}

    # MS Lesions: segment in memory, delete one lesion's segment, relabel
    data = selftest_data.lesions_data()
    flair = bridge.image_to_volume(scene, data["flair"], "FLAIR")
    inputs = {"flairVolume": flair, "t1Volume": bridge.image_to_volume(scene, data["t1"], "T1"), "t1PostVolume": None,
              "anatomyVolume": bridge.image_to_volume(scene, data["anatomy"], "aseg", labelmap=True), "brainMaskVolume": None}
    logic = MSLesions.MSLesionsLogic()
    segmentation, table = logic.ensureOutputs(flair)
    logic.segment(inputs, segmentation, table)
    rows = logic.lesionRows(table)
    ids = [int(r["id"]) for r in rows]
    kept = segmentation.GetSegmentation().GetSegment(lesion_segments.segment_id(ids[0]))
    segmentation.GetSegmentation().RemoveSegment(lesion_segments.segment_id(ids[1]))
    edited = logic.isEdited(segmentation, flair)
    summary = logic.relabel(inputs, segmentation, table)
    after = {int(r["id"]): r["voxels"] for r in logic.lesionRows(table)}
    out["lesions"] = {"ids": ids, "edited": edited, "after": sorted(after), "removed": summary["relabel"]["removed"],
                      "voxels_kept": all(after.get(int(r["id"])) == r["voxels"] for r in rows if int(r["id"]) != ids[1]),
                      "segment_kept": segmentation.GetSegmentation().GetSegment(lesion_segments.segment_id(ids[0])) is kept,
                      "segment_ids": sorted(segmentation.GetSegmentation().GetSegmentIDs())}

    # MS Rim Lesions: scores through rims.analyse, a rating and its undo
    data = selftest_data.rims_data()
    qsm = bridge.image_to_volume(scene, data["qsm"], "QSM")
    rims = MSRimLesions.MSRimLesionsLogic()
    lesions = bridge.label_image_to_segmentation(scene, data["lesions"], name="Lesions", reference_volume_node=qsm)
    scores = rims.scoreRims(lesions, qsm, "qsm", tableNode=rims.newScoreTable(qsm),
                            anatomyVolume=bridge.image_to_volume(scene, data["anatomy"], "aseg2", labelmap=True))
    session = rims.openSession(tempfile.mkdtemp(), "sub-01", "tester", rims.newScoreTable(qsm), lesionsNode=lesions)
    first = session.next_unrated()
    rims.rate(first, "PRL", confidence=4)
    rims.rate(first, "not_PRL", confidence=2)
    undone = rims.undoLastRating()
    out["rims"] = {"candidates": sorted(int(r["id"]) for r in scores if r["prl_candidate"]),
                   "rim_lesions": sorted(i for i, f in data["rim_fraction"].items() if f > 0.55),
                   "undone": undone == first, "after_undo": session.rating(first)["label"]}
    rims.closeSession()

    # MS Networks: the connectome of the phantom's streamlines against its truth
    data = selftest_data.networks_data()
    networks = MSNetworks.MSNetworksLogic()
    parcellation = bridge.image_to_volume(scene, data["parcellation"], "parcellation", labelmap=True)
    tractogram = networks.tractogramNode((data["points"], data["offsets"], data["lengths"]), "tractogram")
    result = networks.compute(tractogram, parcellation,
                              bridge.image_to_volume(scene, data["lesions"], "lesions", labelmap=True))
    nodesTable, edgesTable = networks.ensureOutputs(parcellation, withLesions=True)
    networks.connectomeModels(result, networks.fillTables(result, parcellation, nodesTable, edgesTable), nodesTable)
    truth = data["truth_connectome"]
    position = {int(v): n for n, v in enumerate(result.row_labels)}
    out["networks"] = {"matrix_matches": all(result.matrix[position[a], position[b]] == truth["matrix"][i][j]
                                             for i, a in enumerate(truth["labels"]) for j, b in enumerate(truth["labels"])
                                             if a in position and b in position),
                       "lesioned": int(result.disconnection["lesioned_streamlines"]),
                       "truth_lesioned": len(data["truth_disconnected"]),
                       "columns": sorted(bridge.table_to_rows(nodesTable)[0])}

    # MS Atrophy: tissue volumes and PBVC in memory against the phantom's truth
    data = selftest_data.atrophy_data()
    atrophy = MSAtrophy.MSAtrophyLogic()
    t1 = bridge.image_to_volume(scene, data["t1"], "T1 baseline")
    outputs = atrophy.ensureOutputs(t1, withFollowup=True)
    found = atrophy.run({"t1Volume": t1, "lesions": bridge.image_to_volume(scene, data["lesions"], "l", labelmap=True),
                         "brainMaskVolume": bridge.image_to_volume(scene, data["brain_mask"], "m", labelmap=True)},
                        {"t1": bridge.image_to_volume(scene, data["followup_t1"], "T1 follow-up"),
                         "brain_mask": bridge.image_to_volume(scene, data["followup_brain_mask"], "mb", labelmap=True)},
                        1.0, *outputs)
    out["atrophy"] = {"bpf": found["bpf"], "truth_bpf": data["truth_bpf"], "pbvc": found["pbvc_percent"],
                      "truth_pbvc": data["truth_pbvc_percent"], "segments": outputs[0].GetSegmentation().GetNumberOfSegments()}

    # MS Case Review: open a case, every module is filled, delete a lesion, save, reopen
    review = MSCaseReview.MSCaseReviewLogic()
    review.loadCases(selftest_data.case_review_data(pathlib.Path(tempfile.mkdtemp()) / "cohort"), None, "Test Reader")
    nodes = review.openCase(0)
    before = nodes["lesions"].GetSegmentation().GetNumberOfSegments()
    filled = {"MSLesions": MSLesions.MSLesionsLogic().getParameterNode().flairVolume is nodes["flair"],
              "MSRimLesions": MSRimLesions.MSRimLesionsLogic().getParameterNode().susceptibilityVolume is nodes["qsm"],
              "MSAtrophy": MSAtrophy.MSAtrophyLogic().getParameterNode().followupT1Volume is nodes["followup_t1"],
              "MSNetworks": MSNetworks.MSNetworksLogic().getParameterNode().tractogram is nodes["tractogram"]}
    nodes["lesions"].GetSegmentation().RemoveSegment(lesion_segments.segment_id(1))
    saved = sorted(s.path.name for s in review.saveCase(status="done"))
    review.openCase(1)
    reopened = review.openCase(0)
    out["review"] = {"filled": filled, "saved": saved, "reader": review.store.reader_label, "before": before,
                     "reopened": reopened["lesions"].GetSegmentation().GetNumberOfSegments(),
                     "lesion_1": reopened["lesions"].GetSegmentation().GetSegment("lesion_1") is not None,
                     "table_rows": reopened["lesion_table"].GetNumberOfRows()}
    review.forgetCase()
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_module_logic_runs_on_slicer_core_mrml():
    """Each module's Logic (imported from the module file) on real MRML and the real logic layer, checked
    against the phantom's truth: lesions segmented and relabelled (untouched segments kept), rims scored
    and a rating undone, the connectome, tissue volumes and PBVC, and a case review round trip."""
    out = subprocess.run([sys.executable, "-c", MODULE_LOGIC, str(ROOT / "MSPathobiology")],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))
    assert sorted(result["participants"]) == ["MSAtrophy", "MSLesions", "MSNetworks", "MSRimLesions"]
    lesions = result["lesions"]
    assert len(lesions["ids"]) >= 3 and lesions["edited"] and lesions["removed"] == [lesions["ids"][1]]
    assert lesions["after"] == sorted(set(lesions["ids"]) - {lesions["ids"][1]})
    assert lesions["voxels_kept"] and lesions["segment_kept"]
    assert lesions["segment_ids"] == sorted(f"lesion_{i}" for i in lesions["after"])
    rims = result["rims"]
    assert rims["candidates"] and set(rims["candidates"]) <= set(rims["rim_lesions"])
    assert rims["undone"] and rims["after_undo"] == "PRL"
    networks = result["networks"]
    assert networks["matrix_matches"] and networks["lesioned"] == networks["truth_lesioned"]
    assert {"strength", "strength_lesioned", "degree_lesioned", "centroid_r"} <= set(networks["columns"])
    atrophy = result["atrophy"]
    assert abs(atrophy["bpf"] - atrophy["truth_bpf"]) < 0.02 and abs(atrophy["pbvc"] - atrophy["truth_pbvc"]) < 0.5
    assert atrophy["segments"] >= 3
    review = result["review"]
    assert all(review["filled"].values()), review["filled"]
    reader = review["reader"]
    assert f"sub-01_ses-01_desc-lesions{reader}_dseg.nii.gz" in review["saved"]
    assert f"sub-01_ses-01_desc-lesiontable{reader}_dseg.tsv" in review["saved"]
    assert review["reopened"] == review["before"] - 1 and not review["lesion_1"] and review["table_rows"] > 0
