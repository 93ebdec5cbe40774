"""Convolution on every policy against cv2 and scipy.ndimage, and bit for bit where the C++
library promises it (docs/convolve.md)."""

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi

import polykern as pk
from conftest import (BORDERS, CPU_POLICIES, CV_BORDER, SCIPY_MODE, random_image, tolerance)


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("ksize", [(3, 3), (5, 4), (1, 7), (9, 9)])
def test_correlate_matches_filter2d_and_scipy(policy, border, ksize):
    img = random_image((23, 31), np.float32)
    k = random_image(ksize, np.float32, seed=5) - 0.5
    got = pk.correlate(img, k, border=border, value=0.25, policy=policy)
    if border not in ("constant", "wrap"):  # cv2.filter2D: no BORDER_WRAP, and its constant is 0
        want = cv2.filter2D(img, -1, k, borderType=CV_BORDER[border])
        np.testing.assert_allclose(got, want, atol=tolerance(policy, 1e-5))
    want = ndi.correlate(img.astype(np.float64), k.astype(np.float64), mode=SCIPY_MODE[border], cval=0.25)
    np.testing.assert_allclose(got, want, atol=tolerance(policy, 2e-5))


@pytest.mark.parametrize("border", BORDERS)
def test_convolve_matches_scipy(policy, border):
    img = random_image((17, 20, 3), np.float32)
    for shape in [(3, 3), (4, 6)]:
        k = random_image(shape, np.float32, seed=7) - 0.5
        got = pk.convolve(img, k, border=border, value=-1.0, policy=policy)
        want = ndi.convolve(img.astype(np.float64), k.astype(np.float64)[:, :, None], mode=SCIPY_MODE[border],
                            cval=-1.0)
        np.testing.assert_allclose(got, want, atol=tolerance(policy, 2e-5))


@pytest.mark.parametrize("method", ["direct", "low_rank", "fft"])
def test_methods_agree(policy, method):
    img = random_image((40, 50), np.float32)
    k = random_image((7, 7), np.float32, seed=3)
    ref = ndi.correlate(img.astype(np.float64), k.astype(np.float64), mode="reflect")
    got = pk.correlate(img, k, method=method, policy=policy)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("channels", [None, 1, 3, 4])
def test_gaussian_blur_matches_cv2(policy, dtype, channels):
    shape = (37, 45) if channels is None else (37, 45, channels)
    img = random_image(shape, dtype)
    for sigma, ksize in [(1.5, 0), (3.0, 0), (0.0, 7), (2.0, 11)]:
        got = pk.gaussian_blur(img, sigma, 0.0, ksize, policy=policy)
        want = cv2.GaussianBlur(img, (ksize, ksize), sigma, borderType=cv2.BORDER_REFLECT).reshape(img.shape)
        assert got.shape == img.shape and got.dtype == img.dtype
        if dtype == np.uint8:  # OpenCV's uint8 path is fixed-point: within 1
            assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
        else:
            np.testing.assert_allclose(got, want, atol=tolerance(policy, 1e-5))


def test_gaussian_blur_anisotropic_and_borders(policy):
    img = random_image((30, 26, 2), np.float32)
    for border in ["reflect", "reflect101", "replicate", "constant"]:
        got = pk.gaussian_blur(img, 2.0, 0.7, border=border, policy=policy)
        want = cv2.GaussianBlur(img, (0, 0), 2.0, sigmaY=0.7, borderType=CV_BORDER[border])
        np.testing.assert_allclose(got, want, atol=tolerance(policy, 1e-5))


def test_separable_matches_sepfilter2d(policy):
    img = random_image((29, 33, 3), np.float32)
    kx = np.array([0.1, -0.3, 0.6, 0.2, 0.05], np.float32)
    ky = np.array([0.25, 0.5, 0.25], np.float32)
    for border in ["reflect", "reflect101", "replicate"]:
        got = pk.separable_correlate(img, kx, ky, border=border, policy=policy)
        want = cv2.sepFilter2D(img, -1, kx, ky, borderType=CV_BORDER[border])
        np.testing.assert_allclose(got, want, atol=tolerance(policy, 1e-5))
    u8 = random_image((20, 21), np.uint8)
    got = pk.separable_correlate(u8, kx.reshape(1, -1), ky.reshape(-1, 1), policy=policy)
    want = ndi.correlate(u8.astype(np.float64), np.outer(ky, kx), mode="reflect")
    assert np.abs(got.astype(float) - np.clip(np.rint(want), 0, 255)).max() <= 1


