"""Defaults of the rim-lesion part: paramagnetic rim scoring, central vein sign, ratings, agreement.

Each value is named once here with its source. "[verify]" marks a value recalled from
the literature whose exact wording should be checked against the paper.
"""

# --- Paramagnetic rim lesions (PRL) -------------------------------------------------

#: A PRL has a paramagnetic rim over at least 2/3 of the lesion edge, seen on at least 2
#: consecutive slices (NAIMS consensus: Bagnato et al., "Imaging chronic active lesions in
#: multiple sclerosis: a consensus statement", Brain 2024; the 2/3 criterion follows Absinta et
#: al., J Clin Invest 2016). The flag compares the CALIBRATED whole-edge coverage
#: (``rim_coverage``) with exactly 2/3.
PRL_MIN_EDGE_COVERAGE = 2.0 / 3.0
#: Name used by the cohort report for the same threshold (rim_coverage axis line).
PRL_MIN_COVERAGE = PRL_MIN_EDGE_COVERAGE

#: Calibration of the measured whole-edge coverage (slice sectors weighted by lesion surface)
#: to the true fraction of the edge: piecewise linear, knots (measured, true). The raw measurement
#: of 1 mm rims reads 0.02-0.05 high (a sector cut by the rim's end counts when its upper quartile
#: clears the thresholds); the knots remove that. Source: ``python benchmarks/rims_calibration.py --fit``
#: (design choice by measurement): mean raw coverage of synthetic spherical caps of known area
#: fraction (random axes, radius 3.5-8 mm, 1 mm thick rims - rims are 1-2 voxels of 0.65 mm,
#: Absinta et al., JCI 2016 - of +25..40 ppb lying across, just inside or just outside the drawn
#: boundary in equal numbers, partial volume, noise 3 ppb), pooled over voxel sizes 0.6, 0.8, 1,
#: 1.25, 1.5 mm and 1 x 1 x 2 mm, on training seeds disjoint from the benchmark's.
RIM_COVERAGE_CALIBRATION = (
    (0.000, 0.300, 0.435, 0.531, 0.580, 0.628, 0.696, 0.744, 0.772, 0.912, 1.000),
    (0.0, 0.25, 0.4, 0.5, 0.55, 0.6, 0.67, 0.72, 0.75, 0.9, 1.0),
)

#: The rim must be seen on at least 2 consecutive slices (Bagnato et al., Brain 2024) ...
PRL_MIN_CONSECUTIVE_SLICES = 2
#: ... a slice "shows the rim" when at least this fraction of its edge sectors is paramagnetic.
#: Lower than 2/3 because a rim covering 2/3 of a lesion's surface covers less than 2/3 of
#: the in-slice edge in the equatorial slices when the rim's axis lies in the slice plane
#: (a 0.7 cap: 0.63); design choice.
PRL_MIN_SLICE_COVERAGE = 0.5

#: Enhancing lesions are excluded from PRL rating: an acute lesion can show a transient
#: paramagnetic rim (Absinta et al., Ann Neurol 2016; Bagnato et al., Brain 2024).
PRL_EXCLUDE_ENHANCING = True

#: Edge band sampled for the rim, as in-slice distance (mm) from the lesion boundary:
#: up to this far INSIDE the lesion label ...
EDGE_BAND_INNER_MM = 1.0
#: ... and up to this far OUTSIDE it. Rims sit at the lesion edge and are ~1-2 voxels of
#: 0.65 mm thick at 3 T/7 T (Absinta et al., J Clin Invest 2016; Dal-Bianco et al., Acta
#: Neuropathol 2017); 2 mm outside absorbs lesion masks that are one voxel off.
EDGE_BAND_OUTER_MM = 2.0

#: Reference "normal-appearing white matter" ring around each lesion (in-slice mm from the
#: boundary), beyond the edge band; the rim is judged against this surrounding tissue as
#: a reader compares the rim with the adjacent white matter (Absinta et al., JCI 2016).
REFERENCE_RING_INNER_MM = 3.0
REFERENCE_RING_OUTER_MM = 6.0

