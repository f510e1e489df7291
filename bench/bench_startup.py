"""Start-up cost of `cosim run ELF` against bare QEMU (issue #12, item 8): a suite of many short tests pays it on
every run. Goal: at most 0.15 s over bare QEMU.

    python bench/bench_startup.py [--reps N] [--board stm32f405] [--out FILE]

The trivial firmware (firmware/tests/apps/bench_trivial: BOOT event, EXIT 0) runs N times each way, interleaved so
both ways see the same machine load: bare qemu-system-arm with the engine's own flags (bench_spine.bare_argv) and
`cosim run ELF --board B` as a user types it. Each run is timed from process start to the first console line (the
BOOT event) and to process exit. Also measured: the interpreter alone, the interpreter plus the run path's imports,
the run path's import time per top-level package (`python -X importtime` of a real `cosim run`), and the load of
the machine while measuring.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_spine as spine

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.engines import launcher

RESULTS = spine.REPO / "bench" / "results" / "startup.json"
GOAL_S = 0.15
RUN_PATH_IMPORT = "import tinyml_cosim.cli.app, tinyml_cosim.run.session, tinyml_cosim.engines.qemu.engine"
# The run path must not load the first eight; the last three it does load (typer is the CLI, pydantic comes with
# typer's parameter coercion and the board and record models, PyYAML reads the board file).
HEAVY = ("numpy", "scipy", "matplotlib", "jinja2", "tflite", "tflite_micro", "capstone", "rich")
HEAVY += ("pydantic", "typer", "yaml")
JSON = dict[str, Any]


def child_env(pycache: str) -> dict[str, str]:
    """What a user's shell gives the CLI: bytecode caches on (here in a private directory, so nothing is written into
    the source tree), unbuffered stdout so each console line is seen when it is printed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONUNBUFFERED": "1", "PYTHONPYCACHEPREFIX": pycache}


