"""What Renode is told: the board's platform overlay (.repl), the setup commands (.resc) and the time arithmetic.

Everything here is pure text generation from the board YAML and the facts in `tinyml_cosim.engines.renode.facts`, so the
unit tests can check it without Renode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tinyml_cosim.core.boards import Board, Region
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.engines.renode.facts import (
    RENODE_VERSION,
    STM32F4_MISSING,
    STM32F4_REPL,
    STOCK_PLATFORMS,
    StockPeripheral,
)
from tinyml_cosim.engines.renode.sensors import SensorFeed, sensor_commands

MACHINE_NAME = "cosim"
# CPU types whose tlib model differs from their name (renode_facts.TLIB_CPU_TYPES).
TLIB_CPU_MISMATCH = {
    "cortex-m4f": "tlib (arch/arm/helper.c) models cortex-m4f with the Cortex-M7 CPUID and FPv5; cortex-m4 has VFP4",
}
CONSOLE_TERMINAL = "cosim_console"
# A fixed seed: Renode's RandomGenerator feeds models like the RNG; the same seed gives the same run.
DEFAULT_SEED = 1


# --- time ---
def time_grain(mips: int) -> int:
    """The smallest instruction count Renode's virtual time can express at `mips`.

    TimeInterval has 1 ns ticks and FromCPUCycles keeps a residuum modulo mips / gcd(mips, 1000): time (and every
    timer driven by it, TIM2 included) advances in whole multiples of this many instructions. 21 at 168 MIPS.
    """
    return mips // math.gcd(mips, 1000)


def round_up_to_grain(cycles: int, mips: int) -> int:
    grain = time_grain(mips)
    return max(grain, -(-cycles // grain) * grain)


def run_for_argument(cycles: int, mips: int) -> str:
    """The `emulation RunFor` argument for exactly `cycles` instructions (a multiple of the grain) at `mips`.

    TimeInterval.TryParse computes the fraction as (ulong)(double.Parse("0.<digits>") * 1e9), which truncates;
    "0.000000125" could come out as 124 ns. Appending a 10th digit 5 (half a nanosecond) makes the truncation land
    on the intended nanosecond whatever the binary rounding of the decimal.
    """
    grain = time_grain(mips)
    if cycles <= 0 or cycles % grain:
        raise ValueError(f"{cycles} instructions is not a positive multiple of the {grain}-instruction grain")
    ns = cycles * 1000 // mips
    seconds, frac = divmod(ns, 1_000_000_000)
    return f'"{seconds}.{frac:09d}5"'


def parsed_run_for_ns(argument: str) -> int:
    """Renode's own reading of a RunFor argument (TimeInterval.TryParse), reproduced for the tests."""
    text = argument.strip('"')
    seconds, _, digits = text.partition(".")
    ticks = int(seconds) * 1_000_000_000
    if digits:
        ticks += int(float(f"0.{digits}") * 1e9)  # IEEE double, as .NET's double.Parse and multiply
    return ticks


# --- platform overlay ---
@dataclass(frozen=True)
class OverlayPlan:
    """What the overlay changes relative to the stock platform, kept as data so tests can check it."""

    stock: str
    memory_sizes: dict[str, int]  # stock entry -> datasheet size
    new_memories: dict[str, tuple[int, int]]  # new entry -> (address, size)
    removed: dict[str, str]  # stock entry -> why it is not on this part
    frequencies: dict[str, tuple[str, int]]  # stock entry -> (attribute, Hz)
    cpu_type: str | None  # None: keep the stock cpuType
    timer_names: dict[str, str]  # board timer role -> stock name
    uart_names: dict[str, str]  # board uart role -> stock name


def _stock_for(board: Board) -> dict[str, StockPeripheral]:
    desc = board.engines.renode
    if desc is None or not desc.platform:
        raise BadInput(f"board {board.id} has no Renode platform in its board file")
    try:
        return STOCK_PLATFORMS[desc.platform]
    except KeyError:
        known = ", ".join(sorted(STOCK_PLATFORMS))
        raise BadInput(
            f"board {board.id}: Renode platform {desc.platform!r} has no verified facts in "
            f"tinyml_cosim/engines/renode_facts.py (known: {known})"
        ) from None


def _at(stock: dict[str, StockPeripheral], address: int, type_name: str) -> StockPeripheral | None:
    return next((p for p in stock.values() if p.address == address and p.type == type_name), None)


