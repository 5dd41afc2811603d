"""Defaults of the atrophy part (tissue volumes, BPF, PBVC). Each value cites its source."""

# --- Tissue classification -------------------------------------------------------------

#: Tissue classes in T1 intensity order, and their label values in the tissue label image.
#: Same order and numbering as FSL FAST's ``pveseg`` for T1 (Zhang et al., IEEE TMI 2001).
TISSUE_LABELS = {"csf": 1, "gm": 2, "wm": 3}
#: Label written for lesion voxels in the tissue label image (counted on their own).
LESION_TISSUE_LABEL = 4

#: EM iterations of the Gaussian mixture and its tolerance on the relative change of the
#: class means. FAST iterates EM + MRF until convergence, typically < 10 outer loops
#: (Zhang et al. 2001, section III).
EM_MAX_ITERATIONS = 30
EM_TOLERANCE = 1e-4

#: Potts MRF weight (beta) of the spatial prior, 6-neighbourhood, mean-field updates
#: (Zhang et al. 2001 eq. 6 uses a Potts-type prior; FAST's own beta uses a different
#: energy scaling). 0.3 per neighbour is a moderate prior, chosen, not tuned: the phantom
#: tissue volumes are within 2 % with it (benchmarks/atrophy_accuracy.py).
MRF_BETA = 0.3
MRF_ITERATIONS = 5
#: The Gaussian mixtures (tissue classes, NAWM, threshold extraction) are fitted by EM on at
#: most this many voxels, a seeded random subsample (then every voxel is classified). SPM's
#: unified segmentation fits its mixture on voxels 3 mm apart (``samp = 3``, Ashburner &
#: Friston, NeuroImage 2005), ~1/27 of a 1 mm brain (~55 000 voxels); 200 000 is denser
#: still: the standard error of a class mean is then < 0.5 % of the noise SD. On ch2 and the
#: phantom, tissue volumes stay within 0.5 % of the full fit (benchmarks/tissue_fit_subsample.py).
TISSUE_FIT_SAMPLES = 200_000
TISSUE_FIT_SEED = 0

#: Partial-volume estimation: a voxel is "pure" when its whole 6-neighbourhood has the
#: same hard label; otherwise its fractions come from the linear mixing of the two
#: adjacent class means (mixel model of Santago & Gage, IEEE TMI 1993; Shattuck et al.,
#: NeuroImage 2001, who also restrict mixing to boundary voxels).
PV_BOUNDARY_CONNECTIVITY = 6
#: The partial-volume mixture (3 pure + 2 mixing classes, Santago & Gage 1993) is fitted
#: on a histogram of this many bins, each mixing density integrated with this many steps.
PV_HISTOGRAM_BINS = 256
PV_MIXING_STEPS = 20
#: The mixture is initialised by a plain 3-class EM on this many random voxels (seeded).
PV_INIT_SAMPLES = 50000
#: A pure class holding less than this fraction of the voxels keeps its initial mean
#: (the histogram mode): a brain mask may hold only the ventricles' CSF (~0.5 % of its
#: voxels), too few for EM to place the CSF mean against the partial-volume voxels.
PV_MIN_CLASS_FRACTION = 0.002

# --- Lesion filling ---------------------------------------------------------------------

#: NAWM is sampled in a shell this wide (mm) around the lesions, as FSL ``lesion_filling``
#: samples WM intensities near each lesion (Battaglini et al., Hum Brain Mapp 2012).
FILLING_SHELL_MM = 4.0
#: Fewest NAWM voxels needed in the shell before falling back to all WM voxels.
FILLING_MIN_NAWM_VOXELS = 50
#: Seed of the random NAWM intensity draws, so that filling is reproducible.
FILLING_SEED = 0

# --- Brain extraction -------------------------------------------------------------------

#: Files of the MNI152 ICBM 2009a nonlinear symmetric template (Fonov et al., NeuroImage
#: 2011) inside nilearn's wheel (``nilearn/datasets/data``): brain-only T1 and GM/WM
#: probability maps, 1 mm, 197 x 233 x 189. Probabilities are stored as 0-255.
TEMPLATE_FILES = {"t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
                  "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
                  "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz"}
