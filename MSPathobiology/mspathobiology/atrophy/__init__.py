"""Atrophy: lesion filling, brain extraction, tissue volumes, BPF, deep GM, PBVC, regional volumes.

In-memory entry points: :func:`analyse` (one T1 -> :class:`AtrophyResult`) and
:func:`analyse_pbvc` (two visits -> :class:`PbvcResult`); on files (cohort runner, CLI):
:func:`run_case` and :func:`run_pbvc`. :func:`extract_brain` (-> :class:`BrainExtraction`)
is the brain extraction other parts use.
"""

from .brain_extraction import BrainExtraction, extract_brain
from .pbvc import compute_pbvc
from .pipeline import AtrophyResult, PbvcResult, analyse, analyse_pbvc, analyse_tissues, run_case, run_pbvc

__all__ = ["AtrophyResult", "BrainExtraction", "PbvcResult", "analyse", "analyse_pbvc", "analyse_tissues",
           "compute_pbvc", "extract_brain", "run_case", "run_pbvc"]