def plan_overlay(board: Board) -> OverlayPlan:
    stock = _stock_for(board)
    desc = board.engines.renode
    assert desc is not None and desc.platform
    sizes: dict[str, int] = {}
    new: dict[str, tuple[int, int]] = {}
    regions: list[tuple[str, Region]] = [("flash", board.memory.flash), ("ram", board.memory.ram)]
    if board.memory.ccm:
        regions.append(("ccm", board.memory.ccm))
    for role, region in regions:
        entry = _at(stock, region.origin, "Memory.MappedMemory")
        if entry is None:
            # Not in the stock file (CCM on the STM32F4): declare it, so an access there behaves as on silicon.
            new[role] = (region.origin, region.size)
        elif entry.attributes.get("size") != region.size:
            sizes[entry.name] = region.size
    removed: dict[str, str] = {}
    # Pin-count letter (10th character, RM0090/DS8626 ordering information): R = 64 pins, which has no FSMC.
    if desc.platform == STM32F4_REPL and board.mcu[9:10] == "R" and "fsmcBank1" in stock:
        removed["fsmcBank1"] = f"{board.mcu} (64 pins) has no FSMC: external memory bank 1 does not exist"
    timers: dict[str, str] = {}
    freqs: dict[str, tuple[str, int]] = {}
    for role in ("timebase", "service"):
        timer = getattr(board.timers, role)
        entry = _at(stock, timer.base, "Timers.STM32_Timer")
        if entry is None:
            raise BadInput(f"board {board.id}: no STM32_Timer at 0x{timer.base:08x} ({timer.name}) in {desc.platform}")
        if entry.irq != timer.irq:
            raise BadInput(
                f"board {board.id}: {timer.name} uses IRQ {timer.irq}, but {desc.platform} wires {entry.name} to "
                f"IRQ {entry.irq}"
            )
        timers[role] = entry.name
        # One tick per instruction: the timer's input clock is f_clk (PSC=0 in the firmware).
        freqs[entry.name] = ("frequency", board.clock_hz)
    nvic = next(p for p in stock.values() if p.type == "IRQControllers.NVIC")
    # SysTick always counts the processor clock (CLKSOURCE reads 1): f_clk gives one tick per instruction.
    freqs[nvic.name] = ("systickFrequency", board.clock_hz)
    uarts: dict[str, str] = {}
    for role in ("console", "data"):
        uart = getattr(board.uarts, role)
        entry = _at(stock, uart.base, "UART.STM32_UART")
        if entry is None:
            raise BadInput(f"board {board.id}: no STM32_UART at 0x{uart.base:08x} ({uart.name}) in {desc.platform}")
        uarts[role] = entry.name
    cpu = next(p for p in stock.values() if p.type == "CPU.CortexM")
    cpu_type = desc.cpu_type if desc.cpu_type and desc.cpu_type != cpu.attributes.get("cpuType") else None
    return OverlayPlan(desc.platform, sizes, new, removed, freqs, cpu_type, timers, uarts)


def overlay_text(board: Board) -> str:
    """The .repl Renode loads for `board`: the stock description, corrected to the datasheet and the time model."""
    plan = plan_overlay(board)
    out = [
        f"// Generated by tinyml-cosim from platforms/{board.id}.yaml for Renode {RENODE_VERSION}; do not edit.",
        f"// {board.mcu}: the stock {plan.stock} corrected to the datasheet and to the one-instruction-per-clock",
        "// time model (PerformanceInMips = f_clk / 1 MHz, so every clock below is f_clk).",
        f'using "{plan.stock}"',
        "",
    ]
    for name, size in plan.memory_sizes.items():
        out += [
            f"// datasheet size (the stock file declares more than {board.mcu} has)",
            f"{name}:",
            f"    size: 0x{size:X}",
            "",
        ]
    for name, (address, size) in plan.new_memories.items():
        out += [
            "// on the datasheet but not in the stock file",
            f"{name}: Memory.MappedMemory @ sysbus 0x{address:08X}",
            f"    size: 0x{size:X}",
            "",
        ]
    for name, why in plan.removed.items():
        out += [f"// {why}", f"{name}: @none", ""]
    if plan.cpu_type:
        out.append("// cpu_type from the board file")
        if plan.cpu_type in TLIB_CPU_MISMATCH:
            out.append(f"// note: {TLIB_CPU_MISMATCH[plan.cpu_type]}")
        out += ["cpu:", f'    cpuType: "{plan.cpu_type}"', ""]
    for name, (attribute, hz) in plan.frequencies.items():
        out += [f"{name}:", f"    {attribute}: {hz}", ""]
    out += [
        "// Replaces the stock init section, whose first statement downloads an SVD description from the network",
        "// whenever the platform is loaded.",
        "// Report (Renode's default, set so nothing else changes it) logs every access to unmapped addresses: Renode",
        "// does not fault on them, the engine ends the run on the first one outside the peripheral space.",
        "sysbus:",
        "    init:",
        "        UnhandledAccessBehaviour Report",
        "",
    ]
    return "\n".join(out)


