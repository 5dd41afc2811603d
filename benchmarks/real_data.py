"""Real whole-head T1 (Colin27 ``ch2`` from Debian mricron-data) through brain extraction,
tissue volumes and PBVC, each figure printed beside a peer's result on the same image.

Peers: ``ch2bet`` (FSL BET's brain extraction of ch2, shipped with it), DIPY's
``TissueClassifierHMRF`` and the MNI152 2009 GM/WM probability maps (nilearn). Derived
images (rotated, shifted, rescaled, resampled to 1.2 mm anisotropic and oblique grids,
bias, noise) are made here with SimpleITK; the truth of a derived image is the same
transform applied to the original (never computed by the analysis code).

    python benchmarks/real_data.py            # everything (several minutes on 2 cores)
    python benchmarks/real_data.py extraction # one section: extraction, tissues, lesions, pbvc, speed
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MSPathobiology"))

TEMPLATES = Path("/usr/share/mricron/templates")
CH2 = TEMPLATES / "ch2.nii.gz"
CH2BET = TEMPLATES / "ch2bet.nii.gz"


# ----------------------------------------------------------------------------- real data


def load_ch2(spacing_mm: float | None = None) -> sitk.Image:
    """Colin27 whole-head T1 (float32), optionally resampled to isotropic ``spacing_mm``."""
    image = sitk.ReadImage(str(CH2), sitk.sitkFloat32)
    if spacing_mm:
        from mspathobiology.atrophy.template import resample_to_spacing
        image = resample_to_spacing(image, spacing_mm)
    return image


def reference_brain_mask(reference: sitk.Image | None = None) -> sitk.Image:
    """ch2bet (BET output image) as a mask: non-zero voxels, holes filled slice by slice
    (BET zeroes dark CSF inside its surface), largest component; on ``reference``'s grid."""
    bet = sitk.GetArrayFromImage(sitk.ReadImage(str(CH2BET))) > 0
    filled = ndimage.binary_fill_holes(bet)
    for axis in range(3):
        structure = np.zeros((3, 3, 3), dtype=bool)
        index = [slice(None)] * 3
        index[axis] = 1
        structure[tuple(index)] = ndimage.generate_binary_structure(2, 1)
        filled |= ndimage.binary_fill_holes(bet, structure=structure)
    labels, _ = ndimage.label(filled)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    mask = sitk.GetImageFromArray((labels == sizes.argmax()).astype(np.float32))
    mask.CopyInformation(sitk.ReadImage(str(CH2BET)))
    if reference is not None:
        mask = sitk.Resample(mask, reference, sitk.Transform(), sitk.sitkLinear, 0.0)
    return sitk.Cast(mask > 0.5, sitk.sitkUInt8)


def dice(a, b) -> float:
    a = np.asarray(a, bool)
    b = np.asarray(b, bool)
    return float(2.0 * (a & b).sum() / max(a.sum() + b.sum(), 1))


# ----------------------------------------------------------------------------- derived images


def rotation_matrix(degrees_xyz) -> np.ndarray:
    ax, ay, az = np.radians(degrees_xyz)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def grid(image: sitk.Image, spacing=None, direction_degrees=(0.0, 0.0, 0.0), margin_mm: float = 0.0) -> sitk.Image:
    """An empty grid covering ``image``'s field of view (plus ``margin_mm``) with new spacing
    (mm, i j k) and the direction rotated by ``direction_degrees`` (about x, y, z): oblique grids."""
    spacing = np.asarray(spacing if spacing is not None else image.GetSpacing(), dtype=float)
    direction = rotation_matrix(direction_degrees) @ np.asarray(image.GetDirection()).reshape(3, 3)
    size = np.asarray(image.GetSize())
    corners = np.array([[i, j, k] for i in (0, size[0] - 1) for j in (0, size[1] - 1) for k in (0, size[2] - 1)])
    phys = np.array([image.TransformIndexToPhysicalPoint([int(c) for c in corner]) for corner in corners])
    local = (phys - phys.mean(axis=0)) @ direction      # coordinates along the new axes
    lo = local.min(axis=0) - margin_mm
    hi = local.max(axis=0) + margin_mm
    new_size = np.ceil((hi - lo) / spacing).astype(int) + 1
    origin = phys.mean(axis=0) + direction @ lo
    out = sitk.Image([int(n) for n in new_size], sitk.sitkUInt8)
    out.SetSpacing(tuple(float(s) for s in spacing))
    out.SetOrigin(tuple(float(o) for o in origin))
    out.SetDirection(tuple(direction.ravel()))
    return out