TEMPLATE_PROBABILITY_SCALE = 255.0
#: Default brain-extraction method: "template" (MNI152 registered affinely with SimpleITK,
#: then refined on the subject's intensities); "threshold" is the classical
#: threshold-and-morphology method kept for skull-stripped or non-human inputs.
BRAIN_EXTRACTION_METHOD = "template"
BRAIN_EXTRACTION_METHODS = ("template", "threshold")
#: One extraction per T1 (atrophy/brain_cache.py): extractions kept in memory for later steps
#: of the same process (a session uses one or two T1s; masks are ~7 MB each at 1 mm), and on
#: disk (~0.2 MB per T1, compressed masks) for later processes; the oldest entries beyond
#: these counts are dropped. Sizes, not science: enough for a session and a cohort run.
BRAIN_CACHE_MEMORY_ENTRIES = 4
BRAIN_CACHE_DISK_ENTRIES = 256
#: Voxel size (mm) of the coarse multi-start search and of the final affine fit
#: (FLIRT searches at 8 mm and refines at 4, 2, 1 mm, Jenkinson & Smith 2001; 2 mm is
#: enough for a 12-parameter fit of a whole brain).
TEMPLATE_COARSE_MM = 6.0
TEMPLATE_FINE_MM = 2.0
#: The registration metric is evaluated in the template's intracranial mask dilated by
#: this much (mm), so that the dark CSF/skull ring around the brain takes part.
TEMPLATE_MASK_DILATION_MM = 8.0
#: Multi-start search: the brain centre is first guessed this far (mm) below the top of
#: the head (adult scalp + skull 10-15 mm plus half the brain height, ~65 mm in MNI152),
#: then starts are tried at these offsets (mm, superior-inferior and anterior-posterior)
#: and isotropic scales around the guess.
TEMPLATE_TOP_TO_CENTRE_MM = 75.0
TEMPLATE_START_OFFSETS_MM = (-20.0, 0.0, 20.0)
TEMPLATE_START_SCALES = (0.9, 1.05)
#: Below this correlation between the registered template and the T1 (inside the dilated
#: template mask), the template is taken not to fit (non-human or synthetic anatomy, not a
#: T1) and the classical threshold extraction is used instead, which the outputs record.
#: Real T1 heads reach 0.7-0.75 (ch2 and its rotated, rescaled, resampled copies); the
#: project's procedural phantom 0.42.
TEMPLATE_MIN_CORRELATION = 0.55
#: Refinement of the registered template mask on the subject's own intensities: voxels
#: deeper than ``BRAIN_CORE_MM`` inside the registered intracranial mask are brain; up to
#: ``BRAIN_EDGE_REACH_MM`` outside it, a voxel is brain when its (``BRAIN_EDGE_SMOOTHING_MM``
#: smoothed) T1 is above CSF + ``BRAIN_EDGE_TISSUE_FRACTION`` x (GM - CSF), i.e. mostly
#: tissue in a CSF/GM partial-volume voxel, and connected to the core; holes are filled.
#: This puts the edge on the outer GM surface with the sulcal CSF enclosed, as BET does
#: (Smith, Hum Brain Mapp 2002). Radii chosen on ch2 against ch2bet (benchmarks/real_data.py).
BRAIN_CORE_MM = 6.0
BRAIN_EDGE_REACH_MM = 2.0
BRAIN_EDGE_SMOOTHING_MM = 0.7
BRAIN_EDGE_TISSUE_FRACTION = 0.5
#: Rigid registration of a T1 onto a FLAIR (or any other contrast) to carry its brain mask
#: uses Mattes mutual information (Mattes et al., IEEE TMI 2003; defaults.common).

