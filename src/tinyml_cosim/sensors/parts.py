"""Part data: what a sensor part delivers, read from datasheet-like YAML files in `tinyml_cosim/sensors/parts/`.

Nothing about a specific part lives in code: a user adds a part by writing one more YAML file (in this folder, or
next to a scenario and referenced by path). The fields mirror a datasheet's tables: output data rates, full-scale
ranges with their sensitivities, resolution per operating mode, the register format on the bus, FIFO depth and
noise density; and, where Renode has a model of the part, how Renode converts RESD values into register values, so
that our quantization reproduces Renode's bit for bit (see docs/sensors.md, "Renode re-quantization").
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tinyml_cosim.core import resources
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import confined
from tinyml_cosim.core.yamlfile import load_named_model

PARTS_DIR = resources.PARTS_DIR

Rounding = Literal["truncate", "floor", "half_even", "half_up"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RangeSpec(_Strict):
    """Sensitivity at one full-scale setting: give exactly one of the two, as the datasheet (or Renode) states it."""

    unit_per_lsb: float | None = Field(None, gt=0, description="physical unit per LSB, e.g. 0.000244 g/LSB")
    lsb_per_unit: float | None = Field(None, gt=0, description="LSB per physical unit, e.g. 16383.5 LSB/g")

    @model_validator(mode="after")
    def _one_of(self) -> RangeSpec:
        if (self.unit_per_lsb is None) == (self.lsb_per_unit is None):
            raise ValueError("give exactly one of unit_per_lsb or lsb_per_unit")
        return self

    def lsb_per_unit_exact(self) -> Fraction:
        # Decimal strings, not binary floats: 0.000244 must mean 244/1000000 exactly, as in Renode's C# decimals.
        if self.lsb_per_unit is not None:
            return Fraction(str(self.lsb_per_unit))
        assert self.unit_per_lsb is not None
        return 1 / Fraction(str(self.unit_per_lsb))


class Mode(_Strict):
    data_bits: int = Field(ge=2, le=32)
    sensitivity_scale: float = Field(1.0, gt=0, description="unit_per_lsb multiplier in this mode (e.g. 4 for 12-bit)")
    description: str = ""


class Bus(_Strict):
    """How one channel's value sits in the part's output register(s)."""

    word_bits: Literal[8, 16, 32]
    justify: Literal["left", "right"]
    endian: Literal["little", "big"]
    signed: bool


class Quantization(_Strict):
    input_quantum: float | None = Field(
        None, gt=0, description="the input is first quantized to this step (in transducer output units)"
    )
    input_rounding: Rounding = "half_even"
    rounding: Rounding


class Transducer(_Strict):
    """Analogue front end: volts = gain * quantity + offset (e.g. 10 mV/°C + 0.5 V for a TMP36-like probe)."""

    gain: float = Field(description="transducer output units (V) per physical unit")
    offset: float = 0.0
    output_unit: str = "V"


class Adc(_Strict):
    bits: int = Field(ge=6, le=24)
    vref_v: float = Field(gt=0)
    full_scale_code: int | None = Field(
        None, description="code at vref; Renode's STM32 ADC uses 2^bits - 1, most datasheets 2^bits"
    )

    @property
    def code_at_vref(self) -> int:
        return self.full_scale_code if self.full_scale_code is not None else (1 << self.bits) - 1


class Fifo(_Strict):
    depth_samples: int = Field(gt=0)
    modes: list[str] = []


class Renode(_Strict):
    model: str = Field(description="Renode peripheral class that reads this part's RESD samples")
    resd_sample_type: Literal["TEMPERATURE", "ACCELERATION", "ANGULAR_RATE", "VOLTAGE"]
    resd_unit: float = Field(gt=0, description="physical (or transducer) units per RESD integer, e.g. 1e-6 g")
    resd_from: Literal["quantity", "transducer"] = "quantity"
    note: str = ""


class Part(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: Literal["accelerometer", "microphone", "adc"]
    vendor: str = ""
    description: str = ""
    datasheet: str = ""
    unit: str = Field(description="physical unit of the sensed quantity: g, Pa, degC, A")
    channels: list[str] = Field(min_length=1)
    odr_hz: list[float] = Field(min_length=1)
    default_odr_hz: float
    ranges: dict[float, RangeSpec] = Field(
        default_factory=dict, description="full scale (in `unit`) -> sensitivity; empty for ADC-attached parts"
    )
    default_range: float | None = None
    modes: dict[str, Mode] = Field(min_length=1)
    default_mode: str
    bus: Bus
    quantization: Quantization
    transducer: Transducer | None = None
    adc: Adc | None = None
    fifo: Fifo | None = None
    noise_density: float = Field(0.0, ge=0, description="intrinsic noise, `unit` per sqrt(Hz)")
    bandwidth_fraction: float = Field(0.5, gt=0, le=0.5, description="noise bandwidth as a fraction of ODR")
    cross_axis: float = Field(0.0, ge=0, lt=0.2, description="typical cross-axis sensitivity (fraction)")
    renode: Renode | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Part:
        if self.default_odr_hz not in self.odr_hz:
            raise ValueError(f"default_odr_hz {self.default_odr_hz:g} is not in odr_hz")
        if self.default_mode not in self.modes:
            raise ValueError(f"default_mode {self.default_mode!r} is not in modes")
        if self.kind == "adc":
            if self.adc is None or self.transducer is None:
                raise ValueError("an adc part needs `adc` and `transducer`")
            if self.ranges:
                raise ValueError("an adc part has no `ranges`: its range follows from adc.vref_v and transducer")
        else:
            if not self.ranges or self.default_range is None or self.default_range not in self.ranges:
                raise ValueError("needs `ranges` and a `default_range` that is one of them")
        for name, mode in self.modes.items():
            if mode.data_bits > self.bus.word_bits:
                raise ValueError(f"modes.{name}.data_bits {mode.data_bits} exceed bus.word_bits {self.bus.word_bits}")
        return self

    @property
    def range_choices(self) -> list[float]:
        return sorted(self.ranges)

    def lsb_per_input(self, range_value: float | None, mode: str) -> Fraction:
        """Codes per transducer-output unit (physical unit for digital parts, volts for ADC parts), exact."""
        if self.kind == "adc":
            assert self.adc is not None
            return Fraction(self.adc.code_at_vref) / Fraction(str(self.adc.vref_v))
        assert range_value is not None
        return self.ranges[range_value].lsb_per_unit_exact() / Fraction(str(self.modes[mode].sensitivity_scale))


def fmt_num(value: float) -> str:
    """2.0 -> '2', 1.6 -> '1.6': numbers as a person writes them in a list of choices."""
    return f"{value:g}"


@cache
def _load_part(path: Path) -> Part:
    return load_named_model(path, Part)


def available_parts(extra_dirs: tuple[Path, ...] = ()) -> list[str]:
    names = {p.stem for d in (PARTS_DIR, *extra_dirs) for p in d.glob("*.yaml")}
    return sorted(names)


def find_part(name: str, base_dir: Path | None = None) -> Path | None:
    """A part named `lis2dw12` comes from the built-in folder; `parts/my_probe.yaml` is a path from `base_dir`."""
    if name.endswith((".yaml", ".yml")):
        path = Path(name)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if base_dir is not None and not confined(base_dir, name):
            return None  # outside the scenario's source roots: never read (scenario.confine says why)
        return path.resolve() if path.exists() else None
    path = PARTS_DIR / f"{name}.yaml"
    return path if path.exists() else None


def load_part(name: str, base_dir: Path | None = None) -> Part:
    path = find_part(name, base_dir)
    if path is None:
        raise BadInput(f"unknown part {name!r}: built-in parts are {', '.join(available_parts())}")
    return _load_part(path)
