"""Numbers of the digital MS phantom (:mod:`mspathobiology.phantom`).

Anatomy sizes are in mm in a head frame (RAS: x right, y anterior, z superior,
origin near the centre of the brain). Adult brain dimensions follow standard
neuroanatomy atlases (Duvernoy, "The Human Brain", 1999; Talairach & Tournoux 1988)
scaled to a slightly small adult head so that the head fits a 160 x 192 x 160 mm
field of view. Tissue contrasts are relative to white matter (WM = 1).
"""

# ---------------------------------------------------------------- grid
#: Full case: 1 mm isotropic, 160 x 192 x 160 voxels (i = R-L, j = A-P, k = S-I), as issue 3 requires.
FULL_SHAPE_IJK = (160, 192, 160)
FULL_SPACING_MM = 1.0
#: Small case (unit tests): the same field of view at 2 mm (80 x 96 x 80 voxels).
SMALL_SHAPE_IJK = (80, 96, 80)
SMALL_SPACING_MM = 2.0
#: Voxel (0,0,0) RAS offset so that the grid centre is not exactly at RAS 0 (as on scanners), mm.
GRID_CENTRE_RAS_MM = (0.5, -8.0, 4.0)

# ---------------------------------------------------------------- anatomy (head frame, mm)
#: Cerebral hull (outer cortical surface envelope) centre and semi-axes. A 124 x 160 x 112 mm
#: cerebrum (adult range 130-150 x 160-180 x 110-130 mm; Duvernoy 1999), slightly small.
CEREBRUM_CENTRE_MM = (0.0, -2.0, 8.0)
CEREBRUM_SEMI_AXES_MM = (62.0, 80.0, 56.0)
#: Per-subject random scaling of all structure sizes (uniform +- this fraction).
SIZE_VARIATION = 0.04
#: Cerebellum ellipsoid (about 100 x 52 x 38 mm; Duvernoy 1999).
CEREBELLUM_CENTRE_MM = (0.0, -50.0, -32.0)
CEREBELLUM_SEMI_AXES_MM = (50.0, 26.0, 19.0)
#: Brainstem ellipsoid (midbrain to medulla, about 24 mm across).
BRAINSTEM_CENTRE_MM = (0.0, -22.0, -30.0)
BRAINSTEM_SEMI_AXES_MM = (11.0, 12.0, 36.0)
#: Brainstem label below this z; above it the ellipsoid is diencephalon (cerebral WM).
BRAINSTEM_TOP_Z_MM = -6.0
#: Foramen magnum plane: brain (and ICV) end here; the cord below is labelled 0.
BRAIN_CUT_Z_MM = -64.0
#: The cut plane is tilted (z rises this much per mm towards anterior) so that no brain boundary is
#: parallel to a grid plane (grid-aligned boundaries make voxel counts jump under sub-voxel motion).
BRAIN_CUT_SLOPE = 0.25
#: Mid-sagittal surface x = bend * sin(y / scale) + tilt * z (mm), for the same reason.
MIDLINE_BEND_MM = 1.5
MIDLINE_BEND_SCALE_MM = 25.0
MIDLINE_TILT = 0.04
#: Spinal canal (CSF) and cord radii below the cut, mm.
CANAL_RADIUS_MM = 9.0
CORD_RADIUS_MM = 5.5
#: CSF gap between brain hull and inner skull (subarachnoid space), mm.
EXTERNAL_CSF_MM = 2.5
#: Skull and scalp thickness, mm (typical 5-7 mm each).
SKULL_MM = 5.0
SCALP_MM = 5.0
#: Half-width of the interhemispheric fissure, mm.
FISSURE_HALF_WIDTH_MM = 1.0
#: Corpus callosum: the fissure stops at z = CC_TOP_Z_MM + CC_ARCH_MM * (y / CC_HALF_LENGTH_MM)^2
#: for |y| < CC_HALF_LENGTH_MM (callosum about 75 mm long).
CC_TOP_Z_MM = 30.0
CC_ARCH_MM = 8.0
CC_HALF_LENGTH_MM = 38.0
#: Gap between cerebrum and cerebellum (tentorium cerebelli with CSF), mm.
TENTORIUM_GAP_MM = 2.0
#: Cortical folding: sulcal depth, cortical thickness (2.5 mm mean; Fischl & Dale, PNAS 2000),
#: spacing of the sulci of one family, half-width of a sulcus at the surface, number of families
#: (three families give sulci about 10-15 mm apart; sulcal depth about 10 mm, Van Essen 2005).
SULCAL_DEPTH_MM = 17.0
CORTICAL_THICKNESS_MM = 2.7
GYRAL_PERIOD_MM = 22.0
SULCAL_HALF_WIDTH_MM = 1.5
SULCAL_FAMILIES = 3
#: Second, faster bend of every sulcal sheet (phase amplitude rad, frequency relative to the gyral
#: wavenumber): curved sulci, and no flat sheet that would alias coherently with the voxel grid.
SULCAL_WIGGLE_RAD = 1.2
SULCAL_WIGGLE_FREQUENCY = 1.7
#: Cerebellar folia: depth, cortical thickness, period (folia are a few mm wide).
CEREBELLAR_FOLIA_DEPTH_MM = 10.0
CEREBELLAR_FOLIA_HALF_WIDTH_MM = 1.0
CEREBELLAR_CORTEX_MM = 1.6
CEREBELLAR_FOLIA_PERIOD_MM = 8.0
#: Axis the folia fan around: roughly left-right but oblique to every grid axis.
CEREBELLAR_FOLIA_AXIS = (1.0, 0.35, 0.25)
#: Per-subject ventricle size factor (MS ventricles are often enlarged) and sulcal depth factor.
VENTRICLE_SCALE_RANGE = (0.9, 1.4)
SULCAL_DEPTH_VARIATION = (0.8, 1.2)
#: Slow bend of every sulcal sheet: phase amplitude range (rad) and frequency relative to the gyral one.
SULCAL_BEND_RAD = (1.0, 2.0)
SULCAL_BEND_FREQUENCY = 0.6
#: Neck (soft tissue below the skull) radius and how far above the foramen magnum it starts, mm.
NECK_RADIUS_MM = 45.0
NECK_TOP_ABOVE_CUT_MM = 20.0
#: Folia are counted along the arc at this fraction of the cerebellum's antero-posterior semi-axis.
CEREBELLAR_FOLIA_RADIUS = 0.8
#: Lateral ventricles (each about 6-8 mL in MS patients), bent: z' = z - bend * (y / half-length)^2.
VENTRICLE_CENTRE_MM = (6.5, -4.0, 14.0)
VENTRICLE_SEMI_AXES_MM = (5.5, 30.0, 9.0)
VENTRICLE_BEND_MM = 10.0
#: Deep grey matter (left centre; right mirrored), semi-axes in mm.
THALAMUS_CENTRE_MM = (9.0, -14.0, 2.0)
THALAMUS_SEMI_AXES_MM = (7.0, 13.0, 8.0)
CAUDATE_CENTRE_MM = (13.0, 8.0, 12.0)
CAUDATE_SEMI_AXES_MM = (4.5, 14.0, 7.0)
PUTAMEN_CENTRE_MM = (24.0, 4.0, 2.0)
PUTAMEN_SEMI_AXES_MM = (5.0, 13.0, 9.0)
#: Medial temporal lobe (left centre; right mirrored), semi-axes mm: hippocampus (about 35-40 mm
#: long, centre near MNI (+-26, -22, -12)), the amygdala in front of it, and the temporal (inferior)
#: horn of the lateral ventricle above and lateral to the hippocampus (Duvernoy, "The Human
#: Hippocampus", 2005). Grey matter (cortex contrast) and ventricle tissue; their own aseg labels
#: (17/53, 18/54, 5/44) are what the lesion location rule reads (issue 12).
HIPPOCAMPUS_CENTRE_MM = (26.0, -22.0, -12.0)
HIPPOCAMPUS_SEMI_AXES_MM = (5.0, 17.0, 5.0)
AMYGDALA_CENTRE_MM = (22.0, 0.0, -16.0)
AMYGDALA_SEMI_AXES_MM = (6.0, 7.0, 6.0)
TEMPORAL_HORN_CENTRE_MM = (31.0, -16.0, -6.5)
TEMPORAL_HORN_SEMI_AXES_MM = (2.5, 14.0, 2.5)
#: Choroid plexus (aseg 31/63) in each lateral ventricle's atrium: centre this fraction of the
#: ventricle's half-length behind the ventricle centre, semi-axes mm; ventricle contrast.
CHOROID_PLEXUS_OFFSET = 0.6
CHOROID_PLEXUS_SEMI_AXES_MM = (2.5, 7.0, 2.5)
#: Fourth ventricle (aseg 15) between the pons and the cerebellum, midline, semi-axes mm.
FOURTH_VENTRICLE_CENTRE_MM = (0.0, -35.0, -30.0)
FOURTH_VENTRICLE_SEMI_AXES_MM = (6.0, 3.0, 8.0)

