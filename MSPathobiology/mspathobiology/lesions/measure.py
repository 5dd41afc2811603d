"""Lesion measurements: the rows of the lesion table (:mod:`mspathobiology.lesion_table`).

Vectorised over lesions except the long axis, which needs the largest distance inside
each lesion within one image (computed on the lesion's surface voxels, or their convex hull
when large; see :func:`long_axis_mm`).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import cdist

from ..defaults.common import MCDONALD_MIN_LONG_AXIS_MM
from ..defaults.lesions import LONG_AXIS_HULL_ABOVE, LONG_AXIS_MAX_POINTS, LONG_AXIS_SLICE_ANISOTROPY
from ..connectivity import label_surface
from ..geometry import voxel_to_ras
from ..lesion_table import COLUMNS


def group_voxels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxels of every lesion, grouped: returns (ids, starts, kji (M, 3) int array sorted by id).

    ``kji[starts[n]:starts[n + 1]]`` are the voxel indices of lesion ``ids[n]``.
    """
    flat_labels = np.asarray(labels).ravel()
    flat = np.flatnonzero(flat_labels)
    values = flat_labels[flat]
    order = np.argsort(values, kind="stable")
    flat, values = flat[order], values[order]
    ids, starts = np.unique(values, return_index=True)
    kji = np.stack(np.unravel_index(flat, labels.shape), axis=1)
    return ids.astype(np.int64), np.append(starts, values.size), kji


def slice_axis(matrix: np.ndarray) -> int | None:
    """Array axis (0 = k, 1 = j, 2 = i) of the slices a 2D acquisition is read on, or None for a
    near-isotropic (3D) grid: the thickest voxel axis when it is at least
    ``LONG_AXIS_SLICE_ANISOTROPY`` times the finest. ``matrix``: 4x4 voxel (i, j, k) -> RAS."""
    widths = np.linalg.norm(np.asarray(matrix)[:3, :3], axis=0)
    if widths.max() < LONG_AXIS_SLICE_ANISOTROPY * widths.min():
        return None
    return 2 - int(np.argmax(widths))


def _extent(kji: np.ndarray, edges: np.ndarray, plane_axes: tuple) -> float:
    """Largest distance between voxel centres + the width of one voxel along that line, counting
    only the voxel edges of ``plane_axes`` (array axes). ``edges``: 3x3 columns i, j, k (mm)."""
    used = edges[:, [2 - a for a in plane_axes]]
    if len(kji) == 1:
        return float(np.linalg.norm(used, axis=0).max())
    points = kji[:, ::-1].astype(float) @ edges.T
    if len(points) > LONG_AXIS_HULL_ABOVE:
        try:  # hull in index coordinates of the used axes (an affine map keeps hull vertices)
            points = points[ConvexHull(kji[:, list(plane_axes)].astype(float)).vertices]
        except QhullError:
            pass  # degenerate (a line): fall back to all points
    if len(points) > LONG_AXIS_MAX_POINTS:
        points = points[np.random.default_rng(0).choice(len(points), LONG_AXIS_MAX_POINTS, replace=False)]
    distances = cdist(points, points)
    a, b = np.unravel_index(int(np.argmax(distances)), distances.shape)
    d = distances[a, b]
    if d == 0:
        return float(np.linalg.norm(used, axis=0).max())
    u = (points[b] - points[a]) / d
    return float(d + np.abs(used.T @ u).sum())


