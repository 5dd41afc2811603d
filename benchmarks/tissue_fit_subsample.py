"""Tissue volumes with the mixture fitted on a seeded subsample against the fit on every voxel (issue 17).

The atrophy analysis (lesion filling's NAWM mixture, the CSF/GM/WM mixture + MRF) fits its
Gaussian mixtures on at most ``TISSUE_FIT_SAMPLES`` voxels (a seeded random subsample), then
classifies every voxel. Here the same analysis runs twice on the same inputs, subsample and all
voxels, and prints GM, WM, CSF, brain and BPF of both, their relative difference (target: within
0.5 %) and the time of each:

- real head: Colin27 ``ch2.nii.gz`` (Debian mricron-data), whole head at 1 mm, brain extracted
  (the same extraction for both runs), N4;
- phantom: the 1 mm digital MS phantom (160 x 192 x 160) with its lesions and brain mask, whose
  exact tissue volumes are also printed (truth from the phantom generator, not from this code).

Run: python benchmarks/tissue_fit_subsample.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MSPathobiology"))

from real_data import load_ch2  # noqa: E402

from mspathobiology.atrophy.brain_extraction import template_fit  # noqa: E402
from mspathobiology.atrophy.pipeline import analyse_tissues  # noqa: E402
from mspathobiology.defaults.atrophy import TISSUE_FIT_SAMPLES  # noqa: E402
from mspathobiology.phantom import generate_subject  # noqa: E402

TARGET_PERCENT = 0.5
KEYS = ("gm_ml", "wm_ml", "csf_ml", "brain_ml", "bpf")


def compare(name: str, truth: dict | None = None, **inputs) -> float:
    """Run both fits on ``inputs``, print the table; return the worst |difference| in %."""
    template_fit(inputs["t1"])   # the brain extraction / template ICV, once, not timed (then reused by both runs)
    runs = {}
    for label, samples in (("subsample", TISSUE_FIT_SAMPLES), ("all voxels", None)):
        start = time.perf_counter()
        runs[label] = analyse_tissues(fit_samples=samples, **inputs).summary
        runs[label]["seconds"] = time.perf_counter() - start
    sub, full = runs["subsample"], runs["all voxels"]
    print(f"{name}: fit on {TISSUE_FIT_SAMPLES:,} voxels {sub['seconds']:.1f} s, on all voxels "
          f"{full['seconds']:.1f} s (whole analysis; brain extraction made before, reused by both)")
    print(f"  {'':9s} {'subsample':>10s} {'all voxels':>10s} {'diff %':>7s}" + (f" {'truth':>9s}" if truth else ""))
    worst = 0.0
    for key in KEYS:
        diff = 100.0 * (sub[key] / full[key] - 1.0)
        worst = max(worst, abs(diff))
        extra = f" {truth[key]:9.3f}" if truth and key in truth else ""
        print(f"  {key:9s} {sub[key]:10.3f} {full[key]:10.3f} {diff:+7.3f}{extra}")
    print(f"{'PASS' if worst <= TARGET_PERCENT else 'FAIL'}  {name}: worst |difference| {worst:.3f} % "
          f"(target <= {TARGET_PERCENT} %)\n", flush=True)
    return worst


def main() -> int:
    worst = []
    ch2 = load_ch2()
    worst.append(compare("Colin27 ch2, 1 mm whole head (real)", t1=ch2))
    subject = generate_subject(seed=0, small=False, sessions=1)
    session = subject.sessions[0]
    tissue = session.truth["tissue_ml"]
    truth = {"gm_ml": tissue["gm"], "wm_ml": tissue["wm"], "csf_ml": tissue["csf"], "brain_ml": tissue["brain"],
             "bpf": session.truth["bpf"]}
    worst.append(compare("digital phantom, 1 mm, lesions filled", truth=truth, t1=session.images["t1"],
                         lesions=session.lesions, brain_mask=session.brain_mask, anatomy=session.anatomy))
    ok = max(worst) <= TARGET_PERCENT
    print(f"{'PASS' if ok else 'FAIL'}  tissue volumes with the subsampled fit within {max(worst):.3f} % of the "
          f"full fit on the real head and the phantom (target <= {TARGET_PERCENT} %)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
