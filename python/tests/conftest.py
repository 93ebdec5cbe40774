"""Shared fixtures: the policies every test runs on, and fixed-seed data.

Vulkan runs where a device exists (lavapipe in CI: tests/run.sh sets VK_DRIVER_FILES when
CI=true). Under CI=true a missing device is a failure, not a skip: 'vulkan' stays in the
list and its cases fail with pk.VulkanError."""

import os

import numpy as np
import pytest

import polykern as pk

CI = os.environ.get("CI") == "true"


def _policies():
    names = list(pk.policies())
    if not CI and not pk.devices():
        names = [n for n in names if not n.startswith("vulkan")]
    return names


POLICIES = _policies()
CPU_POLICIES = [p for p in POLICIES if not p.startswith("vulkan")]
BORDERS = ["reflect", "reflect101", "replicate", "constant", "wrap"]
# polykern border -> (OpenCV flag, SciPy mode)
CV_BORDER = {"reflect": 2, "reflect101": 4, "replicate": 1, "constant": 0, "wrap": 3}
SCIPY_MODE = {"reflect": "reflect", "reflect101": "mirror", "replicate": "nearest",
              "constant": "constant", "wrap": "grid-wrap"}


def pytest_report_header(config):
    return f"polykern policies under test: {POLICIES}; devices: {[d['name'] for d in pk.devices()]}"


@pytest.fixture(params=POLICIES)
def policy(request):
    return request.param


@pytest.fixture(params=CPU_POLICIES)
def cpu_policy(request):
    return request.param


def random_image(shape, dtype, seed=1):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.uint8:
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    return rng.random(shape, dtype=np.float32)


def smooth_image(h, w, c, dtype, seed=2):
    """A smooth image (sums of low-frequency waves) for interpolation comparisons."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for _ in range(c):
        a, b, p, q = rng.uniform(0.02, 0.12, 4)
        chans.append(0.5 + 0.25 * np.sin(a * x + b * y) + 0.2 * np.cos(p * x - q * y))
    img = np.stack(chans, axis=-1)
    if np.dtype(dtype) == np.uint8:
        return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    return img.astype(np.float32)


def tolerance(policy, cpu_tol):
    """Vulkan's float arithmetic is not the CPU's bit for bit: a little more room."""
    return cpu_tol * 10 if policy.startswith("vulkan") else cpu_tol