# ---------------------------------------------------------------- labels
#: FreeSurfer aseg values (FreeSurferColorLUT.txt).
ASEG = {
    "Left-Cerebral-White-Matter": 2, "Left-Cerebral-Cortex": 3, "Left-Lateral-Ventricle": 4,
    "Left-Cerebellum-White-Matter": 7, "Left-Cerebellum-Cortex": 8, "Left-Thalamus": 10,
    "Left-Caudate": 11, "Left-Putamen": 12, "Brain-Stem": 16, "CSF": 24,
    "Right-Cerebral-White-Matter": 41, "Right-Cerebral-Cortex": 42, "Right-Lateral-Ventricle": 43,
    "Right-Cerebellum-White-Matter": 46, "Right-Cerebellum-Cortex": 47, "Right-Thalamus": 49,
    "Right-Caudate": 50, "Right-Putamen": 51, "WM-hypointensities": 77,
    "Left-Inf-Lat-Vent": 5, "4th-Ventricle": 15, "Left-Hippocampus": 17, "Left-Amygdala": 18,
    "Left-choroid-plexus": 31, "Right-Inf-Lat-Vent": 44, "Right-Hippocampus": 53, "Right-Amygdala": 54,
    "Right-choroid-plexus": 63,
}
GM_LABELS = (3, 42, 8, 47, 10, 49, 11, 50, 12, 51, 17, 53, 18, 54)
WM_LABELS = (2, 41, 7, 46, 16, 77)
#: The phantom's choroid plexus has ventricle contrast, so it counts as CSF here.
CSF_LABELS = (4, 43, 24, 5, 44, 31, 63, 15)
DEEP_GM_LABELS = (10, 49, 11, 50, 12, 51)
THALAMUS_LABELS = (10, 49)
#: Label sets of the phantom's own location truth (phantom.lesions.classify), written from
#: FreeSurferColorLUT independently of mspathobiology.lesions.locations: lateral ventricles with
#: their temporal horns and choroid plexus; cerebral cortex with hippocampus and amygdala
#: (LST-AI's cortex class); cerebellum, brainstem and 4th ventricle. ``PARCEL_CORTEX_LABELS``:
#: the neocortex that the cortical parcellation divides.
VENTRICLE_LABELS = (4, 43, 5, 44, 31, 63)
CORTEX_LABELS = (3, 42, 17, 53, 18, 54)
INFRATENTORIAL_LABELS = (7, 8, 16, 46, 47, 15)
PARCEL_CORTEX_LABELS = (3, 42)
#: Cortical parcels per hemisphere: antero-posterior bins x bins of the angle in the coronal plane
#: (equal-count bins); lh values 1001.., rh 2001.. (FreeSurfer ctx-lh/ctx-rh ranges).
PARCELS_AP = 8
PARCELS_CORONAL = 5
SUBCORTICAL_PARCEL_LABELS = (10, 11, 12, 49, 50, 51, 16, 8, 47)

