"""``mspathobiology run DATASET --out DERIVATIVES``: every analysis of a cohort, resumable."""

from pathlib import Path

from ..arguments import input_path, output_folder, positive_int

NAME = "run"
HELP = ("Run every analysis the images of each case allow (lesions, lesion change, rims, atrophy, PBVC, network) "
        "over a BIDS dataset, a folder of case folders or a CSV/TSV case list; skip finished work; write cohort "
        "tables.")


def add_arguments(parser):
    from ..cohort.runner import GROUPS

    parser.add_argument("dataset", type=input_path, help="BIDS dataset folder, folder of case folders, or CSV/TSV case list")
    parser.add_argument("--out", type=output_folder, help="derivatives folder (default: DATASET/derivatives/mspathobiology)")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="cases run in parallel (processes; default 1); each job gets cores/jobs threads")
    groups = "; ".join(f"{g} = {', '.join(a)}" for g, a in GROUPS.items())
    parser.add_argument("--only", help=f"comma-separated groups or analyses to run ({groups}; or one analysis: "
                                       "lesion_change, pbvc)")
    parser.add_argument("--lesions-from", metavar="DERIVATIVE_NAME",
                        help="take lesion maps (desc-lesions_dseg) from DATASET/derivatives/DERIVATIVE_NAME, e.g. "
                             "phantom (ground truth) or an external segmentation; by default no derivative lesion "
                             "map is used and FLAIR is segmented, except where your own corrections exist "
                             "(derivatives/mspathobiology-review)")
    parser.add_argument("--no-corrections", action="store_true",
                        help="do not use readers' saved lesion corrections")
    parser.add_argument("--reader", help="use only this reader's saved lesion corrections")
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="local processes (default) or a dask.distributed cluster")
    parser.add_argument("--scheduler", help="dask scheduler address, e.g. tcp://10.0.0.5:8786 "
                                            "(with --executor dask; none = a local dask cluster of --jobs workers)")
    parser.add_argument("--ignore", default="", help="comma-separated image keys to leave out of every case, e.g. "
                                                     "lesions (segment FLAIR even where a correction exists)")
    parser.add_argument("--report", action="store_true", help="also write the HTML reports")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..cohort.runner import default_out, run_cohort

    out = Path(args.out) if args.out else default_out(args.dataset)
    result = run_cohort(args.dataset, out, jobs=args.jobs, only=args.only, executor=args.executor,
                        scheduler=args.scheduler, progress=not args.quiet,
                        ignore=[k.strip() for k in args.ignore.split(",") if k.strip()],
                        lesions_from=args.lesions_from, corrections=not args.no_corrections, reader=args.reader)
    print(summary_text(result))
    if args.report:
        from ..cohort.report import write_reports

        index = write_reports(out)
        print(f"report: {index.resolve()}")
    return 1 if result.failed else 0


def lesion_source_text(result) -> str:
    """``lesions: segmented from FLAIR (2 sessions); ground truth (derivatives/phantom) (2 sessions)``."""
    parts = [f"{source} ({n} session{'s' if n != 1 else ''})" for source, n in sorted(result.lesion_sources.items())]
    return "lesions: " + ("; ".join(parts) if parts else "no sessions")


def summary_text(result) -> str:
    ran = result.ran
    skipped_done = [r for r in result.records if r["status"] == "done" and not r["ran"]]
    skipped = [r for r in result.records if r["status"] in ("skipped", "unavailable")]
    sessions = f"{len(result.rows)} session{'s' if len(result.rows) != 1 else ''}"
    lines = [lesion_source_text(result),
             f"{sessions}, {result.total or len(result.records)} analyses: "
             f"{sum(r['status'] == 'done' for r in ran)} ran, {len(skipped_done)} already done, "
             f"{len(result.failed)} failed, {len(skipped)} skipped (no input or not selected) "
             f"in {result.seconds:.1f} s ({result.jobs} job{'s' if result.jobs != 1 else ''} x "
             f"{result.threads_per_job} thread{'s' if result.threads_per_job != 1 else ''})",
             f"cohort table: {Path(result.tables.get('cohort')).resolve() if result.tables.get('cohort') else ''}"]
    unavailable = sorted({r["analysis"] for r in result.records if r["status"] == "unavailable"})
    if unavailable:
        lines.append(f"not available in this installation: {', '.join(unavailable)}")
    for failure in result.failures:
        lines.append(f"FAILED {failure['participant_id']} {failure['session_id']} {failure['analysis']}: "
                     f"{failure['error']}")
    if result.failures:
        lines.append(f"failures: {Path(result.tables.get('failures')).resolve()}")
    return "\n".join(lines)
