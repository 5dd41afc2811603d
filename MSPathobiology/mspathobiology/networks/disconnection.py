"""Lesion disconnection: which streamlines cross a lesion, and what that does to the network.

Follows the Network Modification tool's ChaCo score (NeMo; Kuceyeski et al., Brain
Connect 2013: the fraction of a region's or region pair's streamlines that pass through
the lesion) and the Lesion Quantification Toolkit's parcel disconnection (Griffis et
al., NeuroImage Clin 2021: percent disconnection per parcel pair, the spared
connectome, and the change in graph measures), on the subject's own tractogram.

Crossing (the analysis's definition of "passes through a lesion voxel"). Points are
mapped to continuous voxel indices c = inv(affine) p; voxel v spans [v - 1/2, v + 1/2).
A streamline crosses a lesion when a voxel that one of its points or segments passes
through is a lesion voxel inside the grid. By default (``step_voxels = 0``) the voxels a
segment passes through are found exactly: for every face the segment crosses (c = v + 1/2
on each axis, at parameter t), the voxel it enters there, as in the traversal of Amanatides
& Woo (Eurographics 1987), without sorting the crossings. With ``step_voxels > 0`` each
segment is instead sampled at c_a + (s / m)(c_b - c_a), 0 < s < m,
m = ceil(|c_b - c_a| / step), each sample in its nearest voxel, as NeMo (Kuceyeski et al.
2013) and the Lesion Quantification Toolkit (Griffis et al. 2021) sample; this misses
segments that clip a lesion voxel for less than about a step. Results do not depend on how
the tractogram is split into chunks. The phantom's truth is an independent exact traversal
(``mspathobiology.phantom.tractography``, sorted face crossings and interval midpoints);
``benchmarks/networks_truth.py`` prints the fraction of true crossings each method misses.

Vectorised on the flat point array, one chunk at a time: every point is looked up in a
Euclidean distance map of the lesion (voxel units); a segment can only reach a lesion
voxel when d_a + d_b <= |c_b - c_a| + 2 sqrt(3) (each sample within sqrt(3)/2 of the
centre it rounds to, each point within sqrt(3)/2 of its own voxel's centre), so only
those few segments are subdivided.
"""

from __future__ import annotations

import numpy as np

from ..defaults.networks import (CHUNK_POINTS, DROP_UNASSIGNED, MAX_OUTSIDE_FRACTION, SAMPLE_BLOCK,
                                 SAMPLING_STEP_VOXELS, ZERO_DIAGONAL)
from ..errors import InputError
from . import metrics as graph
from .connectome import (as_label_volume, check_weight, edge_matrix, grid_rows, node_indices, parse_assignment,
                         streamline_weights, warn_if_empty)
from .measures import measure_streamlines
from .tractograms import open_tractogram

_HALF_DIAGONAL = np.sqrt(3.0) / 2.0


def lesion_mask_array(lesions, shape=None, source: str = "lesions"):
    """Boolean [i, j, k] mask from a lesion array or SimpleITK image (any non-zero voxel)."""
    if hasattr(lesions, "GetSize") and hasattr(lesions, "GetDirection"):
        import SimpleITK as sitk

        lesions = sitk.GetArrayFromImage(lesions).transpose(2, 1, 0)
    mask = np.asarray(lesions) != 0
    if mask.ndim != 3:
        raise InputError(source, f"lesion mask must be 3D, got {mask.ndim}D")
    if shape is not None and mask.shape != tuple(shape):
        raise InputError(source, f"lesion mask shape {mask.shape} differs from the parcellation {tuple(shape)}; "
                                 "resample it onto the parcellation grid first")
    return mask


