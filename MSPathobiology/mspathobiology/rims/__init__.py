"""Paramagnetic rim lesions (PRL), the central vein sign (CVS), expert ratings and rater agreement.

Modules:

- :mod:`.scoring` - automatic rim score per lesion on QSM (ppb) or phase (rad):
  :func:`score_rims` (arrays), :func:`score_rim_images` (SimpleITK images).
- :mod:`.cvs` - Frangi vesselness, per-lesion CVS, per-subject 40 % rule / Select-3 / Select-6.
- :mod:`.ratings` - :class:`RatingSession` (one file per rater per case, saved after every
  rating, resumable), :func:`order_by_score`, :func:`order_random`.
- :mod:`.agreement` - Cohen's and Fleiss' kappa, ICC (Shrout & Fleiss 1979).
- :mod:`.pipeline` - :func:`run_case` (writes rims.tsv / rims.json).
"""

from .agreement import (agreement_from_files, agreement_from_ratings, category_counts, cohen_kappa,
                        fleiss_kappa, icc)
from .cvs import central_vein_sign, central_vein_sign_images, cvs_subject_summary, vesselness
from .pipeline import rims_columns, run_case, white_matter_mask
from .ratings import (RatingSession, TASKS, check_rater_name, order_by_score, order_lesions, order_random,
                      ratings_path, read_ratings)
from .scoring import enhancing_lesions, lesion_geometry, score_rim_images, score_rims, slice_axis_of

__all__ = [
    "score_rims", "score_rim_images", "enhancing_lesions", "lesion_geometry", "slice_axis_of",
    "vesselness", "central_vein_sign", "central_vein_sign_images", "cvs_subject_summary",
    "RatingSession", "TASKS", "check_rater_name", "order_by_score", "order_lesions", "order_random",
    "ratings_path", "read_ratings",
    "cohen_kappa", "fleiss_kappa", "category_counts", "icc", "agreement_from_ratings", "agreement_from_files",
    "run_case", "rims_columns", "white_matter_mask",
]
