"""``mspathobiology sel``: slowly expanding lesions from three or more T1 visits."""

from ..arguments import input_file, mask_file, number, output_folder

NAME = "sel"
HELP = ("Slowly expanding lesions from >= 3 T1 visits (baseline first) and the baseline lesion labels: "
        "demons registration to the baseline, log-Jacobian corrected for global brain change, Elliott-style "
        "constant and concentric expansion -> OUT/sel.tsv, OUT/logjac_visit-NN.nii.gz, OUT/sel_summary.json.")


def add_arguments(parser):
    parser.add_argument("--visits", required=True, nargs="+", type=input_file, metavar="T1",
                        help="T1 images of the visits, baseline first (at least 3)")
    parser.add_argument("--lesions", required=True, type=mask_file,
                        help="baseline lesion labels or mask on the baseline T1 grid")
    parser.add_argument("--flair", nargs="+", type=input_file, metavar="FLAIR",
                        help="FLAIR of each visit on that visit's T1 grid (optional; adds FLAIR columns)")
    parser.add_argument("--brain-mask", type=mask_file,
                        help="baseline brain mask (default: brain extraction of the baseline T1)")
    parser.add_argument("--times", nargs="+", type=number(), metavar="T",
                        help="visit times, e.g. years from baseline (default 0 1 2 ...): the unit of every slope")
    parser.add_argument("--out", required=True, type=output_folder, help="output folder")


def run(args) -> int:
    from ..sel import run as run_sel

    summary = run_sel(args.visits, args.lesions, args.out, flair=args.flair, brain_mask=args.brain_mask,
                      times=args.times)
    share = summary["sel_volume_share"]
    print(f"sel_count {summary['sel_count']} (definite {summary['sel_definite_count']}) of "
          f"{summary['lesions_evaluated']} lesions >= {summary['min_voxels']} voxels")
    print(f"sel_volume_mm3 {summary['sel_volume_mm3']:.1f}; share of lesion volume "
          f"{'n/a' if share is None else format(share, '.3f')}")
    print("global_volume_change_percent " + " ".join(f"{v:.2f}" for v in summary["global_volume_change_percent"]))
    print(f"written to {args.out}")
    return 0
