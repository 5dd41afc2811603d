"""Case lists: which images belong to which subject and session.

A :class:`Case` is one subject at one session with a dict of image key -> path, the
keys being those of :mod:`mspathobiology.bids` (``t1, t1post, flair, qsm, phase,
t2star`` raw; ``anatomy, parcellation, brain_mask, lesions, tractogram`` derived).

Three sources (:func:`discover_cases` picks one by looking at the path):

* a BIDS dataset (Gorgolewski et al., Sci Data 2016; BIDS 1.9): raw images in
  ``sub-*/[ses-*/]anat`` found by suffix and the ``ce``/``part`` entities, derived
  images in ``derivatives/<pipeline>/sub-*/[ses-*/]`` found by ``desc`` and suffix;
* a folder of case folders: one folder per case, files matched by BIDS names when they
  have them, else by key words (``flair``, ``t1``, ``qsm``, ``lesion``, ...);
* a CSV/TSV table with one column per image key (plus ``subject``, ``session``,
  optionally ``acq_time``);
  relative paths resolve against the table's folder, as in SlicerCaseIterator
  (Joost van Griethuysen, github.com/JoostJM/SlicerCaseIterator).

Discovery never opens an image; a listed file that does not exist stays in the case so
that the analysis using it fails with a clear error in the cohort table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import bids
from ..defaults.cohort import IGNORED_PIPELINES
from ..errors import InputError
from ..io import IMAGE_SUFFIXES
from ..tables import read_table

TRACTOGRAM_SUFFIXES = (".tck", ".trk", ".trx")

#: Entities that tell raw images of the same suffix apart; any other entity (acq, run,
#: rec, echo) is allowed and the candidate with the fewest extra entities wins.
_DISCRIMINATING = ("ce", "part")
#: ``space`` values that still mean the subject's native space.
_NATIVE_SPACES = {"orig", "native", "t1w", "individual"}


@dataclass
class Case:
    """One subject at one session. ``images`` maps image keys to file paths."""

    subject: str
    session: str | None = None
    images: dict = field(default_factory=dict)
    source: str = ""
    acq_time: str | None = None  # ISO date(time) of the session (BIDS sessions.tsv ``acq_time``)

    @property
    def id(self) -> str:
        """``sub-01_ses-02`` (or ``sub-01`` without sessions): unique within a cohort."""
        return f"sub-{self.subject}" + (f"_ses-{self.session}" if self.session else "")

    @property
    def relative_dir(self) -> Path:
        """``sub-01/ses-02``: the case's folder inside any derivatives root."""
        return Path(f"sub-{self.subject}") / (f"ses-{self.session}" if self.session else "")

    def missing_files(self) -> list[str]:
        """Image keys whose file does not exist."""
        return [k for k, p in self.images.items() if not Path(p).exists()]

    def to_dict(self) -> dict:
        return {"subject": self.subject, "session": self.session, "source": self.source,
                "acq_time": self.acq_time, "images": {k: str(v) for k, v in self.images.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "Case":
        return cls(str(data["subject"]), data.get("session") or None,
                   {k: Path(v) for k, v in (data.get("images") or {}).items()}, data.get("source", ""),
                   data.get("acq_time") or None)


def interval_years(earlier: Case, later: Case) -> float | None:
    """Years between two sessions' ``acq_time`` (365.25-day years), or None when either is unknown."""
    import datetime as dt

    try:
        a = dt.datetime.fromisoformat(str(earlier.acq_time))
        b = dt.datetime.fromisoformat(str(later.acq_time))
    except (TypeError, ValueError):
        return None
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return (b - a).total_seconds() / (365.25 * 86400.0)


def _session_times(subject_dir: Path, subject: str) -> dict:
    """session label -> acq_time from ``sub-X/sub-X_sessions.tsv`` (BIDS), if present."""
    table = subject_dir / f"sub-{subject}_sessions.tsv"
    if not table.exists():
        return {}
    try:
        rows = read_table(table, typed=False)
    except InputError:
        return {}
    return {r.get("session_id", "").removeprefix("ses-"): r.get("acq_time") or None for r in rows}


def _natural_key(text):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(text or ""))]