#: Brain volume of a visit: subsamples per axis in each boundary-band voxel, and points per batch
#: (memory bound). 3^3 subsamples bring the volume noise under sub-voxel motion to about 0.01 %.
SUPERSAMPLING = 3
SUPERSAMPLING_BAND = 2
SUPERSAMPLING_CHUNK = 1_500_000

# ---------------------------------------------------------------- lesions
#: Lesions per case by location class (full, small).
LESION_COUNTS_FULL = {"periventricular": 8, "juxtacortical": 5, "deep_white_matter": 7,
                      "infratentorial": 3, "cortical": 3}
LESION_COUNTS_SMALL = {"periventricular": 4, "juxtacortical": 3, "deep_white_matter": 4,
                       "infratentorial": 2, "cortical": 2}
#: Lesion volume: log-uniform between these (3 mm^3, the MSSEG minimum, to several mL).
LESION_VOLUME_RANGE_MM3 = (3.0, 4000.0)
#: Number of lesions forced large (>= 1 mL) so that rims and several-mL lesions occur.
LARGE_LESION_VOLUME_RANGE_MM3 = (800.0, 5000.0)
#: Axis ratio range of ellipsoids; irregular shapes get a radial perturbation of this amplitude.
LESION_AXIS_RATIO = (1.0, 2.2)
LESION_IRREGULARITY = 0.3
#: Fraction of lesions that are irregular, and number of confluent pairs (full, small).
IRREGULAR_FRACTION = 0.5
CONFLUENT_PAIRS_FULL = 2
CONFLUENT_PAIRS_SMALL = 1
#: Minimum gap between distinct (non-confluent) lesions, in voxels.
LESION_GAP_VOXELS = 2
#: A lesion is "cortical" when at least this fraction of its voxels lie in cortex.
CORTICAL_FRACTION = 0.5
#: Lesion-centre candidates per class: distances (mm) to ventricles, cortex, non-WM tissue.
PLACEMENT_DISTANCES_MM = {"periventricular_max": 4.0, "juxtacortical_max": 3.0, "far_ventricle": 15.0,
                          "cortical_wm_max": 2.5, "infratentorial_depth": 2.5, "deep_nonwm": 5.0,
                          "deep_ventricle": 5.0, "deep_cortex": 7.0}
