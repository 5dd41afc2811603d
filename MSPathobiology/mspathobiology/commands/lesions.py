"""``mspathobiology lesions``: segment (or take) FLAIR lesions, label, measure and place them."""

from ..arguments import input_file, mask_file, non_negative_float, output_folder
from ..defaults.common import DEFAULT_CONNECTIVITY, MIN_LESION_VOLUME_MM3

NAME = "lesions"
HELP = ("Segment FLAIR lesions (or label a given mask), write DIR/lesions.nii.gz (voxel = lesion id), "
        "DIR/lesions.tsv (lesion table) and DIR/summary.json (counts, volumes mm^3 by location, "
        "dissemination in space).")


def add_arguments(parser):
    parser.add_argument("--flair", required=True, type=input_file, help="FLAIR image (NIfTI/NRRD)")
    parser.add_argument("--t1", type=input_file, help="T1-weighted image of the same session (optional; recommended for whole-head "
                                     "images): the brain mask is extracted from it, and it is registered rigidly "
                                     "to the FLAIR when on another grid")
    parser.add_argument("--t1-post", dest="t1post", type=input_file, help="post-contrast T1 on the T1's grid (needs --t1): "
                                                         "marks enhancing lesions")
    parser.add_argument("--anatomy", type=input_file, help="FreeSurfer aseg / SynthSeg labelmap on the FLAIR grid (for locations)")
    parser.add_argument("--brain-mask", dest="brain_mask", type=mask_file,
                        help="brain mask on the FLAIR grid (else extracted from --t1; with a FLAIR alone, the FLAIR "
                             "must be skull-stripped); a mask made here is written to DIR/brain_mask.nii.gz")
    parser.add_argument("--labels", type=mask_file, help="lesion mask or labelmap (e.g. an expert's): skips segmentation")
    parser.add_argument("--keep-ids", action="store_true",
                        help="with --labels: keep the labelmap's lesion ids instead of renumbering by size")
    parser.add_argument("--connectivity", type=int, choices=(6, 18, 26), default=DEFAULT_CONNECTIVITY,
                        help="voxel connectivity of a lesion (default %(default)s)")
    parser.add_argument("--min-volume", dest="min_volume", type=non_negative_float, default=MIN_LESION_VOLUME_MM3,
                        help="smallest lesion kept, mm^3 (default %(default)s)")
    parser.add_argument("--brain-extraction", dest="brain_extraction", choices=("template", "threshold"),
                        help="T1 brain extraction when no --brain-mask is given (default: template, MNI152 "
                             "registered; threshold: for skull-stripped or synthetic T1)")
    parser.add_argument("--no-bias-correction", dest="bias_correction", action="store_false", default=None,
                        help="skip N4 bias field correction")
    parser.add_argument("--out", required=True, type=output_folder, help="output folder")


def run(args) -> int:
    from ..lesions import run_case

    images = {"flair": args.flair, "t1": args.t1, "t1post": args.t1post, "anatomy": args.anatomy,
              "brain_mask": args.brain_mask, "lesions": args.labels}
    summary = run_case({k: v for k, v in images.items() if v}, args.out, connectivity=args.connectivity,
                       min_volume_mm3=args.min_volume, bias_correction=args.bias_correction,
                       keep_ids=args.keep_ids, brain_extraction=args.brain_extraction)
    from pathlib import Path

    from ..io import read_json

    method = read_json(Path(args.out) / "summary.json").get("brain_mask_method")
    print(f"{summary['lesion_count']} lesions, {summary['lesion_volume_mm3']:.1f} mm^3; "
          f"dissemination in space (McDonald 2017, brain MRI): "
          f"{'met' if summary.get('dis_2017_met') else 'not shown'}; brain mask: {method}; written to {args.out}")
    return 0
