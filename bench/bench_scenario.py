"""Scenario throughput on QEMU, and what verdicts and reports cost next to the emulation itself.

    python bench/bench_scenario.py [--seconds 60] [--repeat 2] [--out bench/results/scenario.json]

The scenario is tests/data/scenarios/verdicts/shake_pass.yaml (threshold_detector: LIS2DW12 at 200 Hz, one decision
per 200 ms window, every expectation of the pass case) stretched to `--seconds` of simulated time: idle, shaking,
idle in thirds. Each repeat times, in this process:

* **emulation**: `run_seed` — generating the streams, QEMU booting and running the firmware for the scenario's
  duration with the data channel serving the FIFO model (the part of `cosim run` that needs an emulator);
* **full run**: `run_scenario` — everything `cosim run SCENARIO.yaml` does (emulation, verdicts, report);
* **evaluation + report**: `run_scenario(replay=…)` on the full run's report directory — the same verdicts and
  report files from the recorded run, no emulator; `write_report` is timed inside it (report.json, junit.xml,
  report.html with its plots, run records, worst-window files), the rest of it is loading the scenario,
  regenerating the signal for the plot and evaluating decisions, timing and memory (including the static stack
  analysis).

Throughput = simulated seconds of the run / wall seconds of the emulation (best of the repeats; the machine is
shared). CPU seconds are recorded too (this process plus its ended QEMU children): less sensitive to the other
load on a shared machine than wall time. The instruction count of the run must be the same in every repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import tinyml_cosim.orchestrate.scenario_runs as scenario_run  # noqa: E402
from tinyml_cosim.core.run_limits import with_slack  # noqa: E402
from tinyml_cosim.orchestrate.scenario_runs import (  # noqa: E402
    ScenarioRunRequest,
    run_scenario,
    run_seed,
)

SHAKE = REPO / "tests" / "data" / "scenarios" / "verdicts" / "shake_pass.yaml"


def cpu_with_children() -> float:
    """CPU seconds of this process and of its children that have ended (the QEMU processes of finished runs)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timing(fn, into: dict[str, float]):  # type: ignore[no-untyped-def]
    """`fn`, recording its wall and CPU seconds in `into` (write_report, timed inside run_scenario)."""

    def wrapped(*a, **kw):  # type: ignore[no-untyped-def]
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*a, **kw)
        finally:
            into["write_report"] = time.perf_counter() - t
            into["write_report_cpu"] = time.process_time() - c

    return wrapped


def long_scenario(seconds: float, directory: Path) -> Path:
    data = yaml.safe_load(SHAKE.read_text())
    third = seconds / 3
    data["name"] = f"shake-{seconds:g}s"
    data["duration_s"] = seconds
    sensor = data["sensors"][0]
    sensor["signal"] = [
        {"type": "gravity"},
        {"type": "sine", "axis": "x", "amplitude": 0.5, "freq_hz": 6, "start_s": third, "duration_s": third},
    ]
    data["timeline"] = [
        {"start_s": 0.0, "end_s": third, "label": "idle"},
        {"start_s": third, "end_s": 2 * third, "label": "shaking"},
        {"start_s": 2 * third, "end_s": seconds, "label": "idle"},
    ]
    path = directory / "shake_long.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="simulated seconds of the scenario")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scenario.json")
    args = ap.parse_args()
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = long_scenario(args.seconds, Path(tmp))
        from tinyml_cosim.core.boards import load_board
        from tinyml_cosim.scenario import load_scenario

        scn = load_scenario(path)
        elf = scenario_run._firmware(scn, load_board(scn.board))  # build once, outside the timings
        duration = with_slack(scn.duration_s)
        for i in range(args.repeat):
            t0, c0 = time.perf_counter(), cpu_with_children()
            record, _ = run_seed(path, elf, "qemu", scn.seed, duration, 600.0)
            emulation, emulation_cpu = time.perf_counter() - t0, cpu_with_children() - c0

            out = Path(tmp) / f"rep{i}"
            t0 = time.perf_counter()
            full = run_scenario(ScenarioRunRequest(path, engine="qemu", out=out))
            full_s = time.perf_counter() - t0

            timed: dict[str, float] = {}
            original = scenario_run.write_report
            scenario_run.write_report = timing(original, timed)  # type: ignore[assignment]
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                again = run_scenario(ScenarioRunRequest(path, out=Path(tmp) / f"again{i}", replay=out))
                replay_s, replay_cpu = time.perf_counter() - t0, time.process_time() - c0
            finally:
                scenario_run.write_report = original  # type: ignore[assignment]
            assert again.report.verdict == full.report.verdict  # type: ignore[attr-defined]
            rows.append(
                {
                    "emulation_wall_s": round(emulation, 3),
                    "full_run_wall_s": round(full_s, 3),
                    "evaluation_and_report_wall_s": round(replay_s, 3),
                    "write_report_wall_s": round(timed["write_report"], 3),
                    "emulation_cpu_s": round(emulation_cpu, 3),
                    "evaluation_and_report_cpu_s": round(replay_cpu, 3),
                    "write_report_cpu_s": round(timed["write_report_cpu"], 3),
                    "simulated_s": record.simulated_seconds,
                    "instructions": record.instructions,
                    "status": record.status.value,
                    "verdict": full.report.verdict,  # type: ignore[attr-defined]
                    "decisions": sum(e.kind == "DECISION" for e in record.events),
                    "inferences": sum(s.name == "inference" for s in record.spans),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    best = min(rows, key=lambda r: r["emulation_wall_s"])
    evaluation = min(r["evaluation_and_report_wall_s"] for r in rows)
    write = min(r["write_report_wall_s"] for r in rows)
    result = {
        "benchmark": "bench/bench_scenario.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "python": platform.python_version(),
            "qemu": subprocess.run(["qemu-system-arm", "--version"], capture_output=True, text=True).stdout.split("\n")[
                0
            ],
        },
        "scenario": {
            "base": str(SHAKE.relative_to(REPO)),
            "simulated_s": args.seconds,
            "app": "threshold_detector",
        },
        "runs": rows,
        "deterministic": len({r["instructions"] for r in rows}) == 1,
        "metrics": {
            "throughput_simulated_s_per_wall_s": round(best["simulated_s"] / best["emulation_wall_s"], 2),
            "emulation_wall_s": best["emulation_wall_s"],
            "evaluation_and_report_wall_s": evaluation,
            "write_report_wall_s": write,
            "evaluation_wall_s": min(
                round(r["evaluation_and_report_wall_s"] - r["write_report_wall_s"], 3) for r in rows
            ),
            "overhead_vs_emulation_pct": round(100.0 * evaluation / best["emulation_wall_s"], 1),
            # CPU seconds (this process + its reaped QEMU children): less sensitive to other load than wall time
            "emulation_cpu_s": min(r["emulation_cpu_s"] for r in rows),
            "evaluation_and_report_cpu_s": min(r["evaluation_and_report_cpu_s"] for r in rows),
            "write_report_cpu_s": min(r["write_report_cpu_s"] for r in rows),
            "overhead_vs_emulation_cpu_pct": round(
                100.0 * min(r["evaluation_and_report_cpu_s"] for r in rows) / min(r["emulation_cpu_s"] for r in rows),
                1,
            ),
        },
        "method": "best of the repeats; emulation = run_seed, evaluation + report = run_scenario(replay=…) of the "
        "recorded run (no emulator), write_report timed inside it; all in one Python process, builds cached",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["metrics"], indent=2))
    return 0 if result["deterministic"] else 1


if __name__ == "__main__":
    sys.exit(main())
