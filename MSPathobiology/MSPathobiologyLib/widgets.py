"""What every module widget shares: its setup, the parameter-node lifecycle, readable choice
labels and the progress of background work.

The lifecycle is the Slicer 5 scripted-module template's: the widgets bound through the dynamic
property ``SlicerParameterName`` in the ``.ui`` are connected with ``connectGui`` while the
module is shown, and ``_onParameterNodeModified`` runs on every change.
"""

import vtk


def loadModuleUi(widget, uiName: str):
    """Load ``Resources/UI/<uiName>.ui`` into a ScriptedLoadableModuleWidget, give it the scene and
    observe the scene's close events. Returns ``self.ui`` (``childWidgetVariables``)."""
    import slicer

    uiWidget = slicer.util.loadUI(widget.resourcePath(f"UI/{uiName}.ui"))
    widget.layout.addWidget(uiWidget)
    ui = slicer.util.childWidgetVariables(uiWidget)
    uiWidget.setMRMLScene(slicer.mrmlScene)
    widget.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, widget.onSceneStartClose)
    widget.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, widget.onSceneEndClose)
    return ui


def connectButtons(ui, handlers: dict) -> None:
    """``{button name: callable}``: connect each button's ``clicked(bool)`` (the argument is dropped)."""
    for name, handler in handlers.items():
        getattr(ui, name).connect("clicked(bool)", lambda checked=False, h=handler: h())


def labelChoices(comboBox, labels: dict) -> None:
    """Show readable texts in a combo box bound to a ``Choice`` parameter.

    The parameter-node connector fills the box with ``str(value)`` and reads the *index*, so the
    item texts can be replaced: ``labels`` maps ``str(value)`` to the text shown.
    """
    for index in range(comboBox.count):
        value = comboBox.itemText(index)
        if value in labels:
            comboBox.setItemText(index, labels[value])
            comboBox.setItemData(index, value)


class ParameterNodeGuiMixin:
    """Put before ``ScriptedLoadableModuleWidget`` in the bases. The widget provides
    ``self.ui``, ``self.logic.getParameterNode()`` and ``_onParameterNodeModified``, and
    observes the scene's close events with ``onSceneStartClose`` / ``onSceneEndClose``.
    ``choiceLabels``: ``{combo box name: {str(value): text}}`` applied after each ``connectGui``."""

    _parameterNode = None
    _parameterNodeGuiTag = None
    choiceLabels: dict = {}

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
            for name, labels in self.choiceLabels.items():
                labelChoices(getattr(self.ui, name), labels)
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

    def _jobRunning(self) -> bool:
        return self._job is not None and self._job.running

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

    def _startJob(self, job, onDone, failureText: str) -> None:
        """Run ``job`` (a BackgroundCommand / BackgroundSequence, not started) with the progress bar;
        ``onDone()`` runs on success, an error dialog with the last output lines on failure."""
        import slicer

        def finished(returnCode, lines):
            self._job = None
            self._setProgress(False)
            self._onParameterNodeModified()
            if returnCode != 0:
                self.ui.statusLabel.text = f"Stopped (code {returnCode})."
                if returnCode > 0:
                    slicer.util.errorDisplay(failureText, detailedText="\n".join(lines[-30:]))
                return
            with slicer.util.tryWithErrorDisplay(failureText, waitCursor=True):
                onDone()

        job.onLine = lambda line: setattr(self.ui.statusLabel, "text", line[-200:])
        job.onProgress = lambda fraction: self._setProgress(fraction)
        job.onFinished = finished
        self._job = job.start()
        self._onParameterNodeModified()


#: Module category and contributors shown in Slicer's module list for every MSPathobiology module.
CATEGORY = "MS Pathobiology"
CONTRIBUTORS = ["MSPathobiology developers"]


def describeModule(parent, title: str, helpText: str, acknowledgementText: str, dependencies=()) -> None:
    """Fill a ScriptedLoadableModule's description (title, category, dependencies, help)."""
    parent.title = title
    parent.categories = [CATEGORY]
    parent.dependencies = list(dependencies)
    parent.contributors = list(CONTRIBUTORS)
    parent.helpText = helpText
    parent.acknowledgementText = acknowledgementText
