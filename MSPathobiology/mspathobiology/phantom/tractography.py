"""Synthetic tractogram of the phantom with an exactly known connectome and disconnection.

Each streamline joins two parcellation regions: it starts and ends at a random point
inside a region voxel that borders white matter (off the voxel centre, at most
``ENDPOINT_JITTER_VOXELS`` from it per axis); for ``ENDPOINT_SHIFT_FRACTION`` of the
streamlines one endpoint is moved one voxel along a random axis (often into unlabelled
white matter, where only a radial search assigns it). The curve is a quartic Bezier
through control points pushed into the white matter (towards the hemisphere's
white-matter centre) and a hub between them; curves whose interior leaves white matter /
deep grey matter / lesions too often are discarded. Region pairs are drawn with a
probability that decays with distance (exponential distance rule; Ercsey-Ravasz et al.,
Neuron 2013).

Ground truth, computed here independently of ``mspathobiology.networks``:

- :func:`connectome`: end-voxel assignment (the voxel containing each endpoint, i.e. the
  nearest voxel centre, as DIPY's ``connectivity_matrix``); symmetric counts, zero
  diagonal, label 0 excluded. Endpoints sit >= 0.1 voxel from any voxel face, so the
  voxel is unambiguous in floating point.
- :func:`radial_connectome`: an endpoint in an unlabelled voxel takes the label of the
  nearest labelled voxel centre within R mm (MRtrix3 ``-assignment_radial_search``), found
  by brute force over every voxel of a cube around it.
- :func:`crossing_streamlines`: a streamline crosses a lesion when any voxel that one of
  its segments passes through is a lesion voxel. The voxels a segment passes through are
  found exactly, as in the Amanatides & Woo traversal (Eurographics 1987): every
  parameter t at which the segment crosses a voxel face (x = v + 1/2 on each axis) is
  computed, and the voxel between consecutive crossings is looked up at their midpoint.
  No sampling step is involved.

nibabel is imported only when streamlines are built (the phantom package imports without it).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..connectivity import structuring_element
from ..defaults import phantom as D
from ..geometry import ras_to_ijk_points, voxel_to_ras

_BERNSTEIN4 = np.array([1.0, 4.0, 6.0, 4.0, 1.0])


def _flat(streamlines):
    """(points (N, 3) float64, offsets, lengths) of an ArraySequence or list of arrays (packed)."""
    if hasattr(streamlines, "_data") and hasattr(streamlines, "_offsets"):
        lengths = np.asarray(streamlines._lengths, dtype=np.int64)
        offsets = np.asarray(streamlines._offsets, dtype=np.int64)
        packed = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        index = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(offsets - packed, lengths)
        data = np.asarray(streamlines._data, dtype=np.float64)[index]
    else:
        lengths = np.array([len(s) for s in streamlines], dtype=np.int64)
        data = (np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1, 3) for s in streamlines])
                if len(lengths) else np.zeros((0, 3)))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return data, offsets, lengths


def _voxel_index(ijk: np.ndarray) -> np.ndarray:
    """Voxel containing each continuous (i, j, k) index (voxel v spans [v - 1/2, v + 1/2))."""
    return np.floor(np.asarray(ijk, dtype=np.float64) + 0.5).astype(np.int64)


def _lookup(array_kji: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    """Values at the voxel containing each continuous (i, j, k) index; outside the grid -> 0."""
    nk, nj, ni = array_kji.shape
    idx = _voxel_index(ijk)
    ok = ((idx >= 0) & (idx < np.array([ni, nj, nk]))).all(axis=1)
    flat = (idx[:, 2] * nj + idx[:, 1]) * ni + idx[:, 0]
    out = np.zeros(len(idx), dtype=array_kji.dtype)
    out[ok] = np.take(array_kji.reshape(-1), flat[ok])
    return out


def _endpoints(streamlines):
    data, offsets, lengths = _flat(streamlines)
    keep = lengths > 0
    return np.concatenate([data[offsets[keep]], data[(offsets + lengths - 1)[keep]]]), int(keep.sum())


def endpoint_labels(streamlines, label_image: sitk.Image) -> np.ndarray:
    """(N, 2) labels of the voxel containing the first and last point (RAS mm) of every streamline."""
    ends, n = _endpoints(streamlines)
    if n == 0:
        return np.zeros((0, 2), dtype=np.int64)
    labels = _lookup(sitk.GetArrayViewFromImage(label_image), ras_to_ijk_points(label_image, ends))
    return labels.reshape(2, -1).T.astype(np.int64)


def radial_endpoint_labels(streamlines, label_image: sitk.Image, radius_mm: float) -> np.ndarray:
    """(N, 2) endpoint labels by radial search: own voxel's label, else the nearest labelled voxel centre within radius_mm.

    Brute force: every voxel of the cube of half-width ceil(radius / smallest spacing) + 1
    around the endpoint's voxel is a candidate.
    """
    ends, n = _endpoints(streamlines)
    if n == 0:
        return np.zeros((0, 2), dtype=np.int64)
    array = sitk.GetArrayViewFromImage(label_image)
    ijk = ras_to_ijk_points(label_image, ends)
    labels = _lookup(array, ijk).astype(np.int64)
    affine = voxel_to_ras(label_image)
    half = int(np.ceil(radius_mm / min(label_image.GetSpacing()))) + 1
    offsets = np.stack(np.meshgrid(*[np.arange(-half, half + 1)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    size = np.array(label_image.GetSize())
    todo = np.flatnonzero(labels == 0)
    for start in range(0, len(todo), 2000):
        which = todo[start:start + 2000]
        cells = _voxel_index(ijk[which])[:, None, :] + offsets[None, :, :]
        ok = ((cells >= 0) & (cells < size)).all(axis=2)
        clipped = np.clip(cells, 0, size - 1)
        values = np.where(ok, array[clipped[..., 2], clipped[..., 1], clipped[..., 0]], 0)
        centres = cells @ affine[:3, :3].T + affine[:3, 3]
        distance = np.linalg.norm(centres - ends[which][:, None, :], axis=2)
        distance[(values == 0) | (distance > radius_mm)] = np.inf
        best = distance.argmin(axis=1)
        found = np.isfinite(distance[np.arange(len(which)), best])
        labels[which[found]] = values[np.arange(len(which)), best][found]
    return labels.reshape(2, -1).T


def _count_matrix(ends: np.ndarray, labels) -> np.ndarray:
    index = {v: n for n, v in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    keep = (ends[:, 0] != 0) & (ends[:, 1] != 0) & (ends[:, 0] != ends[:, 1])
    if keep.any():
        lut = np.full(int(max(max(labels), ends.max())) + 1, -1, dtype=np.int64)
        lut[list(index)] = list(index.values())
        a, b = lut[ends[keep, 0]], lut[ends[keep, 1]]
        np.add.at(matrix, (a, b), 1)
        np.add.at(matrix, (b, a), 1)
    return matrix


def _labels_of(parcellation, labels):
    if labels is None:
        labels = [int(v) for v in np.unique(sitk.GetArrayViewFromImage(parcellation)) if v != 0]
    return list(labels)


def connectome(streamlines, parcellation: sitk.Image, labels=None) -> tuple[list, np.ndarray]:
    """(labels, symmetric count matrix) by end-voxel assignment; zero diagonal, label 0 excluded."""
    labels = _labels_of(parcellation, labels)
    return labels, _count_matrix(endpoint_labels(streamlines, parcellation), labels)


def radial_connectome(streamlines, parcellation: sitk.Image, labels=None,
                      radius_mm: float = D.RADIAL_TRUTH_MM) -> tuple[list, np.ndarray]:
    """(labels, symmetric count matrix) by radial-search assignment within ``radius_mm``; as :func:`connectome`."""
    labels = _labels_of(parcellation, labels)
    return labels, _count_matrix(radial_endpoint_labels(streamlines, parcellation, radius_mm), labels)


def segment_voxels(a: np.ndarray, b: np.ndarray):
    """Every voxel the segments a -> b ((S, 3) continuous voxel indices) pass through: (segment index, (V, 3) voxel).

    The face-crossing parameters of each segment on each axis are merged and sorted; the
    voxel between two consecutive crossings (and before the first / after the last) is
    the voxel containing the midpoint of that parameter interval.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    delta = b - a
    va, vb = _voxel_index(a), _voxel_index(b)
    seg_ids, ts = [np.arange(len(a)), np.arange(len(a))], [np.zeros(len(a)), np.ones(len(a))]
    for axis in range(3):
        lo = np.minimum(va[:, axis], vb[:, axis])
        count = np.abs(vb[:, axis] - va[:, axis])
        which = np.repeat(np.arange(len(a)), count)
        if len(which) == 0:
            continue
        first = np.concatenate([[0], np.cumsum(count)[:-1]])
        face = lo[which] + (np.arange(len(which)) - first[which]) + 0.5
        ts.append((face - a[which, axis]) / delta[which, axis])
        seg_ids.append(which)
    seg = np.concatenate(seg_ids)
    t = np.clip(np.concatenate(ts), 0.0, 1.0)
    order = np.lexsort((t, seg))
    seg, t = seg[order], t[order]
    same = seg[1:] == seg[:-1]
    mid = 0.5 * (t[1:] + t[:-1])[same]
    owner = seg[1:][same]
    return owner, _voxel_index(a[owner] + mid[:, None] * delta[owner])


