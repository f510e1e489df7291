"""Wall time of a ~100 M-instruction foreign firmware on QEMU without plugins, with the exact-count plugin, and with
the exact-count plus the cycle-profile plugin (issue 15; goal: at most 2x the run without plugins).

    python bench/cycle_plugin_overhead.py [--repeat 3] [--out bench/results/cycle_plugin_overhead.json]

The firmware is tests/firmware/foreign/busy_loop (ITERATIONS=6200000: about 100 M instructions, a USART read every
64 rounds); QEMU runs directly (`-M netduinoplus2 -icount shift=0,sleep=off`, semihosting exit), not through the
engine. The cost table is synthetic (tests/support/synthetic_costs.py: base 1) with an STM32F4-like memory system
(5 wait states, 16-byte lines, prefetch, 64-line ART instruction cache, 8-line data cache, the memory blocks), so the
fetch and data cache models do their full work. The load average is recorded: other people share this machine, so
wall times are noisy; CPU seconds (user + system of QEMU's threads) are recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))

from foreign import make_foreign  # noqa: E402  (test support modules, beside the tests)
from synthetic_costs import code_of, cost_table  # noqa: E402

from tinyml_cosim.engines.qemu import cycleplugin, plugin  # noqa: E402

ITERATIONS = "6200000"
# The F405's memory blocks too (flash, SRAM1, SRAM2; stack in SRAM2): every literal and stack load then gets the
# instruction callback that keeps the load-pipelining rule's order.
MEMORY = ["wait_states 5", "fetch_bytes 16", "prefetch 1", "icache 64 16", "dcache 8 16", "block 08000000 100000 0",
          "block 20000000 1c000 1", "block 2001c000 4000 2", "stack_block 2"]  # fmt: skip
MODES = ("none", "icount", "icount+cycles")


def run(elf: Path, mode: str, work: Path, costs: Path) -> tuple[float, float, int | None, int | None]:
    """Wall seconds, CPU seconds (user + system, all of QEMU's threads), the exact count (icount plugin), the
    cycle plugin's cycles."""
    state, profile = work / "icount.state", work / "cycles.profile"
    argv = ["qemu-system-arm", "-M", "netduinoplus2", "-kernel", str(elf), "-display", "none", "-monitor", "none",
            "-serial", "null", "-icount", "shift=0,sleep=off",
            "-semihosting-config", "enable=on,target=native"]  # fmt: skip
    if mode != "none":
        argv += plugin.qemu_args(state, None)
    if mode == "icount+cycles":
        argv += cycleplugin.qemu_args(costs, profile)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"error: QEMU ({mode}) exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
    count = cycles = None
    if mode != "none":
        snap = plugin.PluginCounter(state).snapshot()
        count = snap.count if snap else None
    if mode == "icount+cycles":
        cycles = cycleplugin.read_profile(profile).counters.cycles
    return wall, cpu, count, cycles


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "cycle_plugin_overhead.json")
    args = parser.parse_args()
    if cycleplugin.unavailable_reason():
        sys.exit(f"error: {cycleplugin.unavailable_reason()}")
    elf = make_foreign("busy_loop", ITERATIONS=ITERATIONS)
    cycleplugin.plugin_path()  # built before timing
    plugin.plugin_path()
    result: dict = {
        "firmware": f"tests/firmware/foreign/busy_loop ITERATIONS={ITERATIONS}",
        "cost_table": "synthetic base 1, taken +2; " + ", ".join(MEMORY),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="cosim-cycbench-") as tmp:
        work = Path(tmp)
        costs = work / "costs.txt"
        costs.write_text(cost_table(code_of(elf), *MEMORY, elf=elf))
        walls: dict[str, list[float]] = {m: [] for m in MODES}
        cpus: dict[str, list[float]] = {m: [] for m in MODES}
        counts, cycles = set(), set()
        for _ in range(args.repeat):
            for mode in MODES:  # interleaved: a change in the machine's load hits every mode alike
                wall, cpu, count, cyc = run(elf, mode, work, costs)
                walls[mode].append(round(wall, 3))
                cpus[mode].append(round(cpu, 3))
                if count is not None:
                    counts.add(count)
                if cyc is not None:
                    cycles.add(cyc)
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    result["instructions"] = sorted(counts)
    result["cycles"] = sorted(cycles)  # one value: deterministic
    medians = {m: statistics.median(w) for m, w in walls.items()}
    result["wall_s"] = walls
    result["wall_s_median"] = medians
    result["slowdown_vs_none"] = {m: round(medians[m] / medians["none"], 3) for m in MODES}
    cpu_medians = {m: statistics.median(c) for m, c in cpus.items()}
    result["cpu_s"] = cpus
    result["cpu_s_median"] = cpu_medians
    result["cpu_slowdown_vs_none"] = {m: round(cpu_medians[m] / cpu_medians["none"], 3) for m in MODES}
    # the fastest run of each mode is the least disturbed by the machine's other users
    result["slowdown_vs_none_of_fastest"] = {m: round(min(walls[m]) / min(walls["none"]), 3) for m in MODES}
    result["cycles_over_icount"] = round(medians["icount+cycles"] / medians["icount"], 3)
    result["goal"] = "icount+cycles <= 2x none"
    result["goal_met"] = result["slowdown_vs_none"]["icount+cycles"] <= 2.0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