def test_gaussian_equals_separable_with_its_taps_bitwise(policy):
    img = random_image((41, 39, 3), np.float32)
    taps = pk.gaussian_kernel(13, 2.5)
    np.testing.assert_allclose(taps, cv2.getGaussianKernel(13, 2.5, ktype=cv2.CV_32F).ravel(), rtol=1e-6)
    a = pk.gaussian_blur(img, 2.5, ksize=13, policy=policy)
    b = pk.separable_correlate(img, taps, taps, policy=policy)
    assert np.array_equal(a, b)


def test_cpu_policies_bitwise_where_promised():
    """openmp runs the simd engine over fixed chunks: bitwise the same for any thread
    count, and equal to simd (docs/convolve.md)."""
    img = random_image((300, 257, 3), np.float32)
    k = random_image((5, 5), np.float32, seed=9)
    ref = pk.gaussian_blur(img, 4.0, policy="simd")
    ref_k = pk.correlate(img, k, method="direct", policy="simd")
    for threads in [1, 2, 3]:
        if "openmp" in CPU_POLICIES:
            assert np.array_equal(pk.gaussian_blur(img, 4.0, policy="openmp", threads=threads), ref)
            assert np.array_equal(pk.correlate(img, k, method="direct", policy="openmp", threads=threads), ref_k)
    # and identical between runs
    assert np.array_equal(pk.gaussian_blur(img, 4.0, policy="scalar"), pk.gaussian_blur(img, 4.0, policy="scalar"))


def test_strided_views_are_used_in_place_and_equal_copies(policy):
    base = random_image((60, 80, 4), np.float32)
    views = {
        "rows": base[::2],               # strided rows: no copy
        "crop": base[5:40, 7:50],        # a crop: no copy
        "columns": base[:, ::2],         # strided pixels: copied first
        "channel": base[:, :, 1],        # a channel view: copied first
        "channels": base[:, :, :3],      # 3 of 4 channels: copied first
        "transposed": base[:, :, 0].T,   # column-major: copied first
    }
    k = random_image((3, 5), np.float32, seed=4)
    for name, v in views.items():
        want = pk.correlate(np.ascontiguousarray(v), k, policy=policy)
        assert np.array_equal(pk.correlate(v, k, policy=policy), want), name


def test_out_and_in_place(policy):
    img = random_image((25, 30, 3), np.uint8)
    want = pk.gaussian_blur(img, 1.2, policy=policy)
    out = np.zeros_like(img)
    r = pk.gaussian_blur(img, 1.2, out=out, policy=policy)
    assert r is out and np.array_equal(out, want)
    # out= as a strided view into a bigger array
    big = np.zeros((50, 30, 3), np.uint8)
    pk.gaussian_blur(img, 1.2, out=big[::2], policy=policy)
    assert np.array_equal(big[::2], want) and not big[1::2].any()
    # in place
    work = img.copy()
    pk.gaussian_blur(work, 1.2, out=work, policy=policy)
    assert np.array_equal(work, want)


def test_one_pixel_images_and_kernels_wider_than_the_image(policy):
    for dtype in [np.uint8, np.float32]:
        one = np.full((1, 1), 100, dtype)
        assert pk.gaussian_blur(one, 30.0, policy=policy)[0, 0] == pytest.approx(100, abs=1e-3)
        img = random_image((3, 2), dtype)
        got = pk.correlate(img, np.ones((201, 201), np.float32) / 201 ** 2, border="reflect101", policy=policy)
        want = ndi.correlate(img.astype(np.float64), np.ones((201, 201)) / 201 ** 2, mode="mirror")
        tol = 1 if dtype == np.uint8 else 1e-4
        assert np.abs(got.astype(np.float64) - want).max() <= tol


