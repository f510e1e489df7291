"""Board descriptions: `platforms/<id>.yaml` is the single source of truth for a board's memory, clock and engines."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tinyml_cosim.core import resources
from tinyml_cosim.core.board_engines import Engines
from tinyml_cosim.core.board_values import refused_cflag
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.memory_system import CycleModel
from tinyml_cosim.core.yamlfile import empty_values, format_loc, load_yaml, validation_messages

# The stack every build of the project reserves (its linker script); the model compiler budgets RAM with it too.
DEFAULT_STACK_BYTES = 8 * 1024
PLATFORMS_DIR = Path(os.environ.get("COSIM_PLATFORMS", resources.PLATFORMS_DIR))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


EngineName = Literal["qemu", "renode"]


class Region(_Strict):
    origin: int = Field(ge=0, le=0xFFFFFFFF)
    size: int = Field(gt=0, le=0x100000000)
    usable: bool = True
    note: str | None = None
    # What the datasheet calls it ("CCM RAM", "SRAM2"), for a diagnosis naming an access there. Neither this nor
    # not_mapped_by changes a binary: both are left out of the dump the build key hashes.
    name: str | None = Field(None, min_length=1, exclude=True)
    # Engines whose machine leaves this memory of the chip unmapped: an access there faults on them (an engine gap,
    # not a firmware bug, and the diagnosis says so).
    not_mapped_by: list[EngineName] = Field([], exclude=True)

    @property
    def end(self) -> int:
        return self.origin + self.size

    def contains(self, start: int, length: int) -> bool:
        return self.origin <= start and start + length <= self.end


class Memory(_Strict):
    flash: Region
    ram: Region
    ccm: Region | None = None

    def regions(self) -> list[tuple[str, Region]]:
        return [("flash", self.flash), ("ram", self.ram)] + ([("ccm", self.ccm)] if self.ccm else [])

    @model_validator(mode="after")
    def _no_overlap(self) -> Memory:
        regions = [("flash", self.flash), ("ram", self.ram)] + ([("ccm", self.ccm)] if self.ccm else [])
        for i, (na, a) in enumerate(regions):
            for nb, b in regions[i + 1 :]:
                if a.origin < b.end and b.origin < a.end:
                    raise ValueError(f"regions {na} and {nb} overlap")
        return self


# Peripheral names become C identifiers in -D flags (COSIM_TIMEBASE_HANDLER=TIM2_IRQHandler), which make's recipe
# hands to the shell: nothing but an identifier may get there.
PeripheralName = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")


class Uart(_Strict):
    name: str = PeripheralName
    base: int


class Uarts(_Strict):
    console: Uart
    data: Uart


class Timer(_Strict):
    name: str = PeripheralName
    base: int
    irq: int = Field(ge=0, le=239)


class Timers(_Strict):
    timebase: Timer
    service: Timer


class Peripheral(_Strict):
    base: int
    registers: dict[str, int] = {}


class SensorWiring(_Strict):
    """A sensor on the board's PCB: which part, on which bus, at which address, its interrupt pins to which GPIOs.

    Engines with a model of the part put it there (Renode: engines/renode/sensors.py); the binary does not change.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="the scenario sensor it plays (scenario sensors[].id)")
    # A built-in part's name, never a path: a board file (possibly from an untrusted pull request) has no source
    # directory to confine a part file to (docs/security.md).
    part: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="a part in sensors/parts (lis2dw12, ...)")
    bus: str = Field(description="the MCU's bus, as the engine names it: i2c1, spi2")
    address: int | None = Field(None, description="7-bit I2C address (0x08..0x77); none on SPI")
    interrupts: dict[str, str] = Field({}, description="part pin -> MCU GPIO, e.g. {INT1: PA0}")

    @field_validator("bus")
    @classmethod
    def _bus_name(cls, v: str) -> str:
        if not re.fullmatch(r"(i2c|spi)[1-9]", v):
            raise ValueError(f"{v!r} is not an I2C or SPI bus; write i2c<n> or spi<n>, e.g. i2c1")
        return v

    @field_validator("address")
    @classmethod
    def _seven_bit(cls, v: int | None) -> int | None:
        if v is not None and not 0x08 <= v <= 0x77:
            raise ValueError(f"0x{v:X} is not a 7-bit I2C device address (0x08..0x77)")
        return v

    @field_validator("interrupts")
    @classmethod
    def _gpio_names(cls, v: dict[str, str]) -> dict[str, str]:
        for pin, gpio in v.items():
            if not re.fullmatch(r"P[A-K](1[0-5]|[0-9])", gpio):
                raise ValueError(f"{pin}: {gpio!r} is not a GPIO pin; write it as P<port><0-15>, e.g. PA0")
        if len(set(v.values())) != len(v):
            raise ValueError("two pins of the part are wired to the same GPIO")
        return v

    @model_validator(mode="after")
    def _address_fits_bus(self) -> SensorWiring:
        if self.bus.startswith("i2c"):
            if self.address is None:
                raise ValueError(f"address: an I2C sensor on {self.bus} needs its 7-bit address (0x08..0x77)")
        elif self.address is not None:
            raise ValueError(f"address: {self.bus} is an SPI bus; an SPI sensor has no address (leave it out)")
        return self


