"""Build firmware/nn once per test session with the system gcc into a shared library, loaded through cffi."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hostbuild import build_library, load


@pytest.fixture(scope="session")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    lib = build_library(Path(tmp_path_factory.mktemp("nn")) / "libcosim_nn.so")
    return load(lib)
