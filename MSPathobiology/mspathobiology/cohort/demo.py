"""``mspathobiology demo``: a small phantom cohort, every analysis, and the reports.

Makes a BIDS dataset of digital MS phantoms (:func:`mspathobiology.phantom.write_dataset`,
small grids), runs :func:`~mspathobiology.cohort.runner.run_cohort` over it into
``OUT/bids/derivatives/mspathobiology`` and writes the HTML reports. The phantom's
ground-truth lesion maps (``derivatives/phantom``) are left out of the run
(:data:`~mspathobiology.defaults.cohort.DEMO_IGNORE`), so the lesions step segments
FLAIR as it would on real data; every other derivative (anatomy, parcellation, brain
mask, tractogram) is used. Running it again reuses
the dataset and redoes nothing that finished.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..defaults.cohort import DEMO_IGNORE, DEMO_SEED, DEMO_SESSIONS, DEMO_SUBJECTS, PIPELINE_NAME
from .report import write_reports
from .runner import run_cohort


def make_dataset(bids_dir, n_subjects: int = DEMO_SUBJECTS, sessions: int = DEMO_SESSIONS,
                 seed: int = DEMO_SEED, small: bool = True) -> Path:
    """Write the phantom BIDS dataset unless ``bids_dir`` already holds one."""
    from ..phantom import write_dataset

    bids_dir = Path(bids_dir)
    if not (bids_dir / "dataset_description.json").exists() or not any(bids_dir.glob("sub-*")):
        write_dataset(bids_dir, n_subjects=n_subjects, seed=seed, small=small, sessions=sessions)
    return bids_dir


def run_demo(out, n_subjects: int = DEMO_SUBJECTS, sessions: int = DEMO_SESSIONS, jobs: int = 1,
             seed: int = DEMO_SEED, progress: bool = True, log=print) -> dict:
    """Phantom dataset in ``out/bids``, run into ``out/bids/derivatives/mspathobiology``, reports.
    Same as ``mspathobiology run out/bids --ignore lesions --report``.

    Returns ``{"dataset", "derivatives", "report", "result", "seconds"}``.
    """
    start = time.perf_counter()
    out = Path(out)
    bids_dir = out / "bids"
    log(f"phantom dataset: {bids_dir} ({n_subjects} subjects x {sessions} sessions, small grid)")
    make_dataset(bids_dir, n_subjects, sessions, seed)
    derivatives = bids_dir / "derivatives" / PIPELINE_NAME
    log(f"running every analysis into {derivatives}")
    result = run_cohort(bids_dir, derivatives, jobs=jobs, progress=progress, ignore=DEMO_IGNORE)
    index = write_reports(derivatives)
    return {"dataset": bids_dir, "derivatives": derivatives, "report": index, "result": result,
            "seconds": time.perf_counter() - start}
