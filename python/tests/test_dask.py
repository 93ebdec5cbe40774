"""polykern.dask on a LocalCluster(n_workers=2, processes=True): every chunked result
equals one polykern call on the whole array, bit for bit (CPU policies; direct and
separable methods), for every border, chunkings that do and do not divide the shape, and
halos wider than a chunk or than the whole array."""

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
import dask.array as da  # noqa: E402

import polykern as pk  # noqa: E402
import polykern.dask as pkd  # noqa: E402
from conftest import BORDERS, POLICIES, random_image  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_border_index_is_polykerns():
    """pkd.border_index against the library itself: correlating a row of pixel indices with
    a one-tap kernel at offset d reads src[border_index(x + d)]."""
    for mode in ["reflect", "reflect101", "replicate", "wrap"]:
        for n in [1, 2, 3, 5]:
            row = np.arange(n, dtype=np.float32)[None, :]
            for d in range(-12, 13):
                k = np.zeros((1, 25), np.float32)
                k[0, 12 + d] = 1
                got = pk.correlate(row, k, border=mode, method="direct", policy="scalar")[0]
                assert list(got) == list(pkd.border_index(np.arange(n) + d, n, mode)), (mode, n, d)


def check_all(cases):
    """Computes every lazy result in one round trip to the cluster and compares each with
    its one-call result bit for bit."""
    results = dask.compute(*[lazy for _, lazy, _ in cases])
    for (what, _, want), got in zip(cases, results):
        assert got.shape == want.shape and got.dtype == want.dtype, what
        assert np.array_equal(got, want), (what, np.abs(got.astype(float) - want).max())


def test_gaussian_blur_equals_one_call(client):
    img = random_image((53, 71, 3), np.float32)
    chunkings = [((16, 16, 3), 2.0),    # chunks that do not divide the shape
                 ((53, 71, 3), 1.5),    # one chunk
                 ((6, 9, 1), 3.0),      # halo (13) wider than a chunk; channels rechunked to one
                 ((20, 30, 3), 25.0)]   # halo (101) wider than the whole image
    cases = []
    for border in BORDERS:
        for chunks, sigma in chunkings:
            want = pk.gaussian_blur(img, sigma, border=border, value=0.3, policy="simd")
            lazy = pkd.gaussian_blur(da.from_array(img, chunks=chunks), sigma, border=border, value=0.3, policy="simd")
            cases.append(((border, chunks, sigma), lazy, want))
    check_all(cases)


def test_uint8_2d_and_openmp(client):
    img = random_image((64, 48), np.uint8)
    d = da.from_array(img, chunks=(32, 24))  # chunks that divide the shape
    cases = []
    for border in ["reflect", "constant", "wrap"]:
        for policy in ["openmp", "scalar"]:
            want = pk.gaussian_blur(img, 2.5, 1.0, border=border, value=17, policy=policy)
            lazy = pkd.gaussian_blur(d, 2.5, 1.0, border=border, value=17, policy=policy)
            cases.append(((border, policy), lazy, want))
    check_all(cases)


def test_correlate_direct_and_separable_equal_one_call(client):
    img = random_image((45, 38), np.float32)
    d = da.from_array(img, chunks=(7, 11))
    k = random_image((5, 4), np.float32, seed=3) - 0.5   # full rank, even width
    g = pk.gaussian_kernel(15, 3.0)
    sep = np.outer(g, g)                                  # rank 1: automatic -> separable
    cases = []
    for border in BORDERS:
        want = pk.correlate(img, k, border=border, value=-0.5, method="direct", policy="simd")
        lazy = pkd.correlate(d, k, border=border, value=-0.5, method="direct", policy="simd")
        cases.append(((border, "direct"), lazy, want))
        lazy = pkd.correlate(d, sep, border=border, policy="simd")
        assert lazy.polykern_method == "separable"
        want = pk.correlate(img, sep, border=border, method="separable", policy="simd")
        cases.append(((border, "separable"), lazy, want))
    check_all(cases)


def test_methods_are_resolved_once():
    assert pkd.resolve_method(np.ones((3, 3))) == "separable"
    rng = np.random.default_rng(0)
    assert pkd.resolve_method(rng.random((3, 3))) == "direct"
    assert pkd.resolve_method(rng.random((61, 61))) == "fft"
    assert pkd.resolve_method(rng.random((61, 61)), policy="vulkan") in ("direct", "low_rank")
    assert pkd.resolve_method(rng.random((3, 3)), "fft") == "fft"


def test_vulkan_chunks_close_to_one_call(client):
    if "vulkan" not in POLICIES:
        return
    img = random_image((40, 50), np.float32)
    got = pkd.gaussian_blur(da.from_array(img, chunks=(16, 16)), 2.0, policy="vulkan").compute(scheduler="sync")
    np.testing.assert_allclose(got, pk.gaussian_blur(img, 2.0, policy="openmp"), atol=1e-5)


def test_bad_input_raises_before_computing():
    d = da.zeros((10, 10), dtype=np.float32, chunks=5)
    with pytest.raises(ValueError, match="gaussian_blur"):
        pkd.gaussian_blur(d, 0.0)
    with pytest.raises(ValueError, match="border"):
        pkd.gaussian_blur(d, 1.0, border="bogus")
    with pytest.raises(ValueError, match="policy"):
        pkd.gaussian_blur(d, 1.0, policy="cuda")
    with pytest.raises(TypeError):
        pkd.gaussian_blur(da.zeros((10, 10), dtype=np.float64, chunks=5), 1.0)
    with pytest.raises(TypeError):
        pkd.correlate(da.zeros((2, 10, 10, 1), dtype=np.float32), np.ones((3, 3)))
    with pytest.raises(ValueError, match="correlate"):
        pkd.correlate(d, np.eye(3), method="separable")
