"""Longitudinal phantom subjects (3 or more visits) with slowly expanding lesions of known rate.

Built on :func:`.dataset.generate_subject`: the same anatomy, global atrophy (the follow-up
deformation grows linearly over the visits), rigid head motion, bias field and noise. Each
baseline lesion is given one evolution before rendering:

- ``expanding`` (the SEL truth): volume V(s) = V0 (1 + rate s) at visit s = 0, 1, ..., with all
  axes scaled by (1 + rate s)^(1/3) about the lesion centre, i.e. concentric and linear in volume;
  only white-matter lesions (PHANTOM_SEL_LOCATIONS) of >= PHANTOM_SEL_MIN_VOXELS voxels expand
  (the others are drawn stable instead);
- ``shrinking``: V(s) = V0 (1 - rate s), concentric;
- ``stable``: unchanged (confluent pairs are always stable).

New lesions of the generator (absent at baseline) are kept; they are not pre-existing lesions.

Truth per baseline lesion (:attr:`LongitudinalSubject.truth`) comes from the design and from
voxel counts of each visit's rendered label image, never from the SEL analysis:
``id`` (baseline label id), ``voxels`` / ``volume_mm3`` at baseline, ``evolution``,
``volume_rate_per_visit`` (signed fraction of V0 per visit), ``design_volume_factor`` per visit,
``voxels_per_visit`` (0 when absent), ``rendered_growing`` (the rendered lesion gains voxels at
every visit), ``sel`` (expanding by design AND rendered growing: a lesion growing against a ventricle
or the cortex is clipped there, and one that stops growing on the images is not constantly
expanding; seen on 2 mm seed 105: designed +23 %/visit, rendered 80, 92, 91 voxels) and
``evaluable`` (>= SEL_MIN_VOXELS voxels at baseline, the analysis' minimum size).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..defaults import sel as D
from ..errors import InputError
from ..io import write_json
from .dataset import Subject, generate_subject, write_session

EVOLUTIONS = ("expanding", "stable", "shrinking")


@dataclass
class LongitudinalSubject:
    subject: Subject          #: the generated subject (visits in ``subject.sessions``)
    truth: list               #: one dict per baseline lesion (see the module docstring)

    @property
    def t1(self) -> list:
        """T1 images of the visits, baseline first."""
        return [s.images["t1"] for s in self.subject.sessions]

    @property
    def baseline_lesions(self):
        return self.subject.sessions[0].lesions


def _draw_evolutions(rng, specs, n_visits: int) -> dict:
    """Reset the per-visit axis scale and ``change`` of every baseline lesion; return {design index: (kind, rate)}."""
    plan = {}
    for spec in specs:
        if spec.scale[0] <= 0:
            continue
        u = rng.random()
        rate_up = float(rng.uniform(*D.PHANTOM_SEL_VOLUME_RATE))
        rate_down = float(rng.uniform(*D.PHANTOM_SHRINK_VOLUME_RATE))
        if spec.confluent_with is not None:
            kind, rate = "stable", 0.0
        elif u < D.PHANTOM_SEL_FRACTION and spec.location in D.PHANTOM_SEL_LOCATIONS \
                and spec.mask0.sum() >= D.PHANTOM_SEL_MIN_VOXELS:
            kind, rate = "expanding", rate_up
        elif u < D.PHANTOM_SEL_FRACTION + D.PHANTOM_SHRINKING_FRACTION:
            kind, rate = "shrinking", -rate_down
        else:
            kind, rate = "stable", 0.0
        factors = [max(1.0 + rate * s, 0.05) for s in range(n_visits)]
        spec.scale = [f ** (1.0 / 3.0) for f in factors]
        spec.change = {"expanding": "enlarging"}.get(kind, kind)
        plan[spec.index] = (spec, kind, rate, factors)
    return plan


def generate_longitudinal_subject(seed: int = 0, small: bool = True, visits: int = D.PHANTOM_SEL_VISITS,
                                  subject: str = "01", n_streamlines: int | None = 200) -> LongitudinalSubject:
    """Generate one subject with ``visits`` (>= 3) visits and per-lesion SEL truth.

    ``small``: 2 mm grid (tests); otherwise 1 mm, 160 x 192 x 160. ``n_streamlines`` is kept small by
    default (SEL does not use tractograms).
    """
    if int(visits) < D.SEL_MIN_VISITS:
        raise InputError("visits", f"a longitudinal SEL subject needs >= {D.SEL_MIN_VISITS} visits, not {visits}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 16, 20261204]))
    plan = {}

    def evolution(specs):
        plan.update(_draw_evolutions(rng, specs, int(visits)))

    generated = generate_subject(seed=seed, small=small, sessions=int(visits), subject=subject,
                                 n_streamlines=n_streamlines, evolution=evolution)
    return LongitudinalSubject(subject=generated, truth=_truth(generated, plan))


def _truth(subject: Subject, plan: dict) -> list:
    base = subject.sessions[0]
    labels = sitk.GetArrayFromImage(base.lesions)
    spacing = float(base.lesions.GetSpacing()[0])
    by_id = {}
    for spec, kind, rate, factors in plan.values():
        values = labels[spec.mask0]
        values = values[values > 0]
        if values.size == 0:
            continue
        lesion_id = int(np.bincount(values).argmax())
        by_id[lesion_id] = (kind, rate, factors)
    rows = []
    for row in base.truth["lesions"]:
        kind, rate, factors = by_id.get(row["id"], ("stable", 0.0, [1.0] * len(subject.sessions)))
        voxels = [row["voxels"]]
        for session in subject.sessions[1:]:
            match = [r["voxels"] for r in session.truth["lesions"] if r["baseline_id"] == row["id"]]
            voxels.append(int(sum(match)))
        growing = all(b > a for a, b in zip(voxels[:-1], voxels[1:]))
        rows.append({
            "id": row["id"], "voxels": row["voxels"], "volume_mm3": row["volume_mm3"], "evolution": kind,
            "volume_rate_per_visit": rate, "design_volume_factor": [float(f) for f in factors],
            "voxels_per_visit": voxels, "volume_mm3_per_visit": [v * spacing ** 3 for v in voxels],
            "rendered_growing": growing, "sel": kind == "expanding" and growing,
            "evaluable": row["voxels"] >= D.SEL_MIN_VOXELS,
            "location": row["location"], "confluent_with": row["confluent_with"],
        })
    return rows


def truth_path_for(root, subject: str) -> Path:
    """Path of a subject's SEL truth: derivatives/phantom/sub-XX/sel_truth.json."""
    return Path(root) / "derivatives" / "phantom" / f"sub-{subject}" / "sel_truth.json"


