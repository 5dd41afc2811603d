"""The full-case benchmark's inputs and command chain (issue 17), on a 4 mm sample of Colin27.

benchmarks/full_case.py times every stage on the 1 mm head; here only what could silently break it:
the real-derived case is built as documented (inserted lesions, rims outside them over their true
fractions), every stage's command line is accepted by ``mspathobiology``'s parser, and the
network stage runs on the case and its outputs hold what the benchmark reads. No timings.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import full_case  # noqa: E402

from mspathobiology.cli import build_parser  # noqa: E402


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("full_case")
    return folder, full_case.build_case(folder, mm=4.0, streamlines=2000)


def _stand_in_for_the_lesions_stage(built, out):
    """The truth labels and a lesion table header where the lesions stage writes its outputs."""
    (out / "lesions").mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.ReadImage(str(built["paths"]["truth_lesions"])), str(out / "lesions" / "lesions.nii.gz"))
    (out / "lesions" / "lesions.tsv").write_text("id\tenhancing\n")


def _array(path):
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def test_case_images_share_one_grid_and_hold_the_inserted_lesions(case):
    folder, built = case
    t1 = sitk.ReadImage(str(built["paths"]["t1"]))
    assert t1.GetSpacing() == pytest.approx((4.0, 4.0, 4.0))
    for name in ("flair", "qsm", "atlas", "truth_lesions"):
        other = sitk.ReadImage(str(built["paths"][name]))
        assert other.GetSize() == t1.GetSize() and other.GetOrigin() == pytest.approx(t1.GetOrigin())
    truth = _array(built["paths"]["truth_lesions"])
    assert 8 <= built["lesions"] == len(np.unique(truth[truth > 0]))  # of 12; the smallest vanish at 4 mm
    flair = _array(built["paths"]["flair"])
    brain_wm = np.median(flair[(_array(built["paths"]["atlas"]) > 0) & (truth == 0)])
    assert np.median(flair[truth > 0]) > brain_wm  # lesions are hyperintense
    assert built["streamlines"] == 2000 and built["paths"]["tractogram"].stat().st_size > 0


def test_rims_lie_outside_their_lesions_with_a_full_rim_brighter_than_no_rim(case):
    _, built = case
    truth = _array(built["paths"]["truth_lesions"])
    qsm = _array(built["paths"]["qsm"])
    shell_means = {}
    for n, fraction in built["rim_fractions"].items():
        lesion = truth == n
        shell = ndimage.binary_dilation(lesion, iterations=1) & ~lesion & (truth == 0)
        shell_means[n] = (fraction, float(qsm[shell].mean()))
    full = [m for f, m in shell_means.values() if f == 1.0]
    none = [m for f, m in shell_means.values() if f == 0.0]
    assert full and none
    assert min(full) > max(none) + full_case.RIM_PPB / 4
    assert built["rims"] == sum(f > 0 for f, _ in shell_means.values())


def test_every_stage_command_is_accepted_by_the_cli(case):
    folder, built = case
    _stand_in_for_the_lesions_stage(built, folder / "out")
    parser = build_parser()
    names = []
    for name, command in full_case.stages({k: str(v) for k, v in built["paths"].items()}, folder / "out"):
        args = parser.parse_args([str(c) for c in command])
        assert args.command == name
        names.append(name)
    assert names == ["lesions", "rims", "atrophy", "pbvc", "network"]


def test_network_stage_runs_and_the_benchmark_reads_its_outputs(case):
    folder, built = case
    out = folder / "out"
    _stand_in_for_the_lesions_stage(built, out)
    command = dict(full_case.stages({k: str(v) for k, v in built["paths"].items()}, out))["network"]
    done = subprocess.run([sys.executable, "-m", "mspathobiology", *map(str, command)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "MSPathobiology")})
    assert done.returncode == 0, done.stderr[-2000:]
    line = full_case.outcome("network", out)
    assert "nodes" in line and "cross lesions" in line, line
