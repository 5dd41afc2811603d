"""Run every analysis a cohort's images allow; skip what is done; keep going past failures.

Layout of the output (a BIDS derivatives folder, BIDS-Apps style: Gorgolewski et al.,
PLoS Comput Biol 2017)::

    OUT/dataset_description.json
    OUT/cohort.tsv                      one row per subject and session, every summary value
    OUT/cohort_lesions.tsv, cohort_rims.tsv, cohort_atrophy.tsv, cohort_network.tsv, cohort_sel.tsv
    OUT/cohort_failures.tsv             one row per failed analysis, with its error
    OUT/sub-01/ses-01/case.json         the case (image paths) and each analysis' status
    OUT/sub-01/ses-01/<analysis>/       files written by the analysis, and done.json
    OUT/sub-01/sel/, subject.json       slowly expanding lesions over all sessions (>= 3), and its status

Analyses per session: ``lesions`` (mspathobiology.lesions.run_case), ``rims``
(mspathobiology.rims.run_case), ``atrophy`` (mspathobiology.atrophy.run_case), ``network``
(mspathobiology.networks.run_case); between consecutive sessions of a subject (written
in the later session's folder): ``lesion_change`` (mspathobiology.lesions.run_change)
and ``pbvc`` (mspathobiology.atrophy.run_pbvc); per subject with >= 3 sessions (written in
``OUT/sub-01/sel/``, its row in the tables is the subject's last session): ``sel``, slowly
expanding lesions (mspathobiology.sel.run) from the T1 of every session and the baseline
lesion map. When a case has no lesions image, the
analyses that use lesions take the label map written by the ``lesions`` step.

An analysis is done when its ``done.json`` exists and records the same inputs (path,
size, modification time in ns) and options, and every output file it recorded is still
there with its size and modification time; the marker is written atomically after the analysis returns, so an interrupted run redoes only the analyses that had not finished.
An analysis that fails leaves no ``done.json`` and a ``stale.json`` listing the files left
in its folder: they are not current, and neither the tables nor the reports read them.

Provenance: every ``done.json`` records where each input came from (raw image,
derivative, ground truth, reader's correction, an earlier step of this run), its BIDS URI
(``Sources``), the function that made the outputs and the mspathobiology version; the
cohort table says where each session's lesions came from (``lesions_source``). Lesion
maps of derivative pipelines are used only when asked (``lesions_from``) or when a
reader's own corrections exist (``derivatives/mspathobiology-review``); otherwise the
lesions step segments FLAIR. The lesion map of each session is also written under its
BIDS-derivatives name (``sub-01/ses-01/anat/sub-01_ses-01_desc-lesions_dseg.nii.gz``
with a JSON sidecar holding ``Sources``); everything else is listed in ``.bidsignore``.

One run at a time writes into a folder: ``OUT/.run.lock`` is held with a system lock
(:func:`mspathobiology.io.file_lock`), released by the system when the process ends.

Parallel runs: ``jobs=N`` runs N cases at once in local processes
(:class:`concurrent.futures.ProcessPoolExecutor`, spawn start method). Each job may use
cores // N threads (at least 1): SimpleITK's global default, BLAS/OpenMP through the
environment of the workers and threadpoolctl when installed, so that threads x jobs never
exceeds the cores. ``executor="dask"`` sends the same tasks to a
dask.distributed cluster: ``scheduler="tcp://host:8786"`` uses a running scheduler
(started e.g. with ``dask scheduler`` and ``dask worker tcp://host:8786 --nthreads 1``
on each node); every worker must have mspathobiology installed and see the dataset and
output folders at the same paths (a shared file system). dask is imported only then.
"""

from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import importlib
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__, bids
from ..bids import IMAGE_KEYS
from ..defaults.cohort import BIDS_VERSION, DONE_MARKER, PIPELINE_NAME, PROGRESS_BAR_WIDTH, THREAD_ENV_VARS
from ..errors import InputError
from ..io import IMAGE_SUFFIXES, atomic_write_bytes, atomic_write_text, file_lock, read_json, write_json
from ..tables import write_table
from .cases import Case, by_subject, consecutive_pairs, discover_cases, interval_years, origin_text, sort_cases
from .numbers import round_row

#: Marker left in the folder of an analysis that failed: its other files are not current.
STALE_MARKER = "stale.json"

#: ``--only`` groups and the analyses each one selects.
GROUPS = {
    "lesions": ("lesions", "lesion_change"),
    "rims": ("rims",),
    "atrophy": ("atrophy", "pbvc"),
    "network": ("network",),
    "sel": ("sel",),
}
SESSION_ANALYSES = ("lesions", "rims", "atrophy", "network")
PAIR_ANALYSES = ("lesion_change", "pbvc")
SUBJECT_ANALYSES = ("sel",)
ANALYSES = SESSION_ANALYSES + PAIR_ANALYSES + SUBJECT_ANALYSES

#: The function behind each analysis, imported in the worker (``module:function``).
FUNCTIONS = {
    "lesions": "mspathobiology.lesions:run_case",
    "rims": "mspathobiology.rims:run_case",
    "atrophy": "mspathobiology.atrophy:run_case",
    "network": "mspathobiology.networks:run_case",
    "lesion_change": "mspathobiology.lesions:run_change",
    "pbvc": "mspathobiology.atrophy:run_pbvc",
    "sel": "mspathobiology.sel:run",
}

#: Per-topic cohort tables: file name -> analyses whose values go in it.
TOPIC_TABLES = {
    "cohort_lesions.tsv": ("lesions", "lesion_change"),
    "cohort_rims.tsv": ("rims",),
    "cohort_atrophy.tsv": ("atrophy", "pbvc"),
    "cohort_network.tsv": ("network",),
    "cohort_sel.tsv": ("sel",),
}

DONE, FAILED, SKIPPED, UNAVAILABLE = "done", "failed", "skipped", "unavailable"


def select_analyses(only) -> tuple[str, ...]:
    """Analyses chosen by ``only`` (None = all; a list or comma string of group names)."""
    if only is None or only == "" or only == []:
        return ANALYSES
    names = [s.strip() for s in (only.split(",") if isinstance(only, str) else only) if s.strip()]
    unknown = [n for n in names if n not in GROUPS and n not in ANALYSES]
    if unknown:
        raise InputError("--only", f"unknown analysis {unknown}; choose from {', '.join(GROUPS)}")
    chosen = set()
    for name in names:
        chosen.update(GROUPS.get(name, (name,)))
    return tuple(a for a in ANALYSES if a in chosen)


