"""``mspathobiology phantom``: write the digital MS phantom (BIDS dataset with exact ground truth)."""

from pathlib import Path

from ..arguments import non_negative_int, output_folder, positive_int

NAME = "phantom"
HELP = ("Write a digital MS phantom as a BIDS dataset: T1w, T1w post-contrast, FLAIR, QSM (ppb), phase, T2*w, "
        "aseg, parcellation, brain mask, lesion labels, tractograms (.tck/.trk) and ground_truth.json per visit.")


def add_arguments(parser):
    parser.add_argument("outdir", type=output_folder, help="output folder (created; existing files of the same names are replaced)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (same seed -> same files); default 0")
    parser.add_argument("--small", action="store_true", help="2 mm grid for quick tests (default 1 mm, 160x192x160)")
    parser.add_argument("--subjects", type=positive_int, default=1, help="number of subjects (subject k uses seed + k - 1)")
    parser.add_argument("--sessions", type=positive_int, default=2, help="visits per subject (1 = baseline only); default 2")
    parser.add_argument("--rescan", action="store_true",
                        help="visits after the first are scan-rescans (no atrophy or lesion change)")
    parser.add_argument("--preview", action="store_true",
                        help="also write a PNG of orthogonal T1/FLAIR/QSM slices with lesion outlines per subject")


def run(args) -> int:
    from ..errors import InputError
    from ..phantom import write_dataset

    if args.subjects < 1:
        raise InputError("--subjects", f"must be >= 1, not {args.subjects}")
    if args.sessions < 1:
        raise InputError("--sessions", f"must be >= 1, not {args.sessions}")
    out = Path(args.outdir)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "exists and is not a folder")
    folders = write_dataset(out, n_subjects=args.subjects, seed=args.seed, small=args.small,
                            sessions=args.sessions, rescan=args.rescan, preview=args.preview,
                            progress=lambda m: print(m, flush=True))
    for folder in folders:
        print(f"wrote {folder}")
    print(f"ground truth: {out / 'derivatives' / 'phantom'}")
    return 0
