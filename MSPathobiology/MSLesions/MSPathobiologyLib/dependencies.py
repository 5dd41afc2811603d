"""Python dependencies of the logic layer, installed into Slicer on first use.

There is ONE dependency list: ``[project] dependencies`` of the ``mspathobiology``
distribution (``pyproject.toml``). It is read, in order of preference, from

1. the installed distribution's metadata (``pip install`` of the package into Slicer's Python);
2. a ``pyproject.toml`` in the folder holding the ``mspathobiology`` package or its parent
   (a source checkout, or a built extension that installs ``pyproject.toml`` beside the package).

Packages that Slicer itself provides and that are not pip distributions inside Slicer
(VTK) are never installed: pip-installing ``vtk`` into Slicer would shadow Slicer's own build.
"""

from __future__ import annotations

import importlib.metadata
import os
import re

#: Requirements Slicer provides itself (canonical names); never pip-installed into Slicer.
PROVIDED_BY_SLICER = frozenset({"vtk"})

_ensured: set[str] = set()


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _canonical(re.split(r"[\s<>=!~;\[(@]", requirement.strip(), maxsplit=1)[0])


def _logic_package_dir() -> str | None:
    try:
        import mspathobiology
    except ImportError:
        return None
    return os.path.dirname(os.path.abspath(mspathobiology.__file__))


def _from_metadata() -> list[str] | None:
    try:
        requires = importlib.metadata.requires("mspathobiology")
    except importlib.metadata.PackageNotFoundError:
        return None
    if requires is None:
        return None
    # Drop optional extras ("; extra == 'test'").
    return [r for r in requires if not re.search(r";.*\bextra\s*==", r)]


def _from_pyproject(package_dir: str | None) -> list[str] | None:
    if not package_dir:
        return None
    import tomllib

    parent = os.path.dirname(package_dir)
    for folder in (parent, os.path.dirname(parent)):
        path = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                data = tomllib.load(f)
            project = data.get("project", {})
            if project.get("name") == "mspathobiology":
                return list(project.get("dependencies", []))
    return None


def requirements() -> list[str]:
    """The logic layer's run-time requirements that Slicer must provide through pip.

    Raises RuntimeError naming where it looked when no dependency list is found.
    """
    found = _from_metadata()
    if found is None:
        found = _from_pyproject(_logic_package_dir())
    if found is None:
        raise RuntimeError(
            "Cannot find the dependency list of the mspathobiology package: it is not pip-installed "
            "and no pyproject.toml was found beside the mspathobiology package folder "
            f"({_logic_package_dir()}).")
    return [r for r in found if _requirement_name(r) not in PROVIDED_BY_SLICER]


def ensure(requester: str) -> None:
    """Install missing requirements with ``slicer.packaging.pip_ensure`` (asks the user first).

    Called lazily by each module before its first use of the logic layer; a no-op once done.
    """
    if "all" in _ensured:
        return
    import slicer.packaging

    slicer.packaging.pip_ensure(requirements(), requester=requester)
    _ensured.add("all")
