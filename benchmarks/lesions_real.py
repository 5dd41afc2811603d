"""Lesions on a real whole-head image with no lesions (issue 11): none outside the brain, no DIS.

Real data: Debian mricron-data's Colin27 ``ch2.nii.gz`` (a real whole-head T1 of one healthy
person: scalp, skull, eyes, neck) and its brain extraction ``ch2bet.nii.gz`` (the reference
brain). A FLAIR-like contrast is made from the T1 by tissue-class remapping inside ch2bet
(:mod:`mspathobiology.lesions.flair_like`); outside the brain the T1 is kept, so bright scalp
fat is there to be mistaken for lesions. The analysis never sees ch2bet.

Printed (targets with PASS/FAIL):
- A. FLAIR + T1 on one 1 mm grid: lesions found, lesions outside the brain (target 0: a lesion
  is outside when its centroid voxel lies outside ch2bet), DIS (target: not met), brain mask
  Dice against ch2bet;
- B. a 2D-like FLAIR (1 x 1 x 3 mm, on its own tilted grid) + the 1 mm T1: the T1 is registered
  to the FLAIR; same figures;
- C. the FLAIR alone: the clear error asking for a T1 or a brain mask;
- D. the same search inside the previous FLAIR-only Otsu head mask (what issue 11 reported);
- E. 12 lesions inserted into the white matter of the FLAIR-like image (independent truth:
  the inserted spheres): lesion-wise detection (MSSEG rule) and none outside the brain.

Run: python benchmarks/lesions_real.py [--mm 1.0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MSPathobiology"))

from mspathobiology.errors import InputError  # noqa: E402
from mspathobiology.geometry import image_like, voxel_volume_mm3  # noqa: E402
from mspathobiology.io import read_image  # noqa: E402
from mspathobiology.lesions import analyse, estimate_brain_mask, lesion_detection  # noqa: E402
from mspathobiology.lesions.flair_like import flair_like_from_t1, tissue_levels  # noqa: E402

TEMPLATES = Path("/usr/share/mricron/templates")
INSERTED_RADII_MM = (1.6, 2.0, 2.0, 2.5, 2.5, 3.0, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0)
INSERTED_FLAIR = 1.9        # x WM, the middle of 3 T lesion contrast (1.5-2.5 x NAWM)


def resample(image: sitk.Image, spacing, angle_deg: float = 0.0, label: bool = False) -> sitk.Image:
    """``image`` on a new grid covering it: ``spacing`` (i, j, k) mm, rotated about the S axis."""
    size = [int(np.ceil(n * s / t)) for n, s, t in zip(image.GetSize(), image.GetSpacing(), spacing)]
    a = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    direction = rotation @ np.asarray(image.GetDirection()).reshape(3, 3)
    centre = image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()])
    half = direction @ (np.asarray(spacing) * (np.asarray(size) - 1) / 2)
    grid = sitk.Image(size, image.GetPixelID())
    grid.SetSpacing(spacing)
    grid.SetDirection(direction.ravel().tolist())
    grid.SetOrigin((np.asarray(centre) - half).tolist())
    if label:
        return sitk.Resample(image, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    sigma = [max(t - s, 0.0) / 2.355 for s, t in zip(image.GetSpacing(), spacing)]
    smooth = sitk.SmoothingRecursiveGaussian(image, [max(x, 1e-3) for x in sigma]) if max(sigma) > 0 else image
    return sitk.Resample(smooth, grid, sitk.Transform(), sitk.sitkLinear, 0.0)


def outside_count(labels: np.ndarray, brain: np.ndarray) -> int:
    """Lesions whose centroid voxel lies outside ``brain``."""
    ids = np.unique(labels)[1:]
    if ids.size == 0:
        return 0
    centres = np.rint(ndimage.center_of_mass(labels > 0, labels, ids)).astype(int)
    return int(sum(not brain[tuple(c)] for c in centres))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b)))


def report(name: str, result, reference_brain: np.ndarray, seconds: float) -> tuple[int, bool]:
    labels = sitk.GetArrayFromImage(result.labels)
    outside = outside_count(labels, reference_brain)
    dis = bool(result.summary.get("dis_2017_met")) or bool(result.summary.get("dis_2024_met"))
    mask = sitk.GetArrayFromImage(result.brain_mask) > 0
    print(f"{name}: {result.summary['lesion_count']} lesions, {outside} outside the brain "
          f"[{'PASS' if outside == 0 else 'FAIL'} target 0]; DIS {'met' if dis else 'not met'} "
          f"[{'FAIL' if dis else 'PASS'} target not met]; brain mask Dice vs ch2bet {dice(mask, reference_brain):.3f}; "
          f"{seconds:.0f} s")
    print(f"   brain mask: {result.info['brain_mask_method']}")
    return outside, dis


def insert_lesions(flair: sitk.Image, t1: sitk.Image, bet: sitk.Image, seed: int = 0):
    """FLAIR with spheres of INSERTED_FLAIR x WM in deep white matter (partial volume from 4^3
    supersampling); returns (image, truth labels [k, j, i])."""
    f = sitk.GetArrayFromImage(flair).astype(np.float32)
    brain = sitk.GetArrayFromImage(bet) > 0
    t1a = sitk.GetArrayFromImage(t1)
    csf, gm, wm = tissue_levels(t1a, brain)
    spacing = np.asarray(flair.GetSpacing()[::-1])
    depth = ndimage.distance_transform_edt(brain, sampling=spacing)
    white = brain & (t1a > 0.5 * (gm + wm)) & (depth > 12.0)
    rng = np.random.default_rng(seed)
    truth = np.zeros(f.shape, np.int32)
    candidates = np.argwhere(white)
    wm_level = float(np.median(f[white]))
    n = 0
    for radius in INSERTED_RADII_MM:
        for _ in range(200):
            c = candidates[rng.integers(len(candidates))]
            r = int(np.ceil(radius / spacing.min())) + 2
            box = tuple(slice(max(x - r, 0), x + r + 1) for x in c)
            if truth[tuple(slice(max(x - r - 3, 0), x + r + 4) for x in c)].any():
                continue
            grids = np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij")
            sub = np.linspace(-0.375, 0.375, 4)
            frac = np.zeros(grids[0].shape, np.float32)
            for dk in sub:
                for dj in sub:
                    for di in sub:
                        d2 = sum(((g + o - x) * s) ** 2 for g, o, x, s in zip(grids, (dk, dj, di), c, spacing))
                        frac += (d2 <= radius ** 2) / 64.0
            if not white[box][frac > 0].all():
                continue
            n += 1
            f[box] = f[box] * (1 - frac) + frac * INSERTED_FLAIR * wm_level
            truth[box][frac >= 0.5] = n
            break
    return image_like(f, flair), truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mm", type=float, default=1.0, help="resample ch2 to this isotropic spacing first")
    args = parser.parse_args()
    t1 = read_image(TEMPLATES / "ch2.nii.gz", name="ch2 T1")
    bet = read_image(TEMPLATES / "ch2bet.nii.gz", kind="mask", name="ch2bet")
    if args.mm != 1.0:
        t1, bet = resample(t1, [args.mm] * 3), resample(bet, [args.mm] * 3, label=True)
    reference = sitk.GetArrayFromImage(bet) > 0
    flair = flair_like_from_t1(t1, bet)
    print(f"ch2 (Colin27) whole-head T1, {t1.GetSize()} voxels of {t1.GetSpacing()[0]:.1f} mm; FLAIR-like made "
          f"by tissue remapping inside ch2bet ({reference.sum() * voxel_volume_mm3(t1) / 1000:.0f} mL brain)")
    failures = 0

    start = time.perf_counter()
    result = analyse({"flair": flair, "t1": t1})
    outside, dis = report("A. FLAIR + T1, 1 grid", result, reference, time.perf_counter() - start)
    failures += outside > 0 or dis

    flair2d = resample(flair, (1.0, 1.0, 3.0), angle_deg=8.0)
    bet2d = sitk.GetArrayFromImage(resample(bet, (1.0, 1.0, 3.0), angle_deg=8.0, label=True)) > 0
    start = time.perf_counter()
    result = analyse({"flair": flair2d, "t1": t1})
    outside, dis = report("B. 1x1x3 mm FLAIR on its own tilted grid + 1 mm T1", result, bet2d,
                          time.perf_counter() - start)
    failures += outside > 0 or dis

    try:
        analyse({"flair": flair})
        print("C. FLAIR alone: analysed without a brain (FAIL: expected a clear error)")
        failures += 1
    except InputError as error:
        print(f"C. FLAIR alone: refused [PASS]: {error}")

    head = estimate_brain_mask(flair)
    start = time.perf_counter()
    result = analyse({"flair": flair, "brain_mask": image_like(head.astype(np.uint8), flair)})
    labels = sitk.GetArrayFromImage(result.labels)
    print(f"D. previous FLAIR-only Otsu head mask ({head.sum() * voxel_volume_mm3(flair) / 1000:.0f} mL), for "
          f"comparison: {result.summary['lesion_count']} lesions, {outside_count(labels, reference)} outside the "
          f"brain, DIS {'met' if result.summary.get('dis_2017_met') else 'not met'}")

    with_lesions, truth = insert_lesions(flair, t1, bet)
    start = time.perf_counter()
    result = analyse({"flair": with_lesions, "t1": t1})
    labels = sitk.GetArrayFromImage(result.labels).astype(np.int64)
    scores = lesion_detection(labels, truth, voxel_volume_mm3=voxel_volume_mm3(flair), min_volume_mm3=10.0 - 1e-6)
    outside = outside_count(labels, reference)
    print(f"E. {int(truth.max())} lesions inserted in white matter: found {result.summary['lesion_count']}, "
          f"lesion-wise F1 (>= 10 mm^3) {scores['f1']:.3f} [{'PASS' if scores['f1'] >= 0.9 else 'FAIL'} >= 0.9], "
          f"Dice {scores['dice']:.3f}; {outside} outside the brain [{'PASS' if outside == 0 else 'FAIL'} target 0]; "
          f"{time.perf_counter() - start:.0f} s")
    failures += outside > 0 or scores["f1"] < 0.9
    print("all targets met" if not failures else f"{failures} target(s) missed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