def case_dir(out, case: Case) -> Path:
    return Path(out) / case.relative_dir


def analysis_dir(out, case: Case, analysis: str) -> Path:
    """Folder of an analysis: in the session's folder, or the subject's for analyses over all sessions (``sel``)."""
    if analysis in SUBJECT_ANALYSES:
        return subject_dir(out, case.subject) / analysis
    return case_dir(out, case) / analysis


# --------------------------------------------------------------------------- markers
def fingerprint(paths: dict) -> dict:
    """{name: [path, size bytes, mtime ns]} of input files (missing files: size -1); other
    values (numbers) are recorded as ``["value", v]``."""
    out = {}
    for name, path in sorted(paths.items()):
        if path is None:
            continue
        if not isinstance(path, (str, os.PathLike)):  # a value input (e.g. interval_years)
            out[name] = ["value", path]
            continue
        try:
            st = os.stat(path)
            out[name] = [str(path), st.st_size, st.st_mtime_ns]
        except OSError:
            out[name] = [str(path), -1, -1]
    return out


def read_marker(folder: Path) -> dict | None:
    path = Path(folder) / DONE_MARKER
    if not path.exists():
        return None
    try:
        return read_json(path)
    except InputError:
        return None


def output_stats(folder: Path) -> dict:
    """{relative path: [size bytes, mtime ns]} of the files an analysis wrote into ``folder`` (markers excluded)."""
    folder = Path(folder)
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name not in (DONE_MARKER, STALE_MARKER) and not p.name.startswith(".tmp-"):
            st = p.stat()
            out[p.relative_to(folder).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def outputs_intact(folder: Path, recorded: dict) -> bool:
    """Whether every output a marker recorded is still in ``folder``, unchanged: same size and
    modification time (markers of older versions recorded the size alone)."""
    for name, stats in (recorded or {}).items():
        path = Path(folder) / name
        if not path.is_file():
            return False
        st = path.stat()
        if (st.st_size != stats) if isinstance(stats, int) else ([st.st_size, st.st_mtime_ns] != list(stats)):
            return False
    return True


def marker_valid(folder: Path, inputs: dict, options: dict) -> dict | None:
    """The marker of ``folder`` if it records exactly these inputs and options and every output it
    recorded is still there unchanged (:func:`outputs_intact`), else None."""
    marker = read_marker(folder)
    if not marker or marker.get("inputs") != fingerprint(inputs) or marker.get("options") != _jsonable(options):
        return None
    return marker if outputs_intact(folder, marker.get("outputs")) else None


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


# --------------------------------------------------------------------------- lesion output
def lesion_output(folder: Path) -> Path | None:
    """The lesion label map the ``lesions`` step wrote in ``folder``: ``lesions.nii.gz``
    (what :func:`mspathobiology.lesions.run_case` writes), else a BIDS ``desc-lesions_dseg``
    file, else a file with ``lesion`` and ``label``/``dseg``/``seg`` in its name."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    marker = read_marker(folder) or {}
    named = marker.get("lesion_map")
    if named and (folder / named).exists():
        return folder / named
    images = [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")
              and p.name.lower().endswith(IMAGE_SUFFIXES)]
    for test in (lambda n: n in ("lesions.nii.gz", "lesions.nii", "lesions.nrrd"),
                 lambda n: "desc-lesions_" in n and "dseg" in n,
                 lambda n: "lesion" in n and any(w in n for w in ("label", "dseg", "seg"))):
        hits = [p for p in images if test(p.name.lower())]
        if hits:
            return hits[0]
    return None


def _resolve(analysis: str, functions: dict):
    module_name, func_name = functions[analysis].split(":")
    module = importlib.import_module(module_name)
    return getattr(module, func_name)


def _is_missing_package(exc: ImportError, target: str) -> bool:
    module_name = target.split(":")[0]
    return isinstance(exc, ModuleNotFoundError) and exc.name is not None and module_name.startswith(exc.name)


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return " ".join(text.split())


def _record(case: Case, analysis: str, status: str, **extra) -> dict:
    return {"case": case.id, "subject": case.subject, "session": case.session, "analysis": analysis,
            "status": status, "ran": False, "summary": {}, "error": "", "seconds": 0.0, **extra}


# --------------------------------------------------------------------------- provenance
def bids_uri(path, case: Case, out: Path) -> str:
    """BIDS URI of an input file (BIDS 1.9 "BIDS URI"): ``bids::`` inside this derivatives
    folder, ``bids:raw:`` inside the case's dataset, ``bids:<pipeline>:`` inside one of its
    derivative pipelines; ``file://`` + absolute path otherwise. The dataset names are
    declared in ``DatasetLinks`` of ``OUT/dataset_description.json``."""
    path = Path(os.path.abspath(path))
    try:
        return "bids::" + path.relative_to(Path(os.path.abspath(out))).as_posix()
    except ValueError:
        pass
    root = Path(case.source) if case.source else None
    if root is not None and root.is_dir():
        root = Path(os.path.abspath(root))
        try:
            rel = path.relative_to(root)
        except ValueError:
            rel = None
        if rel is not None:
            parts = rel.parts
            if len(parts) > 2 and parts[0] == "derivatives":
                return f"bids:{parts[1]}:" + Path(*parts[2:]).as_posix()
            return "bids:raw:" + rel.as_posix()
    return path.as_uri()


def input_provenance(case: Case, inputs: dict, origins: dict, out: Path) -> dict:
    """{input name: {"path": shown path, "origin": phrase, "uri": BIDS URI}} of file inputs."""
    described = {}
    for name, path in sorted(inputs.items()):
        if path is None or not isinstance(path, (str, os.PathLike)):
            continue
        origin = origins.get(name) or case.origin(name)
        described[name] = {"path": case.display_path(path), "origin": origin.get("text") or origin_text(origin),
                           "uri": bids_uri(path, case, out)}
    return described


def lesions_source(case: Case) -> str:
    """Where the lesions of a case come from, in words (shown on screen, in cohort.tsv and reports)."""
    if "lesions" not in case.images:
        return "segmented from FLAIR" if "flair" in case.images else "none"
    return origin_text(case.origin("lesions"))


# --------------------------------------------------------------------------- worker side
def _run_one(analysis: str, case: Case, folder: Path, inputs: dict, call, options: dict,
             selected: bool, functions: dict, origins: dict | None = None, out: Path | None = None) -> dict:
    """Run one analysis unless its marker is valid; never raises."""
    marker = marker_valid(folder, inputs, options)
    if marker is not None:
        return _record(case, analysis, DONE, summary=marker.get("summary", {}),
                       seconds=marker.get("seconds", 0.0))
    if not selected:
        return _record(case, analysis, SKIPPED, reason="not selected")
    try:
        func = _resolve(analysis, functions)
    except (ImportError, AttributeError) as exc:
        if isinstance(exc, AttributeError) or _is_missing_package(exc, functions[analysis]):
            return _record(case, analysis, UNAVAILABLE, reason=f"{functions[analysis]} not available: {exc}")
        return _record(case, analysis, FAILED, error=_error_text(exc), ran=True)
    start = time.perf_counter()
    try:
        stale = folder / DONE_MARKER
        if stale.exists():
            stale.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        summary = call(func)
        if not isinstance(summary, dict):
            raise TypeError(f"{functions[analysis]} returned {type(summary).__name__}, not a dict")
    except Exception as exc:  # one analysis failing must not stop the cohort
        tb = traceback.format_exc(limit=-3)
        _mark_stale(folder, analysis, exc)
        return _record(case, analysis, FAILED, error=_error_text(exc), traceback=tb, ran=True,
                       seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    summary = {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool)) or v is None}
    out = Path(out) if out is not None else folder.parent.parent
    provenance = input_provenance(case, inputs, origins or {}, out)
    marker = {"analysis": analysis, "case": case.id, "function": functions[analysis],
              "GeneratedBy": [{"Name": "MSPathobiology", "Version": __version__,
                               "Description": f"{analysis}: {functions[analysis]}"}],
              "Sources": [item["uri"] for item in provenance.values()],
              "provenance": provenance,
              "inputs": fingerprint(inputs), "options": _jsonable(options), "summary": summary,
              "outputs": output_stats(folder),
              "seconds": round(seconds, 3), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "mspathobiology_version": __version__}
    if analysis == "lesions":
        found = lesion_output(folder)
        if found is not None:
            marker["lesion_map"] = found.name
    write_json(folder / DONE_MARKER, marker)
    (folder / STALE_MARKER).unlink(missing_ok=True)
    return _record(case, analysis, DONE, summary=summary, ran=True, seconds=seconds)


def _mark_stale(folder: Path, analysis: str, exc: BaseException) -> None:
    """Leave ``stale.json`` in the folder of a failed analysis, listing the files that are not current."""
    try:
        if folder.is_dir():
            write_json(folder / STALE_MARKER, {
                "analysis": analysis, "error": _error_text(exc),
                "failed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "stale_files": sorted(output_stats(folder)),
                "note": "the last run of this analysis failed: these files are not current outputs"})
    except Exception:  # noqa: BLE001 - the failure record is what matters; a full disk must not hide it
        pass


def is_current(folder) -> bool:
    """Whether ``folder`` holds the current outputs of a finished analysis (a readable
    ``done.json``, no ``stale.json``, every recorded output present and unchanged)."""
    folder = Path(folder)
    marker = read_marker(folder)
    if marker is None or (folder / STALE_MARKER).exists():
        return False
    return outputs_intact(folder, marker.get("outputs"))


def _lesions_for(case: Case, out: Path) -> tuple[Path | None, dict]:
    """(lesion label map, its origin) for analyses that use lesions: the map the lesions step
    wrote (so that lesion ids match its lesion table), else the case's own lesion map."""
    folder = analysis_dir(out, case, "lesions")
    if is_current(folder):
        found = lesion_output(folder)
        if found is not None:
            return found, {"text": f"lesions step of this run ({lesions_source(case)})"}
    if "lesions" in case.images:
        return Path(case.images["lesions"]), case.origin("lesions")
    return None, {}


def _lesion_table_for(case: Case, out: Path) -> Path | None:
    """The lesion table (``lesions.tsv``) the lesions step wrote, when current."""
    folder = analysis_dir(out, case, "lesions")
    table = folder / "lesions.tsv"
    return table if is_current(folder) and table.is_file() else None


#: Image keys each session analysis is given (from the domain functions' docstrings); the
#: done marker fingerprints exactly these, so changing another image does not rerun it.
USES = {
    "lesions": ("flair", "t1", "t1post", "anatomy", "brain_mask", "lesions"),
    "rims": ("lesions", "qsm", "phase", "t2star", "t1post", "t1", "anatomy", "brain_mask", "flair"),
    "atrophy": ("t1", "flair", "lesions", "brain_mask", "anatomy", "parcellation"),
    "network": ("tractogram", "parcellation", "lesions"),
}

_SESSION_NEEDS = {
    "lesions": (("flair", "lesions"),),          # any one of each tuple
    "rims": (("lesions",), ("qsm", "phase")),
    "atrophy": (("t1",),),
    "network": (("tractogram",), ("parcellation",)),
}


def run_session_task(task: dict) -> list[dict]:
    """Worker entry: every session analysis of one case, in order (lesions first)."""
    case = Case.from_dict(task["case"])
    out = Path(task["out"])
    selected = set(task["analyses"])
    options = task.get("options") or {}
    functions = {**FUNCTIONS, **(task.get("functions") or {})}
    threads = limit_threads(task.get("threads"))
    records = []
    for analysis in SESSION_ANALYSES:
        images = {k: v for k, v in case.images.items() if k in USES[analysis]}
        origins = {}
        if analysis != "lesions" and "lesions" in USES[analysis]:
            lesions, origin = _lesions_for(case, out)
            images.pop("lesions", None)
            if lesions is not None:
                images["lesions"], origins["lesions"] = lesions, origin
        missing = [alts for alts in _SESSION_NEEDS[analysis] if not any(k in images for k in alts)]
        if missing:
            need = " and ".join("/".join(a) for a in missing)
            reason = f"needs {need}"
            if ("lesions",) in missing:
                failed = any(r["analysis"] == "lesions" and r["status"] == FAILED for r in records)
                reason += " (the lesions step failed)" if failed else " (no lesions image and no lesions step output)"
            records.append(_record(case, analysis, SKIPPED, reason=reason))
            continue
        folder = analysis_dir(out, case, analysis)
        opts = options.get(analysis, {})
        inputs, extra = dict(images), {}
        if analysis == "rims":  # as `mspathobiology rims --lesion-table`: the enhancing column of the lesions step
            table = _lesion_table_for(case, out)
            if table is not None and "lesion_table" not in opts:
                extra["lesion_table"] = inputs["lesion_table"] = table
                origins["lesion_table"] = {"text": "lesions step of this run"}
        records.append(_run_one(analysis, case, folder, inputs,
                                lambda f, im=images, d=folder, o=opts, x=extra: f(im, d, **_accepted(f, x), **o),
                                opts, analysis in selected, functions, origins, out))
        if analysis == "lesions" and records[-1]["status"] == DONE:
            publish_lesion_map(out, case, folder)
        elif analysis == "lesions" and records[-1]["status"] == FAILED:
            unpublish_lesion_map(out, case)
    for record in records:
        record["lesions_source"], record["threads"] = lesions_source(case), threads
    write_json(case_dir(out, case) / "case.json", {"case": case.to_dict(), "records": records})
    return records


def run_pair_task(task: dict) -> list[dict]:
    """Worker entry: analyses between two consecutive sessions, written into the later one's folder."""
    base = Case.from_dict(task["baseline"])
    follow = Case.from_dict(task["followup"])
    out = Path(task["out"])
    selected = set(task["analyses"])
    options = task.get("options") or {}
    functions = {**FUNCTIONS, **(task.get("functions") or {})}
    threads = limit_threads(task.get("threads"))
    records = []
    # lesion change: both sessions' lesions step outputs
    b_dir, f_dir = analysis_dir(out, base, "lesions"), analysis_dir(out, follow, "lesions")
    b_marker, f_marker = read_marker(b_dir), read_marker(f_dir)
    if b_marker is None or f_marker is None:
        records.append(_record(follow, "lesion_change", SKIPPED, reason=(
            f"needs the lesions step done for sessions {base.session} and {follow.session}")))
    else:
        inputs = {"baseline_lesions": lesion_output(b_dir) or b_dir / DONE_MARKER,
                  "followup_lesions": lesion_output(f_dir) or f_dir / DONE_MARKER,
                  "baseline_flair": base.images.get("flair"), "followup_flair": follow.images.get("flair")}
        opts = options.get("lesion_change", {})
        folder = analysis_dir(out, follow, "lesion_change")
        origins = {"baseline_lesions": {"text": f"lesions step of this run, session {base.session}"},
                   "followup_lesions": {"text": f"lesions step of this run, session {follow.session}"},
                   "baseline_flair": base.origin("flair"), "followup_flair": follow.origin("flair")}
        records.append(_run_one("lesion_change", follow, folder, inputs, lambda f: f(
            b_dir, f_dir, folder, baseline_flair=base.images.get("flair"),
            followup_flair=follow.images.get("flair"), **opts), opts, "lesion_change" in selected, functions,
            origins, out))
    records[-1]["summary"] = {"change_from_session": base.session, **records[-1]["summary"]} \
        if records[-1]["status"] == DONE else records[-1]["summary"]
    # PBVC: both T1 (+ brain masks, lesions for filling, baseline parcellation for regional change)
    if "t1" not in base.images or "t1" not in follow.images:
        records.append(_record(follow, "pbvc", SKIPPED, reason="needs t1 at both sessions"))
    else:
        (b_les, b_origin), (f_les, f_origin) = _lesions_for(base, out), _lesions_for(follow, out)
        kwargs = {"baseline_mask": base.images.get("brain_mask"), "followup_mask": follow.images.get("brain_mask"),
                  "baseline_lesions": b_les, "followup_lesions": f_les,
                  "baseline_parcellation": base.images.get("parcellation"),
                  "interval_years": interval_years(base, follow)}
        inputs = {"baseline_t1": base.images["t1"], "followup_t1": follow.images["t1"], **kwargs}
        opts = options.get("pbvc", {})
        folder = analysis_dir(out, follow, "pbvc")
        origins = {"baseline_t1": base.origin("t1"), "followup_t1": follow.origin("t1"),
                   "baseline_mask": base.origin("brain_mask"), "followup_mask": follow.origin("brain_mask"),
                   "baseline_lesions": b_origin, "followup_lesions": f_origin,
                   "baseline_parcellation": base.origin("parcellation")}
        records.append(_run_one("pbvc", follow, folder, inputs, lambda f: f(
            base.images["t1"], follow.images["t1"], folder, **_accepted(f, kwargs), **opts), opts,
            "pbvc" in selected, functions, origins, out))
    for record in records:
        record["lesions_source"], record["threads"] = lesions_source(follow), threads
    write_json(case_dir(out, follow) / "pairs.json", {"baseline": base.to_dict(), "records": records})
    return records


#: Values of the SEL summary (sel_summary.json) that go into the cohort tables.
SEL_TABLE_KEYS = ("sel_count", "sel_definite_count", "sel_volume_mm3", "sel_volume_share", "lesions_evaluated",
                  "t1_norm_slope_sel_mean", "t1_norm_slope_non_sel_mean", "n_visits")


def subject_dir(out, subject: str) -> Path:
    """``OUT/sub-01``: the folder of a subject's analyses over all its sessions."""
    return Path(out) / f"sub-{subject}"


def subject_tasks(cases, common: dict) -> list[dict]:
    """One ``sel`` task per subject with >= SEL_MIN_VISITS sessions (sessions in order, baseline first)."""
    from ..defaults.sel import SEL_MIN_VISITS

    return [{"kind": "subject", "sessions": [c.to_dict() for c in group], "needs": {c.id for c in group}, **common}
            for group in by_subject(cases).values() if len(group) >= SEL_MIN_VISITS]


def _visit_times(sessions: list[Case]) -> list[float] | None:
    """Years from the baseline of each session (``acq_time``), or None when any is unknown."""
    steps = [interval_years(a, b) for a, b in zip(sessions[:-1], sessions[1:])]
    if any(s is None for s in steps):
        return None
    times = [0.0]
    for step in steps:
        times.append(times[-1] + step)
    return times


def run_subject_task(task: dict) -> list[dict]:
    """Worker entry: slowly expanding lesions of one subject (``OUT/sub-X/sel/``), recorded on its last session."""
    from ..defaults.sel import SEL_MIN_VISITS

    sessions = [Case.from_dict(c) for c in task["sessions"]]
    out = Path(task["out"])
    options = task.get("options") or {}
    functions = {**FUNCTIONS, **(task.get("functions") or {})}
    threads = limit_threads(task.get("threads"))
    base, last = sessions[0], sessions[-1]
    with_t1 = [c for c in sessions if "t1" in c.images]
    lesions, origin = _lesions_for(base, out)
    if len(with_t1) < SEL_MIN_VISITS or "t1" not in base.images:
        record = _record(last, "sel", SKIPPED, reason=f"needs t1 at the baseline and >= {SEL_MIN_VISITS} sessions")
    elif lesions is None:
        record = _record(last, "sel", SKIPPED, reason=f"needs the baseline lesions (session {base.session}): "
                                                     "no lesions image and no lesions step output")
    else:
        visits = [c.images["t1"] for c in with_t1]
        inputs = {f"t1_ses-{c.session}": c.images["t1"] for c in with_t1}
        inputs["baseline_lesions"] = lesions
        origins = {f"t1_ses-{c.session}": c.origin("t1") for c in with_t1}
        origins["baseline_lesions"] = {"text": f"session {base.session}: {origin.get('text') or origin_text(origin)}"}
        kwargs = {"brain_mask": base.images.get("brain_mask"), "times": _visit_times(with_t1)}
        if kwargs["brain_mask"] is not None:
            inputs["baseline_brain_mask"] = kwargs["brain_mask"]
            origins["baseline_brain_mask"] = base.origin("brain_mask")
        if all("flair" in c.images for c in with_t1):  # FLAIR gives lesion locations: cortical lesions are not SELs
            kwargs["flair"] = [c.images["flair"] for c in with_t1]
            inputs.update({f"flair_ses-{c.session}": c.images["flair"] for c in with_t1})
            origins.update({f"flair_ses-{c.session}": c.origin("flair") for c in with_t1})
        opts = options.get("sel", {})
        folder = analysis_dir(out, base, "sel")
        record = _run_one("sel", last, folder, inputs, lambda f: f(visits, lesions, folder, **kwargs, **opts),
                          {**opts, "times": kwargs["times"]}, "sel" in set(task["analyses"]), functions, origins, out)
        if record["status"] == DONE:
            summary = record["summary"]
            record["summary"] = {"sel_sessions": ",".join(c.session or "" for c in with_t1),
                                 **{k: summary[k] for k in SEL_TABLE_KEYS if k in summary}}
    record["lesions_source"], record["threads"] = lesions_source(base), threads
    write_json(subject_dir(out, base.subject) / "subject.json", {"sessions": task["sessions"], "records": [record]})
    return [record]


def _accepted(func, optional: dict) -> dict:
    """The optional inputs ``func`` takes (all of them when it takes ``**kwargs``), so that a
    domain function without e.g. ``baseline_lesions`` still runs; options chosen by the
    user are passed as they are and refused by the function if unknown."""
    import inspect

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return dict(optional)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(optional)
    return {k: v for k, v in optional.items() if k in params}


def threads_per_job(jobs: int, cores: int | None = None) -> int:
    """Threads each of ``jobs`` parallel jobs may use: cores // jobs, at least 1."""
    cores = cores or available_cores()
    return max(1, cores // max(1, int(jobs)))


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def limit_threads(threads: int | None) -> dict:
    """Limit this process to ``threads`` threads: SimpleITK's global default and, when
    threadpoolctl is installed, the BLAS/OpenMP pools already loaded. Returns what is in
    effect ``{"simpleitk": n, "blas": n or None}`` (None = not limited / unknown)."""
    state = {"simpleitk": None, "blas": None}
    try:
        import SimpleITK as sitk

        if threads:
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(max(1, int(threads)))
        state["simpleitk"] = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    except Exception:  # pragma: no cover - SimpleITK is a hard dependency
        pass
    try:
        import threadpoolctl
    except ImportError:
        return state
    if threads:
        threadpoolctl.threadpool_limits(limits=max(1, int(threads)))
    pools = threadpoolctl.threadpool_info()
    state["blas"] = max((p.get("num_threads") or 0 for p in pools), default=None) or None
    return state


def thread_environment(threads: int) -> dict:
    """Environment variables that cap BLAS/OpenMP/ITK threads of processes started now."""
    return {name: str(max(1, int(threads))) for name in THREAD_ENV_VARS}


class _ThreadEnvironment:
    """Sets :func:`thread_environment` in this process while parallel workers may start
    (they inherit it), and restores the previous values afterwards."""

    def __init__(self, threads: int):
        self.values = thread_environment(threads)
        self.saved = {}

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)
        return self

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        return False


def _worker_init(threads: int) -> None:
    if sys.platform.startswith("linux"):
        # die with the parent (prctl PR_SET_PDEATHSIG = 1): a killed run leaves no worker
        # writing into the output folder while the resumed run starts
        try:
            import ctypes
            import signal

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))
        except (OSError, AttributeError):
            pass
    limit_threads(threads)