def crossing_streamlines(streamlines, lesions: sitk.Image) -> list[int]:
    """Indices of streamlines (RAS mm) that pass through a lesion voxel (label > 0), by exact traversal.

    Only segments that start within ``reach`` voxels (Chebyshev) of a lesion voxel can
    reach one (reach = ceil(longest segment) + 1), so only those are traversed.
    """
    data, offsets, lengths = _flat(streamlines)
    if len(lengths) == 0:
        return []
    array = sitk.GetArrayViewFromImage(lesions) > 0
    ijk = ras_to_ijk_points(lesions, data)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    crossed = np.zeros(len(lengths), dtype=bool)
    crossed[owner[_lookup(array, ijk)]] = True
    last = np.zeros(len(ijk), dtype=bool)
    last[(offsets + lengths - 1)[lengths > 0]] = True
    start = np.flatnonzero(~last)
    if len(start):
        longest = float(np.sqrt(((ijk[start + 1] - ijk[start]) ** 2).sum(axis=1)).max())
        reach = int(np.ceil(longest)) + 1
        near = ndimage.maximum_filter(array, size=2 * reach + 1, mode="constant")
        start = start[_lookup(near, ijk[start])]
        seg, cells = segment_voxels(ijk[start], ijk[start + 1])
        size = np.array(array.shape[::-1])
        ok = ((cells >= 0) & (cells < size)).all(axis=1)
        hit = np.zeros(len(cells), dtype=bool)
        hit[ok] = array[cells[ok, 2], cells[ok, 1], cells[ok, 0]]
        crossed[owner[start[seg[hit]]]] = True
    return [int(v) for v in np.flatnonzero(crossed)]


