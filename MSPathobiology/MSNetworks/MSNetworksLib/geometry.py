"""Connectome display geometry as vtkPolyData (RAS mm), vectorised with numpy.

No Slicer import: these functions are tested with plain VTK outside the application.
"""

from __future__ import annotations

import numpy as np
import vtk
from vtk.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray


def display_subset(points, offsets, lengths, max_streamlines: int, seed: int = 0):
    """A reproducible random subset of at most ``max_streamlines`` streamlines, for display.

    Takes and returns flat arrays (points ``(P, 3)`` RAS mm, offsets, lengths); the conversion to
    polydata is the logic layer's (``mspathobiology.networks.tractograms.streamlines_to_polydata``).
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(offsets) <= max_streamlines:
        return points, offsets, lengths
    chosen = np.sort(np.random.default_rng(seed).choice(len(offsets), size=max_streamlines, replace=False))
    kept = lengths[chosen]
    starts = np.repeat(offsets[chosen], kept)
    within = np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)
    new_offsets = np.concatenate([[0], np.cumsum(kept)[:-1]]).astype(np.int64)
    return np.ascontiguousarray(np.asarray(points)[starts + within]), new_offsets, kept


def region_centroids(labels_ijk: np.ndarray, affine: np.ndarray, values) -> np.ndarray:
    """RAS centroid (mm) of each label value in ``values``; rows of NaN for absent labels.

    ``labels_ijk``: integer array indexed [i, j, k]; ``affine``: 4x4 voxel (i, j, k) -> RAS.
    """
    labels_ijk = np.asarray(labels_ijk)
    values = np.asarray(values, dtype=np.int64)
    flat = labels_ijk.ravel()
    keep = np.isin(flat, values)
    index = np.searchsorted(values, flat[keep]) if np.all(np.diff(values) > 0) else None
    if index is None:
        order = np.argsort(values)
        index = order[np.searchsorted(values[order], flat[keep])]
    ijk = np.stack(np.unravel_index(np.nonzero(keep)[0], labels_ijk.shape), axis=1).astype(float)
    counts = np.bincount(index, minlength=len(values)).astype(float)
    sums = np.stack([np.bincount(index, ijk[:, a], minlength=len(values)) for a in range(3)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_ijk = sums / counts[:, None]
    return mean_ijk @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]


def _scale(values, low, high):
    values = np.asarray(values, dtype=float)
    top = np.nanmax(values) if values.size else 0.0
    if not np.isfinite(top) or top <= 0:
        return np.full(values.shape, low)
    return low + (high - low) * np.clip(values / top, 0.0, 1.0)


def node_glyphs(centroids, sizes, radius_range=(1.5, 6.0), scalars=None, resolution: int = 12) -> vtk.vtkPolyData:
    """Spheres at ``centroids`` (RAS mm) with radius scaled from ``sizes`` into ``radius_range`` (mm).

    Point data ``radius`` (mm) and ``value`` (``scalars`` or ``sizes``) are kept on every sphere point.
    """
    centroids = np.asarray(centroids, dtype=float)
    good = np.isfinite(centroids).all(axis=1)
    radii = _scale(np.asarray(sizes, dtype=float), *radius_range)[good]
    values = np.asarray(sizes if scalars is None else scalars, dtype=float)[good]
    points = vtk.vtkPoints()
    points.SetData(numpy_to_vtk(np.ascontiguousarray(centroids[good]), deep=True))
    seeds = vtk.vtkPolyData()
    seeds.SetPoints(points)
    radius = numpy_to_vtk(radii, deep=True)
    radius.SetName("radius")
    value = numpy_to_vtk(values, deep=True)
    value.SetName("value")
    seeds.GetPointData().AddArray(radius)
    seeds.GetPointData().AddArray(value)
    seeds.GetPointData().SetActiveScalars("radius")
    sphere = vtk.vtkSphereSource()
    sphere.SetRadius(1.0)
    sphere.SetThetaResolution(resolution)
    sphere.SetPhiResolution(resolution)
    glyph = vtk.vtkGlyph3D()
    glyph.SetInputData(seeds)
    glyph.SetSourceConnection(sphere.GetOutputPort())
    glyph.SetScaleModeToScaleByScalar()
    glyph.SetScaleFactor(1.0)
    glyph.SetColorModeToColorByScalar()
    glyph.Update()
    out = vtk.vtkPolyData()
    out.DeepCopy(glyph.GetOutput())
    return out


def edge_tubes(centroids, matrix, radius_range=(0.2, 1.5), min_fraction: float = 0.0, edge_values=None,
               sides: int = 8) -> tuple[vtk.vtkPolyData, np.ndarray]:
    """Tubes between node centroids for the upper-triangle edges of ``matrix``.

    Radius scales with the edge weight into ``radius_range`` (mm); edges weaker than
    ``min_fraction`` of the strongest are left out. ``edge_values`` (same shape as ``matrix``,
    e.g. percent disconnected) goes to point data ``value`` for colouring (0 when absent).
    Returns (polydata, (E, 2) row/column indices of the drawn edges).
    """
    centroids = np.asarray(centroids, dtype=float)
    W = np.asarray(matrix, dtype=float)
    rows, cols = np.nonzero(np.triu(W, 1) > 0)
    weights = W[rows, cols]
    if weights.size:
        keep = weights >= min_fraction * weights.max()
        keep &= np.isfinite(centroids[rows]).all(axis=1) & np.isfinite(centroids[cols]).all(axis=1)
        rows, cols, weights = rows[keep], cols[keep], weights[keep]
    edges = np.stack([rows, cols], axis=1)
    poly = vtk.vtkPolyData()
    if not len(edges):
        return poly, edges
    ends = np.empty((2 * len(edges), 3))
    ends[0::2], ends[1::2] = centroids[rows], centroids[cols]
    points = vtk.vtkPoints()
    points.SetData(numpy_to_vtk(ends, deep=True))
    cells = vtk.vtkCellArray()
    cells.SetData(numpy_to_vtkIdTypeArray(np.arange(0, 2 * len(edges) + 1, 2, dtype=np.int64), deep=True),
                  numpy_to_vtkIdTypeArray(np.arange(2 * len(edges), dtype=np.int64), deep=True))
    poly.SetPoints(points)
    poly.SetLines(cells)
    radius = numpy_to_vtk(np.repeat(_scale(weights, *radius_range), 2), deep=True)
    radius.SetName("radius")
    values = np.zeros(len(edges)) if edge_values is None else np.asarray(edge_values, dtype=float)[rows, cols]
    value = numpy_to_vtk(np.repeat(values, 2), deep=True)
    value.SetName("value")
    poly.GetPointData().AddArray(radius)
    poly.GetPointData().AddArray(value)
    poly.GetPointData().SetActiveScalars("radius")
    tube = vtk.vtkTubeFilter()
    tube.SetInputData(poly)
    tube.SetVaryRadiusToVaryRadiusByAbsoluteScalar()
    tube.SetNumberOfSides(sides)
    tube.CappingOn()
    tube.Update()
    out = vtk.vtkPolyData()
    out.DeepCopy(tube.GetOutput())
    return out, edges


def percent_matrix(row_labels, edge_rows, value_key="percent"):
    """Square matrix (rows/cols in ``row_labels`` order) of an edge-table column, symmetric."""
    row_labels = [int(v) for v in row_labels]
    position = {label: n for n, label in enumerate(row_labels)}
    out = np.zeros((len(row_labels), len(row_labels)))
    for row in edge_rows:
        a, b = position.get(int(row["region_a"])), position.get(int(row["region_b"]))
        if a is not None and b is not None:
            out[a, b] = out[b, a] = float(row[value_key])
    return out


def matrix_png(matrix, row_labels, title: str, disconnected=None, size_inches=(4.2, 3.6), dpi=100) -> bytes:
    """A PNG picture of the connectome (log colour scale), next to the percent disconnected when given."""
    import io

    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.colors import LogNorm

    panels = 1 if disconnected is None else 2
    figure = Figure(figsize=(size_inches[0] * panels, size_inches[1]), dpi=dpi)
    W = np.asarray(matrix, dtype=float)
    ax = figure.add_subplot(1, panels, 1)
    positive = W[W > 0]
    norm = LogNorm(vmin=max(positive.min(), 1e-12), vmax=positive.max()) if positive.size else None
    shown = ax.imshow(np.where(W > 0, W, np.nan), cmap="viridis", norm=norm, interpolation="nearest")
    figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(f"{len(row_labels)} regions", fontsize=8)
    ax.tick_params(labelsize=6)
    if disconnected is not None:
        ax2 = figure.add_subplot(1, panels, 2)
        shown2 = ax2.imshow(np.asarray(disconnected, dtype=float), cmap="Reds", vmin=0, vmax=100, interpolation="nearest")
        figure.colorbar(shown2, ax=ax2, fraction=0.046, pad=0.04)
        ax2.set_title("% streamlines disconnected", fontsize=9)
        ax2.tick_params(labelsize=6)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