def sort_cases(cases) -> list[Case]:
    """Cases sorted by subject then session, numbers compared as numbers."""
    return sorted(cases, key=lambda c: (_natural_key(c.subject), _natural_key(c.session)))


def by_subject(cases) -> dict[str, list[Case]]:
    """Cases grouped by subject, each group sorted by session (baseline first)."""
    groups: dict[str, list[Case]] = {}
    for case in sort_cases(cases):
        groups.setdefault(case.subject, []).append(case)
    return groups


def consecutive_pairs(cases) -> list[tuple[Case, Case]]:
    """(earlier, later) pairs of consecutive sessions of each subject."""
    pairs = []
    for group in by_subject(cases).values():
        pairs.extend(zip(group[:-1], group[1:]))
    return pairs


def find_case(cases, case_id: str) -> Case:
    for case in cases:
        if case.id == case_id:
            return case
    raise KeyError(f"no case {case_id!r}")


def label_value(text) -> str:
    """A BIDS label (alphanumeric only) made from free text: ``'Patient 7-b'`` -> ``'Patient7b'``."""
    value = re.sub(r"[^A-Za-z0-9]", "", str(text))
    if not value:
        raise ValueError(f"{text!r} has no letters or digits to make a BIDS label from")
    return value


def _image_name(path: Path) -> tuple[str, str] | None:
    """(name without extension, extension) when ``path`` is an image or tractogram file."""
    low = path.name.lower()
    for suffix in IMAGE_SUFFIXES + TRACTOGRAM_SUFFIXES:
        if low.endswith(suffix):
            return path.name[: -len(suffix)], suffix
    return None


def bids_key(name: str, derived: bool | None = None) -> str | None:
    """The image key of a BIDS file name, or None. ``derived`` limits to raw/derived keys."""
    split = _image_name(Path(name))
    if split is None:
        return None
    stem, ext = split
    entities, suffix, _ = bids.parse_entities(stem)
    if "sub" not in entities:
        return None
    if derived is not True:
        for key, (spec, raw_suffix) in bids.RAW.items():
            if suffix == raw_suffix and ext not in TRACTOGRAM_SUFFIXES and all(
                    entities.get(e) == spec.get(e) for e in _DISCRIMINATING):
                return key
        if suffix == "T2starw" and entities.get("part") is None:
            return "t2star"
    if derived is not False:
        space = entities.get("space")
        if space is not None and space.lower() not in _NATIVE_SPACES:
            return None
        if ext in TRACTOGRAM_SUFFIXES:
            return "tractogram"
        for key, (spec, der_suffix, _) in bids.DERIVED.items():
            if key != "tractogram" and suffix == der_suffix and entities.get("desc") == spec.get("desc"):
                return key
    return None


def _extra_entities(path: Path) -> int:
    entities, _, _ = bids.parse_entities(path.name)
    return len(set(entities) - {"sub", "ses", "desc", *_DISCRIMINATING})


def _pick(candidates: dict[str, list[Path]]) -> dict[str, Path]:
    """One file per key: fewest extra entities, then first by name."""
    return {key: sorted(paths, key=lambda p: (_extra_entities(p), p.name))[0]
            for key, paths in candidates.items() if paths}


def _collect(files, derived: bool | None, classify=None) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in files:
        if not path.is_file() or path.name.startswith("."):
            continue
        key = bids_key(path.name, derived)
        if key is None and classify is not None:
            key = classify(path)
        if key is not None:
            found.setdefault(key, []).append(path)
    return found


def _session_dirs(subject_dir: Path) -> list[tuple[str | None, Path]]:
    sessions = sorted(p for p in subject_dir.glob("ses-*") if p.is_dir())
    if sessions:
        return [(p.name[4:], p) for p in sessions]
    return [(None, subject_dir)]


def is_bids_dataset(root) -> bool:
    root = Path(root)
    return root.is_dir() and ((root / "dataset_description.json").exists()
                              or any(p.is_dir() for p in root.glob("sub-*/anat"))
                              or any(p.is_dir() for p in root.glob("sub-*/ses-*/anat")))


