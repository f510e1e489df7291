"""The part model: physical quantity in, register values out, as the part (and Renode's model of it) computes them.

    physical x (unit) --cross-axis--> M x --transducer--> y = gain * x + offset (V for ADC parts; y = x otherwise)
      --input quantum--> q = R_in(y / quantum)          (Renode receives RESD integers: whole ug, whole mV)
      --sensitivity-->   code = R(q * quantum * lsb_per_input), clamped to data_bits (saturation)
      --bus-->           word = code << (word_bits - data_bits) if left-justified, bytes in the part's endianness

`q * quantum * lsb_per_input` is a ratio of integers (datasheet numbers are decimals), so the code is computed with
exact integer arithmetic and rounds exactly as Renode's C# decimal arithmetic does.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from tinyml_cosim.sensors.impairments import RawInfo
from tinyml_cosim.sensors.parts import Part, Rounding


def _round_ratio(a: np.ndarray, den: int, mode: Rounding) -> np.ndarray:
    """round(a / den) for int64 arrays, exactly, in the given rounding mode."""
    if mode == "floor":
        return a // den
    if mode == "truncate":
        return np.sign(a) * (np.abs(a) // den)
    if mode == "half_up":  # half away from zero, as C's round()
        return np.sign(a) * ((2 * np.abs(a) + den) // (2 * den))
    q, r = np.divmod(a, den)
    twice = 2 * r
    up = (twice > den) | ((twice == den) & (q % 2 == 1))
    return q + up


def _round_float(x: np.ndarray, mode: Rounding) -> np.ndarray:
    if mode == "floor":
        return np.floor(x)
    if mode == "truncate":
        return np.trunc(x)
    if mode == "half_up":
        return np.sign(x) * np.floor(np.abs(x) + 0.5)
    return np.rint(x)  # IEEE round-half-even


@dataclass(frozen=True)
class PartModel:
    part: Part
    range_value: float | None
    mode: str
    odr_hz: float
    cross_axis: np.ndarray | None = None  # (ch, ch) matrix applied to the physical vector, None = ideal axes

    @property
    def data_bits(self) -> int:
        return self.part.modes[self.mode].data_bits

    @property
    def shift(self) -> int:
        return self.part.bus.word_bits - self.data_bits if self.part.bus.justify == "left" else 0

    @property
    def code_min(self) -> int:
        return -(1 << (self.data_bits - 1)) if self.part.bus.signed else 0

    @property
    def code_max(self) -> int:
        return (1 << (self.data_bits - 1)) - 1 if self.part.bus.signed else (1 << self.data_bits) - 1

    @property
    def lsb_per_input(self) -> Fraction:
        return self.part.lsb_per_input(self.range_value, self.mode)

    @property
    def unit_per_code(self) -> float:
        """Physical units per code (transducer gain folded in for ADC parts)."""
        gain = self.part.transducer.gain if self.part.transducer else 1.0
        return float(1 / self.lsb_per_input) / gain

    @property
    def word_dtype(self) -> np.dtype:
        kind = "i" if self.part.bus.signed else "u"
        order = "<" if self.part.bus.endian == "little" else ">"
        return np.dtype(f"{order}{kind}{self.part.bus.word_bits // 8}")

    @property
    def noise_sigma(self) -> float:
        """Intrinsic noise: density * sqrt(bandwidth), bandwidth = bandwidth_fraction * ODR."""
        return self.part.noise_density * float(np.sqrt(self.part.bandwidth_fraction * self.odr_hz))

    def raw_info(self) -> RawInfo:
        return RawInfo(tuple(self.part.channels), self.data_bits, self.part.bus.signed, self.code_min, self.code_max)

    def to_input(self, x: np.ndarray) -> np.ndarray:
        """Physical quantity -> transducer output (volts for ADC parts), cross-axis coupling included."""
        if self.cross_axis is not None:
            x = x @ self.cross_axis.T
        if self.part.transducer is not None:
            x = x * self.part.transducer.gain + self.part.transducer.offset
        return x

    def _input_limit(self) -> float:
        # Anything beyond 4x full scale saturates anyway; clipping first keeps the integer arithmetic in int64.
        return 4.0 * max(abs(self.code_min), self.code_max) / float(self.lsb_per_input) + 1.0

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Physical (n, ch) -> codes (n, ch) int64, saturated to the part's data bits."""
        y = self.to_input(np.asarray(x, dtype=np.float64))
        lim = self._input_limit()
        y = np.clip(np.nan_to_num(y, nan=0.0), -lim, lim)
        qz = self.part.quantization
        if qz.input_quantum is None:
            codes = _round_float(y * float(self.lsb_per_input), qz.rounding).astype(np.int64)
        else:
            quantum = Fraction(str(qz.input_quantum))
            renode = self.part.renode
            per_unit = quantum / Fraction(str(renode.resd_unit)) if renode else None
            if renode and per_unit is not None and per_unit.denominator == 1:
                # Renode's chain exactly: the value is stored as a whole number of RESD units (round to nearest),
                # then the model integer-divides it to its input quantum (e.g. uV // 1000 -> mV).
                u = np.rint(y / renode.resd_unit).astype(np.int64)
                q = _round_ratio(u, per_unit.numerator, qz.input_rounding)
            else:
                # Plain float: snap values within 1e-9 of a step onto it, so 0.7 V / 1 mV floors to 700, not 699.
                v = y / float(quantum)
                v = np.where(np.abs(v - np.rint(v)) < 1e-9 * np.maximum(1.0, np.abs(v)), np.rint(v), v)
                q = _round_float(v, qz.input_rounding).astype(np.int64)
            ratio = quantum * self.lsb_per_input
            codes = _round_ratio(q * ratio.numerator, ratio.denominator, qz.rounding)
        return np.clip(codes, self.code_min, self.code_max)

    def encode(self, codes: np.ndarray) -> np.ndarray:
        """Codes -> bus words (the register values), in the part's dtype and byte order."""
        words = np.asarray(codes, dtype=np.int64) << self.shift
        if self.part.bus.signed:
            return words.astype(self.word_dtype)
        return (words & ((1 << self.part.bus.word_bits) - 1)).astype(self.word_dtype)

    def decode(self, words: np.ndarray) -> np.ndarray:
        return np.asarray(words).astype(np.int64) >> self.shift

    def to_physical(self, codes: np.ndarray) -> np.ndarray:
        """Codes -> the physical value they stand for (inverse of the sensitivity, no inverse cross-axis)."""
        y = np.asarray(codes, dtype=np.float64) / float(self.lsb_per_input)
        if self.part.transducer is not None:
            y = (y - self.part.transducer.offset) / self.part.transducer.gain
        return y

    def resd_values(self, codes: np.ndarray) -> tuple[np.ndarray, int]:
        """RESD integers that make Renode's model of this part produce exactly `codes`, and how many cannot.

        Renode re-quantizes RESD values itself (see docs/sensors.md); we therefore write the input-quantum value
        q whose conversion gives the code: q = round(code / (quantum * lsb_per_input)). Codes that no q reaches
        (a bit flip between two mV steps of a 12-bit ADC, say) get the nearest and are counted.
        """
        renode = self.part.renode
        if renode is None:
            raise ValueError(f"part {self.part.id} has no Renode model to feed with RESD")
        qz = self.part.quantization
        codes = np.asarray(codes, dtype=np.int64)
        quantum = Fraction(str(qz.input_quantum)) if qz.input_quantum is not None else Fraction(str(renode.resd_unit))
        ratio = quantum * self.lsb_per_input
        q = _round_ratio(codes * ratio.denominator, ratio.numerator, "half_even")
        per_unit = quantum / Fraction(str(renode.resd_unit))
        if per_unit.denominator != 1:
            raise ValueError(f"part {self.part.id}: input_quantum must be a whole number of RESD units")
        values = q * per_unit.numerator
        if renode.resd_from == "quantity" and self.part.transducer is not None:
            raise ValueError(f"part {self.part.id}: resd_from quantity with a transducer is not supported")
        back = np.clip(_round_ratio(q * ratio.numerator, ratio.denominator, qz.rounding), self.code_min, self.code_max)
        return values, int(np.count_nonzero(back != codes))
