"""Rigid registration: the one implementation, used for lesion change and for PBVC.

Transforms follow SimpleITK's convention: they map points of the fixed image to points
of the moving image, in LPS mm.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from .defaults.common import (REGISTRATION_HISTOGRAM_BINS, REGISTRATION_ITERATIONS, REGISTRATION_MIN_STEP,
                              REGISTRATION_RELAXATION,
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
    reg = _registration(REGISTRATION_SAMPLING_FRACTION, seed, fixed_mask, REGISTRATION_ITERATIONS,
                        REGISTRATION_SHRINK_FACTORS, REGISTRATION_SMOOTHING_SIGMAS_MM, metric=metric,
                        min_step=REGISTRATION_MIN_STEP, relaxation=REGISTRATION_RELAXATION)
    reg.SetInitialTransform(transform, inPlace=True)
    reg.Execute(fixed, moving)
    return transform


def _registration(metric_sampling: float, seed: int, fixed_mask, iterations: int, shrink, sigmas,
                  metric: str = "correlation", min_step: float = None, relaxation: float = None):
    """The one registration set-up: random metric sampling, linear interpolation, regular-step
    gradient descent with physical-shift scales over a pyramid smoothed in mm."""
    from .defaults.common import AFFINE_MIN_STEP, AFFINE_RELAXATION

    reg = sitk.ImageRegistrationMethod()
    if metric == "mattes":
        reg.SetMetricAsMattesMutualInformation(REGISTRATION_HISTOGRAM_BINS)
    else:
        reg.SetMetricAsCorrelation()
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(metric_sampling, seed)
    if fixed_mask is not None:
        reg.SetMetricFixedMask(fixed_mask)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=AFFINE_MIN_STEP if min_step is None else min_step,
        numberOfIterations=iterations, gradientMagnitudeTolerance=1e-8,
        relaxationFactor=AFFINE_RELAXATION if relaxation is None else relaxation)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel(list(shrink))
    reg.SetSmoothingSigmasPerLevel(list(sigmas))
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    return reg


def register_affine(fixed: sitk.Image, moving: sitk.Image, fixed_mask: sitk.Image, starts,
                    coarse_fixed: sitk.Image | None = None, coarse_moving: sitk.Image | None = None,
                    coarse_mask: sitk.Image | None = None, seed: int = 1) -> tuple[sitk.AffineTransform, float]:
    """Affine transform mapping ``fixed`` points (LPS mm) to ``moving`` points, robust to a poor start.

    ``starts`` are candidate :class:`sitk.Similarity3DTransform` initialisations; each is
    refined (similarity: rotation, translation, isotropic scale) on the coarse images
    (``coarse_*``, defaults to the full ones) and the best correlation wins (multi-start
    search, as FLIRT's coarse search over rotations and translations, Jenkinson & Smith,
    Med Image Anal 2001; only the ``AFFINE_STARTS_REFINED`` best-scoring starts are
    refined). The winner is then refined as a 12-parameter affine on the full images,
    metric restricted to ``fixed_mask``. Returns (transform, final metric; -1 is perfect
    correlation).
    """
    from .defaults.common import (AFFINE_COARSE_ITERATIONS, AFFINE_ITERATIONS, AFFINE_SAMPLING_FRACTION,
                                  AFFINE_STARTS_REFINED)

    coarse_fixed = fixed if coarse_fixed is None else coarse_fixed
    coarse_moving = moving if coarse_moving is None else coarse_moving
    coarse_mask = fixed_mask if coarse_mask is None else coarse_mask
    probe = _registration(AFFINE_SAMPLING_FRACTION, seed, coarse_mask, 1, (1,), (0.0,))
    values = []
    for start in starts:   # rank the starts by their metric before any optimisation
        probe.SetInitialTransform(sitk.Similarity3DTransform(start), inPlace=False)
        try:
            values.append(probe.MetricEvaluate(coarse_fixed, coarse_moving))
        except RuntimeError:   # no overlap
            values.append(float("inf"))
    ranked = [starts[i] for i in np.argsort(values)[:AFFINE_STARTS_REFINED] if np.isfinite(values[i])]
    best, best_value = None, float("inf")
    for start in ranked:
        transform = sitk.Similarity3DTransform(start)
        reg = _registration(AFFINE_SAMPLING_FRACTION, seed, coarse_mask, AFFINE_COARSE_ITERATIONS, (1,), (0.0,))
        reg.SetInitialTransform(transform, inPlace=True)
        try:
            reg.Execute(coarse_fixed, coarse_moving)
            value = reg.GetMetricValue()
        except RuntimeError:   # all samples mapped outside the moving image
            continue
        if value < best_value:
            best, best_value = transform, value
    if best is None:
        raise RuntimeError("no start of the affine registration overlapped the moving image")
    affine = sitk.AffineTransform(3)
    affine.SetCenter(best.GetCenter())
    affine.SetMatrix(best.GetMatrix())
    affine.SetTranslation(best.GetTranslation())
    reg = _registration(AFFINE_SAMPLING_FRACTION, seed, fixed_mask, AFFINE_ITERATIONS, (2, 1), (2.0, 0.0))
    reg.SetInitialTransform(affine, inPlace=True)
    reg.Execute(fixed, moving)
    return affine, float(reg.GetMetricValue())
