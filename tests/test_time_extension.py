"""The firmware's 64-bit instruction counter, checked on the host against both engines' timer semantics."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "src" / "tinyml_cosim" / "firmware"


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler (gcc)")
def test_extension_is_exact_under_qemu_and_renode_timer_semantics(tmp_path: Path) -> None:
    exe = tmp_path / "test_time_extension"
    subprocess.run(
        ["gcc", "-O2", "-Wall", "-Werror", f"-I{FIRMWARE / 'include'}",
         str(FIRMWARE / "tests/host/test_time_extension.c"), "-o", str(exe)],
        check=True,
    )  # fmt: skip
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("exact") == 4
    assert "qemu" in out.stdout and "renode" in out.stdout


def test_extension_with_too_sparse_samples_fails(tmp_path: Path) -> None:
    """The harness can fail: samples 2^32 apart (Renode's TIM2 period) lose a wrap; hence the service alarm."""
    if shutil.which("gcc") is None:
        pytest.skip("needs a host C compiler (gcc)")
    src = tmp_path / "sparse.c"
    src.write_text(
        '#include "cosim_time.h"\n#include <stdio.h>\n'
        "int main(void){cosim_time_state_t st={0}; unsigned long long t=0;\n"
        ' for(int i=0;i<3;i++){ t += 1ull<<32; if (cosim_time_extend(&st,(unsigned)t)!=t){puts("lost");return 1;} }\n'
        " return 0;}\n"
    )
    exe = tmp_path / "sparse"
    subprocess.run(["gcc", f"-I{FIRMWARE / 'include'}", str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 1 and "lost" in out.stdout
