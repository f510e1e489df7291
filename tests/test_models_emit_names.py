"""Names from the user's model file reach the generated C only as inert text (a comment or a string literal)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hostbuild import NN_DIR, NN_INCLUDE

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.nn.compiler import compile_model

MODEL = Path(__file__).resolve().parents[1] / "src/tinyml_cosim/firmware/apps/vibration_monitor/vibration_int8.tflite"


@pytest.mark.parametrize(
    "hostile",
    [
        # A name cannot hold "/", so it cannot close a comment; a newline or a backslash could end a line.
        "m\n#define injected_by_name 1\n.tflite",
        "m\\\nint injected_by_name = 1;\n.tflite",
        'm" injected_by_name "??=.tflite',
    ],
)
def test_a_hostile_file_name_adds_no_code(tmp_path: Path, hostile: str) -> None:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no host C compiler")
    if not MODEL.is_file():
        pytest.skip(f"{MODEL} is absent")
    src = tmp_path / "in"
    src.mkdir()
    path = src / hostile
    shutil.copyfile(MODEL, path)
    out = tmp_path / "out"
    compile_model(path, load_board("stm32f405"), out, compare_tflm=False)
    # The name may survive only inside a comment or a string literal: no line of its own, no symbol.
    incs = [f"-I{d}" for d in (out, NN_INCLUDE, NN_DIR / "ref")]
    lines = (out / "model.c").read_text().splitlines()
    assert not [ln for ln in lines if ln.lstrip().startswith(("#define injected", "int injected"))]
    assert not [ln for ln in lines if ln.endswith("\\")]  # no line continued into the next
    obj = tmp_path / "model.o"
    subprocess.run([cc, "-c", *incs, str(out / "model.c"), "-o", str(obj)], check=True)
    nm = shutil.which("nm")
    if nm is not None:
        assert "injected_by_name" not in subprocess.run([nm, str(obj)], capture_output=True, text=True).stdout
