"""Slowly expanding lesions (SEL) from three or more T1 visits and the baseline lesion labels.

Entry points: :func:`analyse` (images in, :class:`SelResult` out) and :func:`run` (files in,
``sel.tsv``, log-Jacobian maps and ``sel_summary.json`` out). Method: each follow-up is aligned
rigidly (:mod:`mspathobiology.registration`), its intensity matched, then registered
non-linearly to the baseline by demons (:mod:`.deformation`); log-Jacobian maps corrected for
global brain change give each lesion's expansion per visit, and the heuristics of Elliott et al.
(constant, concentric expansion of lesions >= 10 voxels; :mod:`.measure`) flag SEL candidates.
"""

from .deformation import jacobian_determinant, log_jacobian
from .measure import classify, concentric_fraction, linear_slope
from .pipeline import CHANGE_TYPE, SelResult, analyse, run

__all__ = ["analyse", "run", "SelResult", "CHANGE_TYPE", "jacobian_determinant", "log_jacobian", "classify",
           "concentric_fraction", "linear_slope"]
