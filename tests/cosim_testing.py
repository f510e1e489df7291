"""Skip markers shared by the test modules (a plain module: `conftest` is ambiguous with tests/kernels/conftest.py)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import psutil
import pytest

from tinyml_cosim.engines.renode.engine import renode_binary

HAVE_QEMU = shutil.which("qemu-system-arm") is not None
HAVE_ARM_GCC = shutil.which("arm-none-eabi-gcc") is not None
HAVE_GDB = shutil.which("gdb-multiarch") is not None

needs_qemu = pytest.mark.skipif(
    not (HAVE_QEMU and HAVE_ARM_GCC),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
needs_toolchain = pytest.mark.skipif(not HAVE_ARM_GCC, reason="needs arm-none-eabi-gcc (run `make setup`)")
needs_renode = pytest.mark.skipif(
    renode_binary() is None or not HAVE_ARM_GCC,
    reason="needs renode on PATH (Renode 1.16, `make test-renode`) and arm-none-eabi-gcc",
)
# Tests that hold for every engine, parametrized over them: each case runs where its engine is live and skips with
# the reason elsewhere; the Renode cases carry the `renode` marker that `make test-renode` selects.
ENGINE_PARAMS = [
    pytest.param("qemu", marks=[pytest.mark.qemu, needs_qemu], id="qemu"),
    pytest.param("renode", marks=[pytest.mark.renode, needs_renode], id="renode"),
]


def cycles_unavailable() -> str | None:
    """Why QEMU runs get no cycle estimate here (COSIM_CYCLES=off, no qemu-plugin.h, no gcc), or None."""
    import os

    from tinyml_cosim.engines.qemu import plugin  # lazy: the test modules that do not need it stay light

    if os.environ.get("COSIM_CYCLES", "").lower() in ("0", "off", "no", "false"):
        return "COSIM_CYCLES=off"
    return plugin.unavailable_reason()


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren, ...); none when `pid` is gone."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def emulators_below(pid: int) -> list[int]:
    """The emulator processes (QEMU, Renode) a test's subprocess started."""
    found = []
    for p in descendants(pid):
        try:
            cmdline = " ".join(psutil.Process(p).cmdline())
        except psutil.Error:  # gone, a zombie (no command line any more) or not ours to read
            continue
        if "qemu-system" in cmdline or "renode" in cmdline.lower():
            found.append(p)
    return found


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def load_script(name: str, path: Path) -> ModuleType:
    """Import a script that is not part of a package (models/<app>/evaluate.py, bench/*.py) under `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
