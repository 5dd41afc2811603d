"""Defaults of the lesion part (segmentation, labeling, locations, change, enhancement, evaluation).

Each constant cites where its value comes from. Values marked "tuned on the phantom"
were chosen on the project's synthetic phantom (mspathobiology.phantom) by looking at
image statistics only; no ground truth is used inside the algorithm.
"""

# --- N4 bias field correction (Tustison et al., IEEE TMI 2010; SimpleITK N4BiasFieldCorrectionImageFilter)
#: Shrink factor for fitting the bias field (ANTs N4BiasFieldCorrection default -s 4).
N4_SHRINK_FACTOR = 4
#: Iterations per fitting level (ANTs recommends 50x50x50x50; three levels are enough for FLAIR).
N4_ITERATIONS = (50, 50, 30)
#: Control points of the B-spline bias field (ITK default 4 per axis).
N4_CONTROL_POINTS = 4

# --- Brain mask estimate (used only when no brain mask is given)
#: Gaussian smoothing (mm) before Otsu thresholding of the head (Otsu, IEEE SMC 1979).
BRAIN_SMOOTHING_MM = 1.0
#: Erosion radius (mm) that cuts thin bridges between brain and scalp before the largest
#: component is kept; the same radius is dilated back (a morphological opening).
BRAIN_OPENING_MM = 2.0

#: FLAIR-only runs: an Otsu head mask larger than this (mL) cannot be a brain: adult
#: intracranial volume is about 1.1-1.9 L (eTIV 1.2-1.8 L in Buckner et al., NeuroImage 2004),
#: so the FLAIR still has scalp and skull and a T1 or a brain mask is required.
FLAIR_ONLY_MAX_BRAIN_ML = 2000.0
#: A T1 on another grid than the FLAIR is registered rigidly to it with Mattes mutual
#: information (different contrasts; Mattes et al., IEEE TMI 2003) to carry its brain mask over.
BRAIN_MASK_REGISTRATION_METRIC = "mattes"

# --- NAWM normalisation (LST-LGA, Schmidt et al., NeuroImage 2012, normalises FLAIR to WM)
#: Normal-appearing WM intensity = the mode of the brain FLAIR histogram among voxels
#: classified as WM; the histogram has this many bins between the 1st and 99th percentile.
NAWM_HISTOGRAM_BINS = 256
#: Gaussian smoothing of that histogram, in bins (removes noise-induced false peaks).
NAWM_HISTOGRAM_SMOOTHING_BINS = 2.0
#: Voxels darker than this fraction of the median are dropped before the mode (CSF tail).
NAWM_CSF_CUT_FRACTION = 0.5
#: Without a WM mask, WM is taken as brain voxels at least this deep (mm) below the brain
#: surface (removes cortex and extracerebral CSF) that are brighter than CSF.
NAWM_MIN_DEPTH_MM = 6.0

# --- Hyperintensity threshold and lesion growth (in the spirit of LST-LGA:
#     Schmidt et al. 2012 seed a lesion belief map with conservative hyperintense voxels,
#     then grow into neighbouring, less hyperintense voxels; kappa default 0.3)
#: Normalised FLAIR (NAWM = 1) above which a voxel is a lesion seed (LST-LGA's conservative
#: initial map). Lesions are 1.5-2.5 x NAWM on 3 T FLAIR; tuned on the phantom (lesions
#: 1.7-2.3, small lesions blurred to ~1.5).
SEED_THRESHOLD = 1.5
#: Normalised FLAIR above which a voxel may join a lesion grown from a seed (LGA growth
#: step). Must exceed cortical grey matter (1.1-1.3 x NAWM on 3 T FLAIR, 1.35 in the phantom)
#: or juxtacortical lesions leak into cortex; tuned on the phantom.
GROW_THRESHOLD = 1.45
#: Maximum growth steps (voxels) away from the seeds; LGA grows until convergence, a
#: bound keeps growth from leaking along hyperintense cortex.
GROW_MAX_STEPS = 4
#: Seeds closer than this (mm) to the brain surface are ignored (cortical FLAIR
#: hyperintensity and partial volume with extracerebral tissue).
SEED_MIN_DEPTH_MM = 1.0
#: Gaussian smoothing (mm) of normalised FLAIR before thresholding (noise suppression).
SEGMENT_SMOOTHING_MM = 0.0

