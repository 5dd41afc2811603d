"""The lesion-by-lesion reading panel shared by the modules that rate lesions (rims, CVS, SEL).

:class:`LesionReadingMixin` is a Widget mixin: the lesion list, previous / next / next unrated,
rating buttons 1-3, undo, the progress bar and the keyboard shortcuts. The Widget's Logic
provides the open session (``session``, ``rate``, ``canUndo``, ``undoLastRating``, ``centroid``
and ``fieldOfView``: :class:`MSPathobiologyLib.rating.ReadingLogicMixin`). The module's .ui
has every widget named in :data:`READING_WIDGETS` (the static checks read this file's
``self.ui`` uses against each module that inherits the mixin).
"""

from __future__ import annotations

import pathlib

#: Widgets of the reading panel, by object name in the module's .ui.
READING_WIDGETS = ("lesionListWidget", "previousButton", "nextButton", "nextUnratedButton", "rating1Button",
                   "rating2Button", "rating3Button", "undoRatingButton", "readingProgressBar", "currentLesionLabel",
                   "commentLineEdit")
#: Ratings folder when none is chosen: beside the default scene folder.
DEFAULT_RATINGS_FOLDER = "MSPathobiology-ratings"


class LesionReadingMixin:
    """Reading-panel behaviour of a lesion-rating Widget; listed before ``ParameterNodeGuiMixin`` in the
    Widget's bases (``enter``, ``exit`` and ``onSceneStartClose`` pass on to it).

    Hooks a module overrides: :meth:`_itemText` (a list entry), :meth:`_lesionText` (what the
    reader sees about the current lesion), :meth:`_showLesion` (views before centring),
    :meth:`_ratingLabel` and :meth:`_ratingDetails` (what a button press stores).
    """

    _currentLesion = None
    _shortcuts = ()

    # --- set-up and teardown ----------------------------------------------------------

    def setupReading(self) -> None:
        """Connect the reading buttons, the list and the keyboard shortcuts (created disabled)."""
        from MSPathobiologyLib.rating import installShortcuts
        from MSPathobiologyLib.widgets import connectButtons

        connectButtons(self.ui, {
            "previousButton": self.onPrevious, "nextButton": self.onNext, "nextUnratedButton": self.onNextUnrated,
            "undoRatingButton": self.onUndo, **{f"rating{n + 1}Button": (lambda i=n: self.onRate(i)) for n in range(3)}})
        self.ui.lesionListWidget.connect("itemDoubleClicked(QListWidgetItem*)", self.onLesionDoubleClicked)
        self._shortcuts = installShortcuts(self.onRate, self.onNext, self.onPrevious, self.onUndo)

    def enter(self) -> None:
        super().enter()
        self.enableShortcuts(True)

    def exit(self) -> None:
        self.enableShortcuts(False)
        super().exit()

    def onSceneStartClose(self, caller, event) -> None:
        self.logic.closeSession()  # its ratings are already saved
        self._currentLesion = None
        super().onSceneStartClose(caller, event)

    def enableShortcuts(self, enabled: bool) -> None:
        for shortcut in self._shortcuts:
            shortcut.setEnabled(enabled)

    def cleanupReading(self) -> None:
        """Remove the shortcuts and close the session (its ratings are already saved)."""
        self.enableShortcuts(False)
        for shortcut in self._shortcuts:
            shortcut.setParent(None)
        self._shortcuts = ()
        self.logic.closeSession()
        self._currentLesion = None

    def closeReading(self, message: str = "") -> None:
        """Close the open session (another case or task was chosen) and clear the panel."""
        self.logic.closeSession()
        self._currentLesion = None
        self.ui.lesionListWidget.clear()
        self.ui.currentLesionLabel.text = message

    @staticmethod
    def ratingsFolder(parameterNode) -> pathlib.Path:
        """The chosen ratings folder, or ``<default scene folder>/MSPathobiology-ratings``."""
        import slicer

        folder = parameterNode.ratingsFolder
        if str(folder) in ("", "."):
            folder = pathlib.Path(slicer.app.defaultScenePath) / DEFAULT_RATINGS_FOLDER
        return pathlib.Path(folder)

    # --- hooks ------------------------------------------------------------------------

    def _itemText(self, lesionId) -> str:
        raise NotImplementedError

    def _lesionText(self, lesionId) -> str:
        raise NotImplementedError

    def _showLesion(self, lesionId) -> None:
        """Views for ``lesionId`` before it is centred (nothing by default)."""

    def _ratingLabel(self, index: int) -> str:
        raise NotImplementedError

    def _ratingDetails(self, label: str) -> dict:
        """Extra fields stored with a rating (e.g. the CVS exclusion reason)."""
        return {}

    # --- the panel --------------------------------------------------------------------

    def startReading(self, session) -> None:
        """Fill the list and go to the first unrated lesion of a freshly opened ``session``."""
        self.fillLesionList()
        self._goTo(session.next_unrated() or (session.order[0] if session.order else None))

    def fillLesionList(self) -> None:
        import qt

        self.ui.lesionListWidget.clear()
        session = self.logic.session
        for lesionId in (session.order if session else []):
            item = qt.QListWidgetItem(self._itemText(lesionId))
            item.setData(qt.Qt.UserRole, lesionId)
            self.ui.lesionListWidget.addItem(item)

    def updateReadingState(self) -> None:
        from slicer.i18n import tr as _

        session = self.logic.session
        reading = session is not None
        for name in ("previousButton", "nextButton", "nextUnratedButton", "rating1Button", "rating2Button",
                     "rating3Button"):
            getattr(self.ui, name).enabled = reading and self._currentLesion is not None
        self.ui.undoRatingButton.enabled = reading and self.logic.canUndo()
        if not reading:
            self.ui.readingProgressBar.setRange(0, 1)
            self.ui.readingProgressBar.setValue(0)
            return
        done, total = session.progress()
        self.ui.readingProgressBar.setRange(0, max(total, 1))
        self.ui.readingProgressBar.setValue(done)
        if self._currentLesion is not None:
            self.ui.currentLesionLabel.text = self._lesionText(self._currentLesion)
        elif session.is_complete and total:
            self.ui.currentLesionLabel.text = _("All {total} lesions rated.").format(total=total)

    def _goTo(self, lesionId) -> None:
        """Make ``lesionId`` the current lesion: centred (and zoomed) in every view."""
        from MSPathobiologyLib import views

        self._currentLesion = lesionId
        if lesionId is not None:
            p = self._parameterNode
            self._showLesion(lesionId)
            views.centerOn(self.logic.centroid(lesionId), self.logic.fieldOfView(lesionId) if p.zoomOnLesion else None)
            self.ui.lesionListWidget.setCurrentRow(self.logic.session.order.index(lesionId))
            rating = self.logic.session.rating(lesionId)
            self.ui.commentLineEdit.text = rating["comment"] if rating else ""
        self.updateReadingState()

    def onNext(self) -> None:
        self._step(+1)

    def onPrevious(self) -> None:
        self._step(-1)

    def _step(self, direction: int) -> None:
        session = self.logic.session
        if session is not None and self._currentLesion is not None:
            target = (session.next if direction > 0 else session.previous)(self._currentLesion)
            if target is not None:
                self._goTo(target)

    def onNextUnrated(self) -> None:
        session = self.logic.session
        if session is not None:
            self._goTo(session.next_unrated(after=self._currentLesion))

    def onLesionDoubleClicked(self, item) -> None:
        import qt

        self._goTo(int(item.data(qt.Qt.UserRole)))

    def _refreshItem(self, lesionId) -> None:
        row = self.logic.session.order.index(lesionId)
        self.ui.lesionListWidget.item(row).setText(self._itemText(lesionId))

    def onRate(self, index: int) -> None:
        import slicer
        from slicer.i18n import tr as _

        session = self.logic.session
        if session is None or self._currentLesion is None:
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to save the rating.")):
            p = self._parameterNode
            label = self._ratingLabel(index)
            self.logic.rate(self._currentLesion, label, confidence=p.confidence, comment=self.ui.commentLineEdit.text,
                            **self._ratingDetails(label))
            self._refreshItem(self._currentLesion)
            self.ui.commentLineEdit.text = ""
            if p.autoAdvance:
                following = session.next_unrated(after=self._currentLesion)
                self._goTo(following if following is not None else self._currentLesion)
            else:
                self.updateReadingState()

    def onUndo(self) -> None:
        import slicer
        from slicer.i18n import tr as _

        with slicer.util.tryWithErrorDisplay(_("Failed to undo the rating.")):
            lesionId = self.logic.undoLastRating()
            if lesionId is not None:
                self._refreshItem(lesionId)
                self._goTo(lesionId)
