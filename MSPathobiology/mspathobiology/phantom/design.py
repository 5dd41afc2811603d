"""Per-subject design of the phantom: lesions (classes, sizes, evolution, rims, veins,
enhancement), the venous tree and the follow-up atrophy targets. Pure random draws from
the subject's generators; rasterisation happens per visit in :mod:`.dataset`."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from ..connectivity import structuring_element
from ..defaults import phantom as D
from . import followup as F
from .anatomy import AnatomyModel
from .lesions import CLASS_VOLUME_MM3, Placer


def _loguniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _session_scales(change: str, target: float, n_sessions: int, rescan: bool) -> list:
    """Axis scale of a baseline lesion at each visit (0 = absent)."""
    scales = [1.0]
    for s in range(1, n_sessions):
        if rescan or change == "stable":
            scales.append(1.0)
        elif change == "resolved":
            scales.append(0.0)
        else:
            scales.append(1.0 + (target - 1.0) * s / (n_sessions - 1))
    return scales


def rim_class_of(fraction: float) -> str:
    """Rim class named from the edge fraction: 'full' (1), 'two_thirds' (>= 2/3, 0.67 included), 'partial'."""
    return "full" if fraction >= 1.0 else "two_thirds" if fraction >= 0.665 else "partial" if fraction > 0 else "none"


def design_lesions(rng, evolution, placer: Placer, small: bool, n_sessions: int, rescan: bool) -> list:
    """Place baseline lesions, confluent pairs and follow-up new lesions on the baseline grid.

    Returns a list of :class:`~.lesions.LesionSpec` with per-visit ``scale``, ``change``, rim, vein and
    enhancement set. Lesions are attempted largest first; a lesion that cannot be placed is retried
    smaller, then dropped.
    """
    counts = D.LESION_COUNTS_SMALL if small else D.LESION_COUNTS_FULL
    rim_counts = D.RIM_COUNTS_SMALL if small else D.RIM_COUNTS_FULL
    n_large = sum(rim_counts.values()) + D.EXTRA_RIM_HOSTS
    plan = []
    for location, n in counts.items():
        lo, hi = CLASS_VOLUME_MM3[location]
        lo = max(lo, D.LESION_VOLUME_RANGE_MM3[0])
        for _ in range(n):
            plan.append([location, _loguniform(rng, lo, hi)])
    big = [p for p in plan if p[0] in ("periventricular", "deep_white_matter")]
    for p in big[:n_large]:
        p[1] = _loguniform(rng, *D.LARGE_LESION_VOLUME_RANGE_MM3)
        p.append(True)  # intended rim host: never shrinks or resolves
    plan.sort(key=lambda p: -p[1])
    # The design is always drawn for a baseline and a changed follow-up, so the baseline of a subject does
    # not depend on the number of visits; without follow-up changes they are dropped at the end.
    follow = n_sessions > 1 and not rescan

    specs = []
    n_edge, n_edge_max = 0, D.CHANGE_EDGE_LESIONS_SMALL if small else D.CHANGE_EDGE_LESIONS_FULL
    edge_start = int(evolution.integers(2))  # the first edge lesion is below or above the threshold
    for location, volume, *host in plan:
        change, target = "stable", 1.0
        u, grow, shrink = evolution.random(), evolution.uniform(*D.ENLARGING_SCALE), evolution.uniform(*D.SHRINKING_SCALE)
        if u < D.ENLARGING_FRACTION:
            change, target = "enlarging", float(grow)
        elif host:
            pass
        elif u < D.ENLARGING_FRACTION + D.SHRINKING_FRACTION:
            if volume >= D.SHRINKING_MIN_VOLUME_MM3:
                change, target = "shrinking", float(shrink)
        elif u < D.ENLARGING_FRACTION + D.SHRINKING_FRACTION + D.RESOLVING_FRACTION:
            change = "resolved"
        # growth at the enlarging threshold, just below or just above it (issue 12; .followup)
        edge = (change == "stable" and n_edge < n_edge_max and volume >= D.CHANGE_EDGE_MIN_VOLUME_MM3
                and location in D.CHANGE_EDGE_LOCATIONS)
        if edge:
            change, target = "enlarging", F.edge_growth_scale(n_edge + edge_start)
        scales = _session_scales(change, target, 2, False)
        placed = None
        for attempt in range(3):
            placed = placer.place(len(specs), location, volume * 0.5 ** attempt,
                                  rng.random() < D.IRREGULAR_FRACTION, scales=tuple(s for s in scales if s > 0))
            if placed:
                break
        if placed is None:
            continue
        spec, mask = placed
        spec.scale, spec.change, spec.target = _session_scales(change, target, n_sessions, not follow), change, target
        spec.mask0 = mask
        if edge and F.edge_growth_holds(placer, spec, mask, target):
            spec.scale = [1.0] + [target if follow else 1.0] * (n_sessions - 1)
            spec.change = F.change_by_definition(target ** 3)
            n_edge += 1
        elif edge:  # its growth would be clipped: stays stable
            spec.scale, spec.change, spec.target = [1.0] * n_sessions, "stable", 1.0
        specs.append(spec)

    # confluent pairs: a partner touching a large WM lesion, stable at every visit
    n_pairs = D.CONFLUENT_PAIRS_SMALL if small else D.CONFLUENT_PAIRS_FULL
    hosts = [s for s in specs if s.location in ("periventricular", "deep_white_matter", "juxtacortical")
             and s.change == "stable" and s.target == 1.0 and s.confluent_with is None]
    for host in hosts[:n_pairs]:
        location = "deep_white_matter" if host.location != "juxtacortical" else "juxtacortical"
        placed = placer.place(len(specs), location, float(rng.uniform(*D.CONFLUENT_VOLUME_RATIO)) * float(host.mask0.sum())
                              * placer.spacing ** 3, rng.random() < 0.5, partner=host, partner_mask=host.mask0,
                              scales=(1.0,))
        if placed is None:
            continue
        spec, mask = placed
        spec.scale, spec.change, spec.mask0 = [1.0] * n_sessions, "stable", mask
        spec.confluent_with, host.confluent_with = host.index, len(specs)
        specs.append(spec)

    # new lesions at follow-up (absent at baseline)
    if True:
        n_new = D.NEW_LESIONS_SMALL if small else D.NEW_LESIONS_FULL
        def add_new(placed):
            """A lesion absent at baseline and present from the second session on."""
            if placed is None:
                return
            spec, mask = placed
            spec.scale = [0.0] + [1.0] * max(n_sessions - 1, 1)
            spec.change, spec.mask0 = "new", mask
            specs.append(spec)

        for _ in range(n_new):
            location = str(rng.choice(["periventricular", "deep_white_matter", "juxtacortical"]))
            lo, hi = CLASS_VOLUME_MM3[location]
            volume = _loguniform(rng, max(lo, D.NEW_LESION_VOLUME_MM3[0]), min(hi, D.NEW_LESION_VOLUME_MM3[1]))
            add_new(placer.place(len(specs), location, volume, rng.random() < D.IRREGULAR_FRACTION, scales=(1.0,)))
        # new lesions just beyond the matching tolerance from a stable baseline lesion (issue 12)
        n_near = D.NEW_NEAR_LESIONS_SMALL if small else D.NEW_NEAR_LESIONS_FULL
        partners = [s for s in specs if s.change == "stable" and s.target == 1.0 and s.confluent_with is None
                    and s.scale[0] > 0 and s.location in ("periventricular", "deep_white_matter", "juxtacortical")]
        for partner in partners[:n_near]:
            add_new(F.place_near(placer, len(specs), _loguniform(rng, *D.NEW_NEAR_VOLUME_MM3), partner, partner.mask0))

    # rims (large, non-confluent, stable or enlarging baseline lesions), veins, enhancement, intensities
    def has_core(spec):
        core = ndimage.binary_erosion(spec.mask0, structure=structuring_element(6))
        return core.sum() >= max(D.RIM_MIN_CORE_VOXELS, D.RIM_MIN_CORE_FRACTION * spec.mask0.sum())

    candidates = [s for s in specs if s.scale[0] > 0 and s.confluent_with is None
                  and s.change in ("stable", "enlarging")
                  and s.mask0.sum() * placer.spacing ** 3 >= D.RIM_MIN_VOLUME_MM3 and has_core(s)]
    order = rng.permutation(len(candidates))
    if len(candidates) < sum(rim_counts.values()):
        warnings.warn(f"phantom: only {len(candidates)} lesions can carry a rim", RuntimeWarning, stacklevel=2)
    # each class slot takes the fractions of that class in turn, from a random start
    slots = []
    for cls, count in rim_counts.items():
        options = [f for f in D.RIM_FRACTIONS if rim_class_of(f) == cls]
        start = int(rng.integers(len(options)))
        slots += [options[(start + m) % len(options)] for m in range(count)]
    for fraction, n in zip(slots, order):
        spec = candidates[n]
        spec.rim_fraction = float(fraction)
        spec.rim_class = rim_class_of(spec.rim_fraction)
        axis = rng.normal(size=3)
        spec.rim_axis = axis / np.linalg.norm(axis)
        spec.rim_delta_ppb = float(rng.uniform(*D.RIM_DELTA_CHI_PPB))
    for spec in specs:
        spec.central_vein = bool(rng.random() < D.CENTRAL_VEIN_FRACTION
                                 and spec.mask0.sum() * placer.spacing ** 3 >= D.CENTRAL_VEIN_MIN_VOLUME_MM3)
        first = 0 if spec.scale[0] > 0 else 1
        if spec.rim_class == "none":
            enh = first == 1 or rng.random() < D.ENHANCING_FRACTION
            spec.ring_enhancing = bool(rng.random() < D.RING_ENHANCING_FRACTION)
        else:  # an acute lesion with a transient rim: ring enhancement
            enh = first == 0 and rng.random() < D.RIM_ENHANCING_FRACTION
            spec.ring_enhancing = bool(enh)
        spec.enhancing = [bool(enh and s == first) for s in range(max(n_sessions, 2))]
        spec.t1 = float(rng.uniform(*(D.T1_ENHANCING_RANGE if any(spec.enhancing) else D.T1_LESION_RANGE)))
        spec.flair = float(rng.uniform(*D.FLAIR_LESION_RANGE))
        spec.chi_ppb = float(rng.uniform(*D.LESION_CHI_RANGE_PPB))
    baseline = [spec for spec in specs if spec.scale[0] > 0 and spec.rim_class == "none"]
    if baseline and not any(spec.enhancing[0] for spec in baseline):  # every case shows enhancement
        chosen = baseline[int(rng.integers(min(len(baseline), 4)))]
        chosen.enhancing[0] = True
        chosen.t1 = float(rng.uniform(*D.T1_ENHANCING_RANGE))
    if not follow:
        specs = [spec for spec in specs if spec.change != "new"]
        for spec in specs:
            spec.change, spec.scale = "stable", [1.0] * n_sessions
            spec.enhancing = [spec.enhancing[0]] * 1 + [False] * (n_sessions - 1)
    for spec in specs:
        spec.enhancing = (spec.enhancing + [False] * n_sessions)[:n_sessions]
    return specs


def venous_tree(rng, model: AnatomyModel, placer: Placer) -> list:
    """Veins as segments (a, b, radius mm, is_sinus) in the baseline head frame.

    Superior sagittal sinus along the midline under the vertex, straight sinus, paired internal
    cerebral veins, and medullary veins running radially from the ventricles through white matter.
    """
    veins = []
    c = model.c(D.CEREBRUM_CENTRE_MM)
    a = model.a(D.CEREBRUM_SEMI_AXES_MM) + D.EXTERNAL_CSF_MM * 0.5
    angles = np.linspace(np.deg2rad(-10), np.deg2rad(200), 16)
    arc = [np.array([c[0], c[1] + a[1] * np.cos(t), c[2] + a[2] * np.sin(t)]) for t in angles]
    for p, q in zip(arc[:-1], arc[1:]):
        veins.append((p, q, D.SINUS_RADIUS_MM, True))
    cc_back = np.array([c[0], c[1] - D.CC_HALF_LENGTH_MM * model.scale, D.CC_TOP_Z_MM * model.scale - 4.0])
    veins.append((cc_back, arc[-3], D.SINUS_RADIUS_MM * 0.7, True))
    for side in (-1.0, 1.0):
        veins.append((np.array([side * 2.5, 10.0, 22.0]) * model.scale, cc_back + np.array([side * 2.5, 0.0, 0.0]),
                      1.0, False))
    wm = np.flatnonzero(placer.candidates["periventricular"])
    for _ in range(D.MEDULLARY_VEINS):
        kji = np.array(np.unravel_index(wm[rng.integers(wm.size)], placer.shape))
        start = placer.origin + kji[::-1] * placer.spacing
        g = np.array([placer.grad_vent[ax][tuple(kji)] for ax in range(3)])[::-1]
        g = g / (np.linalg.norm(g) + 1e-9)
        veins.append((start, start + g * rng.uniform(15.0, 30.0), D.MEDULLARY_VEIN_RADIUS_MM, False))
    return veins
