"""Case review state and reviewed files: what MSCaseReview reads and writes (no Qt, no Slicer).

* :class:`ReviewStore` keeps, per reader, each case's status (not started, in progress,
  done, flagged), notes, saved files and the resume position in one JSON file,
  ``<derivatives root>/review/reader-<label>_review.json``. Every change takes the
  store's lock (:func:`mspathobiology.io.file_lock`), reads the file, applies the change
  to what is on disk and writes it atomically, so two Slicer windows or two spellings of
  one reader never lose each other's updates. In a folder that cannot be written the store
  opens read-only (``read_only``, ``read_only_reason``) and refuses changes with a message.
* The reader's label is :func:`mspathobiology.identity.person_label` (the one rule for
  names: ``"jane doe"`` and ``"Jane.Doe"`` are both ``janedoe``); the spellings used are
  recorded in the store.
* :func:`save_derivative` saves a file under BIDS-derivatives names with the reader in
  the ``desc`` entity (``sub-01_ses-01_desc-lesionsjanedoe_dseg.nii.gz``) and never
  overwrites: the previous version is copied to ``<root>/backups/...`` first.

The reader name in file names follows SlicerCaseIterator (JoostJM/SlicerCaseIterator),
which puts the reader in the names of saved masks and never overwrites them.
"""

from __future__ import annotations

import datetime as _dt
import filecmp
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import __version__, bids
from ..defaults.cohort import (BACKUP_FOLDER, BIDS_VERSION, REVIEW_PIPELINE_NAME, STATUS_DONE,
                               STATUS_FLAGGED, STATUS_IN_PROGRESS, STATUS_LABELS, STATUS_NOT_STARTED,
                               STATUSES)
from ..errors import InputError, ReadOnlyError
from ..identity import display_name, other_spellings, person_label
from ..io import (IMAGE_SUFFIXES, check_image_file, clean_stale_temp, commit_file, file_lock, folder_writable,
                  read_json, temporary_file, write_json)
from .cases import Case, label_value

__all__ = ["ReviewStore", "SavedFile", "save_derivative", "derivative_file", "reviewed_files",
           "reader_label", "ensure_dataset_description", "STATUSES", "STATUS_LABELS"]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def reader_label(reader: str) -> str:
    """The reader's identity label (:func:`mspathobiology.identity.person_label`): ``'Jane.Doe'`` -> ``'janedoe'``."""
    return person_label(reader, "reader")


def ensure_dataset_description(root, name: str, description: str = "") -> Path:
    """Write ``dataset_description.json`` of a BIDS derivative folder if it is missing."""
    path = Path(root) / "dataset_description.json"
    if not path.exists():
        write_json(path, {"Name": name, "BIDSVersion": BIDS_VERSION, "DatasetType": "derivative",
                          "GeneratedBy": [{"Name": "MSPathobiology", "Version": __version__,
                                           "Description": description}]})
    return path


def _case_id(case) -> str:
    return case.id if isinstance(case, Case) else str(case)


