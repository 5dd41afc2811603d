"""`mspathobiology network` against MRtrix3 (`tck2connectome`, `tcksample`) on a real-derived tractogram (issues 12, 17).

    python benchmarks/networks_mrtrix.py [--streamlines 600000] [--repeats 3] [--keep DIR]

Data (nothing downloads): the 750 real streamlines of DIPY's ``minimal_bundles.zip`` (arcuate,
corticospinal and forceps major bundles of 5 subjects, MNI-like RAS mm), resampled to a
1 mm step, replicated and jittered (a random shift of each copy, sd 2 mm, and per-point
noise, sd 0.3 mm) to ``--streamlines`` streamlines, written as a float32 ``.tck``; the real
AAL atlas (116 regions) and the Colin27 brain (``ch2bet``, as a scalar map) of Debian's
mricron-data (/usr/share/mricron/templates), 1 mm MNI grid.

Figures, each with PASS/FAIL:
1. wall time, CPU time and peak resident memory (``getrusage`` of the child process) of ``mspathobiology network`` (connectome, every graph measure, files) and of
   ``tck2connectome -assignment_end_voxels -symmetric -zero_diagonal`` on the same file and
   atlas: ours no slower, peak <= 300 MB, matrices identical;
2. on the real 750 streamlines, the connectome weights count, invlength, invnodevol and
   mean_scalar (ch2bet sampled by ``tcksample -stat_tck mean``, edge mean by
   ``tck2connectome -scale_file -stat_edge mean``) equal MRtrix3's (max relative difference
   <= 1e-5, float32 text output), and the radial assignment (4 mm) equals
   ``tck2connectome -assignment_radial_search 4``.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "MSPathobiology"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from networks_speed import report  # noqa: E402

TEMPLATES = Path("/usr/share/mricron/templates")
ATLAS = TEMPLATES / "aal.nii.gz"
SCALAR = TEMPLATES / "ch2bet.nii.gz"
STEP_MM = 1.0


def real_streamlines():
    """The 750 streamlines of DIPY's minimal_bundles (RAS mm), each resampled to a 1 mm step."""
    import dipy
    import nibabel as nib

    archive = Path(dipy.__file__).parent / "data" / "files" / "minimal_bundles.zip"
    out = []
    with zipfile.ZipFile(archive) as bundles:
        for name in sorted(n for n in bundles.namelist() if n.endswith(".trk")):
            out.extend(np.asarray(s, dtype=np.float64)
                       for s in nib.streamlines.load(io.BytesIO(bundles.read(name))).streamlines)
    resampled = []
    for s in out:
        arc = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(s, axis=0), axis=1))])
        t = np.linspace(0, arc[-1], max(2, int(np.ceil(arc[-1] / STEP_MM)) + 1))
        resampled.append(np.stack([np.interp(t, arc, s[:, k]) for k in range(3)], axis=1))
    return resampled


def write_tck(path, blocks):
    """Write a .tck from an iterator of (points (P, 3), lengths) blocks; return the streamline count."""
    from mspathobiology.networks.tractograms import TckWriter

    with TckWriter(path) as writer:
        for points, lengths in blocks:
            writer.append(points, lengths)
    return writer.count


def replicated(base, n, seed=0, block=50_000):
    """Blocks of ``n`` jittered copies of the base streamlines (a shift per copy, noise per point)."""
    rng = np.random.default_rng(seed)
    lengths_base = np.array([len(s) for s in base])
    data_base = np.concatenate(base)
    starts = np.concatenate([[0], np.cumsum(lengths_base)[:-1]])
    for s0 in range(0, n, block):
        pick = rng.integers(0, len(base), min(block, n - s0))
        lengths = lengths_base[pick]
        index = np.arange(lengths.sum()) + np.repeat(starts[pick] - np.concatenate([[0], np.cumsum(lengths)[:-1]]),
                                                     lengths)
        shift = np.repeat(rng.normal(0, 2.0, (len(pick), 3)), lengths, axis=0)
        yield (data_base[index] + shift + rng.normal(0, 0.3, (len(index), 3))).astype(np.float32), lengths


