"""Network speed and exactness, side by side in one run (issues 7 and 17).

    python benchmarks/networks_speed.py [--streamlines 1000000] [--points 50] [--repeats 3]

Synthetic data, generated here (seeded, no downloads): a 100^3 grid of 1.5 mm voxels on an
oblique affine, a brain-like ellipsoid split into 100 Voronoi regions (label 0 outside), and
straight streamlines of ``--points`` points between random points of the ellipsoid.

Figures, each with PASS/FAIL:
1. connectome, end-voxel, from the arrays: mspathobiology.networks.connectome vs
   dipy.tracking.utils.connectivity_matrix: speed-up >= 15x (wall, best of --repeats, and
   CPU time), identical matrix, and peak traced memory (tracemalloc, each method in a
   fresh subprocess) <= half of DIPY's;
2. lesion disconnection of all streamlines by a lesion mask with the default crossing test
   (exact voxel traversal): < 5 s (and, on a subset, identical to a per-streamline reference loop);
3. loading a .trx of all streamlines (memory-mapped) takes less than the connectome build;
   the connectome from a .tck of all streamlines, read in chunks, equals the in-memory one.
The phantom's exact truth and the sampling error are in networks_truth.py; MRtrix3 in
networks_mrtrix.py. Times are wall-clock (best of --repeats) with the CPU time of the
process beside them, because the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "MSPathobiology"))
from mspathobiology.defaults.networks import SAMPLING_STEP_VOXELS  # noqa: E402

GRID = (100, 100, 100)
REGIONS = 100


def make_data(n_streamlines: int, n_points: int, seed: int = 0):
    """Labels [i, j, k], affine (voxel -> RAS), ArraySequence of straight streamlines, lesion mask."""
    from scipy.spatial import cKDTree

    from mspathobiology.networks import make_streamlines

    rng = np.random.default_rng(seed)
    angle = np.deg2rad(12.0)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([1.5, 1.5, 1.5])
    affine[:3, 3] = -(affine[:3, :3] @ (np.array(GRID) / 2.0))
    centre, radii = np.array(GRID) / 2.0 - 0.5, np.array([44.0, 40.0, 36.0])
    ijk = np.indices(GRID).reshape(3, -1).T
    inside = (((ijk - centre) / radii) ** 2).sum(axis=1) <= 1.0
    seeds = centre + (rng.uniform(-1, 1, (4 * REGIONS, 3)) * radii)
    seeds = seeds[(((seeds - centre) / radii) ** 2).sum(axis=1) <= 0.8][:REGIONS]
    labels = np.zeros(GRID, dtype=np.int32)
    labels.ravel()[inside] = cKDTree(seeds).query(ijk[inside])[1] + 1

    def random_inside(count):
        direction = rng.normal(size=(count, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        return centre + direction * radii * rng.uniform(0, 1, (count, 1)) ** (1 / 3) * 0.98

    points = np.empty((n_streamlines * n_points, 3), dtype=np.float32)
    t = np.linspace(0.0, 1.0, n_points)[None, :, None]
    block = 100_000
    for s0 in range(0, n_streamlines, block):
        s1 = min(n_streamlines, s0 + block)
        a, b = random_inside(s1 - s0)[:, None, :], random_inside(s1 - s0)[:, None, :]
        vox = (a + t * (b - a)).reshape(-1, 3)
        points[s0 * n_points:s1 * n_points] = vox @ affine[:3, :3].T + affine[:3, 3]
    streamlines = make_streamlines(points, np.arange(n_streamlines, dtype=np.int64) * n_points,
                                   np.full(n_streamlines, n_points, dtype=np.int64))
    lesions = np.zeros(GRID, dtype=bool)
    wm = np.flatnonzero(inside)
    for _ in range(25):
        c = np.array(np.unravel_index(rng.choice(wm), GRID))
        r = rng.uniform(1.5, 4.0, 3)
        lo, hi = np.maximum(c - 5, 0), np.minimum(c + 6, GRID)
        sub = np.indices(hi - lo).reshape(3, -1).T + lo
        sub = sub[(((sub - c) / r) ** 2).sum(axis=1) <= 1.0]
        lesions[tuple(sub.T)] = True
    return labels, affine, streamlines, lesions


def best_time(function, repeats):
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), result


def memory_child(method, n_streamlines, n_points):
    """Run one connectome method under tracemalloc; print its peak traced memory in bytes."""
    import tracemalloc

    labels, affine, streamlines, _ = make_data(n_streamlines, n_points)
    if method == "dipy":
        from dipy.tracking.utils import connectivity_matrix

        run = lambda: connectivity_matrix(streamlines, affine, labels)  # noqa: E731
    else:
        from mspathobiology.networks import connectome

        run = lambda: connectome(streamlines, labels, affine, drop_unassigned=False)  # noqa: E731
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"peak": peak}))


def reference_hits(streamlines, mask, affine, step):
    """Per-streamline loop with the crossing definition of mspathobiology.networks.disconnection.

    ``step`` 0: every voxel a segment passes through, from its sorted face crossings
    (interval midpoints); ``step`` > 0: samples at s/m, m = ceil(segment length / step).
    """
    inverse = np.linalg.inv(affine)
    out = np.zeros(len(streamlines), dtype=bool)
    for index, s in enumerate(streamlines):
        c = np.asarray(s, dtype=float) @ inverse[:3, :3].T + inverse[:3, 3]
        samples = [c]
        for a, b in zip(c[:-1], c[1:]):
            if step == 0:
                ts = [0.0, 1.0]
                for k in range(3):
                    lo, hi = sorted((np.floor(a[k] + 0.5), np.floor(b[k] + 0.5)))
                    ts += [(f + 0.5 - a[k]) / (b[k] - a[k]) for f in np.arange(lo, hi)]
                ts = np.sort(ts)
                t = (ts[1:] + ts[:-1]) / 2
            else:
                m = int(np.ceil(np.sqrt(((b - a) ** 2).sum()) / step))
                t = np.arange(1, max(m, 1)) / m
            samples.append(a + t[:, None] * (b - a))
        v = np.floor(np.concatenate(samples) + 0.5).astype(int)
        ok = ((v >= 0) & (v < mask.shape)).all(axis=1)
        out[index] = bool(mask[tuple(v[ok].T)].any())
    return out


def report(name, value, target, ok):
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {value}  (target {target})")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streamlines", type=int, default=1_000_000)
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-child", choices=("dipy", "ours"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.streamlines, args.points)
        return 0

    from dipy.tracking.utils import connectivity_matrix

    from mspathobiology.networks import connectome, read_tractogram, write_tractogram
    from mspathobiology.networks.disconnection import lesioned_streamlines

    results = []
    t0 = time.perf_counter()
    labels, affine, streamlines, lesions = make_data(args.streamlines, args.points)
    print(f"data: {args.streamlines:,} streamlines x {args.points} points, grid {GRID}, "
          f"{len(np.unique(labels)) - 1} regions + background, {lesions.sum()} lesion voxels "
          f"({time.perf_counter() - t0:.1f} s to generate)")

    # 1. connectome vs DIPY
    connectome(streamlines, labels, affine, drop_unassigned=False)  # warm the page cache of the arrays
    ours_wall, ours_cpu, (ours, rows) = best_time(
        lambda: connectome(streamlines, labels, affine, drop_unassigned=False), args.repeats)
    dipy_wall, dipy_cpu, dipy_matrix = best_time(
        lambda: connectivity_matrix(streamlines, affine, labels), args.repeats)
    print(f"      connectome: ours {ours_wall:.3f} s wall ({ours_cpu:.3f} s CPU), "
          f"DIPY {dipy_wall:.3f} s wall ({dipy_cpu:.3f} s CPU)")
    speedup, speedup_cpu = dipy_wall / ours_wall, dipy_cpu / ours_cpu
    results.append(report("connectome speed-up over DIPY (end-voxel, 1 M streamlines)",
                          f"{speedup:.1f}x wall, {speedup_cpu:.1f}x CPU", ">= 15x",
                          speedup >= 15 and speedup_cpu >= 15))
    identical = np.array_equal(rows, np.arange(dipy_matrix.shape[0])) and np.array_equal(ours, dipy_matrix)
    results.append(report("connectome identical to DIPY", f"{identical} ({int(ours.sum()):,} streamline ends "
                          f"counted, {ours.shape[0]} rows)", "identical", identical))
    peaks = {}
    for method in ("ours", "dipy"):
        out = subprocess.run([sys.executable, __file__, "--memory-child", method, "--streamlines",
                              str(args.streamlines), "--points", str(args.points)],
                             capture_output=True, text=True, check=True)
        peaks[method] = json.loads(out.stdout.strip().splitlines()[-1])["peak"] / 2**20
    results.append(report("connectome peak traced memory", f"ours {peaks['ours']:.0f} MB vs DIPY "
                          f"{peaks['dipy']:.0f} MB", "<= 1/2 of DIPY", peaks["ours"] <= peaks["dipy"] / 2))

    # 2. disconnection
    disc_wall, disc_cpu, hit = best_time(lambda: lesioned_streamlines(streamlines, lesions, affine), args.repeats)
    method = "exact traversal" if SAMPLING_STEP_VOXELS == 0 else f"step {SAMPLING_STEP_VOXELS} voxel"
    results.append(report(f"disconnection of all streamlines by the lesion mask ({method})",
                          f"{disc_wall:.2f} s wall ({disc_cpu:.2f} s CPU), {hit.mean() * 100:.1f}% of "
                          f"streamlines hit", "< 5 s", disc_wall < 5.0))
    subset = streamlines[:3000]
    reference = reference_hits(subset, lesions, affine, SAMPLING_STEP_VOXELS)
    same = np.array_equal(reference, lesioned_streamlines(subset, lesions, affine))
    results.append(report("disconnection equals the per-streamline reference (first 3000)",
                          f"{same} ({int(reference.sum())} hit)", "identical", same))

    # 3. .trx loading
    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as folder:
        path = Path(folder) / "tractogram.trx"
        w = time.perf_counter()
        write_tractogram(streamlines, path, affine=affine, shape=GRID)
        save = time.perf_counter() - w
        load_wall, load_cpu, loaded = best_time(lambda: read_tractogram(path), args.repeats)
        mapped = isinstance(loaded._data, np.memmap)
        results.append(report("load 1 M-streamline .trx (memory-mapped) vs connectome build",
                              f"{load_wall * 1000:.1f} ms vs {ours_wall * 1000:.0f} ms (saved in {save:.1f} s; "
                              f"memmap={mapped})", "load < build", load_wall < ours_wall and mapped))
        from_trx, rows_trx = connectome(loaded, labels, affine, drop_unassigned=False)
        same_trx = np.array_equal(from_trx, ours) and np.array_equal(rows_trx, rows)
        results.append(report("connectome from the loaded .trx equals the in-memory one", same_trx, "identical",
                              same_trx))
        del loaded
        tck = Path(folder) / "tractogram.tck"
        write_tractogram(streamlines, tck)
        tck_wall, tck_cpu, (from_tck, rows_tck) = best_time(
            lambda: connectome(str(tck), labels, affine, drop_unassigned=False), 1)
        same_tck = np.array_equal(from_tck, ours) and np.array_equal(rows_tck, rows)
        results.append(report("connectome streamed from a .tck of all streamlines equals the in-memory one",
                              f"{same_tck} ({tck.stat().st_size / 2**20:.0f} MB file, {tck_wall:.2f} s wall, "
                              f"{tck_cpu:.2f} s CPU)", "identical", same_tck))

    print(f"{sum(results)}/{len(results)} PASS")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
