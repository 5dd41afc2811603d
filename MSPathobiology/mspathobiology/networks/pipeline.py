"""One case: tractogram + parcellation (+ lesions, + scalar map) -> connectome, metrics, disconnection.

:func:`analyse` is the in-memory entry point (SimpleITK images and a tractogram; returns
a :class:`NetworkResult`); :func:`run_case` is read -> analyse -> write. The tractogram is
never loaded whole: files are read chunk by chunk (:mod:`.tractograms`).

Files written into ``out_dir`` by :func:`write_result` (the same as ``mspathobiology network``):

- ``connectome.csv``: square matrix, region labels as header and first column;
- ``nodes.tsv``: nodal measures (:mod:`.metrics`), one row per region; with lesions also
  every measure of the lesioned graph (``<measure>_lesioned``);
- ``global.json``: settings (including the tractogram's space and how it was
  determined), streamline counts and global measures; with lesions also the lesioned
  network's measures, their ``delta`` (lesioned - intact) and ``percent_change``, and the
  disconnection summary;
- with lesions: ``connectome_lesioned.csv`` (same layout, spared streamlines only),
  ``disconnection.tsv`` (region_a, region_b, streamlines, disconnected, percent) and
  ``regions_disconnection.tsv`` (per-region ChaCo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..defaults.networks import (CHUNK_POINTS, DEFAULT_ASSIGNMENT, DEFAULT_WEIGHT, DROP_UNASSIGNED,
                                 SAMPLING_STEP_VOXELS, ZERO_DIAGONAL)
from ..errors import InputError
from ..io import atomic_write_text, write_json
from ..tables import write_table
from . import metrics as graph
from .connectome import (WEIGHTS, as_label_volume, check_weight, edge_matrix, grid_rows, node_indices, parse_assignment,
                         streamline_weights, warn_if_empty)
from .disconnection import disconnection_from, network_disruption
from .measures import measure_streamlines
from .tractograms import open_tractogram

SCALAR_KEYS = ("scalar", "fa")
OPTIONS = ("assignment", "radius_mm", "weight", "symmetric", "zero_diagonal", "drop_unassigned", "step_voxels",
           "vtk_space", "chunk_points")
EDGE_COLUMNS = ["region_a", "region_b", "streamlines", "disconnected", "percent"]
REGION_COLUMNS = ["region", "voxels", "lesion_voxels", "lesion_percent", "streamlines", "disconnected", "percent"]


def matrix_text(matrix, row_labels, delimiter: str = ",") -> str:
    """Square matrix as CSV text: header ``label,<labels...>``, one row per label."""
    matrix = np.asarray(matrix)
    integer = matrix.dtype.kind in "iu"
    fmt = (lambda v: str(int(v))) if integer else (lambda v: repr(float(v)))
    lines = [delimiter.join(["label"] + [str(int(v)) for v in row_labels])]
    for label, row in zip(row_labels, matrix):
        lines.append(delimiter.join([str(int(label))] + [fmt(v) for v in row]))
    return "\n".join(lines) + "\n"


def write_matrix(matrix, row_labels, path) -> Path:
    """Write a connectome CSV atomically (see :func:`matrix_text`)."""
    return atomic_write_text(path, matrix_text(matrix, row_labels))


def read_matrix(path):
    """Read a connectome CSV written by :func:`write_matrix`: ``(matrix, row_labels)``."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "file not found")
    lines = [line.split(",") for line in path.read_text().strip().splitlines()]
    labels = np.array([int(v) for v in lines[0][1:]], dtype=np.int64)
    rows = np.array([[float(v) for v in line[1:]] for line in lines[1:]]).reshape(len(lines) - 1, -1)
    if rows.shape != (len(labels), len(labels)) or not np.array_equal([int(line[0]) for line in lines[1:]], labels):
        raise InputError(str(path), "is not a square connectome with matching row and column labels")
    return (rows.astype(np.int64) if np.array_equal(rows, np.rint(rows)) else rows), labels