#: Volume of a confluent partner relative to its host.
CONFLUENT_VOLUME_RATIO = (0.3, 0.8)
#: Placement attempts per lesion before giving up.
PLACEMENT_ATTEMPTS = 60
#: Rims: susceptibility increment (NAIMS: +10 to +40 ppb; Bagnato et al., Brain 2024),
#: solid-angle fraction of the edge covered for each class, counts (full, small).
RIM_DELTA_CHI_PPB = (25.0, 40.0)
RIM_CAP_FRACTION = {"full": 1.0, "two_thirds": 0.7, "partial": 0.25}
RIM_COUNTS_FULL = {"full": 2, "two_thirds": 2, "partial": 2}
RIM_COUNTS_SMALL = {"full": 1, "two_thirds": 1, "partial": 1}
#: Fractions of the edge covered by the rims (issue 12: both sides of the NAIMS 2/3). The rim
#: lesions of each class (counts above; ``rim_class`` named from the fraction: 1 full, >= 2/3
#: two_thirds, else partial) take that class's fractions in turn from a random start. The cap holds exactly this fraction of the lesion's edge voxels.
RIM_FRACTIONS = (0.4, 0.5, 0.6, 0.67, 0.75, 0.9, 1.0)
#: Fraction of rim lesions that also enhance (ring enhancement) at baseline: a paramagnetic rim
#: is also seen in acute enhancing lesions (Absinta et al., J Clin Invest 2016), which the NAIMS
#: definition excludes from PRL (Bagnato et al., Brain 2024).
RIM_ENHANCING_FRACTION = 0.2
#: Large lesions planned beyond the number of rims, so every rim class finds a host with a core.
EXTRA_RIM_HOSTS = 3
#: Rims only on lesions at least this large (edge must surround a core), mm^3.
RIM_MIN_VOLUME_MM3 = 150.0
#: ... and with a core (lesion minus its edge) of at least this many voxels and this fraction of the
#: lesion, so that the core median is a reference the rim can be measured against.
RIM_MIN_CORE_VOXELS = 8
RIM_MIN_CORE_FRACTION = 0.25
#: Rim coverage threshold: an edge voxel is rim when its QSM exceeds the median of the lesion core
#: by this much (half the smallest rim increment).
RIM_COVERAGE_THRESHOLD_PPB = 12.0
#: Central vein: fraction of lesions, radius mm (NAIMS 2016: < 2 mm across), susceptibility ppb
#: (venous blood about 450 ppb; Wang & Liu, MRM 2015).
CENTRAL_VEIN_FRACTION = 0.4
CENTRAL_VEIN_MIN_VOLUME_MM3 = 20.0
CENTRAL_VEIN_RADIUS_MM = 0.6
VEIN_CHI_PPB = 450.0
#: Vein partial-volume fractions below this are set to 0 (a vein has a crisp edge at voxel scale, so no
#: voxel carries a vein excess near the rim threshold, 0.1 x 450 ppb = 45 ppb >> 12 ppb).
VEIN_MIN_FRACTION = 0.1
#: Enhancing lesions: fraction at baseline; new lesions at follow-up always enhance.
ENHANCING_FRACTION = 0.15
#: Fraction of enhancing lesions with ring (edge) rather than nodular enhancement.
RING_ENHANCING_FRACTION = 0.4
#: Medullary veins (random straight WM veins) per case, radius mm.
MEDULLARY_VEINS = 40
MEDULLARY_VEIN_RADIUS_MM = 0.5
SINUS_RADIUS_MM = 3.0

