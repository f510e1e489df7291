"""The int16 logistic / tanh table of TFLM (sigmoid_table_uint16) is data held twice, in the numpy module and in its
C twin: the two must be the same 256 values, and the two interpolations the same function over every input."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hostc import build_shared, load_shared

from tinyml_cosim.core import resources
from tinyml_cosim.nn.ops.sigmoid16 import SIGMOID_TABLE, sigmoid16_lut, tanh16_lut

REF = resources.FIRMWARE_DIR / "nn" / "ref"


def test_the_c_table_is_the_numpy_table() -> None:
    text = (REF / "sigmoid16.c").read_text()
    body = re.search(r"sigmoid_table\[256\] = \{(.*?)\};", text, re.S)
    assert body is not None
    values = [int(v) for v in re.findall(r"\d+", body.group(1))]
    assert values == SIGMOID_TABLE.tolist()
    assert len(values) == 256 and values[0] == 32768 and values[-1] == 65535
    assert all(b >= a for a, b in itertools.pairwise(values))  # monotone, as a sigmoid


def test_c_and_numpy_interpolate_alike_over_every_step(tmp_path: Path) -> None:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc)")
    lib = build_shared(tmp_path / "libsig.so", [REF / "sigmoid16.c"], include_dirs=[REF])
    _ffi, c = load_shared(lib, "int16_t cosim_sigmoid16_lut(int32_t v); int16_t cosim_tanh16_lut(int32_t v);")
    v = np.concatenate([np.arange(-(256 << 9) - 5, (256 << 9) + 5, 37), [0, 1, -1, 255 << 9, -(255 << 9)]])
    want_s, want_t = sigmoid16_lut(v.astype(np.int64)), tanh16_lut((v >> 1).astype(np.int64))
    got_s = [c.cosim_sigmoid16_lut(int(x)) for x in v]
    got_t = [c.cosim_tanh16_lut(int(x)) for x in v >> 1]
    np.testing.assert_array_equal(got_s, want_s)
    np.testing.assert_array_equal(got_t, want_t)