def moved(image: sitk.Image, target_grid: sitk.Image | None = None, rotation_deg=(0.0, 0.0, 0.0),
          shift_mm=(0.0, 0.0, 0.0), scale: float = 1.0, center=None, interpolator=sitk.sitkBSpline) -> sitk.Image:
    """The anatomy of ``image`` rotated, shifted and isotropically scaled (about ``center``,
    default the image centre) in physical space, sampled on ``target_grid`` (default: own grid)."""
    target_grid = image if target_grid is None else target_grid
    if center is None:
        center = image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()])
    forward = sitk.AffineTransform(3)
    forward.SetCenter(tuple(float(c) for c in center))
    forward.SetMatrix(tuple((scale * rotation_matrix(rotation_deg)).ravel()))
    forward.SetTranslation(tuple(float(s) for s in shift_mm))
    out = sitk.Resample(image, target_grid, forward.GetInverse(), interpolator, 0.0, sitk.sitkFloat32)
    return sitk.Maximum(out, 0.0) if interpolator == sitk.sitkBSpline else out


def with_bias_and_noise(image: sitk.Image, bias: float = 0.0, noise_fraction: float = 0.0, seed: int = 0) -> sitk.Image:
    """Multiply by exp(bias x a smooth 2nd-order field in [-1, 1]) and add Gaussian noise with
    SD = ``noise_fraction`` x the 99th intensity percentile."""
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    rng = np.random.default_rng(seed)
    if bias:
        k, j, i = np.meshgrid(*[np.linspace(-1, 1, n, dtype=np.float32) for n in array.shape], indexing="ij")
        coef = rng.uniform(-1, 1, 6)
        field = coef[0] * k + coef[1] * j + coef[2] * i + coef[3] * k * j + coef[4] * i * i + coef[5] * k * k
        field /= max(float(np.abs(field).max()), 1e-6)
        array = array * np.exp(bias * field)
    if noise_fraction:
        array = array + rng.normal(0, noise_fraction * np.percentile(array, 99), array.shape).astype(np.float32)
        array = np.maximum(array, 0)
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(image)
    return out


EXTRACTION_CASES = {
    "ch2 as shipped (1 mm)": {},
    "rotated 15/-10/8 deg, shifted 25 mm": {"rotation_deg": (15, -10, 8), "shift_mm": (10, -15, 25)},
    "rescaled x0.88 (a smaller head)": {"scale": 0.88},
    "rescaled x1.08": {"scale": 1.08},
    "1.2 x 1 x 1 mm anisotropic": {"spacing": (1.2, 1.0, 1.0)},
    "oblique grid (20/0/12 deg), 1.2 mm": {"spacing": (1.2, 1.2, 1.2), "direction": (20, 0, 12)},
    "strong bias (+-40 %) and 3 % noise": {"bias": 0.4, "noise": 0.03},
}


def derived_case(spec: dict, base: sitk.Image | None = None, reference: sitk.Image | None = None):
    """(T1, reference brain mask) of one derived case; the reference mask goes through the same transform."""
    base = load_ch2() if base is None else base
    reference = reference_brain_mask(base) if reference is None else reference
    target = base
    if "spacing" in spec or "direction" in spec:
        target = grid(base, spec.get("spacing"), spec.get("direction", (0, 0, 0)))
    motion = {k: spec[k] for k in ("rotation_deg", "shift_mm", "scale") if k in spec}
    t1 = moved(base, target, **motion)
    truth = moved(sitk.Cast(reference, sitk.sitkFloat32), target, interpolator=sitk.sitkLinear, **motion) > 0.5
    if spec.get("bias") or spec.get("noise"):
        t1 = with_bias_and_noise(t1, spec.get("bias", 0.0), spec.get("noise", 0.0))
    return t1, truth


# ----------------------------------------------------------------------------- sections


def section_extraction():
    from mspathobiology.atrophy import extract_brain

    print("== Brain extraction on a real whole-head T1 (Colin27 ch2) vs ch2bet (FSL BET), target Dice >= 0.95")
    base = load_ch2()
    reference = reference_brain_mask(base)
    worst = 1.0
    for name, spec in EXTRACTION_CASES.items():
        t1, truth = derived_case(spec, base, reference)
        start = time.perf_counter()
        result = extract_brain(t1)
        seconds = time.perf_counter() - start
        score = dice(result.brain_array(), sitk.GetArrayFromImage(truth))
        worst = min(worst, score)
        summary = result.summary()
        print(f"  {name:40s} Dice {score:.4f}  brain {summary['brain_mask_ml']:7.1f} mL  "
              f"ICV {summary['icv_mask_ml']:7.1f} mL  {seconds:5.1f} s  [{result.method.split(':')[0]}]")
    print(f"  worst Dice {worst:.4f}  {'PASS' if worst >= 0.95 else 'FAIL'} (>= 0.95)")
    return worst


SECTIONS = {"extraction": section_extraction}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(SECTIONS)
    for key in chosen:
        SECTIONS[key]()
