"""HTML reports of a cohort run: one page per case and a cohort summary page.

Everything is read back from the derivatives folder written by
:func:`~mspathobiology.cohort.runner.run_cohort` (``case.json``, each analysis'
``done.json`` and output files, ``cohort.tsv``), so reports can be regenerated at any
time; only the current outputs of finished analyses are read (a folder whose analysis
failed on the last run holds ``stale.json`` and is left out). Pictures are rendered with
matplotlib's Agg backend (no display needed) and written as PNG files next to the HTML,
so ``OUT/reports/`` is self-contained.

Pages are built from escaped text only (:mod:`.htmlsafe`: one escaping helper, a
restrictive Content-Security-Policy); numbers are rounded as in the TSV tables
(:mod:`.numbers`).

* ``reports/index.html``: a compact summary, one row per session, with the key biomarker
  of each family (:data:`~mspathobiology.defaults.cohort.SUMMARY_COLUMNS`), links to each
  session's page and to the full tables (TSV), plots of each biomarker over sessions (one
  line per subject), and the failures.
* ``reports/sub-01_ses-02.html``: the FLAIR mosaic with lesion outlines beside a one-screen
  summary, then where each input came from and which method and version made each output,
  plots (tissue volumes, lesion volume by location, rim scores, the connectome as a heat
  map) and the analyses' tables.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import __version__
from ..defaults.cohort import (MOSAIC_COLUMNS, MOSAIC_DPI, MOSAIC_SLICES, MOSAIC_WINDOW_PERCENTILES, PLOT_LINESTYLES,
                               PLOT_MARKERS, REPORT_MAX_TABLE_ROWS, SUMMARY_COLUMNS)
from ..errors import InputError
from ..io import read_json, write_figure
from ..tables import read_table
from .cases import Case, display_path, origin_text, sort_cases
from .htmlsafe import escape, href, page_head
from .numbers import format_number
from .runner import ANALYSES, FUNCTIONS, analysis_dir, is_current, lesion_output, lesions_source

_CSS = """body{font-family:sans-serif;margin:1em 1.5em;max-width:1360px;color:#222}
table{border-collapse:collapse;font-size:12px;margin:.4em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#eee;vertical-align:bottom;text-align:center}td.t,th.t{text-align:left}.failed{color:#b00}.done,.ok{color:#070}
.skipped,.unavailable,.partial{color:#777}img{max-width:100%;border:1px solid #ddd;margin:.3em 0}
h2{border-bottom:1px solid #ccc;margin-top:1.2em}.small{font-size:12px;color:#555}
.lead{display:flex;gap:1.2em;align-items:flex-start;flex-wrap:wrap}.lead .facts{flex:0 0 340px}
.lead .mosaic{flex:1 1 600px;min-width:0}.plots img{max-width:32%;vertical-align:top}
.wide{overflow-x:auto;max-width:100%}.note{font-size:12px;color:#555;margin:.2em 0 .6em}"""

#: Columns of the analyses' tables shown as a heat map instead of a table (connectomes).
_MATRIX_WORDS = ("connectome", "matrix")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    try:
        write_figure(fig, path, dpi=MOSAIC_DPI)
    finally:
        plt.close(fig)
    return Path(path)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def cell(column: str, value) -> str:
    """Escaped text of one table cell, rounded as in the TSV tables."""
    return escape(format_number(column, value))


def html_table(rows, columns=None, max_rows: int | None = None, links: dict | None = None,
               headings: dict | None = None, collapse_constant: bool = False) -> str:
    """Rows (dicts) as an HTML table. ``links`` maps a row index to a relative path for its
    first cell; ``headings`` maps columns to header text. ``collapse_constant``: columns
    with one value on every row (of several rows) are stated once above the table."""
    rows = list(rows)
    if not rows:
        return "<p class='small'>(no rows)</p>"
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    note = ""
    if collapse_constant and len(rows) > 1:
        constant = [c for c in columns if len({repr(r.get(c)) for r in rows}) == 1 and c != columns[0]]
        if constant:
            note = ("<p class='note'>Same in every row: " + "; ".join(
                f"{escape(c)} = {cell(c, rows[0].get(c)) or '(empty)'}" for c in constant) + "</p>")
            columns = [c for c in columns if c not in constant]
    shown = rows if max_rows is None else rows[:max_rows]
    head = "".join(f"<th class='{'t' if n == 0 else ''}'>{escape((headings or {}).get(c, c))}</th>"
                   for n, c in enumerate(columns))
    out = [note, f"<table><tr>{head}</tr>"]
    for index, row in enumerate(shown):
        cells = []
        for n, column in enumerate(columns):
            value = row.get(column)
            text = cell(column, value)
            if n == 0 and links and index in links:
                text = f"<a href='{href(links[index])}'>{text}</a>"
            klass = "" if _number(value) else "t"
            if column == "status" and isinstance(value, str) and value.split():
                klass += " " + escape(value.split()[0])
            cells.append(f"<td class='{klass.strip()}'>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    if len(rows) > len(shown):
        out.append(f"<p class='small'>{len(rows) - len(shown)} more rows in the file.</p>")
    return "\n".join(out)


# --------------------------------------------------------------------------- pictures
def _oriented_arrays(background_path, labels_path):
    import SimpleITK as sitk

    from ..geometry import resample_label, same_geometry
    from ..io import read_image

    background = read_image(background_path)
    labels = read_image(labels_path, kind="label") if labels_path else None
    if labels is not None and not same_geometry(background, labels):
        labels = resample_label(labels, background)
    background = sitk.DICOMOrient(background, "LPS")
    spacing = background.GetSpacing()
    bg = sitk.GetArrayFromImage(background)
    lab = sitk.GetArrayFromImage(sitk.DICOMOrient(labels, "LPS")) if labels is not None else np.zeros(bg.shape, np.uint32)
    return bg, lab, spacing, background


def choose_slices(labels: np.ndarray, background: np.ndarray, n: int) -> list[int]:
    """Axial slices (array index k) to show: spread over the slices holding lesion voxels, by
    cumulative lesion volume, so that slices with more lesion load get more panels; without
    lesions, spread evenly over the slices holding signal."""
    per_slice = np.count_nonzero(labels, axis=(1, 2)).astype(float)
    if per_slice.sum() == 0:
        rows = np.flatnonzero(np.abs(background).sum(axis=(1, 2)) > 0)
        if rows.size == 0:
            return [background.shape[0] // 2]
        return sorted(set(np.linspace(rows[0], rows[-1], min(n, rows.size)).round().astype(int).tolist()))
    cumulative = np.cumsum(per_slice) / per_slice.sum()
    targets = (np.arange(n) + 0.5) / n
    chosen = sorted(set(np.searchsorted(cumulative, targets).tolist()))
    return [k for k in chosen if per_slice[k] > 0] or [int(np.argmax(per_slice))]


def lesion_mosaic(background_path, labels_path, out_png, highlight_ids=(), title: str = "",
                  n_slices: int = MOSAIC_SLICES, columns: int = MOSAIC_COLUMNS) -> Path:
    """Axial FLAIR slices with lesion outlines (yellow; ``highlight_ids``, e.g. PRL candidates, cyan).

    Slices are shown in radiological convention (patient right on the image left),
    anterior up, with the in-plane aspect ratio of the voxel spacing. Slice labels give
    the superior coordinate in mm (LPS z = RAS S).
    """
    plt = _pyplot()
    bg, lab, spacing, image = _oriented_arrays(background_path, labels_path)
    signal = bg[bg > np.percentile(bg, 5)] if bg.size else bg
    low, high = np.percentile(signal if signal.size else bg, MOSAIC_WINDOW_PERCENTILES)
    if not high > low:
        low, high = float(bg.min()), float(bg.max())
        high = high if high > low else low + 1.0
    # crop to the signal's in-plane bounding box (with a small margin)
    mask = bg > (low if low > bg.min() else bg.min())
    jj = np.flatnonzero(mask.any(axis=(0, 2)))
    ii = np.flatnonzero(mask.any(axis=(0, 1)))
    j0, j1 = (max(jj[0] - 2, 0), min(jj[-1] + 3, bg.shape[1])) if jj.size else (0, bg.shape[1])
    i0, i1 = (max(ii[0] - 2, 0), min(ii[-1] + 3, bg.shape[2])) if ii.size else (0, bg.shape[2])
    slices = choose_slices(lab, bg, n_slices)
    cols = min(columns, len(slices))
    nrows = int(math.ceil(len(slices) / cols))
    aspect = spacing[1] / spacing[0]
    width = 2.6 * cols
    height = (2.6 * aspect * (j1 - j0) / max(i1 - i0, 1) + 0.3) * nrows + (0.4 if title else 0)
    fig, axes = plt.subplots(nrows, cols, figsize=(width, height), squeeze=False)
    highlight = np.isin(lab, np.asarray(list(highlight_ids), dtype=lab.dtype)) if len(highlight_ids) else None
    for ax in axes.ravel():
        ax.axis("off")
    for ax, k in zip(axes.ravel(), slices):
        ax.imshow(bg[k, j0:j1, i0:i1], cmap="gray", vmin=low, vmax=high, aspect=aspect, interpolation="nearest")
        plane = lab[k, j0:j1, i0:i1]
        if plane.any():
            ax.contour(plane > 0, levels=[0.5], colors="yellow", linewidths=0.8)
        if highlight is not None and highlight[k, j0:j1, i0:i1].any():
            ax.contour(highlight[k, j0:j1, i0:i1], levels=[0.5], colors="cyan", linewidths=1.0)
        s_mm = image.TransformIndexToPhysicalPoint((0, 0, int(k)))[2]
        ax.set_title(f"S {s_mm:.0f} mm ({int(np.count_nonzero(plane))} lesion vox)", fontsize=7)
        ax.text(0.02, 0.5, "R", color="w", fontsize=7, transform=ax.transAxes, va="center")
        ax.text(0.98, 0.5, "L", color="w", fontsize=7, transform=ax.transAxes, va="center", ha="right")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / height) if title else None)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    _save(fig, out_png)
    return out_png


# --------------------------------------------------------------------------- plots
def bar_plot(values: dict, out_png, title: str, ylabel: str) -> Path | None:
    """Bars of named values (e.g. tissue volumes in mL); the y label carries the unit."""
    values = {k: float(v) for k, v in values.items() if _number(v)}
    if not values:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(3.6, 0.5 * len(values) + 1.6), 3.0))
    ax.bar(range(len(values)), list(values.values()), color="#4878a8")
    ax.set_xticks(range(len(values)), list(values), rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(out_png))


def rim_plot(rows, out_png, score_column: str, flag_column: str | None = None, threshold: float | None = None,
             description: str = "") -> Path | None:
    """The plotted column per lesion, sorted, PRL candidates in red; the title names that column
    and the dashed line is the PRL threshold on it."""
    scored = [r for r in rows if _number(r.get(score_column))]
    if not scored:
        return None
    scored.sort(key=lambda r: r[score_column], reverse=True)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(3.6, 0.18 * len(scored) + 1.6), 3.0))
    colours = ["#c0392b" if flag_column and r.get(flag_column) is True else "#7f8c8d" for r in scored]
    ax.bar(range(len(scored)), [r[score_column] for r in scored], color=colours)
    ax.set_xticks(range(len(scored)), [str(r.get("id", "")) for r in scored], fontsize=6, rotation=90)
    if threshold is not None:
        ax.axhline(threshold, color="k", linestyle="--", linewidth=0.8, label=f"PRL threshold {threshold:.2f}")
        ax.legend(fontsize=6, loc="upper right")
    ax.set_xlabel("lesion id", fontsize=8)
    ax.set_ylabel(score_column.replace("_", " ") + (f"\n({description})" if description else ""), fontsize=7)
    ax.set_title(f"{score_column.replace('_', ' ')} per lesion" + (" (red: PRL candidate)" if flag_column else ""),
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(out_png))


def matrix_plot(matrix: np.ndarray, out_png, title: str = "connectome: streamlines per region pair",
                labels=None) -> Path:
    """The connectome as a heat map (log scale, so weak edges stay visible)."""
    plt = _pyplot()
    matrix = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(4.6, 3.9))
    im = ax.imshow(np.log10(1 + np.clip(matrix, 0, None)), cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="log10(1 + streamlines)")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(f"region (1..{matrix.shape[1]}, order of connectome.csv)", fontsize=8)
    ax.set_ylabel("region", fontsize=8)
    fig.tight_layout()
    return _save(fig, Path(out_png))


