"""Synthetic rim lesions and veins with known answers, for tests and benchmarks (no phantom needed).

Arrays are indexed [k, j, i] with k the axial (slice) axis.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

#: rim classes and the angular fraction of the edge they cover
RIM_FRACTIONS = {"full": 1.0, "two_thirds": 0.75, "partial": 0.25, "none": 0.0}


def shell_lesions(classes, spacing=(1.0, 1.0, 1.0), radius_mm=4.0, rim_mm=1.5, rim_ppb=30.0,
                  noise_ppb=4.0, lesion_ppb=0.0, pitch_mm=None, seed=0):
    """Spherical lesions on a grid, each with a paramagnetic shell over a fraction of its edge.

    ``classes``: sequence of keys of :data:`RIM_FRACTIONS` (or floats in 0..1 = angular
    fraction of the shell kept, the same in every axial slice). The shell spans
    ``radius_mm`` .. ``radius_mm + rim_mm`` with susceptibility ``rim_ppb`` on a white-matter
    background of 0 ppb plus Gaussian noise (``noise_ppb``). Returns
    ``(labels, qsm, spacing, truth)`` where truth is a list of {id, fraction, center_kji}.
    """
    rng = np.random.default_rng(seed)
    spacing = np.asarray(spacing, dtype=float)
    n = len(classes)
    per_row = int(np.ceil(np.sqrt(n)))
    pitch = pitch_mm or 2 * (radius_mm + rim_mm) + 8.0
    extent_mm = np.array([pitch, pitch * per_row, pitch * per_row])
    shape = np.ceil(extent_mm / spacing).astype(int) + 1
    labels = np.zeros(shape, dtype=np.uint32)
    qsm = rng.normal(0.0, noise_ppb, size=shape).astype(np.float32)
    truth = []
    half = pitch / 2
    for m, cls in enumerate(classes):
        fraction = RIM_FRACTIONS[cls] if isinstance(cls, str) else float(cls)
        row, col = divmod(m, per_row)
        center = np.array([half, half + row * pitch, half + col * pitch])  # mm, k j i
        lo = np.maximum(((center - half) / spacing).astype(int), 0)
        hi = np.minimum(((center + half) / spacing).astype(int) + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        grids = np.meshgrid(*[np.arange(a, b) * s - c for a, b, s, c in zip(lo, hi, spacing, center)],
                            indexing="ij")
        dz, dy, dx = grids
        r = np.sqrt(dz ** 2 + dy ** 2 + dx ** 2)
        lesion = r <= radius_mm
        phi = (np.arctan2(dy, dx) + np.pi) / (2 * np.pi)  # 0..1
        start = rng.uniform(0, 1)
        in_arc = ((phi - start) % 1.0) < fraction
        shell = (r > radius_mm) & (r <= radius_mm + rim_mm) & in_arc
        labels[box][lesion] = m + 1
        qsm[box][lesion] += lesion_ppb
        qsm[box][shell] += rim_ppb
        truth.append({"id": m + 1, "fraction": fraction, "center_kji": center / spacing})
    return labels, qsm, tuple(spacing), truth


def vein_lesions(kinds, spacing=(0.7, 0.7, 0.7), radius_mm=3.5, vein_radius_mm=0.4, vein_contrast=0.5,
                 noise=0.02, seed=0):
    """Spherical lesions on a T2*-like magnitude (white matter 1.0) with dark straight veins.

    ``kinds``: sequence of "central" (one vein through the centre), "eccentric" (one vein at
    0.8 x radius from the centre), "none", "multiple" (two veins) or "small" (radius 1.2 mm,
    central vein). Veins run along the slice axis (k), as medullary veins run roughly
    perpendicular to the ventricles. Returns ``(labels, t2star, spacing, kinds)``.
    """
    rng = np.random.default_rng(seed)
    spacing = np.asarray(spacing, dtype=float)
    pitch = 2 * radius_mm + 8.0
    n = len(kinds)
    shape = np.ceil(np.array([pitch, pitch, pitch * n]) / spacing).astype(int) + 1
    labels = np.zeros(shape, dtype=np.uint32)
    mag = np.ones(shape, dtype=np.float32)
    k, j, i = np.meshgrid(*[np.arange(s) * d for s, d in zip(shape, spacing)], indexing="ij")
    for m, kind in enumerate(kinds):
        c = np.array([pitch / 2, pitch / 2, pitch / 2 + m * pitch])
        rad = 1.2 if kind == "small" else radius_mm
        r = np.sqrt((k - c[0]) ** 2 + (j - c[1]) ** 2 + (i - c[2]) ** 2)
        labels[r <= rad] = m + 1
        mag[r <= rad] = 1.3  # lesions are bright on T2*
        offsets = {"central": [0.0], "small": [0.0], "eccentric": [0.8 * rad], "none": [],
                   "multiple": [-0.55 * rad, 0.55 * rad]}[kind]
        for off in offsets:
            d = np.sqrt((j - c[1]) ** 2 + (i - c[2] - off) ** 2)
            near = (d <= 2 * vein_radius_mm) & (np.abs(k - c[0]) <= rad + 3)
            mag[near] -= vein_contrast * np.exp(-0.5 * (d[near] / vein_radius_mm) ** 2).astype(np.float32)
    mag += rng.normal(0, noise, size=shape).astype(np.float32)
    return labels, mag, tuple(spacing), list(kinds)


def to_image(array: np.ndarray, spacing_kji, origin=(0.0, 0.0, 0.0)) -> sitk.Image:
    """Wrap a [k, j, i] array as an axial SimpleITK image with the given spacing (k, j, i order)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing(tuple(float(s) for s in spacing_kji[::-1]))
    image.SetOrigin(origin)
    return image