#: Number of angular sectors of the edge in each axial slice (45 degrees each). Coverage is
#: the fraction of sectors that are paramagnetic. Design choice, measured on training seeds
#: (benchmarks/rims_calibration.py --sweep): with 12 sectors a 1 mm rim at 1.5 mm voxels leaves
#: one or two voxels per sector; the gap between 0.55 and 0.72 rims, in SDs of their coverage,
#: was 4.5 (1.5 mm) and 4.0 (1 x 1 x 2 mm) with 12 sectors, 5.8 and 4.7 with 8 sectors at 3 turns,
#: and 6.4 and 6.4 with RIM_RELATIVE_THRESHOLD and RIM_LAYER_QUANTILE as well.
ANGULAR_SECTORS = 8
#: The sector grid is laid at this many rotations (0, 1/3 and 2/3 of a sector) and the
#: slice coverages averaged, so a rim's end is not rounded to a whole sector (design choice,
#: same measurement).
SECTOR_TURNS = 3

#: A slice is assessable only if at least this fraction of its sectors holds band voxels.
MIN_SECTOR_FRACTION = 0.75

#: A sector is paramagnetic when its value exceeds the baseline (max of NAWM ring and lesion
#: core medians) by this many robust standard deviations (1.4826 x MAD) of the ring ...
#: (design choice, checked on synthetic rims and the phantom, benchmarks/rims_accuracy.py)
RIM_Z_THRESHOLD = 1.0
#: ... and by at least this much in QSM (ppb). Rims are roughly +10 to +40 ppb above NAWM
#: (Dimov et al., AJNR 2022; Absinta et al., JCI 2016); 5 ppb is below that range.
RIM_MIN_CONTRAST_PPB = 5.0
#: ... or, on SWI magnitude (relative darkening), by this fraction of the reference: rims are
#: ~10-30 % darker than white matter on SWI at 3 T (phase mask and R2*; Haacke et al., AJNR
#: 2009); 3 % is well below that (design choice).
RIM_MIN_CONTRAST_SWI = 0.03
#: ... and by this fraction of the lesion's own rim peak (the RIM_PEAK_QUANTILE quantile of its
#: sector excesses): a rim ends where its signal falls below 40 % of its peak, as an edge is
#: placed at a fraction of a profile's maximum (full width at half maximum), so a bright rim and
#: a faint one over the same arc read alike (rims range ~10-40 ppb, Dimov et al., AJNR 2022).
#: Design choice on training seeds (benchmarks/rims_calibration.py --sweep; see ANGULAR_SECTORS).
RIM_RELATIVE_THRESHOLD = 0.4
#: A sector layer's level is this quantile of its voxels, not their mean: a rim 1-2 voxels thick
#: fills only part of the band (EDGE_BAND_OUTER_MM outside), and a mean dilutes it by the band's
#: width (design choice on training seeds, benchmarks/rims_calibration.py --sweep).
RIM_LAYER_QUANTILE = 0.75
#: Quantile of a lesion's sector excesses taken as its rim peak: inside the rim for any rim
#: over more than 1/5 of the edge, and robust to a single bright sector (design choice).
RIM_PEAK_QUANTILE = 0.8
#: On SWI magnitude the inner edge layer (inside the lesion label) is compared with the lesion's
#: own core, the outer layer with the surrounding white matter: chronic lesions are
#: T2*-hyperintense (demyelination and iron loss lower R2*; Yao et al., NeuroImage 2012) and a
#: PRL shows as a hypointense rim around that brighter core (Absinta et al., J Clin Invest 2016;
#: Bagnato et al., Brain 2024). Against white matter alone, a rim that only brings the lesion edge
#: back to white-matter darkness would be missed.
SWI_INNER_AGAINST_CORE = True