def _style(index: int) -> dict:
    return {"marker": PLOT_MARKERS[index % len(PLOT_MARKERS)],
            "linestyle": PLOT_LINESTYLES[(index // len(PLOT_MARKERS) + index) % len(PLOT_LINESTYLES)]}


def trend_plot(rows, column: str, title: str, ylabel: str, out_png) -> Path | None:
    """One line per subject over its sessions, each with its own marker and line style; a
    point alone (one session) is still drawn."""
    series = {}
    for row in rows:
        if _number(row.get(column)):
            series.setdefault(str(row["participant_id"]), []).append((str(row.get("session_id") or "-"),
                                                                      float(row[column])))
    if not series:
        return None
    plt = _pyplot()
    sessions = sorted({s for points in series.values() for s, _ in points}, key=_natural)
    position = {s: n for n, s in enumerate(sessions)}
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    offsets = np.linspace(-0.12, 0.12, len(series)) if len(series) > 1 else [0.0]
    for n, (subject, points) in enumerate(sorted(series.items(), key=lambda kv: _natural(kv[0]))):
        points.sort(key=lambda p: position[p[0]])
        x = [position[s] + offsets[n] for s, _ in points]  # a small offset: equal values stay visible
        ax.plot(x, [v for _, v in points], label=subject, markersize=5, linewidth=1.2, **_style(n))
    if all(float(v).is_integer() for points in series.values() for _, v in points):
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if all(v >= 0 for points in series.values() for _, v in points):
            ax.set_ylim(bottom=0, top=max(1.0, max(v for points in series.values() for _, v in points)) * 1.1)
    ax.set_xticks(range(len(sessions)), sessions, fontsize=7)
    ax.set_xlabel("session", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    if len(series) <= 12:
        ax.legend(fontsize=6, ncol=2 if len(series) > 6 else 1, title="subject", title_fontsize=6)
    fig.tight_layout()
    return _save(fig, Path(out_png))


def _natural(text):
    import re

    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(text))]


#: Cohort plots: (column of cohort.tsv, title, y label with unit, file).
COHORT_PLOTS = (
    ("lesion_count", "T2 lesion count", "lesions (n)", "cohort_lesion_count.png"),
    ("lesion_volume_mm3", "T2 lesion volume", "volume (mm³)", "cohort_lesion_volume.png"),
    ("lesions_new_or_enlarging", "new or enlarging lesions vs previous session", "lesions (n)",
     "cohort_new_enlarging.png"),
    ("prl_candidates", "paramagnetic rim lesion candidates", "PRL (n)", "cohort_prl.png"),
    ("bpf", "brain parenchymal fraction", "BPF (brain / ICV)", "cohort_bpf.png"),
    ("pbvc_annualised_percent_per_year", "brain volume change per year", "PBVC (%/year)", "cohort_pbvc_per_year.png"),
    ("pbvc_percent", "brain volume change vs previous session", "PBVC (%)", "cohort_pbvc.png"),
    ("network_global_efficiency", "global efficiency (weighted)", "efficiency (unitless)", "cohort_efficiency.png"),
    ("network_disconnected_percent", "streamlines through lesions", "disconnected (% of streamlines)",
     "cohort_disconnection.png"),
)


def _cohort_plots(rows, pics: Path) -> list[Path]:
    made = []
    for column, title, ylabel, name in COHORT_PLOTS:
        if column == "pbvc_percent" and any(_number(r.get("pbvc_annualised_percent_per_year")) for r in rows):
            continue  # the per-year plot says it
        plot = trend_plot(rows, column, title, ylabel, pics / name)
        if plot is not None:
            made.append(plot)
    return made


# --------------------------------------------------------------------------- finding outputs
def _tables_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".tsv", ".csv")
                  and not p.name.startswith(".") and not p.name.endswith(".schema.csv"))


