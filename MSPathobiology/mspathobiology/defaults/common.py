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

# --- Rigid registration (mspathobiology.registration), for lesion change and PBVC.
#: Fraction of voxels sampled at random for the metric (SimpleITK registration examples
#: use 1-10 %; 10 % gave sub-0.1 mm repeatability on the phantom at 1 and 2 mm).
REGISTRATION_SAMPLING_FRACTION = 0.10
#: Pyramid shrink factors and Gaussian smoothing (mm) per level, coarse to fine.
REGISTRATION_SHRINK_FACTORS = (4, 2, 1)
REGISTRATION_SMOOTHING_SIGMAS_MM = (2.0, 1.0, 0.0)
#: Regular-step gradient descent: iterations per level and the smallest step
#: (1e-4 in scaled parameter units, i.e. ~0.1 micrometre: sub-voxel precision for PBVC).
REGISTRATION_ITERATIONS = 100
REGISTRATION_MIN_STEP = 1e-4
#: Histogram bins of the Mattes mutual information metric (Mattes et al., IEEE TMI 2003;
#: ITK examples use 50).
REGISTRATION_HISTOGRAM_BINS = 50
#: Step relaxation of the rigid optimiser after a direction change (SimpleITK's default).
REGISTRATION_RELAXATION = 0.5

# --- Affine registration to a template (mspathobiology.registration.register_affine).
#: Fraction of the fixed-mask voxels sampled for the correlation metric, iterations of
#: each coarse multi-start similarity fit and of the final affine fit per level (chosen:
#: every start of the real-head benchmark converges within these counts).
AFFINE_SAMPLING_FRACTION = 0.25
AFFINE_COARSE_ITERATIONS = 60
AFFINE_ITERATIONS = 100
#: Starts ranked by their initial metric; this many of the best are refined.
AFFINE_STARTS_REFINED = 4
#: Affine optimiser: smallest step (a unitless optimiser step on physical-shift-scaled
#: parameters, i.e. about 1e-3 mm) and step relaxation after a direction change; own
#: choices, tuned on Colin27 (``benchmarks/real_data.py extraction``), SimpleITK's default
#: relaxation is 0.5.
AFFINE_MIN_STEP = 1e-3
AFFINE_RELAXATION = 0.6
