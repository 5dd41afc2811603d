"""One case: tractogram + parcellation (+ lesions, + scalar map) -> connectome, metrics, disconnection files.

Files written into ``out_dir`` (the same as ``mspathobiology network``):

- ``connectome.csv``: square matrix, region labels as header and first column;
- ``nodes.tsv``: nodal measures (:mod:`.metrics`), one row per region;
- ``global.json``: settings, streamline counts and global measures; with lesions also
  the lesioned network's measures, their ``delta`` (lesioned - intact) and
  ``percent_change``, and the disconnection summary;
- with lesions: ``connectome_lesioned.csv`` (same layout, spared streamlines only),
  ``disconnection.tsv`` (region_a, region_b, streamlines, disconnected, percent) and
  ``regions_disconnection.tsv`` (per-region ChaCo).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..defaults.networks import (DEFAULT_ASSIGNMENT, DEFAULT_WEIGHT, DROP_UNASSIGNED, SAMPLING_STEP_VOXELS,
                                 ZERO_DIAGONAL)
from ..errors import InputError
from ..io import atomic_write_text, write_json
from ..tables import write_table
from . import metrics as graph
from .connectome import WEIGHTS, connectome, parse_assignment
from .disconnection import disconnection, network_disruption
from .tractograms import read_tractogram

SCALAR_KEYS = ("scalar", "fa")
OPTIONS = ("assignment", "radius_mm", "weight", "symmetric", "zero_diagonal", "drop_unassigned", "step_voxels",
           "vtk_space")


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
    rows = np.array([[float(v) for v in line[1:]] for line in lines[1:]])
    if rows.shape != (len(labels), len(labels)) or not np.array_equal([int(line[0]) for line in lines[1:]], labels):
        raise InputError(str(path), "is not a square connectome with matching row and column labels")
    return (rows.astype(np.int64) if np.array_equal(rows, np.rint(rows)) else rows), labels


def _load_grid(images):
    import SimpleITK as sitk

    from ..geometry import resample_intensity, resample_label, same_geometry, voxel_to_ras
    from ..io import read_image

    parcellation = read_image(images["parcellation"], kind="label", name="parcellation")
    labels = sitk.GetArrayFromImage(parcellation).transpose(2, 1, 0)
    affine = voxel_to_ras(parcellation)
    lesions = None
    if images.get("lesions"):
        lesion_image = read_image(images["lesions"], kind="mask", name="lesions")
        if not same_geometry(lesion_image, parcellation):
            lesion_image = resample_label(lesion_image, parcellation)
        lesions = sitk.GetArrayFromImage(lesion_image).transpose(2, 1, 0).astype(bool)
    scalar = None
    key = next((k for k in SCALAR_KEYS if images.get(k)), None)
    if key:
        scalar_image = read_image(images[key], kind="intensity", name=key)
        if not same_geometry(scalar_image, parcellation):
            scalar_image = resample_intensity(scalar_image, parcellation, "linear")
        scalar = sitk.GetArrayFromImage(scalar_image).transpose(2, 1, 0)
    return labels, affine, lesions, scalar


def run_case(images: dict, out_dir, **options) -> dict:
    """Connectome, graph measures and (with ``images["lesions"]``) disconnection of one case.

    ``images``: ``tractogram`` (.tck/.trk/.trx/.vtk/.vtp, RAS mm) and ``parcellation`` are
    required; ``lesions`` (mask or lesion labels) and ``scalar``/``fa`` are optional; other
    keys are ignored. Lesions and the scalar map on another grid than the parcellation are
    resampled onto it (nearest neighbour / linear). ``options``: ``assignment`` ("end" | "radial" | "radial:R"),
    ``radius_mm``, ``weight`` (count | invlength | invnodevol | mean_scalar; mean_scalar
    needs the scalar map), ``symmetric``, ``zero_diagonal``, ``drop_unassigned``,
    ``step_voxels`` (lesion sampling) and ``vtk_space`` (frame of untagged VTK files).
    Returns a flat dict of ``network_*`` summary values for the cohort table.
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise InputError("options", f"unknown network option(s) {unknown}; known: {', '.join(OPTIONS)}")
    for key in ("tractogram", "parcellation"):
        if not images.get(key):
            raise InputError(key, "is required for the network analysis")
    assignment = options.get("assignment", DEFAULT_ASSIGNMENT)
    mode, radius = parse_assignment(assignment, options.get("radius_mm"))
    weight = options.get("weight", DEFAULT_WEIGHT)
    if weight not in WEIGHTS:
        raise InputError("weight", f"must be one of {', '.join(WEIGHTS)}, not {weight!r}")
    symmetric = bool(options.get("symmetric", True))
    if not symmetric:
        raise InputError("symmetric", "graph measures need a symmetric connectome; use the Python API "
                                      "connectome(symmetric=False) for an upper-triangular matrix")
    zero_diagonal = bool(options.get("zero_diagonal", ZERO_DIAGONAL))
    drop_unassigned = bool(options.get("drop_unassigned", DROP_UNASSIGNED))
    step = float(options.get("step_voxels", SAMPLING_STEP_VOXELS))

    labels, affine, lesions, scalar = _load_grid(images)
    if weight == "mean_scalar" and scalar is None:
        raise InputError("weight", "mean_scalar needs a scalar map (images['scalar'], e.g. FA)")
    streamlines = read_tractogram(images["tractogram"], name="tractogram", space=options.get("vtk_space"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"assignment": mode, "radius_mm": radius, "weight": weight, "symmetric": symmetric,
                "zero_diagonal": zero_diagonal, "drop_unassigned": drop_unassigned,
                "tractogram": str(images["tractogram"]), "parcellation": str(images["parcellation"])}

    if lesions is None:
        matrix, row_labels, end_labels = connectome(
            streamlines, labels, affine, assignment=mode, radius_mm=radius, symmetric=True,
            zero_diagonal=zero_diagonal, drop_unassigned=drop_unassigned, weight=weight, scalar=scalar,
            return_assignments=True)
        node_rows, global_values = graph.analyse(matrix, row_labels)
        assigned = int((end_labels > 0).all(axis=0).sum())
        result = None
    else:
        result = disconnection(streamlines, labels, affine, lesions, assignment=mode, radius_mm=radius,
                               symmetric=True, zero_diagonal=zero_diagonal, drop_unassigned=drop_unassigned,
                               weight=weight, scalar=scalar, step_voxels=step)
        matrix, row_labels = result["matrix"], result["row_labels"]
        disruption = network_disruption(matrix, result["lesioned"], row_labels)
        node_rows, global_values = disruption["nodes_intact"], disruption["intact"]
        assigned = int((result["end_labels"] > 0).all(axis=0).sum())
        lesioned_by_label = {row["label"]: row for row in disruption["nodes_lesioned"]}
        for row in node_rows:
            after = lesioned_by_label[row["label"]]
            row["strength_lesioned"] = after["strength"]
            row["degree_lesioned"] = after["degree"]

    n_streamlines = len(streamlines._offsets) if hasattr(streamlines, "_offsets") else len(streamlines)
    counts = {"streamlines": int(n_streamlines), "streamlines_both_ends_assigned": assigned}
    report = {"settings": settings, "counts": counts, "metrics": global_values}
    write_matrix(matrix, row_labels, out / "connectome.csv")
    write_table(node_rows, out / "nodes.tsv")
    summary = {
        "network_regions": int(len(row_labels)),
        "network_streamlines": counts["streamlines"],
        "network_streamlines_assigned": assigned,
        "network_edges": global_values["edges"],
        "network_density": global_values["density"],
        "network_global_efficiency": global_values["global_efficiency_weighted"],
        "network_global_efficiency_binary": global_values["global_efficiency_binary"],
        "network_characteristic_path_length": global_values["characteristic_path_length_weighted"],
        "network_clustering": global_values["clustering_weighted"],
        "network_modularity": global_values["modularity"],
    }
    if result is not None:
        write_matrix(result["lesioned"], row_labels, out / "connectome_lesioned.csv")
        write_table(result["edges"], out / "disconnection.tsv",
                    columns=["region_a", "region_b", "streamlines", "disconnected", "percent"])
        write_table(result["regions"], out / "regions_disconnection.tsv",
                    columns=["region", "voxels", "lesion_voxels", "lesion_percent", "streamlines",
                             "disconnected", "percent"])
        report.update({"disconnection": result["summary"], "lesioned_metrics": disruption["lesioned"],
                       "delta": disruption["delta"], "percent_change": disruption["percent_change"]})
        summary.update({
            "network_disconnected_streamlines": result["summary"]["disconnected_streamlines"],
            "network_disconnected_percent": result["summary"]["disconnected_percent"],
            "network_edges_affected": result["summary"]["edges_affected"],
            "network_edges_lost": result["summary"]["edges_lost"],
            "network_lesioned_global_efficiency": disruption["lesioned"]["global_efficiency_weighted"],
            "network_delta_global_efficiency": disruption["delta"]["global_efficiency_weighted"],
            "network_delta_characteristic_path_length":
                disruption["delta"]["characteristic_path_length_weighted"],
        })
    write_json(out / "global.json", report)
    return summary
