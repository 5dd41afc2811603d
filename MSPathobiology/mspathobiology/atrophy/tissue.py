"""CSF / GM / WM classification with partial-volume fractions, on a T1 (FLAIR optional).

Method (after FSL FAST, Zhang, Brady & Smith, IEEE TMI 2001):

1. a 3-class Gaussian mixture fitted by EM on the intensities inside the brain mask
   (one feature, T1; with a FLAIR, a 2-feature mixture with diagonal covariance);
2. a Potts Markov random field prior on the 6-neighbourhood, solved by mean-field
   updates that alternate with re-estimation of the class means and variances;
3. partial-volume fractions: voxels whose 6-neighbourhood carries one hard label are
   pure; the others get the linear mixing fractions of the two adjacent classes in
   T1 intensity (mixel model, Santago & Gage, IEEE TMI 1993; Shattuck et al. 2001).

Arrays are numpy [k, j, i]; volumes are returned in mL (1 mL = 1000 mm^3).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..defaults.atrophy import (EM_MAX_ITERATIONS, EM_TOLERANCE, MRF_BETA, MRF_ITERATIONS,
                                PV_BOUNDARY_CONNECTIVITY, PV_HISTOGRAM_BINS, PV_INIT_SAMPLES,
                                PV_MIN_CLASS_FRACTION, PV_MIXING_STEPS, TISSUE_FIT_SAMPLES, TISSUE_FIT_SEED,
                                TISSUE_LABELS)
from ..connectivity import structuring_element
from ..errors import InputError

CLASSES = tuple(TISSUE_LABELS)  # ("csf", "gm", "wm") in T1 intensity order


def _gauss_loglik(x: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """Log-likelihood of N samples (N, F) under K diagonal Gaussians -> (N, K), in ``x``'s float type."""
    dtype = np.result_type(x.dtype, np.float32)
    out = np.empty((means.shape[0], x.shape[0]), dtype=dtype)
    for k in range(means.shape[0]):
        d = x - means[k].astype(dtype)
        d *= d
        np.dot(d, (1.0 / variances[k]).astype(dtype), out=out[k])
        out[k] += dtype.type(np.sum(np.log(2 * np.pi * variances[k])))
    out *= -0.5
    return out.T


def _posterior(loglik: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    z = loglik + log_prior
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _m_step(x, post):
    """Class weights, means and variances (float64 sums) from posteriors ``post`` (N, K) of samples ``x`` (N, F)."""
    x64 = np.asarray(x, dtype=np.float64)
    post = np.asarray(post, dtype=np.float64)
    weights = post.sum(axis=0) + 1e-9
    means = (post.T @ x64) / weights[:, None]
    var = np.stack([post[:, k] @ ((x64 - means[k]) ** 2) / weights[k] for k in range(post.shape[1])])
    floor = 1e-4 * np.var(x64, axis=0)[None] + 1e-12
    return means, np.maximum(var, floor), weights / weights.sum()


def fit_subsample(samples: np.ndarray, size: int = TISSUE_FIT_SAMPLES, seed: int = TISSUE_FIT_SEED) -> np.ndarray:
    """At most ``size`` rows of ``samples`` (N,) or (N, F): all of them when N <= ``size``, else a
    seeded random subset without replacement, in their original order (deterministic)."""
    samples = np.asarray(samples)
    if size is None or samples.shape[0] <= size:
        return samples
    rng = np.random.default_rng(seed)
    return samples[np.sort(rng.choice(samples.shape[0], size=int(size), replace=False))]


def fit_mixture(samples: np.ndarray, n_classes: int = 3, max_iterations: int = EM_MAX_ITERATIONS,
                tolerance: float = EM_TOLERANCE, max_samples: int | None = TISSUE_FIT_SAMPLES) -> dict:
    """EM fit of a diagonal Gaussian mixture to ``samples`` (N,) or (N, F).

    With more than ``max_samples`` samples the fit runs on a seeded random subsample of that
    size (:func:`fit_subsample`; ``None`` = all samples). Classes are initialised at intensity
    quantiles of the first feature and returned sorted by the mean of the first feature
    (T1: CSF < GM < WM). Returns ``{"means" (K, F), "variances" (K, F), "weights" (K,)}``.
    """
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] < 10 * n_classes:
        raise InputError("brain mask", f"only {x.shape[0]} voxels; too few to fit {n_classes} tissue classes")
    x = np.asarray(fit_subsample(x, max_samples), dtype=np.float64)
    order = np.argsort(x[:, 0])
    bounds = np.linspace(0, x.shape[0], n_classes + 1).astype(int)
    post = np.zeros((x.shape[0], n_classes))
    for k in range(n_classes):
        post[order[bounds[k]:bounds[k + 1]], k] = 1.0
    means, var, weights = _m_step(x, post)
    for _ in range(max_iterations):
        post = _posterior(_gauss_loglik(x, means, var), np.log(weights)[None])
        new_means, var, weights = _m_step(x, post)
        change = np.max(np.abs(new_means - means) / (np.abs(means) + 1e-9))
        means = new_means
        if change < tolerance:
            break
    idx = np.argsort(means[:, 0])
    return {"means": means[idx], "variances": var[idx], "weights": weights[idx]}


