"""firmware/dsp (FFT power spectrum, Hann windows, log2) against its Python reference (bit for bit) and against
float math (error bounds): the reference applications' features are only as trustworthy as these."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cosim_dsp import tables
from cosim_dsp.fft import hann_q15, rfft_power_q15
from cosim_dsp.fixed import INT32_MIN, log2_q16, log2_q16_array
from cosim_testing import needs_qemu, needs_toolchain
from hostc import DSP_CDEF, DSP_INCLUDE, build_shared, dsp_sources, load_shared

from tinyml_cosim.orchestrate.model_check import ByteSink, TensorStream
from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.run.session import RunRequest, run_firmware


@pytest.fixture(scope="module")
def dsp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no host C compiler (gcc/cc) to build firmware/dsp for the host")
    lib = build_shared(Path(tmp_path_factory.mktemp("dsp")) / "libdsp.so", dsp_sources(), [DSP_INCLUDE])
    return load_shared(lib, DSP_CDEF)


def c_power(dsp: tuple[Any, Any], x: np.ndarray, window: np.ndarray | None) -> np.ndarray:
    ffi, lib = dsp
    n = x.size
    xb = ffi.from_buffer("int16_t[]", np.ascontiguousarray(x))
    wb = ffi.from_buffer("int16_t[]", np.ascontiguousarray(window)) if window is not None else ffi.NULL
    work = ffi.new("int32_t[]", 2 * n)
    power = ffi.new("uint64_t[]", n // 2 + 1)
    assert lib.cosim_rfft_power_q15(xb, wb, n.bit_length() - 1, work, power) == 0
    return np.frombuffer(ffi.buffer(power), dtype=np.uint64).copy()


def frames(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Noise at several levels, full-scale and tiny sines, both rails, DC, an impulse, a square wave."""
    t = np.arange(n)
    out = [
        rng.integers(-32768, 32768, n).astype(np.int16),
        (rng.normal(0, 300, n)).clip(-32768, 32767).astype(np.int16),
        np.round(32767 * np.sin(2 * np.pi * 5.3 * t / n)).astype(np.int16),
        np.round(3 * np.sin(2 * np.pi * 1.7 * t / n)).astype(np.int16),
        np.full(n, -32768, np.int16),
        np.full(n, 32767, np.int16),
        np.full(n, 1234, np.int16),
        np.eye(1, n, n // 3, dtype=np.int16)[0] * 32767,
        np.where(t % 16 < 8, 32767, -32768).astype(np.int16),
    ]
    return out


@pytest.mark.parametrize("log2n", range(3, 11))
def test_fft_power_is_bit_exact_with_the_host_reference(dsp: tuple[Any, Any], log2n: int) -> None:
    n = 1 << log2n
    rng = np.random.default_rng([11, log2n])
    window = hann_q15(n) if log2n >= 6 else None
    for x in frames(rng, n):
        for w in (None, window):
            np.testing.assert_array_equal(c_power(dsp, x, w), rfft_power_q15(x, w))


@pytest.mark.parametrize("log2n", [6, 8, 9, 10])
def test_fft_power_is_within_rounding_of_float(log2n: int) -> None:
    n = 1 << log2n
    rng = np.random.default_rng([12, log2n])
    w = hann_q15(n)
    for x in frames(rng, n):
        exact = np.abs(np.fft.rfft(x.astype(np.float64) * w / 32768.0) / n) * 32768.0  # magnitude, 2^-15 LSB units
        got = np.sqrt(rfft_power_q15(x, w).astype(np.float64))
        # each of the log2n stages rounds re and im to 1 unit, then halves: the error stays below ~1 unit per stage
        # plus the twiddles' relative error (q15: 2^-15 per stage)
        bound = log2n * 1.5 + exact.max() * log2n * 2.0**-14
        assert np.abs(got - exact).max() <= bound, (np.abs(got - exact).max(), bound)


def test_a_sine_lands_in_its_bin_at_the_documented_scale() -> None:
    n, k, amp = 256, 19, 16000
    x = np.round(amp * np.sin(2 * np.pi * k * np.arange(n) / n)).astype(np.int16)
    p = rfft_power_q15(x)
    assert int(np.argmax(p)) == k
    assert p[k] == pytest.approx((amp / 2) ** 2 * 2.0**30, rel=1e-3)


def test_out_of_range_lengths_are_refused(dsp: tuple[Any, Any]) -> None:
    ffi, lib = dsp
    x = ffi.new("int16_t[]", 2048)
    work, power = ffi.new("int32_t[]", 4096), ffi.new("uint64_t[]", 1025)
    assert lib.cosim_rfft_power_q15(x, ffi.NULL, 11, work, power) == -1
    assert lib.cosim_rfft_power_q15(x, ffi.NULL, 2, work, power) == -1
    with pytest.raises(ValueError, match="power of two"):
        rfft_power_q15(np.zeros(100, np.int16))
    with pytest.raises(TypeError, match="int16"):
        rfft_power_q15(np.zeros(64, np.float32))


def test_hann_tables_are_the_generated_ones(dsp: tuple[Any, Any]) -> None:
    ffi, lib = dsp
    for b in range(6, 11):
        c = np.frombuffer(ffi.buffer(lib.cosim_hann_q15(b), 2 << b), dtype=np.int16)
        np.testing.assert_array_equal(c, hann_q15(1 << b))
    assert lib.cosim_hann_q15(5) == ffi.NULL
    assert tables.main([]) == 0, "firmware/dsp/dsp_tables.[ch] are stale: make generated"


def test_log2_is_bit_exact_and_close_to_float(dsp: tuple[Any, Any]) -> None:
    _, lib = dsp
    rng = np.random.default_rng(13)
    xs = [1, 2, 3, 5, 255, 256, 257, (1 << 30) - 1, 1 << 30, (1 << 31) + 12345, (1 << 64) - 1]
    xs += [int(v) for v in rng.integers(1, 1 << 63, 2000, dtype=np.uint64)]
    xs += [int(v) for v in rng.integers(1, 1 << 20, 2000, dtype=np.uint64)]
    arr = log2_q16_array(np.array(xs, dtype=np.uint64))
    for x, a in zip(xs, arr, strict=True):
        ref = log2_q16(x)
        assert lib.cosim_log2_q16(x) == ref == a
        # truncation: never above the true value, at most a few 2^-16 below it (mantissa truncated to 30 bits)
        assert -4 <= ref - np.log2(x) * 65536 <= 1e-6 * 65536
    assert lib.cosim_log2_q16(0) == log2_q16(0) == INT32_MIN == log2_q16_array(np.zeros(1, np.uint64))[0]


@needs_qemu
@needs_toolchain
@pytest.mark.parametrize("board", ["stm32f405", "stm32f205"])
def test_the_target_build_equals_the_host_reference(firmware: Callable[..., Path], board: str) -> None:
    """The Thumb-2 build (M4F and M3) gives the reference's bins and logs; each frame size's cost is fixed."""
    rng = np.random.default_rng(14)
    cases = []
    for log2n in (6, 8, 10):
        for x in frames(rng, 1 << log2n)[:3]:
            cases.append((log2n, 1, x))
    cases.append((4, 0, rng.integers(-32768, 32768, 16).astype(np.int16)))
    sent = [struct.pack("<II", b, w) + x.tobytes() for b, w, x in cases]
    out = ByteSink()
    svc = DataService(streams={1: TensorStream(sent)}, sinks={2: out})
    rec = run_firmware(RunRequest(elf=firmware("dsp_check", board), board=board, data=svc, timeout_s=60))
    assert rec.status.value == "exited" and rec.exit_code == 0, rec.diagnosis
    data, pos = bytes(out.data), 0
    for b, w, x in cases:
        bins = (1 << b) // 2 + 1
        power = np.frombuffer(data[pos : pos + 8 * bins], dtype=np.uint64)
        logs = np.frombuffer(data[pos + 8 * bins : pos + 12 * bins], dtype=np.int32)
        pos += 12 * bins
        expect = rfft_power_q15(x, hann_q15(1 << b) if w else None)
        np.testing.assert_array_equal(power, expect)
        np.testing.assert_array_equal(logs, log2_q16_array(expect))
    assert pos == len(data)
    ffts = [s.end - s.begin for s in rec.spans if s.name == "fft"]
    assert len(ffts) == len(cases)
    # integer code without data-dependent branches in the FFT: every frame of one size costs the same
    by_size: dict[int, set[int]] = {}
    for (b, w, _), cost in zip(cases, ffts, strict=True):
        by_size.setdefault((b, w), set()).add(cost)
    assert all(len(v) == 1 for v in by_size.values()), by_size