#: Erosion radius (mm) that cuts the brain from the scalp before keeping the largest
#: component; BET's brain/non-brain boundary is about 2-4 mm of dark CSF+skull in
#: adult T1 (Smith, Hum Brain Mapp 2002 "BET").
BET_EROSION_MM = 4.0
#: Closing radius (mm) applied to tissue voxels first, so that sulci and the
#: interhemispheric fissure (2-3 mm of CSF) do not split the brain during the erosion,
#: while CSF + skull (>= 7 mm) still separates it from the scalp.
BET_CLOSING_MM = 3.0
#: Closing radius (mm) that turns the brain into an intracranial mask (sulcal and
#: ventricular CSF included), as SIENAX's skull-constrained ICV (Smith et al. 2002).
ICV_CLOSING_MM = 6.0
#: With a given brain (GM + WM) mask, CSF is searched this far (mm) outside it: adult
#: subarachnoid CSF is 2-5 mm thick, the skull then 5-7 mm (so the scalp is not reached).
ICV_CSF_SEARCH_MM = 6.0
#: Fallback skull level when the shell holds < 50 voxels darker than CSF: this percentile
#: of the shell intensities; voxels above the skull/CSF midpoint are CSF.
ICV_SKULL_PERCENTILE = 10.0
#: Fewest eroded-ventricle voxels for the CSF intensity to be taken from the ventricles.
ICV_MIN_VENTRICLE_VOXELS = 20
#: N4 bias correction before tissue classification (Tustison et al., IEEE TMI 2010):
#: fitted on an image shrunk to about this voxel size (mm), iterations per level.
N4_SHRINK_TO_MM = 4.0
N4_ITERATIONS = (50, 50, 30)

# --- Fractions and normalisation --------------------------------------------------------

#: FreeSurfer aseg label values (FreeSurferColorLUT.txt). Thalamus was 10/49 "Thalamus"
#: since FreeSurfer 7 and 9/48 "Thalamus-Proper" before; both are accepted.
ASEG_THALAMUS = (9, 10, 48, 49)
#: Deep grey matter: thalamus, caudate, putamen, pallidum, accumbens (left, right),
#: the set of FSL FIRST's deep GM structures used in MS atrophy studies (Eshaghi et al.,
#: Ann Neurol 2018; Patenaude et al., NeuroImage 2011), hippocampus and amygdala excluded.
ASEG_DEEP_GM = (9, 10, 11, 12, 13, 26, 48, 49, 50, 51, 52, 58)

#: Resolution (mm) at which the template affine registration for the SIENAX-style
#: head-size scaling runs; SIENAX registers at full resolution with FLIRT, a 3 mm
#: pyramid level is enough for a 12-parameter fit (Smith et al., NeuroImage 2002).
HEAD_SIZE_REGISTRATION_MM = 3.0

#: Normal adult ranges used by benchmarks/real_data.py to check real heads. ICV: adult
#: total intracranial volume is about 1,100-1,900 mL across sexes (Buckner et al.,
#: NeuroImage 2004, atlas-scaled eTIV of 147 adults; MNI-registered heads such as Colin27
#: sit at the top of it, MNI space being ~5-10 % larger than native heads). BPF of healthy
#: adults 0.75-0.90 (Rudick et al., Neurology 1999: controls 0.87; falls ~0.2 %/year with age).
NORMAL_ADULT_ICV_ML = (1100.0, 1900.0)
NORMAL_ADULT_BPF = (0.75, 0.90)

# --- PBVC -------------------------------------------------------------------------------

#: Rigid registration: mspathobiology.registration (defaults.common.REGISTRATION_*), correlation metric.
#: The registration crops both images to the joint brain bounding box plus this margin (mm).
PBVC_CROP_MARGIN_MM = 12.0

