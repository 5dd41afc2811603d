"""Atrophy accuracy on phantom follow-ups with known atrophy (issue 6 "must show").

Prints, per case, the true PBVC, the measured PBVC (edge flux in halfway space, shared
intensity model) and the plain baseline (separate segmentation at each visit, PBVC =
brain-volume ratio), their |errors|, the mean |error|, a scan-rescan |PBVC|, tissue
volume errors (%), BPF error and the time per PBVC, each with PASS/FAIL.

    python benchmarks/atrophy_accuracy.py            # full 1 mm phantom (160x192x160), 4 seeds + rescan
    python benchmarks/atrophy_accuracy.py --quick    # small 2 mm phantom, same figures, faster
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MSPathobiology"))

from mspathobiology.atrophy import compute_pbvc  # noqa: E402
from mspathobiology.atrophy.pipeline import analyse_tissues  # noqa: E402
from mspathobiology.defaults.atrophy import (AIM_PBVC_MEAN_ABS_ERROR, TARGET_BPF_ERROR,  # noqa: E402
                                             TARGET_PBVC_MEAN_ABS_ERROR, TARGET_PBVC_SECONDS,
                                             TARGET_RESCAN_ABS_PBVC, TARGET_TISSUE_ERROR_PERCENT)
from mspathobiology.phantom import generate_subject  # noqa: E402


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def lesion_mask(session):
    return sitk.Cast(session.lesions > 0, sitk.sitkUInt8)


def measure(subject):
    base, follow = subject.sessions
    start = time.perf_counter()
    ours = compute_pbvc(base.images["t1"], follow.images["t1"], base.brain_mask, follow.brain_mask,
                        baseline_lesions=lesion_mask(base), followup_lesions=lesion_mask(follow))
    seconds = time.perf_counter() - start
    tissues = []
    for session in (base, follow):
        tissues.append(analyse_tissues(session.images["t1"], lesions=session.lesions,
                                       brain_mask=session.brain_mask, anatomy=session.anatomy).summary)
    plain = 100.0 * (tissues[1]["brain_ml"] / tissues[0]["brain_ml"] - 1.0)
    return ours, plain, seconds, tissues[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small 2 mm phantom instead of the full 1 mm one")
    parser.add_argument("--seeds", type=int, default=4, help="number of atrophy cases (seeds 0..N-1)")
    args = parser.parse_args(argv)
    small = args.quick
    size = "small phantom, 2 mm, 80x96x80" if small else "full phantom, 1 mm, 160x192x160"
    print(f"Atrophy accuracy on the {size}; {args.seeds} follow-ups + 1 scan-rescan\n")
    print(f"{'case':>10s} {'truth %':>8s} {'ours %':>8s} {'|err|':>6s} {'plain %':>8s} {'|err|':>6s} "
          f"{'calib':>6s} {'sec':>5s}")
    ours_err, plain_err, times, tissue_rows = [], [], [], []
    for seed in range(args.seeds):
        subject = generate_subject(seed=seed, small=small, sessions=2, rescan=False)
        truth = subject.sessions[1].truth["pbvc_percent"]
        ours, plain, seconds, tissue = measure(subject)
        ours_err.append(abs(ours["pbvc_percent"] - truth))
        plain_err.append(abs(plain - truth))
        times.append(seconds)
        tissue_rows.append((subject.sessions[0].truth, tissue))
        print(f"{'seed ' + str(seed):>10s} {truth:8.3f} {ours['pbvc_percent']:8.3f} {ours_err[-1]:6.3f} "
              f"{plain:8.3f} {plain_err[-1]:6.3f} {ours['calibration_factor']:6.3f} {seconds:5.1f}", flush=True)
    rescan = generate_subject(seed=100, small=small, sessions=2, rescan=True)
    r_ours, r_plain, r_seconds, r_tissue = measure(rescan)
    times.append(r_seconds)
    tissue_rows.append((rescan.sessions[0].truth, r_tissue))
    print(f"{'rescan':>10s} {0.0:8.3f} {r_ours['pbvc_percent']:8.3f} {abs(r_ours['pbvc_percent']):6.3f} "
          f"{r_plain:8.3f} {abs(r_plain):6.3f} {r_ours['calibration_factor']:6.3f} {r_seconds:5.1f}\n")

    mean_ours, mean_plain = float(np.mean(ours_err)), float(np.mean(plain_err))
    print(f"mean |PBVC error| ours  {mean_ours:.3f} pp (target <= {TARGET_PBVC_MEAN_ABS_ERROR}, aim "
          f"{AIM_PBVC_MEAN_ABS_ERROR})  {verdict(mean_ours <= TARGET_PBVC_MEAN_ABS_ERROR)}"
          f"{' (aim met)' if mean_ours <= AIM_PBVC_MEAN_ABS_ERROR else ''}")
    print(f"mean |PBVC error| plain {mean_plain:.3f} pp (separate segmentation per visit)  "
          f"{verdict(mean_plain <= TARGET_PBVC_MEAN_ABS_ERROR)}")
    print(f"scan-rescan |PBVC| ours {abs(r_ours['pbvc_percent']):.3f} % (target <= {TARGET_RESCAN_ABS_PBVC})  "
          f"{verdict(abs(r_ours['pbvc_percent']) <= TARGET_RESCAN_ABS_PBVC)}; plain {abs(r_plain):.3f} %")

    worst = {}
    bpf_err = []
    for truth, tissue in tissue_rows:
        for key in ("gm", "wm", "csf", "icv", "brain"):
            err = abs(100.0 * (tissue[f"{key}_ml"] / truth["tissue_ml"][key] - 1.0))
            worst[key] = max(worst.get(key, 0.0), err)
        bpf_err.append(abs(tissue["bpf"] - truth["bpf"]))
    for key, err in worst.items():
        print(f"tissue {key:5s} worst |error| {err:5.2f} % over {len(tissue_rows)} baselines "
              f"(target <= {TARGET_TISSUE_ERROR_PERCENT})  {verdict(err <= TARGET_TISSUE_ERROR_PERCENT)}")
    print(f"BPF worst |error| {max(bpf_err):.4f} (target <= {TARGET_BPF_ERROR})  "
          f"{verdict(max(bpf_err) <= TARGET_BPF_ERROR)}")
    slowest = max(times)
    label = "1 mm brain" if not small else "2 mm brain (run without --quick for the 1 mm figure)"
    print(f"time per PBVC, slowest {slowest:.1f} s on a {label} (target < {TARGET_PBVC_SECONDS:.0f} s on 2 cores)  "
          f"{verdict(slowest < TARGET_PBVC_SECONDS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
