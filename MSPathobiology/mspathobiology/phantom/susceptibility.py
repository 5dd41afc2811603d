"""Susceptibility, field and phase of the phantom.

The field perturbation of a susceptibility map chi (B0 along the scanner z axis, i.e. the
grid's k axis) is the dipole convolution, computed with zero-padded FFTs:
``dB/B0 (k) = (1/3 - kz^2 / |k|^2) * chi(k)`` (Salomir et al., Concepts Magn Reson 2003;
Marques & Bowtell, Concepts Magn Reson 2005). The phase is
``phase = sign * gamma * B0 * TE * dB/B0`` with ``gamma = 2 pi * 42.577 MHz/T``; the sign
convention is a parameter because vendors differ. A smooth background field is added and
then removed by a homodyne high-pass filter (complex division by a Gaussian low-pass,
Haacke et al., AJNR 2009), as scanners export phase.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, ndimage

from ..defaults import phantom as D


def dipole_field_ppm(chi_ppb: np.ndarray, spacing_mm: float, pad: int = D.DIPOLE_PAD_VOXELS) -> np.ndarray:
    """Relative field dB/B0 in ppm of a susceptibility map in ppb (array [k, j, i], B0 along k)."""
    shape = tuple(fft.next_fast_len(n + 2 * pad, real=True) for n in chi_ppb.shape)
    padded = np.zeros(shape, dtype=np.float32)
    nk, nj, ni = chi_ppb.shape
    padded[pad:pad + nk, pad:pad + nj, pad:pad + ni] = chi_ppb * np.float32(1e-3)  # ppb -> ppm
    kz = np.fft.fftfreq(shape[0], d=spacing_mm).astype(np.float32)[:, None, None]
    ky = np.fft.fftfreq(shape[1], d=spacing_mm).astype(np.float32)[None, :, None]
    kx = np.fft.rfftfreq(shape[2], d=spacing_mm).astype(np.float32)[None, None, :]
    k2 = kz * kz + ky * ky + kx * kx
    k2[0, 0, 0] = 1.0
    kernel = np.float32(1.0 / 3.0) - kz * kz / k2
    kernel[0, 0, 0] = 0.0
    spectrum = fft.rfftn(padded, workers=2)
    spectrum *= kernel
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


def highpass_phase(signal: np.ndarray, spacing_mm: float, sigma_mm: float = D.HIGHPASS_SIGMA_MM) -> np.ndarray:
    """High-pass filtered phase (rad, wrapped): angle of S * conj(lowpass(S)) with a Gaussian low-pass."""
    sigma = sigma_mm / spacing_mm
    low = ndimage.gaussian_filter(signal.real, sigma) + 1j * ndimage.gaussian_filter(signal.imag, sigma)
    return np.angle(signal * np.conj(low)).astype(np.float32)
