"""A standalone MRML scene set up the way the Slicer application sets it up.

Slicer's ``qSlicerCoreApplication`` creates a ``vtkSlicerApplicationLogic`` for the scene,
and each loadable module registers its logic with it (``SetModuleLogic``) after setting the
application logic and the scene on it. The Volumes logic asks for the "Colors" logic to
pick display colour tables. Here the same logics (plus Markups, which registers the
markups node classes) are created for an explicit scene, so the bridge works the same with
the PyPI ``slicer-core`` wheel (tests, batch jobs) and inside Slicer (where modules pass
``slicer.mrmlScene`` and never need this function).

The Colors logic is the MRML colour logic owned by the application logic
(``vtkMRMLColorLogic``): Slicer's ``vtkSlicerColorLogic`` additionally loads colour files
from the application's share folder, which the wheel does not ship, and would log an error
and point labelmaps at a colour node that does not exist.
"""

from __future__ import annotations

import slicer

from .defaults import (
    APPLICATION_LOGIC_ATTRIBUTE,
    COLORS_LOGIC_NAME,
    MARKUPS_LOGIC_NAME,
    SEGMENTATIONS_LOGIC_NAME,
    VOLUMES_LOGIC_NAME,
)


def new_scene():
    """Return a new ``vtkMRMLScene`` with application, Colors, Volumes, Segmentations and Markups logics.

    The logics live as long as the scene; find them with ``application_logic(scene)`` and
    ``module_logic(scene, "Volumes")``. :func:`release_scene` frees a scene early.
    """
    scene = slicer.vtkMRMLScene()
    app = slicer.vtkSlicerApplicationLogic()
    app.SetMRMLScene(scene)

    colors = app.GetColorLogic()
    colors.SetMRMLApplicationLogic(app)
    colors.SetMRMLScene(scene)  # adds the default (procedural and built-in) colour nodes
    app.SetModuleLogic(COLORS_LOGIC_NAME, colors)

    volumes = slicer.vtkSlicerVolumesLogic()
    volumes.SetMRMLApplicationLogic(app)
    volumes.SetMRMLScene(scene)
    app.SetModuleLogic(VOLUMES_LOGIC_NAME, volumes)

    segmentations = slicer.vtkSlicerSegmentationsModuleLogic()
    segmentations.SetMRMLApplicationLogic(app)
    segmentations.SetMRMLScene(scene)
    app.SetModuleLogic(SEGMENTATIONS_LOGIC_NAME, segmentations)

    markups = slicer.vtkSlicerMarkupsLogic()  # registers the markups node and storage node classes
    markups.SetMRMLApplicationLogic(app)
    markups.SetMRMLScene(scene)
    app.SetModuleLogic(MARKUPS_LOGIC_NAME, markups)

    # Neither the scene nor the application logic's registry owns these logics: keep them on
    # the scene's Python wrapper (VTK keeps custom attributes while the C++ object lives),
    # so they live as long as the scene and are found again from any node (node.GetScene()).
    setattr(scene, APPLICATION_LOGIC_ATTRIBUTE, (app, colors, volumes, segmentations, markups))
    return scene


def application_logic(scene):
    """The application logic of ``scene``: the one :func:`new_scene` made, else Slicer's own (or None)."""
    kept = getattr(scene, APPLICATION_LOGIC_ATTRIBUTE, None)
    if kept is not None:
        return kept[0]
    if getattr(slicer, "mrmlScene", None) is scene and getattr(slicer, "app", None) is not None:
        return slicer.app.applicationLogic()
    return None


def module_logic(scene, name: str):
    """The logic registered under ``name`` ("Colors", "Volumes", "Segmentations", "Markups") for ``scene``, or None."""
    app = application_logic(scene)
    return None if app is None else app.GetModuleLogic(name)


def release_scene(scene) -> None:
    """Clear a scene made by :func:`new_scene` and detach its logics so that both can be freed."""
    scene.Clear(True)
    kept = getattr(scene, APPLICATION_LOGIC_ATTRIBUTE, None)
    if kept is None:
        return
    delattr(scene, APPLICATION_LOGIC_ATTRIBUTE)
