"""``mspathobiology pbvc``: percent brain volume change between two T1 images of one subject."""

from ..arguments import input_file, mask_file, output_folder, positive_float

NAME = "pbvc"
HELP = ("Percent brain volume change (edge displacement in halfway space, shared intensity model) "
        "-> OUT/pbvc.json and OUT/pbvc_edge_displacement_mm.nii.gz on the baseline grid.")


def add_arguments(parser):
    parser.add_argument("--baseline", required=True, type=input_file, help="baseline T1")
    parser.add_argument("--followup", required=True, type=input_file, help="follow-up T1")
    parser.add_argument("--baseline-mask", type=mask_file, help="baseline brain mask, any kind (default: template brain extraction)")
    parser.add_argument("--followup-mask", type=mask_file, help="follow-up brain mask (default: the baseline's, carried by the registration)")
    parser.add_argument("--baseline-lesions", type=mask_file, help="baseline lesion mask (filled with NAWM before measuring)")
    parser.add_argument("--followup-lesions", type=mask_file, help="follow-up lesion mask (filled with NAWM before measuring)")
    parser.add_argument("--baseline-parcellation", type=input_file,
                        help="baseline parcellation -> OUT/pbvc_regional_change.tsv (change within a fixed region)")
    parser.add_argument("--interval-years", type=positive_float, help="time between visits, years (annualised rate)")
    parser.add_argument("--apply-calibration", action="store_true",
                        help="multiply the PBVC by the SIENA-like self-calibration factor (reported either way)")
    parser.add_argument("--out", required=True, type=output_folder, help="output folder")


def run(args) -> int:
    from pathlib import Path

    from ..atrophy import run_pbvc

    result = run_pbvc(args.baseline, args.followup, args.out, baseline_mask=args.baseline_mask,
                      followup_mask=args.followup_mask, interval_years=args.interval_years,
                      baseline_lesions=args.baseline_lesions, followup_lesions=args.followup_lesions,
                      baseline_parcellation=args.baseline_parcellation, calibrate=args.apply_calibration)
    print(f"pbvc_percent {result['pbvc_percent']:.3f}")
    if result.get("pbvc_annualised_percent_per_year") is not None:
        print(f"pbvc_annualised_percent_per_year {result['pbvc_annualised_percent_per_year']:.3f}")
    print(f"calibration_factor {result['calibration_factor']:.3f} (applied: {result['calibration_applied']})")
    print(f"outputs: {Path(args.out).resolve()}")
    return 0
