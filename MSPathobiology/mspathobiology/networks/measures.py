"""Per-streamline measures computed chunk by chunk: endpoint labels, arc length, mean scalar, lesion crossing.

One pass over a :class:`~.tractograms.Tractogram` (a file read in chunks, or streamlines in
memory) fills per-streamline arrays; nothing holds more than one chunk of points, and
there is no Python loop over streamlines. Frames: points RAS mm; ``labels`` /
``lesions`` / ``scalar`` are [i, j, k] arrays on the grid of ``affine`` (voxel -> RAS mm).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..defaults.networks import CHUNK_POINTS, MAX_OUTSIDE_FRACTION, SAMPLING_STEP_VOXELS
from ..errors import InputError
from .tractograms import ArrayTractogram, arc_lengths, open_tractogram, segment_lengths


@dataclass
class StreamlineMeasures:
    """Per-streamline results of :func:`measure_streamlines` (``n`` streamlines).

    ``end_labels`` int64 (2, n): label of the first and last point (0 = unassigned);
    ``length_mm`` (n,) arc length or None; ``scalar_mean`` (n,) length-weighted mean of the
    scalar map or None; ``hit`` bool (n,) crosses a lesion voxel, or None;
    ``outside_fraction``: fraction of the endpoints of non-empty streamlines outside the label grid.
    """
    end_labels: np.ndarray
    length_mm: np.ndarray | None
    scalar_mean: np.ndarray | None
    hit: np.ndarray | None
    outside_fraction: float

    @property
    def n_streamlines(self) -> int:
        return self.end_labels.shape[1]


def _endpoint_coordinates(data, offsets, lengths, inverse):
    """Continuous voxel index + 0.5 of the first then the last point of every streamline: float64 (3, 2n).

    Per axis, x * l0 + y * l1 + z * l2 + shift with ``l = inv(affine)[:3, :3].T`` and
    ``shift = inv(affine)[:3, 3] + 0.5``: the mapping of ``dipy.tracking.utils.connectivity_matrix``
    (which truncates the result), written out so that no (n, 2, 3) product is formed.
    """
    n = len(offsets)
    nonempty = lengths > 0
    index = np.empty(2 * n, dtype=np.int64)
    np.multiply(offsets, nonempty, out=index[:n])
    np.multiply(offsets + lengths - 1, nonempty, out=index[n:])
    points = data[index] if len(data) else np.zeros((2 * n, 3), np.float32)
    lin = inverse[:3, :3].T
    shift = inverse[:3, 3] + 0.5
    out = np.empty((3, 2 * n))
    x = points[:, 0].astype(np.float64)
    y = points[:, 1].astype(np.float64)
    z = points[:, 2].astype(np.float64)
    for k in range(3):
        np.multiply(x, lin[0, k], out=out[k])
        out[k] += y * lin[1, k]
        out[k] += z * lin[2, k]
        out[k] += shift[k]
    return out, np.concatenate([nonempty, nonempty])


def _endpoint_flat_index(data, offsets, lengths, inverse, shape):
    """``(flat index into a C-ordered [i, j, k] grid (2n,), inside (2n,))`` of the endpoint voxels, first ends then last."""
    v, inside = _endpoint_coordinates(data, offsets, lengths, inverse)
    for k in range(3):
        inside &= v[k] >= -5e-7  # DIPY's tolerance below index 0 (it rounds the minimum to 6 decimals)
        inside &= v[k] < shape[k]
    v[:, ~inside] = 0
    ijk = v.astype(np.intp)
    flat = ijk[0] * (shape[1] * shape[2])
    flat += ijk[1] * shape[2]
    flat += ijk[2]
    return flat, inside


def endpoint_voxels(data, offsets, lengths, affine):
    """Nearest voxel (i, j, k) of the first and last point of each streamline, as DIPY rounds.

    Returns ``(ijk, inside)``: int array ``(2, n, 3)`` and bool ``(2, n)`` (False for empty
    streamlines, non-finite points and points below index 0; the upper bound is checked by
    the caller, who knows the grid). Indices are inv(affine) applied to the point, + 0.5,
    truncated, as ``dipy.tracking.utils.connectivity_matrix``.
    """
    inverse = np.linalg.inv(np.asarray(affine, dtype=float))
    v, inside = _endpoint_coordinates(data, offsets, lengths, inverse)
    inside &= np.isfinite(v).all(axis=0)
    for k in range(3):
        inside &= v[k] >= -5e-7
    v[:, ~inside] = -1
    n = len(offsets)
    return v.astype(np.intp).T.reshape(2, n, 3), inside.reshape(2, n)


def end_labels_of(data, offsets, lengths, flat_labels, shape, inverse):
    """``(labels (2, n) int64, inside (2, n) bool)`` of both endpoints by end voxel (0 outside the grid).

    ``inverse`` is the inverse of the grid's voxel -> RAS affine.
    """
    flat, inside = _endpoint_flat_index(data, offsets, lengths, inverse, shape)
    values = flat_labels[flat].astype(np.int64)
    values[~inside] = 0
    n = len(offsets)
    return values.reshape(2, n), inside.reshape(2, n)


class RadialSearch:
    """Nearest labelled voxel centre within ``radius`` mm of a point (MRtrix3 ``-assignment_radial_search``).

    Only labelled voxels with an unlabelled 6-neighbour (or on the grid's faces) can be the
    nearest labelled centre to a point outside the label set, so only they are indexed.
    """

    def __init__(self, labels, affine, radius):
        from scipy.ndimage import binary_erosion
        from scipy.spatial import cKDTree

        labelled = labels > 0
        interior = binary_erosion(labelled, border_value=0)
        surface = np.argwhere(labelled & ~interior)
        self.labels = labels[tuple(surface.T)] if len(surface) else np.zeros(0, labels.dtype)
        centres = surface @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]
        self.tree = cKDTree(centres) if len(surface) else None
        self.radius = float(radius)

    def __call__(self, points):
        """Label (int64, 0 if none within the radius) of the nearest labelled voxel to each RAS point."""
        out = np.zeros(len(points), dtype=np.int64)
        if self.tree is None or len(points) == 0:
            return out
        distance, nearest = self.tree.query(np.asarray(points, dtype=np.float64), k=1,
                                            distance_upper_bound=self.radius)
        found = np.isfinite(distance)
        out[found] = self.labels[nearest[found]]
        return out


def scalar_means(data, offsets, lengths, scalar, inverse):
    """Length-weighted mean of ``scalar`` along each streamline of packed arrays, as MRtrix3 ``tcksample -stat_tck mean``.

    The scalar is sampled trilinearly at every point (0 outside the grid); point i weighs
    half the length of its two adjacent segments, so the mean is the trapezoidal integral
    along the streamline divided by its length. Streamlines of zero length give 0.
    """
    from scipy.ndimage import map_coordinates

    out = np.zeros(len(offsets))
    if len(data) == 0:
        return out
    pts = np.asarray(data, dtype=np.float64)
    ijk = pts @ inverse[:3, :3].T + inverse[:3, 3]
    values = map_coordinates(scalar, ijk.T, order=1, mode="constant", cval=0.0)
    seg = segment_lengths(data, offsets, lengths)
    weight = 0.5 * seg
    weight[1:] += 0.5 * seg[:-1]
    nonempty = lengths > 0
    if nonempty.any():
        total = np.add.reduceat(weight, offsets[nonempty])
        integral = np.add.reduceat(weight * values, offsets[nonempty])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[nonempty] = np.where(total > 0, integral / np.where(total > 0, total, 1.0), 0.0)
    return out


def thread_budget() -> int:
    """Threads this process may use: SimpleITK's global default (the cohort runner lowers it so that
    threads x jobs <= cores), else the cores of the affinity mask."""
    try:
        import SimpleITK as sitk

        return max(1, int(sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()))
    except Exception:  # noqa: BLE001 - SimpleITK missing or unusable: fall back to the core count
        try:
            return len(os.sched_getaffinity(0)) or 1
        except (AttributeError, OSError):
            return os.cpu_count() or 1


def ordered_map(function, items, workers: int = 1):
    """``function(item)`` for each item of the iterator ``items``, in order, on up to ``workers`` threads.

    At most ``workers + 1`` items are in flight, so a chunked file stays a few chunks in
    memory; NumPy releases the GIL in the heavy work, so chunks are processed in parallel.
    """
    if workers < 2:
        for item in items:
            yield function(item)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tractogram") as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def measure_streamlines(tractogram, labels, affine, *, assignment: str = "end", radius_mm: float | None = None,
                        lesions=None, scalar=None, lengths: bool = False,
                        step_voxels: float = SAMPLING_STEP_VOXELS, chunk_points: int = CHUNK_POINTS,
                        max_outside_fraction: float = MAX_OUTSIDE_FRACTION, refuse_outside: bool = True,
                        source: str | None = None) -> StreamlineMeasures:
    """One chunked pass over ``tractogram``; see :class:`StreamlineMeasures`.

    ``assignment``: ``"end"`` or ``"radial"`` (with ``radius_mm``). ``lesions``: bool
    [i, j, k] mask (crossing as :class:`~.disconnection.LesionSampler` defines it).
    ``scalar``: float [i, j, k] map for :func:`scalar_means`. ``lengths``: compute arc
    lengths. Raises :class:`InputError` when more than ``max_outside_fraction`` of the
    endpoints fall outside the grid (``refuse_outside``).
    """
    tractogram = open_tractogram(tractogram, source)
    source = tractogram.source
    labels = np.asarray(labels)
    affine = np.asarray(affine, dtype=float)
    inverse = np.linalg.inv(affine)
    shape = labels.shape
    flat_labels = labels.reshape(-1)
    radial = RadialSearch(labels, affine, radius_mm) if assignment == "radial" else None
    sampler = None
    if lesions is not None:
        from .disconnection import LesionSampler

        sampler = LesionSampler(lesions, affine, step_voxels)
    if scalar is not None:
        scalar = np.asarray(scalar, dtype=np.float64)
    def process(chunk):
        values, inside = end_labels_of(chunk.points, chunk.offsets, chunk.lengths, flat_labels, shape, inverse)
        nonempty = chunk.lengths > 0
        if radial is not None:
            todo = (values == 0) & nonempty
            if todo.any():
                which, index = np.nonzero(todo)
                point = np.where(which == 0, chunk.offsets[index], chunk.offsets[index] + chunk.lengths[index] - 1)
                values[which, index] = radial(chunk.points[point])
        out = [values, int(np.count_nonzero(nonempty)), int(np.count_nonzero(inside)), None, None, None]
        if lengths or scalar is not None or sampler is not None:
            data, offsets, counts = chunk.packed()
            if lengths:
                out[3] = arc_lengths(data, offsets, counts)
            if scalar is not None:
                out[4] = scalar_means(data, offsets, counts, scalar, inverse)
            if sampler is not None:
                out[5] = sampler.hits(data, offsets, counts)
        return out

    ends, outside_counts, nonempty_count = [], 0, 0
    length_parts, scalar_parts, hit_parts = [], [], []
    # threads pay off when a chunk costs more than handing it over: file reading, or per-point work
    heavy = lengths or scalar is not None or sampler is not None or radial is not None
    workers = thread_budget() if heavy or not isinstance(tractogram, ArrayTractogram) else 1
    for values, n_nonempty, n_inside, part_length, part_scalar, part_hit in ordered_map(
            process, tractogram.chunks(chunk_points), workers):
        ends.append(values)
        nonempty_count += n_nonempty
        outside_counts += 2 * n_nonempty - n_inside
        length_parts.append(part_length)
        scalar_parts.append(part_scalar)
        hit_parts.append(part_hit)
    end_labels = np.concatenate(ends, axis=1) if ends else np.zeros((2, 0), dtype=np.int64)
    n = end_labels.shape[1]
    fraction = outside_counts / (2 * nonempty_count) if nonempty_count else 0.0  # among non-empty streamlines
    if refuse_outside and nonempty_count and fraction > max_outside_fraction:
        starts = [np.asarray(c.points[c.offsets[c.lengths > 0]], dtype=np.float64) for c in tractogram.chunks()]
        starts = np.concatenate([s for s in starts if len(s)])
        lo, hi = starts.min(axis=0), starts.max(axis=0)
        corners = np.array([[i, j, k, 1] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1)
                            for k in (0, shape[2] - 1)], dtype=float) @ affine.T
        raise InputError(source, f"{100 * fraction:.1f}% of streamline endpoints lie outside the parcellation "
                                 f"image (streamline starts span RAS {np.round(lo, 1).tolist()} to "
                                 f"{np.round(hi, 1).tolist()} mm; the image spans "
                                 f"{np.round(corners[:, :3].min(0), 1).tolist()} to "
                                 f"{np.round(corners[:, :3].max(0), 1).tolist()} mm). The tractogram is in "
                                 "another space or was made on another image (LPS vs RAS?)")

    return StreamlineMeasures(end_labels, _joined(length_parts, float) if lengths else None,
                              _joined(scalar_parts, float) if scalar is not None else None,
                              _joined(hit_parts, bool) if sampler is not None else None, float(fraction))


def _joined(parts, dtype):
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def check_inside(streamlines, shape, affine, source: str = "tractogram",
                 max_outside_fraction: float = MAX_OUTSIDE_FRACTION) -> float:
    """Raise :class:`InputError` when the tractogram lies outside the image grid.

    ``shape`` is the (i, j, k) grid size and ``affine`` its voxel -> RAS matrix. Returns the
    fraction of streamline endpoints outside the grid; more than ``max_outside_fraction``
    is refused (a different space or reference image, e.g. LPS read as RAS).
    """
    labels = np.ones(tuple(int(s) for s in shape), dtype=np.uint8)
    measures = measure_streamlines(streamlines, labels, affine, max_outside_fraction=max_outside_fraction,
                                   source=source)
    if measures.n_streamlines == 0:
        raise InputError(source, "holds no streamlines")
    return measures.outside_fraction
