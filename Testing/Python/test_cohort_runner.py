"""Cohort runner machinery: skip-done, rerun after input change, failure isolation, parallel runs,
a SIGKILLed run that resumes, dask, tables.

These tests plug small analyses defined here into ``run_cohort(functions=...)`` so that the
machinery is tested fast and deterministically; they read images with the project's
validated reader (a corrupt file really fails) and write real label maps. The real domain
analyses are run on the phantom in ``test_cohort_phantom.py``.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mspathobiology import bids
from mspathobiology.cohort.runner import run_cohort, select_analyses
from mspathobiology.connectivity import connected_components
from mspathobiology.errors import InputError
from mspathobiology.geometry import image_like
from mspathobiology.io import read_image, read_json, write_image
from mspathobiology.tables import read_table, write_table

HERE = Path(__file__).resolve().parent
PLUGINS = {
    "lesions": "test_cohort_runner:plugin_lesions",
    "rims": "test_cohort_runner:plugin_rims",
    "atrophy": "test_cohort_runner:plugin_atrophy",
    "lesion_change": "test_cohort_runner:plugin_change",
    "pbvc": "test_cohort_runner:plugin_pbvc",
}
# blobs per (subject, session): the lesion count the plug-in must find
BLOBS = {("sub-01", "ses-01"): 2, ("sub-01", "ses-02"): 3, ("sub-02", "ses-01"): 1, ("sub-02", "ses-02"): 2}


def _log(name, where):
    log = os.environ.get("COHORT_TEST_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(f"{name} {where}\n")
    time.sleep(float(os.environ.get("COHORT_TEST_SLEEP", "0")))


def plugin_lesions(images, out_dir, **_):
    _log("lesions", out_dir)
    crash = os.environ.get("COHORT_TEST_CRASH")
    if crash and crash in str(out_dir):
        os._exit(3)  # a worker process dying (e.g. killed for memory)
    flair = read_image(images["flair"], name="flair")
    labels, n = connected_components(sitk.GetArrayFromImage(flair) > 0.5)
    write_image(image_like(labels.astype(np.uint16), flair), Path(out_dir) / "lesions.nii.gz")
    return {"lesion_count": n, "lesion_volume_mm3": float(np.count_nonzero(labels))}


def plugin_rims(images, out_dir, **_):
    _log("rims", out_dir)
    labels = sitk.GetArrayFromImage(read_image(images["lesions"], "label"))
    qsm = sitk.GetArrayFromImage(read_image(images["qsm"]))
    ids = np.unique(labels[labels > 0])
    return {"prl_candidates": int(sum(qsm[labels == i].mean() > 0 for i in ids))}


def plugin_atrophy(images, out_dir, **_):
    _log("atrophy", out_dir)
    t1 = sitk.GetArrayFromImage(read_image(images["t1"]))
    return {"bpf": float((t1 > 0.5).mean()), "gm_ml": 1.0}


def plugin_change(baseline_dir, followup_dir, out_dir, baseline_flair=None, followup_flair=None):
    _log("lesion_change", out_dir)
    b = read_image(Path(baseline_dir) / "lesions.nii.gz", "label")
    f = read_image(Path(followup_dir) / "lesions.nii.gz", "label")
    nb = len(np.unique(sitk.GetArrayFromImage(b))) - 1
    nf = len(np.unique(sitk.GetArrayFromImage(f))) - 1
    return {"lesions_new": max(nf - nb, 0)}


def plugin_pbvc(baseline_t1, followup_t1, out_dir, baseline_mask=None, followup_mask=None, interval_years=None):
    _log("pbvc", out_dir)
    a = (sitk.GetArrayFromImage(read_image(baseline_t1)) > 0.5).sum()
    b = (sitk.GetArrayFromImage(read_image(followup_t1)) > 0.5).sum()
    return {"pbvc_percent": 100.0 * (b - a) / a, "interval_years": interval_years}


def _blobs_image(n, size=16, seed=0):
    array = np.zeros((size, size, size), np.float32)
    for b in range(n):
        array[2 + 4 * b:4 + 4 * b, 3:6, 3:6] = 1.0
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((1.0, 1.0, 1.5))
    return image


def make_dataset(root, subjects=("01", "02"), sessions=("01", "02")):
    for sub in subjects:
        for ses in sessions:
            n = BLOBS.get((f"sub-{sub}", f"ses-{ses}"), 1)
            write_image(_blobs_image(n), bids.raw_path(root, sub, ses, "flair"))
            t1 = np.zeros((16, 16, 16), np.float32)
            t1[:, :, : 10 - int(ses)] = 1.0
            write_image(image_like(t1, _blobs_image(0)), bids.raw_path(root, sub, ses, "t1"))
            qsm = sitk.GetArrayFromImage(_blobs_image(n)) * 20.0 - 1.0  # lesions paramagnetic
            write_image(image_like(qsm, _blobs_image(0)), bids.raw_path(root, sub, ses, "qsm"))
        write_table([{"session_id": f"ses-{ses}", "acq_time": f"20{10 + int(ses)}-03-01"} for ses in sessions],
                    Path(root) / f"sub-{sub}" / f"sub-{sub}_sessions.tsv")
    (Path(root) / "dataset_description.json").write_text('{"Name": "test", "BIDSVersion": "1.9.0"}')
    return Path(root)


@pytest.fixture
def env_log(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("COHORT_TEST_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    return log


def _calls(log):
    return log.read_text().splitlines() if log.exists() else []


def test_run_writes_tables_and_rerun_redoes_nothing(tmp_path, env_log):
    ds = make_dataset(tmp_path / "ds")
    out = tmp_path / "out"
    result = run_cohort(ds, out, functions=PLUGINS, progress=False)
    assert not result.failed
    assert len(_calls(env_log)) == 4 * 3 + 2 * 2  # 4 sessions x 3 analyses + 2 pairs x 2
    rows = {(r["participant_id"], r["session_id"]): r for r in read_table(out / "cohort.tsv")}
    assert {k: r["lesion_count"] for k, r in rows.items()} == BLOBS
    assert {k: r["prl_candidates"] for k, r in rows.items()} == BLOBS
    assert rows[("sub-01", "ses-02")]["lesions_new"] == 1 and rows[("sub-01", "ses-01")]["lesions_new"] is None
    assert rows[("sub-01", "ses-02")]["pbvc_percent"] == round(-100 / 9, 2)  # percent to 0.01 in tables
    assert rows[("sub-01", "ses-02")]["interval_years"] == round(366 / 365.25, 3)  # from sessions.tsv (2012 is a leap year)
    assert rows[("sub-01", "ses-02")]["change_from_session"] == 1  # typed read of "01"
    assert all(r["status"] == "ok" for r in rows.values())
    assert "network" not in rows[("sub-01", "ses-01")]["analyses_done"]  # no tractogram: skipped, not failed
    topic = read_table(out / "cohort_atrophy.tsv")
    assert set(topic[0]) == {"participant_id", "session_id", "lesions_source", "bpf", "gm_ml", "pbvc_percent", "interval_years"}
    assert read_table(out / "cohort_failures.tsv") == []
    marker = read_json(out / "sub-01/ses-01/lesions/done.json")
    assert marker["summary"]["lesion_count"] == 2 and "flair" in marker["inputs"]

    again = run_cohort(ds, out, functions=PLUGINS, progress=False)
    assert again.ran == [] and len(_calls(env_log)) == 16
    assert read_table(out / "cohort.tsv") == list(rows.values())

    # an output edited in place, even to the same size, makes its analysis run again
    lesion_map = out / "sub-01/ses-01/lesions/lesions.nii.gz"
    st = lesion_map.stat()
    assert marker["outputs"] == {"lesions.nii.gz": [st.st_size, st.st_mtime_ns]}
    os.utime(lesion_map, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    edited = run_cohort(ds, out, functions=PLUGINS, progress=False)
    assert ("sub-01_ses-01", "lesions") in {(r["case"], r["analysis"]) for r in edited.ran}
    calls = len(_calls(env_log))

    # an output deleted by hand makes its analysis (and what reads it) run again, in that subject only
    (out / "sub-01/ses-01/lesions/lesions.nii.gz").unlink()
    repaired = run_cohort(ds, out, functions=PLUGINS, progress=False)
    rerun = {(r["case"], r["analysis"]) for r in repaired.ran}
    assert ("sub-01_ses-01", "lesions") in rerun and {case for case, _ in rerun} <= {"sub-01_ses-01", "sub-01_ses-02"}
    assert (out / "sub-01/ses-01/lesions/lesions.nii.gz").is_file()
    assert len(_calls(env_log)) == calls + len(rerun)

    # a changed input reruns exactly what depends on it (atrophy and PBVC use the lesions for filling)
    write_image(_blobs_image(4), bids.raw_path(ds, "02", "02", "flair"))
    third = run_cohort(ds, out, functions=PLUGINS, progress=False)
    assert sorted((r["case"], r["analysis"]) for r in third.ran) == [
        ("sub-02_ses-02", "atrophy"), ("sub-02_ses-02", "lesion_change"), ("sub-02_ses-02", "lesions"),
        ("sub-02_ses-02", "pbvc"), ("sub-02_ses-02", "rims")]
    assert {(r["participant_id"], r["session_id"]): r["lesion_count"] for r in third.rows}[("sub-02", "ses-02")] == 4


def test_corrupt_image_fails_alone_with_parallel_jobs(tmp_path, env_log):
    ds = make_dataset(tmp_path / "ds")
    bad = bids.raw_path(ds, "02", "01", "flair")
    bad.write_bytes(b"\x1f\x8b not really a gzip nifti")
    out = tmp_path / "out"
    result = run_cohort(ds, out, jobs=2, functions=PLUGINS, progress=False)
    failures = read_table(out / "cohort_failures.tsv")
    assert [(f["participant_id"], f["session_id"], f["analysis"]) for f in failures] == [("sub-02", "ses-01", "lesions")]
    assert "corrupt" in failures[0]["error"] and str(bad.name) in failures[0]["error"]
    rows = {(r["participant_id"], r["session_id"]): r for r in read_table(out / "cohort.tsv")}
    assert rows[("sub-02", "ses-01")]["status"] == "partial" and rows[("sub-02", "ses-01")]["bpf"] is not None
    assert "lesions:" in rows[("sub-02", "ses-01")]["error"]
    assert {k: r["lesion_count"] for k, r in rows.items() if k != ("sub-02", "ses-01")} == {
        k: v for k, v in BLOBS.items() if k != ("sub-02", "ses-01")}
    assert all(rows[k]["status"] == "ok" for k in rows if k != ("sub-02", "ses-01"))
    skipped = [r for r in result.records if r["case"] == "sub-02_ses-01" and r["analysis"] == "rims"][0]
    assert skipped["status"] == "skipped" and "lesions step failed" in skipped["reason"]
    # the failure is retried on the next run, the finished work is not
    before = len(_calls(env_log))
    bad.unlink()
    write_image(_blobs_image(1), bad)
    fixed = run_cohort(ds, out, jobs=2, functions=PLUGINS, progress=False)
    assert not fixed.failed
    assert sorted(line.split()[0] for line in _calls(env_log)[before:]) == ["atrophy", "lesion_change", "lesions", "pbvc", "rims"]


def test_killed_run_resumes_without_redoing_finished_cases(tmp_path, env_log):
    ds = make_dataset(tmp_path / "ds", subjects=("01", "02", "03"))
    out = tmp_path / "out"
    code = ("import sys; from mspathobiology.cohort.runner import run_cohort; "
            f"run_cohort({str(ds)!r}, {str(out)!r}, functions={PLUGINS!r}, progress=False)")
    env = {**os.environ, "COHORT_TEST_SLEEP": "0.3"}
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    markers = lambda: sorted(out.glob("sub-*/ses-*/*/done.json"))  # noqa: E731
    deadline = time.time() + 60
    while len(markers()) < 5 and time.time() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    finished = {p: p.stat().st_mtime_ns for p in markers()}
    assert 5 <= len(finished) < 6 * 3 + 3 * 2, "the kill must land mid-run"
    calls_before = len(_calls(env_log))

    resumed = run_cohort(ds, out, functions=PLUGINS, progress=False)
    assert not resumed.failed
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # finished markers untouched
    rerun = {(Path(r["case"]), r["analysis"]) for r in resumed.ran}
    for marker in finished:
        case = f"{marker.parts[-4]}_{marker.parts[-3]}"
        assert (Path(case), marker.parts[-2]) not in rerun
    total = 6 * 3 + 3 * 2
    assert len(markers()) == total
    # the resumed run did exactly the analyses without a marker (the one the kill interrupted
    # is started again; it logged its start before being killed, hence the +1 at most)
    assert len(_calls(env_log)) - calls_before == total - len(finished)
    assert total <= len(_calls(env_log)) <= total + 1


def test_only_unavailable_and_bad_arguments(tmp_path, env_log):
    ds = make_dataset(tmp_path / "ds", subjects=("01",))
    out = tmp_path / "out"
    assert select_analyses("atrophy") == ("atrophy", "pbvc")
    assert select_analyses(None)[0] == "lesions"
    result = run_cohort(ds, out, only="atrophy", functions=PLUGINS, progress=False)
    assert sorted({r["analysis"] for r in result.ran}) == ["atrophy", "pbvc"]
    lesions = [r for r in result.records if r["analysis"] == "lesions"][0]
    assert lesions["status"] == "skipped" and lesions["reason"] == "not selected"
    missing = run_cohort(ds, tmp_path / "out2", only="lesions", progress=False,
                         functions={"lesions": "no_such_module_xyz:run_case"})
    states = {r["status"] for r in missing.records if r["analysis"] == "lesions"}
    assert states == {"unavailable"} and not missing.failed
    with pytest.raises(InputError, match="unknown analysis"):
        run_cohort(ds, out, only="lesion,rims")
    with pytest.raises(InputError, match="jobs"):
        run_cohort(ds, out, jobs=0)
    with pytest.raises(InputError, match="executor dask"):
        run_cohort(ds, out, scheduler="tcp://localhost:8786")
    with pytest.raises(InputError, match="unknown image keys"):
        run_cohort(ds, out, ignore="lesion")


def test_cli_run_exit_code_and_progress(tmp_path, env_log):
    from mspathobiology.cli import main

    ds = make_dataset(tmp_path / "ds", subjects=("01",), sessions=("01",))
    expert = sitk.Cast(sitk.BinaryThreshold(_blobs_image(2), 0.5, 2.0), sitk.sitkUInt8)
    write_image(expert, bids.derivative_path(ds, "expert", "01", "01", "lesions"))
    # the real lesions step labels the expert's map (the toy FLAIR has no brain to segment)
    rc = subprocess.run([sys.executable, "-m", "mspathobiology", "run", str(ds), "--only", "lesions",
                         "--lesions-from", "expert", "--ignore", "flair,t1"], capture_output=True, text=True, timeout=120)
    assert rc.returncode == 0, rc.stdout + rc.stderr
    # one count from start to end: the progress bar and the summary count the same 4 analyses
    assert "4/4 analyses" in rc.stderr and "4 analyses: 1 ran" in rc.stdout and "cohort table" in rc.stdout
    assert "lesions: derivative (derivatives/expert) (1 session)" in rc.stdout  # said on screen
    assert read_table(ds / "derivatives/mspathobiology/cohort.tsv")[0]["lesion_count"] == 2
    rc = subprocess.run([sys.executable, "-m", "mspathobiology", "run", str(ds), "--lesions-from", "nothere"],
                        capture_output=True, text=True, timeout=120)
    assert rc.returncode == 2 and "pipelines there: expert" in rc.stderr and "Traceback" not in rc.stderr
    help_text = subprocess.run([sys.executable, "-m", "mspathobiology", "run", "--help"], capture_output=True,
                               text=True, timeout=60).stdout
    assert "pbvc" in help_text and "lesion_change" in help_text and "--lesions-from" in help_text
    assert (ds / "derivatives/mspathobiology/cohort.tsv").exists()
    assert main(["run", str(tmp_path / "missing")]) == 2


def test_dask_executor_with_a_scheduler_address(tmp_path, env_log):
    import distributed
    ds = make_dataset(tmp_path / "ds", subjects=("01",))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = run_cohort(ds, tmp_path / "out", executor="dask", scheduler=cluster.scheduler_address,
                            functions=PLUGINS, progress=False)
    assert not result.failed
    rows = {r["session_id"]: r for r in result.rows}
    assert rows["ses-01"]["lesion_count"] == 2 and rows["ses-02"]["pbvc_percent"] == round(-100 / 9, 2)


def test_a_live_run_lock_refuses_a_second_run_and_dies_with_its_process(tmp_path, env_log):
    ds = make_dataset(tmp_path / "ds", subjects=("01",), sessions=("01",))
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from mspathobiology.cohort.runner import run_lock\n"
        f"with run_lock({str(out)!r}):\n    print('locked', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(InputError, match="another `mspathobiology run`"):
            run_cohort(ds, out, functions=PLUGINS, progress=False)
        assert not (out / "cohort.tsv").exists()
    finally:
        holder.kill()
        holder.wait()
    result = run_cohort(ds, out, functions=PLUGINS, progress=False)  # the system released the killed run's lock
    assert not result.failed


def test_simultaneous_runs_never_both_hold_the_lock(tmp_path):
    import threading

    from mspathobiology.cohort.runner import run_lock

    for attempt in range(5):
        out = tmp_path / f"out{attempt}"
        out.mkdir()
        barrier, held, refused = threading.Barrier(6), [], []

        def contender():
            barrier.wait()
            try:
                with run_lock(out):
                    held.append(1)
                    time.sleep(0.2)
            except InputError:
                refused.append(1)

        threads = [threading.Thread(target=contender) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(held) == 1 and len(refused) == 5


def test_a_dying_worker_process_fails_its_case_only(tmp_path, env_log, monkeypatch):
    monkeypatch.setenv("COHORT_TEST_CRASH", "sub-02/ses-01")
    ds = make_dataset(tmp_path / "ds")
    result = run_cohort(ds, tmp_path / "out", jobs=2, functions=PLUGINS, progress=False)
    failed = sorted((r["case"], r["analysis"]) for r in result.failed)
    # the case whose worker died is found (rerun alone) and failed; the one that was in flight with it finishes
    assert failed == [("sub-02_ses-01", a) for a in ("atrophy", "lesions", "rims")]
    assert all("worker process died" in r["error"] for r in result.failed)
    rows = {(r["participant_id"], r["session_id"]): r for r in result.rows}
    for key in [("sub-01", "ses-01"), ("sub-01", "ses-02"), ("sub-02", "ses-02")]:
        assert rows[key]["lesion_count"] == BLOBS[key]


def plugin_threads(images, out_dir, **_):
    """Reports the threads this worker may use (SimpleITK, OpenMP/BLAS environment, loaded BLAS pools)."""
    import threadpoolctl

    pools = [p.get("num_threads") or 0 for p in threadpoolctl.threadpool_info()]
    return {"sitk_threads": sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(),
            "omp_threads": int(os.environ.get("OMP_NUM_THREADS", "0")), "blas_threads": max(pools, default=0),
            "lesion_count": 1}


def test_parallel_jobs_never_oversubscribe_the_cores(tmp_path, env_log):
    from mspathobiology.cohort.runner import available_cores, threads_per_job

    cores = available_cores()
    assert threads_per_job(2, cores=2) == 1 and threads_per_job(3, cores=8) == 2 and threads_per_job(4, cores=2) == 1
    before = os.environ.get("OMP_NUM_THREADS")
    ds = make_dataset(tmp_path / "ds", subjects=("01",))
    result = run_cohort(ds, tmp_path / "out", jobs=2, only="lesions", functions={"lesions": "test_cohort_runner:plugin_threads"},
                        progress=False)
    rows = result.rows
    assert len(rows) == 2 and result.threads_per_job == max(1, cores // 2)
    for row in rows:
        for key in ("sitk_threads", "omp_threads", "blas_threads"):
            assert 1 <= row[key] <= result.threads_per_job, (key, row[key])
        assert row["sitk_threads"] * 2 <= max(cores, 2)
    assert os.environ.get("OMP_NUM_THREADS") == before  # the parent's environment is restored


def test_outputs_record_where_each_input_came_from(tmp_path, env_log):
    ds = make_dataset(tmp_path / "ds", subjects=("01",), sessions=("01",))
    truth = sitk.Cast(sitk.BinaryThreshold(_blobs_image(2), 0.5, 2.0), sitk.sitkUInt8)
    write_image(truth, bids.derivative_path(ds, "phantom", "01", "01", "lesions"))
    (ds / "derivatives/phantom/dataset_description.json").write_text(
        '{"Name": "p", "BIDSVersion": "1.9.0", "DatasetType": "derivative", '
        '"GeneratedBy": [{"Name": "mspathobiology.phantom"}]}')
    out = tmp_path / "out"
    plain = run_cohort(ds, out, functions=PLUGINS, progress=False)
    marker = read_json(out / "sub-01/ses-01/lesions/done.json")
    assert "lesions" not in marker["provenance"] and marker["provenance"]["flair"]["origin"] == "raw image"
    assert marker["provenance"]["flair"]["path"] == "sub-01/ses-01/anat/sub-01_ses-01_FLAIR.nii.gz"
    assert marker["Sources"][0].startswith("bids:raw:sub-01/ses-01/anat/")
    assert marker["GeneratedBy"][0]["Version"] and marker["function"] == PLUGINS["lesions"]
    rims = read_json(out / "sub-01/ses-01/rims/done.json")["provenance"]["lesions"]
    assert rims["origin"] == "lesions step of this run (segmented from FLAIR)" and rims["uri"].startswith("bids::sub-01")
    assert plain.rows[0]["lesions_source"] == "segmented from FLAIR"
    published = out / "sub-01/ses-01/anat/sub-01_ses-01_desc-lesions_dseg.nii.gz"
    assert published.is_file() and read_json(published.with_name(
        "sub-01_ses-01_desc-lesions_dseg.json"))["Sources"] == marker["Sources"]
    os.utime(ds / "sub-01/ses-01/anat/sub-01_ses-01_FLAIR.nii.gz", ns=(1, 10**18))  # changed: lesions reruns
    failed = run_cohort(ds, out, functions={**PLUGINS, "lesions": "test_cohort_report:plugin_fails"}, progress=False)
    assert failed.failed and not published.exists()  # a failed step leaves no current-looking BIDS file
    run_cohort(ds, out, functions=PLUGINS, progress=False)
    assert published.is_file()
    description = read_json(out / "dataset_description.json")
    assert description["DatasetLinks"]["raw"] == "../ds" and description["GeneratedBy"][0]["Name"] == "MSPathobiology"

    asked = run_cohort(ds, out, functions=PLUGINS, progress=False, lesions_from="phantom")
    assert asked.rows[0]["lesions_source"] == "ground truth (derivatives/phantom)"
    marker = read_json(out / "sub-01/ses-01/lesions/done.json")
    assert marker["provenance"]["lesions"] == {
        "path": "derivatives/phantom/sub-01/ses-01/anat/sub-01_ses-01_desc-lesions_dseg.nii.gz",
        "origin": "ground truth (derivatives/phantom)",
        "uri": "bids:phantom:sub-01/ses-01/anat/sub-01_ses-01_desc-lesions_dseg.nii.gz"}
    assert read_json(out / "dataset_description.json")["DatasetLinks"]["phantom"] == "../ds/derivatives/phantom"


def test_rims_gets_what_the_single_case_command_would(tmp_path, env_log):
    ds = make_dataset(tmp_path / "ds", subjects=("01",), sessions=("01",))
    write_image(sitk.Cast(_blobs_image(0), sitk.sitkUInt8), bids.derivative_path(ds, "fs", "01", "01", "anatomy"))
    out = tmp_path / "out"
    run_cohort(ds, out, functions={**PLUGINS, "rims": "test_cohort_runner:plugin_inputs",
                                   "lesions": "test_cohort_runner:plugin_lesions_with_table"}, progress=False)
    seen = read_json(out / "sub-01/ses-01/rims/done.json")["summary"]
    assert seen["keys"] == "anatomy,flair,lesions,qsm,t1"
    assert seen["lesion_table"] == str(out / "sub-01/ses-01/lesions/lesions.tsv")


def plugin_inputs(images, out_dir, lesion_table=None, **_):
    return {"keys": ",".join(sorted(images)), "lesion_table": str(lesion_table)}


def plugin_lesions_with_table(images, out_dir, **_):
    summary = plugin_lesions(images, out_dir)
    write_table([{"id": i, "enhancing": False} for i in range(1, summary["lesion_count"] + 1)],
                Path(out_dir) / "lesions.tsv")
    return summary


def test_progress_counts_analyses_to_the_end_with_the_time_left():
    import io

    from mspathobiology.cohort.runner import Progress

    stream = io.StringIO()
    bar = Progress(6, stream=stream)
    bar.update("sub-01_ses-01: done", step=4)
    time.sleep(0.05)
    bar.update("sub-01_ses-02 (vs previous session): done", step=2)
    first, last = stream.getvalue().splitlines()
    assert "4/6 analyses" in first and "left" in first and bar.remaining() == 0
    assert "6/6 analyses" in last and "left" not in last


def test_a_readers_own_corrections_are_used_and_said(tmp_path, env_log):
    from mspathobiology.cohort.cases import cases_from_bids
    from mspathobiology.cohort.review import ReviewStore, reader_label
    from mspathobiology.commands.run import summary_text

    ds = make_dataset(tmp_path / "ds", subjects=("01",))
    case = cases_from_bids(ds)[0]
    corrected = tmp_path / "corrected.nii.gz"
    write_image(sitk.Cast(sitk.BinaryThreshold(_blobs_image(1), 0.5, 2.0), sitk.sitkUInt8), corrected)
    ReviewStore(ds / "derivatives" / "mspathobiology-review", "Jane Doe").save_file(case, "lesions", source=corrected)
    result = run_cohort(ds, tmp_path / "out", functions=PLUGINS, progress=False)
    said = f"correction by reader {reader_label('Jane Doe')}"
    assert f"lesions: {said} (1 session); segmented from FLAIR (1 session)" in summary_text(result)
    rows = {r["session_id"]: r for r in result.rows}
    assert rows["ses-01"]["lesions_source"] == said and rows["ses-02"]["lesions_source"] == "segmented from FLAIR"
    provenance = read_json(tmp_path / "out/sub-01/ses-01/lesions/done.json")["provenance"]["lesions"]
    assert provenance["origin"] == said and provenance["uri"].startswith("bids:mspathobiology-review:sub-01/ses-01/")
    ignored = run_cohort(ds, tmp_path / "out2", functions=PLUGINS, progress=False, corrections=False)
    assert {r["lesions_source"] for r in ignored.rows} == {"segmented from FLAIR"}