@dataclass
class NetworkResult:
    """Everything one network analysis produces (all in memory; :func:`write_result` writes it).

    ``matrix`` / ``lesioned``: intact and lesioned connectomes (rows ``row_labels``;
    ``lesioned`` is None without lesions). ``nodes`` / ``nodes_lesioned``: nodal measure
    rows of both graphs (degree, strength, clustering, efficiency, betweenness, module,
    participation). ``metrics`` / ``lesioned_metrics``: global measures; ``delta`` and
    ``percent_change``: lesioned - intact. ``edges`` / ``regions``: disconnection table
    rows (empty without lesions). ``settings``: options and the tractogram's space;
    ``counts``: streamline counts; ``summary``: flat JSON-able ``network_*`` values.
    """
    row_labels: np.ndarray
    matrix: np.ndarray
    nodes: list
    metrics: dict
    settings: dict
    counts: dict
    summary: dict
    lesioned: np.ndarray | None = None
    nodes_lesioned: list | None = None
    lesioned_metrics: dict | None = None
    delta: dict | None = None
    percent_change: dict | None = None
    disconnection: dict | None = None
    edges: list = field(default_factory=list)
    regions: list = field(default_factory=list)
    end_labels: np.ndarray | None = None
    hit: np.ndarray | None = None

    @property
    def tables(self) -> dict:
        """Table rows by output name."""
        out = {"nodes": self.node_table()}
        if self.lesioned is not None:
            out.update({"disconnection": self.edges, "regions_disconnection": self.regions})
        return out

    def node_table(self) -> list:
        """Nodal rows of the intact graph, with every lesioned-graph measure as ``<measure>_lesioned``."""
        if not self.nodes_lesioned:
            return [dict(row) for row in self.nodes]
        after = {row["label"]: row for row in self.nodes_lesioned}
        return [{**row, **{f"{k}_lesioned": v for k, v in after[row["label"]].items() if k != "label"}}
                for row in self.nodes]

    def report(self) -> dict:
        """The JSON-able content of ``global.json``."""
        out = {"settings": self.settings, "counts": self.counts, "metrics": self.metrics}
        if self.lesioned is not None:
            out.update({"disconnection": self.disconnection, "lesioned_metrics": self.lesioned_metrics,
                        "delta": self.delta, "percent_change": self.percent_change})
        return out


def _options(options):
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise InputError("options", f"unknown network option(s) {unknown}; known: {', '.join(OPTIONS)}")
    mode, radius = parse_assignment(options.get("assignment", DEFAULT_ASSIGNMENT), options.get("radius_mm"))
    weight = options.get("weight", DEFAULT_WEIGHT)
    if weight not in WEIGHTS:
        raise InputError("weight", f"must be one of {', '.join(WEIGHTS)}, not {weight!r}")
    if not bool(options.get("symmetric", True)):
        raise InputError("symmetric", "graph measures need a symmetric connectome; use the Python API "
                                      "connectome(symmetric=False) for an upper-triangular matrix")
    step = options.get("step_voxels", SAMPLING_STEP_VOXELS)
    try:
        step = float(step)
    except (TypeError, ValueError):
        raise InputError("step_voxels", f"must be 0 (exact) or a number in (0, 1] voxel, got {step!r}") from None
    if not (np.isfinite(step) and 0 <= step <= 1):
        raise InputError("step_voxels", f"must be 0 (exact traversal) or in (0, 1] voxel, got {step}")
    chunk = int(options.get("chunk_points", CHUNK_POINTS))
    if chunk < 2:
        raise InputError("chunk_points", f"must be >= 2, got {chunk}")
    return {"assignment": mode, "radius_mm": radius, "weight": weight,
            "zero_diagonal": bool(options.get("zero_diagonal", ZERO_DIAGONAL)),
            "drop_unassigned": bool(options.get("drop_unassigned", DROP_UNASSIGNED)),
            "step_voxels": step, "vtk_space": options.get("vtk_space"), "chunk_points": chunk}


def _image(value, kind, name):
    if value is None or hasattr(value, "GetSize"):
        return value
    from ..io import read_image

    return read_image(value, kind=kind, name=name)


def _grid(images):
    """``(labels [i, j, k], affine, lesion mask or None, scalar or None)`` on the parcellation grid."""
    import SimpleITK as sitk

    from ..geometry import resample_intensity, resample_label, same_geometry, voxel_to_ras

    if images.get("parcellation") is None:
        raise InputError("parcellation", "is required for the network analysis")
    parcellation = _image(images["parcellation"], "label", "parcellation")
    labels, affine = as_label_volume(sitk.GetArrayViewFromImage(parcellation).transpose(2, 1, 0),
                                     voxel_to_ras(parcellation))
    lesions = None
    if images.get("lesions") is not None:
        lesion_image = _image(images["lesions"], "mask", "lesions")
        if not same_geometry(lesion_image, parcellation):
            lesion_image = resample_label(lesion_image, parcellation)
        lesions = sitk.GetArrayFromImage(lesion_image).transpose(2, 1, 0) != 0
    scalar = None
    key = next((k for k in SCALAR_KEYS if images.get(k) is not None), None)
    if key:
        scalar_image = _image(images[key], "intensity", key)
        if not same_geometry(scalar_image, parcellation):
            scalar_image = resample_intensity(scalar_image, parcellation, "linear")
        scalar = sitk.GetArrayFromImage(scalar_image).transpose(2, 1, 0)
    return labels, affine, lesions, scalar


