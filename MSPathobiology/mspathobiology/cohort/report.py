"""HTML reports of a cohort run: one page per case and a cohort summary page.

Everything is read back from the derivatives folder written by
:func:`~mspathobiology.cohort.runner.run_cohort` (``case.json``, each analysis'
``done.json`` and output files, ``cohort.tsv``), so reports can be regenerated at any
time. Pictures are rendered with matplotlib's Agg backend (no display needed) and
written as PNG files next to the HTML, so ``OUT/reports/`` is self-contained.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np

from ..defaults.cohort import (MOSAIC_COLUMNS, MOSAIC_DPI, MOSAIC_SLICES, MOSAIC_WINDOW_PERCENTILES,
                               REPORT_MAX_TABLE_ROWS)
from ..errors import InputError
from ..io import read_json
from ..tables import read_table
from .cases import Case, sort_cases
from .runner import ANALYSES, analysis_dir, lesion_output, read_marker

_CSS = """body{font-family:sans-serif;margin:1.5em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#eee}td.t{text-align:left}.failed{color:#b00}.done{color:#070}.skipped,.unavailable{color:#777}
img{max-width:100%;border:1px solid #ddd;margin:.3em 0}h2{border-bottom:1px solid #ccc;margin-top:1.5em}
.small{font-size:12px;color:#555}"""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _esc(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return html.escape("" if value is None else str(value))


def html_table(rows, columns=None, max_rows: int | None = None, links: dict | None = None) -> str:
    """Rows (dicts) as an HTML table; ``links`` maps a row index to an href for its first cell."""
    rows = list(rows)
    if not rows:
        return "<p class='small'>(no rows)</p>"
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    shown = rows if max_rows is None else rows[:max_rows]
    out = ["<table><tr>" + "".join(f"<th>{_esc(c)}</th>" for c in columns) + "</tr>"]
    for index, row in enumerate(shown):
        cells = []
        for n, column in enumerate(columns):
            value = row.get(column)
            text = _esc(value)
            if n == 0 and links and index in links:
                text = f"<a href='{html.escape(links[index])}'>{text}</a>"
            klass = "t" if not isinstance(value, (int, float)) or isinstance(value, bool) else ""
            if column in ("status",) and isinstance(value, str):
                klass += f" {value.split()[0]}"
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
    fig.savefig(out_png, dpi=MOSAIC_DPI)
    plt.close(fig)
    return out_png


def bar_plot(values: dict, out_png, title: str, ylabel: str) -> Path | None:
    values = {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
              and v is not None and math.isfinite(float(v))}
    if not values:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(3.5, 0.55 * len(values) + 1.5), 3.0))
    ax.bar(range(len(values)), list(values.values()), color="#4878a8")
    ax.set_xticks(range(len(values)), list(values), rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=MOSAIC_DPI)
    plt.close(fig)
    return Path(out_png)


def rim_plot(rows, out_png, score_column: str, flag_column: str | None = None) -> Path | None:
    """Per-lesion rim scores, sorted, PRL candidates in red."""
    scored = [r for r in rows if isinstance(r.get(score_column), (int, float)) and not isinstance(r.get(score_column), bool)]
    if not scored:
        return None
    scored.sort(key=lambda r: r[score_column], reverse=True)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(3.5, 0.18 * len(scored) + 1.5), 3.0))
    colours = ["#c0392b" if flag_column and r.get(flag_column) is True else "#7f8c8d" for r in scored]
    ax.bar(range(len(scored)), [r[score_column] for r in scored], color=colours)
    ax.set_xticks(range(len(scored)), [str(r.get("id", "")) for r in scored], fontsize=6, rotation=90)
    if score_column == "rim_coverage":
        try:
            from ..defaults.rims import PRL_MIN_COVERAGE

            ax.axhline(PRL_MIN_COVERAGE, color="k", linestyle="--", linewidth=0.8)
        except ImportError:
            pass
    ax.set_xlabel("lesion id", fontsize=8)
    ax.set_ylabel(score_column.replace("_", " ") + (" (fraction of the lesion edge)" if "coverage" in score_column else ""),
                  fontsize=8)
    ax.set_title("rim score per lesion" + (" (red: PRL candidate)" if flag_column else ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=MOSAIC_DPI)
    plt.close(fig)
    return Path(out_png)


def matrix_plot(matrix: np.ndarray, out_png, title: str = "connectome (streamline count)") -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    shown = np.log10(1 + np.asarray(matrix, dtype=float))
    im = ax.imshow(shown, cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="log10(1 + value)")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("region (row order of the table)", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=MOSAIC_DPI)
    plt.close(fig)
    return Path(out_png)


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
    if not rows:
        return None, None
    numeric = [k for k, v in rows[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    score = next((k for k in numeric if k == "rim_coverage"), None) or next(
        (k for k in numeric if "coverage" in k or "score" in k), None)
    flag = next((k for k, v in rows[0].items() if isinstance(v, bool) and ("prl" in k or "candidate" in k or "rim" in k)), None)
    return score, flag


# --------------------------------------------------------------------------- pages
def _case_from_folder(folder: Path) -> tuple[Case, list[dict]]:
    data = read_json(folder / "case.json", name="case record")
    return Case.from_dict(data["case"]), data.get("records", [])


def case_report(out, case: Case, records: list[dict], reports_dir) -> Path:
    """Write ``reports_dir/<case id>.html`` and its pictures in ``reports_dir/<case id>/``."""
    out, reports_dir = Path(out), Path(reports_dir)
    pics = reports_dir / case.id
    pics.mkdir(parents=True, exist_ok=True)
    rel = lambda p: f"{case.id}/{Path(p).name}"  # noqa: E731
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{case.id}</title><style>{_CSS}</style>"
             f"</head><body><p><a href='index.html'>cohort summary</a></p><h1>{case.id}</h1>"]
    pair = out / case.relative_dir / "pairs.json"
    if pair.exists():
        records = records + read_json(pair).get("records", [])
    parts.append("<h2>Analyses</h2>")
    parts.append(html_table([{"analysis": r["analysis"], "status": r["status"],
                              "seconds": round(r.get("seconds") or 0.0, 1),
                              "note": r.get("error") or r.get("reason", "")} for r in records]))
    parts.append("<h2>Images</h2>" + html_table([{"key": k, "file": str(v)} for k, v in sorted(case.images.items())]))

    lesion_map = Path(case.images["lesions"]) if "lesions" in case.images else None
    if lesion_map is None and read_marker(analysis_dir(out, case, "lesions")):
        lesion_map = lesion_output(analysis_dir(out, case, "lesions"))
    rim_rows, score_col, flag_col = [], None, None
    for table in _tables_in(analysis_dir(out, case, "rims")):
        rows = read_table(table)
        score_col, flag_col = _score_columns(rows)
        if score_col:
            rim_rows = rows
            break
    prl_ids = [r["id"] for r in rim_rows if flag_col and r.get(flag_col) is True and isinstance(r.get("id"), int)]
    background = case.images.get("flair") or case.images.get("t1")
    parts.append("<h2>Lesion mosaic</h2>")
    if background and Path(background).exists():
        try:
            mosaic = lesion_mosaic(background, lesion_map if lesion_map and lesion_map.exists() else None,
                                   pics / "lesion_mosaic.png", highlight_ids=prl_ids,
                                   title=f"{case.id}: {'FLAIR' if 'flair' in case.images else 'T1'} with lesion "
                                         f"outlines (yellow){'; PRL candidates cyan' if prl_ids else ''}")
            parts.append(f"<img src='{rel(mosaic)}' alt='lesion mosaic'>")
            parts.append(f"<p class='small'>Lesions from {'the case' if 'lesions' in case.images else 'the lesions step'}"
                         f": {html.escape(str(lesion_map)) if lesion_map else 'none'}. Radiological convention "
                         "(patient right on the left), anterior up.</p>")
        except InputError as exc:
            parts.append(f"<p class='failed'>No mosaic: {_esc(exc)}</p>")
    else:
        parts.append("<p class='small'>No FLAIR or T1 image.</p>")

    summaries = {r["analysis"]: r.get("summary") or {} for r in records if r["status"] == "done"}
    volumes = {k[:-3]: v for a in ("atrophy",) for k, v in summaries.get(a, {}).items() if k.endswith("_ml")}
    lesion_loc = {k.replace("lesion_volume_mm3_", "").replace("lesion_volume_", ""): v
                  for k, v in summaries.get("lesions", {}).items() if k.startswith("lesion_volume") and k != "lesion_volume_mm3"}
    plots = []
    if volumes:
        plots.append(bar_plot(volumes, pics / "tissue_volumes.png", "tissue volumes", "mL"))
    if lesion_loc:
        plots.append(bar_plot(lesion_loc, pics / "lesion_volume_by_location.png", "lesion volume by location",
                              "mm³" if any("mm3" in k for k in summaries.get("lesions", {})) else ""))
    if rim_rows:
        plots.append(rim_plot(rim_rows, pics / "rim_scores.png", score_col, flag_col))
    matrix = find_matrix(analysis_dir(out, case, "network"))
    if matrix is not None:
        plots.append(matrix_plot(matrix, pics / "connectome.png"))
    plots = [p for p in plots if p is not None]
    if plots:
        parts.append("<h2>Plots</h2>" + "".join(f"<img src='{rel(p)}' alt='{p.stem}'> " for p in plots))

    parts.append("<h2>Summary values</h2>")
    for analysis in ANALYSES:
        if summaries.get(analysis):
            parts.append(f"<h3>{analysis}</h3>" + html_table([{"measure": k, "value": v} for k, v in summaries[analysis].items()]))
    parts.append("<h2>Tables</h2>")
    for analysis in ANALYSES:
        for table in _tables_in(analysis_dir(out, case, analysis)):
            link = Path("..") / table.relative_to(out)
            parts.append(f"<h3>{analysis}: <a href='{html.escape(link.as_posix())}'>{html.escape(table.name)}</a></h3>")
            try:
                parts.append(html_table(read_table(table), max_rows=REPORT_MAX_TABLE_ROWS))
            except InputError as exc:
                parts.append(f"<p class='failed'>{_esc(exc)}</p>")
    parts.append("</body></html>")
    page = reports_dir / f"{case.id}.html"
    from ..io import atomic_write_text

    atomic_write_text(page, "\n".join(parts))
    return page


def _cohort_plots(rows, pics: Path) -> list[Path]:
    plt = _pyplot()
    made = []
    subjects = sorted({r["participant_id"] for r in rows}, key=str)
    for column, label, name in (("lesion_volume_mm3", "lesion volume (mm³)", "cohort_lesion_volume.png"),
                                ("lesion_count", "lesion count", "cohort_lesion_count.png"),
                                ("prl_candidates", "PRL candidates", "cohort_prl.png"),
                                ("bpf", "brain parenchymal fraction", "cohort_bpf.png"),
                                ("pbvc_percent", "PBVC (%) vs previous session", "cohort_pbvc.png"),
                                ("network_global_efficiency", "global efficiency", "cohort_efficiency.png")):
        if not any(isinstance(r.get(column), (int, float)) and not isinstance(r.get(column), bool) for r in rows):
            continue
        fig, ax = plt.subplots(figsize=(4.0, 3.0))
        for subject in subjects:
            points = [(str(r["session_id"] or "-"), r[column]) for r in rows if r["participant_id"] == subject
                      and isinstance(r.get(column), (int, float)) and not isinstance(r.get(column), bool)]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=subject)
        ax.set_xlabel("session", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        if len(subjects) <= 10:
            ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(pics / name, dpi=MOSAIC_DPI)
        plt.close(fig)
        made.append(pics / name)
    return made


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
    pages = {case.id: case_report(out, case, records, reports_dir) for case, records in found}
    rows = read_table(out / "cohort.tsv")
    pics = reports_dir / "cohort"
    pics.mkdir(exist_ok=True)
    plots = _cohort_plots(rows, pics)
    links = {}
    for index, row in enumerate(rows):
        cid = row["participant_id"] + (f"_{row['session_id']}" if row.get("session_id") else "")
        if cid in pages:
            links[index] = pages[cid].name
    failures = read_table(out / "cohort_failures.tsv") if (out / "cohort_failures.tsv").exists() else []
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>MSPathobiology cohort</title>"
             f"<style>{_CSS}</style></head><body><h1>MSPathobiology cohort summary</h1>",
             f"<p class='small'>{len(rows)} cases; derivatives folder {html.escape(str(out.resolve()))}. "
             "Tables: <a href='../cohort.tsv'>cohort.tsv</a>, <a href='../cohort_failures.tsv'>cohort_failures.tsv</a>.</p>"]
    if plots:
        parts.append("<h2>Plots</h2>" + "".join(f"<img src='cohort/{p.name}' alt='{p.stem}'> " for p in plots))
    parts.append(f"<h2>Failures ({len(failures)})</h2>" + html_table(failures))
    parts.append("<h2>Cases</h2>" + html_table(rows, links=links))
    parts.append("</body></html>")
    from ..io import atomic_write_text

    return atomic_write_text(reports_dir / "index.html", "\n".join(parts))