def find_matrix(folder: Path) -> np.ndarray | None:
    """A connectome matrix written by the network step (``connectome.csv`` of
    :func:`mspathobiology.networks.run_case`: labels as header and first column; or any
    ``*connectome*``/``*matrix*`` .npy, .tsv, .csv, .txt)."""
    if not folder.is_dir():
        return None
    for path in sorted(folder.rglob("*")):
        name = path.name.lower()
        if "connectome" not in name and "matrix" not in name:
            continue
        try:
            if name.endswith(".npy"):
                matrix = np.load(path)
            elif name.endswith((".tsv", ".csv")):
                rows = read_table(path)
                matrix = np.array([[0.0 if v is None else float(v) for v in r.values()] for r in rows], dtype=float)
                if matrix.ndim == 2 and matrix.shape[1] == matrix.shape[0] + 1:
                    matrix = matrix[:, 1:]  # first column holds the region labels
            elif name.endswith(".txt"):
                matrix = np.loadtxt(path)
            else:
                continue
        except (ValueError, TypeError, InputError, OSError):
            continue
        if matrix.ndim == 2 and matrix.shape[0] == matrix.shape[1] and matrix.shape[0] > 1:
            return matrix
    return None


def _score_columns(rows) -> tuple[str | None, str | None]:
    """(column to plot, PRL flag column) of a rims table: ``rim_score`` (what the PRL flag
    thresholds), else a coverage or score column."""
    if not rows:
        return None, None
    numeric = [k for k, v in rows[0].items() if _number(v)]
    score = next((k for k in ("rim_score", "rim_coverage") if k in numeric), None) or next(
        (k for k in numeric if "coverage" in k or "score" in k), None)
    flag = next((k for k, v in rows[0].items() if isinstance(v, bool) and ("prl" in k or "candidate" in k)), None)
    return score, flag


