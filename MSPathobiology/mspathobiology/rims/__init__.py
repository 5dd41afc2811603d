"""Paramagnetic rim lesions (PRL), the central vein sign (CVS), expert ratings and rater agreement.

Modules:

- :mod:`.pipeline` - :func:`analyse` (THE in-memory entry point: PRL scores + CVS merged,
  returns :class:`RimsResult`) and :func:`run_case` (read -> analyse -> write rims.tsv / rims.json).
- :mod:`.scoring` - automatic rim score per lesion on QSM (ppb), phase (rad) or SWI:
  :func:`score_rims` (arrays), :func:`score_rim_images` (SimpleITK images); calibrated coverage.
- :mod:`.phase` - phase -> local susceptibility (TKD with the image's B0 direction).
- :mod:`.cvs` - Frangi vesselness, per-lesion CVS, per-subject 40 % rule / Select-3 / Select-6.
- :mod:`.ratings` - :class:`RatingSession` (one file per rater per case, saved after every
  rating, resumable), :func:`order_by_score`, :func:`order_random`.
- :mod:`.agreement` - Cohen's and Fleiss' kappa, ICC (Shrout & Fleiss 1979).
"""

from .agreement import (agreement_from_files, agreement_from_ratings, category_counts, cohen_kappa,
                        fleiss_kappa, icc)
from .cvs import central_vein_sign, central_vein_sign_images, cvs_subject_summary, vesselness
from .phase import b0_direction_kji, local_susceptibility, local_susceptibility_image
from .pipeline import RimsResult, analyse, phase_convention, rims_columns, run_case, white_matter_mask
from .ratings import (RatingSession, TASKS, check_rater_name, order_by_score, order_lesions, order_random,
                      ratings_path, read_ratings)
from .scoring import calibrate_coverage, enhancing_lesions, lesion_geometry, score_rim_images, score_rims, slice_axis_of

__all__ = [
    "analyse", "RimsResult", "phase_convention", "calibrate_coverage",
    "local_susceptibility", "local_susceptibility_image", "b0_direction_kji",
    "score_rims", "score_rim_images", "enhancing_lesions", "lesion_geometry", "slice_axis_of",
    "vesselness", "central_vein_sign", "central_vein_sign_images", "cvs_subject_summary",
    "RatingSession", "TASKS", "check_rater_name", "order_by_score", "order_lesions", "order_random",
    "ratings_path", "read_ratings",
    "cohen_kappa", "fleiss_kappa", "category_counts", "icc", "agreement_from_ratings", "agreement_from_files",
    "run_case", "rims_columns", "white_matter_mask",
]
