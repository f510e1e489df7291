"""A board's `cycle_model:` block (the schema; the cycle model itself is tinyml_cosim.cycles): what the chip's memory
system adds to the core's cycles (flash wait states at the board clock, the flash read width, the ST ART
accelerator's prefetch and caches, the exception entry), each with the reference-manual source it comes from. It
lives in core because `Board` holds it (core imports no other package).

The block never changes a binary, so `Board` leaves it out of the dump the build key hashes. Options the chip does not
decide (ART on/off, prefetch on/off) are what the vendor start-up code sets by default: STM32Cube HAL's
`stm32xxxx_hal_conf.h` templates (PREFETCH_ENABLE, INSTRUCTION_CACHE_ENABLE, DATA_CACHE_ENABLE), which `HAL_Init()`
applies.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Exception entry, 12 cycles from the interrupt to the first handler instruction with zero wait states (Cortex-M4 TRM
# DDI 0439B and Cortex-M3 TRM DDI 0337I, exceptions: interrupt latency).
EXCEPTION_ENTRY_CYCLES = 12

# TIMx_CNT, the counter register, at offset 0x24 on the STM32 general-purpose timers (the TIM2..TIM5 register maps of
# RM0090, RM0033, RM0351 and RM0432): a load from the timebase's CNT is what the plugin snapshots.
TIM_CNT_OFFSET = 0x24


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlashAlias(_Strict):
    """One address range where code and data come from the flash array, so wait states apply: the flash itself and
    the boot alias at 0x00000000 (BOOT0 low maps the main flash there)."""

    origin: int = Field(ge=0, le=0xFFFFFFFF)
    size: int = Field(gt=0, le=0x10000000)
    note: str | None = None


class Cache(_Strict):
    """An ART cache: `lines` lines of `line_bytes` each (0 and 0: none, or switched off). The plugin simulates it fully
    associative with LRU replacement (ST documents neither the associativity nor the policy)."""

    lines: int = Field(ge=0, le=1024)
    line_bytes: int = Field(ge=0, le=256)

    @model_validator(mode="after")
    def _both_or_none(self) -> Cache:
        if (self.lines == 0) != (self.line_bytes == 0):
            raise ValueError("give lines and line_bytes both 0 (no cache) or both > 0")
        if self.line_bytes and self.line_bytes & (self.line_bytes - 1):
            raise ValueError(f"line_bytes {self.line_bytes} must be a power of two (4, 8, 16, 32 ...)")
        return self


NO_CACHE = Cache(lines=0, line_bytes=0)


class MemoryBlock(_Strict):
    """One RAM of the bus matrix (SRAM1, SRAM2, CCM ...): neighbouring loads pipeline only when they read the same
    block (cycles/timings.py LOAD_BLOCK_SOURCE). The flash (every `flash` alias) is a block of its own; an address in
    no block (peripherals) counts as one more. Aliases of one RAM share its name."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    origin: int = Field(ge=0, le=0xFFFFFFFF)
    size: int = Field(gt=0, le=0x10000000)


class Sources(_Strict):
    """Where each number comes from: document, table/section, conditions."""

    wait_states: str = Field(min_length=1, description="reference manual table: latency at this clock and voltage")
    latency: str | None = Field(
        None, min_length=1, description="reference manual table the `latency` steps (HCLK range -> WS) come from"
    )
    flash_interface: str = Field(min_length=1, description="flash read width, ART caches and prefetch")
    defaults: str = Field(min_length=1, description="why ART/prefetch are on or off (vendor start-up defaults)")
    exception_entry: str = Field(
        "Cortex-M4 TRM DDI 0439B / Cortex-M3 TRM DDI 0337I, interrupt latency: 12 cycles with zero wait states",
        min_length=1,
    )
    blocks: str | None = Field(None, min_length=1, description="reference manual section of the memory map (SRAMs)")


class Validation(_Strict):
    """How well the model predicted published silicon latencies (bench/timing_validation.py ->
    bench/results/timing_validation.json; tests/test_timing_validation.py keeps these equal to that file). The
    errors widen the estimate's band: a model that under-predicted by 8 % may be 8 % short again."""

    rows: int = Field(ge=1, description="rebuilt rows predicted")
    error_pct_min: float = Field(ge=-100, le=1000, description="most negative (predicted - published) / published %")
    error_pct_max: float = Field(ge=-100, le=1000, description="largest (predicted - published) / published %")
    summary: str = Field(min_length=1, description="what was rebuilt, on which silicon, and where the table is")

    @model_validator(mode="after")
    def _ordered(self) -> Validation:
        if self.error_pct_min > self.error_pct_max:
            raise ValueError(f"error_pct_min {self.error_pct_min} must not exceed error_pct_max {self.error_pct_max}")
        return self


