"""Networks: connectome vs DIPY, weights, radial search, graph metrics vs bctpy/networkx, disconnection."""

import numpy as np

from mspathobiology.defaults.networks import SAMPLING_STEP_VOXELS
import pytest

from mspathobiology.errors import InputError
from mspathobiology.networks import connectome, make_streamlines
from mspathobiology.networks import metrics as M
from mspathobiology.networks.disconnection import disconnection, lesioned_streamlines, metric_changes


def oblique_affine(spacing=(1.5, 1.2, 2.0), seed=0):
    rng = np.random.default_rng(seed)
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag(spacing)
    affine[:3, 3] = [-12.0, 7.5, 3.25]
    return affine


def random_case(seed=0, shape=(20, 22, 18), n=3000, n_labels=12, max_points=20):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_labels, size=shape).astype(np.int32)
    affine = oblique_affine(seed=seed)
    lengths = rng.integers(1, max_points, n)
    ijk = rng.uniform(0, np.array(shape) - 1, size=(lengths.sum(), 3))
    points = (ijk @ affine[:3, :3].T + affine[:3, 3]).astype(np.float32)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return labels, affine, make_streamlines(points, offsets, lengths)


def to_voxels(points, affine):
    inverse = np.linalg.inv(affine)
    return np.asarray(points, float) @ inverse[:3, :3].T + inverse[:3, 3]


# ----------------------------------------------------------------------------- connectome

@pytest.mark.parametrize("seed", [0, 1])
def test_end_voxel_connectome_equals_dipy(seed):
    from dipy.tracking.utils import connectivity_matrix

    labels, affine, streamlines = random_case(seed)
    labels[labels == 5] = 0  # a missing label: DIPY keeps an empty row, we do not
    matrix, rows = connectome(streamlines, labels, affine, drop_unassigned=False)
    expected = connectivity_matrix(streamlines, affine, labels)
    assert rows[0] == 0 and 5 not in rows
    assert matrix.dtype.kind == "i"
    np.testing.assert_array_equal(matrix, expected[np.ix_(rows, rows)])
    assert matrix.sum() > 1000


def test_connectome_layout_options():
    labels, affine, streamlines = random_case(2)
    full, rows = connectome(streamlines, labels, affine, drop_unassigned=False)
    upper, _ = connectome(streamlines, labels, affine, drop_unassigned=False, symmetric=False)
    np.testing.assert_array_equal(upper, np.triu(full))
    np.testing.assert_array_equal(upper + upper.T - np.diag(np.diag(upper)), full)
    dropped, rows_d = connectome(streamlines, labels, affine, zero_diagonal=True)
    assert 0 not in rows_d
    np.testing.assert_array_equal(np.diag(dropped), 0)
    expected = full[1:, 1:].copy()
    np.fill_diagonal(expected, 0)
    np.testing.assert_array_equal(dropped, expected)
    # other streamline containers give the same result
    as_list = [np.asarray(s) for s in streamlines]
    np.testing.assert_array_equal(connectome(as_list, labels, affine, drop_unassigned=False)[0], full)
    flat = (streamlines._data, streamlines._offsets)
    np.testing.assert_array_equal(connectome(flat, labels, affine, drop_unassigned=False)[0], full)


def brute_force(streamlines, labels, affine, weights):
    values = np.unique(labels[labels > 0])
    index = {v: i for i, v in enumerate(values)}
    out = np.zeros((len(values), len(values)))
    for s, w in zip(streamlines, weights):
        ends = np.floor(to_voxels(np.asarray(s)[[0, -1]], affine) + 0.5).astype(int)
        a, b = (labels[tuple(e)] for e in ends)
        if a and b:
            i, j = index[a], index[b]
            out[i, j] += w
            if i != j:
                out[j, i] += w
    return out