def analyse(images, tractogram=None, **options) -> NetworkResult:
    """Connectome, graph measures of the intact and lesioned graphs, and disconnection of one case.

    ``images``: ``parcellation`` (label image, required), ``lesions`` (mask or lesion labels)
    and ``scalar``/``fa`` (for ``weight="mean_scalar"``), as SimpleITK images (file paths are
    read with :func:`mspathobiology.io.read_image`); lesions and the scalar map on another
    grid are resampled onto the parcellation (nearest neighbour / linear).
    ``tractogram``: a file (.tck/.trk/.trx/.vtk/.vtp, read in chunks), an ArraySequence,
    flat arrays ``(points, offsets[, lengths])`` or a :class:`~.tractograms.Tractogram`, in
    RAS mm; ``images["tractogram"]`` is used when it is None.
    ``options``: ``assignment`` ("end" | "radial" | "radial:R"), ``radius_mm``, ``weight``
    (count | invlength | invnodevol | mean_scalar), ``zero_diagonal``, ``drop_unassigned``,
    ``step_voxels`` (lesion sampling), ``vtk_space`` (frame of an untagged VTK file),
    ``chunk_points``. An empty tractogram gives an all-zero connectome and an
    :class:`~.connectome.EmptyTractogramWarning`.

    For compatibility, ``analyse(matrix, row_labels)`` with a matrix still returns the graph
    measures ``(node rows, global dict)`` (:func:`.metrics.analyse`).
    """
    if isinstance(images, np.ndarray) or (isinstance(images, (list, tuple)) and not isinstance(images, dict)):
        return graph.analyse(images, tractogram, **options)
    opts = _options(options)
    tractogram = images.get("tractogram") if tractogram is None else tractogram
    if tractogram is None:
        raise InputError("tractogram", "is required for the network analysis")
    labels, affine, lesions, scalar = _grid(images)
    if opts["weight"] == "mean_scalar" and scalar is None:
        raise InputError("weight", "mean_scalar needs a scalar map (images['scalar'], e.g. FA)")
    check_weight(opts["weight"], scalar if opts["weight"] == "mean_scalar" else None, labels.shape)
    source = open_tractogram(tractogram, "tractogram", opts["vtk_space"])
    _import_graph_packages_in_background()
    measures = measure_streamlines(source, labels, affine, assignment=opts["assignment"],
                                   radius_mm=opts["radius_mm"], lesions=lesions,
                                   scalar=scalar if opts["weight"] == "mean_scalar" else None,
                                   lengths=opts["weight"] == "invlength", step_voxels=opts["step_voxels"],
                                   chunk_points=opts["chunk_points"])
    warn_if_empty(measures, source.source)
    settings = {"assignment": opts["assignment"], "radius_mm": opts["radius_mm"], "weight": opts["weight"],
                "symmetric": True, "zero_diagonal": opts["zero_diagonal"],
                "drop_unassigned": opts["drop_unassigned"], **source.describe()}
    if isinstance(images.get("parcellation"), (str, Path)):
        settings["parcellation"] = str(images["parcellation"])
    assigned = int((measures.end_labels > 0).all(axis=0).sum())
    counts = {"streamlines": measures.n_streamlines, "streamlines_both_ends_assigned": assigned,
              "endpoints_outside_grid_fraction": measures.outside_fraction}
    if lesions is None:
        row_labels, node_volumes = grid_rows(labels, opts["drop_unassigned"])
        nodes = node_indices(measures.end_labels, row_labels)
        weights = streamline_weights(opts["weight"], measures, nodes, node_volumes)
        matrix = edge_matrix(nodes, len(row_labels), opts["weight"], weights, True, opts["zero_diagonal"])
        node_rows, global_values = graph.analyse(matrix, row_labels)
        result = NetworkResult(row_labels, matrix, node_rows, global_values, settings, counts, {},
                               end_labels=measures.end_labels)
    else:
        settings["step_voxels"] = opts["step_voxels"]
        found = disconnection_from(measures, labels, lesions, opts["weight"], True, opts["zero_diagonal"],
                                   opts["drop_unassigned"], opts["step_voxels"])
        disruption = network_disruption(found["matrix"], found["lesioned"], found["row_labels"])
        result = NetworkResult(found["row_labels"], found["matrix"], disruption["nodes_intact"],
                               disruption["intact"], settings, counts, {}, lesioned=found["lesioned"],
                               nodes_lesioned=disruption["nodes_lesioned"], lesioned_metrics=disruption["lesioned"],
                               delta=disruption["delta"], percent_change=disruption["percent_change"],
                               disconnection=found["summary"], edges=found["edges"], regions=found["regions"],
                               end_labels=measures.end_labels, hit=measures.hit)
    result.summary = _summary(result)
    return result


