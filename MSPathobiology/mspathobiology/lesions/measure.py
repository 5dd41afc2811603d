"""Lesion measurements: the rows of the lesion table (:mod:`mspathobiology.lesion_table`).

Vectorised over lesions except the long axis, which needs the largest distance inside
each lesion (computed on the lesion's surface voxels, or its convex hull when large).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import cdist

from ..defaults.common import MCDONALD_MIN_LONG_AXIS_MM
from ..defaults.lesions import LONG_AXIS_HULL_ABOVE, LONG_AXIS_MAX_POINTS
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


def long_axis_mm(kji: np.ndarray, matrix: np.ndarray) -> float:
    """Longest extent (mm) of a set of voxels: the largest distance between two voxel
    centres plus the width of one voxel along that line.

    ``kji``: (N, 3) voxel indices in array order; ``matrix``: 4x4 voxel (i, j, k) -> RAS.
    A single voxel measures its longest edge.
    """
    edges = matrix[:3, :3]
    if len(kji) == 1:
        return float(np.linalg.norm(edges, axis=0).max())
    points = kji[:, ::-1].astype(float) @ edges.T
    if len(points) > LONG_AXIS_HULL_ABOVE:
        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:
            pass  # flat lesion: fall back to all points
    if len(points) > LONG_AXIS_MAX_POINTS:
        points = points[np.random.default_rng(0).choice(len(points), LONG_AXIS_MAX_POINTS, replace=False)]
    distances = cdist(points, points)
    a, b = np.unravel_index(int(np.argmax(distances)), distances.shape)
    d = distances[a, b]
    u = (points[b] - points[a]) / d
    return float(d + np.abs(edges.T @ u).sum())


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
        axis = long_axis_mm(_surface(kji[starts[n]:starts[n + 1]], labels, lesion), matrix)
        row = {
            "id": lesion, "voxels": int(counts[n]), "volume_mm3": float(counts[n] * voxel_volume),
            "centroid_r": float(centroid_ras[n, 0]), "centroid_a": float(centroid_ras[n, 1]),
            "centroid_s": float(centroid_ras[n, 2]),
            "bbox_i_min": int(lows[n, 2]), "bbox_j_min": int(lows[n, 1]), "bbox_k_min": int(lows[n, 0]),
            "bbox_i_max": int(highs[n, 2]), "bbox_j_max": int(highs[n, 1]), "bbox_k_max": int(highs[n, 0]),
            "long_axis_mm": axis,
            "flair_mean": float(f_mean[n]) if normalised_flair is not None else None,
            "flair_max": float(f_max[n]) if normalised_flair is not None else None,
            "location": (locations or {}).get(lesion),
            "mcdonald_countable": bool(axis >= MCDONALD_MIN_LONG_AXIS_MM),
            "enhancing": None if enhancing is None else bool(enhancing.get(lesion, False)),
        }
        rows.append({c: row[c] for c in COLUMNS})
    return rows


def _surface(kji: np.ndarray, labels: np.ndarray, lesion: int) -> np.ndarray:
    """Voxels of a lesion with at least one face neighbour outside it (all voxels if few)."""
    if len(kji) <= 64:  # small lesions: all voxels (cheap)
        return kji
    low = kji.min(axis=0)
    high = kji.max(axis=0) + 1
    box = np.zeros(tuple(high - low + 2), dtype=bool)
    box[tuple((kji - low + 1).T)] = True
    inner = ndimage.binary_erosion(box)
    keep = ~inner[tuple((kji - low + 1).T)]
    return kji[keep]