def _robust_start(x, counts, centers):
    """Initial CSF, GM, WM means for T1: GM and WM from a 2-class mixture of the brighter
    voxels (the two big peaks of a brain histogram), CSF at the histogram mode of the voxels
    darker than GM by 3 SD (ventricles; partial-volume voxels spread flat above it)."""
    rng = np.random.default_rng(0)
    sub = x if x.size <= PV_INIT_SAMPLES else rng.choice(x, PV_INIT_SAMPLES, replace=False)
    bright = sub[sub > np.percentile(sub, 10.0)]
    two = fit_mixture(bright, n_classes=2)
    mu_gm, mu_wm = two["means"][:, 0]
    sd = float(np.sqrt(two["variances"][0, 0]))
    noise = float(np.sqrt(np.min(two["variances"])))
    dark = centers < mu_gm - 3.0 * sd
    if counts[dark].sum() >= 10:
        smooth = ndimage.gaussian_filter1d(np.where(dark, counts, 0.0), 2.0)
        mu_csf = float(centers[int(np.argmax(smooth))])
    else:
        mu_csf = float(np.percentile(x, 0.5))
    mu = np.array([mu_csf, mu_gm, mu_wm])
    var = np.full(3, noise ** 2)
    frac_dark = float(counts[dark].sum() / counts.sum())
    weights = np.array([max(frac_dark, 0.01), 0.05, two["weights"][0], 0.05, two["weights"][1]])
    return mu, var, weights / weights.sum()


