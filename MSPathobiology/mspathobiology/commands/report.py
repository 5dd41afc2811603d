"""``mspathobiology report DERIVATIVES``: (re)write the HTML reports of a cohort run."""

from pathlib import Path

from ..arguments import input_folder

NAME = "report"
HELP = "Write the per-case HTML reports and the cohort summary page of a derivatives folder made by `run`."


def add_arguments(parser):
    parser.add_argument("derivatives", type=input_folder, help="folder given as --out to `mspathobiology run`")


def run(args) -> int:
    from ..cohort.report import write_reports

    index = write_reports(Path(args.derivatives))
    print(f"report: {index.resolve()}")
    return 0
