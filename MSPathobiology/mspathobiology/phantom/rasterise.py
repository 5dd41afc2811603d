"""Tissue labels of a visit on its grid, with a volume-preserving brain boundary.

Point-sampling a folded brain on a voxel grid makes the brain-voxel count jump by about
0.07 % (2 mm) or 0.015 % (1 mm) under sub-voxel motion, which would swamp a known
atrophy of a few tenths of a percent. So the brain volume of a visit is measured by
supersampling every voxel of the brain boundary band (``SUPERSAMPLING`` ^ 3 points per
voxel) and the band voxels with the largest brain fractions are labelled brain until the
brain-voxel count equals that volume (to one voxel). Band voxels that change side take
the most frequent brain (or non-brain) tissue among their subsamples.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

from ..connectivity import structuring_element
from ..defaults import phantom as D
from . import anatomy as A
from . import followup as F

BRAIN_CODES = tuple(A.CODE[n] for n in ("cortex", "wm", "cb_cortex", "cb_wm", "brainstem", "thalamus",
                                         "caudate", "putamen"))
ICV_CODES = BRAIN_CODES + (A.CODE["csf"], A.CODE["ventricle"])
_IS_BRAIN = np.isin(np.arange(len(A.TISSUES)), BRAIN_CODES)
_IS_ICV = np.isin(np.arange(len(A.TISSUES)), ICV_CODES)


def visit_tissue(model, x, y, z, rotation=None, translation=None, deformation=None):
    """Tissue codes at scanner RAS points for a visit with head motion and atrophy deformation.

    Skull, scalp and ICV come from the head position; inside the ICV the brain comes from the
    deformed anatomy (space the brain leaves becomes CSF).
    """
    if rotation is not None:
        x, y, z = F.head_coordinates(x, y, z, rotation, translation)
    if deformation is None:
        return A.evaluate(model, x, y, z)
    tissue = A.evaluate(model, x, y, z)
    tissue_p = A.evaluate(model, *deformation.inverse(x, y, z))
    icv = _IS_ICV[tissue]
    inside = tissue_p[icv]
    tissue[icv] = np.where(_IS_ICV[inside] & (inside != A.CODE["csf"]), inside, A.CODE["csf"])
    return tissue


def _head_points(x, y, z, rotation, translation, deformation):
    if rotation is not None:
        x, y, z = F.head_coordinates(x, y, z, rotation, translation)
    if deformation is not None:
        x, y, z = deformation.inverse(x, y, z)
    return x, y, z


def rasterise_visit(model, x, y, z, spacing, rotation=None, translation=None, deformation=None,
                    jacobian_of=None, n: int = D.SUPERSAMPLING, chunk: int = D.SUPERSAMPLING_CHUNK):
    """Tissue codes on the grid (float32 RAS arrays [k, j, i]) with a volume-preserving brain boundary.

    Returns (tissue, brain volume mm^3 from supersampling, Jacobian integral mm^3 or None). With
    ``jacobian_of`` (a :class:`~.followup.Deformation`, baseline only) the integral of its Jacobian
    determinant over the supersampled brain is returned as well.
    """
    tissue = visit_tissue(model, x, y, z, rotation, translation, deformation)
    brain = _IS_BRAIN[tissue]
    st = structuring_element(26)
    band = ndimage.binary_dilation(brain, st, iterations=D.SUPERSAMPLING_BAND) & ~ndimage.binary_erosion(
        brain, st, iterations=D.SUPERSAMPLING_BAND, border_value=1)
    idx = np.flatnonzero(band)
    interior = brain & ~band
    voxel = spacing ** 3
    jac_total = None
    if jacobian_of is not None:
        pts = _head_points(x[interior], y[interior], z[interior], rotation, translation, deformation)
        jac_total = float(jacobian_of.jacobian(*(np.asarray(a, dtype=np.float64) for a in pts)).sum()) * voxel
    offsets = (np.arange(n) + 0.5) / n - 0.5
    counts = np.zeros((len(A.TISSUES), idx.size), dtype=np.uint16)
    xf, yf, zf = x.ravel()[idx], y.ravel()[idx], z.ravel()[idx]
    sub_jac = 0.0
    for start in range(0, idx.size, max(1, chunk // n ** 3)):
        sl = slice(start, min(idx.size, start + max(1, chunk // n ** 3)))
        cols = np.arange(sl.start, sl.stop)
        for ox, oy, oz in itertools.product(offsets, offsets, offsets):
            # voxel axes are aligned with RAS (diagonal direction), so offsets add per axis
            px = xf[sl] + np.float32(ox * spacing)
            py = yf[sl] + np.float32(oy * spacing)
            pz = zf[sl] + np.float32(oz * spacing)
            codes = visit_tissue(model, px, py, pz, rotation, translation, deformation)
            counts[codes, cols] += 1  # columns are distinct
            if jacobian_of is not None:
                b = _IS_BRAIN[codes]
                if b.any():
                    hp = _head_points(px[b], py[b], pz[b], rotation, translation, deformation)
                    sub_jac += float(jacobian_of.jacobian(*(np.asarray(a, dtype=np.float64) for a in hp)).sum())
    frac = counts[BRAIN_CODES, :].sum(axis=0) / float(n ** 3)
    volume_vox = float(interior.sum()) + float(frac.sum())
    if jac_total is not None:
        jac_total += sub_jac / n ** 3 * voxel
    k = int(round(volume_vox - interior.sum()))
    order = np.lexsort((idx, -frac))
    new_brain = np.zeros(idx.size, dtype=bool)
    new_brain[order[:k]] = True
    flat = tissue.reshape(-1)
    old_brain = _IS_BRAIN[flat[idx]]
    gain = new_brain & ~old_brain
    lose = ~new_brain & old_brain
    if gain.any():
        brain_counts = counts[:, gain] * _IS_BRAIN[:, None]
        flat[idx[gain]] = np.argmax(brain_counts, axis=0)
        none = brain_counts.sum(axis=0) == 0
        flat[idx[gain][none]] = A.CODE["cortex"]
    if lose.any():
        other = counts[:, lose] * (_IS_ICV & ~_IS_BRAIN)[:, None]
        codes = np.argmax(other, axis=0)
        codes[other.sum(axis=0) == 0] = A.CODE["csf"]
        flat[idx[lose]] = codes
    return tissue, volume_vox * voxel, jac_total