# --- Lesion length for the McDonald >= 3 mm rule
#: The ">= 3 mm in long axis" rule (Filippi et al., MAGNIMS, Lancet Neurol 2016; Thompson et al.,
#: McDonald 2017, Lancet Neurol 2018) is applied by radiologists on the images they read: the
#: longest diameter within one image (the RECIST convention of "longest diameter in the plane of
#: measurement", Eisenhauer et al., Eur J Cancer 2009). 2D acquisitions are read on their acquired
#: slices, so slice thickness is not length; 3D acquisitions (<= 1 mm near-isotropic, the
#: MAGNIMS-CMSC-NAIMS 2021 recommendation, Wattjes et al., Lancet Neurol 2021) are read in any
#: reformatted plane, so their longest extent is the 3D one. A grid whose thickest voxel axis is
#: at least this many times its finest is read as 2D slices along that axis (2D FLAIR: 3-5 mm
#: slices at <= 1 mm in plane; 3D FLAIR exported at 1 x 1 x 1.2 mm stays 3D).
LONG_AXIS_SLICE_ANISOTROPY = 1.5

# --- Lesion table (performance knobs of the long axis; results are exact below them)
#: Lesions with more surface voxels than this use their convex hull vertices.
LONG_AXIS_HULL_ABOVE = 400
#: At most this many hull points enter the pairwise distances (random subset beyond).
LONG_AXIS_MAX_POINTS = 2000

# --- Splitting confluent lesions (distance transform + marker watershed; Beucher & Meyer 1993)
#: Regional maxima of the distance map lower than their surroundings by less than this
#: (mm) are merged (h-maxima), so that only real necks split a lesion.
SPLIT_H_MM = 1.0

# --- Locations (LST-AI v2, Wiltgen et al., NeuroImage Clin 2024)
#: Each lesion is dilated by this many voxels before the touched anatomy decides its class.
LOCATION_DILATION_VOXELS = 1
#: A lesion with at least this fraction of its voxels in cortex is cortical (leucocortical
#: and intracortical lesions lie mostly in cortex; Calabrese et al., Nat Rev Neurosci 2015).
CORTICAL_MIN_FRACTION = 0.5
#: A lesion with more than this fraction of its voxels in the infratentorial region is
#: infratentorial even if its dilation does not reach a labelled infratentorial voxel.
INFRATENTORIAL_MIN_FRACTION = 0.5
#: Own estimate without an anatomy labelmap: cortex = brain voxels within this depth (mm)
#: of the brain surface (cortical thickness ~2.5 mm, Fischl & Dale, PNAS 2000).
CORTEX_DEPTH_MM = 3.0
#: Own estimate: cortex = grey-matter bright voxels (normalised FLAIR >= this; cortex is
#: 1.1-1.3 x WM on 3 T FLAIR) within CORTEX_SEARCH_MM of the outside or of sulcal CSF
#: (sulcal depth ~10 mm with cortex lining it; the search covers cortex plus partial volume).
CORTEX_MIN_NORMALISED_FLAIR = 1.15
CORTEX_SEARCH_MM = 6.0
#: Own estimate: CSF = normalised FLAIR below this (CSF is nulled on FLAIR).
CSF_MAX_NORMALISED_FLAIR = 0.55
#: Own estimate: ventricles = CSF components whose deepest voxel is at least this deep (mm).
VENTRICLE_MIN_DEPTH_MM = 12.0
#: Own estimate: infratentorial region = brain voxels inferior to this fraction of the
#: brain's superior-inferior extent and posterior to the anterior-posterior centre
#: (tentorium lies ~ at 30-35 % of brain height in MNI space).
INFRATENTORIAL_HEIGHT_FRACTION = 0.3

