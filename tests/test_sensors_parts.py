"""Part models: quantization as Renode computes it, saturation, bus formats, part data files."""

from __future__ import annotations

import numpy as np
import pytest

from tinyml_cosim.sensors.model import PartModel, _round_ratio
from tinyml_cosim.sensors.parts import available_parts, load_part


def model(part: str, range_value: float | None = None, mode: str | None = None, odr: float | None = None) -> PartModel:
    p = load_part(part)
    return PartModel(
        p, range_value if range_value is not None else p.default_range, mode or p.default_mode, odr or p.default_odr_hz
    )


def test_every_builtin_part_loads() -> None:
    assert {"lis2dw12", "lsm6dso", "mp34dt05", "tmp36_adc12", "acs723_adc12"} <= set(available_parts())
    for name in available_parts():
        part = load_part(name)
        assert part.id == name


def test_lis2dw12_truncates_like_renode() -> None:
    # Renode LIS2DW12.Convert: (int)(g * 1000 / 0.244) clamped to 14 bits, then << 2.
    m = model("lis2dw12", 2)
    g = np.array([[1.0, -1.0, 0.000243], [0.000244, -0.000487, 0.5]])
    codes = m.quantize(g)
    expected = [[int(1e6 / 244), -int(1e6 / 244), 0], [1, -1, int(500000 / 244)]]
    assert codes.tolist() == expected
    assert m.encode(codes).tolist() == [[c << 2 for c in row] for row in expected]


def test_lis2dw12_bus_bytes_little_endian_left_justified() -> None:
    m = model("lis2dw12", 2)
    words = m.encode(np.array([[1, -1, 8191]]))
    assert words.dtype == np.dtype("<i2")
    # 1 << 2 = 0x0004; -1 << 2 = 0xFFFC; 8191 << 2 = 0x7FFC
    assert words.tobytes() == bytes([0x04, 0x00, 0xFC, 0xFF, 0xFC, 0x7F])


def test_saturation_at_full_scale() -> None:
    m = model("lis2dw12", 4)
    codes = m.quantize(np.array([[5.0, -5.0, 3.99]]))
    assert codes[0, 0] == 8191 and codes[0, 1] == -8192
    assert codes[0, 2] == int(3.99e6 / 488)


def test_low_power_mode_is_12_bit_shift_4() -> None:
    m = model("lis2dw12", 2, "low_power_1")
    assert (m.data_bits, m.shift) == (12, 4)
    assert m.quantize(np.array([[1.0, 0, 0]]))[0, 0] == int(1e6 / 976)
    assert m.quantize(np.array([[3.0, -3.0, 0]]))[0, :2].tolist() == [2047, -2048]


def test_lsm6dso_rounds_half_even_with_renode_sensitivity() -> None:
    m = model("lsm6dso", 2)
    # decimal.Round(g * 32767 / 2): 1 g -> 16383.5 -> 16384 (half to even)
    assert m.quantize(np.array([[1.0, -1.0, 3.0]]))[0].tolist() == [16384, -16384, 32767]


def test_adc_two_step_quantization_like_renode_stm32_adc() -> None:
    m = model("tmp36_adc12")
    # 25 degC -> 0.75 V -> 750 mV -> round(750 / 3300 * 4095) = round(930.68) = 931
    assert m.quantize(np.array([[25.0]]))[0, 0] == 931
    # 0.7509 V truncates to 750 mV first, as Renode's integer uV / 1000 does
    assert m.quantize(np.array([[25.09]]))[0, 0] == 931
    assert m.quantize(np.array([[-100.0]]))[0, 0] == 0 and m.quantize(np.array([[400.0]]))[0, 0] == 4095
    assert m.encode(np.array([[931]])).dtype == np.dtype("<u2")


def test_microphone_full_scale_is_120_db_spl() -> None:
    m = model("mp34dt05")
    fs_pa = 10 ** (26 / 20)  # -26 dBFS at 1 Pa
    assert abs(m.quantize(np.array([[fs_pa / 2]]))[0, 0] - 16384) <= 2
    assert m.quantize(np.array([[100.0], [-100.0]]))[:, 0].tolist() == [32767, -32768]


@pytest.mark.parametrize("mode", ["truncate", "floor", "half_even", "half_up"])
def test_exact_rational_rounding(mode: str) -> None:
    a = np.arange(-50, 51, dtype=np.int64)
    got = _round_ratio(a, 10, mode)  # type: ignore[arg-type]
    ref = {
        "truncate": [int(v / 10) for v in a],
        "floor": [v // 10 for v in a],
        "half_even": [round(v / 10) for v in a],  # Python's round is half-to-even
        "half_up": [int(np.sign(v) * np.floor(abs(v) / 10 + 0.5)) for v in a],
    }[mode]
    assert got.tolist() == ref


@pytest.mark.parametrize("part,range_value", [("lis2dw12", 2), ("lis2dw12", 16), ("lsm6dso", 4), ("tmp36_adc12", None)])
def test_resd_values_reproduce_codes_through_renode_conversion(part: str, range_value: float | None) -> None:
    m = model(part, range_value)
    rng = np.random.default_rng(1)
    codes = rng.integers(m.code_min, m.code_max + 1, (500, len(m.part.channels)))
    if part == "tmp36_adc12":
        codes = m.quantize(rng.uniform(-40, 120, (500, 1)))  # ADC codes reachable through whole millivolts
    values, lossy = m.resd_values(codes)
    assert lossy == 0
    # Feed the RESD integers back the way Renode reads them: they are the input quanta q.
    ratio = m.lsb_per_input * __import__("fractions").Fraction(str(m.part.quantization.input_quantum))
    per_unit = int(m.part.quantization.input_quantum / m.part.renode.resd_unit + 0.5)  # type: ignore[union-attr]
    back = _round_ratio(values // per_unit * ratio.numerator, ratio.denominator, m.part.quantization.rounding)
    assert np.array_equal(np.clip(back, m.code_min, m.code_max), codes)
