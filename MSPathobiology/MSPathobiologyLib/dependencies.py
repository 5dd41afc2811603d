"""Python packages the logic layer uses that Slicer 5.12 does not bundle (nibabel, networkx,
trx-python, matplotlib), installed on first use.

There is one list: ``mspathobiology_mrml/requirements.txt`` (shipped inside the bridge package,
so it is there in a source checkout and in a built extension alike). :func:`ensure` installs what
is missing with Slicer's ``pip_ensure`` (``slicer.pydeps``, Slicer >= 5.11), which asks the user
first; the modules call it where a package is first needed, never at module load.

``pip_ensure`` skips installing while Slicer runs in testing mode. A self-test that needs a
package calls :func:`requireForTest`: it installs the package the same way with the testing-mode
skip turned off and without a prompt, or skips the test with a message naming the package when it
cannot be installed (no network).
"""

from __future__ import annotations

import importlib.util

#: Import name -> distribution name of the packages in requirements.txt.
DISTRIBUTIONS = {"nibabel": "nibabel", "networkx": "networkx", "trx": "trx-python", "matplotlib": "matplotlib"}

_ensured: set[str] = set()


def missing(modules) -> list[str]:
    """The import names among ``modules`` that cannot be imported here."""
    def absent(name):
        try:
            return importlib.util.find_spec(name) is None
        except (ImportError, ValueError):
            return True

    return [name for name in modules if absent(name)]


def _requirements(modules=None) -> list:
    import mspathobiology_mrml

    try:
        import slicer.pydeps as pydeps  # Slicer >= 5.11
    except ImportError:  # older layout of the same functions
        import slicer.packaging as pydeps
    wanted = {DISTRIBUTIONS.get(m, m).lower() for m in modules} if modules is not None else None
    requirements = pydeps.load_requirements(str(mspathobiology_mrml.requirements_path()))
    if wanted is not None:
        requirements = [r for r in requirements if r.name.lower() in wanted]
    return pydeps, requirements


def ensure(requester: str, modules=None, testing: bool = False) -> None:
    """Install the missing requirements (all, or those providing the import names ``modules``).

    The user is asked first; with ``testing`` the install also runs in Slicer's testing mode and
    without a prompt (self-tests only). A no-op once the packages import.
    """
    names = list(DISTRIBUTIONS) if modules is None else list(modules)
    if not missing(names) or set(names) <= _ensured:
        _ensured.update(names)
        return
    pydeps, requirements = _requirements(names)
    if testing:
        pydeps.pip_ensure(requirements, requester=requester, skip_in_testing=False, prompt_install=False,
                          prompt_restart=False)
    else:
        pydeps.pip_ensure(requirements, requester=requester)
    importlib.invalidate_caches()
    if not missing(names):
        _ensured.update(names)


def requireForTest(testCase, requester: str, modules) -> None:
    """In a self-test: install ``modules`` (import names) as Slicer does, or skip the test naming them."""
    absent = missing(modules)
    if not absent:
        return
    try:
        ensure(requester, absent, testing=True)
    except Exception as error:  # noqa: BLE001 - no network, no index: the test cannot run here
        testCase.skipTest(f"needs {', '.join(DISTRIBUTIONS.get(m, m) for m in absent)} (install failed: {error})")
    still = missing(absent)
    if still:
        testCase.skipTest(f"needs {', '.join(DISTRIBUTIONS.get(m, m) for m in still)}, which could not be installed")