def _endpoint_pools(parc, wm_like):
    """Region value -> flat voxel indices of region voxels that touch white matter."""
    touch = ndimage.binary_dilation(wm_like, structure=structuring_element(26))
    pools = {}
    values = parc[touch & (parc > 0)]
    flat = np.flatnonzero(touch & (parc > 0))
    order = np.argsort(values, kind="stable")
    values, flat = values[order], flat[order]
    bounds = np.flatnonzero(np.diff(values)) + 1
    for chunk_v, chunk_f in zip(np.split(values, bounds), np.split(flat, bounds)):
        if len(chunk_v):
            pools[int(chunk_v[0])] = chunk_f
    return pools


def _bezier(ctrl: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Quartic Bezier points: ctrl (n, 5, 3), t (m,) -> (n, m, 3)."""
    basis = np.stack([_BERNSTEIN4[j] * t ** j * (1.0 - t) ** (4 - j) for j in range(5)], axis=1)  # (m, 5)
    return np.einsum("mj,njc->nmc", basis, ctrl)


def _dense(ctrl: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points (float64) and lengths of Bezier curves sampled at about ``step`` (voxels), ends exact."""
    poly = np.linalg.norm(np.diff(ctrl, axis=1), axis=2).sum(axis=1)
    npts = np.maximum(np.ceil(poly / step).astype(np.int64) + 1, 3)
    offsets = np.concatenate([[0], np.cumsum(npts)[:-1]])
    owner = np.repeat(np.arange(len(ctrl)), npts)
    t = ((np.arange(npts.sum()) - offsets[owner]) / (npts[owner] - 1))[:, None]
    points = np.zeros((len(t), 3))
    for j in range(5):
        points += (_BERNSTEIN4[j] * t ** j * (1.0 - t) ** (4 - j)) * ctrl[owner, j]
    return points, npts


def generate(rng, parcellation: sitk.Image, aseg: np.ndarray, lesions: np.ndarray, count: int,
             step_voxels: float = D.STREAMLINE_STEP_VOXELS):
    """Streamlines (ArraySequence, RAS mm, float32) joining parcellation regions through white matter."""
    parc = sitk.GetArrayFromImage(parcellation)
    spacing = float(parcellation.GetSpacing()[0])
    wm_like = np.isin(aseg, np.array(D.WM_LABELS + D.DEEP_GM_LABELS)) | (lesions > 0)
    pools = _endpoint_pools(parc, wm_like)
    regions = sorted(pools)
    shape = parc.shape
    pool_flat = np.concatenate([pools[r] for r in regions])
    pool_size = np.array([len(pools[r]) for r in regions])
    pool_start = np.concatenate([[0], np.cumsum(pool_size)[:-1]])
    centroid = np.array([np.array(np.unravel_index(pools[r], shape)).T[:, ::-1].mean(axis=0) for r in regions])
    wm_vox = np.array(np.nonzero(np.isin(aseg, (2, 41, 77)))).T[:, ::-1].astype(float)  # (i, j, k)
    m = voxel_to_ras(parcellation)
    ras_x = wm_vox @ m[0, :3] + m[0, 3]
    hemi_centre = np.array([wm_vox[ras_x < 0].mean(axis=0), wm_vox[ras_x >= 0].mean(axis=0)])
    wm_centre = wm_vox.mean(axis=0)
    cortical = np.array([r >= 1000 for r in regions])
    region_hemi = np.array([(1 if r >= 2000 else 0) if r >= 1000 else (1 if r in (49, 50, 51, 47) else 0)
                            for r in regions])

    dist = np.linalg.norm(centroid[:, None, :] - centroid[None, :, :], axis=-1) * spacing
    prob = np.exp(-dist / D.CONNECTION_LENGTH_SCALE_MM)
    iu = np.triu_indices(len(regions), k=1)
    pair_p = prob[iu] / prob[iu].sum()
    allowed = wm_like.astype(np.uint8)
    t_coarse = np.linspace(0.0, 1.0, D.STREAMLINE_COARSE_SAMPLES)
    interior = (t_coarse > D.STREAMLINE_END_FRACTION) & (t_coarse < 1.0 - D.STREAMLINE_END_FRACTION)
    inward = D.STREAMLINE_INWARD_MM / spacing
    grid_max = np.array(shape[::-1]) - 0.5

    accepted = []
    total = 0
    batch = int(count * 1.3) + 100
    for _ in range(40):
        pick = rng.choice(len(pair_p), size=batch, p=pair_p)
        a_idx, b_idx = iu[0][pick], iu[1][pick]
        swap = rng.random(batch) < 0.5
        a_idx, b_idx = np.where(swap, b_idx, a_idx), np.where(swap, a_idx, b_idx)
        a_vox = pool_flat[pool_start[a_idx] + (rng.random(batch) * pool_size[a_idx]).astype(np.int64)]
        b_vox = pool_flat[pool_start[b_idx] + (rng.random(batch) * pool_size[b_idx]).astype(np.int64)]
        pa = np.array(np.unravel_index(a_vox, shape)).T[:, ::-1].astype(float)
        pb = np.array(np.unravel_index(b_vox, shape)).T[:, ::-1].astype(float)
        pa += rng.uniform(-D.ENDPOINT_JITTER_VOXELS, D.ENDPOINT_JITTER_VOXELS, pa.shape)
        pb += rng.uniform(-D.ENDPOINT_JITTER_VOXELS, D.ENDPOINT_JITTER_VOXELS, pb.shape)
        shifted = rng.random(batch) < D.ENDPOINT_SHIFT_FRACTION
        pa[np.flatnonzero(shifted), rng.integers(0, 3, int(shifted.sum()))] += rng.choice([-1.0, 1.0], int(shifted.sum()))
        da, db = hemi_centre[region_hemi[a_idx]] - pa, hemi_centre[region_hemi[b_idx]] - pb
        da /= np.linalg.norm(da, axis=1, keepdims=True) + 1e-9
        db /= np.linalg.norm(db, axis=1, keepdims=True) + 1e-9
        a_in = pa + da * np.where(cortical[a_idx], inward, D.SUBCORTICAL_INWARD_FRACTION * inward)[:, None]
        b_in = pb + db * np.where(cortical[b_idx], inward, D.SUBCORTICAL_INWARD_FRACTION * inward)[:, None]
        mid = 0.5 * (a_in + b_in)
        hub = mid + D.HUB_PULL * (wm_centre - mid) + rng.normal(0.0, D.HUB_JITTER_MM / spacing, size=mid.shape)
        ctrl = np.stack([pa, a_in, hub, b_in, pb], axis=1)
        coarse = _bezier(ctrl, t_coarse)  # (n, m, 3)
        flat = coarse.reshape(-1, 3)
        ok = (_lookup(allowed, flat) > 0).reshape(coarse.shape[:2])
        frac = ok[:, interior].mean(axis=1)
        inside = ((coarse > -0.5) & (coarse < grid_max)).all(axis=(1, 2))
        good = np.flatnonzero((frac >= D.STREAMLINE_MIN_WM_FRACTION) & inside)[: count - total]
        accepted.append(ctrl[good])
        total += len(good)
        if total >= count:
            break
    ctrl = np.concatenate(accepted) if accepted else np.zeros((0, 5, 3))
    pieces, lengths = [], []
    for start in range(0, len(ctrl), 10000):
        points, npts = _dense(ctrl[start:start + 10000], step_voxels)
        pieces.append((points @ m[:3, :3].T + m[:3, 3]).astype(np.float32))
        lengths.append(npts)
    try:
        from nibabel.streamlines import ArraySequence
    except ImportError:  # a fresh Slicer has no nibabel: a list of (m, 3) arrays (every reader here takes both)
        ArraySequence = list

    if not pieces:
        return ArraySequence([])
    ras = np.concatenate(pieces)
    lengths = np.concatenate(lengths)
    return ArraySequence(np.split(ras, np.cumsum(lengths)[:-1]))
