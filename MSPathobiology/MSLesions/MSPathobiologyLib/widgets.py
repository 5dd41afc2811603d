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