#: Width (mm) of the band around the joint brain edge in which the edge-displacement map
#: is reported (SIENA searches +/-3 mm along the normal, Smith et al. 2002).
PBVC_EDGE_BAND_MM = 5.0
#: Each visit's brain volume sums its tissue fractions over its own brain and this far (mm)
#: beyond its edge: the whole blurred edge profile (2 mm voxels + smoothing) and into the
#: dark CSF (adult subarachnoid CSF 2-5 mm), so the limit moves with that visit's brain.
PBVC_EDGE_REACH_MM = 3.0
#: The measurement never reaches further than this beyond the union of the brain masks
#: (or of the intracranial mask), so that bright scalp fat stays out (adult heads: 2-3 mm
#: CSF plus >= 5 mm skull before the scalp; chosen on the phantom at 2 mm and a blurred
#: sphere at 1 and 2 mm).
PBVC_MASK_DILATION_MM = 5.0
#: Bright voxels in the region that are not connected to the brain core (scalp, marrow,
#: eyes, reached when a BET-style mask already holds the CSF) are left out of the integral
#: together with this margin (mm) around them, which holds their blurred edges.
PBVC_OUTER_EXCLUSION_MM = 2.0
#: The brain is the 6-connected part of the mean brain fraction > 0.5 that reaches the
#: brain masks eroded by this much (mm).
PBVC_CORE_EROSION_MM = 3.0
#: The shared intensity model must find CSF darker than GM by at least this many noise
#: SDs (pure-class SD of the mixture); below, PBVC is refused with a message (an edge
#: contrast under ~2 SD cannot locate the edge, Freeborough & Fox 1997 use the CSF/GM window).
PBVC_MIN_CONTRAST_NOISE = 2.0
#: The darkest pure class of the shared model must hold at most this fraction of the pure-class
#: voxels (brain masks with ventricles, or the intracranial mask): CSF is 10-25 % of the
#: intracranial volume of adults and stays under ~35 % in advanced atrophy (BPF 0.75-0.90 in
#: controls, ~0.8 in MS, Rudick et al., Neurology 1999); on ch2 it is 0 % (CSF is mostly in
#: the mixing classes), 87 % when CSF is set to the GM level. More means the "CSF" found is grey
#: matter (a T1 without CSF contrast, clipped or FLAIR-like): PBVC is refused with a message.
PBVC_MAX_DARK_FRACTION = 0.5
#: The measurement window is carried with each visit's brain by the brain change it measures
#: (pbvc._WindowCarrier); the visit volumes are linear in that change, evaluated at 0 and at
#: this probe change (fraction; -1 %, the size of one to a few years of MS atrophy, De Stefano
#: et al., Neurology 2010: -0.5 to -1.3 %/year) and solved for the consistent change.
PBVC_WINDOW_PROBE = -0.01
#: Refits of the differential bias on the follow-up warped onto the baseline (pbvc.warped_onto).
#: Near edges the log ratio of the visits holds the anatomical change, and a smooth polynomial
#: takes part of it: on ch2 pairs with no bias at all the first fit alone read -0.07 to -0.09 pp
#: too much atrophy (no fit: +0.01 to +0.02 pp); after one aligned refit -0.02 pp, after two
#: -0.005 / -0.014 pp (benchmarks/real_data.py). On a bias-free phantom the same first fit had
#: hidden an under-read of the measurement itself (see PBVC_SMOOTHING_MM). Refitting instead with
#: the measured change undone by a global rescaling fixed the scaled ch2 pairs but over-corrected
#: the phantom's non-uniform atrophy (+0.15 pp).
PBVC_BIAS_ALIGNED_REFITS = 2
#: Demons registration of that refit (SimpleITK FastSymmetricForcesDemonsRegistrationFilter):
#: grid spacing (mm), iterations and Gaussian regularisation of the field (SD, mm). A 6 mm
#: field follows brain contraction and ventricle growth but cannot shift single edges; at 3 mm
#: it shifted edges to mimic the residual intensity difference of the first fit, and the refit
#: kept its error (ch2 pairs -0.07 / -0.11 pp instead of -0.005 / -0.014 pp).
PBVC_DEMONS_SPACING_MM = 2.0
PBVC_DEMONS_ITERATIONS = 50
PBVC_DEMONS_SMOOTHING_MM = 6.0
#: Gaussian pre-smoothing (mm) applied identically to both halfway images before the
#: shared partial-volume model: lowers the noise that the intensity clipping would turn
#: into a bias (Leung et al., NeuroImage 2010, KN-BSI, smooth before the window). Smoothing also
#: blurs WM signal over thin cortex, where the window's clip at the GM mean then cuts the edge
#: profile and under-reads its shift: on a bias-free 1 mm phantom the change is under-read by
#: 0.08 / 0.09 / 0.14 pp at 0.3 / 0.6 / 1.0 mm; on ch2 pairs with 2 % noise 0.6 mm and 1.0 mm
#: both hold within 0.015 pp after the aligned bias refit (benchmarks/real_data.py).
PBVC_SMOOTHING_MM = 0.6
#: Differential bias correction: a polynomial of this total degree is fitted to the log
#: ratio of the two visits on edge-free brain voxels (Lewis & Fox, NeuroImage 2004 correct
#: the differential bias before BSI; scanner bias fields are smooth, 2nd-3rd order,
#: Styner et al., IEEE TMI 2000). On ch2 scaled by 0.99 with new bias and noise (2 mm),
#: degree 2 under-read the change by 23 %; degree 1 by 24 %, N4 per visit + a WM gain by
#: 31 %, a WM gain alone by 34 % with a 1.1 % scan-rescan error: its radially symmetric
#: terms absorb part of a change symmetric about the brain centre, but nothing tried did
#: better under bias (benchmarks/real_data.py).
PBVC_DIFFERENTIAL_BIAS_ORDER = 2
#: Fit the differential bias jointly with the log-intensity change that a small shift along
#: each axis and a small rescaling about the brain centre would cause (4 nuisance regressors,
#: left out of the field). Without them the polynomial's r^2 terms took part of a change
#: symmetric about the brain centre (the smooth WM trend of a real head moves with it). On ch2
#: scaled by 0.995 (truth -1.49 %, new bias and noise), 1 mm, GM+WM / BET / no mask: error
#: -0.28 / +0.08 / +0.15 pp instead of +0.37 / +0.36 / +0.42; scan-rescan -0.13 % (unchanged);
#: phantom (atrophy_accuracy.py --quick) mean 0.072 pp instead of 0.086. At 2 mm with +-40 %
#: bias: -0.02 pp instead of +0.34, scan-rescan +0.02 %. Tried and rejected (2 mm): fitting on
#: deep WM only (eroded 3-5 mm; Lewis & Fox 2004 fit on WM) removed the absorption but
#: extrapolates to the cortex (scan-rescan -0.31 %); fitting after a similarity registration
#: (scale matched) gave scan-rescan +0.30 % under +-40 % bias (benchmarks/real_data.py).
PBVC_BIAS_ANATOMY_REGRESSORS = True
#: Edge-free voxels: gradient of the (1 mm smoothed) mean image below this fraction of
#: the brain intensity range (5th-95th percentile) per voxel; tissue edges blurred over
#: ~2 voxels have ~0.5, noise ~0.05 (phantom, sphere tests).
PBVC_BIAS_MAX_GRADIENT = 0.15
#: The noise of the visit difference is measured on WM voxels farther than this (mm)
#: from the brain-mask edge.
PBVC_NOISE_EROSION_MM = 3.0
#: At most this many edge-free voxels enter the least-squares fit (seeded subsample).
PBVC_BIAS_MAX_SAMPLES = 200000
#: Apply the self-calibration factor to the PBVC? SIENA does. Not applied by default. With the
#: whole measurement window carried with each brain (PBVC_WINDOW_PROBE), a known rescaling of the
#: baseline is measured exactly: the factor is 1.000-1.005 on ch2 pairs (right in sign and size).
#: It checks the measurement's own arithmetic but cannot see what makes real pairs differ from a
#: rescaled copy (differential bias, noise, interpolation), so applying it cannot correct those;
#: it is reported as a self-check, and a factor outside PBVC_CALIBRATION_BOUNDS flags a failure.
PBVC_APPLY_CALIBRATION = False
#: SIENA-like self-calibration: the baseline halfway image is rescaled about the brain
#: centroid by this linear factor (known volume change factor**3 - 1) and the change is
#: re-measured (Smith et al., NeuroImage 2002, section "self-calibration").
PBVC_CALIBRATION_SCALE = 1.005
#: The self-calibration is applied only when its factor is within these bounds; outside
#: them it is reported with a warning and not applied.
PBVC_CALIBRATION_BOUNDS = (0.8, 1.25)
#: Edge-displacement map: voxels whose brain-fraction gradient is below this (1/mm)
#: are not edge voxels and get displacement 0.
PBVC_MIN_EDGE_GRADIENT = 0.05

#: Benchmark targets (issue 6): mean |PBVC error| (percentage points), scan-rescan |PBVC| (%),
#: tissue volume error (%), BPF error, seconds per PBVC on a 1 mm brain.
TARGET_PBVC_MEAN_ABS_ERROR = 0.2
AIM_PBVC_MEAN_ABS_ERROR = 0.1
TARGET_RESCAN_ABS_PBVC = 0.15
TARGET_TISSUE_ERROR_PERCENT = 5.0
TARGET_BPF_ERROR = 0.01
TARGET_PBVC_SECONDS = 120.0

#: Wording of the two meanings of regional change, written in every output.
CHANGE_WITHIN_FIXED_REGION = "within a fixed region"
CHANGE_OF_BASELINE_TISSUE = "of the baseline tissue"
