"""``mspathobiology demo [--out DIR]``: phantom cohort -> every analysis -> HTML reports."""

from pathlib import Path

from ..arguments import output_folder, positive_int
from ..defaults.cohort import DEMO_SESSIONS, DEMO_SUBJECTS

NAME = "demo"
HELP = ("Make a small digital-phantom MS cohort, run every analysis on it and write the HTML reports "
        "(nothing is downloaded).")


def add_arguments(parser):
    parser.add_argument("--out", default="mspathobiology-demo", type=output_folder, help="output folder (default: ./mspathobiology-demo)")
    parser.add_argument("--subjects", type=positive_int, default=DEMO_SUBJECTS, help=f"phantom subjects (default {DEMO_SUBJECTS})")
    parser.add_argument("--sessions", type=positive_int, default=DEMO_SESSIONS, help=f"sessions per subject (default {DEMO_SESSIONS})")
    parser.add_argument("--jobs", type=positive_int, default=1, help="cases run in parallel (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..cohort.demo import run_demo
    from .run import summary_text

    done = run_demo(Path(args.out), n_subjects=args.subjects, sessions=args.sessions, jobs=args.jobs,
                    progress=not args.quiet)
    print(summary_text(done["result"]))
    print(f"demo finished in {done['seconds']:.0f} s")
    print(f"open the report: {done['report'].resolve()}")
    return 1 if done["result"].failed else 0
