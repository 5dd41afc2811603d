"""The parameter-node lifecycle shared by the five module widgets.

It is the Slicer 5 scripted-module template's: the widgets bound through the dynamic
property ``SlicerParameterName`` in the ``.ui`` are connected with ``connectGui`` while
the module is shown, and ``_onParameterNodeModified`` runs on every change.
"""

import vtk


class ParameterNodeGuiMixin:
    """Put before ``ScriptedLoadableModuleWidget`` in the bases. The widget provides
    ``self.ui``, ``self.logic.getParameterNode()`` and ``_onParameterNodeModified``, and
    observes the scene's close events with ``onSceneStartClose`` / ``onSceneEndClose``."""

    _parameterNode = None
    _parameterNodeGuiTag = None

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        self._disconnectParameterNode()

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode) -> None:
        self._disconnectParameterNode()
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
            self._onParameterNodeModified()

    def _disconnectParameterNode(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)


class BackgroundJobMixin:
    """Progress bar and Cancel for widgets that run work in a background process
    (``MSPathobiologyLib.background``); the ``.ui`` has ``progressBar`` and ``statusLabel``."""

    _job = None

    def onCancelButton(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _setProgress(self, fraction, text=None) -> None:
        """``fraction``: None = busy, False = hide, else 0..1; ``text`` goes to the status label."""
        bar = self.ui.progressBar
        if fraction is False:
            bar.setVisible(False)
            return
        bar.setVisible(True)
        if fraction is None:
            bar.setRange(0, 0)
        else:
            bar.setRange(0, 100)
            bar.setValue(int(round(100 * fraction)))
        if text:
            self.ui.statusLabel.text = text