# --------------------------------------------------------------------------- progress
class Progress:
    """A text progress bar on stderr counting analyses from start to end, with the time left:
    ``[#####.....]  7/24 analyses  12 s, about 29 s left  sub-03_ses-01: done``.

    The count is the same one the run's summary reports (every analysis of every session
    and every pair of sessions, whether it ran, was already done, was skipped or failed).
    """

    def __init__(self, total: int, enabled: bool = True, stream=None):
        self.total, self.count, self.enabled = total, 0, enabled
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def remaining(self) -> float | None:
        """Seconds left, extrapolated from the analyses finished so far (None before the first)."""
        if self.count <= 0:
            return None
        elapsed = time.perf_counter() - self.start
        return elapsed / self.count * max(self.total - self.count, 0)

    def update(self, label: str, step: int = 1) -> None:
        self.count = min(self.count + step, self.total) if self.total else self.count + step
        if not self.enabled:
            return
        filled = int(PROGRESS_BAR_WIDTH * self.count / max(self.total, 1))
        bar = "#" * filled + "." * (PROGRESS_BAR_WIDTH - filled)
        left = self.remaining()
        eta = "" if left is None or self.count >= self.total else f", about {_duration(left)} left"
        line = (f"[{bar}] {self.count:>{len(str(self.total))}}/{self.total} analyses  "
                f"{_duration(time.perf_counter() - self.start)}{eta}  {label}")
        if self.tty:
            self.stream.write("\r" + line[:150].ljust(150) + ("\n" if self.count >= self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------- executors
class _InlineExecutor:
    """Runs each task at submit time in this process (jobs=1): no pickling, easy to debug."""

    def submit(self, fn, arg):
        future = cf.Future()
        try:
            future.set_result(fn(arg))
        except BaseException as exc:  # noqa: BLE001 - surfaced through the future
            future.set_exception(exc)
        return future

    @staticmethod
    def wait(futures):
        return set(futures)

    def shutdown(self):
        pass


class _PoolExecutor:
    def __init__(self, jobs: int):
        import multiprocessing

        self.jobs = jobs
        threads = threads_per_job(jobs)
        self.pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_worker_init, initargs=(threads,))

    def submit(self, fn, arg):
        return self.pool.submit(fn, arg)

    @staticmethod
    def wait(futures):
        done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
        return done

    def restart(self):
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.__init__(self.jobs)

    def shutdown(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


class _DaskExecutor:
    """dask.distributed: ``Client(scheduler)`` for an existing cluster, else a local cluster of ``jobs`` workers.
    Every worker must be able to import mspathobiology and read the dataset and output paths."""

    def __init__(self, scheduler, jobs: int):
        try:
            from dask.distributed import Client, wait
        except ImportError:
            raise InputError("--executor dask", "needs dask.distributed: pip install 'mspathobiology[dask]'") from None
        self._wait = wait
        if scheduler:
            self.client = Client(scheduler)
        else:
            self.client = Client(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)

    def submit(self, fn, arg):
        return self.client.submit(fn, arg, pure=False)

    def wait(self, futures):
        done, _ = self._wait(list(futures), return_when="FIRST_COMPLETED")
        return done

    def shutdown(self):
        self.client.close()


# --------------------------------------------------------------------------- driver
@dataclass
class CohortResult:
    out: Path
    rows: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    records: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)
    seconds: float = 0.0
    cases: list = field(default_factory=list)
    total: int = 0  # analyses counted by the progress bar and the summary
    threads_per_job: int = 1
    jobs: int = 1

    @property
    def lesion_sources(self) -> dict:
        """{where the lesions came from: number of sessions}, e.g. {"segmented from FLAIR": 4}."""
        counts: dict[str, int] = {}
        for case in self.cases:
            source = lesions_source(case)
            counts[source] = counts.get(source, 0) + 1
        return counts

    @property
    def ran(self) -> list:
        """Records of analyses that actually ran in this call (not skipped as done)."""
        return [r for r in self.records if r["ran"]]

    @property
    def failed(self) -> list:
        return [r for r in self.records if r["status"] == FAILED]


def _task_failure(task: dict, exc: BaseException) -> list[dict]:
    """Failure records for every analysis of a task that could have run (its images allow it)."""
    if task["kind"] == "session":
        case = Case.from_dict(task["case"])
        keys = set(case.images) | ({"lesions"} if "flair" in case.images else set())
        names = [a for a in SESSION_ANALYSES if all(any(k in keys for k in alts) for alts in _SESSION_NEEDS[a])]
    elif task["kind"] == "subject":
        case, names = Case.from_dict(task["sessions"][-1]), SUBJECT_ANALYSES
    else:
        case, names = Case.from_dict(task["followup"]), PAIR_ANALYSES
    return [_record(case, a, FAILED, error=_error_text(exc), ran=True) for a in names if a in task["analyses"]]


def run_cohort(dataset, out, jobs: int = 1, only=None, executor: str = "local", scheduler=None,
               progress: bool = True, options: dict | None = None, cases=None,
               functions: dict | None = None, ignore=(), lesions_from: str | None = None,
               corrections: bool = True, reader: str | None = None) -> CohortResult:
    """Run every analysis the cases' images allow and write the cohort tables.

    ``dataset``: a BIDS dataset, a folder of case folders or a CSV/TSV case list
    (:func:`~mspathobiology.cohort.cases.discover_cases`), or pass ``cases`` directly.
    ``out``: the derivatives folder. ``jobs``: parallel cases (processes; 1 = in this
    process). ``only``: groups from ``lesions, rims, atrophy, network, sel``. ``executor``:
    ``"local"`` or ``"dask"`` (``scheduler`` = address of a running dask scheduler; none =
    a local dask cluster). ``options``: per-analysis keyword arguments. ``functions``:
    ``{analysis: "module:function"}`` replacing entries of :data:`FUNCTIONS` (plug-ins,
    tests of the machinery). ``ignore``: image keys left out of every case (e.g.
    ``("lesions",)`` to segment FLAIR even where a reader's correction exists).
    ``lesions_from``: the derivative pipeline whose lesion maps to use (e.g. ``"phantom"``);
    by default no derivative lesion map is used and the lesions step segments FLAIR, except
    where a reader's correction exists (``corrections``; ``reader`` limits to one reader).
    Returns a :class:`CohortResult`; failures are in the result and the tables, never raised.
    """
    start = time.perf_counter()
    out = Path(out)
    analyses = select_analyses(only)
    if jobs < 1:
        raise InputError("--jobs", f"must be >= 1, not {jobs}")
    if executor not in ("local", "dask"):
        raise InputError("--executor", f"must be local or dask, not {executor!r}")
    if scheduler and executor != "dask":
        raise InputError("--scheduler", "a scheduler address needs --executor dask")
    if cases is None:
        cases = discover_cases(dataset, exclude=[out], lesions_from=lesions_from, corrections=corrections,
                               reader=reader)
    ignore = [ignore] if isinstance(ignore, str) else list(ignore or ())
    unknown_keys = [k for k in ignore if k not in IMAGE_KEYS]
    if unknown_keys:
        raise InputError("--ignore", f"unknown image keys {unknown_keys}; known: {', '.join(IMAGE_KEYS)}")
    cases = sort_cases([Case(c.subject, c.session, {k: v for k, v in c.images.items() if k not in ignore}, c.source,
                             c.acq_time, {k: v for k, v in c.origins.items() if k not in ignore}) for c in cases])
    out.mkdir(parents=True, exist_ok=True)
    options = options or {}
    functions = dict(functions or {})
    unknown = set(functions) - set(FUNCTIONS)
    if unknown:
        raise ValueError(f"functions: unknown analyses {sorted(unknown)}")

    threads = 1 if executor == "dask" and scheduler else threads_per_job(jobs)
    common = {"out": str(out), "analyses": analyses, "options": options, "functions": functions,
              "threads": threads}
    session_tasks = {c.id: {"kind": "session", "case": c.to_dict(), **common} for c in cases}
    pair_tasks = [{"kind": "pair", "baseline": a.to_dict(), "followup": b.to_dict(), "needs": {a.id, b.id}, **common}
                  for a, b in consecutive_pairs(cases)]
    later_tasks = pair_tasks + subject_tasks(cases, common)
    total = sum(_task_steps(t) for t in list(session_tasks.values()) + later_tasks)
    with run_lock(out):
        write_dataset_description(out, cases)
        write_bidsignore(out)
        bar = Progress(total, enabled=progress)
        engine = None
        try:
            with _ThreadEnvironment(threads):
                if executor == "dask":
                    engine = _DaskExecutor(scheduler, jobs)
                elif jobs == 1:
                    engine = _InlineExecutor()
                else:
                    engine = _PoolExecutor(jobs)
                scheduler_ = _Scheduler(engine, later_tasks, bar)
                for task in session_tasks.values():
                    scheduler_.submit(task)
                    if isinstance(engine, _InlineExecutor):
                        scheduler_.drain()
                scheduler_.drain()
                engine.shutdown()
                engine = None
            result = CohortResult(out=out, records=scheduler_.records, cases=list(cases), total=total,
                                  threads_per_job=threads, jobs=jobs)
            write_tables(out, cases, scheduler_.records, result)
        finally:
            if engine is not None:
                engine.shutdown()
    result.seconds = time.perf_counter() - start
    return result


def run_lock(out: Path):
    """Hold ``OUT/.run.lock`` (:func:`mspathobiology.io.file_lock`; released by the system when the process
    ends) for the whole run; a second run into the same folder stops at once with a
    :class:`~mspathobiology.errors.LockedError`."""
    return file_lock(Path(out) / ".run.lock", timeout=0, what="output folder (another `mspathobiology run` "
                                                              "is writing into it)")


def write_dataset_description(out: Path, cases) -> Path:
    """``OUT/dataset_description.json`` of the derivatives (BIDS 1.9 "Derivatives"): GeneratedBy
    (name, version), the source dataset(s) in ``SourceDatasets`` and ``DatasetLinks`` naming
    the datasets that ``Sources`` URIs point into (``raw`` and each derivative pipeline read)."""
    out = Path(out)
    links, sources = {}, []
    roots = sorted({c.source for c in cases if c.source and Path(c.source).is_dir()})
    for root in roots[:1]:  # BIDS URIs of one source dataset; other inputs get file:// URIs
        root = Path(os.path.abspath(root))
        links["raw"] = Path(os.path.relpath(root, os.path.abspath(out))).as_posix()
        sources.append({"URL": links["raw"]})
        pipelines = sorted({o.get("pipeline") for c in cases for o in c.origins.values() if o.get("pipeline")})
        for pipeline in pipelines:
            folder = root / "derivatives" / pipeline
            if folder.is_dir():
                links[pipeline] = Path(os.path.relpath(folder, os.path.abspath(out))).as_posix()
    description = {"Name": "MSPathobiology cohort run", "BIDSVersion": BIDS_VERSION, "DatasetType": "derivative",
                   "GeneratedBy": [{"Name": "MSPathobiology", "Version": __version__,
                                    "Description": "lesions, rim lesions, atrophy and networks "
                                                   "(mspathobiology run)"}]}
    if sources:
        description["SourceDatasets"] = sources
    if links:
        description["DatasetLinks"] = links
    if not (out / "README").exists():
        atomic_write_text(out / "README", "Outputs of `mspathobiology run` (MSPathobiology): one folder per analysis "
                                          "and session, cohort tables (cohort*.tsv) and HTML reports (reports/). "
                                          "Each analysis' done.json records its inputs, their origin (Sources) and "
                                          "the method and version that made it.\n")
    return write_json(out / "dataset_description.json", description)


#: Files of a run that are not BIDS-derivatives files (.bidsignore, gitignore syntax).
BIDSIGNORE = ("/reports", "/cohort*.tsv", "/cohort_run.json", "/.run.lock", "/sub-*/**/case.json",
              "/sub-*/**/pairs.json", "/sub-*/subject.json", *(f"/sub-*/**/{a}" for a in ANALYSES))


def write_bidsignore(out: Path) -> Path:
    return atomic_write_text(Path(out) / ".bidsignore", "\n".join(BIDSIGNORE) + "\n")


def _published_lesion_map(out: Path, case: Case) -> Path | None:
    try:
        return Path(out) / case.relative_dir / "anat" / bids.filename(case.subject, case.session, "lesions")
    except ValueError:  # labels that are not BIDS labels (letters and digits): no BIDS name to give
        return None


def unpublish_lesion_map(out: Path, case: Case) -> None:
    """Remove the BIDS-named lesion map of a session whose lesions step failed (it is not current)."""
    target = _published_lesion_map(out, case)
    if target is not None:
        target.unlink(missing_ok=True)
        Path(str(target)[: -len(".nii.gz")] + ".json").unlink(missing_ok=True)


def publish_lesion_map(out: Path, case: Case, folder: Path) -> Path | None:
    """Write the lesions step's label map under its BIDS-derivatives name,
    ``OUT/sub-X/ses-Y/anat/sub-X_ses-Y_desc-lesions_dseg.nii.gz`` (a verified copy, written by
    :func:`mspathobiology.io.atomic_write_bytes`), with a sidecar holding ``Sources`` and provenance."""
    found = lesion_output(folder)
    marker = read_marker(folder) or {}
    if found is None or not found.name.endswith(".nii.gz"):
        return None
    target = _published_lesion_map(out, case)
    if target is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target.exists() and os.path.samefile(target, found)):
        atomic_write_bytes(target, found.read_bytes())
    sidecar = {"Description": f"lesion label map (voxel = lesion id): {lesions_source(case)}",
               "Sources": marker.get("Sources", []),
               "GeneratedBy": marker.get("GeneratedBy", []),
               "LesionsSource": lesions_source(case),
               "Provenance": marker.get("provenance", {})}
    write_json(str(target)[: -len(".nii.gz")] + ".json", sidecar)
    return target


