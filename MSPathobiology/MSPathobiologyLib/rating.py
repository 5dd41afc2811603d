"""The lesion-by-lesion rating loop shared by modules that rate lesions (the store is
``mspathobiology.rims.ratings``: one file per rater per case, saved at every rating).

- :class:`RatingLoop`: one open :class:`~mspathobiology.rims.ratings.RatingSession` with an undo
  stack of this session's ratings; Qt-free, for a module's Logic.
- :class:`ReadingLogicMixin`: the Logic side of a reading module (the open session, rating, undo,
  where each lesion is); the Widget side is :class:`MSPathobiologyLib.reading.LesionReadingMixin`.
- :func:`installShortcuts`: the reading keys (1-3 rate, Space next, Backspace previous, U undo)
  as application shortcuts that the Widget enables while the module is shown.
"""

from __future__ import annotations

#: Keyboard shortcuts while a reading module is shown: next, previous, undo the last rating
#: (keys 1, 2, 3 give the three labels of the task).
NEXT_KEY, PREVIOUS_KEY, UNDO_KEY = "Space", "Backspace", "U"


class RatingLoop:
    """One rater's open session and the undo stack of the ratings made in it."""

    def __init__(self) -> None:
        self.session = None
        self._undo = []  # (lesion id, rating before) of this session's ratings, last at the end

    def open(self, folder, caseId: str, rater: str, lesions, task: str, blinded: bool = False):
        """Close any open session, then open (create or resume) ``rater``'s file for the case and task.
        ``blinded``: random order with the automatic scores hidden."""
        from mspathobiology.rims.ratings import RatingSession

        self.close()
        self.session = RatingSession(folder, str(caseId).strip(), str(rater), lesions=lesions, task=task,
                                     order="random" if blinded else "score", show_scores=not blinded)
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        self._undo = []

    def rate(self, lesionId: int, label: str, **details) -> dict:
        """Rate a lesion (saved at once); remembered for :meth:`undo`."""
        before = self.session.rating(lesionId)
        row = self.session.rate(lesionId, label, **details)
        self._undo.append((int(lesionId), before))
        return row

    def canUndo(self) -> bool:
        return self.session is not None and bool(self._undo)

    def undo(self):
        """Take back the last rating: the lesion gets its earlier rating back, or none. Returns the
        lesion id (None when there is nothing to undo)."""
        if not self.canUndo():
            return None
        lesionId, before = self._undo.pop()
        if before is None:
            self.session.remove(lesionId)
        else:
            self.session.rate(lesionId, before["label"], confidence=before.get("confidence"),
                              comment=before.get("comment", ""), reason=before.get("reason") or None)
        return lesionId


class ReadingLogicMixin:
    """Logic of a reading module: ``self.ratings`` (a :class:`RatingLoop`) and ``self._rows`` (lesion id ->
    table row with ``centroid_r/a/s`` in RAS mm), both set by the Logic's ``__init__``."""

    @property
    def session(self):
        return self.ratings.session

    def closeSession(self) -> None:
        self.ratings.close()

    def rate(self, lesionId: int, label: str, **details) -> dict:
        """Rate a lesion in the open session (saved at once); remembered for :meth:`undoLastRating`."""
        return self.ratings.rate(lesionId, label, **details)

    def canUndo(self) -> bool:
        return self.ratings.canUndo()

    def undoLastRating(self):
        """Take back the last rating of this session (:meth:`RatingLoop.undo`); returns the lesion id or None."""
        return self.ratings.undo()

    def lesionRow(self, lesionId) -> dict:
        return dict(self._rows.get(int(lesionId), {}))

    def centroid(self, lesionId: int) -> tuple:
        """A lesion's centroid (RAS mm) from its table row."""
        row = self._rows.get(int(lesionId))
        if row is None:
            raise ValueError(f"lesion {lesionId} is not in the table (run the analysis first)")
        return float(row["centroid_r"]), float(row["centroid_a"]), float(row["centroid_s"])

    def viewFieldOfView(self, sizeMm: float) -> float:
        """Field of view (mm) that shows a lesion ``sizeMm`` across with a margin around it."""
        from MSPathobiologyLib import defaults

        return max(defaults.LESION_VIEW_MIN_FOV_MM, defaults.LESION_VIEW_FOV_PER_LONG_AXIS * float(sizeMm or 0.0))


def readingPosition(session, lesionId) -> str:
    """"Rater R \u2014 lesion L (n/total)": who reads and where in the session's order."""
    from slicer.i18n import tr as _

    return _("Rater {rater} \u2014 lesion {id} ({n}/{total})").format(
        rater=session.rater, id=lesionId, n=session.order.index(lesionId) + 1, total=session.progress()[1])


def installShortcuts(rate, onNext, onPrevious, onUndo) -> list:
    """Application shortcuts 1-3 (``rate(index)``), Space, Backspace and U, created disabled; enable
    them while the module is shown. A text field with focus keeps its keys (Qt's shortcut override)."""
    import qt
    import slicer

    bindings = [(str(n + 1), (lambda i=n: rate(i))) for n in range(3)]
    bindings += [(NEXT_KEY, onNext), (PREVIOUS_KEY, onPrevious), (UNDO_KEY, onUndo)]
    shortcuts = []
    for key, callback in bindings:
        shortcut = qt.QShortcut(qt.QKeySequence(key), slicer.util.mainWindow())
        shortcut.connect("activated()", callback)
        shortcut.setEnabled(False)
        shortcuts.append(shortcut)
    return shortcuts
