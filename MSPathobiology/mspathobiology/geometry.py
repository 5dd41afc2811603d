"""Image geometry: the one grid check, resampling, and the RAS/LPS conversion.

SimpleITK images carry geometry in LPS (ITK's physical frame); MRML and tractograms
use RAS. ``LPS_TO_RAS`` is the only place the x/y flip is written.

Index conventions: ``sitk.GetArrayFromImage`` returns arrays indexed ``[k, j, i]``;
continuous voxel indices in this module are ``(i, j, k)`` unless a name says ``kji``.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from .defaults.common import GEOMETRY_TOLERANCE
from .errors import GeometryMismatchError

#: Diagonal flip between ITK's LPS and Slicer's RAS physical frames.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def geometry_differences(a: sitk.Image, b: sitk.Image, tolerance: float = GEOMETRY_TOLERANCE) -> list[str]:
    """List how the grids of ``a`` and ``b`` differ (size, spacing mm, origin mm, direction); empty if equal."""
    problems = []
    if a.GetDimension() != b.GetDimension():
        return [f"dimension {a.GetDimension()} vs {b.GetDimension()}"]
    if tuple(a.GetSize()) != tuple(b.GetSize()):
        problems.append(f"size {tuple(a.GetSize())} vs {tuple(b.GetSize())}")
    for name, va, vb in (
        ("spacing", a.GetSpacing(), b.GetSpacing()),
        ("origin", a.GetOrigin(), b.GetOrigin()),
        ("direction", a.GetDirection(), b.GetDirection()),
    ):
        if not np.allclose(va, vb, rtol=0.0, atol=tolerance):
            problems.append(f"{name} {tuple(np.round(va, 6))} vs {tuple(np.round(vb, 6))}")
    return problems


def same_geometry(a: sitk.Image, b: sitk.Image, tolerance: float = GEOMETRY_TOLERANCE) -> bool:
    """True when ``a`` and ``b`` share size, spacing, origin and direction within ``tolerance``."""
    return not geometry_differences(a, b, tolerance)


def check_same_geometry(a: sitk.Image, b: sitk.Image, names=("image", "reference"),
                        tolerance: float = GEOMETRY_TOLERANCE) -> None:
    """Raise :class:`GeometryMismatchError` naming both inputs if their grids differ."""
    problems = geometry_differences(a, b, tolerance)
    if problems:
        raise GeometryMismatchError(
            f"{names[0]} vs {names[1]}",
            "images are on different voxel grids (" + "; ".join(problems)
            + "); resample one onto the other first (mspathobiology.geometry.resample_label / resample_intensity)",
        )


def _resample(image: sitk.Image, reference: sitk.Image, interpolator, default_value=0.0) -> sitk.Image:
    return sitk.Resample(image, reference, sitk.Transform(), interpolator, default_value, image.GetPixelID())


def resample_label(image: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """Resample a label image onto ``reference``'s grid by nearest neighbour (labels kept exactly)."""
    return _resample(image, reference, sitk.sitkNearestNeighbor)


_INTERPOLATORS = {"linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline, "nearest": sitk.sitkNearestNeighbor}


def resample_intensity(image: sitk.Image, reference: sitk.Image, interpolation: str = "linear") -> sitk.Image:
    """Resample an intensity image onto ``reference``'s grid; ``interpolation`` is linear or bspline.

    The output is float32 so that B-spline overshoot is not clipped.
    """
    if interpolation not in _INTERPOLATORS:
        raise ValueError(f"interpolation must be one of {sorted(_INTERPOLATORS)}, not {interpolation!r}")
    return sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), reference, sitk.Transform(),
                         _INTERPOLATORS[interpolation], 0.0, sitk.sitkFloat32)


def voxel_volume_mm3(image: sitk.Image) -> float:
    """Volume of one voxel in mm^3."""
    return float(np.prod(image.GetSpacing()))


def voxel_to_ras(image: sitk.Image) -> np.ndarray:
    """4x4 matrix mapping a continuous voxel index (i, j, k, 1) to RAS mm (the NIfTI/DIPY affine)."""
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    matrix = np.eye(4)
    matrix[:3, :3] = LPS_TO_RAS @ direction @ np.diag(image.GetSpacing())
    matrix[:3, 3] = LPS_TO_RAS @ np.asarray(image.GetOrigin(), dtype=float)
    return matrix


def set_voxel_to_ras(image: sitk.Image, matrix: np.ndarray) -> None:
    """Set spacing, origin and direction of ``image`` from a 4x4 voxel (i, j, k) -> RAS matrix."""
    matrix = np.asarray(matrix, dtype=float)
    lps = LPS_TO_RAS @ matrix[:3, :3]
    spacing = np.linalg.norm(lps, axis=0)
    image.SetSpacing(tuple(spacing))
    image.SetDirection(tuple((lps / spacing).ravel()))
    image.SetOrigin(tuple(LPS_TO_RAS @ matrix[:3, 3]))


def ijk_to_ras_points(image: sitk.Image, ijk: np.ndarray) -> np.ndarray:
    """Map an (N, 3) array of continuous voxel indices (i, j, k) to RAS mm."""
    ijk = np.atleast_2d(np.asarray(ijk, dtype=float))
    matrix = voxel_to_ras(image)
    return ijk @ matrix[:3, :3].T + matrix[:3, 3]


def kji_to_ras_points(image: sitk.Image, kji: np.ndarray) -> np.ndarray:
    """Map an (N, 3) array of numpy-array indices [k, j, i] (SimpleITK array order) to RAS mm."""
    return ijk_to_ras_points(image, np.atleast_2d(np.asarray(kji, dtype=float))[:, ::-1])


def ras_to_ijk_points(image: sitk.Image, ras: np.ndarray) -> np.ndarray:
    """Map an (N, 3) array of RAS mm points to continuous voxel indices (i, j, k)."""
    ras = np.atleast_2d(np.asarray(ras, dtype=float))
    inverse = np.linalg.inv(voxel_to_ras(image))
    return ras @ inverse[:3, :3].T + inverse[:3, 3]


def image_like(array: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """Wrap a numpy array indexed [k, j, i] as a SimpleITK image on ``reference``'s grid."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    if tuple(image.GetSize()) != tuple(reference.GetSize()):
        raise GeometryMismatchError("array", f"shape {array.shape} does not match reference size "
                                    f"{tuple(reference.GetSize())[::-1]} (k, j, i)")
    image.CopyInformation(reference)
    return image
