"""The phantom generator: subjects and visits in memory, and a BIDS dataset on disk.

``generate_subject`` draws one subject (anatomy, lesions, veins, follow-up changes) from its
seed and renders each visit on its own grid (RAS-oriented, 1 mm 160 x 192 x 160, or 2 mm
80 x 96 x 80 for ``small``): the baseline in the head frame; follow-ups with a known atrophy
deformation, fresh noise and a small rigid head motion (:mod:`.followup`).

Ground truth (``Session.truth``, written as ``ground_truth.json``), all measured on the
visit's own images:

- ``lesions``: one row per id of the lesion label image (ids 1..N by decreasing voxel count;
  confluent pairs are two ids that touch). ``voxels`` / ``volume_mm3`` count the label image.
  ``location``: the LST-AI-style rule of :func:`.lesions.classify` on the anatomy with lesion
  voxels counted as white matter (periventricular > infratentorial > cortical (>= 50 % of voxels
  in cortex) > juxtacortical > deep white matter). ``rim_class``: the designed rim (a
  susceptibility shell on the lesion's edge voxels in a cap around a random axis) named from
  ``rim_fraction``, the exact fraction of edge voxels it covers (``RIM_FRACTIONS``).
  ``ring_enhancing``: enhancing at this visit on its edge only. ``rim_coverage``: :func:`.lesions.measure_rim_coverage` on the noise-free
  susceptibility map (fraction of edge voxels >= 12 ppb above the median of the core, or above
  the lower quartile of the lesion when its core has < 8 voxels; a vein crossing the edge counts
  too, so lesions without a rim can have a small coverage). ``central_vein``,
  ``enhancing`` (this visit; new lesions enhance at their first visit), ``confluent_with``,
  ``change`` (follow-up vs baseline) and ``baseline_id``. ``resolved_baseline_ids``: baseline
  ids with no voxel at this visit (resolved by design, or a 1-3 voxel lesion lost to motion).
- ``tissue_ml``: hard-label voxel counts x voxel volume (no partial-volume fractions) of the
  label images: gm = cortex + cerebellar cortex + deep GM, wm = cerebral + cerebellar WM +
  brainstem, csf = ventricles + CSF, all excluding lesion voxels; lesion; icv = gm + wm + csf +
  lesion; brain = gm + wm + lesion (= the brain mask); deep_gm; thalamus. ``bpf`` = brain / icv.
- ``pbvc_percent``: the deformation's value, 100 x (integral of det(I + Dv) over the baseline brain
  / baseline brain volume - 1), both from 3^3 supersampling of the baseline brain. The brain
  boundary of every visit is volume-preserving (:mod:`.rasterise`), so brain-mask volumes agree
  with it to about 0.02 percentage points (at most 0.04 over 12 seeds of the small case).
  ``brain_volume_supersampled_ml`` and ``pbvc_supersampled_percent``: the same volumes measured by
  supersampling each visit's brain boundary (the brain masks reproduce these to one voxel).
- ``connectome``: end-voxel assignment of both endpoints in the parcellation (symmetric counts,
  zero diagonal, label 0 excluded, rows in ``labels`` order); ``connectome_radial``: the same with
  radial-search assignment (``radius_mm``); ``disconnected_streamlines``: indices of streamlines
  that pass through a lesion voxel of this visit, by exact voxel traversal (:mod:`.tractography`).
- ``motion`` (rotation, translation mm: scanner = R head + t) and ``deformation`` (parameters of
  :class:`.followup.Deformation`, null at baseline and for rescans).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .. import bids
from ..defaults import phantom as D
from ..errors import InputError
from ..geometry import image_like, voxel_to_ras
from ..io import atomic_write_bytes, write_image, write_json
from ..lesion_table import LOCATIONS
from . import anatomy as A
from . import contrast as C
from . import followup as F
from . import rasterise as R
from . import susceptibility as S
from . import tractography as T
from .design import design_lesions, venous_tree
from .lesions import (Placer, bbox_for, classify, edge_voxels, measure_rim_coverage, rasterise, rim_cap,
                      segment_distance, vein_segment)

PIPELINE = "phantom"


@dataclass
class Session:
    """One visit: raw images by bids key, derived label images, tractogram and ground truth."""

    id: str
    images: dict
    anatomy: sitk.Image
    parcellation: sitk.Image
    brain_mask: sitk.Image
    lesions: sitk.Image
    streamlines: object
    truth: dict
    reference: sitk.Image = field(repr=False, default=None)


@dataclass
class Subject:
    id: str
    seed: int
    small: bool
    sessions: list


def _rngs(seed: int, n_sessions: int):
    """Independent generators per purpose and per visit (a visit's streams do not depend on the
    number of visits, so the baseline of a 1-visit and a 3-visit subject is the same)."""
    def make(*key):
        return np.random.default_rng(np.random.SeedSequence([int(seed), 20260603, *key]))
    return {"anatomy": make(0), "lesions": make(1), "veins": make(2), "followup": make(3), "evolution": make(4),
            "noise": [make(10, s) for s in range(n_sessions)], "motion": [make(11, s) for s in range(n_sessions)],
            "tracts": [make(12, s) for s in range(n_sessions)]}


def _vein_fraction(veins, p, to_kji, spacing, shape):
    """Partial-volume vein fraction (0..1) and sinus fraction on a visit grid."""
    frac = np.zeros(shape, dtype=np.float32)
    sinus = np.zeros(shape, dtype=np.float32)
    for a, b, radius, is_sinus in veins:
        ka, kb = to_kji(a), to_kji(b)
        margin = radius / spacing + 2
        lo = np.maximum(np.floor(np.minimum(ka, kb) - margin).astype(int), 0)
        hi = np.minimum(np.ceil(np.maximum(ka, kb) + margin).astype(int) + 1, shape)
        if np.any(hi <= lo):
            continue
        box = tuple(slice(l, h) for l, h in zip(lo, hi))
        dist = segment_distance(p[0][box], p[1][box], p[2][box], a, b)
        f = np.clip((radius + 0.5 * spacing - dist) / spacing, 0.0, 1.0).astype(np.float32)
        f[f < D.VEIN_MIN_FRACTION] = 0.0
        np.maximum(frac[box], f, out=frac[box])
        if is_sinus:
            np.maximum(sinus[box], f, out=sinus[box])
    return frac, sinus


def _tissue_ml(aseg_free, lesion, voxel_ml):
    les = lesion > 0
    count = lambda labels: float(np.count_nonzero(np.isin(aseg_free, labels) & ~les)) * voxel_ml  # noqa: E731
    gm, wm = count(D.GM_LABELS), count(D.WM_LABELS)
    csf = count(D.CSF_LABELS)
    lesion_ml = float(np.count_nonzero(les)) * voxel_ml
    return {"gm": gm, "wm": wm, "csf": csf, "lesion": lesion_ml, "icv": gm + wm + csf + lesion_ml,
            "brain": gm + wm + lesion_ml, "deep_gm": count(D.DEEP_GM_LABELS), "thalamus": count(D.THALAMUS_LABELS)}


def generate_subject(seed: int = 0, small: bool = True, sessions: int = 2, rescan: bool = False,
                     subject: str = "01", phase_sign: int = D.PHASE_SIGN, n_streamlines: int | None = None,
                     evolution=None) -> Subject:
    """Generate one phantom subject with ``sessions`` visits (ground truth in each ``Session.truth``).

    ``small`` uses a 2 mm grid (unit tests); otherwise 1 mm, 160 x 192 x 160. With ``rescan`` the visits
    after the first are scan-rescans (same anatomy and lesions, no atrophy; new noise and motion).
    ``phase_sign`` (+1 or -1) is the phase convention: phase = sign * gamma * dB * TE.
    ``evolution(specs)``, if given, may reset each designed lesion's per-visit ``scale`` and ``change``
    before rendering (:mod:`.longitudinal` uses it for slowly expanding lesions).
    """
    if int(sessions) < 1:
        raise InputError("sessions", f"must be >= 1, not {sessions}")
    if phase_sign not in (1, -1):
        raise InputError("phase_sign", f"must be +1 or -1, not {phase_sign}")
    rng = _rngs(seed, sessions)
    reference = A.make_grid(small)
    spacing = float(reference.GetSpacing()[0])
    voxel_ml = spacing ** 3 / 1000.0
    x, y, z = A.grid_ras(reference)
    shape = x.shape
    model = A.random_anatomy(rng["anatomy"])
    tissue0, volume0, _ = R.rasterise_visit(model, x, y, z, spacing)
    aseg0 = A.aseg_from_tissue(tissue0, model, x, y, z)
    placer = Placer(rng["lesions"], (x, y, z), tissue0, aseg0, spacing)
    specs = design_lesions(rng["lesions"], rng["evolution"], placer, small, sessions, rescan)
    if evolution is not None:
        evolution(specs)
    veins = venous_tree(rng["veins"], model, placer)
    centre = model.c(D.CEREBRUM_CENTRE_MM)
    edges = A.parcel_edges(x, y, z, np.isin(tissue0, (A.CODE["cortex"],)), centre)
    brain0 = np.isin(aseg0, D.GM_LABELS + D.WM_LABELS)
    brain_points = (x[brain0], y[brain0], z[brain0])
    vc = model.c(D.VENTRICLE_CENTRE_MM)
    ventricle_centres = (vc * np.array([-1.0, 1.0, 1.0]), vc)
    target = float(rng["followup"].uniform(*D.PBVC_RANGE_PERCENT))
    del placer

    out = []
    inv = np.linalg.inv(voxel_to_ras(reference))
    for s in range(sessions):
        deformation, pbvc = None, 0.0
        if s > 0 and not rescan:
            deformation, _ = F.make_deformation(target * s / (sessions - 1), brain_points, centre,
                                                ventricle_centres)
            # the deformation's PBVC: Jacobian integral over the supersampled baseline brain
            _, _, warped = R.rasterise_visit(model, x, y, z, spacing, jacobian_of=deformation)
            pbvc = 100.0 * (warped / volume0 - 1.0)
        rotation, translation = (np.eye(3), np.zeros(3)) if s == 0 else F.random_motion(rng["motion"][s])
        h = F.head_coordinates(x, y, z, rotation, translation) if s > 0 else (x, y, z)
        p = deformation.inverse(*h) if deformation is not None else h
        tissue, volume = (tissue0, volume0) if s == 0 else R.rasterise_visit(
            model, x, y, z, spacing, rotation, translation, deformation)[:2]

        def to_kji(point, rotation=rotation, translation=translation, deformation=deformation):
            point = np.asarray(point, dtype=np.float64)
            if deformation is not None:
                point = point + np.array([float(v) for v in deformation.displacement(*point)])
            scanner = rotation @ point + translation
            return (inv[:3, :3] @ scanner + inv[:3, 3])[::-1]

        session = _render_session(s, subject, seed, small, model, specs, veins, edges, centre, tissue, p, shape,
                                  reference, spacing, voxel_ml, to_kji, rng, phase_sign, pbvc, n_streamlines,
                                  rotation, translation, deformation)
        session.truth["brain_volume_supersampled_ml"] = volume / 1000.0
        session.truth["pbvc_supersampled_percent"] = 100.0 * (volume / volume0 - 1.0)
        out.append(session)
    result = Subject(id=subject, seed=int(seed), small=bool(small), sessions=out)
    _link_sessions(result)
    return result


def _render_session(s, subject, seed, small, model, specs, veins, edges, centre, tissue, p, shape, reference,
                    spacing, voxel_ml, to_kji, rng, phase_sign, pbvc, n_streamlines, rotation, translation,
                    deformation):
    f32 = np.float32
    aseg_free = A.aseg_from_tissue(tissue, model, *p)

    # lesions of this visit, drawn in design order
    lesion_design = np.zeros(shape, dtype=np.int32)  # design index + 1
    claimed = np.zeros(shape, dtype=bool)
    boxes = {}
    for spec in specs:
        scale = spec.scale[s]
        if scale <= 0:
            continue
        ck = to_kji(spec.centre)
        bbox = bbox_for(spec, scale, ck, spacing, shape)
        mask = rasterise(spec, scale, p, tissue, bbox, claimed)
        if not mask.any():
            continue
        lesion_design[bbox][mask] = spec.index + 1
        claimed[bbox] |= mask
        boxes[spec.index] = bbox
    counts = np.bincount(lesion_design.ravel(), minlength=len(specs) + 1)[1:]
    present = [i for i in range(len(specs)) if counts[i] > 0]
    present.sort(key=lambda i: (-counts[i], i))
    design_to_id = {i: n + 1 for n, i in enumerate(present)}
    lut = np.zeros(len(specs) + 1, dtype=np.uint32)
    for i, lid in design_to_id.items():
        lut[i + 1] = lid
    lesion = lut[lesion_design]
    del lesion_design

    aseg = aseg_free.copy()
    les = lesion > 0
    aseg[les & (aseg == 2)] = 77
    aseg[les & (aseg == 41)] = 77
    parc = A.parcellate(aseg_free, p[0], p[1], p[2], edges, centre)
    parc[les & ~np.isin(aseg_free, D.CORTEX_LABELS)] = 0
    brain = np.isin(aseg, D.GM_LABELS + D.WM_LABELS)

    # susceptibility (ppb) with lesions, rims and veins
    chi = C.lookup(D.CHI_PPB)[tissue]
    rim = np.zeros(shape, dtype=bool)
    lesion_rows = []
    by_index = {spec.index: spec for spec in specs}
    for i in present:
        spec = by_index[i]
        bbox = boxes[i]
        m = lesion[bbox] == design_to_id[i]
        base = {"cortical": "cortex", "infratentorial": "brainstem"}.get(spec.location, "wm")
        chi[bbox][m] = f32(D.CHI_PPB[base] + spec.chi_ppb)  # uniform lesion tissue
        if spec.rim_class != "none":
            # voxel axes are RAS-aligned (i -> x, j -> y, k -> z): the cap axis is in the head frame
            sel = rim_cap(m, spec.rim_fraction, rotation @ spec.rim_axis, spacing, [b.start for b in bbox])
            chi[bbox][sel] += f32(spec.rim_delta_ppb)
            rim[bbox] |= sel
    central = [(a, b, D.CENTRAL_VEIN_RADIUS_MM, False) for a, b in
               (vein_segment(by_index[i]) for i in present if by_index[i].central_vein)]
    vein_frac, sinus_frac = _vein_fraction(veins + central, p, to_kji, spacing, shape)
    icv_mask = np.isin(aseg, D.GM_LABELS + D.WM_LABELS + D.CSF_LABELS)
    vein_frac[~icv_mask] = 0.0
    chi = chi * (1.0 - vein_frac) + f32(D.VEIN_CHI_PPB) * vein_frac
    chi[~icv_mask] = 0.0

    # lesion truth rows
    for i in present:
        spec = by_index[i]
        bbox = boxes[i]
        m = lesion[bbox] == design_to_id[i]
        partner = spec.confluent_with
        lesion_rows.append({
            "id": design_to_id[i], "voxels": int(m.sum()), "volume_mm3": float(m.sum()) * spacing ** 3,
            "location": classify(m, aseg_free[bbox]),
            "rim_class": spec.rim_class, "rim_fraction": spec.rim_fraction,
            "ring_enhancing": bool(spec.enhancing[s] and spec.ring_enhancing and m.sum() > 30),
            "rim_coverage": round(measure_rim_coverage(chi[bbox], m), 6),
            "central_vein": bool(spec.central_vein), "enhancing": bool(spec.enhancing[s]),
            "confluent_with": design_to_id.get(partner) if partner is not None else None,
            "change": None if s == 0 else ("new" if spec.scale[0] == 0 else
                                           "stable" if spec.change in ("stable", "resolved") else spec.change),
            "baseline_id": None,
            "_design": i,
        })
    lesion_rows.sort(key=lambda r: r["id"])

    # images
    noise = rng["noise"][s]
    lesion_ids = lesion[les]
    def lesion_values(attr):  # noqa: E306
        values = np.zeros(len(present) + 1, dtype=np.float32)
        for i in present:
            values[design_to_id[i]] = getattr(by_index[i], attr)
        return values[lesion_ids]
    t1_clean = C.tissue_image(tissue, D.T1_CONTRAST, les, lesion_values("t1"))
    flair_clean = C.tissue_image(tissue, D.FLAIR_CONTRAST, les, lesion_values("flair"))
    enh = np.zeros(shape, dtype=np.float32)
    for i in present:
        spec = by_index[i]
        if spec.enhancing[s]:
            bbox = boxes[i]
            m = lesion[bbox] == design_to_id[i]
            region = edge_voxels(m) if spec.ring_enhancing and (m.sum() > 30) else m
            enh[bbox][region] = 1.0
    t1post_clean = t1_clean * (1.0 + f32(D.ENHANCEMENT_FACTOR - 1.0) * enh) * (
        1.0 + f32(D.SINUS_T1POST - 1.0) * sinus_frac)
    pd = C.tissue_image(tissue, D.T2STAR_PD, les, f32(D.LESION_PD))
    r2s = C.tissue_image(tissue, D.T2STAR_R2S, les, f32(D.LESION_R2S))
    r2s[rim] += f32(D.RIM_EXTRA_R2S)
    r2s = r2s * (1.0 - vein_frac) + f32(D.VEIN_R2S) * vein_frac
    mag_clean = pd * np.exp(-r2s * f32(D.TE_MS * 1e-3))

    x_s, y_s, z_s = A.grid_ras(reference)
    images = {}
    images["t1"] = C.magnitude(t1_clean, C.bias_field(x_s, y_s, z_s, noise), noise)
    images["t1post"] = C.magnitude(t1post_clean, C.bias_field(x_s, y_s, z_s, noise), noise)
    images["flair"] = C.magnitude(flair_clean, C.bias_field(x_s, y_s, z_s, noise), noise)
    del t1_clean, flair_clean, t1post_clean, enh
    field_ppm = S.dipole_field_ppm(chi, spacing)
    phase = S.phase_from_field(field_ppm, phase_sign) + S.background_phase(x_s, y_s, z_s, noise)
    wm_mag = D.T2STAR_PD["wm"] * np.exp(-D.T2STAR_R2S["wm"] * D.TE_MS * 1e-3)
    signal = (mag_clean * C.bias_field(x_s, y_s, z_s, noise) * f32(D.SIGNAL_SCALE)) * np.exp(1j * phase)
    signal += C.complex_noise(shape, noise, D.NOISE_FRACTION * D.SIGNAL_SCALE * wm_mag)
    images["t2star"] = np.abs(signal).astype(np.float32)
    images["phase"] = S.highpass_phase(signal, spacing)
    del signal, phase, field_ppm, mag_clean, pd, r2s
    qsm = chi + noise.standard_normal(shape, dtype=np.float32) * f32(D.QSM_NOISE_PPB)
    qsm[~icv_mask] = 0.0
    images["qsm"] = qsm
    images = {k: image_like(images[k].astype(np.float32), reference) for k in ("t1", "t1post", "flair", "qsm",
                                                                              "phase", "t2star")}
    anatomy_img = image_like(aseg.astype(np.uint32), reference)
    parc_img = image_like(parc.astype(np.uint32), reference)
    brain_img = image_like(brain.astype(np.uint8), reference)
    lesion_img = image_like(lesion.astype(np.uint32), reference)

    count = n_streamlines if n_streamlines is not None else (D.STREAMLINES_SMALL if small else D.STREAMLINES_FULL)
    streamlines = T.generate(rng["tracts"][s], parc_img, aseg, lesion, count)
    labels = [int(v) for v in np.unique(parc) if v != 0]
    labels_out, matrix = T.connectome(streamlines, parc_img, labels)
    disconnected = T.crossing_streamlines(streamlines, lesion_img)
    _, matrix_radial = T.radial_connectome(streamlines, parc_img, labels)

    truth = {
        "subject": subject, "session": f"{s + 1:02d}", "seed": int(seed), "small": bool(small),
        "phase_sign": int(phase_sign), "b0_tesla": D.B0_TESLA, "te_ms": D.TE_MS,
        "voxel_size_mm": spacing,
        "lesions": lesion_rows,
        "tissue_ml": _tissue_ml(aseg_free, lesion, voxel_ml),
        "pbvc_percent": float(pbvc),
        "motion": {"rotation": np.asarray(rotation).tolist(), "translation_mm": np.asarray(translation).tolist()},
        "deformation": None if deformation is None else {
            "model": "v(p) = -alpha w(z) (p - centre) + beta sum_v exp(-|p - c_v|^2 / (2 sigma^2)) (p - c_v)",
            "alpha": deformation.alpha, "beta": deformation.beta, "centre_mm": list(deformation.centre),
            "ventricle_centres_mm": [list(c) for c in deformation.ventricle_centres],
            "sigma_mm": deformation.sigma, "taper_z_mm": list(deformation.taper)},
        "connectome": {"labels": labels_out, "matrix": matrix.tolist()},
        "connectome_radial": {"labels": labels_out, "matrix": matrix_radial.tolist(),
                              "radius_mm": D.RADIAL_TRUTH_MM},
        "disconnected_streamlines": disconnected,
        "n_streamlines": len(streamlines),
    }
    t = truth["tissue_ml"]
    truth["bpf"] = (t["gm"] + t["wm"] + t["lesion"]) / t["icv"]
    truth = _plain(truth)
    return Session(id=f"{s + 1:02d}", images=images, anatomy=anatomy_img, parcellation=parc_img,
                   brain_mask=brain_img, lesions=lesion_img, streamlines=streamlines, truth=truth,
                   reference=reference)


def _plain(obj):
    """The truth with numpy scalars and arrays turned into Python ints, floats and lists (as in the JSON)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    return obj


