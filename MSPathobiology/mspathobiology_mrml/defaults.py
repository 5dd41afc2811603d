"""Names and defaults of the MRML bridge (the one place each is written).

Module logic names are the names the Slicer application registers its module logics
under (``qSlicerAbstractCoreModule::name()``, used by ``vtkMRMLAbstractLogic::GetModuleLogic``).
"""

#: Module logic names, as in Slicer (``vtkSlicerVolumesLogic`` looks up "Colors").
COLORS_LOGIC_NAME = "Colors"
VOLUMES_LOGIC_NAME = "Volumes"
SEGMENTATIONS_LOGIC_NAME = "Segmentations"
MARKUPS_LOGIC_NAME = "Markups"

#: Attribute of a scene's Python wrapper that holds the application logic made by ``new_scene``.
APPLICATION_LOGIC_ATTRIBUTE = "_mspathobiology_application_logic"

#: Segment tag that stores the label value a segment had (and gets back) in a label image.
#: Tags are saved in ``.seg.nrrd`` headers (``SegmentN_Tags``), so the value survives storage.
LABEL_VALUE_TAG = "MSPathobiology.LabelValue"

#: Default node names.
DEFAULT_SEGMENTATION_NAME = "Lesions"
DEFAULT_MARKUPS_NAME = "Points"

#: Table column property that records the logical type of a column (int, float, bool, str),
#: saved by ``vtkMRMLTableStorageNode`` in the ``.schema.tsv``/``.schema.csv`` next to the table.
COLUMN_TYPE_PROPERTY = "MSPathobiology.valueType"

#: Colour table used for segment colours when Slicer's default labelmap colours are procedural
#: (random): the built-in "Labels" table that every MRML colour logic adds.
FALLBACK_LABEL_COLOR_NODE_ID = "vtkMRMLColorTableNodeLabels"

#: Lesion segments: segment ID ``lesion_<id>`` (stable across relabels, so the Segment Editor's
#: selection, undo history and per-segment visibility survive) and the segment name shown.
LESION_SEGMENT_ID_PREFIX = "lesion_"
LESION_NAME_FORMAT = "Lesion {id}"

#: Node reference (on a lesion segmentation) to the hidden labelmap holding the lesion ids its
#: lesion table was computed from; the relabel after edits compares with it.
TABLE_LABELS_ROLE = "MSPathobiologyTableLabels"
TABLE_LABELS_SUFFIX = " table labels"

#: SEL results (mspathobiology_mrml.sel): log-Jacobian maps use Slicer's diverging "fMRI" colour table
#: (negative = blue, contraction; positive = red to yellow, expansion), centred on 0 with a window of
#: +-2x the logic layer's "definite" SEL expansion (defaults.sel.SEL_DEFINITE_EXPANSION_LOGJAC, log 1.125),
#: so a definite SEL shows mid-red and saturates only at twice that expansion.
LOGJAC_COLOR_NODE_ID = "vtkMRMLColorTableNodefMRI"
LOGJAC_DISPLAY_DEFINITE_MULTIPLE = 2.0
#: Node references from the SEL table node to its other outputs (maps, volume-per-visit table, chart).
SEL_LOGJAC_ROLE = "MSPathobiologySELLogJacobian"
SEL_VOLUMES_ROLE = "MSPathobiologySELVolumes"
SEL_CHART_ROLE = "MSPathobiologySELChart"
SEL_SERIES_ROLE = "MSPathobiologySELSeries"
