"""``mspathobiology info``: print the grid of one or more images and whether they share it."""

from ..arguments import input_file
from ..geometry import geometry_differences, voxel_to_ras
from ..io import read_image

NAME = "info"
HELP = "Print size, spacing (mm), voxel-to-RAS matrix and value range of images; compare their grids."


def add_arguments(parser):
    parser.add_argument("images", nargs="+", type=input_file, help="NIfTI or NRRD images")


def run(args) -> int:
    import SimpleITK as sitk

    images = [read_image(p) for p in args.images]
    for path, image in zip(args.images, images):
        stats = sitk.StatisticsImageFilter()
        stats.Execute(image)
        print(f"{path}\n  size {image.GetSize()}  spacing {tuple(round(s, 4) for s in image.GetSpacing())} mm"
              f"\n  range {stats.GetMinimum():.4g} .. {stats.GetMaximum():.4g}\n  voxel->RAS\n"
              + "\n".join("    " + " ".join(f"{v:9.3f}" for v in row) for row in voxel_to_ras(image)))
    for path, image in zip(args.images[1:], images[1:]):
        diffs = geometry_differences(images[0], image)
        print(f"{path} vs {args.images[0]}: " + ("same grid" if not diffs else "; ".join(diffs)))
    return 0
