"""Atrophy: lesion filling, brain extraction, tissue volumes, BPF, deep GM, PBVC, regional volumes.

Entry points (contract of the cohort runner and the CLI): :func:`run_case` and :func:`run_pbvc`.
"""

from .pbvc import compute_pbvc
from .pipeline import analyse_tissues, run_case, run_pbvc

__all__ = ["analyse_tissues", "compute_pbvc", "run_case", "run_pbvc"]
