"""Networks: tractogram readers/writers, the command line, run_case, and the phantom's ground truth."""

import numpy as np
import pytest
import SimpleITK as sitk

from mspathobiology.errors import InputError
from mspathobiology.geometry import voxel_to_ras
from mspathobiology.networks import (check_inside, connectome, make_streamlines, read_matrix, read_tractogram,
                                     run_case, write_tractogram)
from mspathobiology.tables import read_table


def sample_streamlines(n=60, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 12, n)
    points = rng.uniform(-30, 30, (lengths.sum(), 3)).astype(np.float32)
    return make_streamlines(points, np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)


def assert_same(a, b, atol=1e-4):
    np.testing.assert_array_equal(a._lengths, b._lengths)
    np.testing.assert_allclose(np.asarray(a.get_data()), np.asarray(b.get_data()), atol=atol, rtol=0)


@pytest.mark.parametrize("suffix", [".tck", ".trk", ".trx", ".vtk", ".vtp"])
def test_tractogram_round_trip(tmp_path, suffix):
    streamlines = sample_streamlines()
    affine = np.diag([1.25, 1.25, 2.0, 1.0])
    affine[:3, 3] = [-40, -40, -40]
    path = write_tractogram(streamlines, tmp_path / f"t{suffix}", affine=affine, shape=(64, 64, 40))
    back = read_tractogram(path)
    assert_same(streamlines, back, atol=1e-4 if suffix == ".trk" else 0)
    if suffix == ".trx":
        assert isinstance(back._data, np.memmap)  # memory-mapped, not copied


