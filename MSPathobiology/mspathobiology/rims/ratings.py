"""Expert ratings of lesions, one file per rater per case, saved atomically after every rating.

Files (in one folder): ``<case>_rater-<rater>_ratings.tsv`` with one row per rated lesion and
task, and the JSON sidecar ``<case>_rater-<rater>_ratings.json`` holding the rater, the case,
the presentation order of each task (by score, random with a seed for blinded reading, or by
id), the automatic scores and the label sets.

Safety:

- After every :meth:`RatingSession.rate` the sidecar (:func:`mspathobiology.io.write_json`)
  and then the whole TSV are rewritten, each through a synced temporary file and an atomic
  rename (:func:`mspathobiology.tables.write_table`). A killed process leaves either the
  previous or the new file, never a partial one; the TSV is the authority on what was rated.
- The file name and the sidecar carry the rater. A session for rater A refuses to open a
  file whose sidecar or rows name another rater, so no rater can write another's file.
- While a session is open it holds a lock (:func:`mspathobiology.io.try_lock`: ``flock`` on POSIX,
  ``msvcrt.locking`` on Windows; the operating system releases it when the process dies), so two
  windows cannot interleave.
  Within one process, sessions of *different* tasks on one file share that lock (a reader may
  rate rims and SEL candidates of one case side by side); a second session of the same task is
  refused. Each save is also a read-merge-write: the TSV on disk is read, the one changed rating
  is merged in, the task specifications of the sidecar on disk are kept, the result written and
  read back. :meth:`RatingSession.progress` and
  :attr:`RatingSession.ratings` report only what is on disk; a rating whose write failed
  is not counted.
- In a folder that cannot be written an existing session opens read-only
  (``read_only`` and ``read_only_reason`` say why); rating then raises
  :class:`~mspathobiology.errors.ReadOnlyError`. Temporary files left by killed sessions
  are removed when a session opens (:func:`mspathobiology.io.clean_stale_temp`).
- The rater's name becomes its label by the one rule of :mod:`mspathobiology.identity`
  (``"Jane Doe"`` and ``"jane.doe"`` are ``janedoe``); the sidecar keeps the spelling.
- Resuming: reopening a session reads the TSV back; :meth:`RatingSession.next_unrated`
  is the first lesion in the stored order without a rating, i.e. exactly where the
  rater stopped.

Labels: PRL task ``PRL`` / ``not_PRL`` / ``indeterminate`` (Bagnato et al., Brain 2024);
CVS task ``CVS+`` / ``CVS-`` / ``excluded`` with a reason (Sati et al., Nat Rev Neurol 2016);
SEL task (candidates of :func:`mspathobiology.sel.analyse`, scores ``sel_score``) ``confirmed`` /
``rejected`` / ``unsure``. Every task has the same file, schema, lock and agreement
(:mod:`.agreement`); only the label set and the score column differ (:data:`SCORE_KEY`).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path

import numpy as np

from ..defaults import rims as D
from ..errors import InputError, OutputError, ReadOnlyError
from ..identity import display_name, other_spellings, person_label
from ..io import (clean_stale_temp, folder_writable, fsync_folder, open_lock_file, read_json, release_lock,
                  try_lock, write_json)
from ..tables import read_table, write_table

FORMAT_VERSION = 1
TASKS = {"prl": D.PRL_LABELS, "cvs": D.CVS_LABELS, "sel": D.SEL_LABELS}
#: The value counted per subject for agreement (PRL count, CVS+ count, confirmed SEL count).
POSITIVE_LABEL = {"prl": "PRL", "cvs": "CVS+", "sel": "confirmed"}
#: The automatic score column that orders each task's lesions by default (rims.tsv / sel.tsv).
SCORE_KEY = {"prl": "rim_score", "cvs": "rim_score", "sel": "sel_score"}
RATING_COLUMNS = ("case", "lesion_id", "rater", "task", "label", "reason", "confidence", "comment",
                  "timestamp", "auto_score")
COLUMN_HELP = {
    "case": "case (subject/session) identifier",
    "lesion_id": "lesion label value",
    "rater": "rater name",
    "task": "prl, cvs or sel (slowly expanding lesion candidates)",
    "label": "prl: PRL, not_PRL, indeterminate; cvs: CVS+, CVS-, excluded; sel: confirmed, rejected, unsure",
    "reason": "exclusion reason when label is excluded (" + ", ".join(D.CVS_EXCLUSION_REASONS) + ")",
    "confidence": f"{D.CONFIDENCE_MIN} (guess) .. {D.CONFIDENCE_MAX} (certain); empty if not given",
    "comment": "free text",
    "timestamp": "UTC time of the rating, ISO 8601",
    "auto_score": "automatic score shown to the rater (empty when blinded)",
}
_CASE = re.compile(r"[A-Za-z0-9_-]+")
#: Locks held by this process: lock-file path -> [open handle, tasks of the sessions sharing it].
_PROCESS_LOCKS: dict = {}


def check_rater_name(rater: str) -> str:
    """The rater's label in file names (:func:`mspathobiology.identity.person_label`)."""
    return person_label(rater, "rater")