def missing_peripherals(board: Board) -> dict[str, tuple[int, str]]:
    """Peripherals of the part that the stock description lacks (documented, not modelled)."""
    plan = plan_overlay(board)
    return dict(STM32F4_MISSING) if plan.stock == STM32F4_REPL else {}


# --- setup commands ---
@dataclass(frozen=True)
class HookSpec:
    address: int  # cosim_mailbox_doorbell
    script: str  # the one-line Python the hook runs


def _path(p: Path) -> str:
    text = str(Path(p).resolve())
    # The monitor's PathToken is `@` followed by non-space characters (a backslash escapes a space).
    if any(c in text for c in "\"';\n"):
        raise BadInput(f"{text}: Renode cannot load a path containing quotes, ';' or newlines; use another workdir")
    return "@" + text.replace(" ", "\\ ")


def setup_commands(
    board: Board,
    *,
    overlay: Path,
    elf: Path,
    host_config: tuple[int, list[int]] | None,
    console_port: int,
    hook: HookSpec | None = None,
    gdb_port: int | None = None,
    seed: int = DEFAULT_SEED,
    sensors: Sequence[SensorFeed] = (),
) -> list[str]:
    """The monitor commands that build the machine, in order; the engine sends them one by one.

    `sensors`: the board's wired sensors this run feeds (engines/renode/sensors.py), loaded after the platform."""
    plan = plan_overlay(board)
    cmds = [
        f'mach create "{MACHINE_NAME}"',
        f"machine LoadPlatformDescription {_path(overlay)}",
        *sensor_commands(board, sensors),
        # Renode would otherwise sleep to keep virtual time behind host time; a co-simulation runs flat out.
        "emulation SetGlobalAdvanceImmediately true",
        f"emulation SetSeed {seed}",
        # The time model: one instruction per clock at f_clk. PerformanceInMips is an integer (board enforces MHz).
        f"cpu PerformanceInMips {board.mips}",
        f"sysbus LoadELF {_path(elf)}",
        # Renode would guess the vector table from the lowest loaded section; the flash origin is what silicon uses.
        f"cpu VectorTableOffset 0x{board.memory.flash.origin:08X}",
    ]
    if host_config is not None:
        address, words = host_config
        cmds += [f"sysbus WriteDoubleWord 0x{address + 4 * i:08X} 0x{w:08X}" for i, w in enumerate(words)]
    # Raw TCP (telnetMode false): the console bytes arrive unchanged, no IAC negotiation to strip.
    cmds += [
        f'emulation CreateServerSocketTerminal {console_port} "{CONSOLE_TERMINAL}" false',
        f"connector Connect sysbus.{plan.uart_names['console']} {CONSOLE_TERMINAL}",
    ]
    if hook is not None:
        if '"' in hook.script or "\n" in hook.script:
            raise ValueError("the hook script must be one line without double quotes")
        cmds.append(f'cpu AddHook 0x{hook.address:08X} "{hook.script}"')
    if gdb_port is not None:
        cmds.append(f"machine StartGdbServer {gdb_port} true")
    return cmds


def resc_text(board: Board, commands: list[str]) -> str:
    """The same setup as a Renode script, so a user can reproduce the machine by hand: `renode cosim.resc`."""
    head = [
        f":name: tinyml-cosim {board.id}",
        f":description: {board.mcu} at {board.clock_hz // 1_000_000} MHz, generated by tinyml-cosim; do not edit",
        "",
    ]
    return "\n".join(head + commands) + "\n"