#: Band voxels brighter than the baseline by more than this are taken as veins and ignored:
#: veins at the lesion edge are the main false positive of PRL reading (Bagnato et al., Brain
#: 2024). Venous blood is ~ +450 ppb (Wang & Liu, MRM 2015; partial volume lowers it); rims
#: are <= ~40 ppb, so 100 ppb separates them (design choice).
VEIN_MIN_CONTRAST_PPB = 100.0
#: The same on SWI (relative darkening): veins are near-black on SWI (> 50 % darker), rims
#: 10-30 % (design choice).
VEIN_MIN_CONTRAST_SWI = 0.5

#: White-matter labels of the FreeSurfer aseg (FreeSurferColorLUT.txt): cerebral WM 2/41,
#: cerebellar WM 7/46, brain stem 16, WM hypointensities 77/78/79, corpus callosum 251-255.
#: With an aseg, the reference ring and outer edge band are restricted to these (plus lesions).
ASEG_WHITE_MATTER_LABELS = (2, 41, 7, 46, 16, 77, 78, 79, 251, 252, 253, 254, 255)

#: Phase is scored by inverting it locally to susceptibility (rims.phase): truncated k-space
#: division with this kernel threshold (Shmueli et al., MRM 2009 use 2/3; Wharton et al., MRM
#: 2010 ~0.19; 0.2 chosen on the phantom, benchmarks/rims_accuracy.py) ...
PHASE_TKD_THRESHOLD = 0.2
#: On the susceptibility inverted from phase a sector is paramagnetic above this many robust SDs
#: of the ring. Chosen on phantom TRAINING seeds 0-2 (1 mm) and 0-5 (2 mm) with the current sector
#: settings and RIM_COVERAGE_CALIBRATION: the value of 1.0, 1.2, 1.4, 1.6 with the best sum of
#: sensitivity + specificity there (1.2: 1.000 / 0.944 at 1 mm, 1.000 / 1.000 at 2 mm; 1.0 gives
#: specificity 0.903 at 1 mm, 1.4 and 1.6 lose rims at 2 mm); benchmarks/rims_accuracy.py checks it
#: on other seeds.
PHASE_Z_THRESHOLD = 1.2
#: ... with this much zero padding (voxels per side) against wrap-around of the dipole field.
PHASE_PAD_VOXELS = 16
#: What the output says of PRL calls made on phase: they hold on the phantom (benchmarks/rims_accuracy.py)
#: but not on rim lesions drawn into a real head's white matter (benchmarks/rims_real_head.py: a
#: fifth to a quarter of lesions with rims over <= 0.55 of the edge, and 2 of 8 without a rim, are called:
#: paramagnetic lesion cores; judging against the core too, use_core=True, trades this for phantom sensitivity).
PHASE_CAVEAT = ("PRL calls on filtered phase are candidates for rating, not results: on a real-head simulation "
                "(benchmarks/rims_real_head.py) many lesions with partial or no rims were called; QSM is "
                "more specific")
#: Field strength (T) and echo time (ms) of a phase image when its sidecar does not give them
#: (3 T, TE ~ 20 ms: a typical 3 T segmented-EPI / GRE rim protocol; Absinta et al., JCI 2016).
DEFAULT_B0_TESLA = 3.0
DEFAULT_TE_MS = 20.0
#: Proton gyromagnetic ratio, rad/s/T (CODATA 2018: 2 pi x 42.577478518 MHz/T).
GAMMA_RAD_PER_S_PER_T = 2.0 * 3.141592653589793 * 42.577478518e6

#: Sign convention of phase images: phase = PHASE_SIGN * gamma * dB * TE, so that
#: PHASE_SIGN * phase > 0 for a paramagnetic source. Vendors differ (Siemens and GE
#: differ in handedness; Haacke et al., AJNR 2009, SWI review) - always check.
DEFAULT_PHASE_SIGN = 1