# ---------------------------------------------------------------- follow-up
#: Brain volume change between visits, percent (MS: 0.5-1.35 %/year; issue 3 asks -0.25 .. -2 %).
PBVC_RANGE_PERCENT = (-2.0, -0.25)
#: Local ventricle expansion relative to the global contraction, and its Gaussian width, mm.
VENTRICLE_EXPANSION_FACTOR = 4.0
VENTRICLE_EXPANSION_SIGMA_MM = 12.0
#: The atrophy deformation fades out below this z (to the foramen magnum), mm.
DEFORMATION_TAPER_Z_MM = (-60.0, -35.0)
#: Fixed-point iterations inverting the deformation (|Dv| < 0.05, so the error shrinks >= 20x per step).
DEFORMATION_INVERSE_ITERATIONS = 4
#: Rigid head motion between visits: rotation sd (deg) and translation sd (mm).
MOTION_ROTATION_SD_DEG = 1.0
MOTION_TRANSLATION_SD_MM = 1.0
#: Lesion evolution at follow-up: new lesions (full, small), and fractions enlarging,
#: shrinking and resolving; enlarging/shrinking volume factors.
NEW_LESIONS_FULL = 3
NEW_LESIONS_SMALL = 2
#: Volume range of a new lesion (mm^3), within its location class's range: large enough to be
#: seen at 2 mm (2.5 voxels), small enough to stay in one location class (own choice).
NEW_LESION_VOLUME_MM3 = (20.0, 800.0)
ENLARGING_FRACTION = 0.15
SHRINKING_FRACTION = 0.1
RESOLVING_FRACTION = 0.05
ENLARGING_SCALE = (1.3, 1.5)
SHRINKING_SCALE = (0.65, 0.8)
#: Only lesions at least this large shrink (smaller ones would vanish into the voxel grid), mm^3.
SHRINKING_MIN_VOLUME_MM3 = 50.0
#: Lesions at the change definitions' edges (issue 12; thresholds in defaults.lesions):
#: relative volume growth just below and just above ENLARGING_MIN_RELATIVE_GROWTH (0.5, Moraal et
#: al. 2010), alternately; truth by the definition (stable below, enlarging above). Each jumps to
#: its size at the first follow-up. Only lesions this large (mm^3; 50 voxels at 2 mm) are used,
#: and only when their growth drawn on the baseline grid is within CHANGE_EDGE_TOLERANCE of the
#: design (not clipped by cortex or a ventricle), so that rasterisation at either visit cannot
#: move them across the threshold.
CHANGE_EDGE_GROWTH = (0.35, 0.65)
CHANGE_EDGE_LESIONS_FULL = 4
CHANGE_EDGE_LESIONS_SMALL = 2
CHANGE_EDGE_MIN_VOLUME_MM3 = 400.0
CHANGE_EDGE_TOLERANCE = 0.08
#: ... and only deep white matter lesions: a juxtacortical lesion grows around gyri into
#: several pieces, and a periventricular one against ventricles that enlarge with atrophy.
CHANGE_EDGE_LOCATIONS = ("deep_white_matter",)
#: New lesions placed this many empty voxels from a stable baseline lesion: the analysis matches
#: visits with a one-voxel tolerance (CHANGE_MATCH_TOLERANCE_VOXELS), so a new lesion must lie at
#: least 2 voxels away; 2 empty voxels sit one voxel beyond that edge (head motion and resampling
#: move a boundary by up to one voxel). Volumes mm^3 are drawn in NEW_NEAR_VOLUME_MM3.
NEW_NEAR_GAP_VOXELS = 2
NEW_NEAR_LESIONS_FULL = 2
NEW_NEAR_LESIONS_SMALL = 1
NEW_NEAR_VOLUME_MM3 = (30.0, 200.0)

