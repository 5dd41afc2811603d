"""Slowly expanding lesions (issue 16): SEL sensitivity and specificity on the longitudinal phantom.

Targets: on 1 mm longitudinal phantom subjects (3 visits of T1 and FLAIR, global atrophy of -0.25 .. -2 %
by the last visit, rigid motion, a bias field and noise; mspathobiology.phantom.longitudinal), over baseline
lesions >= SEL_MIN_VOXELS voxels: SEL sensitivity >= 0.9 and specificity >= 0.9; no stable lesion
called SEL; and the analysis of 3 visits of a 1 mm brain (registration, Jacobians, measures, with
brain extraction) <= 300 s on 2 cores. The truth (designed evolution and rate of every lesion,
voxel counts of each visit's rendered labels) never uses the analysis code.

    python benchmarks/sel_accuracy.py                 # 3 full (1 mm) subjects
    python benchmarks/sel_accuracy.py --small 4 --full 0   # quick, 2 mm
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MSPathobiology"))

from mspathobiology import sel  # noqa: E402
from mspathobiology.phantom.longitudinal import generate_longitudinal_subject  # noqa: E402


def report(name, value, target, ok, unit=""):
    print(f"{name:58s} {value:10.3f} {unit:4s} target {target:12s} {'MEETS' if ok else 'FAILS'}")
    return ok


def run_subject(seed: int, small: bool, use_mask: bool) -> dict:
    t0 = time.perf_counter()
    subject = generate_longitudinal_subject(seed=seed, small=small, visits=3)
    t_gen = time.perf_counter() - t0
    mask = subject.subject.sessions[0].brain_mask if use_mask else None
    flair = [s.images["flair"] for s in subject.subject.sessions]
    t1 = time.perf_counter()
    result = sel.analyse(subject.t1, subject.baseline_lesions, brain_mask=mask, flair=flair)
    t_run = time.perf_counter() - t1
    truth = {r["id"]: r for r in subject.truth}
    pbvc = subject.subject.sessions[-1].truth["pbvc_percent"]
    pairs = [(truth[r["id"]], r) for r in result.rows if truth[r["id"]]["evaluable"]]
    label = "small" if small else "full"
    print(f"--- {label} seed {seed}: generate {t_gen:.0f} s, analyse {t_run:.0f} s; PBVC by the last visit "
          f"{pbvc:.2f} % (measured global change {result.summary['global_volume_change_percent'][-1]:.2f} %); "
          f"{len(pairs)} lesions >= {result.summary['min_voxels']} voxels")
    for t, r in pairs:
        called = r["sel_candidate"]
        if called != t["sel"]:
            print(f"    {'missed' if t['sel'] else 'false'} SEL: id {r['id']} {t['evolution']} {t['location']} "
                  f"(measured location {r['location']}) rate "
                  f"{t['volume_rate_per_visit']:+.2f}/visit, voxels {t['voxels_per_visit']}, log-J "
                  f"{[round(r[k], 3) for k in r if k.startswith('logjac_visit')]}, concentric "
                  f"{r['sel_concentric_fraction']:.2f}, constant {r['sel_constant']}, ring log-J "
                  f"{r['logjac_ring'] if r['logjac_ring'] is None else round(r['logjac_ring'], 3)}, WM share of the ring "
                  f"{r['wm_share_ring'] if r['wm_share_ring'] is None else round(r['wm_share_ring'], 2)}")
    true_share = sum(t["volume_mm3"] for t in subject.truth if t["sel"] and t["evaluable"]) / max(
        sum(t["volume_mm3"] for t in subject.truth), 1e-9)
    return {"pairs": pairs, "runtime": t_run, "pbvc": pbvc, "summary": result.summary, "true_share": true_share,
            "label": label}


CH2BET = Path("/usr/share/mricron/templates/ch2bet.nii.gz")


def real_head_visits(seed: int = 0, visits: int = 3, n_lesions: int = 8):
    """Colin27 (Debian mricron-data ch2bet, 1 mm, LPS direction diag(-1, -1, 1)) with spherical WM
    lesions drawn in (half expanding by a known volume rate per visit, half stable), then per visit a
    global contraction (-0.6 % linear a visit, about the brain centre), a rigid motion, a linear bias
    and noise. Returns (visits, baseline labels, brain mask, truth rows, true global volume change %)."""
    import SimpleITK as sitk
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    base = sitk.Cast(sitk.ReadImage(str(CH2BET)), sitk.sitkFloat32)
    arr = sitk.GetArrayFromImage(base)
    brain = arr > 0
    smooth = ndimage.gaussian_filter(arr, 1.5)
    wm = smooth > np.percentile(smooth[brain], 75)
    wm_level = float(np.median(arr[wm]))
    core = np.argwhere(ndimage.distance_transform_edt(wm) >= 6)
    centres = []
    while len(centres) < n_lesions:
        c = core[rng.integers(len(core))]
        if all(np.linalg.norm(c - o) >= 22 for o in centres):
            centres.append(c)
    truth = []
    for n, c in enumerate(centres):
        rate = float(rng.uniform(0.12, 0.25)) if n % 2 == 0 else 0.0
        truth.append({"id": n + 1, "centre_kji": c, "radius_mm": float(rng.uniform(3.0, 5.0)), "rate": rate,
                      "sel": rate > 0})
    kji = np.indices(arr.shape, dtype=np.float32)
    labels = np.zeros(arr.shape, dtype=np.uint8)
    centre_phys = np.array(base.TransformContinuousIndexToPhysicalPoint(
        [float(v) for v in np.argwhere(brain).mean(axis=0)[::-1]]))
    images = []
    for v in range(visits):
        anatomy = arr.copy()
        for t in truth:
            box = tuple(slice(int(x) - 10, int(x) + 11) for x in t["centre_kji"])
            d = np.sqrt(sum((kji[a][box] - t["centre_kji"][a]) ** 2 for a in range(3)))
            r = t["radius_mm"] * (1.0 + t["rate"] * v) ** (1.0 / 3.0)
            frac = np.clip(r - d + 0.5, 0.0, 1.0)
            anatomy[box] = anatomy[box] * (1 - frac) + 0.6 * wm_level * frac
            if v == 0:
                labels[box][d <= r] = t["id"]
        image = sitk.GetImageFromArray(anatomy)
        image.CopyInformation(base)
        scale = 1.0 - 0.006 * v
        motion = sitk.Euler3DTransform()
        motion.SetCenter(tuple(centre_phys))
        motion.SetRotation(*(np.deg2rad(rng.normal(0, 1.0, 3)) * (v > 0)))
        motion.SetTranslation(tuple(rng.normal(0, 1.0, 3) * (v > 0)))
        shrink = sitk.ScaleTransform(3, (1.0 / scale,) * 3)
        shrink.SetCenter(tuple(centre_phys))
        transform = sitk.CompositeTransform([motion, shrink])  # visit point -> baseline anatomy point
        moved = sitk.GetArrayFromImage(sitk.Resample(image, base, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32))
        bias = 1.0 + 0.05 * (v - 1) * (kji[2] / arr.shape[2] - 0.5)
        moved = moved * bias + rng.normal(0.0, 0.02 * wm_level, arr.shape).astype(np.float32)
        out = sitk.GetImageFromArray(moved.astype(np.float32))
        out.CopyInformation(base)
        images.append(out)
    lab = sitk.GetImageFromArray(labels)
    lab.CopyInformation(base)
    mask = sitk.GetImageFromArray(brain.astype(np.uint8))
    mask.CopyInformation(base)
    return images, lab, mask, truth, 100.0 * ((1.0 - 0.006 * (visits - 1)) ** 3 - 1.0)


def run_real() -> bool:
    images, labels, mask, truth, pbvc = real_head_visits()
    t0 = time.perf_counter()
    result = sel.analyse(images, labels, brain_mask=mask)
    t_run = time.perf_counter() - t0
    rows = {r["id"]: r for r in result.rows}
    found = sum(rows[t["id"]]["sel_candidate"] for t in truth if t["sel"])
    false = sum(rows[t["id"]]["sel_candidate"] for t in truth if not t["sel"])
    n_sel = sum(t["sel"] for t in truth)
    measured = result.summary["global_volume_change_percent"][-1]
    print(f"--- real head (Colin27 ch2bet, 1 mm, LPS diag(-1,-1,1)), {len(truth)} drawn WM lesions, 3 visits, "
          f"global change {pbvc:.2f} % by the last visit (measured {measured:.2f} %); analysis {t_run:.0f} s")
    for t in truth:
        r = rows[t["id"]]
        logjac = [round(r[k], 3) for k in r if k.startswith("logjac_visit")]
        print(f"    id {t['id']} rate {t['rate']:+.2f}/visit: log-J {logjac}, concentric "
              f"{r['sel_concentric_fraction']:.2f}, ring log-J {r['logjac_ring']:.3f}, WM share "
              f"{r['wm_share_ring']:.2f}, called {r['sel_candidate']}")
    ok = report("real head: expanding lesions called SEL", found / n_sel, f"{n_sel}/{n_sel}", found == n_sel)
    return report("real head: stable lesions called SEL (contracting brain)", false, "0", false == 0) and ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", type=int, default=3, help="number of 1 mm subjects (seeds 0..)")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds of the 1 mm subjects (instead of --full)")
    parser.add_argument("--small", type=int, default=0, help="number of 2 mm subjects (seeds 100..)")
    parser.add_argument("--no-real", dest="real", action="store_false",
                        help="skip the real-head check (Colin27 with drawn lesions)")
    args = parser.parse_args(argv)
    ok = run_real() if args.real else True
    runs = [run_subject(seed, False, use_mask=False) for seed in (args.seeds or range(args.full))]
    runs += [run_subject(100 + seed, True, use_mask=True) for seed in range(args.small)]
    for label in ("full", "small"):
        group = [r for r in runs if r["label"] == label]
        if not group:
            continue
        pairs = [p for r in group for p in r["pairs"]]
        sel_truth = [r for t, r in pairs if t["sel"]]
        non_sel = [r for t, r in pairs if not t["sel"]]
        stable = [r for t, r in pairs if t["evolution"] == "stable"]
        shrinking = [r for t, r in pairs if t["evolution"] == "shrinking"]
        sens = sum(r["sel_candidate"] for r in sel_truth) / max(len(sel_truth), 1)
        spec = sum(not r["sel_candidate"] for r in non_sel) / max(len(non_sel), 1)
        print(f"=== {label}: {len(group)} subjects, {len(sel_truth)} SELs, {len(stable)} stable, "
              f"{len(shrinking)} shrinking lesions (>= 10 voxels)")
        ok &= report(f"{label}: SEL sensitivity", sens, ">= 0.9", sens >= 0.9)
        ok &= report(f"{label}: SEL specificity", spec, ">= 0.9", spec >= 0.9)
        fp_stable = sum(r["sel_candidate"] for r in stable)
        worst_pbvc = min(r["pbvc"] for r in group)
        ok &= report(f"{label}: stable lesions called SEL (atrophy to {worst_pbvc:.2f} %)", fp_stable, "0",
                     fp_stable == 0)
        called = sum(r["sel_candidate"] for r in shrinking)
        print(f"{label}: shrinking lesions called SEL: {called} of {len(shrinking)}")
        clipped = [r for t, r in pairs if t["evolution"] == "expanding" and not t["sel"]]
        print(f"{label}: designed to expand but not growing at every visit on the images (clipped; not SEL truth): "
              f"{len(clipped)}, called SEL {sum(r['sel_candidate'] for r in clipped)}")
        located = [(t["location"], r["location"]) for t, r in pairs]
        cortical = [m == "cortical" for t, m in located if t == "cortical"]
        print(f"{label}: truth-cortical lesions measured cortical (not SEL candidates): {sum(cortical)} of "
              f"{len(cortical)}; truth-SEL lesions measured cortical: "
              f"{sum(r['location'] == 'cortical' for r in sel_truth)} of {len(sel_truth)}")
        rates = [(t["volume_rate_per_visit"], r["sel_candidate"]) for t, r in pairs if t["sel"]]
        for lo, hi in ((0.10, 0.15), (0.15, 0.20), (0.20, 0.25)):
            hit = [c for rate, c in rates if lo <= rate < hi]
            if hit:
                print(f"{label}: sensitivity at volume rate {lo:.2f}-{hi:.2f} per visit: "
                      f"{sum(hit)}/{len(hit)}")
        s_scores = [r["sel_score"] for r in sel_truth]
        n_scores = [r["sel_score"] for r in non_sel]
        if s_scores and n_scores:
            auc = np.mean([[float(a > b) + 0.5 * float(a == b) for b in n_scores] for a in s_scores])
            print(f"{label}: SEL score AUC (truth SEL vs others) {auc:.3f}")
        t1_sel = [r["t1_norm_slope"] for t, r in pairs if r["sel_candidate"]]
        t1_non = [r["t1_norm_slope"] for t, r in pairs if not r["sel_candidate"]]
        if t1_sel and t1_non:
            print(f"{label}: T1/NAWM slope per visit, SEL {np.mean(t1_sel):+.4f} vs non-SEL {np.mean(t1_non):+.4f}")
        for r in group:
            s = r["summary"]
            print(f"{label}: SEL volume share measured {s['sel_volume_share']:.3f} vs truth {r['true_share']:.3f}; "
                  f"SEL count {s['sel_count']}")
        if label == "full":
            worst = max(r["runtime"] for r in group)
            ok &= report("full: analysis of 3 visits of a 1 mm brain (worst)", worst, "<= 300 s", worst <= 300.0, "s")
    print("ALL TARGETS MET" if ok else "SOME TARGETS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