def measured(command):
    """``(wall s, CPU s (user + system), peak resident MB)`` of one command, in a fresh wrapper process."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run(sys.argv[1:]); w = time.perf_counter() - t; "
            "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print(w, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024.0); sys.exit(r.returncode)")
    done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{command[0]} failed: {done.stderr[-3000:]}")
    return tuple(float(v) for v in done.stdout.strip().splitlines()[-1].split())


def mrtrix_matrix(path, n_nodes=None):
    """A tck2connectome CSV (rows for nodes 1..N) as a float array."""
    rows = [line for line in Path(path).read_text().splitlines() if line and not line.startswith("#")]
    return np.array([[float(v) for v in line.replace(",", " ").split()] for line in rows])


def ours_on_mrtrix_rows(matrix, row_labels, n_nodes):
    """Our matrix (rows = labels present) placed on MRtrix3's rows (labels 1..n_nodes)."""
    out = np.zeros((n_nodes, n_nodes))
    index = np.asarray(row_labels) - 1
    out[np.ix_(index, index)] = matrix
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streamlines", type=int, default=600_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", help="folder for the data (default: a temporary folder)")
    args = parser.parse_args()
    for tool in ("tck2connectome", "tcksample"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: install Debian's mrtrix3")
    import nibabel as nib

    from mspathobiology.networks import connectome, read_matrix

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="networks_mrtrix_"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    base = real_streamlines()
    big = folder / "replicated.tck"
    t0 = time.perf_counter()
    n = write_tck(big, replicated(base, args.streamlines))
    print(f"data: {n:,} streamlines ({sum(len(s) for s in base) / len(base):.0f} points each on average, "
          f"{big.stat().st_size / 2**20:.0f} MB .tck) from {len(base)} real DIPY streamlines; atlas {ATLAS.name} "
          f"(116 regions, 1 mm); written in {time.perf_counter() - t0:.1f} s")
    n_nodes = int(np.asarray(nib.load(str(ATLAS)).dataobj).max())

    # 1. speed, memory, identity on the big file
    ours_cmd = [sys.executable, "-m", "mspathobiology", "network", "--tractogram", str(big),
                "--parcellation", str(ATLAS), "--out", str(folder / "ours")]
    mrtrix_cmd = ["tck2connectome", "-quiet", "-force", "-assignment_end_voxels", "-symmetric", "-zero_diagonal",
                  str(big), str(ATLAS), str(folder / "mrtrix.csv")]
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(ROOT / "MSPathobiology") + (os.pathsep + env_path if env_path else "")
    subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True)  # page cache warm for both
    ours_runs, mrtrix_runs = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        ours_runs.append(measured(ours_cmd))
        mrtrix_runs.append(measured(mrtrix_cmd))
    ours_wall, ours_cpu, ours_peak = (min(r[0] for r in ours_runs), min(r[1] for r in ours_runs),
                                      max(r[2] for r in ours_runs))
    mrtrix_wall, mrtrix_cpu, mrtrix_peak = (min(r[0] for r in mrtrix_runs), min(r[1] for r in mrtrix_runs),
                                            max(r[2] for r in mrtrix_runs))
    print(f"      mspathobiology network: {ours_wall:.2f} s wall, {ours_cpu:.2f} s CPU, peak {ours_peak:.0f} MB; "
          f"tck2connectome: {mrtrix_wall:.2f} s wall, {mrtrix_cpu:.2f} s CPU, peak {mrtrix_peak:.0f} MB "
          f"(best of {args.repeats} interleaved runs; {os.cpu_count()} cores, tck2connectome uses all of them; "
          "ours includes Python start-up, every graph measure and writing the outputs)")
    results.append(report(f"mspathobiology network vs tck2connectome, {n:,} streamlines, wall",
                          f"{ours_wall:.2f} s vs {mrtrix_wall:.2f} s", "no slower", ours_wall <= mrtrix_wall))
    results.append(report("mspathobiology network vs tck2connectome, CPU time", f"{ours_cpu:.2f} s vs "
                          f"{mrtrix_cpu:.2f} s", "no more", ours_cpu <= mrtrix_cpu))
    results.append(report("mspathobiology network peak memory", f"{ours_peak:.0f} MB", "<= 300 MB", ours_peak <= 300))
    ours, rows = read_matrix(folder / "ours" / "connectome.csv")
    theirs = mrtrix_matrix(folder / "mrtrix.csv")
    same = np.array_equal(ours_on_mrtrix_rows(ours, rows, n_nodes), theirs)
    results.append(report("connectome identical to tck2connectome", f"{same} ({int(np.triu(theirs).sum()):,} "
                          f"streamlines on {int(np.count_nonzero(np.triu(theirs)))} edges)", "identical", same))

    # 2. every weight on the real streamlines
    real = folder / "real.tck"
    write_tck(real, iter([(np.concatenate(base).astype(np.float32), np.array([len(s) for s in base]))]))
    labels_img = nib.load(str(ATLAS))
    labels = np.asarray(labels_img.dataobj).astype(np.int64)
    scalar = np.asarray(nib.load(str(SCALAR)).dataobj).astype(np.float64)
    sampled = folder / "ch2bet_mean.txt"
    subprocess.run(["tcksample", "-quiet", "-force", "-stat_tck", "mean", str(real), str(SCALAR), str(sampled)],
                   check=True)
    common = ["tck2connectome", "-quiet", "-force", "-symmetric", "-zero_diagonal"]
    cases = {"count": ([], {}), "invlength": (["-scale_invlength"], {}),
             "invnodevol": (["-scale_invnodevol"], {}),
             "mean_scalar": (["-scale_file", str(sampled), "-stat_edge", "mean"], {"scalar": scalar})}
    for assignment, flag in (("end", ["-assignment_end_voxels"]), ("radial:4", ["-assignment_radial_search", "4"])):
        for weight, (extra, kwargs) in cases.items():
            if assignment != "end" and weight != "count":
                continue
            out = folder / f"mrtrix_{weight}_{assignment[:3]}.csv"
            subprocess.run(common + flag + extra + [str(real), str(ATLAS), str(out)], check=True)
            theirs = mrtrix_matrix(out)
            matrix, rows = connectome(str(real), labels, labels_img.affine, assignment=assignment, weight=weight,
                                      zero_diagonal=True, **kwargs)
            mine = ours_on_mrtrix_rows(matrix, rows, n_nodes)
            scale = np.abs(theirs).max()
            diff = float(np.abs(mine - theirs).max() / scale) if scale else 0.0
            same_edges = np.array_equal(mine > 0, theirs > 0)
            ok = same_edges and diff <= 1e-5
            results.append(report(f"real streamlines, {assignment} assignment, weight {weight}: equals MRtrix3",
                                  f"max relative difference {diff:.1e}, same edges {same_edges} "
                                  f"({int(np.count_nonzero(np.triu(theirs)))} edges)", "<= 1e-5", ok))
    print(f"{sum(results)}/{len(results)} PASS")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