def test_weights_invlength_invnodevol_mean_scalar():
    from scipy.ndimage import map_coordinates

    labels, affine, streamlines = random_case(3, n=800)
    lengths_mm = np.array([np.linalg.norm(np.diff(np.asarray(s, float), axis=0), axis=1).sum() for s in streamlines])
    inv = np.where(lengths_mm > 0, 1 / np.where(lengths_mm > 0, lengths_mm, 1), 0)
    got, _ = connectome(streamlines, labels, affine, weight="invlength")
    np.testing.assert_allclose(got, brute_force(streamlines, labels, affine, inv), rtol=1e-9, atol=1e-12)

    count, rows = connectome(streamlines, labels, affine)
    volumes = np.array([(labels == v).sum() for v in rows], dtype=float)
    got, _ = connectome(streamlines, labels, affine, weight="invnodevol")
    np.testing.assert_allclose(got, count * 2 / (volumes[:, None] + volumes[None, :]), rtol=1e-12)

    scalar = np.random.default_rng(4).random(labels.shape)

    def weighted_mean(s):  # tcksample -stat_tck mean: each point weighs half its adjacent segments
        values = map_coordinates(scalar, to_voxels(s, affine).T, order=1, mode="constant")
        seg = np.linalg.norm(np.diff(np.asarray(s, float), axis=0), axis=1)
        w = np.concatenate([seg, [0]]) / 2 + np.concatenate([[0], seg]) / 2
        return (values * w).sum() / w.sum() if w.sum() > 0 else 0.0

    means = np.array([weighted_mean(s) for s in streamlines])
    plain = np.array([map_coordinates(scalar, to_voxels(s, affine).T, order=1, mode="constant").mean()
                      for s in streamlines])
    assert np.abs(means - plain)[lengths_mm > 0].max() > 1e-3  # the two definitions differ on these streamlines
    sums = brute_force(streamlines, labels, affine, means)
    got, _ = connectome(streamlines, labels, affine, weight="mean_scalar", scalar=scalar)
    np.testing.assert_allclose(got, np.where(count > 0, sums / np.maximum(count, 1), 0), rtol=1e-6, atol=1e-9)
    with pytest.raises(InputError, match="scalar"):
        connectome(streamlines, labels, affine, weight="mean_scalar")


def test_radial_search_assigns_nearest_labelled_voxel_within_radius():
    from mspathobiology.networks import assign_endpoints

    labels = np.zeros((12, 12, 12), dtype=np.int32)
    labels[2:4, 2:10, 2:10] = 3
    labels[8:10, 2:10, 2:10] = 7
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    # endpoints 1 voxel (2 mm) and 2 voxels (4 mm) away from the slabs, in unlabelled voxels
    s = [np.array([[4 * 2.0, 10.0, 10.0], [7 * 2.0, 10.0, 10.0]], np.float32),
         np.array([[5 * 2.0, 10.0, 10.0], [6 * 2.0, 10.0, 10.0]], np.float32)]
    end = assign_endpoints(s, labels, affine, "end")
    np.testing.assert_array_equal(end, 0)
    r3 = assign_endpoints(s, labels, affine, "radial:3")
    np.testing.assert_array_equal(r3, [[3, 0], [7, 0]])
    r5 = assign_endpoints(s, labels, affine, "radial:5")
    np.testing.assert_array_equal(r5, [[3, 3], [7, 7]])
    matrix, rows = connectome(s, labels, affine, assignment="radial:5")
    np.testing.assert_array_equal(rows, [3, 7])
    np.testing.assert_array_equal(matrix, [[0, 2], [2, 0]])
    with pytest.raises(InputError, match="assignment"):
        connectome(s, labels, affine, assignment="nearest")


def test_tractogram_outside_parcellation_is_refused():
    labels, affine, streamlines = random_case(5, n=200)
    shifted = make_streamlines(streamlines._data + np.float32(500.0), streamlines._offsets, streamlines._lengths)
    with pytest.raises(InputError, match="outside the parcellation"):
        connectome(shifted, labels, affine)


# ----------------------------------------------------------------------------- metrics