# ---------------------------------------------------------------- contrasts (WM = 1)
#: 3 T MPRAGE-like T1w (GM/WM about 0.6-0.65, CSF about 0.2; e.g. Wang et al., NeuroImage 2014).
T1_CONTRAST = {"wm": 1.0, "cortex": 0.62, "thalamus": 0.82, "caudate": 0.70, "putamen": 0.76,
               "brainstem": 0.92, "cb_cortex": 0.60, "cb_wm": 0.95, "csf": 0.18, "skull": 0.08,
               "scalp": 0.95, "cord": 0.9, "canal": 0.18, "background": 0.0}
#: T1 of lesions relative to WM (T1 hypointense, black holes lowest).
T1_LESION_RANGE = (0.45, 0.85)
#: ... and of lesions that enhance at some visit: acute lesions are T1 iso- to mildly hypointense
#: (oedema; a persistent black hole is a chronic feature: van Walderveen et al., Neurology 1998),
#: so after contrast they are brighter than white matter, as seen on T1 post-contrast scans.
T1_ENHANCING_RANGE = (0.8, 0.95)
#: 3 T FLAIR (GM brighter than WM, CSF suppressed, lesions bright).
FLAIR_CONTRAST = {"wm": 1.0, "cortex": 1.35, "thalamus": 1.15, "caudate": 1.25, "putamen": 1.2,
                  "brainstem": 1.1, "cb_cortex": 1.3, "cb_wm": 1.0, "csf": 0.12, "skull": 0.1,
                  "scalp": 0.8, "cord": 1.05, "canal": 0.12, "background": 0.0}
FLAIR_LESION_RANGE = (1.7, 2.3)
#: T1 post-contrast: enhancing lesions x this factor; sinuses enhance.
ENHANCEMENT_FACTOR = 1.6
SINUS_T1POST = 1.5
#: T2*-weighted magnitude: proton density and R2* (1/s) at 3 T (Yao et al., NeuroImage 2009).
T2STAR_PD = {"wm": 0.70, "cortex": 0.80, "thalamus": 0.75, "caudate": 0.80, "putamen": 0.80,
             "brainstem": 0.72, "cb_cortex": 0.80, "cb_wm": 0.70, "csf": 1.0, "skull": 0.05,
             "scalp": 0.6, "cord": 0.72, "canal": 1.0, "background": 0.0}
T2STAR_R2S = {"wm": 21.0, "cortex": 15.0, "thalamus": 22.0, "caudate": 25.0, "putamen": 30.0,
              "brainstem": 22.0, "cb_cortex": 16.0, "cb_wm": 21.0, "csf": 4.0, "skull": 50.0,
              "scalp": 30.0, "cord": 22.0, "canal": 4.0, "background": 0.0}
LESION_PD = 0.85
LESION_R2S = 14.0
RIM_EXTRA_R2S = 8.0
VEIN_R2S = 120.0
#: Susceptibility relative to CSF, ppb (Langkammer et al., NeuroImage 2012; Wang & Liu 2015).
CHI_PPB = {"wm": -30.0, "cortex": 5.0, "thalamus": 30.0, "caudate": 60.0, "putamen": 70.0,
           "brainstem": -20.0, "cb_cortex": 5.0, "cb_wm": -30.0, "csf": 0.0}
#: Lesion susceptibility relative to WM, ppb (non-rim lesions near-iso to slightly positive).
LESION_CHI_RANGE_PPB = (0.0, 15.0)
#: Rician noise sd as a fraction of WM signal (SNR about 40), QSM noise sd in ppb.
NOISE_FRACTION = 0.025
QSM_NOISE_PPB = 3.0
#: Smooth multiplicative bias field amplitude (+- fraction; 3 T head coils about 10-20 %).
BIAS_AMPLITUDE = 0.12
#: Image point-spread: Gaussian sd in voxels applied to magnitude images before noise.
PSF_SIGMA_VOXELS = 0.5
#: Scanner signal scale of magnitude images (arbitrary units of WM).
SIGNAL_SCALE = 1000.0

