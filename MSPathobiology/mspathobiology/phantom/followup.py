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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
