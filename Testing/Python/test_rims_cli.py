"""Command line: ``mspathobiology rims`` and ``mspathobiology agreement``."""

import json

import numpy as np
import pytest

from mspathobiology.cli import main
from mspathobiology.io import write_image
from mspathobiology.rims.pipeline import run_case
from mspathobiology.rims.ratings import RatingSession
from mspathobiology.rims.synthetic import dipole_phase, shell_lesions, to_image, vein_lesions
from mspathobiology.tables import read_table


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rims_case")
    labels, qsm, spacing, truth = shell_lesions(["full", "two_thirds", "partial", "none"], seed=4)
    write_image(to_image(labels, spacing), folder / "lesions.nii.gz")
    write_image(to_image(qsm, spacing), folder / "qsm.nii.gz")
    write_image(to_image(dipole_phase(qsm, spacing, phase_sign=-1), spacing), folder / "phase.nii.gz")
    t1 = np.ones(labels.shape, np.float32)
    t1[labels == 1] = 1.8
    write_image(to_image(t1, spacing), folder / "t1post.nii.gz")
    write_image(to_image(qsm, spacing, origin=(1.0, 0.0, 0.0)), folder / "shifted.nii.gz")
    return folder


def test_rims_qsm(case, tmp_path, capsys):
    assert main(["rims", "--lesions", str(case / "lesions.nii.gz"), "--qsm", str(case / "qsm.nii.gz"),
                 "--out", str(tmp_path)]) == 0
    assert "2 PRL candidates" in capsys.readouterr().out
    rows = read_table(tmp_path / "rims.tsv")
    assert list(rows[0])[:5] == ["id", "rim_score", "rim_coverage", "rim_slices", "prl_candidate"]
    assert [r["prl_candidate"] for r in rows] == [True, True, False, False]
    assert "cvs" not in rows[0]
    meta = json.loads((tmp_path / "rims.json").read_text())
    assert meta["summary"]["prl_candidates"] == 2 and meta["units"] == "ppb"


def test_rims_phase_sign_and_enhancement(case, tmp_path, capsys):
    args = ["rims", "--lesions", str(case / "lesions.nii.gz"), "--phase", str(case / "phase.nii.gz"),
            "--t1-post", str(case / "t1post.nii.gz"), "--out", str(tmp_path)]
    assert main(args + ["--phase-sign", "-1"]) == 0
    printed = capsys.readouterr()
    assert "paramagnetic sources (iron, veins) have negative phase" in printed.out
    assert "warning: PRL calls on filtered phase are candidates for rating" in printed.err  # not silent
    meta = json.loads((tmp_path / "rims.json").read_text())
    assert meta["phase_sign"] == -1 and "negative phase" in meta["phase_convention"]
    assert meta["caveat"].startswith("PRL calls on filtered phase")
    assert (tmp_path / "susceptibility_from_phase.nii.gz").exists()
    rows = read_table(tmp_path / "rims.tsv")
    assert [r["prl_candidate"] for r in rows] == [False, True, False, False]  # lesion 1 enhances
    assert rows[0]["prl_exclusion"] == "enhancing" and rows[0]["enhancing"] is True
    assert main(args + ["--phase-sign", "+1"]) == 0
    assert not any(r["prl_candidate"] for r in read_table(tmp_path / "rims.tsv"))