class ReviewStore:
    """Review statuses of one reader over a case list, saved in a JSON file.

    ``root`` is the derivatives folder of the review (e.g.
    ``<dataset>/derivatives/mspathobiology-review``). Every method that changes the state
    does a read-merge-write of the file under the store's lock at once, so a crash loses
    nothing already set and concurrent writers lose nothing. Queries answer from the last
    read; :meth:`reload` (called by :meth:`progress`) re-reads the file.
    """

    def __init__(self, root, reader: str):
        self.root = Path(root)
        self.reader = display_name(reader)
        self.reader_label = reader_label(reader)
        self.path = self.root / "review" / f"reader-{self.reader_label}_review.json"
        self.lock_path = self.path.with_name(f".{self.path.name}.lock")
        self.read_only = not folder_writable(self.path.parent)
        self.read_only_reason = (f"{self.path.parent} is not writable: the review of {self.reader!r} opens "
                                 "read-only (statuses can be viewed, not changed)") if self.read_only else ""
        self.data = self._read()
        if not self.read_only and self.path.parent.is_dir():
            clean_stale_temp(self.path.parent)

    # -- the file -----------------------------------------------------------------------
    def _blank(self) -> dict:
        return {"reader": self.reader, "reader_label": self.reader_label, "reader_spellings": [self.reader],
                "position": None, "created": _now(), "cases": {}}

    def _read(self) -> dict:
        """The state on disk. Files of older versions that kept the reader's spelling in the name
        (``reader-JaneDoe_review.json``) are the same reader under the identity rule: their cases
        fill in what the current file lacks, so the next write carries them over (they are kept)."""
        data = self._blank()
        if self.path.exists():
            data.update(self._read_file(self.path))
        for path in other_spellings(self.path.parent, "reader-", "_review.json", self.reader_label):
            for case_id, entry in self._read_file(path)["cases"].items():
                data["cases"].setdefault(case_id, entry)
        return data

    @staticmethod
    def _read_file(path) -> dict:
        disk = read_json(path, name="review state")
        if not isinstance(disk, dict) or not isinstance(disk.get("cases", {}), dict) \
                or not all(isinstance(v, dict) for v in disk.get("cases", {}).values()):
            raise InputError(path, "is not a review state file (no 'cases' object)")
        disk.setdefault("cases", {})
        return disk

    def reload(self) -> dict:
        """Re-read the state from disk (what other windows or processes saved)."""
        self.data = self._read()
        return self.data

    def _change(self, apply) -> None:
        """Read-merge-write: under the lock, read the file, ``apply(data)``, write it."""
        if self.read_only:
            raise ReadOnlyError(self.path, self.read_only_reason)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ensure_dataset_description(self.root, "MSPathobiology case review",
                                   "Reader corrections and annotations from MSCaseReview")
        with file_lock(self.lock_path, what="review store"):
            data = self._read()
            apply(data)
            if self.reader not in data.setdefault("reader_spellings", []):
                data["reader_spellings"].append(self.reader)
            data["updated"] = _now()
            write_json(self.path, data)
        self.data = data

    # -- statuses ---------------------------------------------------------------------
    @staticmethod
    def _entry_of(data, case) -> dict:
        entry = data["cases"].setdefault(_case_id(case), {})
        entry.setdefault("status", STATUS_NOT_STARTED)
        entry.setdefault("files", {})
        entry.setdefault("history", [])
        return entry

    def status(self, case) -> str:
        """One of :data:`STATUSES` (``not_started`` for a case never opened)."""
        entry = self.data["cases"].get(_case_id(case))
        status = (entry or {}).get("status", STATUS_NOT_STARTED)
        return status if status in STATUSES else STATUS_NOT_STARTED

    def statuses(self, cases) -> dict[str, str]:
        return {_case_id(c): self.status(c) for c in cases}

    def note(self, case) -> str:
        entry = self.data["cases"].get(_case_id(case))
        return str((entry or {}).get("note", ""))

    @staticmethod
    def _set(data, case, status, note) -> None:
        entry = ReviewStore._entry_of(data, case)
        entry["status"] = status
        entry["updated"] = _now()
        entry["history"].append({"status": status, "time": entry["updated"]})
        if note is not None:
            entry["note"] = note

    def set_status(self, case, status: str, note: str | None = None) -> None:
        if status not in STATUSES:
            raise InputError("status", f"must be one of {', '.join(STATUSES)}, not {status!r}")
        if note is not None and not isinstance(note, str):
            raise InputError("note", f"must be text, not {type(note).__name__}")
        self._change(lambda data: self._set(data, case, status, note))

    def open_case(self, case) -> str:
        """Mark a case as the current one; a case not started becomes in progress. Returns its status."""
        def apply(data):
            if data["cases"].get(_case_id(case), {}).get("status", STATUS_NOT_STARTED) == STATUS_NOT_STARTED:
                self._set(data, case, STATUS_IN_PROGRESS, None)
            data["position"] = _case_id(case)
        if self.read_only:
            return self.status(case)
        self._change(apply)
        return self.status(case)

    def mark_done(self, case, note: str | None = None) -> None:
        self.set_status(case, STATUS_DONE, note)

    def flag(self, case, note: str = "") -> None:
        self.set_status(case, STATUS_FLAGGED, note)

    # -- position ---------------------------------------------------------------------
    @property
    def position(self) -> str | None:
        """Id of the case the reader had open last (None before the first)."""
        return self.data.get("position")

    def set_position(self, case) -> None:
        self._change(lambda data: data.__setitem__("position", _case_id(case)))

    def resume_index(self, cases) -> int:
        """Index in ``cases`` to resume at: the last open case if it is not done, else the first
        case that is not done or flagged after it (wrapping around), else 0."""
        ids = [_case_id(c) for c in cases]
        if not ids:
            return 0
        start = ids.index(self.position) if self.position in ids else 0
        if self.position in ids and self.status(ids[start]) == STATUS_IN_PROGRESS:
            return start
        for step in range(len(ids)):
            index = (start + step) % len(ids)
            if self.status(ids[index]) in (STATUS_NOT_STARTED, STATUS_IN_PROGRESS):
                return index
        return start

    def table(self, cases) -> list[dict]:
        """One row per case for a case table: ``case, subject, session, status, status_label,
        note, images`` (the image keys present, comma-separated)."""
        return [{"case": c.id, "subject": c.subject, "session": c.session or "", "status": self.status(c),
                 "status_label": STATUS_LABELS[self.status(c)], "note": self.note(c),
                 "images": ",".join(sorted(c.images))} for c in cases]

    def progress(self, cases) -> tuple[int, int]:
        """(cases done or flagged, total), as saved on disk now."""
        self.reload()
        ids = [_case_id(c) for c in cases]
        return sum(self.status(i) in (STATUS_DONE, STATUS_FLAGGED) for i in ids), len(ids)

    # -- files -----------------------------------------------------------------------
    def save_file(self, case: Case, label: str, suffix: str = "dseg", ext: str = ".nii.gz",
                  datatype: str = "anat", **content) -> "SavedFile":
        """:func:`save_derivative` for this reader, recorded in the state under ``label``."""
        if self.read_only:
            raise ReadOnlyError(self.path, self.read_only_reason)
        saved = save_derivative(self.root, case, label, self.reader, suffix=suffix, ext=ext,
                                datatype=datatype, **content)

        def apply(data):
            entry = self._entry_of(data, case)
            entry["files"][label] = str(saved.path.relative_to(self.root))
            entry["updated"] = _now()
        self._change(apply)
        return saved

    def files(self, case) -> dict[str, Path]:
        """label -> path of the files this reader saved for a case (that still exist)."""
        entry = self.data["cases"].get(_case_id(case)) or {}
        out = {}
        for label, rel in (entry.get("files") or {}).items():
            path = self.root / str(rel)
            if path.exists():
                out[label] = path
        return out

    def save(self) -> Path:
        """Write the state as it is on disk plus nothing new (kept for callers of the old API)."""
        self._change(lambda data: None)
        return self.path


