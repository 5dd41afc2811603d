"""``mspathobiology run DATASET --out DERIVATIVES``: every analysis of a cohort, resumable."""

from pathlib import Path

NAME = "run"
HELP = ("Run every analysis the images of each case allow (lesions, rims, atrophy, network) over a BIDS "
        "dataset, a folder of case folders or a CSV/TSV case list; skip finished work; write cohort tables.")


def add_arguments(parser):
    parser.add_argument("dataset", help="BIDS dataset folder, folder of case folders, or CSV/TSV case list")
    parser.add_argument("--out", help="derivatives folder (default: DATASET/derivatives/mspathobiology)")
    parser.add_argument("--jobs", type=int, default=1, help="cases run in parallel (processes; default 1)")
    parser.add_argument("--only", help="comma-separated subset of: lesions,rims,atrophy,network")
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="local processes (default) or a dask.distributed cluster")
    parser.add_argument("--scheduler", help="dask scheduler address, e.g. tcp://10.0.0.5:8786 "
                                            "(with --executor dask; none = a local dask cluster of --jobs workers)")
    parser.add_argument("--ignore", default="", help="comma-separated image keys to leave out of every case, e.g. "
                                                     "lesions (segment FLAIR although a lesion derivative exists)")
    parser.add_argument("--report", action="store_true", help="also write the HTML reports")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..cohort.runner import default_out, run_cohort

    out = Path(args.out) if args.out else default_out(args.dataset)
    result = run_cohort(args.dataset, out, jobs=args.jobs, only=args.only, executor=args.executor,
                        scheduler=args.scheduler, progress=not args.quiet,
                        ignore=[k.strip() for k in args.ignore.split(",") if k.strip()])
    print(summary_text(result))
    if args.report:
        from ..cohort.report import write_reports

        index = write_reports(out)
        print(f"report: {index}")
    return 1 if result.failed else 0


def summary_text(result) -> str:
    ran = result.ran
    skipped_done = [r for r in result.records if r["status"] == "done" and not r["ran"]]
    lines = [f"{len(result.rows)} cases in {result.seconds:.1f} s: {sum(r['status'] == 'done' for r in ran)} "
             f"analyses ran, {len(skipped_done)} already done, {len(result.failed)} failed",
             f"cohort table: {result.tables.get('cohort')}"]
    unavailable = sorted({r["analysis"] for r in result.records if r["status"] == "unavailable"})
    if unavailable:
        lines.append(f"not available in this installation: {', '.join(unavailable)}")
    for failure in result.failures:
        lines.append(f"FAILED {failure['participant_id']} {failure['session_id']} {failure['analysis']}: "
                     f"{failure['error']}")
    if result.failures:
        lines.append(f"failures: {result.tables.get('failures')}")
    return "\n".join(lines)