class LatencyStep(_Strict):
    """One row of the reference manual's flash latency table: up to `max_hclk_hz` the flash needs `wait_states`."""

    max_hclk_hz: int = Field(gt=0, le=2_000_000_000)
    wait_states: int = Field(ge=0, le=15)


class CycleModel(_Strict):
    core: Literal["cortex-m3", "cortex-m4"]
    flash: list[FlashAlias] = Field(min_length=1)
    wait_states: int = Field(ge=0, le=15, description="flash wait states (latency) at the board clock")
    # The whole table, so a board run below its default clock (a scenario's `board: stm32f405@84MHz`, a sweep's
    # clock_hz axis) gets the wait states of that clock: core/boards.py at_clock.
    latency: list[LatencyStep] = Field(
        [], description="flash latency table at the board's voltage range: HCLK upper bounds ascending -> WS"
    )
    fetch_bytes: Literal[4, 8, 16, 32] = Field(description="bytes one flash read returns (F2/F4: 16, L4: 8)")
    prefetch: bool
    icache: Cache
    dcache: Cache
    exception_entry: int = Field(EXCEPTION_ENTRY_CYCLES, ge=0, le=100)
    blocks: list[MemoryBlock] = Field([], description="the RAM blocks of the memory map (load pipelining)")
    timebase_cnt_offset: int = Field(TIM_CNT_OFFSET, ge=0, le=0x3FC)
    sources: Sources
    note: str | None = None
    validation: Validation | None = Field(None, description="the model's error against silicon, where measured")

    @model_validator(mode="after")
    def _consistent(self) -> CycleModel:
        for cache_name in ("icache", "dcache"):
            cache: Cache = getattr(self, cache_name)
            if cache.line_bytes and cache.line_bytes % self.fetch_bytes:
                raise ValueError(
                    f"{cache_name}.line_bytes {cache.line_bytes} must be a multiple of fetch_bytes {self.fetch_bytes}"
                )
        bounds = [step.max_hclk_hz for step in self.latency]
        if bounds != sorted(set(bounds)):
            raise ValueError("latency: give the steps with max_hclk_hz strictly ascending")
        if self.latency and self.sources.latency is None:
            raise ValueError("sources.latency: say which reference manual table the latency steps come from")
        spans = sorted((a.origin, a.origin + a.size) for a in self.flash)
        for (_, end), (start, _) in pairwise(spans):
            if start < end:
                raise ValueError("flash aliases overlap")
        ranges = sorted((b.origin, b.origin + b.size, b.name) for b in self.blocks)
        for (_, end, first), (start, _, second) in pairwise(ranges):
            if start < end:
                raise ValueError(f"blocks {first} and {second} overlap")
        if any(s < e and o < f for o, e, _ in ranges for s, f in spans):
            raise ValueError("a block overlaps the flash: the flash is a block of its own, leave it out of blocks")
        if self.blocks and self.sources.blocks is None:
            raise ValueError("sources.blocks: say which reference manual section the RAM blocks come from")
        return self

    def block_ids(self) -> list[tuple[int, int, int]]:
        """(origin, size, id) of every block range: the flash aliases are id 0, the RAMs 1.. in order of first name."""
        names: dict[str, int] = {}
        out = [(a.origin, a.size, 0) for a in self.flash]
        for b in self.blocks:
            out.append((b.origin, b.size, names.setdefault(b.name, len(names) + 1)))
        return out

    def wait_states_at(self, hclk_hz: int) -> int | None:
        """The flash wait states at `hclk_hz` from the latency table (None: no table, or above its last row)."""
        return next((step.wait_states for step in self.latency if hclk_hz <= step.max_hclk_hz), None)

    def at_clock(self, hclk_hz: int) -> CycleModel:
        """The same memory system at another clock: the wait states of the latency table's row for `hclk_hz`."""
        ws = self.wait_states_at(hclk_hz)
        if ws is None:
            raise ValueError(f"no flash latency row for {hclk_hz / 1e6:g} MHz (cycle_model.latency)")
        return self.model_copy(update={"wait_states": ws})

    def with_art(self, icache: bool = True, dcache: bool = True, prefetch: bool | None = None) -> CycleModel:
        """The same memory system with the ART caches (and prefetch) switched as a start-up code would: for variants
        such as "ART off" that the board file's defaults do not describe."""
        return self.model_copy(
            update={
                "icache": self.icache if icache else NO_CACHE,
                "dcache": self.dcache if dcache else NO_CACHE,
                "prefetch": self.prefetch if prefetch is None else prefetch,
            }
        )
