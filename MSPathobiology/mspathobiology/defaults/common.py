"""Defaults shared by every part."""

#: Two images share a grid when spacing, origin (mm) and direction cosines agree to
#: this absolute tolerance. ITK's own default for ``ImageToImageFilter`` checks is
#: 1e-6 x spacing; 1e-4 mm absorbs float32 round-trips through NIfTI headers.
GEOMETRY_TOLERANCE = 1e-4

#: Connected components use 26-connectivity (full 3x3x3 neighbourhood), as LST-AI v2
#: uses for lesion locations; the project uses the same value for counting too,
#: which LST-AI does not (it counts with 6). One connectivity everywhere.
DEFAULT_CONNECTIVITY = 26

#: Smallest lesion kept, in mm^3. MSSEG challenge evaluation (Commowick et al.,
#: Sci Rep 2018; Anima ``animaSegPerfAnalyzer`` default) ignores lesions < 3 mm^3.
MIN_LESION_VOLUME_MM3 = 3.0

#: McDonald criteria count a lesion whose long axis is >= 3 mm
#: (Filippi et al., Lancet Neurol 2016, MAGNIMS; Thompson et al., Lancet Neurol 2018).
MCDONALD_MIN_LONG_AXIS_MM = 3.0

#: Label images must hold integers; a float image is accepted only when every value
#: is within this distance of an integer (rejects probability maps given as labels).
LABEL_INTEGER_TOLERANCE = 1e-6