def write_longitudinal_dataset(outdir, n_subjects: int = 1, seed: int = 0, small: bool = True,
                               visits: int = D.PHANTOM_SEL_VISITS) -> list[Path]:
    """Write a BIDS dataset of longitudinal subjects (as :func:`.dataset.write_dataset`) plus each
    subject's ``sel_truth.json``; return the subject folders."""
    root = Path(outdir)
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "dataset_description.json", {
        "Name": "MSPathobiology longitudinal phantom (slowly expanding lesions)", "BIDSVersion": "1.9.0",
        "DatasetType": "raw", "License": "CC0", "GeneratedBy": [{"Name": "mspathobiology.phantom.longitudinal"}],
        "Phantom": {"seed": int(seed), "small": bool(small), "sessions": int(visits)}})
    folders = []
    for k in range(int(n_subjects)):
        sub_id = f"{k + 1:02d}"
        longitudinal = generate_longitudinal_subject(seed=int(seed) + k, small=small, visits=visits, subject=sub_id)
        for session in longitudinal.subject.sessions:
            write_session(root, longitudinal.subject, session)
        write_json(truth_path_for(root, sub_id), {"subject": sub_id, "seed": int(seed) + k,
                                                  "lesions": longitudinal.truth})
        folders.append(root / f"sub-{sub_id}")
    return folders
