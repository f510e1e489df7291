"""The cycle model against hand counts, live: the cycle_bench micro-benchmarks run on QEMU (netduinoplus2 for
stm32f405, netduino2 for the Cortex-M3 stm32f205) with the cycles plugin reading the model's cost table; the model's
estimate of each benchmark's window (a span between its two timebase reads) must equal the count worked out by hand
in cycle_bench_expected.py, and the model's total, recomputed from the profile, must equal the plugin's running
total."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cosim_testing import needs_qemu
from cycle_bench_expected import expected
from elftools.elf.elffile import ELFFile

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import Board, load_board
from tinyml_cosim.cycles.costtable import write_cost_table
from tinyml_cosim.cycles.estimate import CycleEstimate, estimate
from tinyml_cosim.cycles.memory_system import memory_system
from tinyml_cosim.elf.image import elf_symbols

try:
    from tinyml_cosim.engines.qemu import cycleplugin

    MISSING = cycleplugin.unavailable_reason()
except ImportError as exc:  # the plugin's host side is another helper's work
    MISSING = f"engines/qemu/cycleplugin.py is not importable yet ({exc})"

pytestmark = [needs_qemu, pytest.mark.skipif(MISSING is not None, reason=f"cycle plugin: {MISSING}")]


def run(board: Board, variant: str, tmp: Path) -> tuple[CycleEstimate, list[str]]:
    """Run the benchmarks once under the plugin; the estimate with one span per benchmark (its second run)."""
    elf = build(board, "cycle_bench").elf
    memory = memory_system(board) if variant == "art_on" else memory_system(board, False, False, prefetch=False)
    costs, profile = tmp / f"costs-{variant}.txt", tmp / f"{variant}.profile"
    static = write_cost_table(costs, elf, board, memory)
    argv = ["qemu-system-arm", "-M", board.engines.qemu.machine, "-kernel", str(elf), "-display", "none",
            "-monitor", "none", "-serial", "null", "-icount", "shift=0,sleep=off",
            "-semihosting-config", "enable=on,target=native",
            *cycleplugin.qemu_args(costs, profile)]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    raw = cycleplugin.read_profile(profile)
    with elf.open("rb") as fh:
        symbols = {s.name: s.address for s in elf_symbols(ELFFile(fh))}
    spans, names = [], list(expected(board.id))
    for name in names:
        # the second run of each benchmark: its last snapshot at each of the two reads
        (a,) = [int(s["instructions"]) for s in raw.snapshots if s["pc"] == symbols[f"cb_{name}_a"]][-1:]
        (b,) = [int(s["instructions"]) for s in raw.snapshots if s["pc"] == symbols[f"cb_{name}_b"]][-1:]
        spans.append((a, b))
    return estimate(raw, static, board.clock_hz, spans), names


@pytest.mark.parametrize("variant", ["art_on", "art_off"])
@pytest.mark.parametrize("board_id", ["stm32f405", "stm32f205"])
def test_benchmarks_cost_what_the_trm_tables_say(tmp_path: Path, board_id: str, variant: str) -> None:
    est, names = run(load_board(board_id), variant, tmp_path)
    assert est.consistent, est.problems
    assert est.cycles == est.plugin_cycles and est.unknown_instructions == 0
    measured = {name: span.cycles for name, span in zip(names, est.spans, strict=True)}
    hand = {name: counts[variant] for name, counts in expected(board_id).items() if variant in counts}
    assert {name: measured[name] for name in hand} == hand
    assert all(span.offset_instructions == 0 for span in est.spans)  # the spans are the snapshots themselves
    # the four loads that crossed between SRAM (a stack load included) and flash (a literal included), and no other
    # window, took back their pipelining cycle
    breaks = {name: span.parts.get("load_pipeline", 0) for name, span in zip(names, est.spans, strict=True)}
    assert {name: n for name, n in breaks.items() if n} == {"load_blocks": 4}
    assert est.categories["load_pipeline"] >= 2 * 4  # both runs of load_blocks, and whatever the start-up crossed
    assert est.band[0] < est.cycles < est.band[1]
    if variant == "art_off":  # no ART: every flash line read waits; the RAM loop does not notice
        assert est.categories["fetch_wait"] > 0 and est.categories["data_wait"] > 0
    functions = est.functions
    assert functions["cb_loop_flash"].instructions == functions["cb_loop_ram"].instructions
