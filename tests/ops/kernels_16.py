"""The host-built kernel library the 16x8 element-wise and boundary tests share (test_quantize_16, test_eltwise_16x8,
test_activations_16, test_softmax_16): built once per test process and kernel set, not once per module, as a
build costs more than all of their cases together."""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hostbuild import build_library, cmsis_nn_dir, load

# the ref kernels, and the CMSIS-NN adapters (where they apply) when a checkout is given
KERNEL_SETS = [
    pytest.param("ref"),
    pytest.param("cmsis", marks=pytest.mark.skipif(cmsis_nn_dir() is None, reason="CMSIS_NN_DIR is not set")),
]


@cache
def _library(kernels: str) -> tuple[Any, Any]:
    out = Path(tempfile.mkdtemp(prefix=f"nn16_{kernels}_")) / "libcosim_nn.so"
    return load(build_library(out, kernels=kernels))


def host_kernels(kernels: str = "ref") -> tuple[Any, Any]:
    """(ffi, lib) of firmware/nn built for the host with `kernels` ("ref" or "cmsis"); skips without a compiler."""
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return _library(kernels)