def _import_graph_packages_in_background():
    """Import networkx (the graph measures need it) in a thread while the tractogram is read, if threads are allowed."""
    import sys
    import threading

    from .measures import thread_budget

    if "networkx" in sys.modules or thread_budget() < 2:
        return

    def load():
        try:
            import networkx.algorithms.community  # noqa: F401
        except ImportError:  # reported where the measures need it
            pass

    threading.Thread(target=load, name="import-networkx", daemon=True).start()


def _summary(result: NetworkResult) -> dict:
    m = result.metrics
    summary = {
        "network_regions": int(len(result.row_labels)),
        "network_streamlines": result.counts["streamlines"],
        "network_streamlines_assigned": result.counts["streamlines_both_ends_assigned"],
        "network_edges": m["edges"],
        "network_density": m["density"],
        "network_global_efficiency": m["global_efficiency_weighted"],
        "network_global_efficiency_binary": m["global_efficiency_binary"],
        "network_characteristic_path_length": m["characteristic_path_length_weighted"],
        "network_clustering": m["clustering_weighted"],
        "network_modularity": m["modularity"],
    }
    if result.lesioned is not None:
        d = result.disconnection
        summary.update({
            "network_disconnected_streamlines": d["disconnected_streamlines"],
            "network_disconnected_percent": d["disconnected_percent"],
            "network_edges_affected": d["edges_affected"],
            "network_edges_lost": d["edges_lost"],
            "network_lesioned_global_efficiency": result.lesioned_metrics["global_efficiency_weighted"],
            "network_delta_global_efficiency": result.delta["global_efficiency_weighted"],
            "network_delta_characteristic_path_length": result.delta["characteristic_path_length_weighted"],
        })
    return summary


def write_result(result: NetworkResult, out_dir) -> Path:
    """Write the files listed in the module docstring into ``out_dir``; return it."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "--out names an existing file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    write_matrix(result.matrix, result.row_labels, out / "connectome.csv")
    write_table(result.node_table(), out / "nodes.tsv")
    if result.lesioned is not None:
        write_matrix(result.lesioned, result.row_labels, out / "connectome_lesioned.csv")
        write_table(result.edges, out / "disconnection.tsv", columns=EDGE_COLUMNS)
        write_table(result.regions, out / "regions_disconnection.tsv", columns=REGION_COLUMNS)
    write_json(out / "global.json", result.report())
    return out


def run_case(images: dict, out_dir, **options) -> dict:
    """Read -> :func:`analyse` -> :func:`write_result` for one case; return the flat ``network_*`` summary.

    ``images``: file paths: ``tractogram`` (.tck/.trk/.trx/.vtk/.vtp, streamed) and
    ``parcellation`` required, ``lesions`` and ``scalar``/``fa`` optional; other keys are
    ignored. ``options`` as :func:`analyse`.
    """
    _options(options)
    for key in ("tractogram", "parcellation"):
        if not images.get(key):
            raise InputError(key, "is required for the network analysis")
    read = {"parcellation": _image(images["parcellation"], "label", "parcellation")}
    if images.get("lesions"):
        read["lesions"] = _image(images["lesions"], "mask", "lesions")
    key = next((k for k in SCALAR_KEYS if images.get(k)), None)
    if key:
        read["scalar"] = _image(images[key], "intensity", key)
    tractogram = open_tractogram(images["tractogram"], "tractogram", options.get("vtk_space"))
    result = analyse(read, tractogram, **options)
    result.settings["parcellation"] = str(images["parcellation"])
    write_result(result, out_dir)
    return result.summary