@dataclass
class SavedFile:
    path: Path
    backup: Path | None  # where the previous version went; None when there was none or it was identical


def derivative_file(root, case: Case, label: str, reader: str, suffix: str = "dseg",
                    ext: str = ".nii.gz", datatype: str = "anat") -> Path:
    """``root/sub-01/ses-01/anat/sub-01_ses-01_desc-<label><Reader>_<suffix><ext>``.

    ``label`` (e.g. ``lesions``, ``rimratings``, ``cvs``) and the reader become one
    alphanumeric ``desc`` value, as BIDS labels must be alphanumeric.
    """
    desc = label_value(label) + reader_label(reader)
    if not suffix.isalnum():
        raise ValueError(f"BIDS suffix must be alphanumeric, not {suffix!r}")
    entities = bids.entity_string({"sub": case.subject, "ses": case.session, "desc": desc})
    return Path(root) / case.relative_dir / datatype / f"{entities}_{suffix}{ext}"


def save_derivative(root, case: Case, label: str, reader: str, suffix: str = "dseg",
                    ext: str = ".nii.gz", datatype: str = "anat", *, source=None, data=None,
                    writer=None) -> SavedFile:
    """Save one file of a case under :func:`derivative_file`'s name, never losing the old one.

    Give exactly one of ``source`` (an existing file to copy in), ``data`` (bytes or str)
    or ``writer`` (a callable ``writer(tmp_path)`` that writes the file, e.g.
    ``lambda p: sitk.WriteImage(img, str(p))`` or a Slicer storage node). The new file is
    written to a temporary name in the target folder; if a different file already has
    the target name it is first copied to ``root/backups/<same folders>/<UTC time>_<name>``;
    then the temporary file is renamed over the target (atomic).
    """
    if sum(x is not None for x in (source, data, writer)) != 1:
        raise ValueError("give exactly one of source=, data= or writer=")
    target = derivative_file(root, case, label, reader, suffix, ext, datatype)
    backup = None
    with temporary_file(target, ext) as tmp:
        if source is not None:
            if not Path(source).is_file():
                raise InputError(source, "file to save not found")
            shutil.copyfile(source, tmp)
        elif data is not None:
            tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else bytes(data))
        else:
            writer(tmp)
            if not tmp.exists() or tmp.stat().st_size == 0:
                raise InputError(target, "the writer produced no file")
        if ext.lower() in IMAGE_SUFFIXES:
            check_image_file(tmp, name=f"file to save as {target.name}")
        if target.exists() and not filecmp.cmp(target, tmp, shallow=False):
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            backup = Path(root) / BACKUP_FOLDER / target.parent.relative_to(root) / f"{stamp}_{target.name}"
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, backup)
        commit_file(tmp, target)
    ensure_dataset_description(root, "MSPathobiology case review")
    return SavedFile(target, backup)