def _task_id(task):
    if task["kind"] == "subject":
        return f"sub-{Case.from_dict(task['sessions'][0]).subject} (slowly expanding lesions)"
    return Case.from_dict(task["case"] if task["kind"] == "session" else task["followup"]).id + \
        ("" if task["kind"] == "session" else " (vs previous session)")


def _task_steps(task) -> int:
    """Analyses a task counts for on the progress bar."""
    return len({"session": SESSION_ANALYSES, "pair": PAIR_ANALYSES, "subject": SUBJECT_ANALYSES}[task["kind"]])


class _Scheduler:
    """Submits session tasks, then each pair task once both its sessions have finished, and
    collects records.

    Survives a worker process dying (out of memory, killed): the pool is rebuilt, and the
    tasks lost with it are rerun one at a time with nothing else in flight, so that the
    task that kills its worker is identified and recorded as failed while the others
    finish.
    """

    def __init__(self, engine, pair_tasks, bar):
        self.engine, self.pair_tasks, self.bar = engine, list(pair_tasks), bar
        self.pending, self.records, self.finished = {}, [], set()
        self.suspects, self.waiting = [], []
        self.generation = 0

    def submit(self, task, isolated: bool = False):
        if (self.suspects or any(iso for _, _, iso in self.pending.values())) and not isolated:
            self.waiting.append(task)
            return
        fn = {"session": run_session_task, "pair": run_pair_task, "subject": run_subject_task}[task["kind"]]
        payload = {k: v for k, v in task.items() if k != "needs"}
        try:
            future = self.engine.submit(fn, payload)
        except BrokenProcessPool:  # the pool broke before this task was sent
            self._restart()
            future = self.engine.submit(fn, payload)
        self.pending[future] = (task, self.generation, isolated)

    def _restart(self):
        self.generation += 1
        self.engine.restart()

    def release(self):
        for task in [t for t in self.pair_tasks if t["needs"] <= self.finished]:
            self.pair_tasks.remove(task)
            self.submit(task)

    def _next(self):
        """With nothing in flight: run the next suspect alone, else send the tasks that waited."""
        if self.suspects:
            self.submit(self.suspects.pop(0), isolated=True)
        else:
            waiting, self.waiting = self.waiting, []
            for task in waiting:
                self.submit(task)

    def drain(self):
        while self.pending or self.suspects or self.waiting:
            if not self.pending:
                self._next()
                continue
            for future in self.engine.wait(list(self.pending)):
                task, generation, isolated = self.pending.pop(future)
                try:
                    task_records = future.result()
                except BrokenProcessPool as exc:
                    if generation == self.generation:
                        self._restart()
                    if not isolated:
                        self.suspects.append(task)
                        continue
                    task_records = _task_failure(task, RuntimeError(
                        f"worker process died while running this case alone (out of memory?): {exc}"))
                except Exception as exc:  # a crash outside the per-analysis guard
                    task_records = _task_failure(task, exc)
                self.records.extend(task_records)
                if task["kind"] == "session":
                    self.finished.add(Case.from_dict(task["case"]).id)
                states = sorted({r["status"] for r in task_records})
                self.bar.update(f"{_task_id(task)}: {', '.join(states) if states else 'nothing to do'}",
                                step=_task_steps(task))
                self.release()


