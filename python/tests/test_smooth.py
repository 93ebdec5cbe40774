"""KDTree, NeighborGraph, gaussian_smooth and smooth_neighbors on every policy against
scipy.spatial.cKDTree and a NumPy reference."""

import numpy as np
import pytest
import scipy.sparse
from scipy.spatial import cKDTree

import polykern as pk
from conftest import CPU_POLICIES


def cloud(n, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, 3)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_radius_neighbors_match_ckdtree(policy, dtype):
    pts = cloud(2000, dtype)
    queries = cloud(300, dtype, seed=2)
    tree = pk.KDTree(pts, policy=policy)
    assert tree.size == 2000 and len(tree) == 2000
    r = 0.08
    g = tree.radius_neighbors(queries, r, policy=policy)
    assert g.offsets.dtype == np.uint64 and g.indices.dtype == np.uint32 and g.dist2.dtype == dtype
    assert len(g.offsets) == 301
    want = cKDTree(pts.astype(np.float64)).query_ball_point(queries.astype(np.float64), r)
    for i, w in enumerate(want):
        row = g.indices[g.offsets[i]:g.offsets[i + 1]]
        d2 = g.dist2[g.offsets[i]:g.offsets[i + 1]]
        exact = ((pts[row].astype(np.float64) - queries[i].astype(np.float64)) ** 2).sum(axis=1)
        np.testing.assert_allclose(d2, exact, rtol=1e-5, atol=1e-7)
        # the same set, except points within rounding of the radius
        diff = set(w) ^ set(row.tolist())
        for j in diff:
            assert abs(np.sqrt(((pts[j] - queries[i]).astype(np.float64) ** 2).sum()) - r) < 1e-5
        assert np.all(np.diff(d2) >= 0)  # sorted by distance
    capped = tree.radius_neighbors(queries, r, max_neighbors=3, policy=policy)
    for i in range(300):
        full = g.indices[g.offsets[i]:g.offsets[i + 1]]
        assert np.array_equal(capped.indices[capped.offsets[i]:capped.offsets[i + 1]], full[:3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_knn_match_ckdtree(policy, dtype):
    pts = cloud(1500, dtype)
    queries = cloud(200, dtype, seed=3)
    g = pk.KDTree(pts, leaf_size=8, policy=policy).knn_neighbors(queries, 5, policy=policy)
    dist, idx = cKDTree(pts.astype(np.float64)).query(queries.astype(np.float64), 5)
    assert np.array_equal(g.offsets, np.arange(0, 1001, 5))
    np.testing.assert_allclose(np.sqrt(g.dist2.reshape(200, 5)), dist, rtol=1e-5)
    assert np.array_equal(g.indices.reshape(200, 5), idx)


def test_to_scipy(policy):
    pts = cloud(100, np.float32)
    g = pk.KDTree(pts).radius_neighbors(pts[:10], 0.3, policy=policy)
    m = g.to_scipy()
    assert scipy.sparse.isspmatrix_csr(m) and m.shape == (10, 100)
    assert m.nnz == len(g.indices)
    assert np.array_equal(m.indptr, g.offsets.astype(m.indptr.dtype))


def reference_smooth(pts, values, radius, sigma, iterations):
    tree = cKDTree(pts.astype(np.float64))
    v = values.astype(np.float64)
    rows = tree.query_ball_point(pts.astype(np.float64), radius)
    for _ in range(iterations):
        nxt = np.empty_like(v)
        for i, nb in enumerate(rows):
            d2 = ((pts[nb].astype(np.float64) - pts[i]) ** 2).sum(axis=1)
            w = np.exp(-d2 / (2 * sigma * sigma))
            nxt[i] = (w[:, None] * v[nb]).sum(axis=0) / w.sum()
        v = nxt
    return v


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_smoothing_matches_reference(policy, dtype):
    pts = cloud(600, dtype)
    rng = np.random.default_rng(7)
    values = rng.random((600, 4)).astype(dtype)
    want = reference_smooth(pts, values, 0.12, 0.05, 3)
    got = pk.smooth_neighbors(pts, values, 0.12, 0.05, iterations=3, policy=policy)
    assert got.dtype == dtype and got.shape == values.shape
    np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-9, atol=1e-5)
    g = pk.KDTree(pts).radius_neighbors(pts, 0.12)
    via_graph = pk.gaussian_smooth(g, values, 0.05, iterations=3, policy=policy)
    np.testing.assert_allclose(via_graph, got, rtol=1e-5 if dtype == np.float32 else 1e-12)
    one_column = pk.smooth_neighbors(pts, values[:, 2], 0.12, 0.05, iterations=3, policy=policy)
    assert one_column.shape == (600,)
    np.testing.assert_allclose(one_column, got[:, 2], rtol=1e-5, atol=1e-6)


def test_cpu_policies_bitwise_and_thread_independent():
    pts = cloud(3000, np.float32)
    values = np.random.default_rng(8).random((3000, 3)).astype(np.float32)
    ref = pk.smooth_neighbors(pts, values, 0.06, 0.03, iterations=2, policy="scalar")
    for p in CPU_POLICIES:
        for threads in [1, 2]:
            assert np.array_equal(pk.smooth_neighbors(pts, values, 0.06, 0.03, 2, policy=p, threads=threads), ref)


def test_strided_out_in_place_empty(policy):
    big = cloud(400, np.float64).repeat(2, axis=1)  # 400 x 6
    pts = big[:, ::2]                                # strided coordinates: copied first
    vals_big = np.random.default_rng(9).random((800, 2))
    vals = vals_big[::2]                             # strided rows: used in place
    want = pk.smooth_neighbors(np.ascontiguousarray(pts), np.ascontiguousarray(vals), 0.2, 0.1, policy=policy)
    assert np.array_equal(pk.smooth_neighbors(pts, vals, 0.2, 0.1, policy=policy), want)
    out = np.zeros((400, 2))
    assert pk.smooth_neighbors(pts, vals, 0.2, 0.1, out=out, policy=policy) is out
    assert np.array_equal(out, want)
    g = pk.KDTree(np.ascontiguousarray(pts)).radius_neighbors(np.ascontiguousarray(pts), 0.2)
    inplace = vals.copy()
    pk.gaussian_smooth(g, inplace, 0.1, out=inplace, policy=policy)
    assert np.array_equal(inplace, pk.gaussian_smooth(g, vals, 0.1, policy=policy))
    empty = pk.KDTree(np.zeros((0, 3), np.float32), policy=policy)
    assert empty.size == 0
    eg = empty.radius_neighbors(np.zeros((0, 3), np.float32), 1.0, policy=policy)
    assert list(eg.offsets) == [0] and len(eg.indices) == 0
    eg = empty.radius_neighbors(np.zeros((2, 3), np.float32), 1.0, policy=policy)
    assert list(eg.offsets) == [0, 0, 0]
    e = pk.smooth_neighbors(np.zeros((0, 3), np.float32), np.zeros((0, 2), np.float32), 1.0, 1.0, policy=policy)
    assert e.shape == (0, 2)


def test_bad_input():
    pts = cloud(20, np.float32)
    vals = np.ones((20, 2), np.float32)
    out = np.full((20, 2), 3.0, np.float32)
    tree = pk.KDTree(pts)
    bad_pts = pts.copy()
    bad_pts[3, 1] = np.nan
    cases = [
        (TypeError, lambda: pk.KDTree(pts.astype(np.int32))),
        (TypeError, lambda: pk.KDTree(pts[0])),
        (ValueError, lambda: pk.KDTree(np.ones((4, 2), np.float32))),
        (ValueError, lambda: pk.KDTree(bad_pts)),
        (ValueError, lambda: pk.KDTree(pts, leaf_size=0)),
        (ValueError, lambda: tree.radius_neighbors(pts, -1.0)),
        (ValueError, lambda: tree.radius_neighbors(pts, float("nan"))),
        (ValueError, lambda: tree.radius_neighbors(bad_pts, 1.0)),
        (TypeError, lambda: tree.radius_neighbors(pts.astype(np.float64), 1.0)),
        (ValueError, lambda: tree.knn_neighbors(pts, 0)),
        (ValueError, lambda: pk.smooth_neighbors(pts, vals, 0.1, 0.0, out=out)),
        (ValueError, lambda: pk.smooth_neighbors(pts, vals, -0.1, 1.0, out=out)),
        (ValueError, lambda: pk.smooth_neighbors(pts, vals[:10], 0.1, 1.0)),
        (ValueError, lambda: pk.smooth_neighbors(bad_pts, vals, 0.1, 1.0, out=out)),
        (TypeError, lambda: pk.smooth_neighbors(pts, vals.astype(np.float64), 0.1, 1.0)),
        (TypeError, lambda: pk.smooth_neighbors(pts, vals, 0.1, 1.0, out=np.zeros((20, 2)))),
        (ValueError, lambda: pk.smooth_neighbors(pts, vals, 0.1, 1.0, out=np.zeros((20, 3), np.float32))),
        (ValueError, lambda: pk.gaussian_smooth(tree.radius_neighbors(pts[:5], 0.1), vals, 1.0, out=out)),
        (ValueError, lambda: pk.gaussian_smooth(tree.radius_neighbors(pts, 0.1), vals, -1.0, out=out)),
        (ValueError, lambda: pk.smooth_neighbors(pts, vals, 0.1, 1.0, policy="gpu", out=out)),
    ]
    for error, call in cases:
        with pytest.raises(error):
            call()
        assert (out == 3.0).all()
    with pytest.raises(ValueError, match=r"radius_neighbors: radius is -1"):
        tree.radius_neighbors(pts, -1.0)
