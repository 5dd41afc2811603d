"""Phantom lesions: continuous shapes in the head frame, placed by location class, rasterised per visit.

A lesion is an ellipsoid (optionally with a smooth radial perturbation: "irregular") in the
baseline head frame, restricted to the tissue its class allows (white matter; cortex and
white matter for cortical lesions; brainstem and cerebellar white matter for infratentorial
ones) and reduced to its largest 26-connected component. Non-confluent lesions keep a gap
of ``LESION_GAP_VOXELS``; confluent pairs touch.

Location rule used to check placement (after LST-AI v2, Wiltgen et al., NeuroImage Clin
2024; lesion voxels count as white matter, deep grey matter as white matter): the lesion
dilated by one voxel (26-neighbourhood) touching a lateral ventricle -> periventricular;
else touching or containing brainstem/cerebellum -> infratentorial; else at least
``CORTICAL_FRACTION`` of its voxels in cortex -> cortical; else touching cortex ->
juxtacortical; else deep white matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..connectivity import connected_components, structuring_element
from ..defaults import phantom as D
from ..defaults.common import MIN_LESION_VOLUME_MM3
from .anatomy import CODE

ALLOWED = {
    "periventricular": (CODE["wm"],),
    "juxtacortical": (CODE["wm"],),
    "deep_white_matter": (CODE["wm"],),
    "cortical": (CODE["cortex"], CODE["wm"]),
    "infratentorial": (CODE["brainstem"], CODE["cb_wm"]),
}
#: Volume range (mm^3) per class: cortical and infratentorial lesions are small.
CLASS_VOLUME_MM3 = {
    "periventricular": (20.0, 5000.0),
    "juxtacortical": (8.0, 1500.0),
    "deep_white_matter": (3.0, 2500.0),
    "cortical": (3.0, 60.0),
    "infratentorial": (3.0, 350.0),
}


@dataclass
class LesionSpec:
    """One lesion in the baseline head frame (mm). ``scale[s]`` scales its axes at session s (0 = absent)."""

    index: int
    location: str
    centre: np.ndarray
    rotation: np.ndarray
    axes: np.ndarray
    irregular: tuple = ()
    scale: list = field(default_factory=list)
    change: str = "stable"
    target: float = 1.0
    rim_class: str = "none"
    rim_fraction: float = 0.0
    rim_axis: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))
    rim_delta_ppb: float = 0.0
    central_vein: bool = False
    enhancing: list = field(default_factory=list)
    ring_enhancing: bool = False
    t1: float = 0.7
    flair: float = 2.0
    chi_ppb: float = 5.0
    confluent_with: int | None = None


def _rotation(rng, axis=None):
    """Random rotation; if ``axis`` is given, its first column is ``axis``."""
    m = rng.normal(size=(3, 3))
    if axis is not None:
        m[:, 0] = axis
    q, r = np.linalg.qr(m)
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 2] = -q[:, 2]
    return q


def inside(spec: LesionSpec, px, py, pz, scale: float) -> np.ndarray:
    """Boolean mask of points (head frame mm, baseline anatomy) inside the lesion shape at ``scale``."""
    d = np.stack([px - spec.centre[0], py - spec.centre[1], pz - spec.centre[2]], axis=-1)
    u = d @ spec.rotation.astype(np.float32)
    r = np.sqrt(((u / spec.axes.astype(np.float32)) ** 2).sum(-1))
    if spec.irregular:
        n = np.sqrt((u * u).sum(-1)) + np.float32(1e-6)
        pert = np.zeros(r.shape, dtype=np.float32)
        for direction, freq, phase, amp in spec.irregular:
            pert += np.float32(amp) * np.cos(np.float32(freq) * (u @ direction.astype(np.float32)) / n
                                             + np.float32(phase))
        r = r / (1.0 + pert)
    return r <= scale


def rasterise(spec: LesionSpec, scale: float, p, tissue, bbox, claimed):
    """Voxels (bool array over ``bbox``) of one lesion at ``scale`` on a session grid.

    ``p`` = (px, py, pz) head-frame coordinates of the grid, ``bbox`` a tuple of slices, ``claimed`` the
    voxels of lesions already drawn (excluded). Returns the largest 26-connected component.
    """
    px, py, pz = (a[bbox] for a in p)
    mask = inside(spec, px, py, pz, scale) & np.isin(tissue[bbox], ALLOWED[spec.location]) & ~claimed[bbox]
    if not mask.any():
        return mask
    labels, n = connected_components(mask, 26)
    if n > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        mask = labels == int(np.argmax(sizes))
    return mask


def bbox_for(spec: LesionSpec, scale: float, centre_kji: np.ndarray, spacing: float, shape) -> tuple:
    """Slices around a lesion centre (array index [k, j, i]) covering its extent plus a margin."""
    extent = float(spec.axes.max()) * scale * (1.0 + 2 * D.LESION_IRREGULARITY) + 2 * spacing + 2.0
    half = int(np.ceil(extent / spacing)) + D.LESION_GAP_VOXELS + 1
    c = np.round(centre_kji).astype(int)
    return tuple(slice(max(0, c[a] - half), min(shape[a], c[a] + half + 1)) for a in range(3))


def classify(mask: np.ndarray, aseg_bbox: np.ndarray) -> str:
    """Location class of one lesion by the rule in the module docstring (``aseg_bbox`` lesion-free)."""
    ring = ndimage.binary_dilation(mask, structure=structuring_element(26)) & ~mask
    touched = aseg_bbox[ring]
    inner = aseg_bbox[mask]
    if np.isin(touched, D.VENTRICLE_LABELS).any():
        return "periventricular"
    if np.isin(touched, D.INFRATENTORIAL_LABELS).any() or np.isin(inner, D.INFRATENTORIAL_LABELS).any():
        return "infratentorial"
    if np.isin(inner, D.CORTEX_LABELS).mean() >= D.CORTICAL_FRACTION:
        return "cortical"
    if np.isin(touched, D.CORTEX_LABELS).any():
        return "juxtacortical"
    return "deep_white_matter"


def edge_voxels(mask: np.ndarray) -> np.ndarray:
    """Lesion voxels with at least one 6-neighbour outside the lesion."""
    return mask & ~ndimage.binary_erosion(mask, structure=structuring_element(6), border_value=0)


def rim_cap(mask: np.ndarray, fraction: float, axis, spacing, origin_kji=(0, 0, 0)) -> np.ndarray:
    """The edge voxels (:func:`edge_voxels`) of a paramagnetic rim covering exactly ``fraction`` of a lesion's
    edge: those whose direction from the lesion centroid lies furthest along ``axis`` (a unit vector in the
    (i, j, k) voxel-axis frame), a cap. ``spacing`` mm (scalar or (i, j, k)); ``origin_kji`` the crop's
    offset in the full grid (directions are taken in full-grid index coordinates)."""
    edge = edge_voxels(mask)
    origin = np.array(origin_kji)
    kji = np.argwhere(edge).astype(np.float64) + origin
    ctr = np.argwhere(mask).mean(axis=0) + origin
    d = (kji - ctr)[:, ::-1] * spacing
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
    proj = d @ axis
    cap = proj >= np.quantile(proj, 1.0 - fraction) if fraction < 1 else proj > -2
    sel = np.zeros_like(edge)
    sel[tuple(np.argwhere(edge)[cap].T)] = True
    return sel


def measure_rim_coverage(qsm: np.ndarray, mask: np.ndarray, threshold_ppb: float = D.RIM_COVERAGE_THRESHOLD_PPB):
    """Fraction of a lesion's edge voxels whose QSM exceeds the lesion reference by ``threshold_ppb``.

    Edge: lesion voxels with a 6-neighbour outside the lesion. Reference: median QSM of the lesion core
    (lesion minus edge) when it has at least ``RIM_MIN_CORE_VOXELS`` voxels, else the lower quartile of
    the whole lesion (robust to a vein filling half of a small lesion). Arrays may be bounding-box crops.
    """
    edge = edge_voxels(mask)
    if not edge.any():
        return 0.0
    core = mask & ~edge
    if core.sum() >= D.RIM_MIN_CORE_VOXELS:
        reference = float(np.median(qsm[core]))
    else:
        reference = float(np.percentile(qsm[mask], 25))
    return float(np.mean(qsm[edge] - reference >= threshold_ppb))


def segment_distance(px, py, pz, a, b):
    """Distance (mm) from points to the segment a-b (head frame mm)."""
    ab = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    length2 = max(float(ab @ ab), 1e-12)
    dx, dy, dz = px - np.float32(a[0]), py - np.float32(a[1]), pz - np.float32(a[2])
    t = np.clip((dx * np.float32(ab[0]) + dy * np.float32(ab[1]) + dz * np.float32(ab[2])) / np.float32(length2),
                0.0, 1.0)
    ex, ey, ez = dx - t * np.float32(ab[0]), dy - t * np.float32(ab[1]), dz - t * np.float32(ab[2])
    return np.sqrt(ex * ex + ey * ey + ez * ez)


def vein_segment(spec: LesionSpec) -> tuple:
    """End points (head frame mm) of a lesion's central vein: along its long axis, through its centre."""
    half = float(spec.axes.max()) * max(spec.target, 1.0) * (1 + D.LESION_IRREGULARITY) + 8.0
    axis = spec.rotation[:, int(np.argmax(spec.axes))]
    return spec.centre - half * axis, spec.centre + half * axis