def fit_partial_volume_mixture(samples: np.ndarray, bins: int = PV_HISTOGRAM_BINS,
                                max_iterations: int = EM_MAX_ITERATIONS * 5,
                                tolerance: float = EM_TOLERANCE) -> dict:
    """EM fit of 3 pure classes (CSF, GM, WM) plus 2 mixing classes (CSF/GM, GM/WM) on T1 values.

    A mixing class between pure classes a and b has the density of
    ``(1 - t) x_a + t x_b`` with t uniform on [0, 1] (mixel model, Santago & Gage,
    IEEE TMI 1993; the PV classes of FAST, Zhang et al. 2001), so partial-volume voxels
    no longer drag the pure means toward each other. The pure classes share one variance
    (acquisition noise), so a broad CSF class cannot swallow the CSF/GM continuum. The
    fit runs on a histogram of ``bins`` bins.
    Returns ``{"means" (3, 1), "variances" (3, 1), "weights" (3,), "mixing_weights" (2,)}``.
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < 100:
        raise InputError("brain mask", f"only {x.size} voxels; too few to fit the tissue classes")
    lo, hi = np.percentile(x, [0.05, 99.95])
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    centers = 0.5 * (edges[1:] + edges[:-1])
    counts = counts.astype(np.float64)
    mu, var, weights = _robust_start(x, counts, centers)
    t = (np.arange(PV_MIXING_STEPS) + 0.5) / PV_MIXING_STEPS

    def dens(m, v):
        return np.exp(-0.5 * (centers - m) ** 2 / v) / np.sqrt(2 * np.pi * v)

    def mix(a, b):
        m = (1 - t)[:, None] * mu[a] + t[:, None] * mu[b]
        v = (1 - t)[:, None] * var[a] + t[:, None] * var[b]
        return (np.exp(-0.5 * (centers[None] - m) ** 2 / v) / np.sqrt(2 * np.pi * v)).mean(axis=0)

    for _ in range(max_iterations):
        comp = np.stack([dens(mu[0], var[0]), mix(0, 1), dens(mu[1], var[1]), mix(1, 2), dens(mu[2], var[2])])
        comp *= weights[:, None]
        total = comp.sum(axis=0) + 1e-300
        resp = comp / total * counts[None]
        weights = resp.sum(axis=1) / counts.sum()
        new_mu = mu.copy()
        pooled = 0.0
        for k, row in zip(range(3), (0, 2, 4)):
            wk = resp[row].sum() + 1e-12
            if wk >= PV_MIN_CLASS_FRACTION * counts.sum():   # a vanishing class keeps its mean
                new_mu[k] = (resp[row] * centers).sum() / wk
            pooled += (resp[row] * (centers - new_mu[k]) ** 2).sum()
        var[:] = max(pooled / (resp[[0, 2, 4]].sum() + 1e-12), (edges[1] - edges[0]) ** 2)
        change = np.max(np.abs(new_mu - mu) / (np.abs(mu) + 1e-9))
        mu = new_mu
        if change < tolerance:
            break
    pure = weights[[0, 2, 4]]
    return {"means": mu[:, None], "variances": var[:, None], "weights": pure / pure.sum(),
            "mixing_weights": weights[[1, 3]]}


def _neighbour_sum(volume: np.ndarray) -> np.ndarray:
    kernel = ndimage.generate_binary_structure(3, 1).astype(np.float32)
    kernel[1, 1, 1] = 0
    return ndimage.correlate(volume, kernel, mode="constant", cval=0.0)


def _box(mask: np.ndarray) -> tuple:
    """Bounding box of ``mask`` grown by one voxel (clipped to the array): slices [k, j, i]."""
    nz = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
    return tuple(slice(max(int(n[0]) - 1, 0), min(int(n[-1]) + 2, size)) for n, size in zip(nz, mask.shape))


def classify(t1: np.ndarray, mask: np.ndarray, flair: np.ndarray | None = None, beta: float = MRF_BETA,
             mrf_iterations: int = MRF_ITERATIONS, model: dict | None = None,
             fit_samples: int | None = TISSUE_FIT_SAMPLES) -> dict:
    """Classify brain voxels into CSF, GM, WM with an MRF prior and partial-volume fractions.

    ``t1`` (and optional ``flair``) are float arrays [k, j, i]; ``mask`` is the
    intracranial/brain mask. ``model`` (from :func:`fit_mixture`) fixes the intensity
    model instead of fitting it (used to share one model between visits); otherwise it is
    fitted on a seeded subsample of ``fit_samples`` of the mask's voxels (None = all) and
    every voxel is then classified (float32), within the mask's bounding box.

    Returns ``{"labels"}`` (uint8, 0 outside, 1 CSF, 2 GM, 3 WM), ``"pv"`` (float32
    (3, k, j, i) fractions summing to 1 inside the mask), ``"posterior"`` (float32
    (3, k, j, i)), ``"means"``, ``"variances"``.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise InputError("brain mask", "is empty (no voxel inside)")
    if t1.shape != mask.shape or (flair is not None and flair.shape != t1.shape):
        raise InputError("t1/flair/mask", f"array shapes differ: {t1.shape}, {mask.shape}"
                         + ("" if flair is None else f", {flair.shape}"))
    box = _box(mask)
    inside = mask[box]
    feats = [t1[box][inside]] + ([] if flair is None else [flair[box][inside]])
    x = np.stack(feats, axis=1).astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise InputError("t1", "contains NaN or infinite values inside the brain mask")
    fixed = model is not None
    if model is None:
        model = fit_mixture(x, max_samples=fit_samples)
    means, var, weights = model["means"], model["variances"], model["weights"]
    n_classes = means.shape[0]
    loglik = _gauss_loglik(x, means, var)
    post = _posterior(loglik, np.log(weights)[None].astype(np.float32))
    q = np.zeros((n_classes,) + inside.shape, dtype=np.float32)
    for _ in range(mrf_iterations):
        for k in range(n_classes):
            q[k][inside] = post[:, k]
        field = np.stack([_neighbour_sum(q[k])[inside] for k in range(n_classes)], axis=1)
        post = _posterior(loglik, np.float32(beta) * field)
        if fixed:
            continue
        means, var, _ = _m_step(x, post)
        loglik = _gauss_loglik(x, means, var)
    del loglik
    posterior = np.zeros((n_classes,) + mask.shape, dtype=np.float32)
    for k in range(n_classes):
        posterior[k][box][inside] = post[:, k]
    labels = np.zeros(mask.shape, dtype=np.uint8)
    labels[box][inside] = (np.argmax(post, axis=1) + 1).astype(np.uint8)
    del post, q
    pv = np.zeros((3,) + mask.shape, dtype=np.float32)
    pv[(slice(None),) + box] = partial_volumes(t1[box], labels[box], means[:, 0])
    return {"labels": labels, "pv": pv, "posterior": posterior, "means": means, "variances": var}


