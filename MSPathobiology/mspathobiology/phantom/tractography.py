"""Synthetic tractogram of the phantom with an exactly known connectome.

Each streamline joins two parcellation regions: it starts and ends exactly at voxel
centres of region voxels that border white matter, and follows a quartic Bezier curve
through control points pushed into the white matter (towards the hemisphere's white-matter
centre) and a hub between them; curves whose interior leaves white matter / deep grey
matter / lesions too often are discarded. Region pairs are drawn with a probability that
decays with distance (exponential distance rule; Ercsey-Ravasz et al., Neuron 2013).

Connectome truth uses end-voxel assignment (each endpoint's nearest voxel, as DIPY's
``connectivity_matrix`` does): symmetric counts, both triangles, zero diagonal, label 0
excluded. Lesion crossing is tested by sampling every segment at <= ``CROSSING_SAMPLE_VOXELS``
and looking up the nearest voxel.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from nibabel.streamlines import ArraySequence
from scipy import ndimage

from ..connectivity import structuring_element
from ..defaults import phantom as D
from ..geometry import ras_to_ijk_points, voxel_to_ras

_BERNSTEIN4 = np.array([1.0, 4.0, 6.0, 4.0, 1.0])


def _flat(streamlines):
    """(points (N, 3) float64, offsets, lengths) of an ArraySequence or list of arrays."""
    if isinstance(streamlines, ArraySequence):
        data = np.asarray(streamlines.get_data(), dtype=np.float64)
        lengths = np.asarray(streamlines._lengths, dtype=np.int64)
    else:
        lengths = np.array([len(s) for s in streamlines], dtype=np.int64)
        data = (np.concatenate([np.asarray(s, dtype=np.float64) for s in streamlines]) if len(lengths)
                else np.zeros((0, 3)))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return data, offsets, lengths


def _lookup(array_kji: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    """Values at the nearest voxel of continuous (i, j, k) indices; outside the grid -> 0."""
    nk, nj, ni = array_kji.shape
    idx = np.floor(np.asarray(ijk, dtype=np.float32) + np.float32(0.5)).astype(np.int64)
    ok = ((idx >= 0) & (idx < np.array([ni, nj, nk]))).all(axis=1)
    flat = (idx[:, 2] * nj + idx[:, 1]) * ni + idx[:, 0]
    out = np.zeros(len(idx), dtype=array_kji.dtype)
    out[ok] = np.take(array_kji.reshape(-1), flat[ok])
    return out


def endpoint_labels(streamlines, label_image: sitk.Image) -> np.ndarray:
    """(N, 2) labels of the first and last point (RAS mm) of every streamline, nearest voxel."""
    data, offsets, lengths = _flat(streamlines)
    if len(lengths) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    ends = np.concatenate([data[offsets], data[offsets + lengths - 1]])
    labels = _lookup(sitk.GetArrayViewFromImage(label_image), ras_to_ijk_points(label_image, ends))
    return labels.reshape(2, -1).T.astype(np.int64)


def connectome(streamlines, parcellation: sitk.Image, labels=None) -> tuple[list, np.ndarray]:
    """(labels, symmetric count matrix) by end-voxel assignment; zero diagonal, label 0 excluded."""
    if labels is None:
        labels = [int(v) for v in np.unique(sitk.GetArrayViewFromImage(parcellation)) if v != 0]
    index = {v: n for n, v in enumerate(labels)}
    ends = endpoint_labels(streamlines, parcellation)
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    keep = (ends[:, 0] != 0) & (ends[:, 1] != 0) & (ends[:, 0] != ends[:, 1])
    if keep.any():
        lut = np.full(int(max(labels)) + 1, -1, dtype=np.int64)
        lut[list(index)] = list(index.values())
        a, b = lut[ends[keep, 0]], lut[ends[keep, 1]]
        np.add.at(matrix, (a, b), 1)
        np.add.at(matrix, (b, a), 1)
    return list(labels), matrix


def crossing_streamlines(streamlines, lesions: sitk.Image, step_voxels: float = D.CROSSING_SAMPLE_VOXELS) -> list[int]:
    """Indices of streamlines (RAS mm) with any sample in a lesion voxel (label > 0).

    Every segment is sampled at fractions s/m, m = ceil(longest segment / step_voxels), plus the last
    point; each sample is looked up in its nearest voxel.
    """
    data, offsets, lengths = _flat(streamlines)
    if len(lengths) == 0:
        return []
    array = sitk.GetArrayViewFromImage(lesions)
    ijk = ras_to_ijk_points(lesions, data)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    hit = _lookup(array, ijk) > 0
    last = np.zeros(len(ijk), dtype=bool)
    last[offsets + lengths - 1] = True
    start = ijk[~last]
    seg = ijk[np.flatnonzero(~last) + 1] - start
    seg_owner = owner[~last]
    if len(seg):
        m = int(np.ceil(np.sqrt((seg * seg).sum(axis=1)).max() / step_voxels))
        for s in range(1, max(m, 1)):
            inside = _lookup(array, start + seg * (s / m)) > 0
            if inside.any():
                hit_seg = np.zeros(len(lengths), dtype=bool)
                hit_seg[seg_owner[inside]] = True
                hit[offsets[hit_seg]] = True
    crossed = np.zeros(len(lengths), dtype=bool)
    crossed[owner[hit]] = True
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
    if not pieces:
        return ArraySequence([])
    ras = np.concatenate(pieces)
    lengths = np.concatenate(lengths)
    return ArraySequence(np.split(ras, np.cumsum(lengths)[:-1]))