# ---------------------------------------------------------------- susceptibility / phase
#: Field strength (T), echo time (ms) and proton gyromagnetic ratio (rad/s/T, CODATA 2018).
B0_TESLA = 3.0
TE_MS = 20.0
GAMMA_RAD_PER_S_PER_T = 2.0 * 3.141592653589793 * 42.577478518e6
#: Default phase sign: +1 means phase = +gamma * dB * TE.
PHASE_SIGN = 1
#: Zero padding of the dipole convolution, voxels per side.
DIPOLE_PAD_VOXELS = 24
#: Smooth background field (air-tissue), peak phase in rad at TE, removed by the high-pass filter.
BACKGROUND_PHASE_RAD = 6.0
#: Scanner-like homodyne high-pass of the phase: the complex image divided by its low-pass, a
#: 2D in-plane Hanning window over the central fraction of k-space of each slice; 0.125 = a
#: 64 x 64 window on a 512 matrix, or 32 x 32 on 256 (Haacke et al., MRM 2004 and AJNR 2009;
#: Wang et al., JMRI 2000). Not the analysis's own filter.
HOMODYNE_WINDOW_FRACTION = 0.125
#: SWI magnitude = T2* magnitude x (phase mask)^n with the positive-phase mask (paramagnetic phase
#: darkened, 1 - phase / pi) of the homodyne-filtered phase; n = 4 (Haacke et al., MRM 2004: four
#: multiplications give the best vein contrast-to-noise).
SWI_PHASE_MASK_POWER = 4

# ---------------------------------------------------------------- tractography
#: Streamlines per case (issue 3: >= 50,000 full; fewer for the small case).
STREAMLINES_FULL = 50000
STREAMLINES_SMALL = 4000
#: Streamline step in voxels. The disconnection truth is an exact voxel traversal of every
#: segment (phantom.tractography.crossing_streamlines), independent of the analysis's sampling.
STREAMLINE_STEP_VOXELS = 1.0
#: Streamline endpoints lie off voxel centres: uniform within +-0.4 voxel of the centre per
#: axis, so at least 0.1 voxel from a face and their voxel is unambiguous (issue 12).
ENDPOINT_JITTER_VOXELS = 0.4
#: Fraction of streamlines whose first endpoint is moved one voxel along a random axis (often
#: into unlabelled white matter), so that radial assignment differs from end-voxel assignment.
ENDPOINT_SHIFT_FRACTION = 0.25
#: Radius (mm) of the radial-assignment truth: MRtrix3 tck2connectome's default radial search.
from .networks import RADIAL_SEARCH_MM as RADIAL_TRUTH_MM  # noqa: E402
#: Inward control-point depth (mm) and distance decay of connection probability (mm).
STREAMLINE_INWARD_MM = 12.0
CONNECTION_LENGTH_SCALE_MM = 60.0
#: Subcortical endpoints push their control point in by this fraction of the cortical depth; the hub is
#: pulled this fraction towards the white-matter centre, with this jitter (mm).
SUBCORTICAL_INWARD_FRACTION = 0.3
HUB_PULL = 0.3
HUB_JITTER_MM = 2.0
#: A streamline is kept when at least this fraction of its interior points lie in WM / deep GM / lesion.
STREAMLINE_MIN_WM_FRACTION = 0.85
#: The white-matter test samples each candidate curve at this many points, ignoring this fraction
#: of its length at each end (where it leaves grey matter).
STREAMLINE_COARSE_SAMPLES = 40
STREAMLINE_END_FRACTION = 0.06

# ---------------------------------------------------------------- BIDS dataset
#: Acquisition date of every phantom subject's first visit and the time between visits
#: (``sub-XX_sessions.tsv`` acq_time). One Julian year (365.25 days, the year of
#: ``cohort.cases.interval_years``), so that the per-visit brain volume change above reads as
#: an annual rate (PBVC per year) in cohort outputs.
BASELINE_ACQ_TIME = "2020-01-15T09:00:00"
VISIT_INTERVAL_DAYS = 365.25