def partial_volumes(t1: np.ndarray, labels: np.ndarray, class_means) -> np.ndarray:
    """Partial-volume fractions (3, k, j, i) of CSF, GM, WM from hard labels and T1.

    Pure voxels (6-neighbourhood all one label inside the mask) keep fraction 1 of their
    label; boundary voxels are split between the two classes whose means bracket their
    intensity (linear mixing); below the CSF mean it is pure CSF, above WM pure WM.
    """
    mu = np.asarray(class_means, dtype=np.float64)
    inside = labels > 0
    pv = np.zeros((3,) + labels.shape, dtype=np.float32)
    struct = structuring_element(PV_BOUNDARY_CONNECTIVITY)
    lab = labels.astype(np.int16)
    hi = ndimage.maximum_filter(np.where(inside, lab, 0), footprint=struct, mode="nearest")
    lo = ndimage.minimum_filter(np.where(inside, lab, 99), footprint=struct, mode="nearest")
    pure = inside & (hi == lo)
    boundary = inside & ~pure
    for k in range(3):
        pv[k][pure & (labels == k + 1)] = 1.0
    v = t1[boundary].astype(np.float64)
    frac = np.zeros((3, v.size))
    a = np.clip((v - mu[0]) / (mu[1] - mu[0]), 0, 1)      # GM share between CSF and GM
    b = np.clip((v - mu[1]) / (mu[2] - mu[1]), 0, 1)      # WM share between GM and WM
    low = v <= mu[1]
    frac[0] = np.where(low, 1 - a, 0)
    frac[1] = np.where(low, a, 1 - b)
    frac[2] = np.where(low, 0, b)
    for k in range(3):
        pv[k][boundary] = frac[k]
    return pv


def tissue_volumes_ml(pv: np.ndarray, voxel_mm3: float, exclude: np.ndarray | None = None) -> dict:
    """Sum partial-volume fractions into mL per class; voxels in ``exclude`` (lesions) are not counted."""
    out = {}
    for k, name in enumerate(CLASSES):
        frac = pv[k] if exclude is None else np.where(exclude, 0, pv[k])
        out[f"{name}_ml"] = float(frac.sum(dtype=np.float64) * voxel_mm3 / 1000.0)
    return out
