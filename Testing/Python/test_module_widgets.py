"""The parameter-node lifecycle the five module widgets share (MSPathobiologyLib.widgets).

The GUI binding (``connectGui``) belongs to Slicer's parameterNodeWrapper, which the
slicer-core wheel lacks; a vtkObject subclass records the calls instead. The observer
handling is the real VTKObservationMixin of slicer-core.
"""

import sys

import vtk
from slicer.util import VTKObservationMixin

from conftest import ROOT

sys.path.insert(0, str(ROOT / "MSPathobiology" / "MSLesions"))
from MSPathobiologyLib.widgets import BackgroundJobMixin, ParameterNodeGuiMixin  # noqa: E402


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