def _check_case(case: str) -> str:
    if not isinstance(case, str) or not _CASE.fullmatch(case):
        raise InputError("case", f"identifier {case!r} must be letters, digits, '-' or '_'")
    return case


def ratings_path(directory, case: str, rater: str) -> Path:
    """The TSV path of ``rater``'s ratings of ``case`` in ``directory`` (the sidecar is ``.json``)."""
    return Path(directory) / f"{_check_case(case)}_rater-{check_rater_name(rater)}_ratings.tsv"


def sidecar_path(tsv_path) -> Path:
    """The JSON sidecar next to a ratings TSV."""
    return Path(tsv_path).with_suffix(".json")


# --- lesion order -----------------------------------------------------------------------

def _lesion_ids(lesions) -> list[int]:
    return [int(l["id"]) if isinstance(l, dict) else int(l) for l in lesions]


def order_by_score(lesions, score_key: str = "rim_score", descending: bool = True) -> list[int]:
    """Lesion ids sorted by ``score_key`` (highest first by default; ties and missing scores by id).

    ``lesions`` are row dicts with ``id`` and the score (e.g. rows of rims.tsv).
    """
    def key(row):
        score = row.get(score_key)
        missing = score is None or (isinstance(score, float) and np.isnan(score))
        value = 0.0 if missing else float(score)
        return (missing, -value if descending else value, int(row["id"]))
    return [int(r["id"]) for r in sorted(lesions, key=key)]


def order_random(lesions, seed: int = D.DEFAULT_ORDER_SEED) -> list[int]:
    """Lesion ids in a random order reproducible from ``seed`` (for blinded reading)."""
    ids = sorted(_lesion_ids(lesions))
    permutation = np.random.default_rng(seed).permutation(len(ids))
    return [ids[p] for p in permutation]