class Compiler(_Strict):
    cflags: list[str] = Field(min_length=1, max_length=64)

    @field_validator("cflags")
    @classmethod
    def _allowed(cls, v: list[str]) -> list[str]:
        for flag in v:
            why = refused_cflag(flag)
            if why is not None:
                shown = flag if len(flag) <= 40 else flag[:37] + "..."
                raise ValueError(
                    f"{shown!r} {why}; allowed are the code-generation flags -mcpu=, -march=, -mtune=, -mthumb, "
                    "-mfloat-abi=, -mfpu=, -O<level>, -D<NAME>[=<value>], -f<codegen option>, -g<level>, -W<warning>"
                )
        return v


class SiliconBand(_Strict):
    low: float = Field(gt=0)
    high: float = Field(gt=0)


class SiliconFactor(_Strict):
    """One kernel set's calibrated instructions-to-cycles factor (bench/calibrate_silicon.py): silicon cycles per
    emulated instruction of an inference span, with the band a new model's factor is expected in."""

    cycles_per_instruction: float = Field(gt=0)
    band: SiliconBand
    source: str = Field(min_length=1, description="the silicon measurements and the calibration that produced this")
    calibrated_on: list[str] = Field(min_length=1, description="the models the factor was fitted on")
    leave_one_out: str | None = Field(None, description="leave-one-out coverage of the band, e.g. 3/3 covered")
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="calibration date, YYYY-MM-DD")

    @model_validator(mode="after")
    def _inside_band(self) -> SiliconFactor:
        if not self.band.low <= self.cycles_per_instruction <= self.band.high:
            raise ValueError(
                f"cycles_per_instruction {self.cycles_per_instruction} must lie inside the band "
                f"{self.band.low} .. {self.band.high}"
            )
        return self


KernelSet = Literal["ref", "cmsis-nn"]


class Silicon(_Strict):
    """Silicon calibration of the board's core, per kernel set; or `unavailable` with the reason (then every time
    is instruction time, instructions / f_clk). Never changes the simulated time base."""

    core: str | None = Field(None, description="the core of the silicon the factors were measured on")
    kernels: dict[KernelSet, SiliconFactor] = {}
    unavailable: str | None = Field(None, description="why there is no silicon data for this board")

    @model_validator(mode="after")
    def _factors_or_reason(self) -> Silicon:
        if bool(self.kernels) == bool(self.unavailable):
            raise ValueError("give either `kernels` (calibrated factors) or `unavailable` (the reason), not both")
        if self.kernels and not self.core:
            raise ValueError("`core` (the core the silicon measurements were made on) is required with `kernels`")
        return self


# The register layer cosim.h uses (firmware/ports/<port>/): stm32f4 = USART SR/DR and the F2/F4 RCC; stm32l4 = the
# ISR/TDR/RDR USART and the L4 RCC (newer families: L4, L4+, G4, ...).
Port = Literal["stm32f4", "stm32l4"]
PORTS: tuple[str, ...] = ("stm32f4", "stm32l4")