def children_cpu_s() -> float:
    """CPU seconds of every waited-for descendant (a `cosim run` includes its QEMU)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(argv: list[str], env: dict[str, str]) -> tuple[spine.Timed, float]:
    cpu0 = children_cpu_s()
    run = spine.run_process(argv, 120, env=env)
    spine.check(run, " ".join(argv[:3]))
    return run, children_cpu_s() - cpu0


def import_profile(argv: list[str], env: dict[str, str]) -> JSON:
    """`python -X importtime` of one real `cosim run`: self time (ms) summed per top-level package, largest first;
    whether each heavy package was loaded at all."""
    out = spine.subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=env, timeout=120
    )
    per_package: dict[str, float] = {}
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            top = m[2].split(".")[0]
            per_package[top] = per_package.get(top, 0.0) + int(m[1]) / 1000
    ranked = sorted(per_package.items(), key=lambda kv: -kv[1])
    return {
        "total_ms": round(sum(per_package.values()), 1),
        "modules_by_package_ms": {k: round(v, 1) for k, v in ranked[:20]},
        "loaded": {name: name in per_package for name in HEAVY},
        "method": "one `python -X importtime <cosim> run ELF --board B`: each module's self time, summed per "
        "top-level package (importtime inflates the total a little; the wall times above are the numbers to quote)",
    }


def overhead(cosim: list[float], bare: list[float]) -> JSON:
    median = statistics.median(cosim) - statistics.median(bare)
    least = min(cosim) - min(bare)
    return {"median": round(median, 4), "min": round(least, 4), "goal": GOAL_S, "met": median <= GOAL_S}


def measure(reps: int, board_id: str, pycache: str) -> JSON:
    board = load_board(board_id)
    elf = spine.build_app(board, "bench_trivial")
    env = child_env(pycache)
    bare_argv = spine.bare_argv(board, elf, serial="stdio")
    cosim_argv = spine.cosim_argv(board, elf, 60.0)
    python_argv = [sys.executable, "-c", "pass"]
    imports_argv = [sys.executable, "-c", RUN_PATH_IMPORT]
    for argv in (cosim_argv, imports_argv):  # warm-up: fills the bytecode cache and the page cache
        timed(argv, env)
    samples: dict[str, list[tuple[spine.Timed, float]]] = {"bare": [], "cosim": [], "python": [], "imports": []}
    busy0, own0, t0 = spine.busy_cpu_seconds(), spine.own_cpu_seconds(), time.perf_counter()
    load_before = spine.load()
    plan = {"bare": bare_argv, "cosim": cosim_argv, "python": python_argv, "imports": imports_argv}
    for i in range(reps):
        spine.say(f"repetition {i + 1}/{reps}")
        for key, argv in plan.items():
            samples[key].append(timed(argv, env))
    wall = time.perf_counter() - t0
    busy1 = spine.busy_cpu_seconds()
    other = None if busy0 is None or busy1 is None else max(0.0, (busy1 - busy0) - (spine.own_cpu_seconds() - own0))

    def col(key: str, what: Callable[[spine.Timed, float], float | None]) -> list[float]:
        return [v for run, cpu in samples[key] if (v := what(run, cpu)) is not None]

    first = lambda run, cpu: run.first_line  # noqa: E731
    exit_ = lambda run, cpu: run.wall  # noqa: E731
    cpu_ = lambda run, cpu: cpu  # noqa: E731
    return {
        "board": board.id,
        "reps": reps,
        "bare_qemu": {
            "first_line": spine.stats(col("bare", first)),
            "exit": spine.stats(col("bare", exit_)),
            "cpu": spine.stats(col("bare", cpu_)),
        },
        "cosim_run": {
            "first_line": spine.stats(col("cosim", first)),
            "exit": spine.stats(col("cosim", exit_)),
            "cpu": spine.stats(col("cosim", cpu_)),
        },
        "overhead": {
            "first_line": overhead(col("cosim", first), col("bare", first)),
            "exit": overhead(col("cosim", exit_), col("bare", exit_)),
        },
        "python": {
            "interpreter": spine.stats([r.wall for r, _ in samples["python"]]),
            "interpreter_and_run_path_imports": spine.stats([r.wall for r, _ in samples["imports"]]),
            "run_path_imports": spine.stats(
                [a.wall - b.wall for (a, _), (b, _) in zip(samples["imports"], samples["python"], strict=True)]
            ),
            "run_path": RUN_PATH_IMPORT,
        },
        "import_profile": import_profile(cosim_argv, env),
        "load": {
            "before": load_before,
            "after": spine.load(),
            "uptime_after": spine.uptime(),
            "other_processes_avg_cores": None if other is None else round(other / wall, 2),
        },
        "measure_wall_s": round(wall, 1),
    }


METHOD = (
    "firmware/tests/apps/bench_trivial, interleaved repetitions. bare_qemu: qemu-system-arm with the engine's flags "
    "and -serial stdio (bench_spine.bare_argv). cosim_run: `cosim run ELF --board B --timeout 60`. first_line: "
    "process start to the arrival of the first stdout line (the BOOT event); exit: process start to exit; cpu: "
    "user+system CPU seconds of the process tree (cosim run includes its QEMU), less sensitive to load than wall "
    "time. overhead: cosim_run minus bare_qemu (median - median, and min - min). python.run_path_imports: "
    "`python -c RUN_PATH` minus `python -c pass`, pairwise. Bytecode caches on (PYTHONPYCACHEPREFIX, warmed by one "
    "run), as after an ordinary install. load: load averages, and the cores other processes used while measuring "
    "(machine CPU time minus this benchmark's process tree)."
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--reps", type=int, default=15, help="repetitions of each measurement (at least 10 to quote)")
    ap.add_argument("--board", default="stm32f405")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--note", default=None, help="a remark stored in the JSON (e.g. what tree was measured)")
    args = ap.parse_args(argv)
    launcher.install_signal_handlers()
    with tempfile.TemporaryDirectory(prefix="cosim-bench-pyc-") as pycache:
        measured = measure(args.reps, args.board, pycache)
    result: JSON = {
        "benchmark": "startup",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "method": METHOD,
        "machine": spine.machine_info(),
        "software": spine.software_info(),
        **({"note": args.note} if args.note else {}),
        **measured,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    o, b, c = result["overhead"], result["bare_qemu"], result["cosim_run"]
    spine.say(
        f"first line: bare {b['first_line']['median']} s, cosim run {c['first_line']['median']} s "
        f"(+{o['first_line']['median']} s); exit: bare {b['exit']['median']} s, cosim run {c['exit']['median']} s "
        f"(+{o['exit']['median']} s); goal +{GOAL_S} s; other processes used "
        f"{result['load']['other_processes_avg_cores']} cores; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
