"""Susceptibility, field and phase of the phantom.

The field perturbation of a susceptibility map chi is the dipole convolution, computed with
zero-padded FFTs: ``dB/B0 (k) = (1/3 - (k . b)^2 / |k|^2) * chi(k)`` with ``b`` the unit B0
direction in the grid's frame (Salomir et al., Concepts Magn Reson 2003; Marques & Bowtell,
Concepts Magn Reson 2005). B0 is the scanner's z axis: on an axial grid it is the k axis, on an
oblique grid it is oblique to the voxel axes (:func:`b0_direction_kji`). The phase is
``phase = sign * gamma * B0 * TE * dB/B0`` with ``gamma = 2 pi * 42.577 MHz/T``; the sign
convention is a parameter because vendors differ. A smooth background field is added, and the
exported phase is homodyne-filtered as scanners do: the complex image divided by its low-pass
through a 2D in-plane Hanning window of k-space (Haacke et al., MRM 2004; Wang et al., JMRI 2000).
SWI magnitude is made from that phase as scanners make it (:func:`swi_magnitude`).
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from ..defaults import phantom as D


def b0_direction_kji(direction) -> np.ndarray:
    """Unit B0 direction in a grid's array frame (k, j, i) from its ITK direction matrix (LPS).

    B0 runs along the scanner's superior-inferior axis (LPS z); the voxel axes i, j, k are the
    columns of ``direction`` (row-major 9-tuple or 3 x 3).
    """
    m = np.asarray(direction, dtype=float).reshape(3, 3)
    b = m.T @ np.array([0.0, 0.0, 1.0])  # components along i, j, k
    return b[::-1] / np.linalg.norm(b)


def dipole_kernel(shape, spacing_kji, b0_kji=(1.0, 0.0, 0.0), real: bool = True) -> np.ndarray:
    """Dipole kernel ``1/3 - (k . b)^2 / |k|^2`` (0 at k = 0) on an FFT grid (rfft layout when ``real``)."""
    spacing_kji = np.broadcast_to(np.asarray(spacing_kji, dtype=float), (3,))
    b = np.asarray(b0_kji, dtype=float)
    b = b / np.linalg.norm(b)
    kz = np.fft.fftfreq(shape[0], d=spacing_kji[0]).astype(np.float32)[:, None, None]
    ky = np.fft.fftfreq(shape[1], d=spacing_kji[1]).astype(np.float32)[None, :, None]
    last = np.fft.rfftfreq if real else np.fft.fftfreq
    kx = last(shape[2], d=spacing_kji[2]).astype(np.float32)[None, None, :]
    k2 = kz * kz + ky * ky + kx * kx
    k2[0, 0, 0] = 1.0
    kb = np.float32(b[0]) * kz + np.float32(b[1]) * ky + np.float32(b[2]) * kx
    kernel = np.float32(1.0 / 3.0) - kb * kb / k2
    kernel[0, 0, 0] = 0.0
    return kernel


def dipole_field_ppm(chi_ppb: np.ndarray, spacing_mm, pad: int = D.DIPOLE_PAD_VOXELS,
                     b0_kji=(1.0, 0.0, 0.0)) -> np.ndarray:
    """Relative field dB/B0 in ppm of a susceptibility map in ppb (array [k, j, i]).

    ``spacing_mm``: scalar or (k, j, i) mm; ``b0_kji``: B0 direction in the array frame
    (default along k, an axial grid).
    """
    shape = tuple(fft.next_fast_len(n + 2 * pad, real=True) for n in chi_ppb.shape)
    padded = np.zeros(shape, dtype=np.float32)
    nk, nj, ni = chi_ppb.shape
    padded[pad:pad + nk, pad:pad + nj, pad:pad + ni] = chi_ppb * np.float32(1e-3)  # ppb -> ppm
    spectrum = fft.rfftn(padded, workers=2)
    spectrum *= dipole_kernel(shape, spacing_mm, b0_kji)
    field = fft.irfftn(spectrum, s=shape, workers=2)
    return np.ascontiguousarray(field[pad:pad + nk, pad:pad + nj, pad:pad + ni], dtype=np.float32)


def phase_from_field(field_ppm: np.ndarray, sign: int = D.PHASE_SIGN, b0_tesla: float = D.B0_TESLA,
                     te_ms: float = D.TE_MS) -> np.ndarray:
    """Unwrapped phase (rad) of a relative field in ppm: sign * gamma * B0 * TE * field."""
    return (np.float32(sign * D.GAMMA_RAD_PER_S_PER_T * b0_tesla * te_ms * 1e-3 * 1e-6) * field_ppm).astype(np.float32)


def background_phase(x, y, z, rng) -> np.ndarray:
    """Smooth background phase (rad): a random quadratic polynomial with peak ``BACKGROUND_PHASE_RAD``."""
    coeffs = rng.normal(size=9)
    u, v, w = x / np.float32(80.0), y / np.float32(96.0), z / np.float32(80.0)
    terms = (u, v, w, u * u, v * v, w * w, u * v, v * w, u * w)
    out = np.zeros(x.shape, dtype=np.float32)
    for c, t in zip(coeffs, terms):
        out += np.float32(c) * t
    peak = float(np.abs(out).max()) or 1.0
    return out * np.float32(D.BACKGROUND_PHASE_RAD / peak)


def hanning_window(n: int, fraction: float) -> np.ndarray:
    """1D Hanning window over the central ``fraction`` of ``n`` k-space samples, in FFT order."""
    k = np.abs(np.fft.fftfreq(n)) * n  # sample distance from k = 0
    half = max(fraction * n / 2.0, 1.0)
    return np.where(k < half, 0.5 * (1.0 + np.cos(np.pi * k / half)), 0.0).astype(np.float32)


def homodyne_phase(signal: np.ndarray, fraction: float = D.HOMODYNE_WINDOW_FRACTION) -> np.ndarray:
    """Homodyne high-pass filtered phase (rad, wrapped) of a complex image [k, j, i].

    Each axial slice is low-passed by a 2D Hanning window over the central ``fraction`` of its
    k-space (in-plane axes j, i); the phase is ``angle(S * conj(S_low))``.
    """
    window = hanning_window(signal.shape[1], fraction)[:, None] * hanning_window(signal.shape[2], fraction)[None, :]
    low = fft.ifft2(fft.fft2(signal, axes=(1, 2), workers=2) * window[None], axes=(1, 2), workers=2)
    return np.angle(signal * np.conj(low)).astype(np.float32)


def highpass_phase(signal: np.ndarray, spacing_mm=None, fraction: float = D.HOMODYNE_WINDOW_FRACTION) -> np.ndarray:
    """Scanner-like high-pass filtered phase (rad): :func:`homodyne_phase` (``spacing_mm`` unused)."""
    return homodyne_phase(signal, fraction)


def swi_magnitude(magnitude: np.ndarray, phase: np.ndarray, sign: int = D.PHASE_SIGN,
                  power: int = D.SWI_PHASE_MASK_POWER) -> np.ndarray:
    """SWI magnitude (Haacke et al., MRM 2004): ``magnitude x mask^power`` from homodyne-filtered phase (rad).

    The phase mask darkens paramagnetic phase only: ``mask = 1 - sign * phase / pi`` where
    ``sign * phase > 0``, else 1 (``sign``: phase = sign * gamma * dB * TE). Arrays [k, j, i].
    """
    para = np.float32(sign) * np.asarray(phase, dtype=np.float32)
    mask = np.where(para > 0, np.clip(1.0 - para / np.float32(np.pi), 0.0, 1.0), 1.0).astype(np.float32)
    return (np.asarray(magnitude, dtype=np.float32) * mask ** int(power)).astype(np.float32)
