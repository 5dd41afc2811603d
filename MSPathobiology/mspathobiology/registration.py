"""Rigid registration: the one implementation, used for lesion change and for PBVC.

Transforms follow SimpleITK's convention: they map points of the fixed image to points
of the moving image, in LPS mm.
"""

from __future__ import annotations

import SimpleITK as sitk

from .defaults.common import (REGISTRATION_HISTOGRAM_BINS, REGISTRATION_ITERATIONS, REGISTRATION_MIN_STEP,
                              REGISTRATION_SAMPLING_FRACTION, REGISTRATION_SHRINK_FACTORS,
                              REGISTRATION_SMOOTHING_SIGMAS_MM)

METRICS = ("correlation", "mattes")


def register_rigid(fixed: sitk.Image, moving: sitk.Image, fixed_mask: sitk.Image | None = None,
                   metric: str = "correlation", seed: int = 1) -> sitk.Euler3DTransform:
    """Rigid (Euler 3D) transform mapping ``fixed`` physical points (LPS mm) to ``moving``.

    ``metric`` is ``"correlation"`` (same contrast; insensitive to a global intensity scale)
    or ``"mattes"`` (Mattes mutual information, Mattes et al., IEEE TMI 2003). Moments
    initialisation, regular-step gradient descent over a 3-level pyramid with smoothing in
    mm; ``fixed_mask`` restricts the metric. A fixed ``seed`` makes the result repeatable.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
    fixed = sitk.Cast(fixed, sitk.sitkFloat32)
    moving = sitk.Cast(moving, sitk.sitkFloat32)
    transform = sitk.Euler3DTransform(sitk.CenteredTransformInitializer(
        fixed, moving, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.MOMENTS))
    reg = sitk.ImageRegistrationMethod()
    if metric == "mattes":
        reg.SetMetricAsMattesMutualInformation(REGISTRATION_HISTOGRAM_BINS)
    else:
        reg.SetMetricAsCorrelation()
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(REGISTRATION_SAMPLING_FRACTION, seed)
    if fixed_mask is not None:
        reg.SetMetricFixedMask(fixed_mask)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=REGISTRATION_MIN_STEP,
                                                 numberOfIterations=REGISTRATION_ITERATIONS,
                                                 gradientMagnitudeTolerance=1e-8)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel(list(REGISTRATION_SHRINK_FACTORS))
    reg.SetSmoothingSigmasPerLevel(list(REGISTRATION_SMOOTHING_SIGMAS_MM))
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    reg.SetInitialTransform(transform, inPlace=True)
    reg.Execute(fixed, moving)
    return transform
