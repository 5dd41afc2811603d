"""Case lists, case review state, cohort runs and reports.

* :mod:`.cases` — :class:`Case` and :func:`discover_cases` (BIDS dataset, folder of case
  folders, CSV/TSV case list).
* :mod:`.review` — :class:`ReviewStore` (per-reader status, resume position) and
  :func:`save_derivative` (BIDS-derivatives names with the reader, backup before replace);
  used by the MSCaseReview Slicer module.
* :mod:`.runner` — :func:`run_cohort`: every analysis per case, skip-done, failures
  isolated, parallel (processes or dask), cohort tables.
* :mod:`.report` — per-case HTML reports and the cohort summary page.
* :mod:`.demo` — :func:`run_demo`: a phantom cohort, run and reported.
"""

from .cases import (Case, by_subject, cases_from_bids, cases_from_folders, cases_from_table,
                    consecutive_pairs, discover_cases, find_case, sort_cases)
from .review import ReviewStore, SavedFile, default_review_root, derivative_file, reviewed_files, save_derivative
from .runner import ANALYSES, GROUPS, CohortResult, run_cohort

__all__ = ["Case", "by_subject", "cases_from_bids", "cases_from_folders", "cases_from_table",
           "consecutive_pairs", "discover_cases", "find_case", "sort_cases", "ReviewStore", "SavedFile",
           "default_review_root", "derivative_file", "reviewed_files", "save_derivative", "ANALYSES",
           "GROUPS", "CohortResult", "run_cohort"]