#: Without a brain mask, phase voxels are valid where the phase is locally coherent: the
#: magnitude of the mean of exp(i phase) over a 3 x 3 x 3 neighbourhood is at least this (noise
#: outside the head gives ~0.2, brain > 0.8 after high-pass filtering; design choice).
PHASE_COHERENCE_MIN = 0.5
#: ... eroded by this many voxels before keeping the largest component, so that thin coherent
#: bridges across the skull do not join the scalp to the brain (design choice).
PHASE_MASK_EROSION_VOXELS = 3

# --- Central vein sign (CVS) ---------------------------------------------------------

#: Gaussian scales (mm) of the multi-scale Hessian vesselness (Frangi et al., MICCAI 1998).
#: Veins counted for the CVS are < 2 mm across (Sati et al., Nat Rev Neurol 2016), so the
#: scales stop at ~ half that diameter.
CVS_SIGMAS_MM = (0.5, 0.75, 1.0)
#: Frangi parameters alpha, beta (plate/blob suppression; Frangi et al. 1998 use 0.5, 0.5)
CVS_FRANGI_ALPHA = 0.5
CVS_FRANGI_BETA = 0.5
#: ... and gamma (structureness), on intensities normalised to the lesion-region median = 1.
#: Design choice, checked on synthetic veins (Testing/Python/test_rims_cvs.py).
CVS_FRANGI_GAMMA = 0.05
#: A voxel is vein when its Frangi vesselness (0..1, unscaled) is at least this (design choice,
#: checked on synthetic veins and the phantom).
CVS_VESSELNESS_THRESHOLD = 0.25
#: Hysteresis: vein voxels extend down to this fraction of the threshold when connected to
#: voxels above it (Canny-style hysteresis; design choice).
CVS_HYSTERESIS_FRACTION = 0.4
#: Vein voxels must be at least this fraction darker than the lesion median on T2*/SWI (veins are
#: hypointense: deoxyhaemoglobin; Sati et al., 2016). 10 % is well above noise (SNR ~ 40) and
#: well below vein contrast (design choice).
CVS_MIN_VEIN_CONTRAST = 0.10
#: A vein must run at least this long (mm) through the lesion (plus margin) to count, i.e.
#: be seen over several slices / in two perpendicular planes (Sati et al., 2016).
CVS_MIN_VEIN_LENGTH_MM = 2.0
#: Margin (mm) around the lesion in which vein voxels still belong to it ("runs partially or
#: entirely through the lesion", Sati et al., 2016).
CVS_LESION_MARGIN_MM = 1.0
#: The vein is central if the distance from the lesion centroid to the vein axis is at most
#: this fraction of the lesion's equivalent-sphere radius ("positioned centrally ...
#: approximately equidistant from the lesion edges", Sati et al., 2016; fraction is a
#: design choice).
CVS_MAX_ECCENTRICITY = 0.5
#: Lesions smaller than 3 mm in any plane are excluded (Sati et al., Nat Rev Neurol 2016).
CVS_MIN_LESION_DIAMETER_MM = 3.0
#: Confluent lesions (NAIMS 2016 exclusion): a label whose shape splits into at least two lobes
#: under the lesion split tool's distance-transform watershed, with the split tool's h-maxima
#: prominence (mm), one number for both (defaults.lesions.SPLIT_H_MM).
from .lesions import SPLIT_H_MM as CVS_CONFLUENT_H_MM  # noqa: E402
#: ... in 3D, or on each slice alone (a reader judges confluence slice by slice) when the
#: lobes persist on at least this many consecutive slices of one plane (like the NAIMS ">= 2
#: consecutive slices" used for rims; design choice).
CVS_CONFLUENT_MIN_SLICES = 2
#: ... in the slices across these array axes ([k, j, i]: axial, coronal and sagittal on an axially
#: acquired grid). NAIMS 2016 reads lesions in perpendicular planes (the vein must show in two);
#: a partner joined over a broad face can show two lobes only in a plane across the join. A 2D
#: grid (defaults.lesions.LONG_AXIS_SLICE_ANISOTROPY) is read on its acquired slices only.
#: Measured with ``python benchmarks/rims_calibration.py --confluence`` on the training seeds
#: named below: axial only finds 10/12 pairs with 5/156 single labels split, all three planes
#: 11/12 with 8/156.
CVS_CONFLUENT_AXES = (0, 1, 2)
#: ... or when, in 3D, a part of the label joins the rest through a neck whose half-width is at
#: most this fraction of the part's own inscribed radius (distance-transform saddle / smaller
#: peak, rims.cvs.lobe_necks): a waist, even where the part is too small to stand h = 1 mm above
#: the neck. Measured calibration, ``python benchmarks/rims_calibration.py --confluence`` on
#: phantom seeds 0-5 (2 mm) and 0-2 (1 mm), disjoint from benchmarks/rims_accuracy.py's: the
#: largest ratio that adds no false exclusion there (0.75 adds 3 of 156 single lesions;
#: benchmarks/results/rims_calibration_confluence.txt).
CVS_CONFLUENT_NECK_RATIO = 0.7

