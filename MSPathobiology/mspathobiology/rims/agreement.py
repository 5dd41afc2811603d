"""Inter-rater agreement: Cohen's kappa (2 raters), Fleiss' kappa (n raters), ICC of per-subject counts.

- Cohen's kappa: Cohen, "A coefficient of agreement for nominal scales", Educ Psychol Meas 1960.
- Fleiss' kappa: Fleiss, "Measuring nominal scale agreement among many raters", Psychol Bull 1971.
- ICC: Shrout & Fleiss, "Intraclass correlations: uses in assessing rater reliability",
  Psychol Bull 1979. Per-subject PRL counts use **ICC(2,1)** by default (their Case 2:
  two-way random effects, absolute agreement, single rater), because raters are a sample of
  possible raters and their counts should agree in value, not only in rank. ICC(1,1),
  ICC(3,1) (two-way mixed, consistency) and the average-of-k forms are also available.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np

from ..defaults import rims as D
from ..errors import InputError
from ..identity import person_label
from .ratings import POSITIVE_LABEL, TASKS, read_ratings

ICC_FORMS = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)")


def cohen_kappa(rater_a, rater_b, categories=None) -> float:
    """Cohen's (unweighted) kappa between two equal-length label sequences.

    Returns NaN when chance agreement is 1 (both raters used a single identical category).
    """
    a, b = list(rater_a), list(rater_b)
    if len(a) != len(b):
        raise InputError("ratings", f"the two raters rated different numbers of lesions ({len(a)} vs {len(b)})")
    if not a:
        return float("nan")
    cats = sorted(set(a) | set(b) | set(categories or []), key=str)
    index = {c: n for n, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)))
    np.add.at(table, ([index[x] for x in a], [index[y] for y in b]), 1)
    table /= table.sum()
    observed = np.trace(table)
    expected = float(table.sum(axis=1) @ table.sum(axis=0))
    if np.isclose(expected, 1.0):
        return float("nan")
    return float((observed - expected) / (1.0 - expected))


def category_counts(labels_by_item, categories=None) -> tuple[np.ndarray, list]:
    """(items x categories) table of how many raters gave each category; rows = items.

    ``labels_by_item``: sequence of per-item label sequences (all the same length n raters).
    """
    items = [list(x) for x in labels_by_item]
    cats = sorted({c for item in items for c in item} | set(categories or []), key=str)
    index = {c: n for n, c in enumerate(cats)}
    table = np.zeros((len(items), len(cats)), dtype=float)
    for row, item in enumerate(items):
        for label in item:
            table[row, index[label]] += 1
    return table, cats


def fleiss_kappa(table) -> float:
    """Fleiss' kappa from an (items x categories) count table with the same number of raters per item."""
    table = np.asarray(table, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        return float("nan")
    per_item = table.sum(axis=1)
    if not np.allclose(per_item, per_item[0]) or per_item[0] < 2:
        raise InputError("ratings", "Fleiss' kappa needs the same number (>= 2) of raters for every lesion")
    n = per_item[0]
    p_item = (np.sum(table * table, axis=1) - n) / (n * (n - 1))
    p_bar = p_item.mean()
    p_cat = table.sum(axis=0) / table.sum()
    p_e = float(np.sum(p_cat ** 2))
    if np.isclose(p_e, 1.0):
        return float("nan")
    return float((p_bar - p_e) / (1.0 - p_e))


def icc(data, form: str = D.DEFAULT_ICC_FORM) -> dict:
    """Intraclass correlation of an (n subjects x k raters) matrix (Shrout & Fleiss 1979).

    ``form``: one of :data:`ICC_FORMS`. Returns {"icc", "form", "F", "df1", "df2", "n", "k",
    "bms", "wms", "jms", "ems"} with the ANOVA mean squares (between subjects, within
    subjects, between judges, residual).
    """
    if form not in ICC_FORMS:
        raise InputError("icc form", f"must be one of {', '.join(ICC_FORMS)}, not {form!r}")
    x = np.asarray(data, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise InputError("ratings", f"ICC needs >= 2 subjects and >= 2 raters, got shape {x.shape}")
    n, k = x.shape
    grand = x.mean()
    ss_total = np.sum((x - grand) ** 2)
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_err = ss_total - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    wms = (ss_total - ss_rows) / (n * (k - 1))
    jms = ss_cols / (k - 1)
    ems = ss_err / ((n - 1) * (k - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        value = {
            "ICC(1,1)": (bms - wms) / (bms + (k - 1) * wms),
            "ICC(2,1)": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
            "ICC(3,1)": (bms - ems) / (bms + (k - 1) * ems),
            "ICC(1,k)": (bms - wms) / bms,
            "ICC(2,k)": (bms - ems) / (bms + (jms - ems) / n),
            "ICC(3,k)": (bms - ems) / bms,
        }[form]
        f_value = bms / wms if form.startswith("ICC(1") else bms / ems
    df2 = n * (k - 1) if form.startswith("ICC(1") else (n - 1) * (k - 1)
    return {"icc": float(value), "form": form, "F": float(f_value), "df1": n - 1, "df2": df2, "n": n, "k": k,
            "bms": float(bms), "wms": float(wms), "jms": float(jms), "ems": float(ems)}


def agreement_from_ratings(rows, icc_form: str = D.DEFAULT_ICC_FORM) -> dict:
    """Agreement per task from rating rows of several raters (columns case, lesion_id, rater, task, label).

    Per task: raters; lesions rated by all raters (``n_lesions``); ``cohen_kappa`` (exactly
    2 raters) and ``pairwise_cohen_kappa``; ``fleiss_kappa`` (>= 2 raters, on those lesions);
    per-subject counts of the positive label (PRL / CVS+) on those lesions and their ICC
    (``icc``, form ``icc_form``; NaN with a ``note`` when fewer than 2 cases or raters).
    """
    if icc_form not in ICC_FORMS:
        raise InputError("icc_form", f"must be one of {', '.join(ICC_FORMS)}, not {icc_form!r}")
    labels = defaultdict(dict)  # (task, case, lesion) -> {rater label: label}
    for n, row in enumerate(rows, start=1):
        try:
            task, label, rater = row["task"], row["label"], person_label(row["rater"])
            key = (task, str(row["case"]), int(row["lesion_id"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError("ratings", f"row {n} is not a rating (needs case, lesion_id, rater, task, label): "
                                        f"{exc}") from None
        if task not in TASKS or label not in TASKS[task]:
            raise InputError("ratings", f"row {n}: {label!r} is not a label of task {task!r} "
                                        f"(labels: {TASKS.get(task, 'unknown task')})")
        if rater in labels[key]:
            raise InputError("ratings", f"rater {rater!r} rated lesion {key[2]} of case {key[1]} twice "
                                        f"({key[0]}); give each rater's file once")
        labels[key][rater] = label
    result = {}
    for task in sorted({k[0] for k in labels}):
        keys = sorted(k for k in labels if k[0] == task)
        raters = sorted({r for k in keys for r in labels[k]})
        common = [k for k in keys if len(labels[k]) == len(raters)]
        out = {"raters": raters, "n_lesions": len(common),
               "n_lesions_any": len(keys), "categories": sorted({labels[k][r] for k in keys for r in labels[k]})}
        pairwise = {}
        for a, b in itertools.combinations(raters, 2):
            shared = [k for k in keys if a in labels[k] and b in labels[k]]
            pairwise[f"{a}|{b}"] = cohen_kappa([labels[k][a] for k in shared], [labels[k][b] for k in shared])
        out["pairwise_cohen_kappa"] = pairwise
        out["cohen_kappa"] = pairwise[f"{raters[0]}|{raters[1]}"] if len(raters) == 2 else float("nan")
        if len(raters) >= 2 and common:
            table, _ = category_counts([[labels[k][r] for r in raters] for k in common])
            out["fleiss_kappa"] = fleiss_kappa(table)
        else:
            out["fleiss_kappa"] = float("nan")
        positive = POSITIVE_LABEL.get(task)
        cases = sorted({k[1] for k in common})
        counts = {c: {r: sum(labels[k][r] == positive for k in common if k[1] == c) for r in raters} for c in cases}
        out["positive_label"] = positive
        out["counts"] = counts
        out["n_cases"] = len(cases)
        out["icc_form"] = icc_form
        if len(cases) >= 2 and len(raters) >= 2:
            matrix = np.array([[counts[c][r] for r in raters] for c in cases], dtype=float)
            out["icc"] = icc(matrix, icc_form)["icc"]
        else:
            out["icc"] = float("nan")
            out["note"] = "the count ICC needs >= 2 cases rated by >= 2 raters"
        result[task] = out
    return result


def agreement_from_files(paths, icc_form: str = D.DEFAULT_ICC_FORM) -> dict:
    """Read rating TSVs (:mod:`.ratings` files, with sidecars) and compute :func:`agreement_from_ratings`."""
    rows = []
    for path in paths:
        file_rows, _ = read_ratings(path)
        rows.extend(file_rows)
    if not rows:
        raise InputError("ratings", "the files hold no ratings")
    return agreement_from_ratings(rows, icc_form)
