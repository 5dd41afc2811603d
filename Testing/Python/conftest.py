"""Shared pytest fixtures. Images are built in memory or from the phantom; nothing downloads."""

import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "MSPathobiology"))


def oblique_image(size=(12, 10, 8), spacing=(0.9, 1.1, 1.7), dtype=np.float32, seed=0):
    """A random image on an oblique, flipped grid (LPS direction with a rotation and a flipped axis)."""
    rng = np.random.default_rng(seed)
    array = rng.normal(size=size[::-1]).astype(dtype)
    image = sitk.GetImageFromArray(array)
    angle = np.deg2rad(17.0)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    direction = rot @ np.diag([1.0, -1.0, 1.0])
    image.SetDirection(tuple(direction.ravel()))
    image.SetSpacing(spacing)
    image.SetOrigin((12.5, -30.25, 7.0))
    return image


@pytest.fixture
def oblique():
    return oblique_image()