def random_graph(seed, n=30, p=0.3, disconnected=False):
    rng = np.random.default_rng(seed)
    W = rng.random((n, n)) * (rng.random((n, n)) < p) * 50
    W = np.triu(W, 1)
    if disconnected:
        W[: n // 3, n // 3:] = 0
        W[-1, :] = 0
        W[:, -1] = 0
    return M.prepare(W + W.T)


@pytest.mark.parametrize("seed,disconnected", [(0, False), (1, True)])
def test_metrics_match_bctpy_and_networkx(seed, disconnected):
    import bct
    import networkx as nx

    W = random_graph(seed, disconnected=disconnected)
    Wn = W / W.max()
    A = (W > 0).astype(float)
    G = M.to_networkx(W)
    tol = dict(rtol=0, atol=1e-9)
    np.testing.assert_array_equal(M.degree(W), bct.degrees_und(W))
    np.testing.assert_allclose(M.strength(W), bct.strengths_und(W), **tol)
    assert M.density(W) == pytest.approx(bct.density_und(W)[0], abs=1e-12)
    np.testing.assert_allclose(M.clustering(W, False), bct.clustering_coef_bu(A), **tol)
    np.testing.assert_allclose(M.clustering(W, True), bct.clustering_coef_wu(Wn), **tol)
    nx_c = nx.clustering(G, weight="weight")
    np.testing.assert_allclose(M.clustering(W, True), [nx_c[i] for i in range(len(W))], **tol)
    Dw = M.distances(W)
    np.testing.assert_allclose(Dw, bct.distance_wei(M.lengths(W))[0], **tol)
    Db = M.distances(W, weighted=False)
    np.testing.assert_allclose(Db, bct.distance_bin(A), **tol)
    for D in (Db, Dw):
        assert M.characteristic_path_length(D) == pytest.approx(bct.charpath(D, include_infinite=False)[0], abs=1e-9)
        if disconnected:  # bct's default includes infinite distances
            assert np.isinf(bct.charpath(D)[0]) and np.isfinite(M.characteristic_path_length(D))
    assert M.global_efficiency(Dw) == pytest.approx(bct.efficiency_wei(Wn), abs=1e-9)
    assert M.global_efficiency(Db) == pytest.approx(bct.efficiency_bin(A), abs=1e-9)
    assert M.global_efficiency(Db) == pytest.approx(nx.global_efficiency(G), abs=1e-9)
    np.testing.assert_allclose(M.local_efficiency(W, False), bct.efficiency_bin(A, local=True), **tol)
    assert M.local_efficiency(W, False).mean() == pytest.approx(nx.local_efficiency(G), abs=1e-9)
    np.testing.assert_allclose(M.local_efficiency(W, True), bct.efficiency_wei(Wn, local=True), **tol)
    # bct counts ordered pairs: twice networkx's unnormalised betweenness
    np.testing.assert_allclose(2 * M.betweenness(W, True), bct.betweenness_wei(M.lengths(W)), **tol)
    np.testing.assert_allclose(2 * M.betweenness(W, False), bct.betweenness_bin(A), **tol)
    nx_b = nx.betweenness_centrality(G, weight="length", normalized=False)
    np.testing.assert_allclose(M.betweenness(W, True), [nx_b[i] for i in range(len(W))], **tol)
    modules, q = M.louvain(W)
    assert len(np.unique(modules)) > 1 and q > 0
    parts = [set(np.flatnonzero(modules == m)) for m in np.unique(modules)]
    assert q == pytest.approx(nx.community.modularity(G, parts, weight="weight"), abs=1e-12)
    np.testing.assert_allclose(M.participation(W, modules), bct.participation_coef(W, modules), **tol)


def test_metrics_refuse_bad_matrices():
    with pytest.raises(InputError, match="symmetric"):
        M.prepare(np.triu(np.ones((4, 4)), 1))
    with pytest.raises(InputError, match="negative"):
        M.prepare(-np.ones((3, 3)))
    with pytest.raises(InputError, match="square"):
        M.prepare(np.ones((3, 4)))


# ----------------------------------------------------------------------------- disconnection

def reference_hits(streamlines, mask, affine, step):
    """Per-streamline loop: every point, and every segment at fractions s/m, m = ceil(segment length / step)."""
    hits = []
    for c in (to_voxels(s, affine) for s in streamlines):
        samples = [c]
        for a, b in zip(c[:-1], c[1:]):
            m = int(np.ceil(np.sqrt(((b - a) ** 2).sum()) / step))
            samples.append(a + (np.arange(1, max(m, 1))[:, None] / m) * (b - a))
        v = np.floor(np.concatenate(samples) + 0.5).astype(int)
        ok = ((v >= 0) & (v < mask.shape)).all(axis=1)
        hits.append(bool(mask[tuple(v[ok].T)].any()))
    return np.array(hits)


def reference_exact_hits(streamlines, mask, affine):
    """Per-streamline loop: the voxels of every segment from its sorted face crossings (interval midpoints)."""
    hits = []
    for c in (to_voxels(s, affine) for s in streamlines):
        cells = [np.floor(c + 0.5).astype(int)]
        for a, b in zip(c[:-1], c[1:]):
            ts = [0.0, 1.0]
            for k in range(3):
                lo, hi = sorted((np.floor(a[k] + 0.5), np.floor(b[k] + 0.5)))
                ts += [(f + 0.5 - a[k]) / (b[k] - a[k]) for f in np.arange(lo, hi)]
            ts = np.sort(ts)
            mid = (ts[1:] + ts[:-1]) / 2
            cells.append(np.floor(a + mid[:, None] * (b - a) + 0.5).astype(int))
        v = np.concatenate(cells)
        ok = ((v >= 0) & (v < mask.shape)).all(axis=1)
        hits.append(bool(mask[tuple(v[ok].T)].any()))
    return np.array(hits)


def lesion_case(seed=6, n=1500):
    rng = np.random.default_rng(seed)
    shape = (26, 24, 22)
    affine = oblique_affine((1.1, 0.9, 1.4), seed)
    mask = np.zeros(shape, dtype=bool)
    for _ in range(25):
        c = rng.integers(2, 20, 3)
        mask[c[0]:c[0] + rng.integers(1, 4), c[1]:c[1] + rng.integers(1, 4), c[2]:c[2] + rng.integers(1, 3)] = True
    lengths = rng.integers(1, 16, n)
    starts = rng.uniform(-1.5, np.array(shape) + 0.5, (n, 3))
    points = []
    for length, start in zip(lengths, starts):
        ijk = start + np.cumsum(rng.normal(size=(length, 3)) * rng.uniform(0.2, 2.5), axis=0)
        points.append((ijk @ affine[:3, :3].T + affine[:3, 3]).astype(np.float32))
    from nibabel.streamlines import ArraySequence

    return mask, affine, ArraySequence(points)


def test_lesioned_streamlines_equal_brute_force():
    mask, affine, streamlines = lesion_case()
    for step, chunk in ((0.5, 1000), (0.25, 1 << 20)):
        got = lesioned_streamlines(streamlines, mask, affine, step_voxels=step, chunk_points=chunk)
        expected = reference_hits(streamlines, mask, affine, step)
        assert 50 < expected.sum() < len(expected) - 50
        np.testing.assert_array_equal(got, expected)
    exact = reference_exact_hits(streamlines, mask, affine)
    for chunk in (1000, 1 << 20):
        np.testing.assert_array_equal(lesioned_streamlines(streamlines, mask, affine, step_voxels=0,
                                                           chunk_points=chunk), exact)
    assert exact.sum() > expected.sum()  # sampling misses corner clips that the traversal finds
    assert not lesioned_streamlines(streamlines, np.zeros_like(mask), affine).any()


def test_lesioned_streamlines_fixed_step_tractogram():
    """Equal segment lengths (as a fixed-step tracker writes) sit on the m = ceil(L / step) boundary."""
    from nibabel.streamlines import ArraySequence

    rng = np.random.default_rng(9)
    mask = np.zeros((30, 30, 30), dtype=bool)
    mask[rng.integers(0, 30, 300), rng.integers(0, 30, 300), rng.integers(0, 30, 300)] = True
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    directions = rng.normal(size=(400, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    starts = rng.uniform(10, 50, (400, 3))
    streamlines = ArraySequence([(s + np.arange(12)[:, None] * 1.0 * d).astype(np.float32)
                                 for s, d in zip(starts, directions)])
    for step in (0.5, 0.25):
        np.testing.assert_array_equal(lesioned_streamlines(streamlines, mask, affine, step_voxels=step),
                                      reference_hits(streamlines, mask, affine, step))


def test_disconnection_tables_and_lesioned_connectome():
    mask, affine, streamlines = lesion_case(7, n=2500)
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 9, size=mask.shape)
    # keep the tractogram inside the grid for the endpoint lookup
    result = disconnection(streamlines, labels, affine, mask, max_outside_fraction=1.0)
    assert SAMPLING_STEP_VOXELS == 0  # the default is the exact traversal
    hit = reference_exact_hits(streamlines, mask, affine)
    np.testing.assert_array_equal(result["hit"], hit)
    rows = result["row_labels"]
    spared = [s for s, h in zip(streamlines, hit) if not h]
    lesioned, rows_l = connectome(spared, labels, affine, zero_diagonal=True, max_outside_fraction=1.0)
    intact, _ = connectome(streamlines, labels, affine, zero_diagonal=True, max_outside_fraction=1.0)
    np.testing.assert_array_equal(rows_l, rows)
    np.testing.assert_array_equal(result["lesioned"], lesioned)
    np.testing.assert_array_equal(result["matrix"], intact)
    for edge in result["edges"]:
        a, b = np.searchsorted(rows, [edge["region_a"], edge["region_b"]])
        assert edge["streamlines"] == intact[a, b]
        assert edge["disconnected"] == intact[a, b] - lesioned[a, b]
        assert edge["percent"] == pytest.approx(100 * edge["disconnected"] / edge["streamlines"])
    assert sum(e["disconnected"] for e in result["edges"]) == result["summary"]["disconnected_streamlines"] > 0
    ends = result["end_labels"]
    for region in result["regions"]:
        touches = ((ends == region["region"]).any(axis=0) & (ends > 0).all(axis=0) & (ends[0] != ends[1]))
        assert region["streamlines"] == touches.sum()
        assert region["disconnected"] == (touches & hit).sum()
        assert region["lesion_voxels"] == (mask & (labels == region["region"])).sum()


def test_metric_changes_are_lesioned_minus_intact():
    changes = metric_changes({"a": 2.0, "b": 4, "c": "x"}, {"a": 1.5, "b": 5, "c": "y"})
    assert changes["delta"] == {"a": -0.5, "b": 1.0}
    assert changes["percent_change"]["a"] == pytest.approx(-25.0)
