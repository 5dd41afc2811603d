"""Defaults of file input/output (:mod:`mspathobiology.io`) and of file locks."""

#: Temporary files of the atomic writers are named ``.tmp-<pid>-<random><suffix>`` in the
#: target folder. One whose process no longer runs on this machine is stale and removed at
#: the next write into that folder; one older than this (seconds) is removed whatever its
#: pid says (it may come from another machine sharing the folder). A day is far longer
#: than any single write of this package (the largest, a 1 mm image, takes < 1 s).
STALE_TEMP_SECONDS = 24 * 3600

#: How long (s) a writer waits for another process's lock on a review store or a
#: ratings file before giving up with a clear error. Writes under these locks are a
#: read, a merge and one small JSON/TSV write (milliseconds), so 10 s only elapses when
#: the other process is stuck.
LOCK_TIMEOUT_SECONDS = 10.0
#: Poll interval (s) while waiting for a lock.
LOCK_POLL_SECONDS = 0.02

#: A mask covering at least this fraction of the field of view is refused as a brain mask
#: or lesion mask: a brain fills ~10-40 % of a head scan's box (MNI152 1 mm: 1.9 L brain
#: in a 7.1 L box, 27 %); a mask of (nearly) all ones is a wrong file or a threshold gone
#: wrong, and gave a PBVC of -94237 % (issue 13).
MAX_MASK_FRACTION = 0.95
