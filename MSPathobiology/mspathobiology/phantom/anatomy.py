"""Procedural brain anatomy of the phantom, evaluated at any point of a head frame.

The anatomy is a set of implicit surfaces in a head frame (RAS mm, origin near the
brain centre): a cerebral hull with a sinusoidally folded cortical ribbon (sulci are
narrow troughs of several warped plane-wave families; ribbon thickness is measured on
a gradient-normalised depth), an interhemispheric fissure above the corpus callosum,
a tentorium, a cerebellum with folia, a brainstem cut at the foramen magnum, bent
lateral ventricles and ellipsoidal thalamus, caudate and putamen. Because it is a
function of position, the follow-up visit is the same function evaluated at deformed
and moved coordinates.

Labels are FreeSurfer aseg values (Fischl et al., Neuron 2002; FreeSurferColorLUT), including
every label the lesion location rule reads: lateral ventricles with their temporal horns (4/43,
5/44) and choroid plexus (31/63), cortex with hippocampus and amygdala (3/42, 17/53, 18/54),
cerebellum, brainstem and 4th ventricle (7/46, 8/47, 16, 15). Hippocampus and amygdala are grey
matter, the horns, plexus and 4th ventricle ventricle tissue; :func:`medial_regions` places them
and :func:`aseg_from_tissue` gives them their labels.
Tissue is hard-labelled per voxel (no partial-volume fractions); volumes are voxel
counts x voxel volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from ..defaults import phantom as D
from ..geometry import set_voxel_to_ras

#: Tissue codes of the evaluated model (index into contrast tables).
TISSUES = ("background", "scalp", "skull", "csf", "cortex", "wm", "cb_cortex", "cb_wm", "brainstem",
           "thalamus", "caudate", "putamen", "ventricle", "canal", "cord")
CODE = {name: n for n, name in enumerate(TISSUES)}
#: aseg value per tissue code: (left, right).
_ASEG_BY_TISSUE = {
    "csf": (24, 24), "cortex": (3, 42), "wm": (2, 41), "cb_cortex": (8, 47), "cb_wm": (7, 46),
    "brainstem": (16, 16), "thalamus": (10, 49), "caudate": (11, 50), "putamen": (12, 51),
    "ventricle": (4, 43),
}
ASEG_LOOKUP = np.zeros((len(TISSUES), 2), dtype=np.uint32)
for _name, (_l, _r) in _ASEG_BY_TISSUE.items():
    ASEG_LOOKUP[CODE[_name]] = (_l, _r)


def make_grid(small: bool) -> sitk.Image:
    """Empty UInt8 reference image of the phantom grid.

    Voxel axes run i -> right, j -> anterior, k -> superior (RAS-oriented NIfTI; SimpleITK direction
    diag(-1, -1, 1) in LPS). B0 (scanner z) is along k. The grid centre is at ``GRID_CENTRE_RAS_MM``.
    """
    shape = D.SMALL_SHAPE_IJK if small else D.FULL_SHAPE_IJK
    spacing = D.SMALL_SPACING_MM if small else D.FULL_SPACING_MM
    image = sitk.Image([int(s) for s in shape], sitk.sitkUInt8)
    matrix = np.eye(4)
    matrix[:3, :3] = np.diag([spacing] * 3)
    matrix[:3, 3] = np.asarray(D.GRID_CENTRE_RAS_MM) - spacing * (np.asarray(shape) - 1) / 2.0
    set_voxel_to_ras(image, matrix)
    return image


def grid_ras(reference: sitk.Image):
    """RAS mm coordinates (x, y, z) of every voxel centre, float32 arrays indexed [k, j, i]."""
    from ..geometry import voxel_to_ras

    m = voxel_to_ras(reference)
    ni, nj, nk = reference.GetSize()
    i = np.arange(ni, dtype=np.float32)[None, None, :]
    j = np.arange(nj, dtype=np.float32)[None, :, None]
    k = np.arange(nk, dtype=np.float32)[:, None, None]
    out = []
    for row in range(3):
        out.append(np.broadcast_to(
            m[row, 0] * i + m[row, 1] * j + m[row, 2] * k + np.float32(m[row, 3]), (nk, nj, ni)
        ).astype(np.float32))
    return tuple(out)


@dataclass
class AnatomyModel:
    """Per-subject anatomy parameters (head frame, mm). Built by :func:`random_anatomy`."""

    scale: float = 1.0
    ventricle_scale: float = 1.0
    folds: list = field(default_factory=list)  # (direction, phase, wobble dir/phase/amp, depth mm, wiggle dir/phase)
    folia_phase: float = 0.0

    def c(self, centre):
        return np.asarray(centre, dtype=np.float64) * self.scale

    def a(self, axes):
        return np.asarray(axes, dtype=np.float64) * self.scale


def _unit(v):
    return v / np.linalg.norm(v)


def random_anatomy(rng: np.random.Generator) -> AnatomyModel:
    """Draw subject anatomy: size, ventricle size and cortical folding pattern."""
    model = AnatomyModel(scale=float(rng.uniform(1 - D.SIZE_VARIATION, 1 + D.SIZE_VARIATION)),
                         ventricle_scale=float(rng.uniform(*D.VENTRICLE_SCALE_RANGE)))
    for _ in range(D.SULCAL_FAMILIES):
        n = rng.normal(size=3)
        w = rng.normal(size=3)
        model.folds.append((n / np.linalg.norm(n), float(rng.uniform(0, 2 * np.pi)), w / np.linalg.norm(w),
                            float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(*D.SULCAL_BEND_RAD)),
                            D.SULCAL_DEPTH_MM * float(rng.uniform(*D.SULCAL_DEPTH_VARIATION)),
                            _unit(rng.normal(size=3)), float(rng.uniform(0, 2 * np.pi))))
    model.folia_phase = float(rng.uniform(0, 2 * np.pi))
    return model


def ellipsoid_sdf(x, y, z, centre, axes):
    """Approximate signed distance (mm, negative inside) to an ellipsoid (Quilez's k0(k0-1)/k1 bound)."""
    dx = (x - np.float32(centre[0])) / np.float32(axes[0])
    dy = (y - np.float32(centre[1])) / np.float32(axes[1])
    dz = (z - np.float32(centre[2])) / np.float32(axes[2])
    k0 = np.sqrt(dx * dx + dy * dy + dz * dz)
    k1 = np.sqrt((dx / np.float32(axes[0])) ** 2 + (dy / np.float32(axes[1])) ** 2
                 + (dz / np.float32(axes[2])) ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, np.float32(1e-6))


def ellipsoid_r(x, y, z, centre, axes):
    """Normalised ellipsoid radius (< 1 inside)."""
    return np.sqrt(((x - np.float32(centre[0])) / np.float32(axes[0])) ** 2
                   + ((y - np.float32(centre[1])) / np.float32(axes[1])) ** 2
                   + ((z - np.float32(centre[2])) / np.float32(axes[2])) ** 2)


def _cleft_distance(depth, dist, cleft_depth, half_width):
    """Approximate distance (mm) to a V-shaped CSF cleft (sulcus), negative inside it.

    ``depth`` is the depth below the hull, ``dist`` the distance to the cleft's mid-sheet; the cleft is
    ``half_width`` wide at the hull and closes at ``cleft_depth``.
    """
    a = np.float32(cleft_depth)
    wall = dist - np.float32(half_width) * (1.0 - depth / a)
    tip = np.sqrt((depth - a) ** 2 + dist * dist)
    return np.where(depth <= a, wall, tip)


def _sheet_distance(psi, k):
    """Distance (mm) to the nearest sheet psi = 0 mod 2 pi of a phase field with wavenumber k (rad/mm)."""
    two_pi = np.float32(2 * np.pi)
    return np.abs(psi - two_pi * np.rint(psi / two_pi)) / k


def _cortical_depth(model: AnatomyModel, depth, x, y, z):
    """Depth (mm) below the folded pial surface: min of hull depth and distance to every sulcus."""
    k = np.float32(2 * np.pi / (D.GYRAL_PERIOD_MM * model.scale))
    h = depth.copy()
    for n, phase, wdir, wphase, wamp, sdepth, wdir2, wphase2 in model.folds:
        psi = k * (np.float32(n[0]) * x + np.float32(n[1]) * y + np.float32(n[2]) * z) + np.float32(phase)
        psi += np.float32(wamp) * np.sin(np.float32(D.SULCAL_BEND_FREQUENCY) * k * (np.float32(wdir[0]) * x + np.float32(wdir[1]) * y
                                                                 + np.float32(wdir[2]) * z) + np.float32(wphase))
        psi += np.float32(D.SULCAL_WIGGLE_RAD) * np.sin(
            np.float32(D.SULCAL_WIGGLE_FREQUENCY) * k * (np.float32(wdir2[0]) * x + np.float32(wdir2[1]) * y
                                                         + np.float32(wdir2[2]) * z) + np.float32(wphase2))
        np.minimum(h, _cleft_distance(depth, _sheet_distance(psi, k), sdepth * model.scale,
                                      D.SULCAL_HALF_WIDTH_MM), out=h)
    return h


def evaluate(model: AnatomyModel, x, y, z) -> np.ndarray:
    """Tissue codes (uint8, see :data:`TISSUES`) at head-frame points (float32 arrays, mm)."""
    f32 = np.float32
    cer_c, cer_a = model.c(D.CEREBRUM_CENTRE_MM), model.a(D.CEREBRUM_SEMI_AXES_MM)
    cb_c, cb_a = model.c(D.CEREBELLUM_CENTRE_MM), model.a(D.CEREBELLUM_SEMI_AXES_MM)
    bs_c, bs_a = model.c(D.BRAINSTEM_CENTRE_MM), model.a(D.BRAINSTEM_SEMI_AXES_MM)
    cut = f32(D.BRAIN_CUT_Z_MM * model.scale)

    sdf_hull = ellipsoid_sdf(x, y, z, cer_c, cer_a)
    sdf_cb = ellipsoid_sdf(x, y, z, cb_c, cb_a)
    sdf_bs = ellipsoid_sdf(x, y, z, bs_c, bs_a)
    sdf_brain = np.minimum(np.minimum(sdf_hull, sdf_cb), sdf_bs)

    tissue = np.zeros(x.shape, dtype=np.uint8)
    above = z >= cut + f32(D.BRAIN_CUT_SLOPE) * (y - f32(bs_c[1]))
    ext = f32(D.EXTERNAL_CSF_MM)
    # head: scalp and skull shells around the ICV; a neck below
    neck_r = np.sqrt((x - f32(bs_c[0])) ** 2 + (y - f32(bs_c[1])) ** 2)
    head = (sdf_brain < ext + D.SKULL_MM + D.SCALP_MM) | ((neck_r < D.NECK_RADIUS_MM * model.scale)
                                                            & (z < cut + f32(D.NECK_TOP_ABOVE_CUT_MM)))
    tissue[head] = CODE["scalp"]
    tissue[(sdf_brain < ext + D.SKULL_MM) & above] = CODE["skull"]
    icv = (sdf_brain < ext) & above
    tissue[icv] = CODE["csf"]
    below = ~above & (neck_r < D.CANAL_RADIUS_MM * model.scale)
    tissue[below] = CODE["canal"]
    tissue[below & (neck_r < D.CORD_RADIUS_MM * model.scale)] = CODE["cord"]

    # cerebrum: depth below hull, fissure and tentorium, then folded
    depth = -sdf_hull
    dx = np.abs(x - midline_x(model, y, z)) - f32(D.FISSURE_HALF_WIDTH_MM)
    yy = (y - f32(cer_c[1])) / f32(D.CC_HALF_LENGTH_MM * model.scale)
    cc_top = f32(D.CC_TOP_Z_MM * model.scale) + f32(D.CC_ARCH_MM) * yy * yy
    fissure = (z > cc_top) | (np.abs(yy) > 1.0)
    depth = np.where(fissure, np.minimum(depth, dx), depth)
    depth = np.minimum(depth, sdf_cb - f32(D.TENTORIUM_GAP_MM))
    depth = np.minimum(depth, sdf_bs - f32(D.TENTORIUM_GAP_MM) + np.where(z > bs_c[2] + 0.6 * bs_a[2], 1e3, 0))
    h = _cortical_depth(model, depth, x, y, z)
    cerebrum = (h > 0) & icv
    tissue[cerebrum] = CODE["cortex"]
    tissue[cerebrum & (h > D.CORTICAL_THICKNESS_MM)] = CODE["wm"]
    del h, depth

    # cerebellum with folia (lamellae around a transverse axis)
    dcb = np.minimum(-sdf_cb, sdf_bs)
    e1 = np.asarray(D.CEREBELLAR_FOLIA_AXIS, dtype=np.float64)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(e1, [0.0, 0.0, 1.0])
    e2 /= np.linalg.norm(e2)
    e3 = np.cross(e1, e2)
    ux, uy, uz = x - f32(cb_c[0]), y - f32(cb_c[1]), z - f32(cb_c[2])
    q2 = f32(e2[0]) * ux + f32(e2[1]) * uy + f32(e2[2]) * uz
    q3 = f32(e3[0]) * ux + f32(e3[1]) * uy + f32(e3[2]) * uz
    del ux, uy, uz
    rho = np.sqrt(q2 * q2 + q3 * q3) + f32(1e-3)
    n_folia = round(2 * np.pi * D.CEREBELLAR_FOLIA_RADIUS * cb_a[1] / (D.CEREBELLAR_FOLIA_PERIOD_MM * model.scale))
    theta = np.arctan2(q3, q2)
    folia = _sheet_distance(f32(n_folia) * theta + f32(model.folia_phase), f32(n_folia) / rho)
    hcb = np.minimum(dcb, _cleft_distance(dcb, folia, D.CEREBELLAR_FOLIA_DEPTH_MM * model.scale,
                                          D.CEREBELLAR_FOLIA_HALF_WIDTH_MM))
    cereb = (hcb > 0) & icv
    tissue[cereb] = CODE["cb_cortex"]
    tissue[cereb & (hcb > D.CEREBELLAR_CORTEX_MM)] = CODE["cb_wm"]
    del dcb, rho, theta, folia, hcb

    # brainstem (diencephalon above its top is cerebral WM)
    bs = (sdf_bs < 0) & above
    top = f32(D.BRAINSTEM_TOP_Z_MM * model.scale)
    tissue[bs & (z < top)] = CODE["brainstem"]
    tissue[bs & (z >= top)] = CODE["wm"]

    # deep grey matter and ventricles, mirrored
    ax = np.abs(x - midline_x(model, y, z))
    for name, centre, axes in (("putamen", D.PUTAMEN_CENTRE_MM, D.PUTAMEN_SEMI_AXES_MM),
                               ("caudate", D.CAUDATE_CENTRE_MM, D.CAUDATE_SEMI_AXES_MM),
                               ("thalamus", D.THALAMUS_CENTRE_MM, D.THALAMUS_SEMI_AXES_MM)):
        tissue[ellipsoid_r(ax, y, z, model.c(centre), model.a(axes)) < 1.0] = CODE[name]
    vc, va, zb = _ventricle_frame(model, y, z)
    tissue[ellipsoid_r(ax, y, zb, vc, va) < 1.0] = CODE["ventricle"]
    regions = medial_regions(model, x, y, z)
    cerebral = icv & (sdf_hull < 0) & np.isin(tissue, (CODE["cortex"], CODE["wm"], CODE["csf"]))
    for name in ("hippocampus", "amygdala"):
        tissue[regions[name] & cerebral] = CODE["cortex"]
    tissue[regions["temporal_horn"] & cerebral] = CODE["ventricle"]
    hindbrain = icv & np.isin(tissue, (CODE["cb_cortex"], CODE["cb_wm"], CODE["brainstem"], CODE["csf"]))
    tissue[regions["fourth_ventricle"] & hindbrain] = CODE["ventricle"]
    return tissue


def _ventricle_frame(model: AnatomyModel, y, z):
    """Lateral ventricle centre, semi-axes and the bent z coordinate (mm) it is an ellipsoid in."""
    vc = model.c(D.VENTRICLE_CENTRE_MM)
    va = model.a(D.VENTRICLE_SEMI_AXES_MM) * np.array([model.ventricle_scale, 1.0, model.ventricle_scale])
    vy = (y - np.float32(vc[1])) / np.float32(va[1])
    return vc, va, z - np.float32(D.VENTRICLE_BEND_MM * model.scale) * vy * vy


def medial_regions(model: AnatomyModel, x, y, z) -> dict:
    """Boolean regions (head-frame points, mirrored left/right) of the hippocampus, amygdala,
    temporal horn, choroid plexus (in the atrium's bent frame) and the 4th ventricle."""
    ax = np.abs(x - midline_x(model, y, z))
    out = {}
    for name, centre, axes in (("hippocampus", D.HIPPOCAMPUS_CENTRE_MM, D.HIPPOCAMPUS_SEMI_AXES_MM),
                               ("amygdala", D.AMYGDALA_CENTRE_MM, D.AMYGDALA_SEMI_AXES_MM),
                               ("temporal_horn", D.TEMPORAL_HORN_CENTRE_MM, D.TEMPORAL_HORN_SEMI_AXES_MM)):
        out[name] = ellipsoid_r(ax, y, z, model.c(centre), model.a(axes)) < 1.0
    vc, va, zb = _ventricle_frame(model, y, z)
    plexus = np.array([vc[0], vc[1] - D.CHOROID_PLEXUS_OFFSET * va[1], vc[2]])
    out["choroid_plexus"] = ellipsoid_r(ax, y, zb, plexus, model.a(D.CHOROID_PLEXUS_SEMI_AXES_MM)) < 1.0
    out["fourth_ventricle"] = ellipsoid_r(x - midline_x(model, y, z), y, z, model.c(D.FOURTH_VENTRICLE_CENTRE_MM),
                                          model.a(D.FOURTH_VENTRICLE_SEMI_AXES_MM)) < 1.0
    return out


def midline_x(model: AnatomyModel, y, z):
    """x (mm) of the gently curved, tilted mid-sagittal surface (never parallel to a grid plane)."""
    f32 = np.float32
    return (f32(model.c(D.CEREBRUM_CENTRE_MM)[0]) + f32(D.MIDLINE_BEND_MM) * np.sin(y / f32(D.MIDLINE_BEND_SCALE_MM))
            + f32(D.MIDLINE_TILT) * z)


#: aseg values (left, right) of the medial regions, and the tissue they label.
_MEDIAL_ASEG = {"hippocampus": ((17, 53), "cortex"), "amygdala": ((18, 54), "cortex"),
                "temporal_horn": ((5, 44), "ventricle"), "choroid_plexus": ((31, 63), "ventricle"),
                "fourth_ventricle": ((15, 15), "ventricle")}


def aseg_from_tissue(tissue: np.ndarray, model: AnatomyModel, x, y, z) -> np.ndarray:
    """FreeSurfer aseg values (uint32) from tissue codes; hemisphere by side of the head-frame
    midline; the medial regions (:func:`medial_regions`) relabel their own tissue."""
    right = (x >= midline_x(model, y, z)).astype(np.intp)
    aseg = ASEG_LOOKUP[tissue, right]
    for name, region in medial_regions(model, x, y, z).items():
        labels, kind = _MEDIAL_ASEG[name]
        sel = region & (tissue == CODE[kind])
        aseg[sel] = np.asarray(labels, dtype=np.uint32)[right[sel]]
    return aseg


def parcel_edges(x, y, z, cortex: np.ndarray, centre) -> dict:
    """Equal-count bin edges of the cortical parcellation, from baseline cortex voxels.

    Direction u from ``centre``; hemisphere by sign of x; ``PARCELS_AP`` bins of u_y, then within each,
    ``PARCELS_CORONAL`` bins of atan2(u_z, |u_x|).
    """
    edges = {}
    px, py, pz = x[cortex] - centre[0], y[cortex] - centre[1], z[cortex] - centre[2]
    r = np.sqrt(px * px + py * py + pz * pz) + 1e-6
    uy = py / r
    ang = np.arctan2(pz / r, np.abs(px) / r)
    for hemi, sel in ((0, px < 0), (1, px >= 0)):
        ap = np.quantile(uy[sel], np.linspace(0, 1, D.PARCELS_AP + 1)[1:-1])
        b = np.digitize(uy[sel], ap)
        cor = [np.quantile(ang[sel][b == n], np.linspace(0, 1, D.PARCELS_CORONAL + 1)[1:-1])
               for n in range(D.PARCELS_AP)]
        edges[hemi] = (ap, cor)
    return edges


def parcellate(aseg: np.ndarray, x, y, z, edges: dict, centre) -> np.ndarray:
    """Parcellation (uint32): cortical parcels lh 1001.., rh 2001..; subcortical keep aseg values."""
    parc = np.zeros(aseg.shape, dtype=np.uint32)
    for value in D.SUBCORTICAL_PARCEL_LABELS:
        parc[aseg == value] = value
    cortex = np.isin(aseg, D.PARCEL_CORTEX_LABELS)
    px, py, pz = x[cortex] - centre[0], y[cortex] - centre[1], z[cortex] - centre[2]
    r = np.sqrt(px * px + py * py + pz * pz) + 1e-6
    uy = py / r
    ang = np.arctan2(pz / r, np.abs(px) / r)
    labels = np.zeros(px.shape, dtype=np.uint32)
    left = aseg[cortex] == D.PARCEL_CORTEX_LABELS[0]
    for hemi, sel in ((0, left), (1, ~left)):
        ap, cor = edges[hemi]
        b = np.digitize(uy[sel], ap)
        c = np.zeros(b.shape, dtype=np.int64)
        for n in range(D.PARCELS_AP):
            m = b == n
            c[m] = np.digitize(ang[sel][m], cor[n])
        labels[sel] = (1001 if hemi == 0 else 2001) + b * D.PARCELS_CORONAL + c
    parc[cortex] = labels
    return parc
