"""``mspathobiology agreement``: inter-rater agreement of lesion ratings (kappas and count ICC)."""

from ..arguments import input_file, output_file
from ..defaults import rims as D

NAME = "agreement"
HELP = ("Cohen's kappa (2 raters), Fleiss' kappa (n raters) and the per-subject PRL (or CVS+) count ICC "
        "from rating files written by the MSRimLesions module.")


def add_arguments(parser):
    parser.add_argument("ratings", nargs="+", metavar="RATINGS.tsv", type=input_file,
                        help="rating files <case>_rater-<rater>_ratings.tsv (with their .json sidecars)")
    parser.add_argument("--icc-form", default=D.DEFAULT_ICC_FORM,
                        choices=("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)"),
                        help=f"Shrout & Fleiss (1979) form for the count ICC (default {D.DEFAULT_ICC_FORM})")
    parser.add_argument("--json", metavar="OUT", type=output_file, help="also write the results as JSON")


def _fmt(value):
    return "n/a" if value is None or value != value else f"{value:.3f}"


def run(args) -> int:
    from ..io import write_json
    from ..rims.agreement import agreement_from_files

    result = agreement_from_files(args.ratings, icc_form=args.icc_form)
    for task, out in result.items():
        print(f"[{task}] raters: {', '.join(out['raters'])}; lesions rated by all: {out['n_lesions']}; "
              f"cases: {out['n_cases']}")
        if len(out["raters"]) == 2:
            print(f"  Cohen's kappa: {_fmt(out['cohen_kappa'])}")
        else:
            for pair, kappa in out["pairwise_cohen_kappa"].items():
                print(f"  Cohen's kappa {pair.replace('|', ' vs ')}: {_fmt(kappa)}")
        print(f"  Fleiss' kappa: {_fmt(out['fleiss_kappa'])}")
        print(f"  {out['icc_form']} of per-subject {out['positive_label']} counts: {_fmt(out['icc'])}"
              + (f" ({out['note']})" if "note" in out else ""))
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0