def reviewed_files(root, case: Case, reader: str | None = None) -> dict[str, dict[str, Path]]:
    """Files saved for a case: ``{reader label: {desc label: path}}`` found by name in
    ``root/sub-*/ses-*/*/`` (so files saved by any reader or tool show up, not only those
    recorded in one reader's state). ``reader`` limits to one reader."""
    folder = Path(root) / case.relative_dir
    readers = None if reader is None else {reader_label(reader)}
    out: dict[str, dict[str, Path]] = {}
    known = _known_readers(root) if readers is None else readers
    for path in sorted(folder.glob("*/*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        entities, _, _ = bids.parse_entities(path.name)
        desc = entities.get("desc", "")
        for name in known:  # case-insensitive: older versions kept the reader's spelling ("lesionsJaneDoe")
            if desc.lower().endswith(name) and len(desc) > len(name):
                out.setdefault(name, {})[desc[: -len(name)]] = path
    return out


def _reader_of_store(path: Path) -> str | None:
    """The identity label of a review state file name ``reader-<name>_review.json`` (None if not one)."""
    name = path.name
    if not (name.startswith("reader-") and name.endswith("_review.json")):
        return None
    try:
        return reader_label(name[len("reader-"):-len("_review.json")])
    except InputError:
        return None


def _known_readers(root) -> set[str]:
    return {label for path in (Path(root) / "review").glob("reader-*_review.json")
            if (label := _reader_of_store(path)) is not None}


def default_review_root(dataset) -> Path:
    """``<dataset>/derivatives/mspathobiology-review`` for a BIDS dataset, else ``<folder>/derivatives/...``."""
    dataset = Path(dataset)
    base = dataset.parent if dataset.is_file() else dataset
    return base / "derivatives" / REVIEW_PIPELINE_NAME