def write_tables(out, cases, records, result: CohortResult | None = None) -> dict:
    """Cohort tables from analysis records (one row per case) and the failures table.

    Cases are named as in BIDS ``participants.tsv`` / ``sessions.tsv``: ``participant_id``
    (``sub-01``) and ``session_id`` (``ses-01``), so that labels such as ``01`` stay text.
    """
    out = Path(out)
    by_case: dict[str, list] = {}
    for r in records:
        by_case.setdefault(r["case"], []).append(r)
    rows, topic_rows, failures = [], {name: [] for name in TOPIC_TABLES}, []
    for case in sort_cases(cases):
        recs = {r["analysis"]: r for r in by_case.get(case.id, [])}
        row = {"participant_id": f"sub-{case.subject}", "session_id": f"ses-{case.session}" if case.session else ""}
        done = [a for a in ANALYSES if recs.get(a, {}).get("status") == DONE]
        failed = [a for a in ANALYSES if recs.get(a, {}).get("status") == FAILED]
        row["status"] = "failed" if failed and not done else ("partial" if failed else ("ok" if done else "nothing run"))
        row["analyses_done"] = ",".join(done)
        row["analyses_failed"] = ",".join(failed)
        row["error"] = "; ".join(f"{a}: {recs[a]['error']}" for a in failed)
        row["lesions_source"] = lesions_source(case)
        row["mspathobiology_version"] = __version__
        origin = {}
        for analysis in ANALYSES:
            for key, value in (recs.get(analysis, {}).get("summary") or {}).items():
                name = key if key not in row or row[key] == value else f"{analysis}_{key}"
                row[name] = value
                origin[name] = analysis
        row = round_row(row)
        rows.append(row)
        for table, members in TOPIC_TABLES.items():
            topic = {k: row[k] for k in ("participant_id", "session_id", "lesions_source")}
            topic.update({k: v for k, v in row.items() if origin.get(k) in members})
            topic_rows[table].append(topic)
        for analysis in failed:
            failures.append({"participant_id": row["participant_id"], "session_id": row["session_id"],
                             "analysis": analysis, "error": recs[analysis]["error"]})
    tables = {"cohort": write_table(rows, out / "cohort.tsv"),
              "failures": write_table(failures, out / "cohort_failures.tsv",
                                      columns=["participant_id", "session_id", "analysis", "error"])}
    for table, trows in topic_rows.items():
        tables[table[:-4]] = write_table(trows, out / table)
    write_json(out / "cohort_run.json", {"jobs": result.jobs if result else None,
                                         "threads_per_job": result.threads_per_job if result else None,
                                         "cases": [c.to_dict() for c in sort_cases(cases)],
                                         "records": [{k: v for k, v in r.items() if k != "summary"}
                                                     for r in records]})
    if result is not None:
        result.rows, result.failures, result.tables = rows, failures, tables
    return tables


def default_out(dataset) -> Path:
    """``<dataset>/derivatives/mspathobiology`` (BIDS-Apps convention)."""
    dataset = Path(dataset)
    return (dataset.parent if dataset.is_file() else dataset) / "derivatives" / PIPELINE_NAME