def _rim_threshold(column: str | None) -> float | None:
    if column != "rim_score":
        return None
    from ..defaults.rims import PRL_MIN_EDGE_COVERAGE

    return float(PRL_MIN_EDGE_COVERAGE)


# --------------------------------------------------------------------------- pages
def _case_from_folder(folder: Path) -> tuple[Case, list[dict]]:
    data = read_json(folder / "case.json", name="case record", expect=dict)
    try:
        case, records = Case.from_dict(data["case"]), list(data.get("records", []))
        if not all(isinstance(r, dict) for r in records):
            raise TypeError("records must be objects")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(folder / "case.json", f"is not a case record written by `run` ({exc!r})") from None
    return case, records


def case_label(case: Case) -> str:
    """``sub-01 ses-02`` (what links and headings show)."""
    return f"sub-{case.subject}" + (f" ses-{case.session}" if case.session else "")


def _summary_value(row: dict, column: str):
    if column == "pbvc_annualised_percent_per_year" and not _number(row.get(column)) and _number(row.get("pbvc_percent")):
        return format_number("pbvc_percent", row["pbvc_percent"]) + " *"
    value = row.get(column)
    return format_number(column, value)


def _facts(case: Case, row: dict, records: list[dict]) -> str:
    lines = [("lesions from", lesions_source(case))]
    for column, heading, unit in SUMMARY_COLUMNS:
        text = _summary_value(row, column)
        if text != "":
            lines.append((f"{heading} ({unit})" if unit else heading, text))
    done = sum(r["status"] == "done" for r in records)
    failed = [r["analysis"] for r in records if r["status"] == "failed"]
    lines.append(("analyses", f"{done} done" + (f", failed: {', '.join(failed)}" if failed else "")))
    lines.append(("made by", f"MSPathobiology {__version__}"))
    body = "".join(f"<tr><th class='t'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in lines)
    note = ("<p class='note'>* PBVC since the previous session (% , interval unknown)</p>"
            if any(v.endswith(" *") for _, v in lines) else "")
    return f"<table>{body}</table>{note}"


def _provenance(out: Path, case: Case, records: list[dict]) -> str:
    inputs = [{"image": k, "origin": origin_text(case.origin(k)), "file": case.display_path(v)}
              for k, v in sorted(case.images.items())]
    analyses = []
    for r in records:
        marker = read_json(analysis_dir(out, case, r["analysis"]) / "done.json") if r["status"] == "done" and \
            (analysis_dir(out, case, r["analysis"]) / "done.json").exists() else {}
        analyses.append({"analysis": r["analysis"], "status": r["status"],
                         "method": marker.get("function") or FUNCTIONS.get(r["analysis"], ""),
                         "version": marker.get("mspathobiology_version", ""),
                         "lesions": next((v["origin"] for k, v in (marker.get("provenance") or {}).items()
                                          if k.endswith("lesions")), ""),
                         "seconds": r.get("seconds") or 0.0,
                         "note": r.get("error") or r.get("reason", "")})
    root = f" (paths relative to {escape(display_path(case.source))})" if case.source else ""
    return (f"<h2>Provenance</h2><p class='note'>Inputs{root}; each analysis' done.json lists its inputs "
            "with their BIDS URIs (Sources).</p>" + html_table(inputs)
            + html_table(analyses, headings={"seconds": "time (s)"}))


def case_report(out, case: Case, records: list[dict], reports_dir, row: dict | None = None) -> Path:
    """Write ``reports_dir/<case id>.html`` and its pictures in ``reports_dir/<case id>/``."""
    out, reports_dir = Path(out), Path(reports_dir)
    pics = reports_dir / case.id
    pics.mkdir(parents=True, exist_ok=True)
    rel = lambda p: f"{case.id}/{Path(p).name}"  # noqa: E731
    pair = out / case.relative_dir / "pairs.json"
    if pair.exists():
        records = records + read_json(pair).get("records", [])
    subject = out / f"sub-{case.subject}" / "subject.json"
    if subject.exists():  # analyses over all sessions (sel), shown on the last session's page
        records = records + [r for r in read_json(subject).get("records", []) if r.get("case") == case.id]
    current = {r["analysis"] for r in records
               if r["status"] == "done" and is_current(analysis_dir(out, case, r["analysis"]))}
    parts = [page_head(case_label(case), _CSS),
             "<p><a href='index.html'>cohort summary</a></p>",
             f"<h1>{escape(case_label(case))}</h1>"]

    lesion_folder = analysis_dir(out, case, "lesions")
    lesion_map = lesion_output(lesion_folder) if "lesions" in current else None
    if lesion_map is None and "lesions" in case.images:
        lesion_map = Path(case.images["lesions"])
    rim_rows, score_col, flag_col, rim_doc = [], None, None, {}
    if "rims" in current:
        for table in _tables_in(analysis_dir(out, case, "rims")):
            rows = read_table(table)
            score_col, flag_col = _score_columns(rows)
            if score_col:
                rim_rows = rows
                rims_json = table.with_suffix(".json")
                rim_doc = (read_json(rims_json).get("columns") or {}) if rims_json.exists() else {}
                break
    prl_ids = [r["id"] for r in rim_rows if flag_col and r.get(flag_col) is True and isinstance(r.get("id"), int)]
    background = case.images.get("flair") or case.images.get("t1")
    mosaic_html = "<p class='small'>No FLAIR or T1 image.</p>"
    if background and Path(background).exists():
        try:
            mosaic = lesion_mosaic(background, lesion_map if lesion_map and Path(lesion_map).exists() else None,
                                   pics / "lesion_mosaic.png", highlight_ids=prl_ids,
                                   title=f"{'FLAIR' if 'flair' in case.images else 'T1'} with lesion "
                                         f"outlines (yellow){'; PRL candidates cyan' if prl_ids else ''}")
            mosaic_html = (f"<img src='{href(rel(mosaic))}' alt='lesion mosaic'>"
                           f"<p class='note'>Lesions: {escape(lesions_source(case))}"
                           f"{' — ' + escape(display_path(lesion_map, out)) if lesion_map else ''}. Radiological "
                           "convention (patient right on the left), anterior up.</p>")
        except InputError as exc:
            mosaic_html = f"<p class='failed'>No mosaic: {escape(exc)}</p>"
    parts.append(f"<div class='lead'><div class='facts'>{_facts(case, row or {}, records)}</div>"
                 f"<div class='mosaic'>{mosaic_html}</div></div>")
    parts.append(_provenance(out, case, records))

    summaries = {r["analysis"]: r.get("summary") or {} for r in records if r["analysis"] in current}
    volumes = {k[:-3]: v for k, v in summaries.get("atrophy", {}).items() if k.endswith("_ml")}
    lesion_loc = {k.replace("lesion_volume_mm3_", ""): v for k, v in summaries.get("lesions", {}).items()
                  if k.startswith("lesion_volume_mm3_")}
    plots = []
    if volumes:
        plots.append(bar_plot(volumes, pics / "tissue_volumes.png", "tissue volumes", "volume (mL)"))
    if lesion_loc:
        plots.append(bar_plot(lesion_loc, pics / "lesion_volume_by_location.png", "T2 lesion volume by location",
                              "volume (mm³)"))
    if rim_rows:
        plots.append(rim_plot(rim_rows, pics / "rim_scores.png", score_col, flag_col, _rim_threshold(score_col),
                              str(rim_doc.get(score_col, ""))[:60]))
    matrix = find_matrix(analysis_dir(out, case, "network")) if "network" in current else None
    if matrix is not None:
        plots.append(matrix_plot(matrix, pics / "connectome.png"))
    plots = [p for p in plots if p is not None]
    if plots:
        parts.append("<h2>Plots</h2><div class='plots'>" + "".join(
            f"<img src='{href(rel(p))}' alt='{escape(p.stem)}'> " for p in plots) + "</div>")

    parts.append("<h2>Summary values</h2>")
    for analysis in ANALYSES:
        if summaries.get(analysis):
            parts.append(f"<h3>{escape(analysis)}</h3>" + html_table(
                [{"measure": k, "value": v} for k, v in summaries[analysis].items()]))
    parts.append("<h2>Tables</h2>")
    for analysis in ANALYSES:
        if analysis not in current:
            continue
        for table in _tables_in(analysis_dir(out, case, analysis)):
            link = Path("..") / table.relative_to(out)
            parts.append(f"<h3>{escape(analysis)}: <a href='{href(link.as_posix())}'>{escape(table.name)}</a></h3>")
            if any(word in table.name.lower() for word in _MATRIX_WORDS):
                parts.append("<p class='note'>A region x region matrix: shown as a heat map under Plots; "
                             "the file holds every value.</p>")
                continue
            try:
                parts.append("<div class='wide'>" + html_table(read_table(table), max_rows=REPORT_MAX_TABLE_ROWS,
                                                               collapse_constant=True) + "</div>")
            except InputError as exc:
                parts.append(f"<p class='failed'>{escape(exc)}</p>")
    parts.append("</body></html>")
    page = reports_dir / f"{case.id}.html"
    from ..io import atomic_write_text

    atomic_write_text(page, "\n".join(parts))
    return page


def _row_id(row: dict) -> str:
    return str(row["participant_id"]) + (f"_{row['session_id']}" if row.get("session_id") else "")


def summary_rows(rows) -> tuple[list[dict], list[str], dict]:
    """The cohort page's compact table: (rows, columns, headings) with one row per session."""
    columns = ["session", "status", "lesions from"]
    headings = {}
    present = [(c, h, u) for c, h, u in SUMMARY_COLUMNS if any(_number(r.get(c)) for r in rows)
               or (c == "pbvc_annualised_percent_per_year" and any(_number(r.get("pbvc_percent")) for r in rows))]
    out = []
    for row in rows:
        item = {"session": f"{row['participant_id']} {row.get('session_id') or ''}".strip(),
                "status": row.get("status"), "lesions from": row.get("lesions_source") or ""}
        for column, heading, unit in present:
            starred = column == "pbvc_annualised_percent_per_year" and not _number(row.get(column))
            item[column] = _summary_value(row, column) if starred else row.get(column)
        out.append(item)
    for column, heading, unit in present:
        columns.append(column)
        headings[column] = f"{heading} ({unit})" if unit else heading
    return out, columns, headings


def write_reports(out, cases=None) -> Path:
    """Write every case report and the cohort page ``OUT/reports/index.html``; return its path."""
    out = Path(out)
    if not (out / "cohort.tsv").exists():
        raise InputError(out, "no cohort.tsv: run `mspathobiology run` into this folder first")
    reports_dir = out / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    found = []
    for path in sorted(out.glob("sub-*/**/case.json")):
        case, records = _case_from_folder(path.parent)
        if cases is None or case.id in {c.id for c in cases}:
            found.append((case, records))
    order = {c.id: n for n, c in enumerate(sort_cases([c for c, _ in found]))}
    found.sort(key=lambda x: order[x[0].id])
    rows = read_table(out / "cohort.tsv")
    by_id = {_row_id(r): r for r in rows}
    pages = {case.id: case_report(out, case, records, reports_dir, by_id.get(case.id)) for case, records in found}
    pics = reports_dir / "cohort"
    pics.mkdir(exist_ok=True)
    plots = _cohort_plots(rows, pics)
    table_rows, columns, headings = summary_rows(rows)
    links = {n: pages[_row_id(r)].name for n, r in enumerate(rows) if _row_id(r) in pages}
    failures = read_table(out / "cohort_failures.tsv") if (out / "cohort_failures.tsv").exists() else []
    downloads = [name for name in ("cohort.tsv", "cohort_lesions.tsv", "cohort_rims.tsv", "cohort_atrophy.tsv",
                                   "cohort_network.tsv", "cohort_failures.tsv") if (out / name).exists()]
    sources = sorted({r.get("lesions_source") or "" for r in rows} - {""})
    parts = [page_head("MSPathobiology cohort summary", _CSS), "<h1>MSPathobiology cohort summary</h1>",
             f"<p class='small'>{len(rows)} sessions of {len({r['participant_id'] for r in rows})} subjects; "
             f"lesions: {escape('; '.join(sources) or 'none')}; made by MSPathobiology {escape(__version__)}. "
             "Full tables (every value, TSV): " + ", ".join(
                 f"<a href='{href('../' + name)}' download>{escape(name)}</a>" for name in downloads) + ".</p>",
             "<h2>Summary</h2>",
             html_table(table_rows, columns=columns, links=links, headings=headings)]
    if any(str(r.get("pbvc_annualised_percent_per_year", "")).endswith("*") for r in table_rows):
        parts.append("<p class='note'>* PBVC since the previous session (%), the interval between sessions being "
                     "unknown (no acq_time).</p>")
    if plots:
        parts.append("<h2>Over sessions, one line per subject</h2><div class='plots'>" + "".join(
            f"<img src='{href('cohort/' + p.name)}' alt='{escape(p.stem)}'> " for p in plots) + "</div>")
    parts.append(f"<h2>Failures ({len(failures)})</h2>" + html_table(failures))
    parts.append("</body></html>")
    from ..io import atomic_write_text

    return atomic_write_text(reports_dir / "index.html", "\n".join(parts))