def cases_from_bids(root, derivatives=True, exclude=()) -> list[Case]:
    """Cases of a BIDS dataset.

    ``derivatives``: True (every pipeline under ``root/derivatives`` except
    :data:`~mspathobiology.defaults.cohort.IGNORED_PIPELINES` and the folders in
    ``exclude``), False (raw only) or a list of pipeline names in order of preference.
    A derived key found in several pipelines comes from the first one in that order
    (alphabetical by default). Raw images are searched in ``anat``; derived images
    anywhere below the session folder of the pipeline.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "BIDS dataset folder not found")
    excluded = {Path(p).resolve() for p in exclude}
    if derivatives is True:
        pipelines = sorted(p.name for p in (root / "derivatives").glob("*") if p.is_dir()
                           and p.name not in IGNORED_PIPELINES and p.resolve() not in excluded)
    elif derivatives:
        pipelines = list(derivatives)
    else:
        pipelines = []
    cases = []
    for subject_dir in sorted(p for p in root.glob("sub-*") if p.is_dir()):
        subject = subject_dir.name[4:]
        times = _session_times(subject_dir, subject)
        for session, folder in _session_dirs(subject_dir):
            images = _pick(_collect(sorted((folder / "anat").glob("*")), derived=False))
            for pipeline in pipelines:
                der = root / "derivatives" / pipeline / f"sub-{subject}"
                if session:
                    der = der / f"ses-{session}"
                if not der.is_dir():
                    continue
                for key, path in _pick(_collect(sorted(der.rglob("*")), derived=True)).items():
                    images.setdefault(key, path)
            if images:
                cases.append(Case(subject, session, images, source=str(root), acq_time=times.get(session or "")))
    if not cases:
        raise InputError(root, "no sub-*/[ses-*/]anat images found in this BIDS dataset")
    return sort_cases(cases)


#: Key words of the folder source, tried in this order on the lower-case file name split
#: at ``_ - . space``; the first key with a matching word wins (so ``t1post`` is tried
#: before ``t1`` and ``lesions`` before ``brain_mask``).
KEYWORDS = (
    ("lesions", ("lesion", "lesions", "lesionmask", "wmh", "les")),
    ("brain_mask", ("brainmask", "mask", "brain")),
    ("parcellation", ("parcellation", "parc", "aparc", "atlas")),
    ("anatomy", ("aseg", "anatomy", "dseg", "tissue")),
    ("t1post", ("t1post", "t1ce", "t1c", "t1gd", "gd", "gad", "gadolinium", "post", "postcontrast")),
    ("flair", ("flair", "t2flair")),
    ("qsm", ("qsm", "chimap", "chi", "susceptibility")),
    ("phase", ("phase", "pha", "ph")),
    ("t2star", ("t2star", "t2starw", "swi", "gre", "mag", "magnitude", "t2s")),
    ("t1", ("t1", "t1w", "mprage", "mp2rage", "spgr")),
)


def keyword_key(path) -> str | None:
    """Image key of a file by key words in its name (see :data:`KEYWORDS`), or None."""
    split = _image_name(Path(path))
    if split is None:
        return None
    stem, ext = split
    if ext in TRACTOGRAM_SUFFIXES:
        return "tractogram"
    words = set(w for w in re.split(r"[_\-.\s]+", stem.lower()) if w)
    for key, keywords in KEYWORDS:
        if words & set(keywords):
            return key
    return None


def _case_ids(name: str) -> tuple[str, str | None]:
    entities, _, _ = bids.parse_entities(name + "_x")
    if "sub" in entities:
        return label_value(entities["sub"]), (label_value(entities["ses"]) if entities.get("ses") else None)
    return label_value(name), None


def cases_from_folders(root) -> list[Case]:
    """One case per sub-folder of ``root``; files anywhere inside it matched by BIDS name or key word.

    A folder named ``sub-01_ses-02`` (or ``sub-01``) gives subject and session; any other
    name becomes the subject label (letters and digits only). Folders named ``sub-X``
    holding ``ses-Y`` folders give one case per session.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "case folder not found")
    cases = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        subject, session = _case_ids(folder.name)
        sessions = [(session, folder)]
        if session is None and any(p.is_dir() for p in folder.glob("ses-*")):
            sessions = [(label_value(p.name[4:]), p) for p in sorted(folder.glob("ses-*")) if p.is_dir()]
        for ses, where in sessions:
            images = _pick(_collect(sorted(where.rglob("*")), derived=None, classify=keyword_key))
            if images:
                cases.append(Case(subject, ses, images, source=str(root)))
    if not cases:
        raise InputError(root, "no case folders with recognisable images (names with flair, t1, qsm, ...)")
    return sort_cases(cases)


