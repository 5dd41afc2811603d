"""``mspathobiology network``: connectome, graph measures and lesion disconnection of one case."""

import sys
from pathlib import Path

from ..arguments import input_file, mask_file, non_negative_float, output_folder
from ..defaults.networks import DEFAULT_ASSIGNMENT, DEFAULT_WEIGHT, SAMPLING_STEP_VOXELS

NAME = "network"
HELP = ("Build a structural connectome from a tractogram (.tck/.trk/.trx/.vtk/.vtp, RAS mm, read in chunks) "
        "and a parcellation; write graph measures of the intact and, with --lesions, the lesioned network, and "
        "per-edge and per-region disconnection.")


def add_arguments(parser):
    parser.add_argument("--tractogram", required=True, type=input_file, help="tractogram file (RAS mm)")
    parser.add_argument("--parcellation", required=True, type=input_file, help="label image (NIfTI/NRRD), one value per region")
    parser.add_argument("--lesions", type=mask_file, help="lesion mask or lesion label image")
    parser.add_argument("--scalar", type=input_file, help="scalar map (e.g. FA) sampled along streamlines for --weight mean_scalar")
    parser.add_argument("--assignment", default=DEFAULT_ASSIGNMENT,
                        help="endpoint assignment: 'end' (nearest voxel, as DIPY) or 'radial:R' (search up to R mm "
                             "for a labelled voxel, as MRtrix3 tck2connectome; 'radial' = 4 mm). Default: %(default)s")
    parser.add_argument("--weight", default=DEFAULT_WEIGHT, choices=("count", "invlength", "invnodevol", "mean_scalar"),
                        help="edge weight, as MRtrix3 tck2connectome: count, invlength (-scale_invlength), "
                             "invnodevol (-scale_invnodevol), mean_scalar (mean over the edge of each streamline's "
                             "length-weighted mean of --scalar, = tcksample -stat_tck mean). Default: %(default)s")
    parser.add_argument("--keep-unassigned", action="store_true",
                        help="keep label 0 (unassigned endpoints) as the first row and column")
    parser.add_argument("--keep-diagonal", action="store_true", help="keep self-connections on the diagonal")
    parser.add_argument("--step", type=non_negative_float, default=SAMPLING_STEP_VOXELS,
                        help="lesion crossing: 0 = exact voxel traversal of every segment (default), or a sampling "
                             "step along streamlines in voxels (<= 1; NeMo/LQT sample at about 0.5)")
    parser.add_argument("--vtk-space", choices=("RAS", "LPS"), type=str.upper,
                        help="frame of a .vtk/.vtp file that has no SPACE tag (required for such files: MRtrix3 "
                             "tckconvert writes RAS, Slicer >= 4.11 writes LPS with a tag); the space used is "
                             "recorded in global.json")
    parser.add_argument("--out", required=True, type=output_folder, help="output folder")


def run(args) -> int:
    import warnings

    from ..networks import EmptyTractogramWarning, run_case

    images = {"tractogram": args.tractogram, "parcellation": args.parcellation}
    if args.lesions:
        images["lesions"] = args.lesions
    if args.scalar:
        images["scalar"] = args.scalar
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EmptyTractogramWarning)
        summary = run_case(images, Path(args.out), assignment=args.assignment, weight=args.weight,
                           drop_unassigned=not args.keep_unassigned, zero_diagonal=not args.keep_diagonal,
                           step_voxels=args.step, vtk_space=args.vtk_space)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        print(f"{key:<{width}}  {value:.6g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    print(f"written to {args.out}")
    return 0
