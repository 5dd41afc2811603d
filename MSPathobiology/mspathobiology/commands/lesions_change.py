"""``mspathobiology lesions-change``: new, enlarging, shrinking, stable and resolved lesions between visits."""

from ..arguments import input_file, input_folder, output_folder

NAME = "lesions-change"
HELP = ("Compare two visits processed by 'mspathobiology lesions': register the follow-up rigidly to the "
        "baseline and write DIR/change.nii.gz, DIR/change.tsv and DIR/change_summary.json.")


def add_arguments(parser):
    parser.add_argument("--baseline", required=True, type=input_folder, help="output folder of 'lesions' for the baseline visit")
    parser.add_argument("--followup", required=True, type=input_folder, help="output folder of 'lesions' for the follow-up visit")
    parser.add_argument("--baseline-flair", dest="baseline_flair", type=input_file,
                        help="baseline FLAIR (default: the one recorded in the baseline summary.json)")
    parser.add_argument("--followup-flair", dest="followup_flair", type=input_file,
                        help="follow-up FLAIR (default: the one recorded in the follow-up summary.json)")
    parser.add_argument("--no-registration", dest="register", action="store_false", default=None,
                        help="assume the visits are already aligned on one grid")
    parser.add_argument("--out", required=True, type=output_folder, help="output folder")


def run(args) -> int:
    from ..lesions import run_change

    counts = run_change(args.baseline, args.followup, args.out, args.baseline_flair, args.followup_flair,
                        register=args.register)
    print(", ".join(f"{k.replace('lesions_', '')} {v}" for k, v in counts.items()) + f"; written to {args.out}")
    return 0
