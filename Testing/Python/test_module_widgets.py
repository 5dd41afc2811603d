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
    assert set(result["built"]) == {"MSLesions", "MSRimLesions", "MSAtrophy", "MSNetworks", "MSCaseReview"}
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
