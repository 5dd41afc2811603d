"""The one definition of voxel connectivity, used by every part (lesions, rims, phantom, change).

Connectivity is given as the neighbour count: 6 (faces), 18 (faces and edges) or
26 (faces, edges and corners).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .defaults.common import DEFAULT_CONNECTIVITY

_RANK = {6: 1, 18: 2, 26: 3}


def structuring_element(connectivity: int = DEFAULT_CONNECTIVITY) -> np.ndarray:
    """3x3x3 boolean neighbourhood for ``connectivity`` in (6, 18, 26)."""
    if connectivity not in _RANK:
        raise ValueError(f"connectivity must be 6, 18 or 26, not {connectivity!r}")
    return ndimage.generate_binary_structure(3, _RANK[connectivity])


def connected_components(mask: np.ndarray, connectivity: int = DEFAULT_CONNECTIVITY) -> tuple[np.ndarray, int]:
    """Label the connected components of a boolean 3D array; returns (int32 labels, count).

    Component numbers follow scan order; use :func:`relabel_by_size` for size-ordered IDs.
    """
    labels, count = ndimage.label(np.asarray(mask, dtype=bool), structure=structuring_element(connectivity))
    return labels.astype(np.int32, copy=False), int(count)


def relabel_by_size(labels: np.ndarray, min_voxels: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Renumber labels 1..N by decreasing voxel count (ties: lower old label first).

    Components smaller than ``min_voxels`` are removed. Returns (new labels, old label of
    each new id, index 0 unused = 0).
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels.ravel())
    counts[0] = 0
    old = np.nonzero(counts >= max(min_voxels, 1))[0]
    order = old[np.lexsort((old, -counts[old]))]
    lut = np.zeros(counts.size, dtype=np.int32)
    lut[order] = np.arange(1, order.size + 1, dtype=np.int32)
    return lut[labels], np.concatenate([[0], order]).astype(np.int64)


def dilate(mask: np.ndarray, connectivity: int = DEFAULT_CONNECTIVITY, iterations: int = 1) -> np.ndarray:
    """Binary dilation of a boolean 3D array with the project's structuring element."""
    return ndimage.binary_dilation(mask, structure=structuring_element(connectivity), iterations=iterations)


def label_surface(labels: np.ndarray) -> np.ndarray:
    """Labelled voxels with at least one face (6-) neighbour of another value or off the grid.

    One pass over the whole array for every label at once: a lesion's surface voxels are
    ``label_surface(labels) & (labels == id)``; the rest of the lesion is its interior.
    """
    labels = np.asarray(labels)
    padded = np.pad(labels, 1)
    inner = labels != 0
    for axis in range(labels.ndim):
        for step in (-1, 1):
            inner &= np.roll(padded, step, axis=axis)[1:-1, 1:-1, 1:-1] == labels
    return (labels != 0) & ~inner