# --- Change between visits
#: Rigid registration of the two visits' FLAIR (mspathobiology.registration, pyramid and
#: sampling in defaults.common): Mattes mutual information (Mattes et al., IEEE TMI 2003),
#: robust to the intensity drift between visits of FLAIR.
CHANGE_REGISTRATION_METRIC = "mattes"
#: Lesions of the two visits are matched with this tolerance (voxels): each visit's lesions are
#: dilated by it before overlaps are counted, absorbing registration and nearest-neighbour
#: resampling errors of up to one voxel (new lesions must then lie >= 2 voxels from old ones).
CHANGE_MATCH_TOLERANCE_VOXELS = 1
#: A follow-up lesion is new when less than this fraction of it overlaps baseline lesions
#: (MSSEG-2 new-lesion definition: no baseline counterpart; Commowick et al., 2021).
NEW_MAX_OVERLAP_FRACTION = 0.1
#: Enlarging: volume grew by at least this fraction of the baseline volume (the usual
#: trial definition of an enlarging T2 lesion, >= 50 % growth; Moraal et al., Mult Scler 2010)
ENLARGING_MIN_RELATIVE_GROWTH = 0.5
#: ... and by at least this many mm^3 and this many voxels (floors for both enlarging and
#: shrinking): a small lesion rasterised at two head positions changes by a voxel or two
#: (sub-voxel motion), so smaller changes are not distinguishable from discretisation noise
#: (3 mm^3 = 3 voxels at 1 mm is also the MSSEG minimum lesion size).
ENLARGING_MIN_GROWTH_MM3 = 3.0
ENLARGING_MIN_GROWTH_VOXELS = 3
#: Shrinking: volume fell by at least this fraction (symmetric to enlarging: 1 - 1/1.5).
SHRINKING_MIN_RELATIVE_LOSS = 1.0 / 3.0
#: A baseline lesion is resolved when less than this fraction of it is covered at follow-up.
RESOLVED_MAX_COVERAGE = 0.1
#: Codes of the change labelmap.
CHANGE_CODES = {"new": 1, "enlarging": 2, "shrinking": 3, "stable": 4, "resolved": 5}

# --- Enhancement (Gd-enhancing lesions: post/pre T1 ratio against NAWM; e.g. Barkhof et al. 1997)
#: Voxel enhances when (post/post_NAWM) - (pre/pre_NAWM) exceeds this (20 % of NAWM).
ENHANCEMENT_MIN_RELATIVE = 0.2
#: Lesion enhances when at least this fraction of its voxels enhance (ring enhancement
#: covers only the rim of a lesion).
ENHANCING_MIN_FRACTION = 0.1
#: ... and at least this many voxels enhance.
ENHANCING_MIN_VOXELS = 3
#: Without a brain mask, NAWM for the normalisation is the non-lesion tissue this far (mm,
#: min, max) from any lesion: outside the lesion's partial-volume edge, still local white matter.
ENHANCEMENT_REFERENCE_RING_MM = (2.0, 6.0)
#: Ring (not nodular) enhancement: the lesion's inner part enhances at less than this fraction of
#: its edge's rate (open or closed ring: Barkhof et al., 1997; design choice).
RING_ENHANCEMENT_MAX_CORE_RATIO = 0.5

# --- Evaluation (MSSEG, Commowick et al., Sci Rep 2018; Anima animaSegPerfAnalyzer defaults)
#: A truth lesion is detected when more than this fraction of it is covered.
DETECTION_MIN_OVERLAP = 0.1
#: ... unless a detecting lesion lies more than this fraction outside the truth.
DETECTION_MAX_OUTSIDE = 0.7
#: ... checked over detecting lesions (largest overlap first) until they cover this share.
DETECTION_GAMMA = 0.65
#: Lesions of this volume (mm^3) or less are ignored by the detection scores (Anima: > 3 mm^3).
DETECTION_MIN_VOLUME_MM3 = 3.0
#: Anima labels components with ITK's default face connectivity (6).
DETECTION_CONNECTIVITY = 6

# --- FLAIR-like contrast from a real T1 (validation aid, mspathobiology.lesions.flair_like)
#: FLAIR levels relative to white matter: CSF nulled by the inversion (about 0.2-0.3 x WM),
#: cortex 1.1-1.3 x WM on 3 T FLAIR (the same range as CORTEX_MIN_NORMALISED_FLAIR's source;
#: e.g. Schmidt et al., NeuroImage 2012, normalise FLAIR to WM with GM slightly above it).
FLAIR_LIKE_LEVELS = {"csf": 0.25, "gm": 1.2, "wm": 1.0}
#: Gaussian noise of the FLAIR-like image, sd as a fraction of WM (SNR 50 in WM, typical of 3 T FLAIR).
FLAIR_LIKE_NOISE = 0.02
