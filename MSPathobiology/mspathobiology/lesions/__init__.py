"""Focal MS lesions: segmentation, labeling, the lesion table, locations, change, evaluation.

Entry points for the CLI, the cohort runner and the Slicer module MSLesions:

- :func:`run_case` / :func:`run_change` (files in, files out; :mod:`.pipeline`) and
  :func:`analyse_case` (SimpleITK images in, :class:`CaseResult` out; for Slicer);
- :func:`segment_flair` (:mod:`.segment`), :func:`label_lesions`, :func:`relabel_after_edit`,
  :func:`split_lesion`, :func:`merge_lesions`, :func:`delete_lesions` (:mod:`.labeling`);
- :func:`lesion_rows` (:mod:`.measure`), :func:`classify_locations`,
  :func:`dissemination_in_space` (:mod:`.locations`);
- :func:`classify_change` (:mod:`.change`), :func:`register_rigid` (from :mod:`mspathobiology.registration`);
- :func:`enhancing_lesions` (:mod:`.enhancing`); :func:`dice`, :func:`lesion_detection`
  (:mod:`.evaluation`).
"""

from ..registration import register_rigid
from .change import classify_change, summarise_change
from .enhancing import enhancing_lesions
from .evaluation import dice, lesion_detection
from .labeling import (delete_lesions, label_image, label_lesions, lesion_ids, merge_lesions, relabel_after_edit,
                       renumber_by_size, split_lesion)
from .locations import (anatomy_classes, classify_locations, dissemination_in_space, estimate_anatomy_classes,
                        summarise)
from .measure import lesion_rows, long_axis_mm
from .pipeline import CaseResult, analyse_case, label_and_measure, run_case, run_change
from .segment import Segmentation, estimate_brain_mask, n4_correct, segment_flair

__all__ = [
    "run_case", "run_change", "analyse_case", "CaseResult", "label_and_measure", "segment_flair", "Segmentation", "estimate_brain_mask",
    "n4_correct", "label_lesions", "label_image", "lesion_ids", "relabel_after_edit", "renumber_by_size",
    "split_lesion", "merge_lesions", "delete_lesions", "lesion_rows", "long_axis_mm", "anatomy_classes",
    "estimate_anatomy_classes", "classify_locations", "dissemination_in_space", "summarise",
    "classify_change", "register_rigid", "summarise_change", "enhancing_lesions", "dice", "lesion_detection",
]
