"""transform_points / transform_normals (+ batched) on every policy against NumPy."""

import numpy as np
import pytest

import polykern as pk
from conftest import CPU_POLICIES


def random_affine(rng, dtype):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    r = q @ np.diag(rng.uniform(0.5, 2.0, 3))
    m = np.zeros((4, 4))
    m[:3, :3], m[:3, 3], m[3, 3] = r, rng.normal(size=3), 1
    return m.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_points_and_normals_match_numpy(policy, dtype):
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(1001, 3)).astype(dtype)
    m = random_affine(rng, dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for M in [m, m[:3]]:
        got = pk.transform_points(pts, M, policy=policy)
        want = pts.astype(np.float64) @ m[:3, :3].T.astype(np.float64) + m[:3, 3]
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, atol=tol * 10, rtol=tol)
    n = pk.transform_normals(pts, m, policy=policy)
    want = pts.astype(np.float64) @ np.linalg.inv(m[:3, :3].astype(np.float64))
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(n, want, atol=tol * 10)
    zero = pk.transform_normals(np.zeros((2, 3), dtype), m, policy=policy)
    assert not zero.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched(policy, dtype):
    rng = np.random.default_rng(4)
    pts = rng.normal(size=(300, 3)).astype(dtype)
    offsets = np.array([0, 100, 100, 250, 300])
    ms = np.stack([random_affine(rng, dtype) for _ in range(4)])
    got = pk.transform_points_batched(pts, offsets, ms[:, :3], policy=policy)
    gotn = pk.transform_normals_batched(pts, offsets, ms, policy=policy)
    for s in range(4):
        a, b = offsets[s], offsets[s + 1]
        assert np.array_equal(got[a:b], pk.transform_points(pts[a:b], ms[s], policy=policy))
        assert np.array_equal(gotn[a:b], pk.transform_normals(pts[a:b], ms[s], policy=policy))


def test_strided_in_place_empty(policy):
    rng = np.random.default_rng(5)
    m = random_affine(rng, np.float32)
    big = rng.normal(size=(200, 4)).astype(np.float32)
    view = big[::2, :3]  # strided rows: used in place
    want = pk.transform_points(np.ascontiguousarray(view), m, policy=policy)
    assert np.array_equal(pk.transform_points(view, m, policy=policy), want)
    pk.transform_points(view, m, out=view, policy=policy)  # in place through the view
    assert np.array_equal(big[::2, :3], want)
    cols = rng.normal(size=(50, 6))[:, ::2]  # strided coordinates: copied first
    assert np.array_equal(pk.transform_points(cols, m.astype(np.float64), policy=policy),
                          pk.transform_points(np.ascontiguousarray(cols), m.astype(np.float64), policy=policy))
    empty = pk.transform_points(np.zeros((0, 3), np.float64), m, policy=policy)
    assert empty.shape == (0, 3)


def test_cpu_policies_bitwise():
    rng = np.random.default_rng(6)
    pts = rng.normal(size=(5000, 3))
    m = random_affine(rng, np.float64)
    ref = pk.transform_normals(pts, m, policy="scalar")
    for p in CPU_POLICIES:
        assert np.array_equal(pk.transform_normals(pts, m, policy=p), ref)


def test_bad_input():
    pts = np.ones((5, 3), np.float32)
    out = np.full((5, 3), 9.0, np.float32)
    m = np.eye(4, dtype=np.float32)
    with pytest.raises(TypeError):
        pk.transform_points(pts.astype(np.int32), m, out=out)
    with pytest.raises(TypeError):
        pk.transform_points(np.ones(3, np.float32), m)
    with pytest.raises(ValueError):
        pk.transform_points(np.ones((5, 4), np.float32), m)
    with pytest.raises(TypeError):
        pk.transform_points(pts, np.eye(3), out=out)
    with pytest.raises(ValueError, match="last row"):
        bad = np.eye(4)
        bad[3, 0] = 1
        pk.transform_points(pts, bad, out=out)
    with pytest.raises(ValueError, match="finite"):
        bad = np.eye(4)
        bad[0, 3] = np.inf
        pk.transform_points(pts, bad, out=out)
    with pytest.raises(ValueError, match="singular"):
        pk.transform_normals(pts, np.zeros((3, 4)), out=out)
    with pytest.raises(TypeError):
        pk.transform_points(pts, m, out=np.zeros((5, 3)))
    with pytest.raises(ValueError):
        pk.transform_points(pts, m, out=np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="segment_offsets"):
        pk.transform_points_batched(pts, [0, 2, 4], np.stack([m, m]), out=out)
    with pytest.raises(ValueError):
        pk.transform_points_batched(pts, [0, -1, 5], np.stack([m, m]), out=out)
    with pytest.raises(ValueError):
        pk.transform_points_batched(pts, [0, 5], np.stack([m, m]), out=out)
    assert (out == 9.0).all()


def test_partial_overlap_rejected():
    buf = np.zeros(40, np.float32)
    a = buf[:30].reshape(10, 3)
    b = buf[3:33].reshape(10, 3)
    with pytest.raises(ValueError, match="overlaps"):
        pk.transform_points(a, np.eye(4, dtype=np.float32), out=b)
