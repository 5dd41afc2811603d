"""Percent brain volume change (PBVC) between two T1 images of one subject.

Method: **change of the partial-volume brain fraction, with one intensity model shared by
both visits, in halfway space** (a SIENA-style registration with a boundary-shift-integral
measure). Steps:

1. Masks: given brain masks (any kind: GM + WM, BET-style with CSF), or the baseline is
   brain-extracted (:func:`.brain_extraction.extract_brain`) and its intracranial mask
   bounds the measurement.
2. Both visits are registered rigidly (follow-up onto baseline, correlation metric), and
   the rigid transform T is split into halves H with H∘H = T (matrix square root).
   Baseline is resampled through H^-1 and follow-up through H onto one halfway grid, so
   neither visit is favoured and both go through the same interpolation (SIENA, Smith et
   al., NeuroImage 2002).
3. Optional lesion filling with NAWM intensities at each visit (:mod:`.filling`).
4. Differential bias correction (Lewis & Fox, NeuroImage 2004): a low-order polynomial
   fitted to the log ratio of the two visits on edge-free brain voxels, removed half from
   each visit. The intensity change a small shift or rescaling of the anatomy would make is
   fitted jointly and kept out of the field (``PBVC_BIAS_ANATOMY_REGRESSORS``); then the field
   is refitted with the follow-up warped onto the baseline by a smooth demons registration
   (:func:`warped_onto`, ``PBVC_BIAS_ALIGNED_REFITS``): near edges the log ratio of the visits
   holds the anatomical change, and the polynomial took part of it (-0.05 to -0.10 pp on real
   heads; on the phantom it hid an under-read of the same size, see PBVC_SMOOTHING_MM).
5. One partial-volume mixture (3 pure + 2 mixing classes,
   :func:`.tissue.fit_partial_volume_mixture`) is fitted on the voxels of BOTH visits;
   both images get the same light Gaussian smoothing, and each voxel's brain fraction is
   p = clip((I - mu_CSF) / (mu_GM - mu_CSF), 0, 1) (the BSI intensity window, Freeborough
   & Fox, IEEE TMI 1997; Leung et al., NeuroImage 2010). WM and GM both have p = 1, so
   GM/WM boundary motion does not count. Bright tissue not connected to the brain (scalp,
   marrow) is left out.
6. Noise correction: noise makes the clipped window read E[p|CSF] > 0 and E[p|GM] < 1;
   under the measured noise (robust SD of the visit difference in the brain core / sqrt 2)
   each voxel's tissue fraction is (p - E[p|CSF]) / (E[p|GM] - E[p|CSF]).
7. Each visit's brain volume is the sum of its tissue fractions over one measurement window:
   the joint brain component (p > 0.5 in the mean of both visits) and ``PBVC_EDGE_REACH_MM``
   of CSF beyond its edge, inside the region, carried to each visit by the brain change
   measured (scaled about the brain centroid by f^-+1/2, :class:`_WindowCarrier`; the volumes
   are linear in it and the consistent change is solved). dV = V2 - V1 is then the flux of the
   edge displacement (divergence theorem), what SIENA estimates from edge profile shifts, and
   nothing that crosses the window's limit (brain stem, dura or marrow touching the cortex,
   components that join one visit's brain through noise) counts: a fixed limit left 20-30 %
   of a uniform contraction of a real head unmeasured. The local edge displacement (mm,
   + outward, - atrophy) is dp / |grad p| in a band of ``PBVC_EDGE_BAND_MM`` around the joint
   edge, returned on the baseline grid.
8. SIENA-like self-calibration (a self-check): the baseline halfway image is rescaled about
   the brain centroid by a known factor (half each way) and the known change re-measured;
   factor = known / measured. Reported; applied only when ``calibrate=True``
   (``PBVC_APPLY_CALIBRATION`` says why not by default).

Why not Jacobian integration of a deformable registration: for sub-voxel changes
(0.25-2 % is 0.02-0.2 mm of edge motion) demons-type registration needs careful stopping
and regularisation and under-estimates thin-structure motion, while the sums above are
linear in the edge displacement and need no regularisation. Regional change here is change
**within a fixed region** (tissue volume inside a region fixed in halfway space), not
change of the baseline tissue.

PBVC = 100 * dV / V_baseline, volumes in mL.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.linalg import sqrtm
from scipy.special import erf

from ..defaults.atrophy import (CHANGE_WITHIN_FIXED_REGION, PBVC_APPLY_CALIBRATION, PBVC_BIAS_ANATOMY_REGRESSORS,
                                PBVC_BIAS_MAX_GRADIENT,
                                PBVC_BIAS_MAX_SAMPLES, PBVC_WINDOW_PROBE, PBVC_CALIBRATION_BOUNDS, PBVC_CALIBRATION_SCALE,
                                PBVC_CROP_MARGIN_MM, PBVC_DIFFERENTIAL_BIAS_ORDER, PBVC_EDGE_BAND_MM, PBVC_EDGE_REACH_MM,
                                PBVC_CORE_EROSION_MM, PBVC_MASK_DILATION_MM, PBVC_MAX_DARK_FRACTION,
                                PBVC_MIN_CONTRAST_NOISE, PBVC_MIN_EDGE_GRADIENT, PBVC_OUTER_EXCLUSION_MM, PBVC_NOISE_EROSION_MM,
                                PBVC_SMOOTHING_MM, PBVC_BIAS_ALIGNED_REFITS, PBVC_DEMONS_ITERATIONS,
                                PBVC_DEMONS_SMOOTHING_MM, PBVC_DEMONS_SPACING_MM)
from ..connectivity import connected_components
from ..errors import InputError
from ..geometry import check_same_geometry, voxel_volume_mm3
from ..io import check_mask_coverage, validate_image
from ..registration import register_rigid
from .brain_extraction import extract_brain, signed_distance_mm
from .filling import fill_lesions
from .tissue import fit_partial_volume_mixture

#: Interpolation of both visits onto the halfway grid: cubic B-spline (Unser, IEEE Signal Process
#: Mag 1999). Linear interpolation blurs each voxel by an amount that depends on its sub-voxel
#: offset, which differs between the visits under rotation; with the clipped BSI window that
#: blur does not cancel: on ch2 scaled by 0.995 with a 2.6 deg / 2.1 mm motion, bias and noise
#: and GM+WM masks, linear read -1.86 % (truth -1.49 %), B-spline -1.55 % (benchmarks/real_data.py).
PBVC_INTERPOLATOR = sitk.sitkBSpline

# ----------------------------------------------------------------------------- registration


def transform_matrix(transform: sitk.Transform) -> np.ndarray:
    """4x4 homogeneous matrix of a rigid/affine transform (LPS mm)."""
    matrix = np.asarray(transform.GetMatrix(), dtype=float).reshape(3, 3)
    center = np.asarray(transform.GetCenter(), dtype=float)
    translation = np.asarray(transform.GetTranslation(), dtype=float)
    out = np.eye(4)
    out[:3, :3] = matrix
    out[:3, 3] = translation + center - matrix @ center
    return out


def affine_from_matrix(matrix: np.ndarray) -> sitk.AffineTransform:
    """SimpleITK affine transform from a 4x4 matrix (centre 0)."""
    transform = sitk.AffineTransform(3)
    transform.SetMatrix(tuple(np.asarray(matrix[:3, :3], dtype=float).ravel()))
    transform.SetTranslation(tuple(np.asarray(matrix[:3, 3], dtype=float)))
    return transform


def halfway_transforms(transform: sitk.Transform) -> tuple[sitk.AffineTransform, sitk.AffineTransform]:
    """Split T (baseline -> follow-up points) into (A, B) = (H^-1, H), H∘H = T.

    Resampling baseline through A and follow-up through B puts both in the halfway
    space, where they align (B = T∘A) and each is moved by half the motion.
    """
    half = np.real(sqrtm(transform_matrix(transform)))
    return affine_from_matrix(np.linalg.inv(half)), affine_from_matrix(half)


# ----------------------------------------------------------------------------- helpers


def _smooth(array, sigma_mm, reference):
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.CopyInformation(reference)
    return sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(image, sigma_mm)).astype(np.float32)


def _crop_box(mask: np.ndarray, margin_vox) -> tuple[list[int], list[int]]:
    idx = np.nonzero(mask)
    lo = [max(int(i.min()) - m, 0) for i, m in zip(idx, margin_vox)]
    hi = [min(int(i.max()) + m + 1, s) for i, m, s in zip(idx, margin_vox, mask.shape)]
    return lo, hi


def _mask_array(mask):
    return sitk.GetArrayFromImage(mask).astype(bool)


def expected_window(mu, sigma, low, high):
    """E[clip((mu + n - low) / (high - low), 0, 1)] for n ~ N(0, sigma^2)."""
    width = high - low
    if sigma <= 0:
        return float(np.clip((mu - low) / width, 0, 1))

    # E[clip(x)] with x ~ N(mu, sigma): (E[max(x-low,0)] - E[max(x-high,0)]) / width
    def relu(t):
        z = (mu - t) / sigma
        return (mu - t) * 0.5 * (1 + erf(z / np.sqrt(2))) + sigma * np.exp(-0.5 * z ** 2) / np.sqrt(2 * np.pi)

    return float((relu(low) - relu(high)) / width)


# ----------------------------------------------------------------------------- measurement


def measure_edge_change(j1: np.ndarray, j2: np.ndarray, region: np.ndarray, brain_union: np.ndarray,
                        reference: sitk.Image, model: dict | None = None, noise_sigma: float | None = None,
                        parcels: np.ndarray | None = None, model_voxels: np.ndarray | None = None) -> dict:
    """Brain volume change between two aligned, bias-matched halfway arrays.

    ``region`` bounds the integral (the intracranial mask, or the union of brain masks
    dilated by a few mm); the shared intensity model is fitted on ``model_voxels``
    (default: ``brain_union`` with its holes, the ventricles, filled, so pure CSF is
    present and skull is not). Bright tissue in the region that is not connected to the
    brain (scalp, marrow, eyes) and a margin around it are left out of the integral.
    Returns volumes in mL, the per-voxel change ``dp`` and the edge band. ``model``/
    ``noise_sigma`` may be given to reuse those of another pair (self-calibration).
    """
    spacing = tuple(float(s) for s in reference.GetSpacing()[::-1])
    vox = voxel_volume_mm3(reference)
    if model is None:
        model = shared_intensity_model(j1, j2, brain_union, region, model_voxels)
    mu = model["means"][:, 0]
    low, high = float(mu[0]), float(mu[1])
    width = high - low
    s1 = _smooth(j1, PBVC_SMOOTHING_MM, reference)
    s2 = _smooth(j2, PBVC_SMOOTHING_MM, reference)
    p1 = (np.clip((s1 - low) / width, 0, 1) * region).astype(np.float32)
    p2 = (np.clip((s2 - low) / width, 0, 1) * region).astype(np.float32)
    mean_p = 0.5 * (p1 + p2)
    joint = brain_component(mean_p > 0.5, brain_union, spacing)
    outer = (mean_p > 0.5) & ~joint
    if outer.any():
        region = region & (signed_distance_mm(outer, spacing) > PBVC_OUTER_EXCLUSION_MM)
        p1 *= region
        p2 *= region
        mean_p = 0.5 * (p1 + p2)
    band = region & (np.abs(signed_distance_mm(joint, spacing)) <= PBVC_EDGE_BAND_MM)
    if noise_sigma is None:
        interior = signed_distance_mm(brain_union, spacing) < -PBVC_NOISE_EROSION_MM
        interior &= mean_p >= 1.0  # WM/GM core, away from edges: differences are noise only
        if interior.sum() < 100:
            interior = brain_union
        diff = (s1 - s2)[interior]
        noise_sigma = float(1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(2))
    e_csf = expected_window(low, noise_sigma, low, high)
    kappa = expected_window(high, noise_sigma, low, high) - e_csf
    p1 = np.clip((s1 - low) / width, 0, 1).astype(np.float32)
    p2 = np.clip((s2 - low) / width, 0, 1).astype(np.float32)
    del s1, s2
    window = region & (signed_distance_mm(joint, spacing) <= PBVC_EDGE_REACH_MM)
    carrier = _WindowCarrier(window, reference, mean_p)
    volumes = [_visit_volumes(p1, p2, carrier, change, e_csf, kappa) for change in (0.0, PBVC_WINDOW_PROBE)]
    change = _consistent_change(volumes)
    weight = change / PBVC_WINDOW_PROBE
    t1 = volumes[0][0] + weight * (volumes[1][0] - volumes[0][0])
    t2 = volumes[0][1] + weight * (volumes[1][1] - volumes[0][1])
    del volumes, p1, p2
    dp = (t2 - t1).astype(np.float32)
    delta_ml = float(dp.sum(dtype=np.float64) * vox / 1000.0)
    v1 = float(t1.sum(dtype=np.float64) * vox / 1000.0)
    v2 = float(t2.sum(dtype=np.float64) * vox / 1000.0)
    out = {"model": model, "noise_sigma": noise_sigma, "kappa": kappa, "dp": dp, "band": band,
           "mean_p": mean_p, "delta_ml_raw": delta_ml * kappa, "delta_ml": delta_ml, "region": region,
           "baseline_brain_ml": v1, "followup_brain_ml": v2, "csf_mean": low, "gm_mean": high}
    if parcels is not None:
        out["parcels"] = _parcel_change(parcels, t1, dp, vox, 1.0)
    return out


class _WindowCarrier:
    """The measurement window carried with each visit's brain.

    The window is the joint brain component, ``PBVC_EDGE_REACH_MM`` of CSF beyond its edge,
    inside the region. A fixed window counts the flux of whatever crosses its limit: the brain
    stem, dura or marrow where they touch the cortex, and, where the per-visit brain components
    were used instead, dura and vessels joining one visit's component and not the other's
    (noise): -0.06 to +0.07 pp on ch2 pairs that differ only in noise seeds. The window of
    visit 1 is scaled about the brain centroid by f^-1/2 and that of visit 2 by f^+1/2, f =
    (1 + change)^(1/3) the linear scale of the brain change between the visits; the weights are
    fractional (linear in the signed distance, one voxel wide) so that the measured volume varies
    smoothly with the window. A known rescaling of one image is then measured exactly (the
    self-calibration reads 1.000-1.005 on ch2)."""

    def __init__(self, region, reference, mean_p):
        self.reference = reference
        distance = sitk.GetImageFromArray(signed_distance_mm(region, tuple(float(v) for v in
                                                                           reference.GetSpacing()[::-1])))
        distance.CopyInformation(reference)
        self.distance = distance
        self.step = float(min(reference.GetSpacing()))
        centre = np.array(ndimage.center_of_mass(mean_p))
        self.centre = reference.TransformContinuousIndexToPhysicalPoint(tuple(float(c) for c in centre[::-1]))
        self.region = region

    def weights(self, visit: int, change: float) -> np.ndarray:
        if change == 0.0:
            return self.region.astype(np.float32)
        factor = (1.0 + change) ** (1.0 / 3.0)
        scale = factor ** (0.5 if visit == 2 else -0.5)
        transform = sitk.ScaleTransform(3, (1.0 / scale,) * 3)
        transform.SetCenter(self.centre)
        distance = sitk.Resample(self.distance, self.reference, transform, sitk.sitkLinear, 1e3, sitk.sitkFloat32)
        return np.clip(1.0 - sitk.GetArrayFromImage(distance) / self.step, 0.0, 1.0).astype(np.float32)


def _visit_volumes(p1, p2, carrier, change, e_csf, kappa):
    """Noise-corrected brain fractions (p - E[p|CSF]) / kappa of both visits, each inside the measurement
    window carried to that visit (:class:`_WindowCarrier`), assuming a brain change ``change``."""
    return [(p - np.float32(e_csf)) / np.float32(kappa) * carrier.weights(visit, change) for visit, p in ((1, p1), (2, p2))]


def _consistent_change(volumes) -> float:
    """The brain change (fraction) consistent with the window it implies: the visit volumes are
    linear in the assumed change (measured at 0 and at ``PBVC_WINDOW_PROBE``); fixed point."""
    sums = [[float(t.sum(dtype=np.float64)) for t in pair] for pair in volumes]
    change = 0.0
    for _ in range(50):
        w = change / PBVC_WINDOW_PROBE
        v1 = sums[0][0] + w * (sums[1][0] - sums[0][0])
        v2 = sums[0][1] + w * (sums[1][1] - sums[0][1])
        change = (v2 - v1) / v1
    return change


def brain_component(bright: np.ndarray, brain_union: np.ndarray, spacing) -> np.ndarray:
    """The 6-connected components of ``bright`` (mean brain fraction > 0.5) that reach the core of
    the brain masks (eroded by ``PBVC_CORE_EROSION_MM``): the brain, without scalp or marrow."""
    core = signed_distance_mm(brain_union, spacing) < -PBVC_CORE_EROSION_MM
    if not (core & bright).any():
        core = brain_union
    labels, _ = connected_components(bright, connectivity=6)
    keep = np.unique(labels[core & bright])
    return np.isin(labels, keep[keep > 0])


def shared_intensity_model(j1, j2, brain_union, region, model_voxels=None) -> dict:
    """One partial-volume model (CSF, GM, WM means) fitted on the voxels of both visits.

    Fitted on ``model_voxels`` (default: the brain masks with their holes filled); when the
    brain masks find no CSF darker than GM (a mask with almost no CSF, low CSF contrast), it is
    refitted on the whole region, which holds the CSF around the brain (not when
    ``model_voxels`` is an intracranial mask, which holds the CSF already). Raises :class:`InputError`
    when even then CSF is not darker than GM by ``PBVC_MIN_CONTRAST_NOISE`` noise SDs.
    """
    inside = ndimage.binary_fill_holes(brain_union) if model_voxels is None else model_voxels
    model = fit_partial_volume_mixture(np.concatenate([j1[inside], j2[inside]]))
    if not _has_contrast(model) and model_voxels is None:   # an intracranial mask holds the CSF: no refit
        model = fit_partial_volume_mixture(np.concatenate([j1[region], j2[region]]))
    mu = model["means"][:, 0]
    if not _has_contrast(model):
        raise InputError("t1", f"no CSF/GM contrast: the CSF mean ({mu[0]:.4g}) is not darker than the GM mean "
                         f"({mu[1]:.4g}) by {PBVC_MIN_CONTRAST_NOISE} noise SDs; is this a T1-weighted image "
                         "with visible CSF (not FLAIR-like or saturated)?")
    weights = np.asarray(model["weights"], dtype=float)
    dark = float(weights[0] / max(weights.sum(), 1e-12))
    if dark > PBVC_MAX_DARK_FRACTION:
        raise InputError("t1", f"no CSF/GM contrast: the darkest class found ({mu[0]:.4g}) holds {100 * dark:.0f} % "
                         f"of the pure-tissue voxels, more than CSF can ({100 * PBVC_MAX_DARK_FRACTION:.0f} %), so "
                         "it is grey matter, not CSF; is this a T1-weighted image with visible CSF (not FLAIR-like, "
                         "saturated or clipped)?")
    return model


def _has_contrast(model) -> bool:
    mu = model["means"][:, 0]
    sd = float(np.sqrt(model["variances"][0, 0]))
    return bool(mu[1] - mu[0] > PBVC_MIN_CONTRAST_NOISE * sd)


def _parcel_change(parcels, p1, dp, vox, kappa):
    labels = parcels.astype(np.int64).ravel()
    n = int(labels.max()) + 1 if labels.size else 1
    base = np.bincount(labels, weights=p1.ravel().astype(np.float64), minlength=n) * vox / 1000
    delta = np.bincount(labels, weights=dp.ravel().astype(np.float64), minlength=n) * vox / 1000 / kappa
    rows = []
    for value in np.nonzero(np.bincount(labels, minlength=n))[0]:
        if value == 0:
            continue
        rows.append({"label": int(value), "baseline_brain_ml": float(base[value]),
                     "delta_ml": float(delta[value]),
                     "change_percent": float(100 * delta[value] / base[value]) if base[value] > 0 else float("nan"),
                     "change_type": CHANGE_WITHIN_FIXED_REGION})
    return rows


def _poly_terms(kji: np.ndarray, order: int) -> np.ndarray:
    """Monomials of total degree <= ``order`` of centred, scaled [k, j, i] coordinates (N, T)."""
    terms = [np.ones(kji.shape[0])]
    for total in range(1, order + 1):
        for a in range(total + 1):
            for b in range(total - a + 1):
                c = total - a - b
                terms.append(kji[:, 0] ** a * kji[:, 1] ** b * kji[:, 2] ** c)
    return np.stack(terms, axis=1)


def differential_bias_field(j1: np.ndarray, j2: np.ndarray, brain: np.ndarray, spacing,
                            order: int = PBVC_DIFFERENTIAL_BIAS_ORDER) -> np.ndarray:
    """Smooth log(j1 / j2) field (array) fitted on the edge-free brain voxels of both visits.

    A polynomial of total degree ``order`` in the voxel coordinates is fitted by least
    squares to the log ratio of the two visits, on brain voxels far from any tissue edge
    (gradient of the mean image below ``PBVC_BIAS_MAX_GRADIENT`` of the intensity range
    per voxel, eroded by one voxel) in every tissue, so that no moving boundary enters the
    fit and the field is interpolated, not extrapolated, to the edges; outliers beyond 3 robust SDs are
    dropped and the fit repeated (Lewis & Fox, NeuroImage 2004, fit a smooth differential
    bias between registered visits; a low-order polynomial as in Styner et al., IEEE TMI 2000).
    With ``PBVC_BIAS_ANATOMY_REGRESSORS``, the log-intensity change that a small shift along
    each axis and a small rescaling about the brain centre would cause (d log m / dx_a and
    (x - c) . grad log m, m the mean image, x in mm) are fitted jointly and left out of the
    returned field, so that the polynomial does not take the anatomical change.
    """
    inner = brain & (j1 > 0) & (j2 > 0)
    if inner.sum() < 100:
        raise InputError("brain mask", "too few brain voxels with signal to match the two visits' intensities")
    mean = ndimage.gaussian_filter(0.5 * (j1 + j2), 1.0)
    grads = np.gradient(mean, *spacing)
    grad = np.sqrt(sum(g ** 2 for g in grads))
    lo, hi = np.percentile(mean[inner], [5.0, 95.0])
    flat = grad < PBVC_BIAS_MAX_GRADIENT * (hi - lo) / max(spacing)
    del grad
    flat = ndimage.binary_erosion(flat, iterations=1)
    core = inner & flat & (mean > lo)
    if core.sum() < 200:
        core = inner
    idx = np.argwhere(core)
    if idx.shape[0] > PBVC_BIAS_MAX_SAMPLES:
        idx = idx[np.random.default_rng(0).choice(idx.shape[0], PBVC_BIAS_MAX_SAMPLES, replace=False)]
    at = tuple(idx.T)
    centre = np.array(j1.shape) / 2.0
    half = np.array(j1.shape) / 2.0
    coords = (idx - centre) / half
    target = np.log(j1[at] / j2[at])
    design = _poly_terms(coords, order)
    n_poly = design.shape[1]
    if PBVC_BIAS_ANATOMY_REGRESSORS:
        dlog = [g[at] / mean[at] for g in grads]          # 1/mm
        brain_centre = np.array(ndimage.center_of_mass(inner))
        radial = sum((idx[:, a] - brain_centre[a]) * spacing[a] * dlog[a] for a in range(3))
        design = np.column_stack([design] + dlog + [radial])
    del grads
    weight = mean[at] / hi  # log-ratio noise is ~ sigma / intensity: weight by intensity
    keep = np.ones(target.size, dtype=bool)
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(design[keep] * weight[keep, None], target[keep] * weight[keep], rcond=None)
        resid = target - design @ coef
        mad = 1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep])))
        keep = np.abs(resid) <= 3.0 * max(mad, 1e-6)
    return _poly_field(coef[:n_poly], j1.shape, centre, half, order)


def _poly_field(coef, shape, centre, half, order) -> np.ndarray:
    """Evaluate the polynomial of :func:`_poly_terms` on the whole grid, term by term (float32)."""
    axes = [((np.arange(n, dtype=np.float32) - c) / h) for n, c, h in zip(shape, centre, half)]
    k, j, i = axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]
    field = np.full(shape, coef[0], dtype=np.float32)
    index = 1
    for total in range(1, order + 1):
        for a in range(total + 1):
            for b in range(total - a + 1):
                c = total - a - b
                field += np.float32(coef[index]) * (k ** a * j ** b * i ** c)
                index += 1
    return field


def _match_intensities(j1, j2, brain, reference):
    """Remove the differential bias (:func:`differential_bias_field`) half from each visit."""
    field = differential_bias_field(j1, j2, brain, tuple(float(s) for s in reference.GetSpacing()[::-1]))
    return j1 * np.exp(-0.5 * field), j2 * np.exp(0.5 * field)


def _scaled(image: sitk.Image, factor: float, center) -> sitk.Image:
    transform = sitk.ScaleTransform(3, (factor, factor, factor))
    transform.SetCenter(tuple(float(c) for c in center))
    return sitk.Resample(image, image, transform, PBVC_INTERPOLATOR, 0.0, sitk.sitkFloat32)


# ----------------------------------------------------------------------------- main entry


def _check_mask(mask, image, name):
    if mask is None:
        return None
    mask = validate_image(mask, "mask", name)
    check_same_geometry(mask, image, names=(name, name.replace("mask", "t1")))
    if not sitk.GetArrayViewFromImage(mask).any():
        raise InputError(name, "brain mask is empty")
    check_mask_coverage(mask, name)  # an all-ones mask gave a PBVC of -94237 % (issue 13)
    return sitk.Cast(mask > 0, sitk.sitkUInt8)


def compute_pbvc(baseline: sitk.Image, followup: sitk.Image, baseline_mask: sitk.Image | None = None,
                 followup_mask: sitk.Image | None = None, interval_years: float | None = None,
                 baseline_lesions: sitk.Image | None = None, followup_lesions: sitk.Image | None = None,
                 baseline_parcellation: sitk.Image | None = None,
                 calibrate: bool = PBVC_APPLY_CALIBRATION, brain_extraction=None) -> dict:
    """PBVC (%) from baseline to follow-up T1, with the edge-displacement map on the baseline grid.

    Without a baseline mask, the baseline is brain-extracted (:func:`.brain_extraction.extract_brain`,
    or the given ``brain_extraction`` result) and the integral is bounded by its intracranial
    mask carried to both visits by the registration; with masks (any kind: GM + WM, BET-style
    with CSF), by the masks dilated by ``PBVC_MASK_DILATION_MM`` without the scalp.

    Returns a dict: ``pbvc_percent`` (calibrated when ``calibrate``), ``pbvc_percent_uncalibrated``,
    ``pbvc_annualised_percent_per_year`` (when ``interval_years``), ``calibration_factor``,
    ``calibration_known_percent``/``calibration_measured_percent``, ``baseline_brain_ml``,
    ``delta_brain_ml``, ``noise_kappa``, ``rigid_translation_mm``, ``rigid_rotation_deg``,
    ``regional_change`` ("within a fixed region"), ``displacement_map`` (sitk float32 image
    on the baseline grid, mm, + outward / - atrophy), ``brain_mask`` (baseline grid, uint8),
    ``brain_extraction_method``, ``regions`` (rows, if a parcellation is given), ``method``.
    """
    baseline = validate_image(baseline, "intensity", "baseline T1")
    followup = validate_image(followup, "intensity", "follow-up T1")
    if interval_years is not None and not (np.isfinite(interval_years) and interval_years > 0):
        raise InputError("interval_years", f"must be a positive number of years, not {interval_years!r}")
    bmask = _check_mask(baseline_mask, baseline, "baseline mask")
    fmask = _check_mask(followup_mask, followup, "follow-up mask")
    icv = None
    extraction_method = "given mask"
    if bmask is None:
        extraction = brain_extraction if brain_extraction is not None else extract_brain(baseline)
        bmask, icv = extraction.mask, extraction.icv
        extraction_method = extraction.method

    if baseline_lesions is not None or followup_lesions is not None:
        baseline = _filled(baseline, baseline_lesions, bmask, "baseline lesions")
        followup = _filled(followup, followup_lesions, fmask if fmask is not None else bmask, "follow-up lesions")

    focus = sitk.BinaryDilate(bmask if icv is None else icv, (2, 2, 2))
    margin = [int(np.ceil(PBVC_CROP_MARGIN_MM / s)) for s in baseline.GetSpacing()[::-1]]
    lo, hi = _crop_box(_mask_array(focus), margin)
    size, index = [hi[2] - lo[2], hi[1] - lo[1], hi[0] - lo[0]], [lo[2], lo[1], lo[0]]
    transform = register_rigid(sitk.RegionOfInterest(baseline, size, index), followup,
                               sitk.RegionOfInterest(focus, size, index), metric="correlation")
    a_half, b_half = halfway_transforms(transform)

    # halfway grid: baseline grid cropped to the joint brain (or intracranial) box
    extent = _mask_array(bmask if icv is None else icv)
    if fmask is not None:
        extent = extent | _mask_array(sitk.Resample(fmask, baseline, transform, sitk.sitkNearestNeighbor, 0,
                                                    sitk.sitkUInt8))
    margin = [int(np.ceil(PBVC_CROP_MARGIN_MM / s)) for s in baseline.GetSpacing()[::-1]]
    lo, hi = _crop_box(extent, margin)
    del extent
    grid = sitk.RegionOfInterest(baseline, [hi[2] - lo[2], hi[1] - lo[1], hi[0] - lo[0]], [lo[2], lo[1], lo[0]])

    def to_half(image, transform_, interp=sitk.sitkLinear):
        if interp != sitk.sitkLinear:   # B-spline coefficients on the part that maps to the grid only
            image = _cover(image, grid, transform_)
        return sitk.GetArrayFromImage(sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), grid, transform_, interp,
                                                    0.0, sitk.sitkFloat32))

    spacing = tuple(float(s) for s in grid.GetSpacing()[::-1])
    m1 = to_half(bmask, a_half) > 0.5
    m2 = to_half(fmask, b_half) > 0.5 if fmask is not None else to_half(bmask, b_half) > 0.5
    brain_union = m1 | m2
    model_voxels = None
    if icv is None:
        region = signed_distance_mm(brain_union, spacing) <= PBVC_MASK_DILATION_MM
    else:
        icv_half = (to_half(icv, a_half) > 0.5) | (to_half(icv, b_half) > 0.5)
        region = signed_distance_mm(icv_half | brain_union, spacing) <= PBVC_MASK_DILATION_MM
        model_voxels = icv_half
    j1_raw, j2_raw = to_half(baseline, a_half, PBVC_INTERPOLATOR), to_half(followup, b_half, PBVC_INTERPOLATOR)
    j1, j2 = _match_intensities(j1_raw, j2_raw, brain_union, grid)
    for _ in range(PBVC_BIAS_ALIGNED_REFITS):
        field = differential_bias_field(j1_raw, warped_onto(j1, j2, j2_raw, grid), brain_union, spacing)
        j1, j2 = j1_raw * np.exp(-0.5 * field), j2_raw * np.exp(0.5 * field)
        del field
    del j1_raw, j2_raw

    parcels = None
    if baseline_parcellation is not None:
        parc = validate_image(baseline_parcellation, "label", "baseline parcellation")
        check_same_geometry(parc, baseline, names=("baseline parcellation", "baseline T1"))
        parcels = sitk.GetArrayFromImage(sitk.Resample(parc, grid, a_half, sitk.sitkNearestNeighbor, 0,
                                                       sitk.sitkUInt32))
    main = measure_edge_change(j1, j2, region, brain_union, grid, parcels=parcels, model_voxels=model_voxels)
    pbvc_raw = 100.0 * main["delta_ml"] / main["baseline_brain_ml"]

    # self-calibration: rescale the baseline halfway image by a known factor
    j1_image = sitk.GetImageFromArray(j1.astype(np.float32))
    j1_image.CopyInformation(grid)
    del j1, j2
    weights = main["mean_p"]
    centroid_kji = np.array(ndimage.center_of_mass(weights))
    center = grid.TransformContinuousIndexToPhysicalPoint(tuple(float(c) for c in centroid_kji[::-1]))
    s = PBVC_CALIBRATION_SCALE
    shrunk = sitk.GetArrayFromImage(_scaled(j1_image, np.sqrt(s), center))
    grown = sitk.GetArrayFromImage(_scaled(j1_image, 1.0 / np.sqrt(s), center))
    del j1_image
    cal = measure_edge_change(shrunk, grown, main["region"], brain_union, grid, model=main["model"],
                              noise_sigma=main["noise_sigma"])
    del shrunk, grown
    known = 100.0 * (s ** 3 - 1.0)
    measured = 100.0 * cal["delta_ml"] / cal["baseline_brain_ml"]
    del cal
    factor = known / measured if measured != 0 else float("nan")
    lo_b, hi_b = PBVC_CALIBRATION_BOUNDS
    applied = bool(calibrate and np.isfinite(factor) and lo_b <= factor <= hi_b)
    pbvc = pbvc_raw * factor if applied else pbvc_raw

    # edge displacement map (mm) in halfway space, then onto the baseline grid
    grad = np.zeros_like(weights, dtype=np.float32)
    for axis, step in enumerate(spacing):
        grad += np.gradient(weights, step, axis=axis).astype(np.float32) ** 2
    grad = np.sqrt(grad)
    edge = main["band"] & (grad > PBVC_MIN_EDGE_GRADIENT)
    shift = np.where(edge, main["dp"] / (main["kappa"] * np.maximum(grad, PBVC_MIN_EDGE_GRADIENT)), 0.0)
    del grad
    shift_image = sitk.GetImageFromArray(shift.astype(np.float32))
    shift_image.CopyInformation(grid)
    displacement = sitk.Resample(shift_image, baseline, b_half, sitk.sitkLinear, 0.0, sitk.sitkFloat32)

    matrix = transform_matrix(transform)
    rotation = np.degrees(np.arccos(np.clip((np.trace(matrix[:3, :3]) - 1) / 2, -1, 1)))
    result = {
        "pbvc_percent": float(pbvc),
        "pbvc_percent_uncalibrated": float(pbvc_raw),
        "calibration_factor": float(factor),
        "calibration_applied": applied,
        "calibration_known_percent": float(known),
        "calibration_measured_percent": float(measured),
        "baseline_brain_ml": main["baseline_brain_ml"],
        "followup_brain_ml": main["followup_brain_ml"],
        "delta_brain_ml": float(main["delta_ml"] * (factor if applied else 1.0)),
        "noise_sigma": main["noise_sigma"],
        "noise_kappa": float(main["kappa"]),
        "csf_mean": main["csf_mean"],
        "gm_mean": main["gm_mean"],
        "edge_voxels": int(edge.sum()),
        "rigid_translation_mm": float(np.linalg.norm(matrix[:3, 3])),
        "rigid_rotation_deg": float(rotation),
        "interval_years": interval_years,
        "regional_change": CHANGE_WITHIN_FIXED_REGION,
        "brain_extraction_method": extraction_method,
        "integration_region": f"each visit's brain + {PBVC_EDGE_REACH_MM} mm, inside the "
                              + ("intracranial mask" if icv is not None else "brain masks")
                              + f" dilated by {PBVC_MASK_DILATION_MM} mm, scalp excluded",
        "method": "edge displacement flux on a shared partial-volume brain map in halfway space "
                  "(boundary-shift integral form), SIENA-like self-calibration",
        "displacement_map": displacement,
        "brain_mask": bmask,
    }
    if interval_years is not None:
        result["pbvc_annualised_percent_per_year"] = float(pbvc / interval_years)
    if parcels is not None:
        rows = main["parcels"]
        if applied:
            for row in rows:
                row["delta_ml"] *= factor
                row["change_percent"] *= factor
        result["regions"] = rows
    return result


def warped_onto(fixed: np.ndarray, moving: np.ndarray, values: np.ndarray, grid: sitk.Image) -> np.ndarray:
    """``values`` (an array on ``grid``) warped by the smooth deformation that takes ``moving`` onto ``fixed``.

    Symmetric-forces demons (Thirion, Med Image Anal 1998; Vercauteren et al., NeuroImage 2009),
    run on copies resampled to ``PBVC_DEMONS_SPACING_MM`` with a Gaussian-regularised field
    (``PBVC_DEMONS_SMOOTHING_MM``): smooth enough to follow atrophy (brain contraction, ventricle
    growth, edge shifts of tenths of a mm), too smooth to mimic an intensity bias. Used only to
    take the anatomical change out of the differential bias fit; the volumes are measured on the
    unwarped images.
    """
    def image(array):
        out = sitk.GetImageFromArray(array.astype(np.float32))
        out.CopyInformation(grid)
        return out

    step = PBVC_DEMONS_SPACING_MM
    coarse = sitk.Image([max(int(round(n * s / step)), 4) for n, s in zip(grid.GetSize(), grid.GetSpacing())],
                        sitk.sitkFloat32)
    coarse.SetSpacing((step,) * 3)
    coarse.SetOrigin(grid.GetOrigin())
    coarse.SetDirection(grid.GetDirection())

    def down(array):
        return sitk.Resample(sitk.SmoothingRecursiveGaussian(image(array), step / 2), coarse, sitk.Transform(),
                             sitk.sitkLinear, 0.0)

    demons = sitk.FastSymmetricForcesDemonsRegistrationFilter()
    demons.SetNumberOfIterations(PBVC_DEMONS_ITERATIONS)
    demons.SetSmoothDisplacementField(True)
    demons.SetStandardDeviations(PBVC_DEMONS_SMOOTHING_MM / step)   # in voxels of the coarse grid
    warp = sitk.DisplacementFieldTransform(sitk.Cast(demons.Execute(down(fixed), down(moving)), sitk.sitkVectorFloat64))
    return sitk.GetArrayFromImage(sitk.Resample(image(values), grid, warp, PBVC_INTERPOLATOR, 0.0, sitk.sitkFloat32))


def _cover(image: sitk.Image, grid: sitk.Image, transform: sitk.Transform, margin: int = 8) -> sitk.Image:
    """The part of ``image`` that ``transform`` maps ``grid`` into, plus ``margin`` voxels (the
    cubic B-spline prefilter's influence falls as 0.27^n, below 1e-4 at 8 voxels)."""
    size = grid.GetSize()
    corners = [grid.TransformIndexToPhysicalPoint([int(c) for c in (i, j, k)])
               for i in (0, size[0] - 1) for j in (0, size[1] - 1) for k in (0, size[2] - 1)]
    index = np.array([image.TransformPhysicalPointToContinuousIndex(transform.TransformPoint(p)) for p in corners])
    lo = np.maximum(np.floor(index.min(axis=0)).astype(int) - margin, 0)
    hi = np.minimum(np.ceil(index.max(axis=0)).astype(int) + margin + 1, np.array(image.GetSize()))
    if np.any(hi <= lo):
        return image
    return sitk.RegionOfInterest(image, [int(v) for v in hi - lo], [int(v) for v in lo])


def _filled(image, lesions, mask, name):
    if lesions is None:
        return image
    lesions = validate_image(lesions, "mask", name)
    check_same_geometry(lesions, image, names=(name, name.replace("lesions", "T1")))
    array = sitk.GetArrayFromImage(image)
    spacing = tuple(float(s) for s in image.GetSpacing()[::-1])
    filled = fill_lesions(array, _mask_array(lesions), _mask_array(mask) | _mask_array(lesions), spacing)
    out = sitk.GetImageFromArray(filled)
    out.CopyInformation(image)
    return out
