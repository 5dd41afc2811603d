"""Rims on high-pass filtered phase: a local field-to-source inversion, then the QSM rule.

A paramagnetic rim's own phase changes sign with the angle of the edge to B0 (dipole kernel
``1/3 - cos^2``: paramagnetic beyond the magic angle, diamagnetic towards the poles; Wisnieff
et al., MRM 2015), so a rule made for QSM undercounts rims when applied to phase. Instead the
unwrapped, high-pass filtered phase is converted to a relative field (ppm) and inverted to a
LOCAL susceptibility map (ppb) by truncated k-space division (TKD; Shmueli et al., MRM 2009;
Wharton et al., MRM 2010) with the image's own B0 direction (an oblique grid has an oblique
B0). The scanner's high-pass has already removed the background field; what it has also
removed (slow variations) leaves the result a high-pass susceptibility, so rims are judged
against the surrounding white matter only (not the lesion core). This module is the analysis's
own dipole model, written independently of the phantom's forward model.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import fft

from ..defaults import rims as D
from ..errors import InputError


def b0_direction_kji(image: sitk.Image) -> np.ndarray:
    """Unit B0 direction (scanner superior-inferior, LPS z) in the image's array frame (k, j, i)."""
    m = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    along_ijk = m.T @ np.array([0.0, 0.0, 1.0])  # projections of B0 on the voxel axes i, j, k
    return along_ijk[::-1] / np.linalg.norm(along_ijk)


def phase_to_field_ppm(phase: np.ndarray, phase_sign: int = D.DEFAULT_PHASE_SIGN,
                       b0_tesla: float = D.DEFAULT_B0_TESLA, te_ms: float = D.DEFAULT_TE_MS) -> np.ndarray:
    """Relative field dB/B0 (ppm, paramagnetic positive) of phase (rad) = phase_sign * gamma * B0 * TE * dB/B0."""
    if phase_sign not in (1, -1):
        raise InputError("--phase-sign", f"must be +1 or -1, not {phase_sign!r}")
    if b0_tesla <= 0 or te_ms <= 0:
        raise InputError("phase", f"field strength ({b0_tesla} T) and echo time ({te_ms} ms) must be positive")
    scale = phase_sign * D.GAMMA_RAD_PER_S_PER_T * b0_tesla * te_ms * 1e-3 * 1e-6
    return (np.asarray(phase, dtype=np.float32) / np.float32(scale)).astype(np.float32)


def _kernel(shape, spacing_kji, b0_kji) -> np.ndarray:
    """Dipole kernel 1/3 - (k . b)^2 / |k|^2 on an rfft grid (0 at k = 0)."""
    freqs = [np.fft.fftfreq(shape[0], spacing_kji[0]), np.fft.fftfreq(shape[1], spacing_kji[1]),
             np.fft.rfftfreq(shape[2], spacing_kji[2])]
    kk, kj, ki = (f.astype(np.float32).reshape([-1 if a == n else 1 for a in range(3)]) for n, f in enumerate(freqs))
    k2 = kk * kk + kj * kj + ki * ki
    kb = np.float32(b0_kji[0]) * kk + np.float32(b0_kji[1]) * kj + np.float32(b0_kji[2]) * ki
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = np.float32(1.0 / 3.0) - kb * kb / k2
    kernel[0, 0, 0] = 0.0
    return kernel


def local_susceptibility(phase: np.ndarray, spacing_kji, mask: np.ndarray | None = None, *,
                         b0_kji=(1.0, 0.0, 0.0), phase_sign: int = D.DEFAULT_PHASE_SIGN,
                         b0_tesla: float = D.DEFAULT_B0_TESLA, te_ms: float = D.DEFAULT_TE_MS,
                         threshold: float = D.PHASE_TKD_THRESHOLD, pad: int = D.PHASE_PAD_VOXELS) -> np.ndarray:
    """Local susceptibility (ppb, float32, [k, j, i]) of high-pass filtered phase (rad) by TKD.

    ``mask``: voxels with valid phase (brain); the field is zero outside it and so is the result.
    ``b0_kji``: B0 direction in the array frame (:func:`b0_direction_kji`); ``spacing_kji`` mm.
    Kernel values below ``threshold`` in magnitude are replaced by +-threshold.
    """
    field = phase_to_field_ppm(phase, phase_sign, b0_tesla, te_ms)
    mask = np.ones(field.shape, bool) if mask is None else np.asarray(mask, bool)
    field = np.where(mask, field, np.float32(0.0))
    b = np.asarray(b0_kji, dtype=float)
    b = b / np.linalg.norm(b)
    shape = tuple(fft.next_fast_len(n + 2 * pad, real=True) for n in field.shape)
    padded = np.zeros(shape, np.float32)
    nk, nj, ni = field.shape
    padded[pad:pad + nk, pad:pad + nj, pad:pad + ni] = field
    kernel = _kernel(shape, np.broadcast_to(np.asarray(spacing_kji, float), (3,)), b)
    kernel = np.where(np.abs(kernel) < threshold, np.where(kernel < 0, -threshold, threshold), kernel)
    chi = fft.irfftn(fft.rfftn(padded, workers=2) / kernel, s=shape, workers=2)
    chi = chi[pad:pad + nk, pad:pad + nj, pad:pad + ni] * np.float32(1000.0)  # ppm -> ppb
    return np.where(mask, chi, np.float32(0.0)).astype(np.float32)


def local_susceptibility_image(phase: sitk.Image, mask: sitk.Image | None = None, **options) -> sitk.Image:
    """:func:`local_susceptibility` of a phase image (rad), with B0 from the image's direction; ppb image."""
    spacing = np.asarray(phase.GetSpacing(), dtype=float)[::-1]
    arr = sitk.GetArrayViewFromImage(phase)
    m = None if mask is None else sitk.GetArrayViewFromImage(mask) > 0
    options.setdefault("b0_kji", b0_direction_kji(phase))
    out = sitk.GetImageFromArray(local_susceptibility(arr, spacing, m, **options))
    out.CopyInformation(phase)
    return out


def phase_mask_from_phase(phase: np.ndarray, min_coherence: float = D.PHASE_COHERENCE_MIN,
                          erode_voxels: int = D.PHASE_MASK_EROSION_VOXELS) -> np.ndarray:
    """Voxels [k, j, i] with locally coherent phase: |mean exp(i phase)| over 3 x 3 x 3 >= ``min_coherence``.

    Noise outside the head (and in the skull) has random phase. The coherent voxels are eroded
    by ``erode_voxels`` (cutting thin bridges between brain and scalp), the largest component
    is kept, dilated back within the coherent voxels and its holes filled.
    """
    from scipy import ndimage

    from ..connectivity import connected_components, structuring_element

    phase = np.asarray(phase, dtype=np.float32)
    c = ndimage.uniform_filter(np.cos(phase), 3)
    s = ndimage.uniform_filter(np.sin(phase), 3)
    coherent = np.hypot(c, s) >= min_coherence
    core = ndimage.binary_erosion(coherent, structure=structuring_element(6), iterations=erode_voxels)
    labels, n = connected_components(core, 6)
    if n == 0:
        raise InputError("phase", "no voxel with coherent phase: is this an unwrapped high-pass filtered phase?")
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    largest = ndimage.binary_dilation(labels == int(np.argmax(sizes)), structure=structuring_element(6),
                                      iterations=erode_voxels) & coherent
    return ndimage.binary_fill_holes(largest)
