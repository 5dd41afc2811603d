"""Benchmark: a phantom cohort (4 subjects x 2 sessions, small grids) run with
``mspathobiology run`` at ``--jobs 1`` and at ``--jobs 2`` (each into fresh outputs), then
rerun at ``--jobs 2``.

Prints, side by side in one run, the wall time and the throughput (analyses and sessions
per minute) at each job count, the threads each job was allowed and used (SimpleITK, BLAS)
so that threads x jobs <= cores can be read off, the time per analysis, the failures, and
whether the rerun redid nothing. Targets (issues 8, 17): every session runs without
failure; throughput at --jobs 2 >= at --jobs 1; threads x jobs <= cores at both; the rerun
runs no analysis.

    python benchmarks/cohort_run.py [--subjects 4] [--sessions 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
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


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def summarise(label: str, wall: float, run: dict) -> dict:
    records = run["records"]
    ran = [r for r in records if r["ran"]]
    failed = [r for r in records if r["status"] == "failed"]
    sessions = sorted({r["case"] for r in records})
    threads = [r.get("threads") or {} for r in records]
    sitk = max((t.get("simpleitk") or 0 for t in threads), default=0)
    blas = max((t.get("blas") or 0 for t in threads), default=0)
    jobs, per_job = run.get("jobs") or 1, run.get("threads_per_job") or 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{label}: machine load average {load:.1f} (other processes share the cores)")
    print(f"{label}: wall {wall:.1f} s, {len(sessions)} sessions, {len(ran)} analyses ran, {len(failed)} failed; "
          f"throughput {60 * len(ran) / wall:.1f} analyses/min, {60 * len(sessions) / wall:.2f} sessions/min")
    print(f"  threads: {jobs} job(s) x {per_job} allowed = {jobs * per_job} <= {cores()} cores; "
          f"observed in the workers: SimpleITK {sitk}, BLAS {blas or 'n/a'}")
    for r in failed:
        print(f"  FAILED {r['case']} {r['analysis']}: {r['error']}")
    return {"wall": wall, "ran": len(ran), "failed": failed, "sessions": len(sessions),
            "oversubscribed": jobs * max(per_job, sitk, blas) > cores(), "records": records,
            "unavailable": sorted({r["analysis"] for r in records if r["status"] == "unavailable"})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--ignore", default="", help="image keys left out of every case")
    parser.add_argument("--workdir", help="keep the dataset and outputs here (default: a temporary folder)")
    args = parser.parse_args()

    from mspathobiology.phantom import write_dataset

    tmp = None
    if args.workdir:
        work = Path(args.workdir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cohort_bench_")
        work = Path(tmp.name)
    dataset = work / "bids"
    n_sessions = args.subjects * args.sessions
    start = time.perf_counter()
    if not (dataset / "dataset_description.json").exists():
        write_dataset(dataset, n_subjects=args.subjects, seed=0, small=True, sessions=args.sessions)
    print(f"phantom dataset: {args.subjects} subjects x {args.sessions} sessions = {n_sessions} sessions, "
          f"written in {time.perf_counter() - start:.1f} s; {cores()} cores")

    results = {}
    for jobs in (1, 2):
        out = work / f"derivatives-jobs{jobs}"
        if out.exists():
            import shutil

            shutil.rmtree(out)
        wall, run, _ = run_command(dataset, out, jobs, args.ignore)
        results[jobs] = summarise(f"run --jobs {jobs}", wall, run)

    by_analysis: dict[str, list] = {}
    for r in results[2]["records"]:
        if r["ran"]:
            by_analysis.setdefault(r["analysis"], []).append(r.get("seconds") or 0.0)
    print("time per analysis at --jobs 2:")
    for name, secs in sorted(by_analysis.items()):
        print(f"  {name:14s} n={len(secs):3d} median {statistics.median(secs):6.2f} s")

    wall2, rerun, _ = run_command(dataset, work / "derivatives-jobs2", 2, args.ignore)
    redone = [r for r in rerun["records"] if r["ran"]]
    print(f"rerun --jobs 2: wall {wall2:.1f} s, analyses redone: {len(redone)}")

    speedup = results[1]["wall"] / results[2]["wall"]
    print(f"throughput --jobs 2 / --jobs 1: {speedup:.2f}x")
    unavailable = sorted(set(results[1]["unavailable"]) | set(results[2]["unavailable"]))
    if unavailable:
        print(f"NOTE analyses not available in this installation (not run): {', '.join(unavailable)}")
    ok_all = all(r["sessions"] == n_sessions and not r["failed"] for r in results.values())
    not_over = not any(r["oversubscribed"] for r in results.values())
    checks = [(f"{n_sessions} sessions run at --jobs 1 and --jobs 2 without failure", ok_all),
              ("throughput at --jobs 2 >= at --jobs 1", speedup >= 1.0),
              ("threads x jobs <= cores at --jobs 1 and --jobs 2", not_over),
              ("rerun redoes nothing", not redone),
              ("all six analyses available and run", not unavailable)]
    for text, ok in checks:
        print(f"TARGET {text}: {'MET' if ok else 'NOT MET'}")
    if tmp is not None:
        tmp.cleanup()
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