@pytest.mark.parametrize("suffix", [".tck", ".trk", ".trx", ".vtk", ".vtp"])
def test_a_short_tractogram_write_is_refused_and_the_old_file_kept(tmp_path, monkeypatch, suffix):
    """The written file is read back before it replaces the old one: a write that lost streamlines
    (here the writer gets one streamline fewer, as after a full disk) raises and changes nothing."""
    from mspathobiology.errors import OutputError
    from mspathobiology.networks import tractograms

    path = write_tractogram(sample_streamlines(seed=1), tmp_path / f"t{suffix}")
    before = path.read_bytes()
    real = tractograms.make_streamlines
    if suffix == ".tck":
        append = tractograms.TckWriter.append
        monkeypatch.setattr(tractograms.TckWriter, "append",
                            lambda self, points, lengths: append(self, points[: -lengths[-1]], lengths[:-1]))
    else:
        monkeypatch.setattr(tractograms, "make_streamlines", lambda data, offsets, lengths=None: real(
            data, offsets[:-1], None if lengths is None else lengths[:-1]))
    with pytest.raises(OutputError, match="was not written correctly.*previous file is unchanged"):
        write_tractogram(sample_streamlines(seed=2), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_vtk_frames(tmp_path):
    streamlines = sample_streamlines(10)
    lps = write_tractogram(streamlines, tmp_path / "lps.vtk", space="LPS")
    ras = write_tractogram(streamlines, tmp_path / "ras.vtp", space="RAS")
    assert b"SPACE=LPS" in lps.read_bytes()[:200]
    assert_same(streamlines, read_tractogram(lps), atol=0)
    assert_same(streamlines, read_tractogram(ras), atol=0)
    # a file in LPS: x and y are stored negated
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkIOLegacy import vtkPolyDataReader

    reader = vtkPolyDataReader()
    reader.SetFileName(str(lps))
    reader.Update()
    stored = vtk_to_numpy(reader.GetOutput().GetPoints().GetData())
    np.testing.assert_array_equal(stored, np.asarray(streamlines.get_data()) * [-1, -1, 1])
    # an untagged file (old fibre bundle): refused unless the caller gives the frame
    text = lps.read_bytes().replace(b"SPACE=LPS", b"untagged!")
    (tmp_path / "old.vtk").write_bytes(text)
    with pytest.raises(InputError, match="--vtk-space"):
        read_tractogram(tmp_path / "old.vtk")
    assert_same(streamlines, read_tractogram(tmp_path / "old.vtk", space="LPS"), atol=0)
    flipped = read_tractogram(tmp_path / "old.vtk", space="RAS")
    np.testing.assert_array_equal(np.asarray(flipped.get_data()), stored)
    assert "caller" in flipped.space_source and "declared" in read_tractogram(lps).space_source


def test_tckconvert_vtk_needs_the_space_and_then_matches_the_tck(tmp_path):
    """MRtrix3 tckconvert writes RAS .vtk with no tag (issue 13): refused, then equal to the .tck with RAS."""
    import subprocess

    streamlines = sample_streamlines(40)
    tck = write_tractogram(streamlines, tmp_path / "t.tck")
    subprocess.run(["tckconvert", "-quiet", str(tck), str(tmp_path / "t.vtk")], check=True)
    with pytest.raises(InputError, match="RAS or LPS"):
        read_tractogram(tmp_path / "t.vtk")
    assert_same(read_tractogram(tck), read_tractogram(tmp_path / "t.vtk", space="RAS"), atol=1e-4)  # ASCII, 6 digits


def test_reader_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_tractogram(tmp_path / "missing.tck")
    (tmp_path / "bad.tck").write_text("not a tractogram")
    with pytest.raises(InputError, match="not an MRtrix3 .tck"):
        read_tractogram(tmp_path / "bad.tck")
    (tmp_path / "noend.tck").write_text("mrtrix tracks\ndatatype: Float32LE\nfile: . 60\n")
    with pytest.raises(InputError, match="END"):
        read_tractogram(tmp_path / "noend.tck")
    (tmp_path / "bad.trk").write_bytes(b"TRACK" + bytes(200))
    with pytest.raises(InputError, match="TrackVis"):
        read_tractogram(tmp_path / "bad.trk")
    (tmp_path / "dir.tck").mkdir()
    with pytest.raises(InputError, match="folder"):
        read_tractogram(tmp_path / "dir.tck")
    (tmp_path / "bad.txt").write_text("x")
    with pytest.raises(InputError, match="unsupported"):
        read_tractogram(tmp_path / "bad.txt")


def test_check_inside_reports_the_frames():
    streamlines = sample_streamlines()
    affine = np.eye(4)
    affine[:3, 3] = -32
    assert check_inside(streamlines, (64, 64, 64), affine) == 0.0
    with pytest.raises(InputError, match="LPS vs RAS"):
        check_inside(streamlines, (64, 64, 64), np.diag([1, 1, 1, 1.0]))


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A parcellation on an oblique grid, lesions, FA and a .trk of straight streamlines."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import oblique_image

    folder = tmp_path_factory.mktemp("network_case")
    rng = np.random.default_rng(0)
    image = oblique_image(size=(30, 28, 24), spacing=(1.0, 1.2, 1.1))
    k, j, i = np.indices((24, 28, 30))
    labels = (1 + (k // 6) * 6 + (j // 7) * 2 + i // 15).astype(np.uint32)
    labels[:2] = 0
    lesions = np.zeros_like(labels, dtype=np.uint8)
    lesions[10:14, 10:15, 12:18] = 1
    paths = {}
    for key, array in (("parcellation", labels), ("lesions", lesions), ("scalar", rng.random(labels.shape))):
        img = sitk.GetImageFromArray(array.astype(np.float32) if key == "scalar" else array)
        img.CopyInformation(image)
        paths[key] = folder / f"{key}.nii.gz"
        sitk.WriteImage(img, str(paths[key]))
    affine = voxel_to_ras(image)
    a, b = rng.uniform(0, [29, 27, 23], (2, 800, 3))
    t = np.linspace(0, 1, 25)[None, :, None]
    ijk = (a[:, None] + t * (b - a)[:, None]).reshape(-1, 3)
    points = (ijk @ affine[:3, :3].T + affine[:3, 3]).astype(np.float32)
    streamlines = make_streamlines(points, np.arange(800) * 25, np.full(800, 25))
    paths["tractogram"] = write_tractogram(streamlines, folder / "tracts.trk", affine=affine, shape=(30, 28, 24))
    return paths, streamlines, labels.transpose(2, 1, 0), affine


def test_cli_writes_every_output(case, tmp_path):
    from mspathobiology.cli import main

    paths, streamlines, labels, affine = case
    out = tmp_path / "out"
    code = main(["network", "--tractogram", str(paths["tractogram"]), "--parcellation", str(paths["parcellation"]),
                 "--lesions", str(paths["lesions"]), "--assignment", "radial:2", "--out", str(out)])
    assert code == 0
    matrix, rows = read_matrix(out / "connectome.csv")
    expected, expected_rows = connectome(read_tractogram(paths["tractogram"]), labels, affine,
                                         assignment="radial:2", zero_diagonal=True)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_array_equal(matrix, expected)
    lesioned, _ = read_matrix(out / "connectome_lesioned.csv")
    assert (lesioned <= matrix).all() and lesioned.sum() < matrix.sum()
    edges = read_table(out / "disconnection.tsv")
    assert list(edges[0]) == ["region_a", "region_b", "streamlines", "disconnected", "percent"]
    assert sum(e["streamlines"] - e["disconnected"] for e in edges) == np.triu(lesioned).sum()
    regions = read_table(out / "regions_disconnection.tsv")
    assert {r["region"] for r in regions} == set(rows.tolist())
    nodes = read_table(out / "nodes.tsv")
    assert [n["label"] for n in nodes] == rows.tolist()
    assert all(n["strength"] == pytest.approx(s) for n, s in zip(nodes, matrix.sum(axis=1)))
    import json

    report = json.loads((out / "global.json").read_text())
    for key, value in report["delta"].items():
        if report["metrics"][key] is not None and report["lesioned_metrics"][key] is not None:
            assert value == pytest.approx(report["lesioned_metrics"][key] - report["metrics"][key])
    assert report["delta"]["total_weight"] == -report["disconnection"]["disconnected_streamlines"]


def test_run_case_scalar_weight_and_errors(case, tmp_path):
    paths, *_ = case
    images = {"tractogram": paths["tractogram"], "parcellation": paths["parcellation"], "scalar": paths["scalar"]}
    summary = run_case(images, tmp_path / "fa", weight="mean_scalar")
    matrix, _ = read_matrix(tmp_path / "fa" / "connectome.csv")
    assert matrix.dtype.kind == "f" and 0 < matrix.max() < 1
    assert summary["network_regions"] == len(matrix) and "network_disconnected_percent" not in summary
    assert 0 < summary["network_global_efficiency"] <= 1
    with pytest.raises(InputError, match="parcellation"):
        run_case({"tractogram": paths["tractogram"]}, tmp_path / "x")
    with pytest.raises(InputError, match="unknown network option"):
        run_case(images, tmp_path / "x", colour="red")
    from mspathobiology.cli import main

    assert main(["network", "--tractogram", str(tmp_path / "none.tck"), "--parcellation",
                 str(paths["parcellation"]), "--out", str(tmp_path / "y")]) == 2


@pytest.fixture(scope="module")
def phantom():
    import mspathobiology.phantom  # noqa: F401
    from mspathobiology.phantom import generate_subject

    return generate_subject(seed=0, small=True)


def test_phantom_connectome_and_disconnection_against_exact_truth(phantom):
    """End-voxel and radial connectomes and the (exact-traversal) disconnection equal the phantom's
    truth; sampling at 0.25 voxel, as NeMo/LQT, never reports a false crossing but misses some."""
    from mspathobiology.networks.disconnection import lesion_mask_array, lesioned_streamlines

    for session in phantom.sessions:
        truth = session.truth
        matrix, rows = connectome(session.streamlines, session.parcellation, None, zero_diagonal=True)
        np.testing.assert_array_equal(rows, truth["connectome"]["labels"])
        np.testing.assert_array_equal(matrix, np.array(truth["connectome"]["matrix"]))
        radial, _ = connectome(session.streamlines, session.parcellation, None, zero_diagonal=True,
                               assignment=f"radial:{truth['connectome_radial']['radius_mm']}")
        np.testing.assert_array_equal(radial, np.array(truth["connectome_radial"]["matrix"]))
        assert radial.sum() > matrix.sum() > 0  # shifted endpoints: radial assigns more
        data = np.asarray(session.streamlines.get_data())
        centres = voxel_to_ras(session.parcellation)
        ijk = (data - centres[:3, 3]) @ np.linalg.inv(centres[:3, :3]).T
        assert np.abs(ijk - np.rint(ijk)).max() > 0.3  # endpoints and points off voxel centres
        mask, affine = lesion_mask_array(session.lesions), voxel_to_ras(session.lesions)
        hit = lesioned_streamlines(session.streamlines, mask, affine)
        true = np.zeros(len(hit), dtype=bool)
        true[truth["disconnected_streamlines"]] = True
        assert 0 < true.sum() < len(true)
        np.testing.assert_array_equal(hit, true)
        sampled = lesioned_streamlines(session.streamlines, mask, affine, step_voxels=0.25)
        assert not (sampled & ~true).any() and (true & ~sampled).any()


def test_phantom_files_through_run_case(phantom, tmp_path):
    import json

    session = phantom.sessions[0]
    images = {"parcellation": tmp_path / "parc.nii.gz", "lesions": tmp_path / "lesions.nii.gz",
              "tractogram": tmp_path / "tracts.tck"}
    sitk.WriteImage(session.parcellation, str(images["parcellation"]))
    sitk.WriteImage(session.lesions, str(images["lesions"]))
    write_tractogram(session.streamlines, images["tractogram"])
    summary = run_case(images, tmp_path / "out", chunk_points=5000)  # many chunks
    matrix, rows = read_matrix(tmp_path / "out" / "connectome.csv")
    np.testing.assert_array_equal(rows, session.truth["connectome"]["labels"])
    np.testing.assert_array_equal(matrix, np.array(session.truth["connectome"]["matrix"]))
    report = json.loads((tmp_path / "out" / "global.json").read_text())
    true = len(session.truth["disconnected_streamlines"])
    assert report["disconnection"]["lesioned_streamlines"] == true
    assert report["settings"]["tractogram_space"] == "RAS" and ".tck" in report["settings"]["tractogram_space_source"]
    assert summary["network_disconnected_percent"] > 0 and summary["network_delta_global_efficiency"] < 0


def test_polydata_in_memory_round_trip():
    from vtkmodules.vtkCommonCore import vtkPoints
    from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

    from mspathobiology.networks import polydata_to_streamlines, streamlines_to_polydata

    streamlines = sample_streamlines(15)
    assert_same(streamlines, polydata_to_streamlines(streamlines_to_polydata(streamlines)), atol=0)
    assert_same(streamlines, polydata_to_streamlines(streamlines_to_polydata(streamlines, "LPS"), "LPS"), atol=0)
    # lines whose point ids are not in storage order (as a model edited in Slicer may be)
    points, cells = vtkPoints(), vtkCellArray()
    for p in ([0, 0, 0], [1, 2, 3], [4, 5, 6]):
        points.InsertNextPoint(p)
    cells.InsertNextCell(3, [2, 0, 1])
    cells.InsertNextCell(2, [1, 2])
    polydata = vtkPolyData()
    polydata.SetPoints(points)
    polydata.SetLines(cells)
    back = polydata_to_streamlines(polydata)
    np.testing.assert_array_equal(back[0], [[4, 5, 6], [0, 0, 0], [1, 2, 3]])
    np.testing.assert_array_equal(back[1], [[1, 2, 3], [4, 5, 6]])


# ----------------------------------------------------------------------------- streaming, analyse, MRtrix3

def test_chunked_readers_equal_nibabel_and_do_not_depend_on_the_chunk(tmp_path):
    import nibabel as nib
    from nibabel.streamlines import Tractogram

    from mspathobiology.networks import open_tractogram

    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 40, 300)
    lengths[7] = 500  # longer than a chunk
    points = rng.uniform(-30, 30, (lengths.sum(), 3)).astype(np.float32)
    streamlines = make_streamlines(points, np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    affine = np.diag([1.5, 1.25, 2.0, 1.0])
    affine[:3, 3] = [-40, -35, -30]
    tck = write_tractogram(streamlines, tmp_path / "t.tck")
    trk = write_tractogram(streamlines, tmp_path / "t.trk", affine=affine, shape=(60, 60, 40))
    # a .trk with per-point scalars and per-streamline properties (record stride 3 + 2, + 1)
    with_extras = Tractogram(streamlines, affine_to_rasmm=np.eye(4),
                             data_per_point={"s": [rng.random((n, 2)).astype(np.float32) for n in lengths]},
                             data_per_streamline={"p": rng.random((len(lengths), 1)).astype(np.float32)})
    header = nib.streamlines.TrkFile.create_empty_header()
    header[nib.streamlines.Field.VOXEL_TO_RASMM] = affine
    nib.streamlines.save(with_extras, str(tmp_path / "extras.trk"), header=header)
    for path in (tck, trk, tmp_path / "extras.trk"):
        reference = nib.streamlines.load(str(path)).streamlines
        source = open_tractogram(path)
        for chunk_points in (97, 1 << 20):
            chunks = list(source.chunks(chunk_points))
            assert sum(len(c) for c in chunks) == len(lengths)
            assert [c.first for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks[:-1]]))
            back = source.load() if chunk_points > 1000 else None
            if back is not None:
                assert_same(reference, back, atol=1e-4)
        labels = (np.indices((60, 60, 40)).sum(axis=0) // 9).astype(np.int32)
        a, _ = connectome(str(path), labels, affine, max_outside_fraction=1.0)
        b, _ = connectome(reference, labels, affine, max_outside_fraction=1.0)
        np.testing.assert_array_equal(a, b)


def test_empty_tractogram_gives_an_empty_connectome_and_a_warning(case, tmp_path):
    from mspathobiology.cli import main
    from mspathobiology.networks import EmptyTractogramWarning

    paths, *_ = case
    empty = write_tractogram(make_streamlines(np.zeros((0, 3), np.float32), [], []), tmp_path / "empty.tck")
    images = {"tractogram": empty, "parcellation": paths["parcellation"], "lesions": paths["lesions"]}
    with pytest.warns(EmptyTractogramWarning, match="no streamlines"):
        summary = run_case(images, tmp_path / "out")
    matrix, rows = read_matrix(tmp_path / "out" / "connectome.csv")
    assert len(rows) == summary["network_regions"] > 10 and not matrix.any()
    assert summary["network_streamlines"] == 0 and summary["network_edges"] == 0
    assert main(["network", "--tractogram", str(empty), "--parcellation", str(paths["parcellation"]),
                 "--out", str(tmp_path / "cli")]) == 0


def test_analyse_in_memory_equals_run_case(case, tmp_path):
    import json

    from mspathobiology.networks import analyse

    paths, streamlines, labels, affine = case
    images = {k: sitk.ReadImage(str(paths[k])) for k in ("parcellation", "lesions", "scalar")}
    result = analyse(images, streamlines, weight="invlength")
    assert result.lesioned is not None and result.lesioned.shape == result.matrix.shape
    assert (result.lesioned <= result.matrix + 1e-12).all() and (result.lesioned < result.matrix).any()
    for rows in (result.nodes, result.nodes_lesioned):
        assert {"strength", "degree", "betweenness_weighted", "clustering_weighted"} <= set(rows[0])
    assert sum(r["degree"] for r in result.nodes_lesioned) <= sum(r["degree"] for r in result.nodes)
    assert result.disconnection["lesioned_streamlines"] == int(result.hit.sum()) > 0
    assert result.settings["tractogram_space_source"] == "in memory, RAS mm"
    run_case({**{k: paths[k] for k in ("parcellation", "lesions", "scalar")}, "tractogram": paths["tractogram"]},
             tmp_path / "out", weight="invlength")
    matrix, _ = read_matrix(tmp_path / "out" / "connectome_lesioned.csv")
    np.testing.assert_allclose(matrix, result.lesioned, rtol=1e-4)  # .trk stores float32 voxmm
    report = json.loads((tmp_path / "out" / "global.json").read_text())
    assert report["settings"]["tractogram_space"] == "RAS" and "vox_to_ras" in report["settings"]["tractogram_space_source"]
    table = read_table(tmp_path / "out" / "nodes.tsv")
    assert "strength_lesioned" in table[0] and "global_efficiency_weighted" in report["lesioned_metrics"]
    nodes, metrics = analyse(result.matrix, result.row_labels)  # the graph-measure form still works
    assert metrics == result.metrics


def test_weights_equal_mrtrix3_tck2connectome_and_tcksample(tmp_path):
    """count, invlength, invnodevol and mean_scalar (tcksample -stat_tck mean) against MRtrix3 on a tiny case."""
    import subprocess

    rng = np.random.default_rng(5)
    shape = (24, 20, 16)
    k, j, i = np.indices(shape[::-1])
    labels_kji = (1 + (i // 8) + 3 * (j // 10) + 6 * (k // 8)).astype(np.uint8)
    affine_img = sitk.GetImageFromArray(labels_kji)
    affine_img.SetSpacing((1.5, 1.25, 2.0))
    affine_img.SetOrigin((-10.0, 5.0, -3.0))
    sitk.WriteImage(affine_img, str(tmp_path / "nodes.nii.gz"))
    scalar = sitk.GetImageFromArray(rng.random(shape[::-1]).astype(np.float32))
    scalar.CopyInformation(affine_img)
    sitk.WriteImage(scalar, str(tmp_path / "fa.nii.gz"))
    affine = voxel_to_ras(affine_img)
    n = 400
    a, b = rng.uniform(0, np.array(shape) - 1, (2, n, 3))
    counts = rng.integers(2, 30, n)
    t = np.concatenate([np.sort(rng.random(c)) for c in counts])  # uneven spacing along each line
    t[np.concatenate([[0], np.cumsum(counts)[:-1]])] = 0
    t[np.cumsum(counts) - 1] = 1
    owner = np.repeat(np.arange(n), counts)
    ijk = a[owner] + t[:, None] * (b - a)[owner]
    points = (ijk @ affine[:3, :3].T + affine[:3, 3]).astype(np.float32)
    tck = write_tractogram(make_streamlines(points, np.concatenate([[0], np.cumsum(counts)[:-1]]), counts),
                           tmp_path / "t.tck")
    labels = labels_kji.transpose(2, 1, 0)
    fa = sitk.GetArrayFromImage(scalar).transpose(2, 1, 0)
    subprocess.run(["tcksample", "-quiet", "-stat_tck", "mean", str(tck), str(tmp_path / "fa.nii.gz"),
                    str(tmp_path / "fa.txt")], check=True)
    flags = {"count": [], "invlength": ["-scale_invlength"], "invnodevol": ["-scale_invnodevol"],
             "mean_scalar": ["-scale_file", str(tmp_path / "fa.txt"), "-stat_edge", "mean"]}
    for weight, extra in flags.items():
        out = tmp_path / f"{weight}.csv"
        subprocess.run(["tck2connectome", "-quiet", "-assignment_end_voxels", "-symmetric", "-zero_diagonal", *extra,
                        str(tck), str(tmp_path / "nodes.nii.gz"), str(out)], check=True)
        theirs = np.loadtxt(out, delimiter=",", comments="#")
        ours, rows = connectome(tck, labels, affine, weight=weight, zero_diagonal=True,
                                scalar=fa if weight == "mean_scalar" else None)
        np.testing.assert_array_equal(rows, np.arange(1, len(theirs) + 1))
        assert theirs.sum() > 0
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-7)


def test_phantom_and_networks_import_without_optional_packages():
    """Slicer's fresh Python has no nibabel, networkx or trx: importing the packages must not need them."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import builtins, sys\n"
            "real = builtins.__import__\n"
            "def guard(name, *a, **k):\n"
            "    if name.split('.')[0] in ('nibabel', 'networkx', 'trx', 'dipy'):\n"
            "        raise ImportError('blocked ' + name)\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = guard\n"
            "import mspathobiology.phantom.tractography, mspathobiology.networks\n"
            "from mspathobiology.networks import polydata_to_streamlines, streamlines_to_polydata\n")
    root = Path(__file__).resolve().parents[2] / "MSPathobiology"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr


def test_trk_with_a_subnormal_coordinate_falls_back_to_walking_the_records(tmp_path):
    import nibabel as nib

    from mspathobiology.networks import open_tractogram

    lengths = np.array([3, 5, 4, 6])
    points = np.random.default_rng(2).uniform(1, 30, (lengths.sum(), 3)).astype(np.float32)
    path = write_tractogram(make_streamlines(points, np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths),
                            tmp_path / "t.trk", affine=np.eye(4), shape=(32, 32, 32))
    raw = bytearray(path.read_bytes())
    word = 1 + 3 * lengths[0] + 1 + 3  # second streamline, second point, x (after its count word)
    raw[1000 + 4 * word:1000 + 4 * word + 4] = np.array([5], "<i4").tobytes()  # a subnormal float, looks like a count
    path.write_bytes(bytes(raw))
    source = open_tractogram(path)
    assert np.array_equal(source.records()[1], lengths)
    assert_same(nib.streamlines.load(str(path)).streamlines, source.load(), atol=1e-4)
