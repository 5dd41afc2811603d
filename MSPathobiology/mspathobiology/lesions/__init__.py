"""Focal MS lesions: segmentation, labeling, the lesion table, locations, change, evaluation.

Entry points for the CLI, the cohort runner and the Slicer module MSLesions:

- :func:`analyse` (SimpleITK images in, :class:`LesionsResult` out; ``analyse_case`` is its
  former name) and :func:`analyse_change` (:class:`ChangeResult`): the in-memory entry points;
  :func:`run_case` / :func:`run_change` are read -> analyse -> write (:mod:`.pipeline`);
- :func:`brain_mask_on_flair` (:mod:`.brain`): the brain mask lesions are searched in;
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
from .brain import brain_mask_on_flair
from .pipeline import (ChangeResult, CaseResult, LesionsResult, analyse, analyse_case, analyse_change,
                       label_and_measure, run_case, run_change)
from .segment import Segmentation, estimate_brain_mask, n4_correct, segment_flair

__all__ = [
    "analyse", "analyse_change", "LesionsResult", "ChangeResult", "brain_mask_on_flair",
    "run_case", "run_change", "analyse_case", "CaseResult", "label_and_measure", "segment_flair", "Segmentation", "estimate_brain_mask",
    "n4_correct", "label_lesions", "label_image", "lesion_ids", "relabel_after_edit", "renumber_by_size",
    "split_lesion", "merge_lesions", "delete_lesions", "lesion_rows", "long_axis_mm", "anatomy_classes",
    "estimate_anatomy_classes", "classify_locations", "dissemination_in_space", "summarise",
    "classify_change", "register_rigid", "summarise_change", "enhancing_lesions", "dice", "lesion_detection",
]
