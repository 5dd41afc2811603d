"""Lesion labeling: components, minimum volume, size-ordered ids, split, merge, delete, relabel.

Arrays are numpy arrays indexed [k, j, i] (SimpleITK order). A label array holds 0 for
background and the lesion id (1..N) elsewhere. Connectivity is always the project's
(:mod:`mspathobiology.connectivity`), 26 by default.
"""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..connectivity import connected_components, relabel_by_size, structuring_element
from ..defaults.common import DEFAULT_CONNECTIVITY, MIN_LESION_VOLUME_MM3
from ..defaults.lesions import SPLIT_H_MM
from ..errors import InputError


def min_voxels_for_volume(min_volume_mm3: float, voxel_volume_mm3: float) -> int:
    """Smallest voxel count whose volume is >= ``min_volume_mm3`` (at least 1)."""
    if voxel_volume_mm3 <= 0:
        raise ValueError("voxel volume must be positive")
    return max(1, int(math.ceil(min_volume_mm3 / voxel_volume_mm3 - 1e-9)))


def label_lesions(mask: np.ndarray, voxel_volume_mm3: float = 1.0,
                  connectivity: int = DEFAULT_CONNECTIVITY,
                  min_volume_mm3: float = MIN_LESION_VOLUME_MM3) -> np.ndarray:
    """Label a binary lesion mask: connected components, volume >= ``min_volume_mm3`` kept,
    ids 1..N by decreasing volume (ties broken by scan order, so ids are reproducible).

    Returns an int32 array of lesion ids.
    """
    labels, _ = connected_components(np.asarray(mask) != 0, connectivity)
    out, _ = relabel_by_size(labels, min_voxels_for_volume(min_volume_mm3, voxel_volume_mm3))
    return out


def label_image(mask: sitk.Image, connectivity: int = DEFAULT_CONNECTIVITY,
                min_volume_mm3: float = MIN_LESION_VOLUME_MM3) -> sitk.Image:
    """:func:`label_lesions` on a SimpleITK mask; returns a UInt32 label image on the same grid."""
    from ..geometry import image_like, voxel_volume_mm3
    array = label_lesions(sitk.GetArrayViewFromImage(mask), voxel_volume_mm3(mask), connectivity, min_volume_mm3)
    return image_like(array.astype(np.uint32), mask)


def lesion_ids(labels: np.ndarray) -> np.ndarray:
    """Sorted lesion ids present in ``labels`` (0 excluded)."""
    ids = np.unique(labels)
    return ids[ids > 0]


def _check_ids(labels: np.ndarray, ids) -> list[int]:
    ids = [int(i) for i in np.atleast_1d(ids)]
    present = set(lesion_ids(labels).tolist())
    missing = [i for i in ids if i not in present]
    if missing:
        raise InputError("lesion ids", f"{missing} not found in the label image")
    return ids


def delete_lesions(labels: np.ndarray, ids) -> np.ndarray:
    """Return a copy of ``labels`` with lesions ``ids`` set to background; other ids unchanged."""
    ids = _check_ids(labels, ids)
    out = np.array(labels, copy=True)
    out[np.isin(out, ids)] = 0
    return out


def merge_lesions(labels: np.ndarray, ids, into: int | None = None) -> np.ndarray:
    """Return a copy of ``labels`` where lesions ``ids`` all carry one id.

    The merged lesion keeps ``into`` (default: the smallest of ``ids``); other ids unchanged.
    Merging is meant for touching parts of one lesion; :func:`relabel_after_edit` splits a
    lesion id whose voxels are not connected.
    """
    ids = _check_ids(labels, ids)
    target = min(ids) if into is None else int(into)
    out = np.array(labels, copy=True)
    out[np.isin(out, ids)] = target
    return out


def split_lesion(labels: np.ndarray, lesion_id: int, spacing_kji=(1.0, 1.0, 1.0),
                 h_mm: float = SPLIT_H_MM, connectivity: int = DEFAULT_CONNECTIVITY) -> tuple[np.ndarray, list[int]]:
    """Split one (confluent) lesion into its lobes by a distance-transform watershed.

    The Euclidean distance to the lesion border (mm, ``spacing_kji`` in array order) has one
    regional maximum per lobe; maxima less prominent than ``h_mm`` are suppressed
    (h-maxima), the remaining ones seed a marker watershed of the inverted distance
    (Beucher & Meyer 1993), restricted to the lesion. The largest part keeps
    ``lesion_id``; the others get new ids after the current maximum id, largest first.
    Returns (new labels, ids of all parts). A lesion with a single lobe is returned unchanged.
    """
    lesion_id = _check_ids(labels, [lesion_id])[0]
    region = labels == lesion_id
    slices = ndimage.find_objects(region.astype(np.uint8))[0]
    slices = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in slices)
    sub = region[slices]
    distance = ndimage.distance_transform_edt(sub, sampling=spacing_kji).astype(np.float32)
    dist_img = sitk.GetImageFromArray(distance)
    maxima = sitk.GetArrayFromImage(sitk.RegionalMaxima(sitk.HMaxima(dist_img, float(h_mm)),
                                                        backgroundValue=0, foregroundValue=1,
                                                        fullyConnected=True)).astype(bool) & sub
    markers, count = connected_components(maxima, connectivity)
    if count < 2:
        return np.array(labels, copy=True), [lesion_id]
    marker_img = sitk.GetImageFromArray(markers.astype(np.uint32))
    parts = sitk.GetArrayFromImage(sitk.MorphologicalWatershedFromMarkers(
        sitk.GetImageFromArray(-distance), marker_img, markWatershedLine=False, fullyConnected=connectivity == 26))
    parts = np.where(sub, parts, 0).astype(np.int64)
    sizes = np.bincount(parts.ravel(), minlength=count + 1)
    order = np.argsort(-sizes[1:], kind="stable") + 1
    next_id = int(labels.max()) + 1
    new_ids = [lesion_id] + list(range(next_id, next_id + count - 1))
    lut = np.zeros(count + 1, dtype=np.int64)
    lut[order] = new_ids
    out = np.array(labels, copy=True)
    view = out[slices]
    view[sub] = lut[parts[sub]]
    return out, [int(i) for i in new_ids if np.any(view == i)]


