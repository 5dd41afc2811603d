"""One full case on a real-derived 1 mm head, end to end (issue 17): time and peak memory per stage.

Real-derived case (made once, not timed as part of the case):
- T1: Colin27 ``ch2.nii.gz`` (Debian mricron-data, a real 1 mm whole-head T1) moved slightly, with
  its own bias field and noise (``real_data.pbvc_pair``); brain reference ``ch2bet`` carried along;
- FLAIR: FLAIR-like contrast of that T1 (``lesions.flair_like``) with 12 spheres inserted in deep
  white matter (``lesions_real.insert_lesions``);
- QSM: susceptibility-like map (ppb): deep grey matter and white matter levels from the T1, noise,
  and paramagnetic shells around some inserted lesions over known edge fractions
  (``rims.synthetic.RIM_FRACTIONS``);
- follow-up T1: the same head scaled by ``real_data.PBVC_TRUTH_SCALE`` about the brain centre, moved,
  with new bias and noise, on its own grid (truth PBVC printed);
- parcellation: the AAL atlas of the same template space (``aal.nii.gz``, 116 regions);
- tractogram: DIPY's real ``minimal_bundles`` streamlines replicated with jitter to ``--streamlines``
  (``networks_mrtrix.replicated``), written as ``.tck``.

Each stage is run as a user runs it, ``python -m mspathobiology <command>`` in a fresh process
(reading and writing included), chained as ``mspathobiology run`` chains them: lesions (FLAIR + T1,
brain extraction from the T1), rims (QSM + the lesions step's labels and table), atrophy (T1 + FLAIR +
the lesions + AAL), PBVC (baseline + follow-up, no masks), network (tractogram + AAL + the lesions,
exact lesion traversal). Per stage: wall time, CPU time (user + system) and the peak resident memory
(``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper whose only child is the stage).
The T1's brain extraction is made once, by the first stage that needs it (lesions), and reused by
atrophy and PBVC from the brain-extraction cache (``mspathobiology.atrophy.brain_cache``; a fresh
cache folder inside the case folder, so that nothing from an earlier run is reused); each stage's
outputs say where its mask came from, and this is printed. Also printed: the T1's template brain
extraction alone (cache off) and the range an idle machine's wall time would lie in, from the CPU time.
SEL is not part of a full case (it needs >= 3 visits; ``sel_accuracy.py`` times it).

Targets (issue 17): full case <= 60 s on 2 cores; PBVC alone <= 30 s and <= 1 GB.
The 2 cores are shared with other work: the load average is printed before and after.

Run: python benchmarks/full_case.py [--streamlines 500000] [--mm 1.0] [--keep DIR]
(with ``--keep DIR`` the case is built once and reused by later runs with the same options)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MSPathobiology"))

from lesions_real import insert_lesions  # noqa: E402
from networks_mrtrix import ATLAS, measured, real_streamlines, replicated, write_tck  # noqa: E402
from real_data import PBVC_TRUTH_SCALE, load_ch2, pbvc_pair, reference_brain_mask  # noqa: E402

from mspathobiology.geometry import image_like  # noqa: E402
from mspathobiology.lesions.flair_like import flair_like_from_t1, tissue_levels  # noqa: E402
from mspathobiology.rims.synthetic import RIM_FRACTIONS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FOLLOWUP_MOTION = {"rotation_deg": (2.0, -1.5, 1.0), "shift_mm": (1.3, -0.8, 2.1)}
FULL_CASE_TARGET_S = 60.0
PBVC_TARGET_S = 30.0
PBVC_TARGET_MB = 1024.0
RIM_MM = 1.5            # shell thickness outside the lesion edge
RIM_PPB = 30.0          # shell susceptibility above white matter
QSM_NOISE_PPB = 4.0
QSM_LEVELS_PPB = {"csf": 0.0, "gm": 10.0, "wm": -15.0}   # relative, at the class medians of the T1


def qsm_like(t1: sitk.Image, brain: sitk.Image, truth: np.ndarray, seed: int = 0):
    """QSM-like map (ppb, float32, on ``t1``'s grid): T1 class levels remapped to susceptibility-like
    levels inside ``brain``, Gaussian noise, and a paramagnetic shell ``RIM_MM`` thick outside each of
    the first lesions of ``truth`` (ids 1..), over the angular edge fraction of classes cycling through
    ``RIM_FRACTIONS`` (at least one voxel thick on coarse grids). Returns (image, {lesion id: true fraction})."""
    rng = np.random.default_rng(seed)
    t1a = sitk.GetArrayFromImage(t1).astype(np.float32)
    inside = sitk.GetArrayFromImage(brain) > 0
    csf, gm, wm = tissue_levels(t1a, inside)
    qsm = np.zeros(t1a.shape, np.float32)
    qsm[inside] = np.interp(t1a[inside], [csf, gm, wm],
                            [QSM_LEVELS_PPB["csf"], QSM_LEVELS_PPB["gm"], QSM_LEVELS_PPB["wm"]])
    qsm += rng.normal(0.0, QSM_NOISE_PPB, qsm.shape).astype(np.float32)
    spacing = np.asarray(t1.GetSpacing()[::-1])
    classes = list(RIM_FRACTIONS.values())
    fractions = {}
    for n, box in enumerate(ndimage.find_objects(truth), start=1):
        if box is None:
            continue
        fraction = classes[(n - 1) % len(classes)]
        fractions[n] = fraction
        if fraction == 0:
            continue
        pad = int(np.ceil(RIM_MM / spacing.min())) + 1
        big = tuple(slice(max(s.start - pad, 0), s.stop + pad) for s in box)
        lesion = truth[big] == n
        distance = ndimage.distance_transform_edt(~lesion, sampling=spacing)
        centre = np.argwhere(lesion).mean(axis=0)
        k, j, i = np.indices(lesion.shape)
        phi = (np.arctan2((j - centre[1]) * spacing[1], (i - centre[2]) * spacing[2]) + np.pi) / (2 * np.pi)
        arc = ((phi - rng.uniform(0, 1)) % 1.0) < fraction
        shell = (distance > 0) & (distance <= max(RIM_MM, spacing.min())) & arc & (truth[big] == 0)
        qsm[big][shell] = np.maximum(qsm[big][shell], 0.0) + RIM_PPB
    return image_like(qsm, t1), fractions


def build_case(folder: Path, mm: float, streamlines: int) -> dict:
    """Write the real-derived case into ``folder``; return paths and truths."""
    base = load_ch2(mm if mm != 1.0 else None)
    reference = reference_brain_mask(base)
    t1, followup, t1_mask, _ = pbvc_pair(base, reference, PBVC_TRUTH_SCALE, **FOLLOWUP_MOTION)
    flair, truth = insert_lesions(flair_like_from_t1(t1, t1_mask), t1, t1_mask)
    qsm, fractions = qsm_like(t1, t1_mask, truth)
    atlas = sitk.ReadImage(str(ATLAS))
    if mm != 1.0:
        atlas = sitk.Resample(atlas, t1, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    names = ("t1", "followup", "flair", "qsm", "atlas", "truth_lesions")
    paths = {name: folder / f"{name}.nii.gz" for name in names}
    for name, image in zip(names, (t1, followup, flair, qsm, atlas, image_like(truth.astype(np.uint16), t1))):
        sitk.WriteImage(image, str(paths[name]))
    paths["tractogram"] = folder / "tractogram.tck"
    count = write_tck(paths["tractogram"], replicated(real_streamlines(), streamlines))
    present = int(np.count_nonzero(np.bincount(truth.ravel())[1:]))
    return {"paths": paths, "lesions": present, "rims": sum(f > 0 for f in fractions.values()),
            "rim_fractions": fractions, "prl": sum(f >= 2 / 3 for f in fractions.values()),
            "streamlines": count, "size": t1.GetSize(), "spacing": t1.GetSpacing()[0],
            "pbvc_truth": 100 * (PBVC_TRUTH_SCALE ** 3 - 1)}


def built_case(folder: Path, mm: float, streamlines: int) -> dict:
    """:func:`build_case`, or the case an earlier run built in ``folder`` with the same options."""
    record = folder / "case.json"
    options = {"mm": mm, "streamlines": streamlines}
    if record.is_file():
        case = json.loads(record.read_text())
        if case.get("options") == options and all(Path(v).is_file() for v in case["paths"].values()):
            case["paths"] = {k: Path(v) for k, v in case["paths"].items()}
            case["rim_fractions"] = {int(k): v for k, v in case["rim_fractions"].items()}
            case["size"] = tuple(case["size"])
            return case
    case = build_case(folder, mm, streamlines)
    record.write_text(json.dumps({**case, "options": options, "paths": {k: str(v) for k, v in case["paths"].items()}},
                                 default=str))
    return case


def extraction_source(name: str, out: Path) -> str | None:
    """How the stage's brain mask was made, from its own outputs (None for stages without one)."""
    files = {"lesions": ("lesions/summary.json", "brain_mask_method"),
             "atrophy": ("atrophy/atrophy.json", "brain_extraction_method"),
             "pbvc": ("pbvc/pbvc.json", "brain_extraction_method")}
    if name not in files:
        return None
    try:
        return str(json.loads((out / files[name][0]).read_text())[files[name][1]])
    except (OSError, ValueError, KeyError):
        return "(not recorded)"


def stages(p: dict, out: Path) -> list[tuple[str, list[str]]]:
    """(name, command arguments) of each stage, in the order ``mspathobiology run`` chains them."""
    les = out / "lesions"
    return [
        ("lesions", ["lesions", "--flair", p["flair"], "--t1", p["t1"], "--out", les]),
        ("rims", ["rims", "--lesions", les / "lesions.nii.gz", "--qsm", p["qsm"], "--lesion-table",
                  les / "lesions.tsv", "--out", out / "rims"]),
        ("atrophy", ["atrophy", "--t1", p["t1"], "--flair", p["flair"], "--lesions", les / "lesions.nii.gz",
                     "--parcellation", p["atlas"], "--out", out / "atrophy"]),
        ("pbvc", ["pbvc", "--baseline", p["t1"], "--followup", p["followup"], "--out", out / "pbvc"]),
        ("network", ["network", "--tractogram", p["tractogram"], "--parcellation", p["atlas"], "--lesions",
                     les / "lesions.nii.gz", "--out", out / "network"]),
    ]


def outcome(name: str, out: Path) -> str:
    """One line saying what the stage found (read from its own outputs)."""
    try:
        if name == "lesions":
            s = json.loads((out / "lesions" / "summary.json").read_text())
            return f"{s['lesion_count']} lesions found ({s['lesion_volume_mm3'] / 1000:.1f} mL)"
        if name == "rims":
            rows = (out / "rims" / "rims.tsv").read_text().splitlines()
            header = rows[0].split("\t")
            col = header.index("prl_candidate") if "prl_candidate" in header else None
            flagged = sum(r.split("\t")[col].strip().lower() in ("1", "true", "yes") for r in rows[1:]) \
                if col is not None else "?"
            return f"{len(rows) - 1} lesions scored, {flagged} PRL candidates"
        if name == "atrophy":
            s = json.loads((out / "atrophy" / "atrophy.json").read_text())
            return f"BPF {s['bpf']:.3f}, brain {s['brain_ml']:.0f} mL, lesions {s['lesion_ml']:.1f} mL"
        if name == "pbvc":
            s = json.loads((out / "pbvc" / "pbvc.json").read_text())
            return f"PBVC {s['pbvc_percent']:+.3f} % (truth {100 * (PBVC_TRUTH_SCALE ** 3 - 1):+.3f} %)"
        if name == "network":
            s = json.loads((out / "network" / "global.json").read_text())
            d = s["disconnection"]
            return (f"{s['metrics']['nodes']} nodes, {s['metrics']['edges']} edges from "
                    f"{s['counts']['streamlines_both_ends_assigned']:,} assigned streamlines; "
                    f"{d['lesioned_streamlines']:,} cross lesions")
    except (OSError, ValueError, KeyError, IndexError) as error:
        return f"(outputs not read: {error})"
    return ""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streamlines", type=int, default=500_000)
    parser.add_argument("--mm", type=float, default=1.0, help="resample ch2 to this isotropic spacing (1 = as is)")
    parser.add_argument("--keep", help="folder for the data and outputs (default: a temporary folder)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="full_case_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return run(folder, args)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path, args) -> int:
    start = time.perf_counter()
    case = built_case(folder, args.mm, args.streamlines)
    p = {k: str(v) for k, v in case["paths"].items()}
    print(f"case: ch2 (Colin27) real whole-head T1 {case['size']} at {case['spacing']:.1f} mm + FLAIR-like with "
          f"{case['lesions']} inserted lesions + QSM-like with {case['rims']} rims ({case['prl']} over >= 2/3 of the "
          f"edge) + follow-up T1 (truth PBVC "
          f"{case['pbvc_truth']:+.3f} %) + AAL (116 regions) + {case['streamlines']:,} streamlines (.tck, "
          f"{case['paths']['tractogram'].stat().st_size / 2**20:.0f} MB); made in {time.perf_counter() - start:.0f} s "
          "(not counted)")

    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(ROOT / "MSPathobiology") + (os.pathsep + env_path if env_path else "")
    cores = os.cpu_count()
    load_before = os.getloadavg()
    print(f"machine: {cores} cores, load average {load_before[0]:.1f} / {load_before[1]:.1f} / "
          f"{load_before[2]:.1f} (1/5/15 min) before the run: the cores are shared with other engineers' "
          "jobs, so wall times are upper bounds of an idle machine's")
    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    cache = folder / "brain_extraction_cache"
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["MSPATHOBIOLOGY_CACHE_DIR"] = str(cache)   # fresh: the case's first extraction is timed
    rows = []
    for name, command in stages(p, out):
        wall, cpu, peak = measured([sys.executable, "-m", "mspathobiology", *map(str, command)])
        rows.append((name, wall, cpu, peak))
        print(f"  {name:8s} {wall:6.1f} s wall  {cpu:6.1f} s CPU  peak {peak:6.0f} MB   {outcome(name, out)}",
              flush=True)
    sources = {name: extraction_source(name, out) for name, *_ in rows}
    os.environ["MSPATHOBIOLOGY_CACHE_DIR"] = "off"
    extraction = measured([sys.executable, "-c", "import sys; from mspathobiology.io import read_image; "
                           "from mspathobiology.atrophy import extract_brain; extract_brain(read_image(sys.argv[1]))",
                           p["t1"]])
    load_after = os.getloadavg()
    wall = sum(r[1] for r in rows)
    cpu = sum(r[2] for r in rows)
    peak = max(r[3] for r in rows)
    print(f"  {'case':8s} {wall:6.1f} s wall  {cpu:6.1f} s CPU  peak {peak:6.0f} MB   (stages one after another; "
          "peak = the largest stage)")
    print(f"load average after: {load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f}; "
          f"CPU / wall over the case {cpu / wall:.2f} (of {cores} cores); on an idle machine the case's wall time "
          f"would lie between CPU / cores = {cpu / cores:.0f} s and CPU = {cpu:.0f} s")
    made = [name for name, text in sources.items() if text is not None and "reused from" not in text]
    reused = [name for name, text in sources.items() if text is not None and "reused from" in text]
    print(f"inside the stages: template brain extraction of the T1 alone (read + extract, fresh process, cache off) "
          f"{extraction[0]:.1f} s wall, {extraction[1]:.1f} s CPU, peak {extraction[2]:.0f} MB; made by "
          f"{', '.join(made) or 'no stage'}, reused by {', '.join(reused) or 'no stage'} (each stage's own outputs):")
    for name, text in sources.items():
        if text is not None:
            print(f"    {name:8s} {text}")
    pbvc = next(r for r in rows if r[0] == "pbvc")
    checks = [
        (f"full case wall time {wall:.1f} s", f"<= {FULL_CASE_TARGET_S:.0f} s on 2 cores", wall <= FULL_CASE_TARGET_S),
        (f"PBVC wall time {pbvc[1]:.1f} s", f"<= {PBVC_TARGET_S:.0f} s", pbvc[1] <= PBVC_TARGET_S),
        (f"PBVC peak memory {pbvc[3]:.0f} MB", f"<= {PBVC_TARGET_MB:.0f} MB", pbvc[3] <= PBVC_TARGET_MB),
    ]
    scale = "" if args.mm == 1.0 else f"; at {args.mm:g} mm, not the 1 mm head the targets are for"
    for text, target, ok in checks:
        print(f"{verdict(ok)}  {text}  (target {target}; load average {load_before[0]:.1f} -> {load_after[0]:.1f}"
              f"{scale})")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
