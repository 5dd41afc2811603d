"""The lesion-by-lesion reading panel that MS Rim Lesions and MS Slowly Expanding Lesions share
(``MSPathobiologyLib.reading`` and ``rating.ReadingLogicMixin``), driven outside the application.

The ratings store is the real one (``mspathobiology.rims.ratings``); only what needs the Qt
application is replaced: ``qt.QListWidgetItem``, ``slicer.i18n.tr`` and the slice-view centring.
"""

import sys
import types
from types import SimpleNamespace

import pytest

from conftest import ROOT
from mspathobiology.defaults.rims import PRL_LABELS

sys.path.insert(0, str(ROOT / "MSPathobiology"))


class Item:
    def __init__(self, text):
        self.text, self.data_ = text, None

    def setData(self, role, value):
        self.data_ = value

    def data(self, role):
        return self.data_

    def setText(self, text):
        self.text = text


class ListWidget:
    def __init__(self):
        self.items, self.row = [], None

    def clear(self):
        self.items = []

    def addItem(self, item):
        self.items.append(item)

    def item(self, row):
        return self.items[row]

    def setCurrentRow(self, row):
        self.row = row


class Bar:
    def setRange(self, low, high):
        self.range = (low, high)

    def setValue(self, value):
        self.value = value


@pytest.fixture
def panel(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "qt", types.SimpleNamespace(QListWidgetItem=Item,
                                                                  Qt=SimpleNamespace(UserRole=32)))
    i18n = types.ModuleType("slicer.i18n")
    i18n.tr = lambda text: text
    monkeypatch.setitem(sys.modules, "slicer.i18n", i18n)
    import slicer
    from MSPathobiologyLib import views

    monkeypatch.setattr(slicer, "app", SimpleNamespace(testingEnabled=lambda: True), raising=False)
    from MSPathobiologyLib.rating import RatingLoop, ReadingLogicMixin, readingPosition
    from MSPathobiologyLib.reading import READING_WIDGETS, LesionReadingMixin

    centred = []
    monkeypatch.setattr(views, "centerOn", lambda ras, fov=None: centred.append((ras, fov)))

    class Logic(ReadingLogicMixin):
        def __init__(self, rows):
            self.ratings = RatingLoop()
            self._rows = {r["id"]: r for r in rows}

        def fieldOfView(self, lesionId):
            return self.viewFieldOfView(2 * self.lesionRow(lesionId)["radius_mm"])

    class Widget(LesionReadingMixin):
        def __init__(self, logic):
            self.logic = logic
            self.ui = SimpleNamespace(**{name: SimpleNamespace(enabled=None) for name in READING_WIDGETS})
            self.ui.lesionListWidget, self.ui.readingProgressBar = ListWidget(), Bar()
            self.ui.currentLesionLabel, self.ui.commentLineEdit = SimpleNamespace(text=""), SimpleNamespace(text="")
            self._parameterNode = SimpleNamespace(zoomOnLesion=True, autoAdvance=True, confidence=4)

        def _itemText(self, lesionId):
            rating = self.logic.session.rating(lesionId)
            return f"{lesionId}:{rating['label'] if rating else '-'}"

        def _lesionText(self, lesionId):
            return readingPosition(self.logic.session, lesionId)

        def _ratingLabel(self, index):
            return PRL_LABELS[index]

    rows = [{"id": i, "rim_score": s, "radius_mm": 3.0, "centroid_r": float(i), "centroid_a": 0.0, "centroid_s": 0.0}
            for i, s in ((1, 0.2), (2, 0.9), (3, 0.5))]
    logic = Logic(rows)
    widget = Widget(logic)
    session = logic.ratings.open(tmp_path, "sub-01", "Jane Doe", rows, "prl")
    widget.startReading(session)
    yield SimpleNamespace(widget=widget, logic=logic, session=session, centred=centred, folder=tmp_path)
    logic.closeSession()


def test_reading_starts_on_the_highest_score_centred_and_zoomed(panel):
    w = panel.widget
    assert [item.text for item in w.ui.lesionListWidget.items] == ["2:-", "3:-", "1:-"]
    assert w._currentLesion == 2 and w.ui.lesionListWidget.row == 0
    assert panel.centred[-1][0] == (2.0, 0.0, 0.0) and panel.centred[-1][1] > 6.0
    assert w.ui.readingProgressBar.range == (0, 3) and w.ui.readingProgressBar.value == 0
    assert w.ui.currentLesionLabel.text.endswith("lesion 2 (1/3)")
    assert w.ui.nextButton.enabled and not w.ui.undoRatingButton.enabled


def test_a_rating_is_on_disk_at_once_then_the_next_unrated_lesion_is_shown(panel):
    from mspathobiology.rims.ratings import read_ratings

    w = panel.widget
    w.ui.commentLineEdit.text = "thin rim"
    w.onRate(0)
    rows, _ = read_ratings(panel.session.path)
    assert [(r["lesion_id"], r["label"], r["comment"]) for r in rows] == [(2, PRL_LABELS[0], "thin rim")]
    assert int(rows[0]["confidence"]) == 4
    assert w._currentLesion == 3 and w.ui.commentLineEdit.text == ""
    assert w.ui.lesionListWidget.items[0].text == f"2:{PRL_LABELS[0]}" and w.ui.readingProgressBar.value == 1
    assert w.ui.undoRatingButton.enabled


def test_undo_takes_the_rating_back_on_disk_and_returns_to_the_lesion(panel):
    from mspathobiology.rims.ratings import read_ratings

    w = panel.widget
    w.onRate(1)
    w.onUndo()
    assert read_ratings(panel.session.path)[0] == []
    assert w._currentLesion == 2 and w.ui.lesionListWidget.items[0].text == "2:-"
    assert not w.ui.undoRatingButton.enabled


def test_navigation_stops_at_the_ends_and_next_unrated_wraps(panel):
    w = panel.widget
    w.onPrevious()
    assert w._currentLesion == 2
    w.onNext()
    w.onNext()
    w.onNext()
    assert w._currentLesion == 1
    w.onNextUnrated()
    assert w._currentLesion == 2
    w.onLesionDoubleClicked(w.ui.lesionListWidget.items[2])
    assert w._currentLesion == 1


def test_a_refused_rating_is_raised_and_nothing_is_written(panel):
    from mspathobiology.errors import InputError
    from mspathobiology.rims.ratings import read_ratings

    w = panel.widget
    w._ratingLabel = lambda index: "not a label"
    with pytest.raises(InputError):
        w.onRate(0)
    assert read_ratings(panel.session.path)[0] == [] and w._currentLesion == 2


def test_rating_every_lesion_completes_the_session_and_another_case_closes_it(panel):
    w = panel.widget
    for _ in range(3):
        w.onRate(2)
    assert panel.session.is_complete and w.ui.readingProgressBar.value == 3
    w._parameterNode.autoAdvance = False
    w.closeReading("Press Start")
    assert panel.logic.session is None and w.ui.lesionListWidget.items == []
    w.updateReadingState()
    assert not w.ui.nextButton.enabled and w.ui.readingProgressBar.range == (0, 1)
