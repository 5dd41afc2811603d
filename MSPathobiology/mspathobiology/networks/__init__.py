"""Tractography networks: connectome, graph measures and lesion disconnection.

``analyse(images, tractogram, **options)`` is the in-memory entry point: a parcellation
(and optionally lesions and a scalar map) as SimpleITK images, and a tractogram (a file
path read in chunks, an ArraySequence, flat arrays or a :class:`Tractogram`), returning a
:class:`NetworkResult` (intact and lesioned connectomes, metrics of both graphs,
disconnection tables, a JSON-able summary). ``run_case(images, out_dir, **options)`` is
read -> analyse -> write, behind ``mspathobiology network`` and the cohort runner.
``connectome(streamlines, labels, affine, ...)`` builds one matrix from arrays.
Streamline <-> array conversion lives in :mod:`.tractograms` only.
"""

from .connectome import EmptyTractogramWarning, assign_endpoints, connectome, sample_scalar
from .disconnection import disconnection, lesioned_streamlines, metric_changes, network_disruption
from .measures import check_inside, measure_streamlines
from .metrics import analyse as graph_analyse
from .metrics import global_metrics, nodal_metrics
from .pipeline import NetworkResult, analyse, read_matrix, run_case, write_matrix, write_result
from .tractograms import (Tractogram, flat_arrays, make_streamlines, open_tractogram, polydata_to_streamlines,
                          read_tractogram, streamlines_to_polydata, write_tractogram)

__all__ = ["EmptyTractogramWarning", "NetworkResult", "Tractogram", "analyse", "assign_endpoints", "check_inside",
           "connectome", "disconnection", "flat_arrays", "global_metrics", "graph_analyse", "lesioned_streamlines",
           "make_streamlines", "measure_streamlines", "metric_changes", "network_disruption", "nodal_metrics",
           "open_tractogram", "polydata_to_streamlines", "read_matrix", "read_tractogram", "run_case",
           "sample_scalar", "streamlines_to_polydata", "write_matrix", "write_result", "write_tractogram"]