class Placer:
    """Places lesions on the baseline grid (where head frame = scanner frame)."""

    def __init__(self, rng, p, tissue, aseg, spacing):
        self.rng = rng
        self.p = p
        self.tissue = tissue
        self.aseg = aseg
        self.spacing = float(spacing)
        self.shape = tissue.shape
        self.occupied = np.zeros(self.shape, dtype=bool)  # voxels of placed lesions at any visit
        self.origin = np.array([p[0][0, 0, 0], p[1][0, 0, 0], p[2][0, 0, 0]], dtype=np.float64)
        sampling = (self.spacing,) * 3
        wm = tissue == CODE["wm"]
        self.dist_vent = ndimage.distance_transform_edt(tissue != CODE["ventricle"], sampling=sampling)
        self.dist_cortex = ndimage.distance_transform_edt(tissue != CODE["cortex"], sampling=sampling)
        self.dist_nonwm = ndimage.distance_transform_edt(wm, sampling=sampling)
        infra = np.isin(tissue, (CODE["brainstem"], CODE["cb_wm"]))
        self.dist_noninfra = ndimage.distance_transform_edt(infra, sampling=sampling)
        self.grad_vent = np.gradient(self.dist_vent)
        self.grad_cortex = np.gradient(self.dist_cortex)
        c = D.PLACEMENT_DISTANCES_MM
        self.candidates = {
            "periventricular": wm & (self.dist_vent < c["periventricular_max"]),
            "juxtacortical": wm & (self.dist_cortex < c["juxtacortical_max"]) & (self.dist_vent > c["far_ventricle"]),
            "cortical": (tissue == CODE["cortex"]) & (self.dist_nonwm < c["cortical_wm_max"])
            & (self.dist_vent > c["far_ventricle"]),
            "infratentorial": infra & (self.dist_noninfra > c["infratentorial_depth"]),
            "deep_white_matter": wm & (self.dist_nonwm > c["deep_nonwm"]) & (self.dist_vent > c["deep_ventricle"])
            & (self.dist_cortex > c["deep_cortex"]),
        }

    def kji_of(self, point):
        return (np.asarray(point) - self.origin)[::-1] / self.spacing

    def _shape(self, location, volume, centre_kji, irregular):
        rng = self.rng
        radius = (3.0 * volume / (4.0 * np.pi)) ** (1.0 / 3.0)
        ratios = np.array([rng.uniform(*D.LESION_AXIS_RATIO), rng.uniform(1.0, 1.4), 1.0])
        axes = radius * ratios / np.prod(ratios) ** (1.0 / 3.0)
        c = tuple(int(v) for v in centre_kji)
        normal = None
        if location == "periventricular":
            g = np.array([self.grad_vent[a][c] for a in range(3)])[::-1]  # (x, y, z)
            normal = g / (np.linalg.norm(g) + 1e-9)
        elif location in ("juxtacortical", "cortical"):
            g = np.array([self.grad_cortex[a][c] for a in range(3)])[::-1]
            n = np.linalg.norm(g)
            normal = g / n if n > 0 else None
        rotation = _rotation(rng, normal)
        if normal is None or location != "periventricular":
            axes = np.sort(axes)[::-1] if normal is None else np.sort(axes)
        irr = ()
        if irregular:
            irr = tuple((d / np.linalg.norm(d), float(rng.uniform(2.0, 4.0)), float(rng.uniform(0, 2 * np.pi)),
                         float(rng.uniform(0.4, 1.0)) * D.LESION_IRREGULARITY / 2)
                        for d in rng.normal(size=(3, 3)))
        return axes, rotation, irr

    def place(self, index, location, volume, irregular, partner: LesionSpec | None = None,
              partner_mask=None, scales=(1.0,)):
        """Try to place one lesion; return (spec, baseline mask over the full grid) or None.

        ``scales`` are the axis scales it will have at the visits; every one must keep the gap to
        the lesions already placed (``self.occupied``). With ``partner`` (a spec and its full-grid
        mask) the lesion is placed touching it (a confluent pair).
        """
        rng = self.rng
        cand = self.candidates[location]
        where = np.flatnonzero(cand)
        if where.size == 0:
            return None
        min_vox = int(np.ceil(MIN_LESION_VOLUME_MM3 / self.spacing ** 3 - 1e-9))
        st = structuring_element(26)
        for _ in range(D.PLACEMENT_ATTEMPTS):
            radius = (3.0 * volume / (4.0 * np.pi)) ** (1.0 / 3.0)
            if partner is None:
                centre_kji = np.array(np.unravel_index(where[rng.integers(where.size)], self.shape), dtype=float)
                centre = self.origin + centre_kji[::-1] * self.spacing
                if location == "periventricular":
                    g = np.array([self.grad_vent[a][tuple(centre_kji.astype(int))] for a in range(3)])[::-1]
                    centre = centre + g / (np.linalg.norm(g) + 1e-9) * 0.3 * radius
            else:
                direction = rng.normal(size=3)
                direction /= np.linalg.norm(direction)
                centre = partner.centre + direction * (partner.axes.max() * 0.8 + 0.5 * radius)
            centre_kji = self.kji_of(centre)
            if np.any(centre_kji < 2) or np.any(centre_kji > np.array(self.shape) - 3):
                continue
            axes, rotation, irr = self._shape(location, volume, np.clip(np.round(centre_kji), 0,
                                                                         np.array(self.shape) - 1), irregular)
            spec = LesionSpec(index=index, location=location, centre=centre, rotation=rotation, axes=axes,
                              irregular=irr)
            bbox = bbox_for(spec, max(scales), centre_kji, self.spacing, self.shape)
            mask = rasterise(spec, 1.0, self.p, self.tissue, bbox, self.occupied)
            if mask.sum() < min_vox:
                continue
            if partner is None and classify(mask, self.aseg[bbox]) != location:
                continue
            others = self.occupied[bbox]
            if partner is not None:
                others = others & ~partner_mask[bbox]
            union = mask.copy()
            ok = True
            for sc in scales:
                m = mask if sc == 1.0 else rasterise(spec, sc, self.p, self.tissue, bbox, self.occupied)
                grown = ndimage.binary_dilation(m, structure=st, iterations=D.LESION_GAP_VOXELS + 1)
                if (grown & others).any() or not m.any():
                    ok = False
                    break
                union |= m
            if not ok:
                continue
            if partner is not None and not (ndimage.binary_dilation(mask, structure=st) & partner_mask[bbox]).any():
                continue
            self.occupied[bbox] |= union
            full = np.zeros(self.shape, dtype=bool)
            full[bbox] = mask
            return spec, full
        return None
