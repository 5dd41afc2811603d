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
#: Image keys the demo leaves out: the phantom's ground-truth lesion maps, so that the
#: lesions step segments FLAIR (the truth stays in derivatives/phantom for comparison).
DEMO_IGNORE = ("lesions",)

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
