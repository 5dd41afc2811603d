"""Central vein sign (CVS): Hessian vesselness on T2*/SWI inside lesions, per-lesion and per-subject calls.

Vesselness: Frangi et al., "Multiscale vessel enhancement filtering", MICCAI 1998, through
SimpleITK's ``ObjectnessMeasure`` (objectDimension=1, dark objects) on the image smoothed
at each scale (``SmoothingRecursiveGaussian``) and scaled by sigma^2 (Lindeberg's
scale-normalised derivatives), maximum over scales.

Per lesion (NAIMS, Sati et al., "The central vein sign and its clinical evaluation for the
diagnosis of multiple sclerosis: a consensus statement from the North American Imaging in
Multiple Sclerosis Cooperative", Nat Rev Neurol 2016):

- a vein is a connected set of vessel voxels within the lesion (plus a small margin), at
  least ``min_vein_length_mm`` long along its main axis, touching the lesion itself;
- **excluded**: lesion smaller than 3 mm across in any axis ("small"); confluent
  ("confluent": touching another lesion label, or - since automatic 26-connected labels never
  touch - a label whose shape splits into several lobes under the distance-transform watershed
  of the lesion split tool, :func:`mspathobiology.lesions.labeling.split_lesion`, in 3D or on
  at least 2 consecutive slices of an axial, coronal or sagittal plane, or one joined to the
  rest by a narrow neck, :func:`lobe_necks`); or holding
  more than one vein ("multiple_veins"). ``cvs_exclusion_detail`` says why in words;
- **CVS+**: exactly one vein whose axis passes within ``max_eccentricity`` x the lesion's
  equivalent radius of its centroid ("positioned centrally"); otherwise **CVS-**.

Per subject: the 40 % rule (Tallantyre et al., Neurology 2011; Sati et al. 2016), Select-3
and Select-6 (see :func:`cvs_subject_summary` for the exact definitions implemented).
Everything is vectorised over lesions and vein components (bincount moments, batched eigh).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..connectivity import connected_components, structuring_element
from ..defaults import rims as D
from ..geometry import check_same_geometry
from ..io import validate_image
from .scoring import group_quantile

CVS_COLUMNS = (
    ("cvs", "CVS+, CVS- or excluded"),
    ("cvs_exclusion", "small, confluent or multiple_veins when excluded"),
    ("cvs_exclusion_detail", "why the lesion was excluded, in words"),
    ("cvs_veins", "number of veins found in the lesion"),
    ("cvs_eccentricity", "distance of the vein axis from the lesion centroid / equivalent radius"),
    ("cvs_vein_length_mm", "length of the (longest) vein along its axis, mm"),
    ("cvs_vesselness_max", "largest vesselness inside the lesion, 0..1"),
)


def vesselness(image: sitk.Image, sigmas_mm=D.CVS_SIGMAS_MM, dark: bool = True,
               alpha: float = D.CVS_FRANGI_ALPHA, beta: float = D.CVS_FRANGI_BETA,
               gamma: float = D.CVS_FRANGI_GAMMA, normalise_mask: np.ndarray | None = None) -> sitk.Image:
    """Multi-scale Frangi vesselness (0..1) of tubular structures, dark on bright by default (veins on T2*).

    The image is divided by its median (inside ``normalise_mask`` [k, j, i] when given) so
    that ``gamma`` applies to a relative intensity scale. ``sigmas_mm`` in mm.
    """
    array = sitk.GetArrayViewFromImage(image)
    values = array[normalise_mask] if normalise_mask is not None and np.any(normalise_mask) else array
    scale = float(np.median(values)) or 1.0
    norm = sitk.Cast(image, sitk.sitkFloat32) / abs(scale)
    best = None
    for sigma in sigmas_mm:
        smoothed = sitk.SmoothingRecursiveGaussian(norm, float(sigma)) * float(sigma * sigma)
        v = sitk.ObjectnessMeasure(smoothed, alpha, beta, gamma, False, 1, not dark)
        best = v if best is None else sitk.Maximum(best, v)
    return best


def _touching_other_label(labels: np.ndarray) -> np.ndarray:
    """Ids of lesions that touch a different non-zero label (26-neighbourhood)."""
    touching = set()
    offsets = np.argwhere(structuring_element(26)) - 1
    for dk, dj, di in offsets:
        if (dk, dj, di) <= (0, 0, 0):
            continue  # each pair of directions once
        a = labels[max(dk, 0): labels.shape[0] + min(dk, 0), max(dj, 0): labels.shape[1] + min(dj, 0),
                   max(di, 0): labels.shape[2] + min(di, 0)]
        b = labels[max(-dk, 0): labels.shape[0] + min(-dk, 0), max(-dj, 0): labels.shape[1] + min(-dj, 0),
                   max(-di, 0): labels.shape[2] + min(-di, 0)]
        diff = (a != b) & (a > 0) & (b > 0)
        if diff.any():
            touching.update(np.unique(a[diff]).tolist())
            touching.update(np.unique(b[diff]).tolist())
    return np.array(sorted(touching), dtype=np.int64)


#: Half of the 26-neighbourhood offsets (each neighbour pair once).
_HALF_26 = [tuple(o) for o in np.argwhere(np.ones((3, 3, 3), bool)) - 1 if tuple(o) > (0, 0, 0)]


def lobe_necks(mask: np.ndarray, spacing) -> list[tuple[float, float]]:
    """Necks between the lobes of one binary shape: ``(smaller lobe radius, neck radius)`` in mm per merge.

    The Euclidean distance to the border (``spacing`` mm in array order) is flooded from each of
    its regional maxima (marker watershed of the inverted distance, as the split tool does,
    :func:`mspathobiology.lesions.labeling.split_lesion`, but without the h-maxima step). Basins
    are merged in order of decreasing saddle (the largest distance at which two basins touch,
    i.e. the half-width of the neck between them); each merge gives the inscribed radius of the
    smaller of the two parts and the neck's. A ``neck / radius`` well below 1 is a waist.
    """
    mask = np.pad(np.asarray(mask, bool), 1)
    dist = ndimage.distance_transform_edt(mask, sampling=spacing).astype(np.float32)
    maxima = sitk.GetArrayFromImage(sitk.RegionalMaxima(sitk.GetImageFromArray(dist), backgroundValue=0,
                                                        foregroundValue=1, fullyConnected=True)).astype(bool) & mask
    markers, count = connected_components(maxima, 26)
    if count < 2:
        return []
    basins = sitk.GetArrayFromImage(sitk.MorphologicalWatershedFromMarkers(
        sitk.GetImageFromArray(-dist), sitk.GetImageFromArray(markers.astype(np.uint32)), markWatershedLine=False,
        fullyConnected=True)).astype(np.int64)
    basins[~mask] = 0
    peak = ndimage.maximum(dist, basins, index=np.arange(count + 1))
    keys, levels = [], []
    shape = np.array(basins.shape)
    for off in _HALF_26:
        off = np.array(off)
        a_sl = tuple(slice(max(-o, 0), n - max(o, 0)) for o, n in zip(off, shape))
        b_sl = tuple(slice(max(o, 0), n - max(-o, 0)) for o, n in zip(off, shape))
        a, b = basins[a_sl], basins[b_sl]
        sel = (a != b) & (a > 0) & (b > 0)
        if sel.any():
            keys.append(np.minimum(a[sel], b[sel]) * (count + 1) + np.maximum(a[sel], b[sel]))
            levels.append(np.minimum(dist[a_sl][sel], dist[b_sl][sel]))
    if not keys:
        return []
    keys, levels = np.concatenate(keys), np.concatenate(levels)
    pairs, inverse = np.unique(keys, return_inverse=True)
    saddle = np.full(pairs.size, -np.inf)
    np.maximum.at(saddle, inverse, levels)
    parent = np.arange(count + 1)
    top = peak.astype(float)

    def root(x):
        while parent[x] != x:
            x = parent[x]
        return x

    necks = []
    for n in np.argsort(-saddle, kind="stable"):
        ra, rb = root(pairs[n] // (count + 1)), root(pairs[n] % (count + 1))
        if ra != rb:
            necks.append((float(min(top[ra], top[rb])), float(saddle[n])))
            parent[ra], top[rb] = rb, max(top[ra], top[rb])
    return necks


#: Names of the three orthogonal planes of the image grid, by the array axis that indexes their
#: slices ([k, j, i]); they are the anatomical planes on an axially acquired grid.
PLANE_NAMES = ("axial", "coronal", "sagittal")


def _plane_lobes(alone: np.ndarray, spacing, axis: int, h_mm: float) -> tuple[list[int], int]:
    """Lobes on each slice across ``axis`` of one lesion's mask (in-plane distances, mm), and the longest run of
    consecutive slices with more than one lobe."""
    from ..lesions.labeling import split_lesion

    planes = np.moveaxis(alone, axis, 0)
    in_plane = (1e6,) + tuple(s for a, s in enumerate(spacing) if a != axis)  # a one-slice slab
    counts, run, best = [], 0, 0
    for k in range(planes.shape[0]):
        count = 0
        if planes[k].sum() >= 4:
            slab = np.zeros((3,) + planes.shape[1:], np.int64)
            slab[1] = planes[k]
            count = len(split_lesion(slab, 1, spacing_kji=in_plane, h_mm=h_mm)[1])
        counts.append(count)
        run = run + 1 if count > 1 else 0
        best = max(best, run)
    return counts, best


def lesion_lobes(labels: np.ndarray, spacing, ids, skip=None, h_mm: float = D.CVS_CONFLUENT_H_MM,
                 min_slices: int = D.CVS_CONFLUENT_MIN_SLICES,
                 neck_ratio: float = D.CVS_CONFLUENT_NECK_RATIO,
                 axes=D.CVS_CONFLUENT_AXES) -> tuple[np.ndarray, np.ndarray, list, np.ndarray]:
    """Lobes of each lesion in ``ids`` by the split tool's distance-transform watershed (0 where ``skip``).

    Reuses :func:`mspathobiology.lesions.labeling.split_lesion` on each lesion's bounding box
    (``spacing`` mm in array order [k, j, i]): in 3D, and on every slice alone (in-plane
    distances) across each array axis in ``axes`` (:data:`PLANE_NAMES`), as a reader judges
    confluence slice by slice in perpendicular planes; on a 2D grid
    (:func:`mspathobiology.lesions.measure.slice_axis`) only on the acquired slices, as for the
    long axis (a reformat across thick slices is a staircase, not an image). A lesion also has two lobes when, in 3D,
    a part joins the rest through a neck narrower than ``neck_ratio`` x the part's own inscribed
    radius (:func:`lobe_necks`): a small partner whose radius exceeds the neck by less than
    ``h_mm``. Returns ``(lobes, slices, planes, necks)``: the number of lobes (3D, or 2D when they
    persist on at least ``min_slices`` consecutive slices of one plane), the longest such run of
    slices and its plane's name (None when no slice has two lobes), and the narrowest 3D
    neck / radius (NaN for one lobe or when skipped).
    """
    from ..lesions.labeling import split_lesion
    from ..lesions.measure import slice_axis

    labels = np.asarray(labels)
    spacing = tuple(float(v) for v in spacing)
    acquired = slice_axis(np.diag(list(spacing[::-1]) + [1.0]))
    if acquired is not None:
        axes = (acquired,)
    boxes = ndimage.find_objects(labels)
    lobes = np.zeros(len(ids), dtype=np.int64)
    runs = np.zeros(len(ids), dtype=np.int64)
    planes: list = [None] * len(ids)
    narrowest = np.full(len(ids), np.nan)
    for n, lesion_id in enumerate(ids):
        box = boxes[lesion_id - 1] if lesion_id - 1 < len(boxes) else None
        if box is None or (skip is not None and skip[n]):
            continue
        box = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in box)
        alone = np.where(labels[box] == lesion_id, 1, 0).astype(np.int64)
        lobes[n] = len(split_lesion(alone, 1, spacing_kji=spacing, h_mm=h_mm)[1])
        ratios = [neck / radius for radius, neck in lobe_necks(alone > 0, spacing)]
        narrowest[n] = min(ratios, default=np.nan)
        if lobes[n] < 2 and narrowest[n] <= neck_ratio:
            lobes[n] = 2
        for axis in axes:
            counts, best = _plane_lobes(alone, spacing, axis, h_mm)
            if best > runs[n]:
                runs[n], planes[n] = best, PLANE_NAMES[axis]
            if best >= min_slices:
                lobes[n] = max(lobes[n], max(counts))
    return lobes, runs, planes, narrowest


def _moments(groups, coords, n_groups):
    """Per-group count, mean (n, 3) and covariance (n, 3, 3) of coordinates (N, 3)."""
    n = np.bincount(groups, minlength=n_groups).astype(float)
    safe = np.maximum(n, 1)
    mean = np.stack([np.bincount(groups, coords[:, a], minlength=n_groups) / safe for a in range(3)], axis=1)
    cov = np.empty((n_groups, 3, 3))
    for a in range(3):
        for b in range(a, 3):
            m = np.bincount(groups, coords[:, a] * coords[:, b], minlength=n_groups) / safe - mean[:, a] * mean[:, b]
            cov[:, a, b] = cov[:, b, a] = m
    return n, mean, cov


def central_vein_sign(labels: np.ndarray, vessel: np.ndarray, spacing, *, intensity: np.ndarray | None = None,
                      dark: bool = True, min_vein_contrast: float = D.CVS_MIN_VEIN_CONTRAST,
                      threshold: float = D.CVS_VESSELNESS_THRESHOLD,
                      hysteresis: float = D.CVS_HYSTERESIS_FRACTION,
                      min_vein_length_mm: float = D.CVS_MIN_VEIN_LENGTH_MM,
                      margin_mm: float = D.CVS_LESION_MARGIN_MM,
                      max_eccentricity: float = D.CVS_MAX_ECCENTRICITY,
                      min_diameter_mm: float = D.CVS_MIN_LESION_DIAMETER_MM,
                      confluent_h_mm: float = D.CVS_CONFLUENT_H_MM) -> list[dict]:
    """Per-lesion CVS from a label array and a vesselness array (both [k, j, i], spacing mm k, j, i).

    Vessel voxels: connected sets of ``vessel >= hysteresis * threshold`` that hold at least
    one voxel ``>= threshold`` (hysteresis, so a faint stretch does not split one vein in two).
    With ``intensity`` (the T2*/SWI array), vessel voxels must also be at least
    ``min_vein_contrast`` darker than the lesion median (brighter if ``dark`` is False), which
    rejects noise ridges that the Hessian alone finds in large lesions. Returns one row per lesion id (increasing)
    with the columns of :data:`CVS_COLUMNS` plus ``id``.
    """
    labels = np.asarray(labels)
    vessel = np.asarray(vessel, dtype=np.float32)
    spacing = np.asarray(spacing, dtype=float)
    mask = labels > 0
    ids = np.unique(labels[mask]).astype(np.int64)
    if ids.size == 0:
        return []
    n_les = ids.size
    compact = np.zeros(labels.shape, dtype=np.int64)
    compact[mask] = np.searchsorted(ids, labels[mask])

    # lesion centroid (mm), equivalent radius, bounding-box extents (mm)
    coords = np.argwhere(mask)
    les = compact[mask]
    count, centroid, _ = _moments(les, coords * spacing, n_les)
    radius = np.cbrt(3 * count * np.prod(spacing) / (4 * np.pi))
    lo = np.full((n_les, 3), np.iinfo(np.int64).max)
    hi = np.full((n_les, 3), -1)
    for a in range(3):
        np.minimum.at(lo[:, a], les, coords[:, a])
        np.maximum.at(hi[:, a], les, coords[:, a])
    extent = (hi - lo + 1) * spacing
    small = extent.min(axis=1) < min_diameter_mm
    touching = np.isin(ids, _touching_other_label(labels))
    lobes, lobe_slices, lobe_planes, necks = lesion_lobes(labels, spacing, ids, skip=small | touching, h_mm=confluent_h_mm)
    confluent = touching | (lobes > 1)
    vmax = np.full(n_les, 0.0)
    np.maximum.at(vmax, les, vessel[mask])

    # vessel voxels within margin of a lesion, owned by the nearest lesion
    dist, nearest = ndimage.distance_transform_edt(~mask, sampling=spacing, return_indices=True)
    region = dist <= margin_mm
    # hysteresis: components of vessel >= threshold * low_fraction holding a voxel >= threshold
    candidate = region & (vessel >= threshold * hysteresis)
    if intensity is not None:
        # vein voxels must be darker (bright=False: brighter) than the lesion they belong to
        near_owner = compact[tuple(nearest)]
        lesion_median = group_quantile(compact[mask], np.asarray(intensity, float)[mask], n_les, 0.5)
        relative = np.asarray(intensity, float) / np.where(lesion_median[near_owner] != 0,
                                                            lesion_median[near_owner], 1.0)
        contrast = (1.0 - relative) if dark else (relative - 1.0)
        candidate &= contrast >= min_vein_contrast
    comp, n_comp = connected_components(candidate, 26)
    strong = np.zeros(n_comp + 1, dtype=bool)
    strong[np.unique(comp[candidate & (vessel >= threshold)])] = True
    strong[0] = False
    candidate &= strong[comp]
    cand = np.argwhere(candidate)
    veins = np.zeros(n_les, dtype=np.int64)
    ecc = np.full(n_les, np.nan)
    length_best = np.full(n_les, np.nan)
    if n_comp:
        owner = compact[tuple(nearest[:, candidate])]
        key_pairs = comp[candidate].astype(np.int64) * n_les + owner
        keys, group = np.unique(key_pairs, return_inverse=True)
        k_owner = keys % n_les
        n_groups = keys.size
        pts = cand * spacing
        _, vmean, vcov = _moments(group, pts, n_groups)
        _, evec = np.linalg.eigh(vcov)
        axis = evec[:, :, -1]
        proj = np.einsum("ij,ij->i", pts - vmean[group], axis[group])
        pmin = np.full(n_groups, np.inf)
        pmax = np.full(n_groups, -np.inf)
        np.minimum.at(pmin, group, proj)
        np.maximum.at(pmax, group, proj)
        step = np.abs(axis) @ spacing  # one voxel along the axis
        length = pmax - pmin + step
        touches = np.bincount(group, mask[candidate], minlength=n_groups) > 0
        is_vein = touches & (length >= min_vein_length_mm)
        veins = np.bincount(k_owner[is_vein], minlength=n_les)
        # the longest vein per lesion: its axis distance to the lesion centroid
        order = np.lexsort((-length, k_owner))
        order = order[is_vein[order]]
        first = order[np.unique(k_owner[order], return_index=True)[1]]
        lesion_of = k_owner[first]
        offset = centroid[lesion_of] - vmean[first]
        along = np.einsum("ij,ij->i", offset, axis[first])
        perpendicular = np.linalg.norm(offset - along[:, None] * axis[first], axis=1)
        ecc[lesion_of] = perpendicular / radius[lesion_of]
        length_best[lesion_of] = length[first]

    rows = []
    for n, lesion_id in enumerate(ids.tolist()):
        reason = "small" if small[n] else "confluent" if confluent[n] else "multiple_veins" if veins[n] > 1 else None
        detail = {
            "small": f"smallest extent {extent[n].min():.1f} mm < {min_diameter_mm:g} mm",
            "confluent": "touches another lesion label" if touching[n] else
            f"confluent: {lobes[n]} lobes by the distance-transform watershed (split tool, h = {confluent_h_mm:g} mm"
            + (f"; {lobe_slices[n]} consecutive {lobe_planes[n]} slices" if lobe_slices[n] >= D.CVS_CONFLUENT_MIN_SLICES else "")
            + (f"; narrowest neck {necks[n]:.2f} x the smaller lobe's radius" if necks[n] == necks[n] else "") + ")",
            "multiple_veins": f"{veins[n]} veins",
        }.get(reason)
        if reason:
            call = "excluded"
        elif veins[n] == 1 and ecc[n] <= max_eccentricity:
            call = "CVS+"
        else:
            call = "CVS-"
        rows.append({"id": int(lesion_id), "cvs": call, "cvs_exclusion": reason, "cvs_exclusion_detail": detail,
                     "cvs_veins": int(veins[n]),
                     "cvs_eccentricity": float(ecc[n]), "cvs_vein_length_mm": float(length_best[n]),
                     "cvs_vesselness_max": float(vmax[n])})
    return rows


def central_vein_sign_images(lesions: sitk.Image, t2star: sitk.Image, *, dark: bool = True,
                             names=("lesions", "t2star"), **options) -> list[dict]:
    """CVS per lesion from a label image and a T2*/SWI magnitude image on the same grid.

    Vesselness is computed only in the lesions' bounding box plus a margin of 4 x the
    largest scale. ``options`` go to :func:`central_vein_sign`.
    """
    lesions = validate_image(lesions, "label", names[0])
    t2star = validate_image(t2star, "intensity", names[1])
    check_same_geometry(lesions, t2star, names=names)
    labels = sitk.GetArrayFromImage(lesions)
    if not np.any(labels):
        return []
    spacing = np.asarray(lesions.GetSpacing(), dtype=float)[::-1]
    pad = np.ceil((4 * max(D.CVS_SIGMAS_MM) + D.CVS_LESION_MARGIN_MM) / spacing).astype(int) + 1
    nz = np.nonzero(labels)
    lo = np.maximum([a.min() - p for a, p in zip(nz, pad)], 0)
    hi = np.minimum([a.max() + 1 + p for a, p in zip(nz, pad)], labels.shape)
    size_ijk = [int(v) for v in (hi - lo)[::-1]]
    crop = sitk.RegionOfInterest(t2star, size_ijk, [int(v) for v in lo[::-1]])
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    lab = labels[box]
    near = ndimage.binary_dilation(lab > 0, iterations=2)
    vessel = sitk.GetArrayFromImage(vesselness(crop, dark=dark, normalise_mask=near))
    return central_vein_sign(lab, vessel, spacing, intensity=sitk.GetArrayFromImage(crop), dark=dark, **options)


def cvs_subject_summary(rows, fraction_rule: float = D.CVS_FRACTION_RULE, select3: int = D.CVS_SELECT3,
                        select6: int = D.CVS_SELECT6) -> dict:
    """Per-subject CVS summary from per-lesion rows with a ``cvs`` column (or rater labels).

    Returns counts (total, excluded, eligible, positive), ``cvs_fraction`` (positive /
    eligible, NaN if none eligible) and the booleans ``cvs_rule40`` (fraction >= 40 %;
    Tallantyre et al., Neurology 2011; Sati et al., Nat Rev Neurol 2016), ``cvs_select3``
    (Select-3* of Solomon et al., Mult Scler 2018: at least 3 CVS+ lesions found) and
    ``cvs_select6`` (Select-6* of Daboul et al., Mult Scler 2024: at least 6 CVS+ lesions
    found); see ``defaults.rims.CVS_SELECT3`` / ``CVS_SELECT6`` for the full references.
    """
    calls = [r.get("cvs", r.get("label")) for r in rows]
    positive = sum(c == "CVS+" for c in calls)
    negative = sum(c == "CVS-" for c in calls)
    eligible = positive + negative
    fraction = positive / eligible if eligible else float("nan")
    return {
        "cvs_lesions": len(calls),
        "cvs_excluded": len(calls) - eligible,
        "cvs_eligible": eligible,
        "cvs_positive": positive,
        "cvs_fraction": fraction,
        "cvs_rule40": bool(eligible and fraction >= fraction_rule),
        "cvs_select3": positive >= select3,
        "cvs_select6": positive >= select6,
    }