def order_lesions(lesions, method: str = "score", seed: int | None = None, score_key: str = "rim_score") -> list[int]:
    """Order lesion ids by ``method``: ``"score"`` (highest ``score_key`` first), ``"random"``
    (seeded; blinded reading) or ``"id"``."""
    if method == "score":
        return order_by_score(lesions, score_key)
    if method == "random":
        return order_random(lesions, D.DEFAULT_ORDER_SEED if seed is None else seed)
    if method == "id":
        return sorted(_lesion_ids(lesions))
    raise InputError("order", f"must be score, random or id, not {method!r}")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def validate_rating(task: str, label: str, confidence=None, reason=None) -> None:
    """Raise :class:`InputError` unless label, confidence and reason are valid for ``task``."""
    if task not in TASKS:
        raise InputError("task", f"must be one of {', '.join(TASKS)}, not {task!r}")
    if label not in TASKS[task]:
        raise InputError("label", f"{label!r} is not a {task} label; use one of {', '.join(TASKS[task])}")
    if confidence is not None:
        numeric = isinstance(confidence, (int, float, np.integer, np.floating)) and not isinstance(confidence, bool)
        if not numeric or not float(confidence).is_integer() \
                or not D.CONFIDENCE_MIN <= int(confidence) <= D.CONFIDENCE_MAX:
            raise InputError("confidence", f"must be an integer {D.CONFIDENCE_MIN}..{D.CONFIDENCE_MAX}, "
                                           f"not {confidence!r}")
    if label == "excluded":
        if reason not in D.CVS_EXCLUSION_REASONS:
            raise InputError("reason", f"an excluded lesion needs a reason among "
                                       f"{', '.join(D.CVS_EXCLUSION_REASONS)}, not {reason!r}")
    elif reason not in (None, ""):
        raise InputError("reason", f"only excluded lesions take a reason (label {label!r})")


