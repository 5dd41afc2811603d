"""``mspathobiology rims``: paramagnetic rim scores (and the central vein sign) of every lesion."""

import sys
from pathlib import Path

from ..arguments import input_file, mask_file, non_negative_float, output_folder, positive_float
from ..defaults import rims as D

NAME = "rims"
HELP = ("Score paramagnetic rims of labeled lesions on QSM, phase or SWI (NAIMS PRL candidates) and, with T2*, "
        "the central vein sign; writes DIR/rims.tsv and DIR/rims.json.")


def _sign(text):
    value = int(text)
    if value not in (1, -1):
        raise ValueError(text)
    return value


def add_arguments(parser):
    parser.add_argument("--lesions", required=True, type=mask_file, help="lesion label image (voxel = lesion id)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--qsm", type=input_file, help="QSM / susceptibility map, ppb (paramagnetic positive)")
    source.add_argument("--phase", type=input_file, help="unwrapped high-pass filtered phase, rad (inverted locally to susceptibility)")
    source.add_argument("--swi", type=input_file, help="SWI magnitude (veins and rims dark)")
    parser.add_argument("--phase-sign", type=_sign, default=D.DEFAULT_PHASE_SIGN, choices=(1, -1),
                        metavar="{+1,-1}",
                        help="phase = SIGN * gamma * dB * TE, i.e. +1 if paramagnetic sources give positive "
                             f"phase (default {D.DEFAULT_PHASE_SIGN:+d}; vendors differ)")
    parser.add_argument("--b0", type=positive_float, dest="b0_tesla",
                        help=f"field strength of the phase, T (default: sidecar, else {D.DEFAULT_B0_TESLA:g})")
    parser.add_argument("--te", type=positive_float, dest="te_ms",
                        help=f"echo time of the phase, ms (default: sidecar, else {D.DEFAULT_TE_MS:g})")
    parser.add_argument("--flair", type=input_file, help="FLAIR (recorded; not needed for scoring)")
    parser.add_argument("--t2star", type=input_file, help="T2* magnitude or SWI (veins dark): adds central vein sign columns")
    parser.add_argument("--t1-post", dest="t1post", type=input_file, help="T1 post-contrast: enhancing lesions are not PRL candidates")
    parser.add_argument("--t1", type=input_file, help="T1 pre-contrast: with --t1-post, enhancement is judged on the post/pre gain")
    parser.add_argument("--lesion-table", type=input_file, help="lesion table whose 'enhancing' column marks enhancing lesions")
    parser.add_argument("--anatomy", type=input_file, help="FreeSurfer aseg labelmap: rims are judged against white matter only "
                                          "(recommended)")
    parser.add_argument("--wm-mask", type=mask_file, help="white-matter mask (instead of --anatomy)")
    parser.add_argument("--brain-mask", type=mask_file, help="brain mask (used when neither --anatomy nor --wm-mask is given)")
    parser.add_argument("--band-inner-mm", type=non_negative_float, default=D.EDGE_BAND_INNER_MM,
                        help=f"edge band depth inside the lesion, mm (default {D.EDGE_BAND_INNER_MM})")
    parser.add_argument("--band-outer-mm", type=non_negative_float, default=D.EDGE_BAND_OUTER_MM,
                        help=f"edge band width outside the lesion, mm (default {D.EDGE_BAND_OUTER_MM})")
    parser.add_argument("--resample-lesions", action="store_true",
                        help="resample the lesion labels onto the QSM/phase grid (nearest neighbour) "
                             "instead of refusing different grids")
    parser.add_argument("--out", required=True, type=output_folder, help="output folder")


def run(args) -> int:
    from ..rims.pipeline import phase_convention, run_case

    images = {"lesions": args.lesions, "qsm": args.qsm, "phase": args.phase, "swi": args.swi, "flair": args.flair,
              "t2star": args.t2star, "t1post": args.t1post, "t1": args.t1, "brain_mask": args.brain_mask,
              "anatomy": args.anatomy, "wm_mask": args.wm_mask}
    summary = run_case({k: v for k, v in images.items() if v}, Path(args.out), phase_sign=args.phase_sign,
                       lesion_table=args.lesion_table, resample_lesions=args.resample_lesions,
                       b0_tesla=args.b0_tesla, te_ms=args.te_ms,
                       band_inner_mm=args.band_inner_mm, band_outer_mm=args.band_outer_mm)
    print(f"{summary['prl_lesions_scored']} lesions scored on {summary['rim_map']}: "
          f"{summary['prl_candidates']} PRL candidates "
          f"({summary['prl_excluded_enhancing']} rim lesions excluded as enhancing)")
    if summary["rim_map"] == "phase":
        print(f"phase convention: {phase_convention(args.phase_sign)}")
        print(f"warning: {D.PHASE_CAVEAT}", file=sys.stderr)
    if "cvs_positive" in summary:
        frac = summary["cvs_fraction"]
        print(f"central vein sign: {summary['cvs_positive']} CVS+ of {summary['cvs_eligible']} eligible "
              f"({'n/a' if frac != frac else f'{100 * frac:.0f} %'}), {summary['cvs_excluded']} excluded; "
              f"40 % rule {'positive' if summary['cvs_rule40'] else 'negative'}, "
              f"Select-3* {'positive' if summary['cvs_select3'] else 'negative'}, "
              f"Select-6* {'positive' if summary['cvs_select6'] else 'negative'}")
    if summary["rim_tissue_mask"] in ("brain mask", "none"):
        print("note: without --anatomy or --wm-mask, lesions next to cortex or ventricles are judged against "
              "grey matter or CSF; give the aseg for reliable rims")
    print(f"wrote {Path(args.out) / 'rims.tsv'}")
    return 0
