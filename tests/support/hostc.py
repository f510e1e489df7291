"""Compile firmware C for the host (the system gcc, a shared library) and load it with cffi, so tests and host
references run the very sources that go into the firmware. The C in firmware/nn and firmware/dsp is integer-only,
so x86-64 and Thumb-2 give the same results."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tinyml_cosim.core import resources
from tinyml_cosim.core.errors import BadInput

FIRMWARE = resources.FIRMWARE_DIR
STRICT_CFLAGS = ("-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared")


def host_cc() -> str:
    found = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not found:
        raise BadInput("no host C compiler (gcc/cc) on PATH; building firmware C for the host needs one")
    return found


def build_shared(
    out: Path,
    sources: list[Path],
    include_dirs: list[Path] | None = None,
    defines: list[str] | None = None,
    extra_flags: list[str] | None = None,
) -> Path:
    """Compile `sources` into the shared library `out` (warnings are errors, as in the firmware build);
    `extra_flags` come last, so e.g. `-std=c99 -Wpedantic` holds portable code to stricter rules."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        host_cc(),
        *STRICT_CFLAGS,
        *(f"-I{d}" for d in include_dirs or []),
        *(f"-D{d}" for d in defines or []),
        *(extra_flags or []),
        "-o",
        str(out),
        *map(str, sources),
        "-lm",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"host build failed: {' '.join(cmd)}\n{r.stderr}")
    return out


def load_shared(path: Path, cdef: str) -> tuple[Any, Any]:
    """(ffi, lib) for a library built by build_shared; `cdef` declares what the caller uses."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(cdef)
    return ffi, ffi.dlopen(str(path))


def dsp_sources() -> list[Path]:
    return sorted((FIRMWARE / "dsp").glob("*.c"))


DSP_INCLUDE = FIRMWARE / "dsp" / "include"
DSP_CDEF = """
int cosim_rfft_power_q15(const int16_t *x, const int16_t *window, uint32_t log2n, int32_t *work, uint64_t *power);
const int16_t *cosim_hann_q15(uint32_t log2n);
int32_t cosim_log2_q16(uint64_t x);
"""