def read_ratings(path, complete: bool = True) -> tuple[list[dict], dict]:
    """Read a ratings TSV and its sidecar (read-only). Returns (rows, sidecar).

    Checks that every row names the sidecar's rater and case and holds a valid rating.
    With ``complete`` (for analysis) it also refuses a TSV that does not end with a line
    break or holds another number of ratings than its sidecar records (``n_ratings``): the
    file was cut short, or a session was killed between its two writes.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "is a folder, not a ratings file")
    sidecar = read_json(sidecar_path(path), name="ratings sidecar", expect=dict)
    for key in ("rater", "case", "tasks"):
        if key not in sidecar:
            raise InputError(sidecar_path(path), f"is not a ratings sidecar (no {key!r})")
    if not isinstance(sidecar["tasks"], dict) or not isinstance(sidecar["rater"], str) \
            or not isinstance(sidecar["case"], str):
        raise InputError(sidecar_path(path), "is not a ratings sidecar (wrong types of rater/case/tasks)")
    sidecar["rater"] = person_label(sidecar["rater"], "rater")
    rows = read_table(path, name="ratings", typed=False) if path.exists() else []
    if complete and path.exists():
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 1))
            if size and handle.read(1) != b"\n":
                raise InputError(path, "is truncated (its last line is cut short); it was not written or copied "
                                       "completely")
        expected = sidecar.get("n_ratings")
        if isinstance(expected, int) and expected != len(rows):
            raise InputError(path, f"holds {len(rows)} ratings but its sidecar records {expected}: the file was cut "
                                   "short or a session was killed mid-save; reopen the rating session to repair it")
    for n, row in enumerate(rows, start=2):
        missing = [c for c in ("case", "lesion_id", "rater", "task", "label") if c not in row]
        if missing:
            raise InputError(path, f"is not a ratings table (no column {', '.join(missing)})")
        if _label_or_none(row.get("rater")) != sidecar["rater"] or row.get("case") != sidecar["case"]:
            raise InputError(path, f"line {n} names rater {row.get('rater')!r} / case {row.get('case')!r}, "
                                   f"but the file belongs to rater {sidecar['rater']!r}, case {sidecar['case']!r}")
        row["rater"] = sidecar["rater"]
        try:
            row["lesion_id"] = int(row["lesion_id"])
            row["confidence"] = int(row["confidence"]) if row.get("confidence") else None
            row["auto_score"] = float(row["auto_score"]) if row.get("auto_score") else None
        except (KeyError, ValueError) as exc:
            raise InputError(path, f"line {n} is malformed ({exc})") from None
        if row["auto_score"] is not None and not np.isfinite(row["auto_score"]):
            raise InputError(path, f"line {n} has a non-finite auto_score {row['auto_score']!r}")
        try:
            validate_rating(row["task"], row["label"], row["confidence"], row.get("reason") or None)
        except InputError as exc:
            raise InputError(path, f"line {n}: {exc.source} {exc.problem}") from None
    return rows, sidecar


def sel_lesions_to_rate(rows, candidates_only: bool = True) -> list[dict]:
    """The lesions an expert rates in the ``sel`` task from SEL table rows: the SEL candidates
    (``sel_candidate`` true), or every lesion with ``candidates_only=False``."""
    rows = [dict(r) for r in rows]
    for n, row in enumerate(rows, start=1):
        if "id" not in row or (candidates_only and "sel_candidate" not in row):
            raise InputError("sel table", f"row {n} has no {'id' if 'id' not in row else 'sel_candidate'} column; "
                                          "give the rows of sel.tsv")
    return [r for r in rows if not candidates_only or bool(r["sel_candidate"])]


def _label_or_none(name):
    try:
        return person_label(name)
    except InputError:
        return None


class RatingSession:
    """One rater rating the lesions of one case; every rating is saved at once.

    ``RatingSession(directory, case, rater, lesions, task="prl", order="score", seed=None,
    show_scores=True)`` creates the rater's file for the case, or resumes it if it exists
    (then ``lesions`` may be omitted; an existing order for the task is kept).

    ``lesions``: rim or SEL rows (dicts with ``id`` and ``score_key``, by default the task's
    :data:`SCORE_KEY`) or plain ids. ``task``: ``"prl"``, ``"cvs"`` or ``"sel"``.
    ``order``: ``"score"`` (highest automatic score first), ``"random"`` (seeded, for
    blinded reading; use ``show_scores=False`` to also hide and not record the score)
    or ``"id"``.

    Typical loop::

        session = RatingSession(folder, "sub-01_ses-01", "alice", rims_rows)
        while (lesion := session.next_unrated()) is not None:
            session.rate(lesion, "PRL", confidence=4, comment="")
        session.progress()  # (rated, total)
    """

    def __init__(self, directory, case: str, rater: str, lesions=None, task: str = "prl",
                 order: str = "score", seed: int | None = None, score_key: str | None = None,
                 show_scores: bool = True):
        if task not in TASKS:
            raise InputError("task", f"must be one of {', '.join(TASKS)}, not {task!r}")
        score_key = SCORE_KEY[task] if score_key is None else score_key
        self.rater = check_rater_name(rater)
        self.rater_name = display_name(rater)
        self.case = _check_case(case)
        self.task = task
        self.path = ratings_path(directory, case, rater)
        self.sidecar_path = sidecar_path(self.path)
        self._lock_handle = None
        self.read_only = not folder_writable(self.path.parent)
        self.read_only_reason = (f"{self.path.parent} is not writable: the ratings of {self.rater!r} for "
                                 f"{self.case!r} open read-only (they can be viewed, not changed)"
                                 if self.read_only else "")
        if not self.read_only:
            self._lock()
        try:
            self._adopt_other_spelling()
            if self.read_only and not self.sidecar_path.exists():
                raise ReadOnlyError(self.path.parent, "is not writable; a new rating session cannot be started there")
            if not self.read_only:
                clean_stale_temp(self.path.parent)
            self._load_or_create(lesions, order, seed, score_key, show_scores)
        except Exception:
            self.close()
            raise

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, path, rater: str, task: str = "prl", lesions=None, **kwargs) -> "RatingSession":
        """Resume the ratings file ``path`` as ``rater``; refuses a file of another rater."""
        path = Path(path)
        match = re.fullmatch(r"(?P<case>.+)_rater-(?P<rater>[A-Za-z0-9]+)_ratings\.tsv", path.name)
        if not match:
            raise InputError(path, "is not a ratings file name (<case>_rater-<rater>_ratings.tsv)")
        if _label_or_none(match["rater"]) != check_rater_name(rater):
            raise InputError(path, f"belongs to rater {match['rater']!r}; rater {rater!r} may not write it")
        return cls(path.parent, match["case"], rater, lesions=lesions, task=task, **kwargs)

    @classmethod
    def from_rims_table(cls, directory, case: str, rater: str, rims_tsv, **kwargs) -> "RatingSession":
        """Start or resume a session on the lesions of a ``rims.tsv`` written by :func:`..pipeline.run_case`
        (scores from its ``rim_score`` column unless ``score_key`` says otherwise)."""
        return cls(directory, case, rater, lesions=read_table(rims_tsv, name="rims table"), **kwargs)

    @classmethod
    def from_sel_table(cls, directory, case: str, rater: str, sel_tsv, candidates_only: bool = True,
                       **kwargs) -> "RatingSession":
        """Start or resume a ``sel`` session on the lesions of a ``sel.tsv`` (:func:`mspathobiology.sel.run`):
        its SEL candidates (every lesion with ``candidates_only=False``), ordered by ``sel_score``."""
        return cls(directory, case, rater, lesions=sel_lesions_to_rate(read_table(sel_tsv, name="sel table"),
                                                                       candidates_only), task="sel", **kwargs)

    def _lock(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.parent / f".{self.path.stem}.lock"
        key = str(lock_path.resolve())
        shared = _PROCESS_LOCKS.get(key)
        if shared is not None:  # this process holds the file: another task may share it, the same task not
            if self.task in shared[1]:
                raise InputError(self.path, f"is open in another rating session of task {self.task!r} "
                                            "(close it first)")
            shared[1].append(self.task)
            self._lock_handle = shared[0]
            return
        try:
            handle = open_lock_file(lock_path)
        except OutputError as exc:
            raise ReadOnlyError(lock_path, f"cannot create the session lock ({exc.problem})") from None
        if not try_lock(handle):
            handle.close()
            raise InputError(self.path, "is open in another rating session (close it first)")
        self._lock_handle = handle
        _PROCESS_LOCKS[key] = [handle, [self.task]]

    def close(self) -> None:
        """Release the file lock (ratings are already saved); a lock shared with a session of
        another task is released when the last of them closes."""
        if self._lock_handle is None:
            return
        for key, shared in list(_PROCESS_LOCKS.items()):
            if shared[0] is self._lock_handle:
                if self.task in shared[1]:
                    shared[1].remove(self.task)
                if shared[1]:
                    self._lock_handle = None
                    return
                del _PROCESS_LOCKS[key]
        release_lock(self._lock_handle)
        self._lock_handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _adopt_other_spelling(self) -> None:
        """Take over this rater's file of the case saved under another spelling of the name (before the
        identity rule, e.g. ``rater-JaneDoe``): renamed to the current name (sidecar first, so a crash
        in between is finished at the next open), or read in place from a read-only folder. Files under
        two spellings are refused, not merged."""
        prefix, tsv = f"{self.case}_rater-", "_ratings.tsv"
        others = other_spellings(self.path.parent, prefix, tsv, self.rater)
        others += [p.with_suffix(".tsv")
                   for p in other_spellings(self.path.parent, prefix, "_ratings.json", self.rater)]
        others = sorted({p for p in others
                         if not (p.exists() and self.path.exists() and os.path.samefile(p, self.path))})
        if not others:
            return
        pairs = [(p, sidecar_path(p)) for p in others]
        clash = len(others) > 1 or any((old.exists() and self.path.exists())
                                       or (side.exists() and self.sidecar_path.exists()) for old, side in pairs)
        if clash:
            names = ", ".join(p.name for p in [self.path] + others if p.exists() or sidecar_path(p).exists())
            raise InputError(self.path, f"ratings of rater {self.rater!r} for case {self.case!r} exist under several "
                                        f"spellings of the name ({names}); move all but one aside")
        (old, side), = pairs
        if self.read_only:
            self.path, self.sidecar_path = old, side
            return
        for source, target in ((side, self.sidecar_path), (old, self.path)):
            if source.exists():
                try:
                    os.replace(source, target)
                except OSError as exc:
                    raise OutputError(source, f"could not be renamed to {target.name} ({exc.strerror or exc}); "
                                              "the ratings are unchanged, under their old name") from None

    def _load_or_create(self, lesions, order, seed, score_key, show_scores):
        if self.sidecar_path.exists():
            rows, sidecar = read_ratings(self.path, complete=False)
            if sidecar["rater"] != self.rater:
                raise InputError(self.sidecar_path, f"belongs to rater {sidecar['rater']!r}; "
                                                    f"rater {self.rater!r} may not write it")
            if sidecar["case"] != self.case:
                raise InputError(self.sidecar_path, f"is for case {sidecar['case']!r}, not {self.case!r}")
            self.sidecar, self._rows = sidecar, rows
            if not self.read_only and sidecar.get("n_ratings", len(rows)) != len(rows):
                self._save(None)  # killed between the sidecar and the TSV write: the TSV is the record
        else:
            if self.path.exists():
                raise InputError(self.path, "exists without its JSON sidecar; refusing to overwrite it")
            self.sidecar = {"format_version": FORMAT_VERSION, "case": self.case, "rater": self.rater,
                            "rater_name": self.rater_name, "created": _now(), "updated": None, "tasks": {},
                            "labels": {t: list(v) for t, v in TASKS.items()},
                            "exclusion_reasons": list(D.CVS_EXCLUSION_REASONS), "columns": COLUMN_HELP}
            self._rows = []
        if self.task not in self.sidecar["tasks"]:
            if lesions is None:
                raise InputError("lesions", f"no {self.task} ratings exist yet for {self.path.name}; "
                                            "give the lesions to rate")
            lesions = list(lesions)
            ids = _lesion_ids(lesions)
            if len(set(ids)) != len(ids):
                raise InputError("lesions", "lesion ids are not unique")
            scores = {str(int(l["id"])): l.get(score_key) for l in lesions if isinstance(l, dict)}
            if order == "score" and not scores:
                order = "id"
            if order == "random" and seed is None:
                seed = D.DEFAULT_ORDER_SEED
            self.sidecar["tasks"][self.task] = {
                "order": order_lesions(lesions if scores else [{"id": i} for i in ids], order, seed, score_key),
                "order_method": order, "seed": seed, "score_key": score_key,
                "show_scores": bool(show_scores), "scores": scores}
            self._save(None)
        self._spec = self.sidecar["tasks"][self.task]
        self._order = [int(i) for i in self._spec["order"]]
        self._position = {lesion: n for n, lesion in enumerate(self._order)}

    # -- state --------------------------------------------------------------------------
    @property
    def order(self) -> list[int]:
        """Lesion ids in presentation order."""
        return list(self._order)

    @property
    def ratings(self) -> dict[int, dict]:
        """{lesion_id: rating row} of this task."""
        return {r["lesion_id"]: dict(r) for r in self._rows if r["task"] == self.task}

    def rating(self, lesion_id: int) -> dict | None:
        """The saved rating of ``lesion_id`` in this task, or None."""
        return self.ratings.get(int(lesion_id))

    def score(self, lesion_id: int):
        """The automatic score of ``lesion_id`` (None when unknown or hidden for blinded reading)."""
        if not self._spec.get("show_scores", True):
            return None
        return self._spec.get("scores", {}).get(str(int(lesion_id)))

    def progress(self) -> tuple[int, int]:
        """(lesions rated, lesions to rate) for this task."""
        rated = set(self.ratings)
        return sum(1 for i in self._order if i in rated), len(self._order)

    @property
    def is_complete(self) -> bool:
        done, total = self.progress()
        return done == total

    def next_unrated(self, after: int | None = None) -> int | None:
        """First unrated lesion in order (after ``after`` if given, wrapping around); None when all are rated."""
        rated = set(self.ratings)
        start = 0 if after is None else self._index(after) + 1
        for n in range(len(self._order)):
            lesion = self._order[(start + n) % len(self._order)]
            if lesion not in rated:
                return lesion
        return None

    def next(self, lesion_id: int) -> int | None:
        """The lesion after ``lesion_id`` in order (None at the end)."""
        n = self._index(lesion_id) + 1
        return self._order[n] if n < len(self._order) else None

    def previous(self, lesion_id: int) -> int | None:
        """The lesion before ``lesion_id`` in order (None at the start)."""
        n = self._index(lesion_id) - 1
        return self._order[n] if n >= 0 else None

    def _index(self, lesion_id) -> int:
        try:
            return self._position[int(lesion_id)]
        except KeyError:
            raise InputError("lesion_id", f"{lesion_id!r} is not among the lesions of this session") from None

    # -- writing ------------------------------------------------------------------------
    def rate(self, lesion_id: int, label: str, confidence: int | None = None, comment: str = "",
             reason: str | None = None) -> dict:
        """Record (or replace) this rater's rating of ``lesion_id`` and save at once.

        ``label``: PRL task ``PRL`` / ``not_PRL`` / ``indeterminate``; CVS task ``CVS+`` /
        ``CVS-`` / ``excluded`` (then ``reason`` is required). ``confidence``: 1..5 or None.
        The automatic score shown to the rater (None when blinded) is stored with it.
        Returns the saved row.
        """
        self._index(lesion_id)
        self._check_writable()
        validate_rating(self.task, label, confidence, reason)
        row = {"case": self.case, "lesion_id": int(lesion_id), "rater": self.rater, "task": self.task,
               "label": label, "reason": reason or "", "confidence": None if confidence is None else int(confidence),
               "comment": str(comment or "").replace("\t", " ").replace("\n", " "),
               "timestamp": _now(), "auto_score": self.score(lesion_id)}
        self._save((self.task, row["lesion_id"], row))
        return dict(row)

    def remove(self, lesion_id: int) -> None:
        """Delete this rater's rating of ``lesion_id`` (saved at once)."""
        self._index(lesion_id)
        self._check_writable()
        self._save((self.task, int(lesion_id), None))

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(self.path, self.read_only_reason)
        if self._lock_handle is None:
            raise InputError(self.path, "session is closed")

    def _save(self, change) -> None:
        """Read-merge-write: merge ``change`` = (task, lesion id, row or None to delete) into the
        rows on disk, write sidecar then TSV, and keep as state what was read back."""
        if self.read_only:
            raise ReadOnlyError(self.path, self.read_only_reason)
        rows = read_ratings(self.path, complete=False)[0] if self.path.exists() and self.sidecar_path.exists() else []
        if change is not None:
            task, lesion, row = change
            rows = [r for r in rows if not (r["task"] == task and r["lesion_id"] == lesion)]
            if row is not None:
                rows.append(row)
        if self.sidecar_path.exists():  # keep the task specifications another task's session wrote
            on_disk = read_json(self.sidecar_path, name="ratings sidecar", expect=dict).get("tasks")
            if isinstance(on_disk, dict) and self.task in self.sidecar["tasks"]:
                self.sidecar["tasks"] = {**self.sidecar["tasks"], **on_disk, self.task: self.sidecar["tasks"][self.task]}
        self.sidecar["labels"] = {t: list(v) for t, v in TASKS.items()}
        # sidecar first: a TSV never exists without its sidecar; the TSV is the record of ratings
        self.sidecar["updated"] = _now()
        self.sidecar["n_ratings"] = len(rows)
        write_json(self.sidecar_path, self.sidecar)
        write_table(rows, self.path, columns=RATING_COLUMNS)
        self._rows = read_ratings(self.path, complete=False)[0]
        fsync_folder(self.path.parent)  # make the renames durable
