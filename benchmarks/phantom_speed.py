"""Phantom speed and truth-consistency benchmark (issue 3).

Targets: small case (2 visits, generated and written) < 30 s; full case (1 mm, 160 x 192 x 160,
2 visits, >= 50,000 streamlines, generated and written) < 180 s on 2 cores. Also prints how
well the ground truth matches the images: PBVC from brain masks vs the deformation's value
(target |difference| <= 0.05 percentage points), brain-mask change of a scan-rescan (target
<= 0.05 %), and the sizes of the case.

    python benchmarks/phantom_speed.py            # small and full
    python benchmarks/phantom_speed.py --small    # small only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MSPathobiology"))

from mspathobiology.phantom import generate_subject  # noqa: E402
from mspathobiology.phantom.dataset import write_session  # noqa: E402


def report(name, value, target, ok, unit=""):
    print(f"{name:55s} {value:10.3f} {unit:4s} target {target:14s} {'MEETS' if ok else 'FAILS'}")
    return ok


def run_case(small: bool, seed: int) -> bool:
    label = "small" if small else "full"
    t0 = time.perf_counter()
    subject = generate_subject(seed=seed, small=small, sessions=2)
    t_gen = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        for session in subject.sessions:
            write_session(tmp, subject, session)
        t_write = time.perf_counter() - t1
    total = t_gen + t_write
    limit = 30.0 if small else 180.0
    ok = True
    print(f"--- {label} case, seed {seed}: grid {subject.sessions[0].anatomy.GetSize()} "
          f"at {subject.sessions[0].anatomy.GetSpacing()[0]} mm")
    print(f"generate {t_gen:.1f} s, write {t_write:.1f} s")
    ok &= report(f"{label}: generate + write 2 visits", total, f"< {limit:.0f} s", total < limit, "s")
    base, follow = subject.sessions
    b0, b1 = (float(sitk.GetArrayViewFromImage(s.brain_mask).sum()) for s in (base, follow))
    mask_pbvc = 100.0 * (b1 / b0 - 1.0)
    truth = follow.truth["pbvc_percent"]
    print(f"{label}: PBVC truth (Jacobian integral) {truth:.4f} %, from brain masks {mask_pbvc:.4f} %")
    ok &= report(f"{label}: |PBVC masks - truth|", abs(mask_pbvc - truth), "<= 0.05 pp",
                 abs(mask_pbvc - truth) <= 0.05, "pp")
    rows = base.truth["lesions"]
    vols = [r["volume_mm3"] for r in rows]
    print(f"{label}: {len(rows)} baseline lesions, {min(vols):.0f}..{max(vols):.0f} mm^3; "
          f"follow-up {len(follow.truth['lesions'])} lesions; streamlines {len(base.streamlines)}; "
          f"regions {len(base.truth['connectome']['labels'])}; "
          f"disconnected {len(base.truth['disconnected_streamlines'])}")
    ok &= report(f"{label}: streamlines", len(base.streamlines), ">= 50000" if not small else ">= 1000",
                 len(base.streamlines) >= (1000 if small else 50000))
    ok &= report(f"{label}: parcellation regions", len(base.truth["connectome"]["labels"]), ">= 80",
                 len(base.truth["connectome"]["labels"]) >= 80)
    return ok


def run_rescan(small: bool, seed: int) -> bool:
    subject = generate_subject(seed=seed, small=small, sessions=2, rescan=True)
    b0, b1 = (float(sitk.GetArrayViewFromImage(s.brain_mask).sum()) for s in subject.sessions)
    change = 100.0 * (b1 / b0 - 1.0)
    return report(f"{'small' if small else 'full'}: scan-rescan brain-mask change", abs(change), "<= 0.05 %",
                  abs(change) <= 0.05, "%")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="small case only")
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the small-case truth checks")
    args = parser.parse_args(argv)
    ok = True
    for seed in range(args.seeds):
        ok &= run_case(True, seed)
    ok &= run_rescan(True, 0)
    if not args.small:
        ok &= run_case(False, 0)
    print("ALL TARGETS MET" if ok else "SOME TARGETS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
