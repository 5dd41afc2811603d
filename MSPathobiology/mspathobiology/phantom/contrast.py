"""Image contrast of the phantom: tissue values, point spread, bias field and Rician noise.

Magnitude images are ``|S * b + n1 + i n2|`` with S the blurred noiseless image, b a smooth
multiplicative bias field and n1, n2 independent Gaussian noise: Rician noise on the
magnitude (Gudbjartsson & Patz, MRM 1995).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..defaults import phantom as D
from .anatomy import TISSUES


def lookup(table: dict) -> np.ndarray:
    """Per-tissue-code value array from a {tissue name: value} table ('ventricle' uses 'csf')."""
    return np.array([table.get(name, table.get("csf") if name == "ventricle" else 0.0) for name in TISSUES],
                    dtype=np.float32)


def tissue_image(tissue: np.ndarray, table: dict, lesion_mask=None, lesion_values=None) -> np.ndarray:
    """Noiseless image from tissue codes; lesion voxels take ``lesion_values`` (array over the mask)."""
    image = lookup(table)[tissue]
    if lesion_mask is not None:
        image[lesion_mask] = lesion_values
    return image


def bias_field(x, y, z, rng, amplitude: float = D.BIAS_AMPLITUDE) -> np.ndarray:
    """Smooth multiplicative field exp(poly) with |poly| <= log(1 + amplitude) (2nd-order polynomial)."""
    coeffs = rng.normal(size=9)
    u, v, w = x / np.float32(80.0), y / np.float32(96.0), z / np.float32(80.0)
    poly = np.zeros(x.shape, dtype=np.float32)
    for c, t in zip(coeffs, (u, v, w, u * u, v * v, w * w, u * v, v * w, u * w)):
        poly += np.float32(c) * t
    peak = float(np.abs(poly).max()) or 1.0
    return np.exp(poly * np.float32(np.log1p(amplitude) / peak))


def magnitude(clean: np.ndarray, bias: np.ndarray, rng, noise_fraction: float = D.NOISE_FRACTION,
              psf_sigma_voxels: float = D.PSF_SIGMA_VOXELS, scale: float = D.SIGNAL_SCALE) -> np.ndarray:
    """Scanner-like magnitude: Gaussian PSF, bias, Rician noise (sd = fraction of WM signal)."""
    signal = ndimage.gaussian_filter(clean, psf_sigma_voxels) if psf_sigma_voxels > 0 else clean
    signal = signal * bias * np.float32(scale)
    sd = np.float32(noise_fraction * scale)
    real = signal + sd * rng.standard_normal(signal.shape, dtype=np.float32)
    imag = sd * rng.standard_normal(signal.shape, dtype=np.float32)
    return np.sqrt(real * real + imag * imag).astype(np.float32)


def complex_noise(shape, rng, sd: float) -> np.ndarray:
    """Complex Gaussian noise (float32 parts) of standard deviation ``sd`` per part."""
    real = rng.standard_normal(shape, dtype=np.float32)
    return (real + 1j * rng.standard_normal(shape, dtype=np.float32)) * np.float32(sd)
