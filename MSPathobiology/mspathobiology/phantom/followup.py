"""Follow-up visit geometry: a smooth atrophy deformation and a rigid head motion.

Atrophy maps a baseline head-frame point p to ``p + v(p)`` with
``v(p) = -alpha * w(z) * (p - c) + beta * sum_v g_v(p) * (p - c_v)``: a contraction of the
brain towards its centre ``c`` (faded out towards the foramen magnum by a smoothstep ``w``)
plus a Gaussian expansion ``g_v`` around each lateral ventricle (``beta = factor * alpha``),
so the brain shrinks and the ventricles enlarge. The skull does not move (ICV fixed).
The true percent brain volume change is the integral of the analytic Jacobian
determinant of ``p -> p + v(p)`` over the baseline brain voxels:
``PBVC = 100 * (mean_brain det(I + Dv) - 1)``.

A visit's image at scanner point x shows the head at ``y = R^T (x - t)`` (rigid motion R, t)
and the baseline anatomy at p with ``p + v(p) = y`` (fixed-point inversion).

Lesion changes at the definitions' edges (issue 12; thresholds in :mod:`..defaults.lesions`):
lesions that grow by just less and just more than the enlarging threshold
(:func:`edge_growth_scale`; truth by the definition, :func:`change_by_definition`), and new
lesions placed a few voxels from a baseline lesion (:func:`place_near`), just beyond the
one-voxel tolerance with which visits are matched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..connectivity import structuring_element
from ..defaults import lesions as L
from ..defaults import phantom as D


@dataclass
class Deformation:
    """Atrophy deformation parameters (head frame, mm)."""

    alpha: float
    beta: float
    centre: np.ndarray
    ventricle_centres: tuple
    sigma: float = D.VENTRICLE_EXPANSION_SIGMA_MM
    taper: tuple = D.DEFORMATION_TAPER_Z_MM

    def _w(self, z):
        """Smoothstep taper w(z) and its derivative dw/dz (1/mm)."""
        z0, z1 = self.taper
        f = np.result_type(z, np.float32).type
        t = np.clip((z - f(z0)) / f(z1 - z0), f(0.0), f(1.0))
        return t * t * (f(3.0) - f(2.0) * t), t * (f(1.0) - t) * f(6.0 / (z1 - z0))

    def displacement(self, x, y, z):
        """v(p) in mm for head-frame points (float arrays; float32 in, float32 out)."""
        t = np.result_type(x, np.float32)
        w, _ = self._w(z)
        c = np.asarray(self.centre, dtype=t)
        aw = (t.type(-self.alpha) * w).astype(t, copy=False)
        vx = aw * (x - c[0])
        vy = aw * (y - c[1])
        vz = aw * (z - c[2])
        scale = t.type(-1.0 / (2 * self.sigma ** 2))
        for cv in self.ventricle_centres:
            cv = np.asarray(cv, dtype=t)
            dx, dy, dz = x - cv[0], y - cv[1], z - cv[2]
            g = t.type(self.beta) * np.exp((dx * dx + dy * dy + dz * dz) * scale)
            vx += g * dx
            vy += g * dy
            vz += g * dz
        return vx, vy, vz

    def jacobian(self, x, y, z):
        """det(I + Dv) at head-frame points (float64 1-D arrays)."""
        w, dw = self._w(z)
        c = self.centre
        d = [x - c[0], y - c[1], z - c[2]]
        m = np.zeros(x.shape + (3, 3))
        for a in range(3):
            m[:, a, a] = 1.0 - self.alpha * w
        for a in range(3):
            m[:, a, 2] -= self.alpha * d[a] * dw
        for cv in self.ventricle_centres:
            e = [x - cv[0], y - cv[1], z - cv[2]]
            g = self.beta * np.exp(-(e[0] ** 2 + e[1] ** 2 + e[2] ** 2) / (2 * self.sigma ** 2))
            for a in range(3):
                m[:, a, a] += g
                for b in range(3):
                    m[:, a, b] -= g * e[a] * e[b] / self.sigma ** 2
        return np.linalg.det(m)

    def inverse(self, x, y, z, iterations: int = D.DEFORMATION_INVERSE_ITERATIONS):
        """Baseline points p with p + v(p) = (x, y, z) (fixed-point iteration; |Dv| << 1)."""
        x, y, z = (np.asarray(a, dtype=np.float32) for a in (x, y, z))
        px, py, pz = x, y, z
        for _ in range(iterations):
            vx, vy, vz = self.displacement(px, py, pz)
            px, py, pz = x - vx, y - vy, z - vz
        return (px.astype(np.float32), py.astype(np.float32), pz.astype(np.float32))


def make_deformation(target_pbvc_percent: float, brain_points, centre, ventricle_centres) -> tuple:
    """Deformation whose PBVC over ``brain_points`` (3 x N head-frame mm) is near the target.

    Returns (deformation, exact PBVC in percent from the Jacobian integral).
    """
    unit = Deformation(alpha=1e-3, beta=1e-3 * D.VENTRICLE_EXPANSION_FACTOR, centre=np.asarray(centre),
                       ventricle_centres=tuple(np.asarray(c) for c in ventricle_centres))
    x, y, z = (np.asarray(a, dtype=np.float64) for a in brain_points)
    slope = (unit.jacobian(x, y, z).mean() - 1.0) * 100.0 / 1e-3
    alpha = target_pbvc_percent / slope
    for _ in range(3):  # Newton refinement on the cubic
        deformation = Deformation(alpha=alpha, beta=alpha * D.VENTRICLE_EXPANSION_FACTOR, centre=unit.centre,
                                  ventricle_centres=unit.ventricle_centres)
        pbvc = (deformation.jacobian(x, y, z).mean() - 1.0) * 100.0
        alpha += (target_pbvc_percent - pbvc) / slope
    deformation = Deformation(alpha=alpha, beta=alpha * D.VENTRICLE_EXPANSION_FACTOR, centre=unit.centre,
                              ventricle_centres=unit.ventricle_centres)
    return deformation, float((deformation.jacobian(x, y, z).mean() - 1.0) * 100.0)


def random_motion(rng) -> tuple:
    """Rigid motion (R 3x3, t mm): rotations about x, y, z with sd ``MOTION_ROTATION_SD_DEG``."""
    angles = np.deg2rad(rng.normal(0.0, D.MOTION_ROTATION_SD_DEG, size=3))
    cx, cy, cz = np.cos(angles)
    sx, sy, sz = np.sin(angles)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx, rng.normal(0.0, D.MOTION_TRANSLATION_SD_MM, size=3)


def head_coordinates(x, y, z, rotation, translation):
    """Head-frame coordinates y = R^T (x - t) of scanner RAS points (float32 arrays)."""
    r = np.asarray(rotation, dtype=np.float32)
    t = np.asarray(translation, dtype=np.float32)
    dx, dy, dz = x - t[0], y - t[1], z - t[2]
    return (r[0, 0] * dx + r[1, 0] * dy + r[2, 0] * dz,
            r[0, 1] * dx + r[1, 1] * dy + r[2, 1] * dz,
            r[0, 2] * dx + r[1, 2] * dy + r[2, 2] * dz)


def edge_growth_scale(n: int) -> float:
    """Axis scale of the ``n``-th lesion designed at the enlarging threshold: alternately the
    relative volume growth ``CHANGE_EDGE_GROWTH[0]`` (just below) and ``[1]`` (just above)."""
    return float((1.0 + D.CHANGE_EDGE_GROWTH[n % 2]) ** (1.0 / 3.0))


def edge_growth_holds(placer, spec, mask: np.ndarray, scale: float) -> bool:
    """Is the placed lesion at least ``CHANGE_EDGE_MIN_VOLUME_MM3`` and does it, drawn on the
    baseline grid at axis ``scale``, grow by its designed relative volume within
    ``CHANGE_EDGE_TOLERANCE``? (Growth into tissue a lesion may not occupy, such as cortex or
    a ventricle, is clipped and would blur the edge.)"""
    from .lesions import bbox_for, rasterise

    bbox = bbox_for(spec, scale, placer.kji_of(spec.centre), placer.spacing, placer.shape)
    grown = rasterise(spec, scale, placer.p, placer.tissue, bbox, np.zeros(placer.shape, dtype=bool))
    before = int(mask[bbox].sum())
    return before * placer.spacing ** 3 >= D.CHANGE_EDGE_MIN_VOLUME_MM3 and \
        abs(grown.sum() / before - scale ** 3) <= D.CHANGE_EDGE_TOLERANCE


def change_by_definition(volume_factor: float) -> str:
    """Truth class of a lesion whose volume is multiplied by ``volume_factor`` (> 0) at follow-up,
    by the published relative thresholds (enlarging: growth >= ENLARGING_MIN_RELATIVE_GROWTH,
    Moraal et al. 2010; shrinking: loss >= SHRINKING_MIN_RELATIVE_LOSS), not by the analysis."""
    if volume_factor - 1.0 >= L.ENLARGING_MIN_RELATIVE_GROWTH:
        return "enlarging"
    if 1.0 - volume_factor >= L.SHRINKING_MIN_RELATIVE_LOSS:
        return "shrinking"
    return "stable"


#: Design locations a new lesion next to a white-matter lesion may take (all drawn in WM).
_NEAR_LOCATIONS = ("periventricular", "juxtacortical", "deep_white_matter")


def place_near(placer, index: int, volume: float, partner, partner_mask: np.ndarray,
               gap_voxels: int = D.NEW_NEAR_GAP_VOXELS):
    """Place a new lesion of about ``volume`` mm^3 exactly ``gap_voxels`` empty voxels (26-connected
    distance) from ``partner`` (a placed baseline spec and its full-grid mask), keeping the usual
    gap to every other lesion. Returns (spec, full-grid mask) or None (``placer``: a
    :class:`.lesions.Placer` on the baseline grid)."""
    from .lesions import LesionSpec, bbox_for, classify, rasterise

    rng, spacing = placer.rng, placer.spacing
    element = structuring_element(26)
    radius = (3.0 * volume / (4.0 * np.pi)) ** (1.0 / 3.0)
    for _ in range(D.PLACEMENT_ATTEMPTS):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        centre = partner.centre + direction * (float(np.min(partner.axes)) + radius + (gap_voxels + 0.5) * spacing)
        centre_kji = placer.kji_of(centre)
        if np.any(centre_kji < 2) or np.any(centre_kji > np.array(placer.shape) - 3):
            continue
        location = partner.location if partner.location in _NEAR_LOCATIONS else "deep_white_matter"
        axes, rotation, irregular = placer._shape(location, volume, np.clip(np.round(centre_kji), 0,
                                                                            np.array(placer.shape) - 1), False)
        spec = LesionSpec(index=index, location=location, centre=centre, rotation=rotation, axes=axes,
                          irregular=irregular)
        bbox = bbox_for(spec, 1.0, centre_kji, spacing, placer.shape)
        mask = rasterise(spec, 1.0, placer.p, placer.tissue, bbox, placer.occupied)
        if mask.sum() < max(2, int(np.ceil(L.ENLARGING_MIN_GROWTH_MM3 / spacing ** 3))):
            continue
        found = classify(mask, placer.aseg[bbox])
        if found not in _NEAR_LOCATIONS:
            continue
        spec.location = found
        near = partner_mask[bbox]
        within = ndimage.binary_dilation(mask, structure=element, iterations=gap_voxels)
        reach = ndimage.binary_dilation(within, structure=element)
        if (within & near).any() or not (reach & near).any():
            continue
        others = placer.occupied[bbox] & ~near
        if (ndimage.binary_dilation(mask, structure=element, iterations=D.LESION_GAP_VOXELS + 1) & others).any():
            continue
        placer.occupied[bbox] |= mask
        full = np.zeros(placer.shape, dtype=bool)
        full[bbox] = mask
        return spec, full
    return None
