"""Python dependencies of the logic layer, installed into Slicer on first use.

There is one list of what Slicer must pip-install: ``mspathobiology_mrml/requirements.txt``
(the bridge ships it inside its package, so it is there in a source checkout and in a built
extension alike), installed by :func:`mspathobiology_mrml.ensure_requirements` through
``slicer.packaging.pip_ensure``. The modules call :func:`ensure` lazily, before their first
use of the logic layer, never at module load.
"""

from __future__ import annotations

_ensured = False


def ensure(requester: str) -> None:
    """Install missing run-time requirements (the user is asked first); a no-op once done."""
    global _ensured
    if _ensured:
        return
    import mspathobiology_mrml

    mspathobiology_mrml.ensure_requirements(requester=requester)
    _ensured = True