def _link_sessions(subject: Subject) -> None:
    """Fill baseline_id / resolved_baseline_ids and drop private fields."""
    base = {r["_design"]: r["id"] for r in subject.sessions[0].truth["lesions"]}
    for n, session in enumerate(subject.sessions):
        seen = set()
        for row in session.truth["lesions"]:
            design = row.pop("_design")
            seen.add(design)
            row["baseline_id"] = base.get(design) if n > 0 else None
            if n > 0 and row["change"] != "new" and row["baseline_id"] is None:
                row["change"] = "new"
        if n > 0:
            session.truth["resolved_baseline_ids"] = sorted(v for d, v in base.items() if d not in seen)
        for row in session.truth["lesions"]:
            assert row["location"] in LOCATIONS




def _write_tractogram(streamlines, reference: sitk.Image, path: Path) -> Path:
    """Write streamlines (RAS mm) as .tck or .trk (by suffix) atomically, with the grid in the header."""
    import io as _io

    import nibabel as nib
    from nibabel.streamlines import Field, Tractogram

    tractogram = Tractogram(streamlines, affine_to_rasmm=np.eye(4))
    buffer = _io.BytesIO()
    if path.suffix == ".trk":
        header = {Field.VOXEL_TO_RASMM: voxel_to_ras(reference).astype(np.float32),
                  Field.VOXEL_SIZES: np.asarray(reference.GetSpacing(), dtype=np.float32),
                  Field.DIMENSIONS: np.asarray(reference.GetSize(), dtype=np.int16),
                  Field.VOXEL_ORDER: b"RAS"}
        nib.streamlines.TrkFile(tractogram, header=header).save(buffer)
    else:
        nib.streamlines.TckFile(tractogram).save(buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def write_session(root, subject: Subject, session: Session, tractogram_formats=(".tck", ".trk")) -> dict:
    """Write one visit into a BIDS dataset rooted at ``root``; return {key: path}."""
    root = Path(root)
    paths = {}
    sidecars = {
        "t1": {"MagneticFieldStrength": D.B0_TESLA, "Phantom": True},
        "t1post": {"MagneticFieldStrength": D.B0_TESLA, "ContrastBolusIngredient": "GADOLINIUM"},
        "flair": {"MagneticFieldStrength": D.B0_TESLA},
        "qsm": {"MagneticFieldStrength": D.B0_TESLA, "Units": "ppb", "EchoTime": D.TE_MS / 1000.0},
        "phase": {"MagneticFieldStrength": D.B0_TESLA, "EchoTime": D.TE_MS / 1000.0, "Units": "rad",
                  "PhaseSign": session.truth["phase_sign"], "HomodyneHanningWindowFraction": D.HOMODYNE_WINDOW_FRACTION,
                  "B0Direction": "scanner z (voxel axis k)"},
        "t2star": {"MagneticFieldStrength": D.B0_TESLA, "EchoTime": D.TE_MS / 1000.0},
    }
    for key, image in session.images.items():
        path = bids.raw_path(root, subject.id, session.id, key)
        write_image(image, path)
        write_json(str(path)[: -len(".nii.gz")] + ".json", sidecars[key])
        paths[key] = path
    for key, image in (("anatomy", session.anatomy), ("parcellation", session.parcellation),
                       ("brain_mask", session.brain_mask), ("lesions", session.lesions)):
        path = bids.derivative_path(root, PIPELINE, subject.id, session.id, key)
        write_image(image, path)
        write_json(str(path)[: -len(".nii.gz")] + ".json", {"Description": _DERIVED_DESCRIPTIONS[key]})
        paths[key] = path
    for ext in tractogram_formats:
        path = bids.derivative_path(root, PIPELINE, subject.id, session.id, "tractogram", ext=ext)
        _write_tractogram(session.streamlines, session.reference, path)
        paths["tractogram" + ext] = path
    truth_path = truth_path_for(root, subject.id, session.id)
    write_json(truth_path, session.truth)
    paths["truth"] = truth_path
    return paths


#: Sidecar descriptions of the phantom's label images (all ground truth, drawn by the generator).
_DERIVED_DESCRIPTIONS = {
    "anatomy": "ground truth: FreeSurfer aseg labels of the phantom anatomy (desc-aseg_dseg.tsv)",
    "parcellation": "ground truth: cortical parcels and subcortical labels (desc-parcellation_dseg.tsv)",
    "brain_mask": "ground truth: brain (grey matter + white matter + lesions)",
    "lesions": "ground truth: lesion label map, voxel = lesion id (ids by decreasing voxel count)",
}

#: Files of the ground-truth folder outside BIDS (.bidsignore, gitignore syntax): the truth
#: tables, tractograms (not yet in BIDS) and preview pictures.
PHANTOM_BIDSIGNORE = ("**/ground_truth.json", "**/*_tractography.tck", "**/*_tractography.trk", "**/*_preview.png")


def _sessions_table(root: Path, subject: Subject) -> None:
    """``sub-XX/sub-XX_sessions.tsv`` with each visit's acq_time (BIDS), one visit interval apart."""
    import datetime as dt

    from ..tables import write_table

    start = dt.datetime.fromisoformat(D.BASELINE_ACQ_TIME)
    rows = [{"session_id": f"ses-{s.id}",
             "acq_time": (start + dt.timedelta(days=D.VISIT_INTERVAL_DAYS * n)).isoformat(timespec="seconds")}
            for n, s in enumerate(subject.sessions)]
    write_table(rows, root / f"sub-{subject.id}" / f"sub-{subject.id}_sessions.tsv")


def truth_path_for(root, subject: str, session: str) -> Path:
    """Path of a visit's ground_truth.json: derivatives/phantom/sub-XX/ses-YY/ground_truth.json."""
    return Path(root) / "derivatives" / PIPELINE / f"sub-{subject}" / f"ses-{session}" / "ground_truth.json"


def _lookup_tables(root: Path) -> None:
    """dseg.tsv label tables for the aseg and the parcellation (BIDS derivatives convention)."""
    from ..tables import write_table

    base = root / "derivatives" / PIPELINE
    write_table([{"index": v, "name": n} for n, v in sorted(D.ASEG.items(), key=lambda t: t[1])],
                base / "desc-aseg_dseg.tsv")
    rows = [{"index": v, "name": n} for n, v in sorted(D.ASEG.items(), key=lambda t: t[1])
            if v in D.SUBCORTICAL_PARCEL_LABELS]
    for hemi, base_value in (("lh", 1001), ("rh", 2001)):
        for ap in range(D.PARCELS_AP):
            for cor in range(D.PARCELS_CORONAL):
                rows.append({"index": base_value + ap * D.PARCELS_CORONAL + cor,
                             "name": f"ctx-{hemi}-ap{ap}-cor{cor}"})
    write_table(rows, base / "desc-parcellation_dseg.tsv")


def write_dataset(outdir, n_subjects: int = 1, seed: int = 0, small: bool = False, sessions: int = 2,
                  rescan: bool = False, preview: bool = False, progress=None,
                  phase_sign: int = D.PHASE_SIGN, tractogram_formats=(".tck", ".trk")) -> list[Path]:
    """Write a BIDS dataset of ``n_subjects`` phantom subjects (subject k uses seed + k - 1).

    Raw images go to ``sub-XX/ses-YY/anat`` (names from :mod:`mspathobiology.bids`); label images,
    tractograms (.tck and .trk) and ``ground_truth.json`` to ``derivatives/phantom``. Returns the
    subject folders. ``preview`` also writes ``derivatives/phantom/sub-XX/sub-XX_preview.png``.
    ``tractogram_formats``: the tractogram files written per visit (.tck/.trk need nibabel; () writes none).
    """
    if int(n_subjects) < 1:
        raise InputError("n_subjects", f"must be >= 1, not {n_subjects}")
    from .. import __version__
    from ..io import atomic_write_text

    root = Path(outdir)
    root.mkdir(parents=True, exist_ok=True)
    generated_by = [{"Name": "mspathobiology.phantom", "Version": __version__,
                     "Description": "digital MS phantom with exact ground truth"}]
    write_json(root / "dataset_description.json", {
        "Name": "MSPathobiology digital MS phantom", "BIDSVersion": "1.9.0", "DatasetType": "raw",
        "License": "CC0", "Authors": ["MSPathobiology contributors"], "GeneratedBy": generated_by,
        "Phantom": {"seed": int(seed), "small": bool(small), "sessions": int(sessions), "rescan": bool(rescan)}})
    write_json(root / "derivatives" / PIPELINE / "dataset_description.json", {
        "Name": "MSPathobiology phantom ground truth", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
        "Authors": ["MSPathobiology contributors"], "GeneratedBy": generated_by,
        "SourceDatasets": [{"URL": "../.."}], "DatasetLinks": {"raw": "../.."}})
    atomic_write_text(root / "derivatives" / PIPELINE / ".bidsignore", "\n".join(PHANTOM_BIDSIGNORE) + "\n")
    atomic_write_text(root / "README", "Digital MS phantom written by `mspathobiology phantom` (MSPathobiology "
                      f"{__version__}): T1w, T1w post-contrast, FLAIR, QSM and T2*-weighted phase/magnitude per "
                      "visit. Ground truth is in derivatives/phantom.\n")
    atomic_write_text(root / "derivatives" / PIPELINE / "README", "Ground truth of the MSPathobiology digital MS "
                      "phantom: label images, tractograms and ground_truth.json per visit.\n")
    _lookup_tables(root)
    folders, participants = [], []
    for k in range(int(n_subjects)):
        sub_id = f"{k + 1:02d}"
        if progress:
            progress(f"sub-{sub_id}: generating")
        subject = generate_subject(seed=int(seed) + k, small=small, sessions=sessions, rescan=rescan,
                                   subject=sub_id, phase_sign=phase_sign)
        for session in subject.sessions:
            write_session(root, subject, session, tractogram_formats)
        _sessions_table(root, subject)
        if preview:
            from .preview import write_preview

            write_preview(subject.sessions[0], root / "derivatives" / PIPELINE / f"sub-{sub_id}"
                          / f"sub-{sub_id}_preview.png")
        participants.append({"participant_id": f"sub-{sub_id}", "seed": int(seed) + k})
        folders.append(root / f"sub-{sub_id}")
    from ..tables import write_table

    write_table(participants, root / "participants.tsv")
    return folders