#: Subject-level 40 % rule: MS-consistent when >= 40 % of eligible lesions are CVS+
#: (Tallantyre et al., Neurology 2011; Sati et al., Nat Rev Neurol 2016).
CVS_FRACTION_RULE = 0.40
#: Select-3* (Solomon et al., "Diagnostic performance of central vein sign for multiple
#: sclerosis with a simplified three-lesion algorithm", Mult Scler 2018;24(6):750-757,
#: doi:10.1177/1352458517726383): the scan is searched for up to three CVS+ lesions and is
#: MS-consistent when three are found (their "select3" instead rates three lesions pre-selected
#: on FLAIR; that is NOT what is implemented). Automatically: >= 3 CVS+ lesions.
CVS_SELECT3 = 3
#: Select-6* (Daboul et al., "A multicenter pilot study evaluating simplified central vein
#: assessment for the diagnosis of multiple sclerosis", Mult Scler 2024;30(1):25-34,
#: doi:10.1177/13524585231214360, PMID 38088067): raters identify up to six CVS+ lesions; the
#: scan is MS-consistent when six are found. Automatically: >= 6 CVS+ lesions.
CVS_SELECT6 = 6
#: Exclusion reasons used by the automatic CVS and offered to raters (NAIMS 2016 exclusions
#: plus the eccentric/artifact codes of the CVS_rater workflow).
CVS_EXCLUSION_REASONS = ("small", "confluent", "multiple_veins", "poorly_visible", "artifact", "other")

# --- Enhancement: one definition for the whole project, mspathobiology.lesions.enhancing
#: (thresholds in defaults/lesions.py); enhancing lesions are excluded from PRL (above).

# --- Ratings --------------------------------------------------------------------------

#: Label sets. PRL: NAIMS rating (Bagnato et al., 2024) with "indeterminate" for unsure
#: lesions. CVS: NAIMS 2016 (Sati et al.) positive / negative / excluded (with a reason).
PRL_LABELS = ("PRL", "not_PRL", "indeterminate")
CVS_LABELS = ("CVS+", "CVS-", "excluded")
#: SEL candidates (mspathobiology.sel): the expert confirms, rejects or is unsure of each automatic
#: candidate, as the Jacobian-based detections of Elliott et al. (Brain 2019) are reviewed against
#: the images; "unsure" plays the role of PRL's "indeterminate". Stored by the same rating store.
SEL_LABELS = ("confirmed", "rejected", "unsure")
#: Confidence on a 1-5 Likert scale (1 = guess, 5 = certain).
CONFIDENCE_MIN = 1
CONFIDENCE_MAX = 5
#: Seed of the random (blinded) lesion order when the caller gives none.
DEFAULT_ORDER_SEED = 0

# --- Agreement ------------------------------------------------------------------------

#: ICC form for per-subject PRL counts: ICC(2,1), two-way random effects, absolute
#: agreement, single rater (Shrout & Fleiss, Psychol Bull 1979, Case 2), because the raters
#: are taken as a sample of possible raters and their counts should agree in value.
DEFAULT_ICC_FORM = "ICC(2,1)"
