"""A whole Signal-library audio front end, as micro_speech's audio_preprocessor_int8.tflite is built (every operator
of it, tables of our own: tests/ops/signal_models.audio_preprocessor_model), bit-exact with tflite-micro over inputs
in a row (its spectral subtraction's noise estimate is state): numpy golden and host C on the host, and the compiled
model in QEMU through `cosim model check`'s path. The public model itself (not committed) is checked the same way
when COSIM_TFLM_REPO names a tflite-micro git dir or checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostbuild import build_library, load, run_graph_c
from signal_models import AUDIO_PREPROCESSOR_KINDS, audio_preprocessor_model

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.nn.golden import run_tflm_sequence, tflm_available
from tinyml_cosim.nn.graph import lower_model
from tinyml_cosim.nn.reference import run_graph_outputs
from tinyml_cosim.nn.tflite_reader import parse_tflite

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed (pip install tflite-micro)")
needs_qemu = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
PUBLIC = "tensorflow/lite/micro/examples/micro_speech/models/audio_preprocessor_int8.tflite"


def _public_model() -> bytes | None:
    """micro_speech's preprocessor from COSIM_TFLM_REPO (a checkout, or a bare git dir: its HEAD), else None."""
    repo = os.environ.get("COSIM_TFLM_REPO")
    if not repo:
        return None
    if (Path(repo) / PUBLIC).is_file():
        return (Path(repo) / PUBLIC).read_bytes()
    r = subprocess.run(["git", f"--git-dir={repo}", "show", f"HEAD:{PUBLIC}"], capture_output=True, check=False)
    return r.stdout if r.returncode == 0 else None


def _frames(rng: np.random.Generator, n: int, frame: int) -> list[np.ndarray]:
    """Loud, quiet, silent and tonal frames (the auto scale's shifts, the noise estimate rising and falling)."""
    t = np.arange(frame)
    out = []
    for k in range(n):
        level = [32767, 2500, 0, 12000, 40][k % 5]
        tone = level * np.sin(2 * np.pi * (k + 3) * t / frame) * 0.5
        noise = rng.integers(-level // 2 - 1, level // 2 + 1, frame)
        out.append(np.clip(tone + noise, -32768, 32767).astype(np.int16).reshape(1, frame))
    return out


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/nn for the host")
    return load(build_library(Path(tmp_path_factory.mktemp("nn_audio_preprocessor")) / "libcosim_nn.so"))


def _in_a_row_on_the_host(lib: tuple[Any, Any], model: bytes, xs: list[np.ndarray]) -> None:
    want = run_tflm_sequence(model, xs)
    graph = lower_model(parse_tflite(model))
    assert [layer.kind for layer in graph.layers] == AUDIO_PREPROCESSOR_KINDS
    state: dict[int, np.ndarray] = {}
    c_state: dict[int, np.ndarray] = {}
    for k, (x, w) in enumerate(zip(xs, want, strict=True)):
        np.testing.assert_array_equal(run_graph_outputs(graph, x, state=state)[0], w[0], err_msg=f"numpy, frame {k}")
        np.testing.assert_array_equal(run_graph_c(*lib, graph, x, state=c_state), w[0], err_msg=f"C, frame {k}")
    inside = sum(int(((w[0] > -128) & (w[0] < 127)).sum()) for w in want)
    assert inside > want[0][0].size and len({w[0].tobytes() for w in want}) >= 4  # features off the rails, varied


@needs_tflm
@pytest.mark.parametrize("seed", range(2))
def test_our_preprocessor_in_a_row_on_the_host(lib: tuple[Any, Any], seed: int) -> None:
    rng = np.random.default_rng([34, seed])
    _in_a_row_on_the_host(lib, audio_preprocessor_model(rng), _frames(rng, 6, 100))


@needs_tflm
def test_the_public_preprocessor_on_the_host(lib: tuple[Any, Any]) -> None:
    model = _public_model()
    if model is None:
        pytest.skip("COSIM_TFLM_REPO does not name a tflite-micro git dir or checkout")
    _in_a_row_on_the_host(lib, model, _frames(np.random.default_rng(35), 6, 480))


def _check_in_qemu(tmp_path: Path, model: bytes) -> dict[str, Any]:
    from tinyml_cosim.orchestrate.model_check import check_model

    path = tmp_path / "audio_preprocessor.tflite"
    path.write_bytes(model)
    rep = check_model(path, load_board("stm32f405"), kernels="ref", vectors=4)
    assert rep["run_status"] == "exited" and rep["bit_exact"] is True and rep["mismatched_vectors"] == [], rep
    assert rep["golden"] == "tflite-micro (one interpreter, in a row)"  # the noise estimate carried, as on TFLM
    return rep


@needs_tflm
@needs_qemu
@pytest.mark.qemu
def test_our_preprocessor_in_qemu(tmp_path: Path) -> None:
    _check_in_qemu(tmp_path, audio_preprocessor_model(np.random.default_rng(36)))


@needs_tflm
@needs_qemu
@pytest.mark.qemu
def test_the_public_preprocessor_in_qemu(tmp_path: Path) -> None:
    model = _public_model()
    if model is None:
        pytest.skip("COSIM_TFLM_REPO does not name a tflite-micro git dir or checkout")
    rep = _check_in_qemu(tmp_path, model)
    assert 100_000 < min(rep["instructions_per_inference"]) < 200_000  # 127,5xx measured (ref kernels)
