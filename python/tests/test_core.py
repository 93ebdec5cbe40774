"""The module itself: policies(), devices(), exceptions, and the GIL released in kernels."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import polykern as pk
from conftest import CI


def test_policies_and_devices():
    names = pk.policies()
    assert names[:2] == ["scalar", "simd"] and "openmp" in names
    devices = pk.devices()
    assert isinstance(devices, list)
    for d in devices:
        assert {"name", "type", "driver", "device_local_bytes", "unified_memory", "max_storage_buffer_range"} <= d.keys()
    if CI:
        assert "vulkan" in names and devices, "CI=true: a Vulkan device (lavapipe) is required"


def test_vulkan_error_is_a_runtime_error_and_fallback_works():
    assert issubclass(pk.VulkanError, RuntimeError)
    if "vulkan" not in pk.policies():
        return
    # No driver at all: the Vulkan policy raises VulkanError, 'vulkan,openmp' reruns on openmp.
    code = (
        "import numpy as np, polykern as pk\n"
        "img = np.random.default_rng(0).random((20, 20), dtype=np.float32)\n"
        "assert pk.devices() == []\n"
        "try:\n"
        "    pk.gaussian_blur(img, 2.0, policy='vulkan')\n"
        "    raise SystemExit('no VulkanError')\n"
        "except pk.VulkanError as e:\n"
        "    assert isinstance(e, RuntimeError) and 'vulkan' in str(e)\n"
        "out = pk.gaussian_blur(img, 2.0, policy='vulkan,openmp')\n"
        "assert np.array_equal(out, pk.gaussian_blur(img, 2.0, policy='openmp'))\n"
        "print('ok')\n"
    )
    env = dict(os.environ, VK_DRIVER_FILES="/nonexistent/icd.json", VK_ICD_FILENAMES="/nonexistent/icd.json")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr


def big_blur_input():
    return np.random.default_rng(0).random((1200, 1200), dtype=np.float32)


def test_gil_released_while_a_kernel_runs():
    """A pure-Python counter thread keeps counting while a kernel runs on the main thread:
    it could not if the kernel held the GIL (it would count ~0 during the call)."""
    img = big_blur_input()
    stop = threading.Event()
    count = [0]

    def counter():
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=counter)
    t.start()
    try:
        time.sleep(0.01)
        before = count[0]
        t0 = time.perf_counter()
        pk.gaussian_blur(img, 12.0, policy="simd")
        elapsed = time.perf_counter() - t0
        during = count[0] - before
    finally:
        stop.set()
        t.join()
    assert elapsed > 0.02, "the kernel call was too short to tell"
    assert during > 1000, f"only {during} counts in {elapsed:.3f} s: the GIL was held"


def test_two_threads_run_kernels_at_the_same_time():
    """Both threads are inside a kernel at once: their call intervals overlap for most of
    the shorter one (with the GIL held they could not overlap at all)."""
    img = big_blur_input()
    spans = [None, None]
    barrier = threading.Barrier(2)

    def work(i):
        barrier.wait()
        t0 = time.perf_counter()
        pk.gaussian_blur(img, 12.0, policy="simd")
        spans[i] = (t0, time.perf_counter())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a0, a1), (b0, b1) = spans
    overlap = min(a1, b1) - max(a0, b0)
    shorter = min(a1 - a0, b1 - b0)
    assert overlap > 0.5 * shorter, f"overlap {overlap:.3f} s of {shorter:.3f} s"


def test_exception_inside_a_released_call_keeps_the_interpreter_healthy():
    for _ in range(3):
        with pytest.raises(ValueError):
            pk.correlate(np.zeros((3, 3), np.float32), np.eye(3, dtype=np.float32), method="separable")
    assert pk.gaussian_blur(np.ones((2, 2), np.float32), 1.0).sum() == pytest.approx(4.0)


def test_new_outputs_and_pk_empty_are_64_byte_aligned():
    img = np.random.default_rng(1).random((31, 17, 3), dtype=np.float32)
    for _ in range(5):
        assert pk.gaussian_blur(img, 1.0).ctypes.data % 64 == 0
    e = pk.empty((7, 5), np.uint8)
    assert e.shape == (7, 5) and e.dtype == np.uint8 and e.flags.c_contiguous and e.flags.writeable
    assert e.ctypes.data % 64 == 0 and pk.empty((3, 3)).dtype == np.float32
