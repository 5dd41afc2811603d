"""``mspathobiology demo``: a small phantom cohort, every analysis, and the reports.

Makes a BIDS dataset of digital MS phantoms (:func:`mspathobiology.phantom.write_dataset`,
small grids), runs :func:`~mspathobiology.cohort.runner.run_cohort` over it into
``OUT/bids/derivatives/mspathobiology`` and writes the HTML reports. As in any run, the
phantom's ground-truth lesion maps (``derivatives/phantom``) are not used (that takes
``mspathobiology run OUT/bids --lesions-from phantom``), so the lesions step segments
FLAIR as it would on real data; the other derivatives (anatomy, parcellation, brain
mask, tractogram) are used, and every output says they come from a ground-truth folder.
Running it again reuses the dataset and redoes nothing that finished.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..defaults.cohort import DEMO_SEED, DEMO_SESSIONS, DEMO_SUBJECTS, PIPELINE_NAME
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
    Same as ``mspathobiology phantom out/bids`` then ``mspathobiology run out/bids --report``.

    Returns ``{"dataset", "derivatives", "report", "result", "seconds"}``.
    """
    start = time.perf_counter()
    out = Path(out)
    bids_dir = out / "bids"
    log(f"phantom dataset: {bids_dir} ({n_subjects} subjects x {sessions} sessions, small grid)")
    make_dataset(bids_dir, n_subjects, sessions, seed)
    derivatives = bids_dir / "derivatives" / PIPELINE_NAME
    log(f"running every analysis into {derivatives}")
    result = run_cohort(bids_dir, derivatives, jobs=jobs, progress=progress)
    index = write_reports(derivatives)
    return {"dataset": bids_dir, "derivatives": derivatives, "report": index, "result": result,
            "seconds": time.perf_counter() - start}
