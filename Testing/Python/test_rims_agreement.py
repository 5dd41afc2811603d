"""Agreement statistics against independent implementations (sklearn, statsmodels, Shrout & Fleiss 1979)."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from mspathobiology.errors import InputError
from mspathobiology.rims.agreement import (ICC_FORMS, agreement_from_files, agreement_from_ratings, category_counts,
                                           cohen_kappa, fleiss_kappa, icc)
from mspathobiology.rims.ratings import RatingSession

LABELS = np.array(["PRL", "not_PRL", "indeterminate"])


@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    a = LABELS[rng.integers(0, 3, 60)]
    b = np.where(rng.random(60) < 0.6, a, LABELS[rng.integers(0, 3, 60)])
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_fleiss_kappa_matches_statsmodels(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, 40)
    ratings = np.where(rng.random((40, 4)) < 0.7, truth[:, None], rng.integers(0, 3, (40, 4)))
    table_sm, _ = aggregate_raters(ratings)
    table, _ = category_counts(ratings.tolist())
    assert fleiss_kappa(table) == pytest.approx(sm_fleiss_kappa(table_sm, method="fleiss"), abs=1e-12)


def test_kappa_edge_cases():
    assert cohen_kappa(["PRL"] * 5, ["PRL"] * 5) != cohen_kappa(["PRL"] * 5, ["PRL"] * 5)  # NaN: no variation
    assert cohen_kappa(["PRL", "not_PRL"], ["PRL", "not_PRL"]) == pytest.approx(1.0)
    with pytest.raises(InputError):
        cohen_kappa(["PRL"], ["PRL", "PRL"])
    with pytest.raises(InputError):
        fleiss_kappa([[2, 0], [1, 1], [3, 0]])  # unequal rater counts


def test_icc_shrout_fleiss_textbook_example():
    # Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges; their Table 4 gives these ICCs.
    data = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    expected = {"ICC(1,1)": 0.17, "ICC(2,1)": 0.29, "ICC(3,1)": 0.71,
                "ICC(1,k)": 0.44, "ICC(2,k)": 0.62, "ICC(3,k)": 0.91}
    for form in ICC_FORMS:
        assert icc(data, form)["icc"] == pytest.approx(expected[form], abs=0.006), form


def test_icc_mean_squares_match_statsmodels_anova():
    import pandas as pd
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    rng = np.random.default_rng(3)
    subject_effect = rng.normal(0, 3, 12)
    data = subject_effect[:, None] + rng.normal(0, 1, (12, 3)) + np.array([0.0, 0.5, -0.3])
    frame = pd.DataFrame([(s, r, data[s, r]) for s in range(12) for r in range(3)], columns=["s", "r", "y"])
    table = anova_lm(smf.ols("y ~ C(s) + C(r)", frame).fit())
    ms = table["sum_sq"] / table["df"]
    bms, jms, ems = ms["C(s)"], ms["C(r)"], ms["Residual"]
    n, k = data.shape
    expected21 = (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n)
    expected31 = (bms - ems) / (bms + (k - 1) * ems)
    assert icc(data, "ICC(2,1)")["icc"] == pytest.approx(expected21, rel=1e-10)
    assert icc(data, "ICC(3,1)")["icc"] == pytest.approx(expected31, rel=1e-10)
    assert icc(data)["form"] == "ICC(2,1)"
    with pytest.raises(InputError):
        icc(data, "ICC(4,1)")


def _rate_all(folder, case, rater, labels):
    with RatingSession(folder, case, rater, [{"id": i + 1, "rim_score": 0.0} for i in range(len(labels))],
                       order="id") as s:
        for lesion, label in zip(s.order, labels):
            s.rate(lesion, label, confidence=3)
    return s.path


def test_agreement_from_files(tmp_path):
    rng = np.random.default_rng(0)
    paths, per_rater = [], {"ann": [], "bob": [], "cat": []}
    for case in ("sub-01", "sub-02", "sub-03", "sub-04"):
        truth = LABELS[rng.integers(0, 3, 8)]
        for rater in per_rater:
            labels = np.where(rng.random(8) < 0.75, truth, LABELS[rng.integers(0, 3, 8)])
            per_rater[rater].extend(labels.tolist())
            paths.append(_rate_all(tmp_path, case, rater, labels))
    out = agreement_from_files(paths)["prl"]
    assert out["raters"] == ["ann", "bob", "cat"] and out["n_lesions"] == 32 and out["n_cases"] == 4
    assert out["pairwise_cohen_kappa"]["ann|bob"] == pytest.approx(
        cohen_kappa_score(per_rater["ann"], per_rater["bob"]))
    ratings = np.array([per_rater[r] for r in ("ann", "bob", "cat")]).T
    table, _ = aggregate_raters(ratings)
    assert out["fleiss_kappa"] == pytest.approx(sm_fleiss_kappa(table))
    counts = np.array([[out["counts"][c][r] for r in out["raters"]] for c in sorted(out["counts"])])
    assert counts.sum() == sum(np.sum(np.array(per_rater[r]) == "PRL") for r in per_rater)
    assert out["icc"] == pytest.approx(icc(counts, "ICC(2,1)")["icc"])
    two = agreement_from_files([p for p in paths if "cat" not in p.name])["prl"]
    assert two["cohen_kappa"] == pytest.approx(out["pairwise_cohen_kappa"]["ann|bob"])


def test_duplicate_rater_rows_refused():
    rows = [{"task": "prl", "case": "a", "lesion_id": 1, "rater": "x", "label": "PRL"}] * 2
    with pytest.raises(InputError):
        agreement_from_ratings(rows)
