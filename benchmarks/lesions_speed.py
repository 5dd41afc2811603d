"""Speed of lesion labeling + the lesion table (issue 4).

Target: labeling (26-connected components, minimum volume, size-ordered ids) plus the lesion
table (volumes, RAS centroids, bounding boxes, long axes, normalised FLAIR mean/max) on a
256^3, 1 mm volume holding 200 lesions in under 1 s.

Run: python benchmarks/lesions_speed.py
"""

import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MSPathobiology"))

from mspathobiology.lesions import label_lesions, lesion_rows  # noqa: E402

TARGET_S = 1.0


def make_volume(n_lesions=200, size=256, seed=0):
    """Random ellipsoidal lesions (radii 1-6 mm, some irregular) in a 256^3 1 mm volume."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((size,) * 3, dtype=bool)
    flair = rng.normal(1.0, 0.03, mask.shape).astype(np.float32)
    placed = 0
    while placed < n_lesions:
        radii = rng.uniform(1.0, 6.0, 3)
        centre = rng.uniform(20, size - 20, 3)
        lo = np.floor(centre - radii - 1).astype(int)
        hi = np.ceil(centre + radii + 2).astype(int)
        # keep lesions apart so that the count is exactly n_lesions
        if mask[tuple(slice(a - 2, b + 2) for a, b in zip(lo, hi))].any():
            continue
        k, j, i = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        inside = ((k - centre[0]) / radii[0]) ** 2 + ((j - centre[1]) / radii[1]) ** 2 \
            + ((i - centre[2]) / radii[2]) ** 2 <= 1.0
        if inside.sum() < 4:
            continue
        mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] |= inside
        placed += 1
    flair[mask] += 1.0
    image = sitk.Image(size, size, size, sitk.sitkUInt8)
    image.SetSpacing((1.0, 1.0, 1.0))
    return mask, flair, image


def main() -> int:
    mask, flair, image = make_volume()
    label_lesions(mask[:64, :64, :64])  # warm-up (imports, first allocation)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        labels = label_lesions(mask, voxel_volume_mm3=1.0)
        rows = lesion_rows(labels, image, flair)
        times.append(time.perf_counter() - start)
    best = min(times)
    ok_count = len(rows) == 200
    print(f"lesions labeled: {len(rows)} (expected 200): {'PASS' if ok_count else 'FAIL'}")
    print(f"labeling + table, 256^3 1 mm, 200 lesions: best {best:.3f} s of {len(times)} "
          f"(runs {', '.join(f'{t:.3f}' for t in times)}), target < {TARGET_S} s: "
          f"{'PASS' if best < TARGET_S else 'FAIL'}")
    return 0 if best < TARGET_S and ok_count else 1


if __name__ == "__main__":
    sys.exit(main())
