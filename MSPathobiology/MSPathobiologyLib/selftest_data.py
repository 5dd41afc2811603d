"""The data each module's in-Slicer self-test builds, made by the logic layer's phantom.

Qt-free and Slicer-free, so ``Testing/Python/test_module_widgets.py`` builds exactly this data
in a fresh interpreter where nibabel, networkx, trx-python, matplotlib and dask cannot be
imported: what a fresh Slicer 5.12 has (numpy, SimpleITK, VTK, scipy). Every builder returns
SimpleITK images and plain values; the self-tests put them into MRML nodes through the bridge.
Nothing is downloaded.
"""

from __future__ import annotations

import functools

#: Seed of the small phantom the self-tests use.
SEED = 0


@functools.lru_cache(maxsize=2)
def phantom_subject(sessions: int = 2, seed: int = SEED):
    """The small phantom subject (``mspathobiology.phantom.generate_subject``), built once per process."""
    from mspathobiology.phantom import generate_subject

    return generate_subject(seed=seed, small=True, sessions=sessions)


def lesions_data() -> dict:
    """MSLesions: FLAIR, T1 and the anatomy labelmap of one session, with the true lesions (id, volume)."""
    session = phantom_subject().sessions[0]
    return {"flair": session.images["flair"], "t1": session.images["t1"], "anatomy": session.anatomy,
            "truth_labels": session.lesions, "truth_lesions": list(session.truth["lesions"])}


def rims_data() -> dict:
    """MSRimLesions: QSM, FLAIR, the true lesion labels and anatomy, and each lesion's rim class."""
    session = phantom_subject().sessions[0]
    return {"qsm": session.images["qsm"], "flair": session.images["flair"], "lesions": session.lesions,
            "anatomy": session.anatomy,
            "rim_class": {int(les["id"]): les["rim_class"] for les in session.truth["lesions"]},
            "rim_fraction": {int(les["id"]): float(les["rim_fraction"]) for les in session.truth["lesions"]}}


def atrophy_data() -> dict:
    """MSAtrophy: baseline and follow-up T1 with their brain masks, baseline lesions, the true BPF and PBVC (%)."""
    base, follow = phantom_subject().sessions[:2]
    return {"t1": base.images["t1"], "followup_t1": follow.images["t1"], "lesions": base.lesions,
            "brain_mask": base.brain_mask, "followup_brain_mask": follow.brain_mask,
            "truth_bpf": float(base.truth["bpf"]), "truth_pbvc_percent": float(follow.truth["pbvc_percent"])}


def networks_data() -> dict:
    """MSNetworks: parcellation, lesions, the streamlines as flat arrays (points RAS mm, offsets,
    lengths), a scalar map, and the true connectome and disconnected streamlines."""
    from mspathobiology.networks.tractograms import flat_arrays

    session = phantom_subject().sessions[0]
    points, offsets, lengths = flat_arrays(session.streamlines)
    return {"parcellation": session.parcellation, "lesions": session.lesions, "scalar": session.images["t1"],
            "points": points, "offsets": offsets, "lengths": lengths,
            "truth_connectome": session.truth["connectome"],
            "truth_disconnected": list(session.truth["disconnected_streamlines"])}


def case_review_data(folder, n_subjects: int = 1):
    """MSCaseReview: a small BIDS phantom cohort written to ``folder`` (two sessions per subject), with
    .tck/.trk tractograms when nibabel is there to write them (a fresh Slicer has none: no tractograms)."""
    from pathlib import Path

    from mspathobiology.phantom import write_dataset
    from MSPathobiologyLib.dependencies import missing

    folder = Path(folder)
    formats = () if missing(["nibabel"]) else (".tck", ".trk")
    write_dataset(folder, n_subjects=n_subjects, seed=SEED, small=True, sessions=2, tractogram_formats=formats)
    return folder


@functools.lru_cache(maxsize=1)
def _longitudinal_subject():
    from mspathobiology.phantom.longitudinal import generate_longitudinal_subject

    return generate_longitudinal_subject(seed=SEED, small=True, visits=3)


def sel_data() -> dict:
    """MSSlowlyExpandingLesions: three T1 visits of the small longitudinal phantom (and their FLAIR), the
    baseline lesions and brain mask, the lesion count and the ids of the lesions drawn expanding (the SEL truth)."""
    subject = _longitudinal_subject()
    return {"visits": subject.t1, "flair": [s.images["flair"] for s in subject.subject.sessions],
            "lesions": subject.baseline_lesions,
            "brain_mask": subject.subject.sessions[0].brain_mask, "n_lesions": len(subject.truth),
            "truth_sel": [r["id"] for r in subject.truth if r["sel"]]}


#: Module name -> builder of its self-test data.
BUILDERS = {"MSLesions": lesions_data, "MSRimLesions": rims_data, "MSAtrophy": atrophy_data,
            "MSNetworks": networks_data, "MSCaseReview": case_review_data,
            "MSSlowlyExpandingLesions": sel_data}
