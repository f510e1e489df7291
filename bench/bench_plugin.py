"""Wall time of a 100 M-instruction foreign firmware with and without the exact-count QEMU plugin, and how far the
host's polling lands past a budget without it (the bound the fallback labels its counts with).

    python bench/bench_plugin.py [--repeat 3] [--out bench/results/plugin.json]

The firmware is tests/firmware/foreign/busy_loop (vendor-way start-up and linker script, newlib rdimon). Runs go
through `run_firmware`, as `cosim run` does; COSIM_QEMU_PLUGIN=off turns the plugin off.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))

from foreign import build_foreign  # noqa: E402  (test support module, beside the tests)

from tinyml_cosim.engines.qemu import plugin  # noqa: E402
from tinyml_cosim.engines.qemu.engine import PLUGIN_ENV  # noqa: E402
from tinyml_cosim.run.session import RunRequest, run_firmware  # noqa: E402

ITERATIONS = "6200000"  # about 100 M instructions
BUDGET = 5_000_000


def timed(elf: Path, plugin_on: bool, **kw) -> tuple[float, object]:
    os.environ[PLUGIN_ENV] = "on" if plugin_on else "off"
    t0 = time.monotonic()
    rec = run_firmware(RunRequest(elf=elf, board="stm32f405", timeout_s=600, **kw))
    return time.monotonic() - t0, rec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "plugin.json")
    args = parser.parse_args()
    if plugin.unavailable_reason():
        sys.exit(f"error: {plugin.unavailable_reason()}")
    elf = build_foreign("busy_loop", ITERATIONS=ITERATIONS)
    result: dict = {"firmware": f"busy_loop ITERATIONS={ITERATIONS}", "cpus": os.cpu_count()}
    for on in (True, False):
        walls, totals = [], set()
        for _ in range(args.repeat):
            wall, rec = timed(elf, on)
            walls.append(round(wall, 3))
            totals.add(rec.instructions)
        overs = []
        for _ in range(args.repeat):
            _, rec = timed(elf, on, max_instructions=BUDGET)
            overs.append(rec.instructions - BUDGET)
        result["plugin" if on else "polling"] = {
            "wall_s": walls, "wall_s_median": statistics.median(walls), "totals": sorted(totals),
            "budget": BUDGET, "budget_overshoot": overs,
        }  # fmt: skip
    on, off = result["plugin"], result["polling"]
    result["slowdown"] = round(on["wall_s_median"] / off["wall_s_median"], 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
