"""Accuracy of lesion segmentation, locations and change on the phantom (issue 4).

Targets (each printed with PASS/FAIL):
- lesions >= 10 mm^3: lesion-wise F1 (MSSEG rule) >= 0.9 and Dice >= 0.8;
- location accuracy >= 90 % with the phantom's anatomy labelmap;
- new and enlarging lesions (>= 10 mm^3, as above) between baseline and follow-up found with
  F1 >= 0.9 (the figure over all sizes is printed too);
- at the change definitions' edges (issue 12; the phantom designs them, phantom.followup): lesions
  of >= CHANGE_EDGE_MIN_VOLUME_MM3 whose rendered relative growth is 0.2-0.8, near the 0.5
  enlarging threshold (truth stable below, enlarging above), and new lesions at most 3 voxels from another lesion
  (the visits are matched with a one-voxel tolerance): the fraction classified as the truth says,
  end to end and by the change rule on the truth lesions, is printed (target >= 0.9 end to end).

The segmentation sees FLAIR, T1 and the phantom's brain mask (and the anatomy labelmap for
locations) -- never the ground truth. Location accuracy is reported twice: the location rule
applied to the ground-truth lesions (isolates the rule), and end to end (segmented lesions,
matched to the truth lesion they overlap most). New/enlarging F1 is end to end: segmentation
of both visits, rigid registration, classification; a found lesion counts when it overlaps a
truth lesion of class new or enlarging.

Run: python benchmarks/lesions_accuracy.py [--seeds 0 1] [--small]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MSPathobiology"))

from mspathobiology.io import read_image, write_image  # noqa: E402
from mspathobiology.lesion_table import read_lesion_table  # noqa: E402
from mspathobiology.lesions.locations import DIS_AREAS_2017  # noqa: E402
from mspathobiology.lesions import (analyse, anatomy_classes, classify_locations,  # noqa: E402
                                    estimate_anatomy_classes, lesion_detection, run_case, run_change)
from mspathobiology.defaults.phantom import CHANGE_EDGE_MIN_VOLUME_MM3  # noqa: E402
from mspathobiology.geometry import voxel_volume_mm3  # noqa: E402
from mspathobiology.tables import read_table  # noqa: E402

F1_TARGET, DICE_TARGET, LOCATION_TARGET, CHANGE_F1_TARGET, EDGE_TARGET = 0.9, 0.8, 0.9, 0.9, 0.9
EDGE_GROWTH_RANGE = (0.2, 0.8)       # true relative growth counted as "near the 0.5 threshold"
EDGE_NEW_MAX_GAP_VOXELS = 3          # empty voxels between a new lesion and another lesion
MIN_EVAL_VOLUME_MM3 = 10.0 - 1e-6   # MSSEG keeps lesions strictly larger: >= 10 mm^3



def dis_area(location):
    """The McDonald 2017 dissemination-in-space area of a lesion location (None: no area)."""
    return next((area for area, locs in DIS_AREAS_2017.items() if location in locs), None)

def write_session(session, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key in ("flair", "t1", "t1post"):
        paths[key] = write_image(session.images[key], folder / f"{key}.nii.gz")
    paths["anatomy"] = write_image(session.anatomy, folder / "anatomy.nii.gz")
    paths["brain_mask"] = write_image(session.brain_mask, folder / "brain_mask.nii.gz")
    write_image(session.lesions, folder / "truth.nii.gz")
    return paths


def match_truth(labels: np.ndarray, truth: np.ndarray) -> dict[int, int]:
    """{segmented id: truth id it overlaps most} (overlapping pairs only)."""
    both = (labels > 0) & (truth > 0)
    pairs, counts = np.unique(np.stack([labels[both], truth[both]]), axis=1, return_counts=True)
    best: dict[int, tuple[int, int]] = {}
    for (s, t), c in zip(pairs.T, counts):
        if c > best.get(int(s), (0, 0))[1]:
            best[int(s)] = (int(t), int(c))
    return {s: t for s, (t, _) in best.items()}


def f1(tp_truth, n_truth, tp_found, n_found):
    tpr = tp_truth / n_truth if n_truth else float("nan")
    ppv = tp_found / n_found if n_found else float("nan")
    return (2 * tpr * ppv / (tpr + ppv)) if (tpr + ppv) > 0 else 0.0, tpr, ppv


def evaluate_subject(seed: int, small: bool, work: Path) -> dict:
    from mspathobiology.phantom import generate_subject

    start = time.perf_counter()
    subject = generate_subject(seed=seed, small=small, sessions=2)
    print(f"seed {seed}: phantom generated in {time.perf_counter() - start:.1f} s")
    out = {}
    dirs = []
    for n, session in enumerate(subject.sessions):
        paths = write_session(session, work / f"ses{n}")
        start = time.perf_counter()
        run_case({k: paths[k] for k in ("flair", "t1", "anatomy", "brain_mask")}, work / f"out{n}")
        elapsed = time.perf_counter() - start
        dirs.append(work / f"out{n}")
        labels = sitk.GetArrayFromImage(read_image(work / f"out{n}" / "lesions.nii.gz", kind="label")).astype(np.int64)
        truth = sitk.GetArrayFromImage(session.lesions).astype(np.int64)
        vv = voxel_volume_mm3(session.lesions)
        scores = lesion_detection(labels, truth, vv, min_volume_mm3=MIN_EVAL_VOLUME_MM3)
        out[f"ses{n}"] = {**{k: scores[k] for k in ("f1", "tpr", "ppv", "dice", "n_truth", "n_segmented")},
                          "seconds": elapsed}
        truth_loc = {int(l["id"]): l["location"] for l in session.truth["lesions"]}
        rule = classify_locations(truth, anatomy_classes(sitk.GetArrayViewFromImage(session.anatomy)))
        hits = [rule.get(i) == loc for i, loc in truth_loc.items() if i in rule]
        out[f"ses{n}"]["location_rule_accuracy"] = float(np.mean(hits)) if hits else float("nan")
        out[f"ses{n}"]["location_rule_errors"] = [(i, loc, rule.get(i)) for i, loc in truth_loc.items()
                                                  if i in rule and rule.get(i) != loc]
        rows = {r["id"]: r for r in read_lesion_table(work / f"out{n}" / "lesions.tsv")}
        matched = match_truth(labels, truth)
        e2e = [rows[s]["location"] == truth_loc.get(t) for s, t in matched.items() if s in rows and t in truth_loc]
        out[f"ses{n}"]["location_end_to_end_accuracy"] = float(np.mean(e2e)) if e2e else float("nan")
        # no brain mask, no anatomy: estimated brain mask and the layer's own anatomy estimate
        bare = analyse({"flair": session.images["flair"], "t1": session.images["t1"]})
        bare_labels = sitk.GetArrayFromImage(bare.labels).astype(np.int64)
        bare_scores = lesion_detection(bare_labels, truth, vv, min_volume_mm3=MIN_EVAL_VOLUME_MM3)
        estimate = estimate_anatomy_classes(sitk.GetArrayFromImage(bare.brain_mask),
                                            sitk.GetArrayFromImage(bare.normalised_flair), session.images["flair"],
                                            truth)
        est_rule = classify_locations(truth, estimate)
        out[f"ses{n}"]["bare"] = {"f1": bare_scores["f1"], "dice": bare_scores["dice"],
                                  "location_estimate_accuracy": float(np.mean(
                                      [est_rule.get(i) == loc for i, loc in truth_loc.items() if i in est_rule])),
                                  "dis_area_estimate_accuracy": float(np.mean(
                                      [dis_area(est_rule.get(i)) == dis_area(loc)
                                       for i, loc in truth_loc.items() if i in est_rule]))}

    counts = run_change(dirs[0], dirs[1], work / "change")
    follow = subject.sessions[1]
    truth_f = sitk.GetArrayFromImage(follow.lesions).astype(np.int64)
    truth_change = {int(l["id"]): l["change"] for l in follow.truth["lesions"]}
    positive_truth = {i for i, c in truth_change.items() if c in ("new", "enlarging")}
    labels_f = sitk.GetArrayFromImage(read_image(dirs[1] / "lesions.nii.gz", kind="label")).astype(np.int64)
    change_rows = read_table(work / "change" / "change.tsv")
    found = {int(r["followup_id"]): r["volume_mm3"] for r in change_rows
             if r["change"] in ("new", "enlarging") and r["followup_id"]}
    matched = match_truth(labels_f, truth_f)
    truth_volume = {int(l["id"]): l["volume_mm3"] for l in follow.truth["lesions"]}
    out["change"] = {"counts": counts, "truth_counts": {c: sum(1 for v in truth_change.values() if v == c)
                                                        for c in ("new", "enlarging", "shrinking", "stable")}}
    for tag, minimum in (("all", 0.0), ("ge10", MIN_EVAL_VOLUME_MM3)):
        truth_pos = {i for i in positive_truth if truth_volume[i] >= minimum}
        found_pos = {s for s, v in found.items() if v >= minimum}
        tp_found = sum(1 for s in found_pos if matched.get(s) in positive_truth)
        detected = {matched[s] for s in found if matched.get(s) in truth_pos}
        score, tpr, ppv = f1(len(detected), len(truth_pos), tp_found, len(found_pos))
        out["change"][tag] = {"f1": score, "tpr": tpr, "ppv": ppv, "n_truth": len(truth_pos), "n_found": len(found_pos)}
    # the change rule alone, on the ground-truth lesions of both visits (registration on FLAIR)
    truth_dirs = []
    for n, session in enumerate(subject.sessions):
        paths = {"flair": work / f"ses{n}" / "flair.nii.gz", "lesions": work / f"ses{n}" / "truth.nii.gz"}
        run_case(paths, work / f"truth{n}", keep_ids=True, min_volume_mm3=0.0)
        truth_dirs.append(work / f"truth{n}")
    run_change(truth_dirs[0], truth_dirs[1], work / "change_truth")
    rule_rows = read_table(work / "change_truth" / "change.tsv")
    rule = {int(r["followup_id"]): r["change"] for r in rule_rows if r["followup_id"]}
    agree = [rule.get(i) == c for i, c in truth_change.items() if c is not None]
    out["change"]["rule_accuracy_on_truth"] = float(np.mean(agree)) if agree else float("nan")
    out["change"]["rule_errors"] = [(i, c, rule.get(i)) for i, c in truth_change.items() if rule.get(i) != c]
    # the definitions' edges: growth near the enlarging threshold, new lesions next to old ones
    base_volume = {int(l["id"]): l["volume_mm3"] for l in subject.sessions[0].truth["lesions"]}
    edges = {}
    for l in follow.truth["lesions"]:
        i = int(l["id"])
        if l["baseline_id"] is not None and l["change"] in ("stable", "enlarging") \
                and base_volume[int(l["baseline_id"])] >= CHANGE_EDGE_MIN_VOLUME_MM3:
            growth = l["volume_mm3"] / base_volume[int(l["baseline_id"])] - 1.0
            if EDGE_GROWTH_RANGE[0] <= growth <= EDGE_GROWTH_RANGE[1]:
                edges[i] = f"growth {growth:+.2f}"
        elif l["change"] == "new":
            own = truth_f == i
            gap = ndimage.distance_transform_cdt(~((truth_f > 0) & ~own), metric="chessboard")[own].min() - 1
            if gap <= EDGE_NEW_MAX_GAP_VOXELS:
                edges[i] = f"new, {gap} voxels from another lesion"
    seg_change = {int(r["followup_id"]): r["change"] for r in change_rows if r["followup_id"]}
    by_truth = {}
    for s_id, t_id in matched.items():
        if t_id in edges and (t_id not in by_truth or np.count_nonzero(labels_f == s_id) > by_truth[t_id][1]):
            by_truth[t_id] = (seg_change.get(s_id), np.count_nonzero(labels_f == s_id))
    out["change"]["edges"] = [(i, truth_change[i], what, by_truth.get(i, (None,))[0], rule.get(i))
                              for i, what in sorted(edges.items())]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--small", action="store_true", help="2 mm small phantom (fast, lower resolution)")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            results.append(evaluate_subject(seed, args.small, Path(tmp) / f"seed{seed}"))
    ok = True

    def line(name, value, target, higher=True):
        nonlocal ok
        good = value >= target if higher else value <= target
        ok &= bool(good)
        print(f"{name}: {value:.3f} (target >= {target}): {'PASS' if good else 'FAIL'}")

    for seed, res in zip(args.seeds, results):
        for ses in ("ses0", "ses1"):
            r = res[ses]
            print(f"seed {seed} {ses}: truth {r['n_truth']} lesions >= 10 mm^3, segmented {r['n_segmented']}, "
                  f"TPR {r['tpr']:.3f}, PPV {r['ppv']:.3f}, run_case {r['seconds']:.1f} s")
            if r["location_rule_errors"]:
                print(f"  location rule disagreements (id, truth, rule): {r['location_rule_errors']}")
        c = res["change"]
        print(f"seed {seed} change: truth {c['truth_counts']}, found {c['counts']}; rule on truth lesions "
              f"accuracy {c['rule_accuracy_on_truth']:.3f}")
        for tag in ("all", "ge10"):
            print(f"  new+enlarging ({'all lesions' if tag == 'all' else 'lesions >= 10 mm^3'}): truth "
                  f"{c[tag]['n_truth']}, found {c[tag]['n_found']}, TPR {c[tag]['tpr']:.3f}, PPV {c[tag]['ppv']:.3f}, "
                  f"F1 {c[tag]['f1']:.3f}")
        if c["rule_errors"]:
            print(f"  change rule disagreements on truth (id, truth, rule): {c['rule_errors']}")
        for i, truth, what, found, on_truth in c["edges"]:
            print(f"  edge case lesion {i} ({what}): truth {truth}, end to end {found}, rule on truth {on_truth}")
    f1s = [r[s]["f1"] for r in results for s in ("ses0", "ses1")]
    dices = [r[s]["dice"] for r in results for s in ("ses0", "ses1")]
    loc_rule = [r[s]["location_rule_accuracy"] for r in results for s in ("ses0", "ses1")]
    loc_e2e = [r[s]["location_end_to_end_accuracy"] for r in results for s in ("ses0", "ses1")]
    change = [r["change"]["ge10"]["f1"] for r in results]
    change_all = [r["change"]["all"]["f1"] for r in results]
    grid = "small 2 mm" if args.small else "full 1 mm"
    bare = [r[s]["bare"] for r in results for s in ("ses0", "ses1")]
    print("--- without brain mask and anatomy (estimated brain mask, own anatomy estimate; no target)")
    print(f"INFO lesion-wise F1 (worst/mean): {min(b['f1'] for b in bare):.3f} / {np.mean([b['f1'] for b in bare]):.3f}; "
          f"Dice (worst/mean): {min(b['dice'] for b in bare):.3f} / {np.mean([b['dice'] for b in bare]):.3f}")
    print(f"INFO location accuracy of the own anatomy estimate, rule on truth lesions (worst/mean): "
          f"{min(b['location_estimate_accuracy'] for b in bare):.3f} / "
          f"{np.mean([b['location_estimate_accuracy'] for b in bare]):.3f}")
    print(f"INFO the same as McDonald 2017 dissemination-in-space areas (cortical and juxtacortical are one area; "
          f"deep white matter is none) (worst/mean): {min(b['dis_area_estimate_accuracy'] for b in bare):.3f} / "
          f"{np.mean([b['dis_area_estimate_accuracy'] for b in bare]):.3f}")
    print(f"--- phantom {grid}, seeds {args.seeds}, {len(f1s)} sessions (worst case / mean)")
    line("lesion-wise F1, lesions >= 10 mm^3 (worst session)", min(f1s), F1_TARGET)
    print(f"  mean {np.mean(f1s):.3f}")
    line("Dice (worst session)", min(dices), DICE_TARGET)
    print(f"  mean {np.mean(dices):.3f}")
    line("location accuracy, rule on truth lesions with the anatomy labelmap (worst)", min(loc_rule), LOCATION_TARGET)
    line("location accuracy, end to end on segmented lesions (worst)", min(loc_e2e), LOCATION_TARGET)
    line("new + enlarging lesions >= 10 mm^3, F1 end to end (worst seed)", min(change), CHANGE_F1_TARGET)
    print(f"  all sizes (incl. < 10 mm^3): worst {min(change_all):.3f}, mean {np.mean(change_all):.3f}")
    edges = [e for r in results for e in r["change"]["edges"]]
    growth = [e for e in edges if e[1] != "new"]
    near = [e for e in edges if e[1] == "new"]
    print(f"change at the definitions' edges: {len(growth)} lesions with growth near the 0.5 threshold "
          f"({sum(e[1] == 'stable' for e in growth)} below, {sum(e[1] == 'enlarging' for e in growth)} above), "
          f"{len(near)} new lesions <= {EDGE_NEW_MAX_GAP_VOXELS} voxels from another lesion")
    if edges:
        print(f"  rule on truth lesions: {sum(e[1] == e[4] for e in edges)}/{len(edges)} correct")
        line("change at the edges, classified correctly end to end", float(np.mean([e[1] == e[3] for e in edges])),
             EDGE_TARGET)
        for name, group in (("growth near the threshold", growth), ("new next to an old lesion", near)):
            if group:
                print(f"  {name}: {sum(e[1] == e[3] for e in group)}/{len(group)} end to end")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
