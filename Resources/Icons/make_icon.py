"""Draw the 128x128 extension icon Resources/Icons/MSPathobiology.png: an axial brain slice
with white-matter lesions (one with a paramagnetic rim) and a few network edges.

Run ``python Resources/Icons/make_icon.py``; the PNG is committed.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Circle, Ellipse  # noqa: E402

SIZE_PX = 128  # Slicer extension icons are 128x128 (SlicerExtensionDescriptionSpec: ICONURL)


def draw(path: Path) -> Path:
    fig = plt.figure(figsize=(1, 1), dpi=SIZE_PX)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.patch.set_alpha(0.0)
    ax.add_patch(Circle((0, 0), 0.98, color="#1d2b3a"))
    ax.add_patch(Ellipse((0, 0), 1.5, 1.8, color="#8c8c8c"))  # cortex
    ax.add_patch(Ellipse((0, 0), 1.2, 1.5, color="#d9d9d9"))  # white matter
    for dx in (-0.16, 0.16):  # ventricles
        ax.add_patch(Ellipse((dx, 0.05), 0.16, 0.55, angle=-12 * np.sign(dx), color="#3a4a5a"))
    nodes = np.array([[-0.45, 0.5], [0.45, 0.5], [-0.5, -0.35], [0.5, -0.35], [0.0, -0.6]])
    for a, b in [(0, 1), (0, 2), (1, 3), (2, 4), (3, 4), (0, 3)]:
        ax.plot(*nodes[[a, b]].T, color="#2f7fd0", lw=1.4, alpha=0.9, solid_capstyle="round")
    ax.scatter(*nodes.T, s=14, color="#2f7fd0", zorder=3)
    for x, y, w, h in [(-0.36, 0.12, 0.2, 0.14), (0.34, -0.1, 0.16, 0.12), (-0.08, -0.38, 0.12, 0.1)]:
        ax.add_patch(Ellipse((x, y), w, h, color="#f2f2f2", ec="#ffffff", lw=0.5, zorder=4))  # lesions
    ax.add_patch(Circle((0.3, 0.3), 0.11, color="#f2f2f2", zorder=4))  # rim lesion
    ax.add_patch(Circle((0.3, 0.3), 0.11, fill=False, ec="#e8590c", lw=2.2, zorder=5))
    fig.savefig(path, dpi=SIZE_PX, transparent=True)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(draw(Path(__file__).with_name("MSPathobiology.png")))