class LesionSampler:
    """Lesion-crossing test of streamline chunks against one mask (see the module docstring).

    ``lesion_mask``: bool [i, j, k] on the grid of ``affine`` (voxel -> RAS mm); the distance
    map is computed once and reused for every chunk.
    """

    def __init__(self, lesion_mask, affine, step_voxels: float = SAMPLING_STEP_VOXELS):
        from scipy.ndimage import distance_transform_edt

        if not (0 <= step_voxels <= 1):
            raise InputError("step_voxels", f"must be 0 (exact traversal) or a sampling step in (0, 1] voxel, "
                                            f"got {step_voxels}")
        self.mask = np.asarray(lesion_mask, dtype=bool)
        self.step = float(step_voxels)
        self.empty = not self.mask.any()
        inverse = np.linalg.inv(np.asarray(affine, dtype=float))
        self.lin, self.shift = inverse[:3, :3].T.copy(), inverse[:3, 3] + 0.5
        self.lin32, self.shift32 = self.lin.astype(np.float32), self.shift.astype(np.float32)
        self.shape = np.asarray(self.mask.shape, dtype=np.int64)
        self.strides = np.array([self.shape[1] * self.shape[2], self.shape[2], 1], dtype=np.int64)
        self.mask_flat = self.mask.ravel()
        self.distance = None if self.empty else distance_transform_edt(~self.mask).astype(np.float32).ravel()

    def hits(self, data, offsets, lengths) -> np.ndarray:
        """Bool per streamline of packed arrays: True if it passes through a lesion voxel."""
        hit = np.zeros(len(offsets), dtype=bool)
        if self.empty or len(data) == 0:
            return hit
        points = np.asarray(data)
        shape, strides, mask_flat = self.shape, self.strides, self.mask_flat
        # float32 screening, float64 decisions: slack covers float32 rounding of indices (< 1e-3 voxel)
        c32 = voxel_coordinates(points, self.lin32, self.shift32, np.float32)
        flat = np.zeros(len(points), dtype=np.int64)
        inside = np.ones(len(points), dtype=bool)
        cell = np.empty(len(points), dtype=np.float32)
        for k in range(3):
            np.floor(c32[k], out=cell)
            index = cell.astype(np.int64)
            inside &= index.view(np.uint64) < np.uint64(shape[k])  # negative indices wrap to huge values
            index *= strides[k]
            flat += index
        flat[~inside] = 0
        d = self.distance[flat]
        d[~inside] = -np.inf  # outside the grid: always examined (rare)
        found = []
        close = np.flatnonzero(d <= 2.0)
        if len(close):
            exact = np.floor(voxel_coordinates(points[close], self.lin, self.shift)).astype(np.int64)
            flat_c, inside_c = _flat_index(exact, shape, strides)
            found.append(close[inside_c & mask_flat[flat_c]])
        if len(points) > 1:
            valid = np.ones(len(points) - 1, dtype=bool)
            last = (offsets + lengths - 1)[lengths > 0]
            valid[last[last < len(points) - 1]] = False  # no segment across streamlines
            step32 = c32[:, 1:] - c32[:, :-1]
            step32 *= step32
            length = np.sqrt(step32[0] + step32[1] + step32[2])
            reach = d[:-1] + d[1:]
            reach -= np.float32(4 * _HALF_DIAGONAL + 0.01)
            segments = np.flatnonzero(valid & ((reach <= 0) | (length + np.float32(0.01) >= reach)))
            longest = float(length[segments].max()) + 0.01 if len(segments) else 1.0
            per_segment = np.ceil(longest / self.step) if self.step > 0 else 3 * np.ceil(longest + 1)
            per_block = max(1, SAMPLE_BLOCK // int(per_segment))
            for s0 in range(0, len(segments), per_block):
                block = segments[s0:s0 + per_block]
                a = voxel_coordinates(points[block], self.lin, self.shift)
                b = voxel_coordinates(points[block + 1], self.lin, self.shift)
                if self.step > 0:
                    found.append(block[_segment_hits(a, b, self.step, shape, strides, mask_flat)])
                else:
                    found.append(block[_segment_traversal_hits(a, b, shape, strides, mask_flat)])
        found = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        if len(found):
            nonempty = np.flatnonzero(lengths > 0)
            hit[nonempty[np.searchsorted(offsets[nonempty], found, side="right") - 1]] = True
        return hit


def lesioned_streamlines(streamlines, lesion_mask, affine, step_voxels: float = SAMPLING_STEP_VOXELS,
                         chunk_points: int = CHUNK_POINTS) -> np.ndarray:
    """Boolean array (one per streamline): True if the streamline passes through a lesion voxel.

    ``streamlines``: ArraySequence, flat arrays, a list, a file path or a Tractogram (RAS mm);
    ``lesion_mask`` is a boolean [i, j, k] array on the grid of ``affine`` (voxel -> RAS mm).
    See the module docstring for the sampling definition.
    """
    mask = np.asarray(lesion_mask, dtype=bool)
    return measure_streamlines(streamlines, np.zeros(mask.shape, np.uint8), affine, lesions=mask,
                               step_voxels=step_voxels, chunk_points=chunk_points, refuse_outside=False).hit


def voxel_coordinates(points, lin, shift, dtype=np.float64):
    """Continuous voxel coordinates + 0.5 of RAS ``points`` (P, 3), as a (3, P) array.

    ``lin = inv(affine)[:3, :3].T`` and ``shift = inv(affine)[:3, 3] + 0.5``; row k is
    ``((x lin[0, k] + y lin[1, k]) + z lin[2, k]) + shift[k]``, written out per axis (no
    BLAS: deterministic, thread-free, and 10x faster than (P, 3) @ (3, 3) here).
    ``floor`` of the result is the nearest voxel (i, j, k).
    """
    p = np.asarray(points, dtype=dtype)
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    lin = np.asarray(lin, dtype=dtype)
    shift = np.asarray(shift, dtype=dtype)
    out = np.empty((3, len(p)), dtype=dtype)
    for k in range(3):
        np.multiply(x, lin[0, k], out=out[k])
        out[k] += y * lin[1, k]
        out[k] += z * lin[2, k]
        out[k] += shift[k]
    return out


def _flat_index(v, shape, strides):
    """Flat index (clipped into the grid) and inside flag of integer voxel indices ``v`` (3, N)."""
    inside = (v[0] >= 0) & (v[0] < shape[0])
    inside &= (v[1] >= 0) & (v[1] < shape[1])
    inside &= (v[2] >= 0) & (v[2] < shape[2])
    flat = np.clip(v[0], 0, shape[0] - 1) * strides[0]
    flat += np.clip(v[1], 0, shape[1] - 1) * strides[1]
    flat += np.clip(v[2], 0, shape[2] - 1)
    return flat, inside


def _segment_traversal_hits(a, b, shape, strides, mask_flat):
    """Bool per segment a -> b ((3, S), index + 0.5 units, voxel = floor): a voxel it enters is a lesion voxel.

    On each axis the segment crosses the faces between floor(a) and floor(b); at the face at
    parameter t it enters the voxel whose index on that axis is the face's, and on the other
    axes floor(a + t (b - a)). The start voxel of every segment is a point, looked up already.
    """
    count = a.shape[1]
    out = np.zeros(count, dtype=bool)
    cell_a, cell_b = np.floor(a), np.floor(b)
    delta = b - a
    for k in range(3):
        crossings = np.abs(cell_b[k] - cell_a[k]).astype(np.int64)
        total = int(crossings.sum())
        if total == 0:
            continue
        which = np.repeat(np.arange(count), crossings)
        first = np.zeros(count, dtype=np.int64)
        np.cumsum(crossings[:-1], out=first[1:])
        j = np.arange(total, dtype=np.int64) - first[which]
        forward = delta[k][which] > 0
        face = np.where(forward, cell_a[k][which] + 1 + j, cell_a[k][which] - j)
        t = (face - a[k][which]) / delta[k][which]
        flat = np.zeros(total, dtype=np.int64)
        inside = np.ones(total, dtype=bool)
        for axis in range(3):
            if axis == k:
                index = np.where(forward, face, face - 1).astype(np.int64)
            else:
                index = np.floor(a[axis][which] + t * delta[axis][which]).astype(np.int64)
            inside &= index.view(np.uint64) < np.uint64(shape[axis])
            index *= strides[axis]
            flat += index
        flat[~inside] = 0
        hit = mask_flat[flat]
        hit &= inside
        out[which[hit]] = True
    return out


def _segment_hits(a, b, step, shape, strides, mask_flat):
    """Bool per segment a -> b ((3, S), index + 0.5 units): a sample a + (s/m)(b - a), 0 < s < m, is in a lesion.

    m = ceil(|b - a| / step) per segment. One axis at a time, without (3, samples) temporaries.
    """
    delta = b - a
    m = np.ceil(np.sqrt((delta * delta).sum(axis=0)) / step).astype(np.int64)
    per = np.maximum(m - 1, 0)
    count = a.shape[1]
    out = np.zeros(count, dtype=bool)
    total = int(per.sum())
    if total == 0:
        return out
    first = np.zeros(count, dtype=np.int64)
    np.cumsum(per[:-1], out=first[1:])
    t = np.arange(1, total + 1, dtype=np.float64)
    t -= np.repeat(first, per)
    t /= np.repeat(m, per)
    flat = np.zeros(total, dtype=np.int64)
    inside = np.ones(total, dtype=bool)
    x = np.empty(total)
    for k in range(3):
        np.multiply(t, np.repeat(delta[k], per), out=x)
        x += np.repeat(a[k], per)
        np.floor(x, out=x)
        index = x.astype(np.int64)
        inside &= index.view(np.uint64) < np.uint64(shape[k])  # negative indices wrap to huge values
        index *= strides[k]
        flat += index
    flat[~inside] = 0
    hit = mask_flat[flat]
    hit &= inside
    which = np.repeat(np.arange(count), per)
    out[which[hit]] = True
    return out


def disconnection(streamlines, labels, affine, lesions, assignment="end", radius_mm=None, symmetric=True,
                  zero_diagonal=ZERO_DIAGONAL, drop_unassigned=DROP_UNASSIGNED, weight="count", scalar=None,
                  step_voxels: float = SAMPLING_STEP_VOXELS, max_outside_fraction: float = MAX_OUTSIDE_FRACTION):
    """Intact and lesioned connectome, per-edge and per-region disconnection.

    Returns a dict: ``row_labels``, ``matrix`` (intact), ``lesioned`` (built from the spared
    streamlines only), ``counts`` / ``lesioned_counts`` (streamline counts), ``hit`` (bool per
    streamline), ``end_labels`` (2, n), ``edges`` (rows region_a, region_b, streamlines,
    disconnected, percent; every edge with streamlines, upper triangle), ``regions`` (rows
    region, voxels, lesion_voxels, lesion_percent, streamlines, disconnected, percent) and
    ``summary`` (streamline totals and percentages).
    """
    labels, affine = as_label_volume(labels, affine)
    check_weight(weight, scalar, labels.shape)
    mask = lesion_mask_array(lesions, labels.shape)
    mode, radius = parse_assignment(assignment, radius_mm)
    tractogram = open_tractogram(streamlines)
    measures = measure_streamlines(tractogram, labels, affine, assignment=mode, radius_mm=radius, lesions=mask,
                                   scalar=scalar if weight == "mean_scalar" else None, lengths=weight == "invlength",
                                   step_voxels=step_voxels, max_outside_fraction=max_outside_fraction)
    warn_if_empty(measures, tractogram.source)
    return disconnection_from(measures, labels, mask, weight, symmetric, zero_diagonal, drop_unassigned, step_voxels)


def disconnection_from(measures, labels, mask, weight="count", symmetric=True, zero_diagonal=ZERO_DIAGONAL,
                       drop_unassigned=DROP_UNASSIGNED, step_voxels: float = SAMPLING_STEP_VOXELS):
    """:func:`disconnection` from per-streamline measures (with ``hit``) already computed."""
    end_labels, hit = measures.end_labels, measures.hit
    row_labels, node_volumes = grid_rows(labels, drop_unassigned)
    nodes = node_indices(end_labels, row_labels)
    weights = streamline_weights(weight, measures, nodes, node_volumes)
    spared = nodes.copy()
    spared[:, hit] = -1
    n = len(row_labels)
    matrix = edge_matrix(nodes, n, weight, weights, symmetric, zero_diagonal)
    lesioned = edge_matrix(spared, n, weight, weights, symmetric, zero_diagonal)
    counts = edge_matrix(nodes, n, "count", None, True, zero_diagonal)
    lost = edge_matrix(np.where(hit, nodes, -1), n, "count", None, True, zero_diagonal)

    i, j = np.nonzero(np.triu(counts))
    edges = [{"region_a": int(row_labels[a]), "region_b": int(row_labels[b]), "streamlines": int(counts[a, b]),
              "disconnected": int(lost[a, b]), "percent": 100.0 * lost[a, b] / counts[a, b]}
             for a, b in zip(i, j)]

    counted = (nodes >= 0).all(axis=0)
    if zero_diagonal:
        counted &= nodes[0] != nodes[1]
    a, b = nodes[0, counted], nodes[1, counted]
    self_loop = a == b
    per_region = np.bincount(a, minlength=n) + np.bincount(b[~self_loop], minlength=n)
    hit_c = hit[counted]
    per_region_hit = np.bincount(a[hit_c], minlength=n) + np.bincount(b[hit_c & ~self_loop], minlength=n)
    lesion_labels = labels[mask]
    lesion_voxels = node_indices(lesion_labels.astype(np.int64), row_labels)
    lesion_per_region = np.bincount(lesion_voxels[lesion_voxels >= 0], minlength=n)
    regions = [{"region": int(row_labels[r]), "voxels": int(node_volumes[r]),
                "lesion_voxels": int(lesion_per_region[r]),
                "lesion_percent": 100.0 * lesion_per_region[r] / node_volumes[r] if node_volumes[r] else 0.0,
                "streamlines": int(per_region[r]), "disconnected": int(per_region_hit[r]),
                "percent": 100.0 * per_region_hit[r] / per_region[r] if per_region[r] else 0.0}
               for r in range(n)]

    n_counted = int(counted.sum())
    n_hit_counted = int(hit_c.sum())
    summary = {
        "streamlines": int(len(hit)),
        "streamlines_in_connectome": n_counted,
        "lesioned_streamlines": int(hit.sum()),
        "lesioned_streamlines_percent": 100.0 * hit.mean() if len(hit) else 0.0,
        "disconnected_streamlines": n_hit_counted,
        "disconnected_percent": 100.0 * n_hit_counted / n_counted if n_counted else 0.0,
        "edges": len(edges),
        "edges_affected": int(sum(e["disconnected"] > 0 for e in edges)),
        "edges_lost": int(sum(e["disconnected"] == e["streamlines"] for e in edges)),
        "lesion_voxels": int(mask.sum()),
        "sampling_step_voxels": float(step_voxels),
    }
    return {"row_labels": row_labels, "matrix": matrix, "lesioned": lesioned, "counts": counts,
            "lesioned_counts": counts - lost, "hit": hit, "end_labels": end_labels, "edges": edges,
            "regions": regions, "summary": summary}


def metric_changes(intact: dict, lesioned: dict) -> dict:
    """``{"delta": lesioned - intact, "percent_change": 100 * delta / |intact|}`` for every numeric global measure."""
    delta, percent = {}, {}
    for key, before in intact.items():
        after = lesioned.get(key)
        if isinstance(before, (int, float)) and isinstance(after, (int, float)) and not isinstance(before, bool):
            change = float(after) - float(before)
            delta[key] = change
            percent[key] = 100.0 * change / abs(before) if before and np.isfinite(before) else float("nan")
    return {"delta": delta, "percent_change": percent}


def network_disruption(matrix, lesioned, row_labels):
    """Global measures of the intact and lesioned networks on the intact length scale, and their changes.

    Both networks are normalised by the intact network's maximum weight so that the
    change reflects lost connections, not a change of scale.
    """
    W = graph.prepare(matrix)
    scale = W.max(initial=0.0) or None
    nodes_intact, intact = graph.analyse(matrix, row_labels)
    nodes_lesioned, after = graph.analyse(lesioned, row_labels, source="lesioned connectome", scale=scale)
    return {"intact": intact, "lesioned": after, **metric_changes(intact, after),
            "nodes_intact": nodes_intact, "nodes_lesioned": nodes_lesioned}