def _components_per_value(labels: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    """Connected components of each label value separately (touching lesions stay apart)."""
    structure = structuring_element(connectivity)
    out = np.zeros(labels.shape, dtype=np.int32)
    count = 0
    for value, slices in enumerate(ndimage.find_objects(labels), start=0):
        if slices is None:
            continue
        region = labels[slices] == value + 1
        comp, n = ndimage.label(region, structure=structure)
        view = out[slices]
        view[region] = comp[region] + count
        count += n
    return out, count


def relabel_after_edit(edited: np.ndarray, previous: np.ndarray | None = None, voxel_volume_mm3: float = 1.0,
                       connectivity: int = DEFAULT_CONNECTIVITY,
                       min_volume_mm3: float = MIN_LESION_VOLUME_MM3) -> tuple[np.ndarray, dict]:
    """Relabel an edited lesion labelmap, keeping the ids of lesions that were not touched.

    Lesions after the edit are the connected components of each label value of ``edited``
    (so two touching lesions with different ids stay two lesions, and an id whose voxels
    fell apart becomes several lesions). Components smaller than ``min_volume_mm3`` are
    dropped. Ids come from ``previous`` (default: ``edited`` itself, i.e. the labels the
    editor kept): pairs (component, previous lesion) are taken in decreasing order of
    overlap and each component takes the id of its partner when neither is taken yet. A
    lesion that was not touched overlaps only itself completely, so it keeps its id; an
    edited lesion keeps its id when it still has the largest overlap with it. Components
    without a partner get new ids after the largest previous id, largest first.

    Returns (labels int32, report dict with ``kept``, ``new`` and ``removed`` id lists).
    """
    edited = np.asarray(edited)
    if edited.size and edited.min() < 0:
        raise InputError("edited labels", "negative label values")
    previous = edited if previous is None else np.asarray(previous)
    if previous.shape != edited.shape:
        raise InputError("previous labels", f"shape {previous.shape} differs from edited {edited.shape}")
    comps, count = _components_per_value(edited.astype(np.int64, copy=False), connectivity)
    sizes = np.bincount(comps.ravel(), minlength=count + 1)
    keep = sizes >= min_voxels_for_volume(min_volume_mm3, voxel_volume_mm3)
    keep[0] = False
    comps = np.where(keep[comps], comps, 0)

    both = (comps > 0) & (previous > 0)
    pairs, overlap = np.unique(np.stack([comps[both], previous[both].astype(np.int64)]), axis=1, return_counts=True)
    lut = np.zeros(count + 1, dtype=np.int64)
    used_prev: set[int] = set()
    for idx in np.lexsort((pairs[1], pairs[0], -overlap)):
        comp, prev = int(pairs[0, idx]), int(pairs[1, idx])
        if lut[comp] == 0 and prev not in used_prev:
            lut[comp] = prev
            used_prev.add(prev)
    unassigned = np.nonzero(keep & (lut == 0))[0]
    unassigned = unassigned[np.argsort(-sizes[unassigned], kind="stable")]
    start = int(previous.max(initial=0)) + 1
    lut[unassigned] = np.arange(start, start + unassigned.size)
    out = lut[comps].astype(np.int32)
    prev_ids = set(lesion_ids(previous).tolist())
    report = {"kept": sorted(used_prev), "new": [int(i) for i in lut[unassigned]],
              "removed": sorted(prev_ids - used_prev)}
    return out, report


def renumber_by_size(labels: np.ndarray) -> tuple[np.ndarray, dict]:
    """Renumber lesion ids to 1..N by decreasing volume; returns (labels, {old id: new id})."""
    out, old = relabel_by_size(np.asarray(labels, dtype=np.int64))
    return out, {int(o): n for n, o in enumerate(old) if n > 0}
