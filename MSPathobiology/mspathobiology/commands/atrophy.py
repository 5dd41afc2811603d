"""``mspathobiology atrophy``: tissue volumes, BPF, deep GM and regional volumes of one T1."""

from ..arguments import input_file, mask_file, output_folder

NAME = "atrophy"
HELP = ("Tissue volumes (mL), brain parenchymal fraction, thalamus/deep GM and regional volumes from a T1 "
        "-> OUT/atrophy.json, OUT/tissue_labels.nii.gz (1 CSF, 2 GM, 3 WM, 4 lesion).")


def add_arguments(parser):
    parser.add_argument("--t1", required=True, type=input_file, help="T1-weighted image (NIfTI/NRRD)")
    parser.add_argument("--flair", type=input_file, help="FLAIR on the T1 grid (optional second feature)")
    parser.add_argument("--lesions", type=mask_file, help="lesion mask/labels on the T1 grid (filled with NAWM before segmentation)")
    parser.add_argument("--brain-mask", type=mask_file, help="brain mask on the T1 grid; default: brain extraction "
                        "(-> OUT/brain_mask.nii.gz, to inspect or correct)")
    parser.add_argument("--brain-extraction", choices=("template", "threshold"), default="template",
                        help="brain extraction without a mask: MNI152 template registered to the T1 (default) "
                             "or the classical threshold method")
    parser.add_argument("--anatomy", type=input_file, help="FreeSurfer aseg labelmap on the T1 grid (thalamus, deep GM)")
    parser.add_argument("--parcellation", type=input_file, help="parcellation labelmap on the T1 grid -> OUT/regional_volumes.tsv")
    parser.add_argument("--head-size-scaling", action="store_true",
                        help="add SIENAX-style volumes scaled to the MNI152 template head size")
    parser.add_argument("--no-bias-correction", action="store_true", help="skip N4 bias correction")
    parser.add_argument("--out", required=True, type=output_folder, help="output folder")


def run(args) -> int:
    from pathlib import Path

    from ..atrophy import run_case

    images = {"t1": args.t1, "flair": args.flair, "lesions": args.lesions, "brain_mask": args.brain_mask,
              "anatomy": args.anatomy, "parcellation": args.parcellation}
    summary = run_case({k: v for k, v in images.items() if v}, args.out, head_size=args.head_size_scaling,
                       bias_correction=not args.no_bias_correction, brain_extraction=args.brain_extraction)
    print(f"brain mask   {summary.get('brain_extraction_method', '')}")
    for key in ("icv_ml", "brain_ml", "gm_ml", "wm_ml", "csf_ml", "lesion_ml", "bpf", "thalamus_ml", "deep_gm_ml"):
        value = summary.get(key)
        print(f"{key:12s} {'n/a' if value is None else format(value, '.4g')}")
    print(f"outputs: {Path(args.out).resolve()}")
    return 0