def dipole_phase(chi_ppb: np.ndarray, spacing_kji, b0_tesla: float = 3.0, te_ms: float = 20.0,
                 phase_sign: int = 1, pad: int = 16) -> np.ndarray:
    """Phase (rad) of a susceptibility map (ppb, [k, j, i], B0 along k) by the dipole model.

    field(k) = (1/3 - kz^2/|k|^2) chi(k) with zero-padded FFTs (Salomir et al., Concepts Magn
    Reson 2003; Marques & Bowtell, Concepts Magn Reson 2005);
    phase = phase_sign * gamma * B0 * TE * field, gamma = 2 pi x 42.577 MHz/T.
    """
    shape = [n + 2 * pad for n in chi_ppb.shape]
    padded = np.zeros(shape, np.float64)
    padded[pad:-pad, pad:-pad, pad:-pad] = chi_ppb
    kz = np.fft.fftfreq(shape[0], spacing_kji[0])[:, None, None]
    ky = np.fft.fftfreq(shape[1], spacing_kji[1])[None, :, None]
    kx = np.fft.fftfreq(shape[2], spacing_kji[2])[None, None, :]
    k2 = kz ** 2 + ky ** 2 + kx ** 2
    k2[0, 0, 0] = 1.0
    kernel = 1.0 / 3.0 - kz ** 2 / k2
    kernel[0, 0, 0] = 0.0
    field_ppb = np.real(np.fft.ifftn(np.fft.fftn(padded) * kernel))[pad:-pad, pad:-pad, pad:-pad]
    gamma = 2 * np.pi * 42.577e6
    return (phase_sign * gamma * b0_tesla * te_ms * 1e-3 * field_ppb * 1e-9).astype(np.float32)


#: solid-angle fraction of the edge covered by each cap class (the phantom's classes)
CAP_FRACTIONS = {"full": 1.0, "two_thirds": 0.7, "partial": 0.25, "none": 0.0}


#: Radial extent of a rim shell (inner, outer offset from the lesion radius, in units of rim_mm) per position.
RIM_POSITIONS = {"straddle": (1.0, 1.0), "inside": (1.0, 0.0), "outside": (0.0, 1.0)}


def cap_lesions(classes, spacing=(1.0, 1.0, 1.0), radius_mm=(4.0, 9.0), rim_mm=1.0, rim_ppb=(25.0, 40.0),
                lesion_ppb=5.0, noise_ppb=3.0, axes=None, seed=0, rim_position: str = "straddle",
                supersample: int = 1):
    """Spherical lesions whose paramagnetic shell is a spherical cap covering a solid-angle fraction.

    ``classes``: keys of :data:`CAP_FRACTIONS` or floats (the fraction itself, 0..1). The shell spans radius - rim_mm .. radius +
    rim_mm (``rim_position="straddle"``: across the label edge; "inside": radius - rim_mm .. radius;
    "outside": radius .. radius + rim_mm, :data:`RIM_POSITIONS`) over the cap around ``axes[m]`` ((3,) in k, j, i;
    random when None); radius and rim increment are drawn uniformly from the given ranges.
    ``supersample`` > 1: the rim's susceptibility in each voxel is weighted by the fraction of
    ``supersample``^3 sub-voxel points inside the shell (partial volume; a rim thinner than a voxel
    is then a fainter continuous band, as imaged, not a scatter of whole voxels).
    Returns ``(labels, qsm_ppb, spacing, truth)``, truth rows {id, cls, fraction, axis, radius_mm}.
    """
    rng = np.random.default_rng(seed)
    inner, outer = (rim_mm * f for f in RIM_POSITIONS[rim_position])
    spacing = np.asarray(spacing, dtype=float)
    pitch = 2 * (radius_mm[1] + rim_mm) + 8.0
    shape = (np.array([pitch, pitch, pitch * len(classes)]) / spacing).astype(int) + 1
    labels = np.zeros(shape, np.uint32)
    qsm = rng.normal(0, noise_ppb, shape).astype(np.float32)
    truth = []
    for m, cls in enumerate(classes):
        fraction = CAP_FRACTIONS[cls] if isinstance(cls, str) else float(cls)
        center = np.array([pitch / 2, pitch / 2, pitch / 2 + m * pitch])
        axis = rng.normal(size=3) if axes is None else np.asarray(axes[m], float)
        axis = axis / np.linalg.norm(axis)
        radius = rng.uniform(*radius_mm)
        lo = np.maximum(((center - pitch / 2) / spacing).astype(int), 0)
        hi = np.minimum(((center + pitch / 2) / spacing).astype(int) + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        d = np.stack(np.meshgrid(*[np.arange(a, b) * s - c for a, b, s, c in zip(lo, hi, spacing, center)],
                                 indexing="ij"), axis=-1)
        r = np.linalg.norm(d, axis=-1)
        shell = np.zeros(r.shape, np.float32)
        steps = (np.arange(supersample) + 0.5) / supersample - 0.5
        for offset in np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), -1).reshape(-1, 3) * spacing:
            dd = d + offset
            rr = np.linalg.norm(dd, axis=-1)
            cos = (dd @ axis) / np.maximum(rr, 1e-6)
            shell += (rr > radius - inner) & (rr <= radius + outer) & (cos >= 1 - 2 * fraction)
        shell /= np.float32(supersample ** 3)
        lesion = r <= radius
        labels[box][lesion] = m + 1
        qsm[box][lesion] += lesion_ppb
        qsm[box] += shell * np.float32(rng.uniform(*rim_ppb))
        truth.append({"id": m + 1, "cls": cls, "fraction": fraction, "axis": axis, "radius_mm": radius})
    return labels, qsm, tuple(spacing), truth
