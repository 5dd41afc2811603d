"""Graph measures of an undirected connectome, binary and weighted.

Definitions follow the Brain Connectivity Toolbox (Rubinov & Sporns, NeuroImage 2010;
bctpy) and networkx; the tests check both to 1e-9.

Weight -> length conversion (weighted measures). The matrix is symmetrised check-free
(it must be symmetric), its diagonal is zeroed and it is normalised to ``Wn = W / max(W)``
(weights in [0, 1], as the toolbox requires). The connection length of an edge is
``L = 1 / Wn`` (Rubinov & Sporns 2010); shortest paths use ``scipy.sparse.csgraph``
(Dijkstra). Binary measures use ``A = W > 0`` and hop counts.

- degree: number of neighbours (bct ``degrees_und``); strength: row sum of W in the
  input's units (bct ``strengths_und``); density: edges / (n (n - 1) / 2) (``density_und``).
- clustering: binary = ``clustering_coef_bu`` = ``nx.clustering``; weighted = Onnela et
  al. 2005 on Wn = ``clustering_coef_wu`` = ``nx.clustering(weight=)``.
- characteristic path length: mean of the finite off-diagonal shortest path lengths.
  bct ``charpath`` includes infinite distances by default (lambda = inf for any
  disconnected graph); this equals ``charpath(D, include_infinite=False)``.
- global efficiency: mean over ordered pairs of 1 / d (0 for unreachable pairs) =
  bct ``efficiency_bin`` / ``efficiency_wei(Wn)``; binary = ``nx.global_efficiency``.
- local efficiency: binary = bct ``efficiency_bin(local=True)`` (its mean is
  ``nx.local_efficiency``); weighted = Wang et al., Brain Connect 2016, as bct
  ``efficiency_wei(Wn, local=True)``: sum over neighbour pairs of
  (w_ij w_ih)^(1/3) / d_jh with d on the neighbour subgraph with lengths (1/Wn)^(1/3),
  divided by k (k - 1).
- betweenness: networkx unnormalised betweenness (unordered pairs; lengths 1/Wn for
  weighted). bct ``betweenness_bin`` / ``betweenness_wei`` count ordered pairs and are
  exactly twice these values.
- modularity: Louvain (Blondel et al. 2008, ``nx.community.louvain_communities``, fixed
  seed) on Wn, Q by ``nx.community.modularity``; participation coefficient (Guimera &
  Amaral 2005) = 1 - sum_m (s_im / s_i)^2 with strengths, as bct ``participation_coef``.
"""

from __future__ import annotations

import numpy as np

from ..defaults.networks import LOUVAIN_RESOLUTION, LOUVAIN_SEED
from ..errors import InputError