def test_rims_bad_input(case, tmp_path, capsys):
    assert main(["rims", "--lesions", str(case / "missing.nii.gz"), "--qsm", str(case / "qsm.nii.gz"),
                 "--out", str(tmp_path)]) == 2
    assert "--lesions" in capsys.readouterr().err
    assert main(["rims", "--lesions", str(case / "lesions.nii.gz"), "--qsm", str(case / "shifted.nii.gz"),
                 "--out", str(tmp_path)]) == 2
    assert "different voxel grids" in capsys.readouterr().err
    # argparse errors are one line and exit status 2 (mspathobiology.cli), not a SystemExit with usage text
    assert main(["rims", "--lesions", "x", "--qsm", "q", "--phase", "p", "--out", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_rims_with_t2star_adds_cvs(tmp_path):
    labels, mag, spacing, kinds = vein_lesions(["central", "none", "central"], seed=1)
    write_image(to_image(labels, spacing), tmp_path / "l.nii.gz")
    write_image(to_image(mag, spacing), tmp_path / "t2s.nii.gz")
    qsm = np.random.default_rng(0).normal(0, 3, labels.shape).astype(np.float32)
    write_image(to_image(qsm, spacing), tmp_path / "q.nii.gz")
    summary = run_case({"lesions": tmp_path / "l.nii.gz", "qsm": tmp_path / "q.nii.gz",
                        "t2star": tmp_path / "t2s.nii.gz"}, tmp_path / "out")
    rows = read_table(tmp_path / "out" / "rims.tsv")
    assert [r["cvs"] for r in rows] == ["CVS+", "CVS-", "CVS+"]
    assert summary["cvs_positive"] == 2 and summary["cvs_rule40"] is True and summary["prl_candidates"] == 0
    assert all(isinstance(v, (int, float, str, bool)) for v in summary.values())


def test_agreement_command(tmp_path, capsys):
    labels = {"ann": ["PRL", "PRL", "not_PRL", "indeterminate", "not_PRL", "PRL"],
              "bob": ["PRL", "not_PRL", "not_PRL", "indeterminate", "not_PRL", "PRL"]}
    paths = []
    for case in ("sub-01", "sub-02"):
        for rater, labs in labels.items():
            with RatingSession(tmp_path, case, rater, [{"id": i + 1} for i in range(6)], order="id") as s:
                for lesion, lab in zip(s.order, labs if case == "sub-01" else labs[::-1]):
                    s.rate(lesion, lab)
            paths.append(str(s.path))
    out = tmp_path / "agreement.json"
    assert main(["agreement", *paths, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Cohen's kappa" in text and "Fleiss' kappa" in text and "ICC(2,1)" in text
    result = json.loads(out.read_text())["prl"]
    from sklearn.metrics import cohen_kappa_score
    assert result["cohen_kappa"] == pytest.approx(cohen_kappa_score(labels["ann"] * 2, labels["bob"] * 2))
    assert result["counts"] == {"sub-01": {"ann": 3, "bob": 2}, "sub-02": {"ann": 3, "bob": 2}}
    assert main(["agreement", str(tmp_path / "nope_rater-x_ratings.tsv")]) == 2


def test_rims_anatomy_option(tmp_path, capsys):
    labels, qsm, spacing, truth = shell_lesions(["none", "full"], seed=8)
    center = truth[0]["center_kji"]
    k, j, i = np.indices(labels.shape)
    grey = np.sqrt((k - center[0]) ** 2 + (j - center[1]) ** 2 + (i - center[2]) ** 2)
    grey = (grey > 4.0) & (grey <= 5.5)
    aseg = np.where(grey, 3, 2).astype(np.uint32)  # FreeSurfer: 3 cortex, 2 white matter
    write_image(to_image(labels, spacing), tmp_path / "l.nii.gz")
    write_image(to_image((qsm + 35.0 * grey).astype(np.float32), spacing), tmp_path / "q.nii.gz")
    write_image(to_image(aseg, spacing), tmp_path / "aseg.nii.gz")
    base = ["rims", "--lesions", str(tmp_path / "l.nii.gz"), "--qsm", str(tmp_path / "q.nii.gz")]
    assert main(base + ["--out", str(tmp_path / "a")]) == 0
    assert "note: without --anatomy" in capsys.readouterr().out
    assert main(base + ["--anatomy", str(tmp_path / "aseg.nii.gz"), "--out", str(tmp_path / "b")]) == 0
    assert [r["prl_candidate"] for r in read_table(tmp_path / "a" / "rims.tsv")] == [True, True]
    assert [r["prl_candidate"] for r in read_table(tmp_path / "b" / "rims.tsv")] == [False, True]


def test_analyse_in_memory_matches_run_case(case, tmp_path):
    from mspathobiology.io import read_image
    from mspathobiology.rims import RimsResult, analyse
    images = {"lesions": read_image(case / "lesions.nii.gz", "label"), "qsm": read_image(case / "qsm.nii.gz")}
    table = [{"id": 1, "enhancing": False}, {"id": 2, "enhancing": True}, {"id": 3, "enhancing": None}]
    result = analyse(images, lesion_table=table)
    assert isinstance(result, RimsResult) and result.info["enhancement_source"] == "lesion table"
    assert [r["prl_candidate"] for r in result.rows] == [True, False, False, False]
    assert result.rows[1]["prl_exclusion"] == "enhancing" and result.rows[2]["enhancing"] is None
    assert result.susceptibility is None and result.summary["prl_excluded_enhancing"] == 1
    summary = run_case({"lesions": case / "lesions.nii.gz", "qsm": case / "qsm.nii.gz"}, tmp_path, lesion_table=table)
    assert summary == result.summary
    written = read_table(tmp_path / "rims.tsv")
    assert set(written[0]) == set(result.rows[0])  # the same keys everywhere
    assert [r["rim_score"] for r in written] == pytest.approx([r["rim_score"] for r in result.rows])
    with pytest.raises(Exception, match="QSM"):
        analyse({"lesions": images["lesions"]})