def long_axis_mm(kji: np.ndarray, matrix: np.ndarray, slice_axis_kji: int | None | str = "auto") -> float:
    """Long axis (mm) of a set of voxels as radiologists measure it for the McDonald >= 3 mm
    rule: the longest extent within one image (see ``defaults.lesions.LONG_AXIS_SLICE_ANISOTROPY``).

    The extent of voxels in one image is the largest distance between their centres plus the
    width of one voxel along that line (in-plane edges only); a single voxel measures its longest
    in-plane edge. On a 2D grid (``slice_axis_kji`` an array axis, "auto": :func:`slice_axis`)
    it is the maximum over the acquired slices, so slice thickness never counts as length
    (one voxel of a 1 x 1 x 3 mm grid is 1 mm). On a near-isotropic grid (None) every plane can
    be reformatted and the extent is the 3D one. ``kji``: (N, 3) voxel indices in array order;
    ``matrix``: 4x4 voxel (i, j, k) -> RAS.
    """
    kji = np.asarray(kji)
    edges = np.asarray(matrix, dtype=float)[:3, :3]
    axis = slice_axis(matrix) if isinstance(slice_axis_kji, str) else slice_axis_kji
    if axis is None:
        return _extent(kji, edges, (0, 1, 2))
    plane = tuple(a for a in range(3) if a != axis)
    order = np.argsort(kji[:, axis], kind="stable")
    kji = kji[order]
    cuts = np.flatnonzero(np.diff(kji[:, axis])) + 1
    return max(_extent(group, edges, plane) for group in np.split(kji, cuts))


def lesion_rows(labels: np.ndarray, reference: sitk.Image, normalised_flair: np.ndarray | None = None,
                locations: dict | None = None, enhancing: dict | None = None) -> list[dict]:
    """Compute the lesion table rows (schema :data:`mspathobiology.lesion_table.SCHEMA`).

    ``labels``: lesion ids, array [k, j, i] on ``reference``'s grid. ``normalised_flair``:
    FLAIR divided by normal-appearing WM (same grid) for ``flair_mean``/``flair_max``.
    ``locations``: {id: location name}; ``enhancing``: {id: bool}. Centroids are RAS mm,
    bounding boxes voxel indices (i, j, k) inclusive, volumes mm^3.
    """
    labels = np.asarray(labels)
    matrix = voxel_to_ras(reference)
    voxel_volume = float(abs(np.linalg.det(matrix[:3, :3])))
    ids, starts, kji = group_voxels(labels)
    if ids.size == 0:
        return []
    axis = slice_axis(matrix)
    surface = label_surface(labels)
    counts = np.diff(starts)
    sums = np.add.reduceat(kji.astype(float), starts[:-1], axis=0)
    centroid_ras = (sums / counts[:, None])[:, ::-1] @ matrix[:3, :3].T + matrix[:3, 3]
    lows = np.minimum.reduceat(kji, starts[:-1], axis=0)
    highs = np.maximum.reduceat(kji, starts[:-1], axis=0)
    if normalised_flair is not None:
        values = np.asarray(normalised_flair)[tuple(kji.T)]
        f_mean = np.add.reduceat(values, starts[:-1]) / counts
        f_max = np.maximum.reduceat(values, starts[:-1])
    rows = []
    for n, lesion in enumerate(ids):
        lesion = int(lesion)
        length = long_axis_mm(_surface(kji[starts[n]:starts[n + 1]], surface), matrix, axis)
        row = {
            "id": lesion, "voxels": int(counts[n]), "volume_mm3": float(counts[n] * voxel_volume),
            "centroid_r": float(centroid_ras[n, 0]), "centroid_a": float(centroid_ras[n, 1]),
            "centroid_s": float(centroid_ras[n, 2]),
            "bbox_i_min": int(lows[n, 2]), "bbox_j_min": int(lows[n, 1]), "bbox_k_min": int(lows[n, 0]),
            "bbox_i_max": int(highs[n, 2]), "bbox_j_max": int(highs[n, 1]), "bbox_k_max": int(highs[n, 0]),
            "long_axis_mm": length,
            "flair_mean": float(f_mean[n]) if normalised_flair is not None else None,
            "flair_max": float(f_max[n]) if normalised_flair is not None else None,
            "location": (locations or {}).get(lesion),
            "mcdonald_countable": bool(length >= MCDONALD_MIN_LONG_AXIS_MM),
            "enhancing": None if enhancing is None else bool(enhancing.get(lesion, False)),
        }
        rows.append({c: row[c] for c in COLUMNS})
    return rows


def _surface(kji: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """Voxels of a lesion (``kji``) on its surface (all voxels if few); ``surface``: :func:`label_surface`."""
    if len(kji) <= 64:  # small lesions: all voxels (cheap)
        return kji
    return kji[surface[tuple(kji.T)]]