#: Table columns naming the case, besides one column per image key.
SUBJECT_COLUMNS = ("subject", "sub", "participant_id", "case", "id")
SESSION_COLUMNS = ("session", "ses", "session_id", "visit")
TIME_COLUMNS = ("acq_time", "date", "scan_date")


def cases_from_table(path) -> list[Case]:
    """Cases from a CSV/TSV with a ``subject`` column, an optional ``session`` column and one
    column per image key (``flair``, ``t1``, ...; case-insensitive). Empty cells mean "no such
    image"; relative paths resolve against the table's folder. Unknown columns are refused
    so that a misspelt key is not silently ignored.
    """
    path = Path(path)
    rows = read_table(path, name="case table", typed=False)
    if not rows:
        raise InputError(path, "case table has no rows")
    columns = {c.strip().lower(): c for c in rows[0]}
    subject_col = next((columns[c] for c in SUBJECT_COLUMNS if c in columns), None)
    session_col = next((columns[c] for c in SESSION_COLUMNS if c in columns), None)
    time_col = next((columns[c] for c in TIME_COLUMNS if c in columns), None)
    image_cols = {low: col for low, col in columns.items() if low in bids.IMAGE_KEYS}
    unknown = sorted(set(columns) - set(image_cols) - {subject_col.lower() if subject_col else None,
                                                        session_col.lower() if session_col else None}
                     - set(SUBJECT_COLUMNS) - set(SESSION_COLUMNS) - set(TIME_COLUMNS)
                     - {"notes", "note", "comment"})
    if unknown:
        raise InputError(path, f"unknown column(s) {unknown}; image columns are {', '.join(bids.IMAGE_KEYS)}")
    if not image_cols:
        raise InputError(path, f"no image column; name columns after image keys: {', '.join(bids.IMAGE_KEYS)}")
    cases, seen = [], set()
    for line, row in enumerate(rows, start=2):
        raw_subject = row[subject_col] if subject_col else str(line - 1)
        subject = raw_subject[4:] if raw_subject.startswith("sub-") else raw_subject
        raw_session = row[session_col] if session_col else ""
        session = raw_session[4:] if raw_session.startswith("ses-") else raw_session
        try:
            subject = label_value(subject)
            session = label_value(session) if session else None
        except ValueError:
            raise InputError(path, f"line {line}: empty subject") from None
        images = {}
        for key, col in image_cols.items():
            cell = (row.get(col) or "").strip()
            if cell:
                file = Path(cell).expanduser()
                images[key] = file if file.is_absolute() else (path.parent / file)
        case = Case(subject, session, images, source=str(path),
                    acq_time=(row.get(time_col) or None) if time_col else None)
        if case.id in seen:
            raise InputError(path, f"line {line}: case {case.id} appears twice")
        seen.add(case.id)
        if images:
            cases.append(case)
    return sort_cases(cases)


def discover_cases(source, derivatives=True, exclude=()) -> list[Case]:
    """Cases from a BIDS dataset, a folder of case folders, or a CSV/TSV table (by what ``source`` is)."""
    source = Path(source)
    if source.is_file():
        if source.suffix.lower() not in (".csv", ".tsv"):
            raise InputError(source, "a case list file must be .csv or .tsv")
        return cases_from_table(source)
    if not source.exists():
        raise InputError(source, "not found (give a BIDS dataset, a folder of case folders, or a CSV/TSV)")
    if is_bids_dataset(source):
        return cases_from_bids(source, derivatives=derivatives, exclude=exclude)
    return cases_from_folders(source)
