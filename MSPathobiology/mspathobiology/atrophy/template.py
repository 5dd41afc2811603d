"""The MNI152 2009 template (T1, GM and WM probability maps) that ships inside nilearn's wheel.

The files are located with ``importlib.util.find_spec`` so that nilearn is never imported
(Slicer's Python need not import it; the files are read by SimpleITK). Nothing downloads.
Template: ICBM 2009a nonlinear symmetric, 1 mm (Fonov et al., NeuroImage 2011), brain only.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..defaults.atrophy import TEMPLATE_FILES, TEMPLATE_PROBABILITY_SCALE
from ..errors import InputError
from ..io import read_image


def template_folder() -> Path:
    """Folder holding nilearn's MNI152 files (``nilearn/datasets/data``), found without importing nilearn."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("MNI152 template", "nilearn is not installed; `pip install nilearn` provides the "
                         "template used for brain extraction (or give a brain mask)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    missing = [name for name in TEMPLATE_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise InputError("MNI152 template", f"files {missing} not found in {folder}; reinstall nilearn")
    return folder


@lru_cache(maxsize=8)
def load_template(spacing_mm: float = 1.0, maps: tuple = ("t1", "icv")) -> dict:
    """Template images as float32 SimpleITK images (LPS), resampled to isotropic ``spacing_mm``.

    ``maps`` from "t1", "icv", "gm", "wm": GM/WM are probabilities in [0, 1]; ``icv`` is 1
    where the template T1 is non-zero (the template's intracranial mask: brain, ventricles
    and the CSF around the brain). Cached: the returned images must not be modified.
    """
    folder = template_folder()
    images = {}
    for key in maps:
        name = TEMPLATE_FILES["t1" if key == "icv" else key]
        image = read_image(folder / name, kind="intensity", name="MNI152 template")
        if key in ("gm", "wm"):
            image = image / TEMPLATE_PROBABILITY_SCALE
        elif key == "icv":
            image = sitk.Cast(image > 0, sitk.sitkFloat32)
        images[key] = image if spacing_mm == 1.0 else resample_to_spacing(image, spacing_mm)
    return images


def resample_to_spacing(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """Gaussian-smoothed (sigma = half the new voxel, in mm) and linearly resampled to isotropic ``spacing_mm``,
    same origin corner and direction; float32."""
    spacing = np.asarray(image.GetSpacing(), dtype=float)
    size = np.asarray(image.GetSize(), dtype=float)
    new_size = [max(1, int(np.ceil(n * s / spacing_mm))) for n, s in zip(size, spacing)]
    sigma = [max(0.0, 0.5 * (spacing_mm ** 2 - s ** 2)) ** 0.5 for s in spacing]
    smooth = sitk.Cast(image, sitk.sitkFloat32)
    if max(sigma) > 0:
        smooth = sitk.SmoothingRecursiveGaussian(smooth, [max(x, 1e-3) for x in sigma])
    origin = image.TransformContinuousIndexToPhysicalPoint([-0.5 + 0.5 * spacing_mm / s for s in spacing])
    return sitk.Resample(smooth, new_size, sitk.Transform(), sitk.sitkLinear, origin, [spacing_mm] * 3,
                         image.GetDirection(), 0.0, sitk.sitkFloat32)