class Board(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    mcu: str
    port: Port = Field("stm32f4", description="cosim.h port layer for this part (firmware/ports/<port>/)")
    core: Literal["cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"]
    fpu: Literal["fpv4-sp-d16", "fpv5-sp-d16", "fpv5-d16"] | None
    dsp: bool
    clock_hz: int = Field(gt=0, le=2_000_000_000)
    memory: Memory
    compiler: Compiler
    uarts: Uarts
    timers: Timers
    peripherals: dict[str, Peripheral] = {}
    engines: Engines
    # Off-chip wiring for engines that model the sensors: no effect on the binary, so out of the build-key dump.
    sensors: list[SensorWiring] = Field([], exclude=True)
    # Estimates silicon latency of inference spans only; it does not change the binary, so it is excluded from
    # dumps (tinyml_cosim/build.py hashes model_dump_json() into the build key).
    # Required (`silicon: {unavailable: reason}` when there is no data), so a board file cut short before it fails.
    silicon: Silicon = Field(exclude=True)
    # The memory system's timing for the cycle model (core/memory_system.py, used by tinyml_cosim.cycles).
    # It estimates cycles beside the instruction time and does not change the binary: out of the build-key dump.
    cycle_model: CycleModel | None = Field(None, exclude=True)

    @field_validator("clock_hz")
    @classmethod
    def _whole_mhz(cls, v: int) -> int:
        # Renode's PerformanceInMips is an integer; one time model means f_clk must be a whole number of MHz.
        if v % 1_000_000:
            raise ValueError("must be a whole number of MHz (Renode's PerformanceInMips is an integer)")
        return v

    @model_validator(mode="after")
    def _flags_match_core(self) -> Board:
        flags = " ".join(self.compiler.cflags)
        if f"-mcpu={self.core}" not in flags:
            raise ValueError(f"compiler.cflags must contain -mcpu={self.core} for core {self.core}")
        if self.fpu and "-mfloat-abi=hard" not in flags:
            raise ValueError(f"fpu {self.fpu} needs -mfloat-abi=hard in compiler.cflags")
        if not self.fpu and "-mfloat-abi=hard" in flags:
            raise ValueError("a core without FPU cannot use -mfloat-abi=hard")
        ids = [w.id for w in self.sensors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"sensors: each id must be unique, got {', '.join(ids)}")
        places = [(w.bus, w.address) for w in self.sensors if w.address is not None]
        if len(set(places)) != len(places):
            raise ValueError("sensors: two sensors share a bus and an address")
        if self.silicon and self.silicon.core and self.silicon.core != self.core:
            raise ValueError(
                f"silicon.core {self.silicon.core} differs from the board's core {self.core}: "
                "a factor is per core, calibrate on silicon with this core"
            )
        if self.cycle_model is not None:
            cm = self.cycle_model
            if cm.core != self.core:
                raise ValueError(f"cycle_model.core {cm.core} differs from the board's core {self.core}")
            flash = self.memory.flash
            if not any(a.origin <= flash.origin and flash.end <= a.origin + a.size for a in cm.flash):
                raise ValueError(
                    f"cycle_model.flash must cover the board's flash 0x{flash.origin:08X}..0x{flash.end:08X}"
                )
            if cm.latency and cm.wait_states_at(self.clock_hz) != cm.wait_states:
                raise ValueError(
                    f"cycle_model.wait_states {cm.wait_states} differs from its latency table's "
                    f"{cm.wait_states_at(self.clock_hz)} at clock_hz {self.clock_hz}: set it to that, or keep the "
                    f"file's clock and run the board below it as `{self.id}@{self.clock_hz // 1_000_000}MHz`"
                )
        return self

    @property
    def mips(self) -> int:
        return self.clock_hz // 1_000_000

    def seconds(self, instructions: int) -> float:
        """The one time model of the project: one instruction per clock at the board's f_clk."""
        return instructions / self.clock_hz

    def instructions(self, seconds: float) -> int:
        return round(seconds * self.clock_hz)

    def peripheral_at(self, address: int) -> tuple[str, str | None] | None:
        """Name the peripheral (and register, when known) that `address` falls in."""
        for name, p in self.peripherals.items():
            if p.base <= address < p.base + 0x400:
                reg = next((r for r, off in p.registers.items() if p.base + off == address), None)
                return name, reg
        return None


def board_path(board_id: str) -> Path:
    return PLATFORMS_DIR / f"{board_id}.yaml"


def available_boards() -> list[str]:
    return sorted(p.stem for p in PLATFORMS_DIR.glob("*.yaml"))


# The one board field whose empty value means something (no FPU). Everywhere else a key with no value is what a
# file cut short leaves (`silicon:` as its last line): refused, so truncation is an error, not a smaller board.
_NULLABLE: frozenset[tuple[Any, ...]] = frozenset({("fpu",)})


@cache
def _load(path: Path) -> Board:
    data, lines = load_yaml(path, "board file")
    if not isinstance(data, dict):
        raise BadInput(f"{path}:1: expected a mapping of board fields at the top level, got {type(data).__name__}")
    empty = empty_values(data, _NULLABLE)
    if empty:
        raise BadInput(
            "\n".join(
                f"{path}:{lines.get(loc, 1)}: {format_loc(loc)}: has no value (is the file cut short?); "
                "give its value or leave the key out"
                for loc in empty
            )
        )
    try:
        board = Board.model_validate(data)
    except ValidationError as exc:
        raise BadInput("\n".join(validation_messages(path, exc, lines))) from None
    if board.id != path.stem:
        raise BadInput(f"{path}:1: id: {board.id!r} must match the file name {path.stem!r}")
    return board


# `stm32f405@84MHz`: the board run at a lower clock than its file's clock_hz (a scenario's `board:`, a sweep's
# clock_hz axis). The reference travels as the board id, so every place that loads the board by id gets the clock.
_AT_CLOCK = re.compile(r"^(?P<id>[a-z0-9_]+)@(?P<mhz>[0-9]{1,4})MHz$")


def board_ref(board_id: str, clock_hz: int | None) -> str:
    """The board id for `board_id` at `clock_hz` (None: its default clock): `stm32f405@84MHz`."""
    if clock_hz is None:
        return board_id
    board_id = board_id.partition("@")[0]  # a base scenario's `stm32f405@84MHz` swept over clocks: the clock replaces
    if clock_hz <= 0 or clock_hz % 1_000_000:
        raise BadInput(f"clock_hz {clock_hz}: give a positive whole number of MHz in Hz, e.g. 84000000")
    return f"{board_id}@{clock_hz // 1_000_000}MHz"


def at_clock(board: Board, clock_hz: int) -> Board:
    """`board` run at `clock_hz` (at most its file's clock_hz, the part's maximum): time is instructions / clock_hz,
    and the cycle model's flash wait states are its latency table's row for the clock. The emulator's instruction
    counts do not change (QEMU -icount counts instructions, not cycles); the build does (-DCOSIM_CLOCK_HZ)."""
    if clock_hz == board.clock_hz:
        return board
    if clock_hz <= 0 or clock_hz % 1_000_000:
        raise BadInput(f"board {board.id}: clock {clock_hz} Hz: give a positive whole number of MHz")
    if clock_hz > board.clock_hz:
        raise BadInput(
            f"board {board.id}@{clock_hz // 1_000_000}MHz: {clock_hz / 1e6:g} MHz is above the {board.mcu}'s maximum "
            f"of {board.mips} MHz (clock_hz in {board_path(board.id)}); give at most {board.mips} MHz"
        )
    cm = board.cycle_model
    if cm is not None:
        if not cm.latency:
            raise BadInput(
                f"board {board.id}: its cycle_model has no flash latency table (cycle_model.latency), so the wait "
                f"states at {clock_hz / 1e6:g} MHz are unknown; add the reference manual's table to "
                f"{board_path(board.id)}"
            )
        cm = cm.at_clock(clock_hz)
    return board.model_copy(update={"id": board_ref(board.id, clock_hz), "clock_hz": clock_hz, "cycle_model": cm})


def load_board(board: str | Path) -> Board:
    """Load a board by id (`stm32f405`, or `stm32f405@84MHz` at a lower clock) or by path to its YAML file."""
    at = _AT_CLOCK.match(board) if isinstance(board, str) else None
    if at is not None:
        return at_clock(load_board(at["id"]), int(at["mhz"]) * 1_000_000)
    path = Path(board)
    if path.suffix not in (".yaml", ".yml"):
        path = board_path(str(board))
        if not path.exists():
            known = ", ".join(available_boards()) or "none"
            raise BadInput(f"unknown board {board!r}: known boards are {known} (files in {PLATFORMS_DIR})")
    return _load(path.resolve())
