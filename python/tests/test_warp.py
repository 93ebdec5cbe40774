"""warp_affine, resize and compose on every policy against cv2, and bitwise across CPU
policies (docs/warp.md: scalar = simd = openmp bit for bit)."""

import cv2
import numpy as np
import pytest

import polykern as pk
from conftest import BORDERS, CPU_POLICIES, CV_BORDER, random_image, smooth_image

INTER = {"bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST, "area": cv2.INTER_AREA}


def rotation(deg, scale, cx, cy, tx, ty):
    a = np.deg2rad(deg)
    c, s = scale * np.cos(a), scale * np.sin(a)
    return np.array([[c, -s, cx - c * cx + s * cy + tx], [s, c, cy - s * cx - c * cy + ty]])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("border", BORDERS)
def test_warp_affine_matches_cv2(policy, dtype, border):
    src = smooth_image(64, 96, 3, dtype)
    M = rotation(13, 1.15, 48, 32, 3.3, -2.1)
    value = 200.0 if dtype == np.uint8 else 0.8
    got = pk.warp_affine(src, M, (101, 70), border=border, value=value, policy=policy)
    want = cv2.warpAffine(src, M, (101, 70), flags=cv2.INTER_LINEAR, borderMode=CV_BORDER[border],
                          borderValue=(value,) * 3)
    assert got.shape == (70, 101, 3) and got.dtype == dtype
    inv = cv2.invertAffineTransform(M)
    y, x = np.mgrid[0:70, 0:101]
    sx = inv[0, 0] * x + inv[0, 1] * y + inv[0, 2]
    sy = inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]
    inner = (sx >= 0) & (sx < 95) & (sy >= 0) & (sy < 63)
    d = np.abs(got.astype(np.float64) - want.astype(np.float64)).max(axis=-1)
    assert d[inner].max() <= (1 if dtype == np.uint8 else 3e-3)
    assert d.max() <= (8 if dtype == np.uint8 else 0.04)


def test_warp_affine_integer_translation_is_exact(policy):
    src = random_image((20, 30), np.float32)
    M = np.array([[1, 0, 2], [0, 1, -3]], np.float64)
    got = pk.warp_affine(src, M, (30, 20), policy=policy, interpolation="nearest")
    assert np.array_equal(got[:17, 2:], src[3:, :28])
    got = pk.warp_affine(src, M, (30, 20), policy=policy)
    assert np.array_equal(got[:17, 2:], src[3:, :28])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("interp,size", [("bilinear", (150, 97)), ("nearest", (150, 97)), ("area", (23, 17)),
                                         ("bilinear", (40, 30))])
def test_resize_matches_cv2(policy, dtype, interp, size):
    src = smooth_image(64, 80, 4, dtype)
    got = pk.resize(src, size, interpolation=interp, policy=policy)
    want = cv2.resize(src, size, interpolation=INTER[interp])
    assert got.shape == (size[1], size[0], 4)
    d = np.abs(got.astype(np.float64) - want.astype(np.float64))
    if interp == "nearest":
        assert d.max() == 0
    else:
        assert d.max() <= (1 if dtype == np.uint8 else 1e-4)


def test_compose_draws_tiles_in_place(policy):
    canvas = np.zeros((60, 80, 3), np.uint8)
    t1 = smooth_image(20, 30, 3, np.uint8, seed=1)
    t2 = smooth_image(10, 10, 3, np.uint8, seed=2)
    m1 = np.array([[1, 0, 5], [0, 1, 7]], np.float64)
    m2 = np.array([[2, 0, 40], [0, 2, 30]], np.float64)
    r = pk.compose([(t1, m1), (t2, m2)], canvas, policy=policy)
    assert r is canvas
    assert np.array_equal(canvas[7:27, 5:35], t1)  # integer translation: exact
    want2 = cv2.warpAffine(t2, m2, (80, 60), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT,
                           dst=np.zeros_like(canvas))
    written = want2.any(axis=-1)  # cv2 writes where the whole 2x2 footprint is inside the tile
    assert written.sum() > 300
    assert np.abs(canvas[written].astype(int) - want2[written].astype(int)).max() <= 1
    assert not canvas[:7].any() and not canvas[:, :5].any()  # outside every tile: untouched
    assert pk.compose([], canvas, policy=policy) is canvas


def test_cpu_policies_bitwise():
    src = smooth_image(70, 90, 3, np.float32)
    M = rotation(21, 0.8, 40, 30, 1.1, 2.2)
    ref = pk.warp_affine(src, M, (77, 66), border="reflect", policy="scalar")
    ref_r = pk.resize(src, (33, 29), interpolation="area", policy="scalar")
    for p in CPU_POLICIES:
        for threads in [1, 2]:
            assert np.array_equal(pk.warp_affine(src, M, (77, 66), border="reflect", policy=p, threads=threads), ref)
            assert np.array_equal(pk.resize(src, (33, 29), interpolation="area", policy=p, threads=threads), ref_r)


def test_strided_inputs_out_and_one_pixel(policy):
    base = smooth_image(50, 60, 4, np.float32)
    v = base[::2, :, :]
    assert np.array_equal(pk.resize(v, (30, 20), policy=policy), pk.resize(np.ascontiguousarray(v), (30, 20), policy=policy))
    c = base[:, ::3, 1]
    assert np.array_equal(pk.resize(c, (10, 10), policy=policy), pk.resize(np.ascontiguousarray(c), (10, 10), policy=policy))
    out = np.zeros((20, 30, 4), np.float32)
    assert pk.resize(base, out=out, policy=policy) is out
    assert np.array_equal(out, pk.resize(base, (30, 20), policy=policy))
    one = np.full((1, 1), 77, np.uint8)
    assert (pk.resize(one, (5, 4), policy=policy) == 77).all()
    assert pk.warp_affine(one, np.eye(2, 3), (1, 1), policy=policy)[0, 0] == 77


def test_bad_input():
    src = smooth_image(10, 10, 3, np.float32)
    out = np.full((10, 10, 3), 5.0, np.float32)
    with pytest.raises(ValueError, match="warp_affine.*not invertible"):
        pk.warp_affine(src, np.zeros((2, 3)), (10, 10), out=out)
    with pytest.raises(ValueError, match="non-finite"):
        pk.warp_affine(src, [[1, 0, np.nan], [0, 1, 0]], (10, 10), out=out)
    with pytest.raises(TypeError):
        pk.warp_affine(src, np.eye(3), (10, 10), out=out)
    with pytest.raises(ValueError, match="interpolation"):
        pk.warp_affine(src, np.eye(2, 3), (10, 10), interpolation="cubic", out=out)
    with pytest.raises(ValueError, match="area"):
        pk.warp_affine(src, np.eye(2, 3), (10, 10), interpolation="area", out=out)
    with pytest.raises(ValueError, match="shape"):
        pk.resize(src, out=np.zeros((10, 10, 4), np.float32))
    with pytest.raises(ValueError, match="empty"):
        pk.resize(src, (0, 5))
    with pytest.raises(TypeError):
        pk.resize(src.astype(np.float64), (5, 5))
    with pytest.raises(ValueError, match="overlap"):
        pk.warp_affine(src, np.eye(2, 3), out=src)
    with pytest.raises(TypeError):
        pk.compose([(src.astype(np.uint8), np.eye(2, 3))], out)
    with pytest.raises(ValueError):
        pk.compose([(src, np.eye(2, 3))], out[:, ::2])
    assert (out == 5.0).all()