def test_correlate_batch_list_and_array(policy):
    imgs = [random_image((20 + i, 25, 3), np.float32, seed=i) for i in range(3)]
    k = random_image((3, 3), np.float32, seed=11)
    outs = pk.correlate_batch(imgs, k, border="replicate", policy=policy)
    assert isinstance(outs, list) and len(outs) == 3
    for img, o in zip(imgs, outs):
        assert np.array_equal(o, pk.correlate(img, k, border="replicate", policy=policy))
    stack = random_image((4, 16, 18), np.uint8)
    res = pk.correlate_batch(stack, k, policy=policy)
    assert res.shape == stack.shape and res.dtype == np.uint8
    for i in range(4):
        assert np.array_equal(res[i], pk.correlate(stack[i], k, policy=policy))
    out = np.empty_like(stack)
    assert pk.correlate_batch(stack, k, out=out, policy=policy) is out
    assert np.array_equal(out, res)
    assert pk.correlate_batch([], k, policy=policy) == []


@pytest.mark.parametrize("call", ["correlate", "gaussian_blur", "separable"])
def test_bad_input_raises_and_leaves_out_untouched(call):
    img = random_image((10, 12), np.float32)
    k = np.ones((3, 3), np.float32)

    def run(x=img, **kw):
        if call == "correlate":
            return pk.correlate(x, kw.pop("kernel", k), **kw)
        if call == "gaussian_blur":
            return pk.gaussian_blur(x, kw.pop("sigma", 1.0), **kw)
        return pk.separable_correlate(x, kw.pop("kernel", [1.0]), [1.0, 2.0], **kw)

    out = np.full_like(img, 7.0)
    cases = [
        (TypeError, dict(x=img.astype(np.float64))),          # dtype
        (TypeError, dict(x=img.astype(np.int16))),
        (TypeError, dict(x=img[0])),                          # rank 1
        (TypeError, dict(x=np.zeros((2, 3, 4, 5), np.float32))),
        (ValueError, dict(x=np.zeros((4, 4, 5), np.float32))),   # 5 channels
        (ValueError, dict(x=np.zeros((0, 4), np.float32))),      # empty
        (ValueError, dict(border="bogus")),
        (ValueError, dict(policy="cuda")),
        (ValueError, dict(threads=-1)),
        (ValueError, dict(out=np.zeros((10, 11), np.float32))),  # shape
        (TypeError, dict(out=np.zeros((10, 12), np.uint8))),     # dtype
        (ValueError, dict(out=np.zeros((10, 24), np.float32)[:, ::2])),  # not writable in place
    ]
    if call == "correlate":
        cases += [(ValueError, dict(kernel=np.zeros((0, 3), np.float32))),
                  (ValueError, dict(kernel=np.array([[np.nan]], np.float32))),
                  (TypeError, dict(kernel=np.ones(3, np.float32))),
                  (ValueError, dict(method="magic")),
                  (ValueError, dict(kernel=np.eye(3, dtype=np.float32), method="separable"))]
    if call == "gaussian_blur":
        cases += [(ValueError, dict(sigma=0.0)), (ValueError, dict(sigma=float("nan"))),
                  (ValueError, dict(sigma=1.0, ksize=4)), (ValueError, dict(sigma=1.0, ksize=-3))]
    if call == "separable":
        cases += [(ValueError, dict(kernel=[])), (ValueError, dict(kernel=[float("inf")]))]
    for error, kw in cases:
        kw = dict(kw)
        target = kw.pop("out", out)
        with pytest.raises(error) as info:
            run(out=target, **kw)
        assert call.split("_")[0] in str(info.value) or "separable" in str(info.value), str(info.value)
        assert (out == 7.0).all(), kw
    ro = np.zeros_like(img)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        run(out=ro)


def test_value_error_carries_the_library_message():
    with pytest.raises(ValueError, match=r"correlate: kernel is 0x3; both sizes must be >= 1"):
        pk.correlate(np.zeros((4, 4), np.float32), np.zeros((3, 0), np.float32))


def test_scipy_border_spellings():
    img = random_image((12, 14), np.float32)
    k = random_image((3, 3), np.float32)
    for ours, scipy_name in [("reflect101", "mirror"), ("replicate", "nearest"), ("wrap", "grid-wrap")]:
        assert np.array_equal(pk.correlate(img, k, border=ours), pk.correlate(img, k, border=scipy_name))
