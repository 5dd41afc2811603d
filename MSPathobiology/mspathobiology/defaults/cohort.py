"""Defaults of the cohort runner, the case review store and the reports."""

#: Name of the derivatives pipeline folder the cohort runner and the review store write
#: to (BIDS derivatives: ``<dataset>/derivatives/<pipeline>/``; BIDS 1.9, "Derivatives").
PIPELINE_NAME = "mspathobiology"

#: Pipeline folder that reviewed (reader-corrected) files go to, so they never mix with
#: automatic outputs.
REVIEW_PIPELINE_NAME = "mspathobiology-review"

#: BIDS version written into ``dataset_description.json`` of derivative folders.
BIDS_VERSION = "1.9.0"

#: Derivative pipelines never read back as inputs when a BIDS dataset is discovered:
#: our own outputs (avoid feeding a run its own results).
IGNORED_PIPELINES = (PIPELINE_NAME,)

#: Name of the per-analysis marker written atomically after an analysis succeeds. It
#: holds the inputs' sizes and modification times (ns) and the summary row.
DONE_MARKER = "done.json"

#: Review statuses (SlicerCaseIterator has no status column; these four are the issue's).
STATUS_NOT_STARTED = "not_started"
STATUS_IN_PROGRESS = "in_progress"
STATUS_DONE = "done"
STATUS_FLAGGED = "flagged"
STATUSES = (STATUS_NOT_STARTED, STATUS_IN_PROGRESS, STATUS_DONE, STATUS_FLAGGED)
STATUS_LABELS = {STATUS_NOT_STARTED: "not started", STATUS_IN_PROGRESS: "in progress",
                 STATUS_DONE: "done", STATUS_FLAGGED: "flagged"}

#: Folder (inside a derivative root) that keeps the previous version of a file before a
#: save replaces it.
BACKUP_FOLDER = "backups"

#: Demo cohort: phantom subjects x sessions (small phantom), kept small so that the demo
#: finishes in a few minutes on 2 cores.
DEMO_SUBJECTS = 2
DEMO_SESSIONS = 2
DEMO_SEED = 0

#: Lesion mosaic: number of axial slices shown, chosen among slices that hold lesion
#: voxels (evenly spaced by lesion volume), and the figure width in inches.
MOSAIC_SLICES = 12
MOSAIC_COLUMNS = 4
MOSAIC_DPI = 110
#: Display window of the FLAIR background, as percentiles of the brain intensities.
MOSAIC_WINDOW_PERCENTILES = (1.0, 99.5)

#: Rows of a per-lesion table shown in a case report (the full table is linked).
REPORT_MAX_TABLE_ROWS = 40

#: Width of the text progress bar, in characters.
PROGRESS_BAR_WIDTH = 30

#: Words that mark a derivative pipeline as ground truth, looked for in the Name and the
#: GeneratedBy names/descriptions of its dataset_description.json (the phantom writes
#: "mspathobiology.phantom" and "ground truth").
GROUND_TRUTH_WORDS = ("phantom", "ground truth", "groundtruth")

#: Decimal places of numbers in cohort tables and reports, by the unit the column name ends
#: with (checked in this order; first match wins). Chosen for what the methods resolve:
#: a lesion volume to a tenth of a 1 mm voxel (0.1 mm3), tissue volumes to 10 uL
#: (0.01 mL), percentages (PBVC, disconnection) to 0.01 percentage points, which is below
#: the 0.1-0.2 pp scan-rescan error of SIENA-type PBVC (Smith et al., NeuroImage 2002), and
#: seconds to 0.1 s.
ROUND_BY_SUFFIX = (("_mm3", 1), ("_ml", 2), ("_percent", 2), ("_percent_per_year", 2), ("_mm", 2),
                   ("_s", 1), ("seconds", 1), ("_ppb", 2), ("_years", 3))
#: Decimal places of every other real number: fractions (BPF, efficiency, coverage, kappa)
#: to 4 places, i.e. 0.01 % of the range [0, 1].
ROUND_DEFAULT_DECIMALS = 4

#: The cohort page's summary: one row per session, one key biomarker per family, as
#: (column of cohort.tsv, heading, unit). The full table is the downloadable cohort.tsv.
SUMMARY_COLUMNS = (
    ("lesion_count", "T2 lesions", "n"),
    ("lesion_volume_mm3", "T2 lesion volume", "mm³"),
    ("lesions_new", "new lesions", "n"),
    ("lesions_enlarging", "enlarging lesions", "n"),
    ("prl_candidates", "PRL", "n"),
    ("sel_count", "SEL (over all sessions)", "n"),
    ("sel_volume_share", "SEL share of lesion volume", "fraction"),
    ("bpf", "BPF", "fraction"),
    ("pbvc_annualised_percent_per_year", "PBVC", "%/year"),
    ("network_global_efficiency", "global efficiency", ""),
    ("network_disconnected_percent", "disconnected streamlines", "%"),
)

#: Content-Security-Policy of every report page (a meta element; W3C CSP Level 3): nothing
#: may load or run except images from the report's own folder and the page's one inline
#: style sheet, allowed by its SHA-256 hash (added per page). No scripts, frames, forms,
#: plug-ins or base-URL changes.
REPORT_CSP = ("default-src 'none'; img-src 'self'; script-src 'none'; object-src 'none'; "
              "base-uri 'none'; form-action 'none'")

#: Threads each parallel job may use (SimpleITK, BLAS/OpenMP): cores // jobs, at least 1,
#: so that threads x jobs never exceeds the cores.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")

#: Plot styles: one per subject, cycling markers and line styles so that overlapping
#: subjects stay distinguishable in print and for colour-blind readers.
PLOT_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
PLOT_LINESTYLES = ("-", "--", ":", "-.")
