"""Benchmark: a phantom cohort of 20 sessions (10 subjects x 2 sessions, small grids) run with
``mspathobiology run --jobs 2``, then run again.

Prints the wall time, the time per case (sum of its analyses' times), the failures, and
whether the rerun redid nothing. Targets (issue 8): every session runs with --jobs 2 and
no failure; the rerun runs no analysis.

    python benchmarks/cohort_run.py [--subjects 10] [--sessions 2] [--jobs 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_command(dataset: Path, out: Path, jobs: int, ignore: str) -> tuple[float, dict, str]:
    command = [sys.executable, "-m", "mspathobiology", "run", str(dataset), "--out", str(out), "--jobs", str(jobs),
               "--quiet"] + (["--ignore", ignore] if ignore else [])
    print("$ " + " ".join(["mspathobiology"] + command[3:]))
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        print(done.stdout, done.stderr)
        raise SystemExit(f"mspathobiology run exited with {done.returncode}")
    return wall, json.loads((out / "cohort_run.json").read_text()), done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--ignore", default="lesions",
                        help="image keys left out (default: lesions, so FLAIR is segmented as in the demo; '' keeps "
                             "the phantom's truth lesion maps)")
    parser.add_argument("--workdir", help="keep the dataset and outputs here (default: a temporary folder)")
    args = parser.parse_args()

    from mspathobiology.phantom import write_dataset

    tmp = None
    if args.workdir:
        work = Path(args.workdir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cohort_bench_")
        work = Path(tmp.name)
    dataset, out = work / "bids", work / "derivatives"
    n_sessions = args.subjects * args.sessions
    start = time.perf_counter()
    if not (dataset / "dataset_description.json").exists():
        write_dataset(dataset, n_subjects=args.subjects, seed=0, small=True, sessions=args.sessions)
    print(f"phantom dataset: {args.subjects} subjects x {args.sessions} sessions = {n_sessions} sessions, "
          f"written in {time.perf_counter() - start:.1f} s")

    wall, run, stdout = run_command(dataset, out, args.jobs, args.ignore)
    records = run["records"]
    per_case: dict[str, float] = {}
    for r in records:
        per_case[r["case"]] = per_case.get(r["case"], 0.0) + (r.get("seconds") or 0.0)
    failed = [r for r in records if r["status"] == "failed"]
    ran = [r for r in records if r["ran"]]
    cases = sorted({r["case"] for r in records})
    print(f"run --jobs {args.jobs}: wall {wall:.1f} s for {len(cases)} sessions, {len(ran)} analyses ran")
    times = sorted(per_case.values())
    print(f"per case (sum of its analyses, incl. change/PBVC in the later session): median "
          f"{statistics.median(times):.1f} s, min {times[0]:.1f} s, max {times[-1]:.1f} s")
    by_analysis: dict[str, list] = {}
    for r in ran:
        by_analysis.setdefault(r["analysis"], []).append(r.get("seconds") or 0.0)
    for name, secs in sorted(by_analysis.items()):
        print(f"  {name:14s} n={len(secs):3d} median {statistics.median(secs):6.2f} s")
    statuses = {}
    for r in records:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    print(f"analysis statuses: {statuses}")
    for r in failed:
        print(f"  FAILED {r['case']} {r['analysis']}: {r['error']}")
    print(f"failures: {len(failed)}")

    wall2, rerun, _ = run_command(dataset, out, args.jobs, args.ignore)
    redone = [r for r in rerun["records"] if r["ran"]]
    print(f"rerun: wall {wall2:.1f} s, analyses redone: {len(redone)}")

    unavailable = sorted({r["analysis"] for r in records if r["status"] == "unavailable"})
    if unavailable:
        print(f"NOTE analyses not available in this installation (not run): {', '.join(unavailable)}")
    ok_all = len(cases) == n_sessions and not failed
    print(f"TARGET {n_sessions} sessions run with --jobs {args.jobs} without failure: {'MET' if ok_all else 'NOT MET'}")
    print(f"TARGET rerun redoes nothing: {'MET' if not redone else 'NOT MET'}")
    print(f"TARGET all six analyses available and run: {'MET' if not unavailable else 'NOT MET'}")
    if tmp is not None:
        tmp.cleanup()
    return 0 if ok_all and not redone and not unavailable else 1


if __name__ == "__main__":
    sys.exit(main())
