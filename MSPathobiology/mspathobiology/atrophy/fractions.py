"""Brain parenchymal fraction, ICV-normalised volumes, SIENAX-style head-size scaling, deep GM.

BPF = (GM + WM + lesions) / ICV (Rudick et al., Neurology 1999, brain parenchymal
fraction; lesions counted as parenchyma). Normalised volumes divide by ICV. The
SIENAX head-size factor is the determinant of the affine that maps the subject brain
onto a standard template (Smith et al., NeuroImage 2002); here the template is
nilearn's MNI152 2009 skull-stripped T1 (installed with nilearn, no download), registered
to the ICV-masked T1 (SIENAX registers skull to skull), so the factor is optional and not
validated against SIENAX.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..defaults.atrophy import ASEG_DEEP_GM, ASEG_THALAMUS, HEAD_SIZE_REGISTRATION_MM
from ..errors import InputError


def bpf(gm_ml: float, wm_ml: float, lesion_ml: float, icv_ml: float) -> float:
    """Brain parenchymal fraction (GM + WM + lesions) / ICV (dimensionless)."""
    if not icv_ml > 0:
        raise InputError("icv", f"intracranial volume must be > 0 mL, not {icv_ml}")
    return float((gm_ml + wm_ml + lesion_ml) / icv_ml)


def normalised_by_icv(volumes_ml: dict, icv_ml: float) -> dict:
    """``{name}_ml`` -> ``{name}_icv_fraction`` = volume / ICV."""
    if not icv_ml > 0:
        raise InputError("icv", f"intracranial volume must be > 0 mL, not {icv_ml}")
    return {k.replace("_ml", "_icv_fraction"): float(v / icv_ml) for k, v in volumes_ml.items()
            if k.endswith("_ml") and v is not None}


def aseg_volumes_ml(anatomy: np.ndarray, voxel_mm3: float) -> dict:
    """Thalamus and deep GM volumes (mL) from FreeSurfer aseg labels; None when absent."""
    anatomy = np.asarray(anatomy)
    thal = int(np.isin(anatomy, ASEG_THALAMUS).sum())
    deep = int(np.isin(anatomy, ASEG_DEEP_GM).sum())
    return {"thalamus_ml": thal * voxel_mm3 / 1000.0 if thal else None,
            "deep_gm_ml": deep * voxel_mm3 / 1000.0 if deep else None}


def head_size_scaling(t1: sitk.Image, brain: np.ndarray) -> float:
    """SIENAX-style volumetric scaling factor: det of the affine subject -> MNI152 (skull-stripped).

    ``brain`` is the intracranial mask (the nilearn template keeps its CSF).

    Multiply native volumes by this factor to express them in template head size.
    Raises :class:`InputError` if nilearn's template cannot be loaded.
    """
    try:
        from nilearn import datasets
        template = datasets.load_mni152_template(resolution=2)
    except Exception as exc:  # noqa: BLE001 - any failure means no template available
        raise InputError("template", f"nilearn MNI152 template not available: {exc}") from None
    data = np.asarray(template.get_fdata(), dtype=np.float32)
    fixed = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(data, (2, 1, 0))))
    affine = template.affine
    from ..geometry import set_voxel_to_ras
    set_voxel_to_ras(fixed, affine)
    masked = sitk.GetArrayFromImage(t1) * brain
    moving = sitk.GetImageFromArray(masked.astype(np.float32))
    moving.CopyInformation(t1)
    shrink = [max(1, int(round(HEAD_SIZE_REGISTRATION_MM / s))) for s in moving.GetSpacing()]
    moving = sitk.Shrink(moving, shrink)
    init = sitk.CenteredTransformInitializer(fixed, moving, sitk.AffineTransform(3),
                                             sitk.CenteredTransformInitializerFilter.MOMENTS)
    transform = sitk.AffineTransform(init)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsCorrelation()
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.2, 1)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-4, 200)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([2.0, 0.0])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    reg.SetInitialTransform(transform, inPlace=True)
    reg.Execute(fixed, moving)
    # transform maps template points to subject points; subject -> template scales by 1/det
    det = float(np.linalg.det(np.asarray(transform.GetMatrix()).reshape(3, 3)))
    return 1.0 / det
