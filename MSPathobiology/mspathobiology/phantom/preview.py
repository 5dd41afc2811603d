"""A preview picture of a phantom visit: orthogonal slices of T1, FLAIR and QSM with lesion outlines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..io import atomic_write_bytes


def _slices(array, centre):
    k, j, i = centre
    return array[k], array[:, j, :], array[:, :, i]


def write_preview(session, path, dpi: int = 90) -> Path:
    """Write a PNG (matplotlib Agg) of axial, coronal and sagittal slices through the largest rim lesion.

    Rows: T1w, FLAIR, QSM (ppb, -80..120). Lesion outlines in red (rim lesions in yellow). Superior is up
    (coronal, sagittal), anterior up (axial) and right on the right (neurological convention).
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lesions = sitk.GetArrayFromImage(session.lesions)
    rows = session.truth["lesions"]
    if rows:
        full = [r for r in rows if r["rim_class"] == "full"]
        target = (full or rows)[0]["id"]
        centre = tuple(int(round(v)) for v in np.argwhere(lesions == target).mean(axis=0))
    else:
        centre = tuple(s // 2 for s in lesions.shape)
    rims = [r["id"] for r in rows if r["rim_class"] != "none"]
    images = [("T1w", sitk.GetArrayFromImage(session.images["t1"]), None),
              ("FLAIR", sitk.GetArrayFromImage(session.images["flair"]), None),
              ("QSM (ppb)", sitk.GetArrayFromImage(session.images["qsm"]), (-80.0, 120.0))]
    fig, axes = plt.subplots(3, 3, figsize=(10, 10.5), facecolor="black")
    names = ("axial", "coronal", "sagittal")
    les_slices = _slices(lesions, centre)
    rim_slices = _slices(np.isin(lesions, rims), centre)
    for r, (title, array, window) in enumerate(images):
        lo, hi = window if window else np.percentile(array[array > 0], [0.5, 99.5])
        for c, (sl, ls, rs) in enumerate(zip(_slices(array, centre), les_slices, rim_slices)):
            ax = axes[r, c]
            ax.imshow(sl, cmap="gray", vmin=lo, vmax=hi, origin="lower", interpolation="nearest")
            if (ls > 0).any():
                ax.contour(ls > 0, levels=[0.5], colors="red", linewidths=0.7, origin="lower")
            if rs.any():
                ax.contour(rs, levels=[0.5], colors="yellow", linewidths=0.9, origin="lower")
            ax.set_axis_off()
            ax.set_title(f"{title} {names[c]}", color="white", fontsize=9)
    t = session.truth
    fig.suptitle(f"MSPathobiology phantom sub-{t['subject']} ses-{t['session']} seed {t['seed']}: "
                 f"{len(rows)} lesions ({len(rims)} with rims), BPF {t['bpf']:.3f}", color="white", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="black")
    plt.close(fig)
    return atomic_write_bytes(Path(path), buffer.getvalue())