def prepare(matrix, source: str = "connectome"):
    """Return the float64 matrix with zero diagonal; refuse non-square, negative, NaN or asymmetric input."""
    W = np.array(matrix, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise InputError(source, f"must be a square matrix, got shape {W.shape}")
    if not np.isfinite(W).all():
        raise InputError(source, "contains NaN or infinite weights")
    if (W < 0).any():
        raise InputError(source, "contains negative weights")
    if not np.allclose(W, W.T, rtol=0, atol=1e-12 * max(W.max(initial=0.0), 1.0)):
        raise InputError(source, "is not symmetric; build it with symmetric=True")
    np.fill_diagonal(W, 0.0)
    return W


def normalised(W, scale=None):
    """``W / scale`` with ``scale = max(W)`` by default (unchanged if W is empty).

    Give the intact network's maximum as ``scale`` to compare a lesioned network on the
    same length scale.
    """
    top = W.max(initial=0.0) if scale is None else float(scale)
    return W / top if top > 0 else W.copy()


def lengths(W, scale=None):
    """Connection lengths ``1 / Wn`` on edges, 0 (= no edge for csgraph) elsewhere."""
    Wn = normalised(W, scale)
    L = np.zeros_like(Wn)
    edge = Wn > 0
    L[edge] = 1.0 / Wn[edge]
    return L


def distances(W, weighted: bool = True, scale=None):
    """All-pairs shortest path lengths (inf if unreachable); weighted uses ``1 / Wn``, binary hops."""
    from scipy.sparse.csgraph import shortest_path

    if weighted:
        return shortest_path(lengths(W, scale), method="D", directed=False)
    return shortest_path((W > 0).astype(float), method="D", directed=False, unweighted=True)


def degree(W):
    return (W > 0).sum(axis=1).astype(np.int64)


def strength(W):
    return W.sum(axis=1)


def density(W):
    n = len(W)
    return float(np.count_nonzero(np.triu(W, 1)) / (n * (n - 1) / 2)) if n > 1 else 0.0


def clustering(W, weighted: bool = True, scale=None):
    """Clustering coefficient of every node (Onnela et al. 2005 on Wn when weighted)."""
    A = (W > 0).astype(float)
    X = np.cbrt(normalised(W, scale)) if weighted else A
    k = A.sum(axis=1)
    cycles = np.einsum("ij,jk,ki->i", X, X, X)
    out = np.zeros(len(W))
    ok = k > 1
    out[ok] = cycles[ok] / (k[ok] * (k[ok] - 1))
    return out


def characteristic_path_length(D):
    """Mean finite off-diagonal distance (NaN if no pair is connected)."""
    off = ~np.eye(len(D), dtype=bool)
    values = D[off]
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def global_efficiency(D):
    """Mean over ordered pairs of 1 / d, unreachable pairs counting 0."""
    n = len(D)
    if n < 2:
        return 0.0
    off = ~np.eye(n, dtype=bool)
    with np.errstate(divide="ignore"):
        inv = 1.0 / D[off]
    return float(inv.sum() / (n * n - n))


def local_efficiency(W, weighted: bool = True, scale=None):
    """Local efficiency of every node (binary: bct efficiency_bin local; weighted: Wang et al. 2016).

    The neighbour subgraphs of all nodes are laid out as one block-diagonal graph, so one
    shortest-path call serves every node.
    """
    from scipy.sparse import block_diag
    from scipy.sparse.csgraph import shortest_path

    n = len(W)
    out = np.zeros(n)
    A = W > 0
    if weighted:
        Wn = normalised(W, scale)
        lengths_all = np.zeros_like(Wn)
        lengths_all[A] = np.cbrt(1.0 / Wn[A])
        cube_weights = np.cbrt(Wn)
    else:
        lengths_all = A.astype(float)
    nodes = [u for u in range(n) if np.count_nonzero(A[u]) >= 2]
    if not nodes:
        return out
    neighbours = [np.flatnonzero(A[u]) for u in nodes]
    graph = block_diag([lengths_all[np.ix_(V, V)] for V in neighbours], format="csr")
    graph.eliminate_zeros()  # a dense block's zeros are "no edge", not edges of length 0
    d = shortest_path(graph, method="D", directed=False, unweighted=not weighted)
    start = 0
    for u, V in zip(nodes, neighbours):  # per node (graph size), not per streamline
        k = len(V)
        block = d[start:start + k, start:start + k].copy()
        start += k
        np.fill_diagonal(block, np.inf)
        with np.errstate(divide="ignore"):
            e = 1.0 / block
        if weighted:
            s_u = cube_weights[u, V]
            out[u] = float(s_u @ e @ s_u) / (k * (k - 1))
        else:
            out[u] = float(e.sum()) / (k * (k - 1))
    return out


def to_networkx(W, scale=None):
    """networkx Graph with edge attributes ``weight`` (Wn) and ``length`` (1 / Wn)."""
    import networkx as nx

    Wn = normalised(W, scale)
    G = nx.Graph()
    G.add_nodes_from(range(len(W)))
    i, j = np.nonzero(np.triu(Wn, 1))
    G.add_edges_from((int(a), int(b), {"weight": float(Wn[a, b]), "length": float(1.0 / Wn[a, b])})
                     for a, b in zip(i, j))
    return G


def betweenness(W, weighted: bool = True, graph=None):
    """Unnormalised betweenness over unordered pairs (networkx); bct's values are 2x these."""
    import networkx as nx

    G = to_networkx(W) if graph is None else graph
    values = nx.betweenness_centrality(G, weight="length" if weighted else None, normalized=False)
    return np.array([values[i] for i in range(len(W))])


def louvain(W, resolution: float = LOUVAIN_RESOLUTION, seed: int = LOUVAIN_SEED, graph=None):
    """Louvain communities on Wn: ``(module per node 1..M, modularity Q)``."""
    import networkx as nx

    n = len(W)
    if n == 0 or not (W > 0).any():
        return np.arange(1, n + 1), 0.0
    G = to_networkx(W) if graph is None else graph
    communities = nx.community.louvain_communities(G, weight="weight", resolution=resolution, seed=seed)
    communities = sorted((sorted(c) for c in communities), key=lambda c: c[0])
    modules = np.zeros(n, dtype=np.int64)
    for index, members in enumerate(communities, start=1):
        modules[members] = index
    q = nx.community.modularity(G, [set(c) for c in communities], weight="weight", resolution=resolution)
    return modules, float(q)


def modularity(W, modules, resolution: float = LOUVAIN_RESOLUTION):
    """Newman modularity Q of a partition (``modules`` per node) on Wn (scale-free)."""
    import networkx as nx

    if not (W > 0).any():
        return 0.0
    modules = np.asarray(modules)
    parts = [set(np.flatnonzero(modules == m).tolist()) for m in np.unique(modules)]
    return float(nx.community.modularity(to_networkx(W), parts, weight="weight", resolution=resolution))


def participation(W, modules):
    """Participation coefficient 1 - sum_m (s_im / s_i)^2 (0 for isolated nodes)."""
    modules = np.asarray(modules)
    _, index = np.unique(modules, return_inverse=True)
    per_module = np.zeros((len(W), index.max() + 1 if len(index) else 0))
    np.add.at(per_module.T, index, W.T)
    s = W.sum(axis=1)
    out = np.zeros(len(W))
    ok = s > 0
    out[ok] = 1.0 - ((per_module[ok] / s[ok, None]) ** 2).sum(axis=1)
    return out


def nodal_metrics(W, scale=None):
    """Dict of per-node arrays: degree, strength and binary/weighted measures, module, participation.

    ``scale`` replaces max(W) in the normalisation (see :func:`normalised`).
    """
    G = to_networkx(W, scale)
    modules, _ = louvain(W, graph=G)
    return {
        "degree": degree(W),
        "strength": strength(W),
        "clustering_binary": clustering(W, weighted=False),
        "clustering_weighted": clustering(W, weighted=True, scale=scale),
        "local_efficiency_binary": local_efficiency(W, weighted=False),
        "local_efficiency_weighted": local_efficiency(W, weighted=True, scale=scale),
        "betweenness_binary": betweenness(W, weighted=False, graph=G),
        "betweenness_weighted": betweenness(W, weighted=True, graph=G),
        "module": modules,
        "participation": participation(W, modules),
    }


def global_metrics(W, nodal=None, scale=None):
    """Dict of whole-network measures (see the module docstring for definitions)."""
    n = len(W)
    nodal = nodal_metrics(W, scale) if nodal is None else nodal
    Db, Dw = distances(W, weighted=False), distances(W, weighted=True, scale=scale)
    q = modularity(W, nodal["module"])
    return {
        "nodes": int(n),
        "edges": int(np.count_nonzero(np.triu(W, 1))),
        "total_weight": float(np.triu(W, 1).sum()),
        "density": density(W),
        "mean_degree": float(nodal["degree"].mean()) if n else 0.0,
        "mean_strength": float(nodal["strength"].mean()) if n else 0.0,
        "clustering_binary": float(nodal["clustering_binary"].mean()) if n else 0.0,
        "clustering_weighted": float(nodal["clustering_weighted"].mean()) if n else 0.0,
        "characteristic_path_length_binary": characteristic_path_length(Db),
        "characteristic_path_length_weighted": characteristic_path_length(Dw),
        "global_efficiency_binary": global_efficiency(Db),
        "global_efficiency_weighted": global_efficiency(Dw),
        "local_efficiency_binary": float(nodal["local_efficiency_binary"].mean()) if n else 0.0,
        "local_efficiency_weighted": float(nodal["local_efficiency_weighted"].mean()) if n else 0.0,
        "modularity": q,
        "modules": int(len(np.unique(nodal["module"]))) if n else 0,
        "connected_components": _components(W),
    }


def _components(W):
    from scipy.sparse.csgraph import connected_components

    return int(connected_components(W > 0, directed=False)[0]) if len(W) else 0


def analyse(matrix, row_labels, source: str = "connectome", scale=None):
    """Return ``(node rows, global dict)`` for a connectome with the given row labels."""
    W = prepare(matrix, source)
    nodal = nodal_metrics(W, scale)
    rows = [{"label": int(label), **{key: (int(v[i]) if v.dtype.kind in "iu" else float(v[i]))
                                       for key, v in nodal.items()}}
            for i, label in enumerate(row_labels)]
    return rows, global_metrics(W, nodal, scale)
