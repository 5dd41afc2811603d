"""Tractography networks: connectome, graph measures and lesion disconnection.

``connectome(streamlines, labels, affine, assignment="end", symmetric=True, ...)`` builds a
connectome in memory from a nibabel ArraySequence (or flat points + offsets) in RAS mm,
an integer label array [i, j, k] and its 4x4 voxel -> RAS affine, and returns
``(matrix, row_labels)``. ``run_case(images, out_dir, **options)`` is the one-case
analysis behind ``mspathobiology network`` and the cohort runner.
"""

from .connectome import assign_endpoints, connectome, sample_scalar
from .disconnection import disconnection, lesioned_streamlines, metric_changes, network_disruption
from .metrics import analyse, global_metrics, nodal_metrics
from .pipeline import read_matrix, run_case, write_matrix
from .tractograms import (check_inside, flat_arrays, make_streamlines, polydata_to_streamlines, read_tractogram,
                          streamlines_to_polydata, write_tractogram)

__all__ = ["analyse", "assign_endpoints", "check_inside", "connectome", "disconnection", "flat_arrays",
           "global_metrics", "lesioned_streamlines", "make_streamlines", "metric_changes", "network_disruption",
           "nodal_metrics", "polydata_to_streamlines", "read_matrix", "read_tractogram", "run_case", "sample_scalar",
           "streamlines_to_polydata", "write_matrix", "write_tractogram"]
