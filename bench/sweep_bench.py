"""Sweep machinery on Dask (issue 17): points per minute on 1 vs 2 workers, the per-point overhead against running
the same points with `cosim run`, and the firmware builds per sweep.

    python bench/sweep_bench.py [--points 8] [--out bench/results/sweep.json]

The sweep is `--points` points of scenarios/sweeps/motion_base.yaml (16 s of the activity tracker; white-noise
levels x 2 seeds), built into a fresh build directory (COSIM_BUILD_DIR, so the build count starts from nothing).
In order:

* **builds**: the sweep's firmware built once in this process (`build_firmware`): distinct build configurations vs
  compilations; after every sweep the build directory must still hold exactly those builds (no worker builds);
* **direct**: every point's own scenario file (`points/<hash>.scenario.yaml`, the firmware it names) run with
  `cosim run` one after another, each a new process as a user runs it;
* **1 worker** and **2 workers**: `cosim sweep run --workers N` into a fresh output directory (a new process:
  cluster start, shipping the firmware, the runs, the results table and report.html);
* **ceiling**: the first eight points' `cosim run`s again, two processes at a time: what two cores of this machine
  give this work without any sweep machinery (two vCPUs that share one physical core, or a busy host, show here).

Points per minute = points / wall time of the whole sweep command. Overhead per point = (1-worker sweep wall -
direct wall) / direct wall: what the sweep machinery adds to the same runs on the same single core (it includes the
cluster start and the report, so it shrinks with more points). The 2-worker speed-up needs both cores free: run it
on a quiet machine (the JSON records the load averages before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "scenarios" / "sweeps" / "motion_base.yaml"
SIGMA = "sensors[imu].impairments[white_noise].sigma"


def sweep_file(directory: Path, points: int) -> Path:
    levels = [round(0.01 + 0.05 * i, 3) for i in range(max(1, points // 2))]
    path = directory / "bench_sweep.yaml"
    path.write_text(
        f"version: 1\nname: bench\nbase: {BASE}\naxes:\n  {SIGMA}: {levels}\nseeds: {2 if points > 1 else 1}\n"
    )
    return path


def point_walls(out: Path) -> dict[str, float]:
    """min / median / max of the points' own wall times (their first point includes the worker's warm-up): a wide
    spread on equal points says the machine was busy with something else."""
    walls = sorted(float(json.loads(f.read_text()).get("wall_s", 0.0)) for f in (out / "points").glob("*.json"))
    if not walls:
        return {}
    return {"min": walls[0], "median": walls[len(walls) // 2], "max": walls[-1]}


def noise_label(load_before: tuple[float, ...], runs: dict[str, dict[str, object]]) -> str:
    """`quiet` or `noisy (why)`: the load average before the runs (this machine's view only: other virtual machines
    on the host do not show in it) and the spread of equal points on one worker (median to min)."""
    why = []
    if load_before[0] > 0.5:
        why.append(f"1-minute load average {load_before[0]:.2f} before the runs")
    walls = runs["workers_1"].get("point_wall_s") or {}
    if isinstance(walls, dict) and walls and walls["median"] > 1.25 * walls["min"]:
        why.append(f"1-worker points spread {walls['min']:.2f} .. {walls['median']:.2f} s (min .. median)")
    return f"noisy ({'; '.join(why)})" if why else "quiet"


def timed_pair(cmds: list[list[str]], env: dict[str, str]) -> float:
    """Wall time of the commands run at once, each a process of its own."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmds]
    for proc in procs:
        proc.wait()
    return time.perf_counter() - t0


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, proc.returncode, proc.stdout + proc.stderr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "sweep.json")
    args = ap.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # The sweep file (here) names the base scenario in the repository, and each point's scenario the shipped
        # firmware under the sweep's output directory: both allowed as source roots (core/inputs.py).
        roots = os.pathsep.join([str(REPO), str(tmp)])
        env = {**os.environ, "COSIM_BUILD_DIR": str(tmp / "build"), "COSIM_ALLOW_ROOTS": roots}
        os.environ["COSIM_BUILD_DIR"] = env["COSIM_BUILD_DIR"]  # before the package reads it
        os.environ["COSIM_ALLOW_ROOTS"] = roots
        from tinyml_cosim.sweep.execute import build_firmware
        from tinyml_cosim.sweep.plan import plan_sweep

        path = sweep_file(tmp, args.points)
        plan = plan_sweep(path)
        t0 = time.perf_counter()
        bundles, compiled = build_firmware(plan, None)
        build_s = time.perf_counter() - t0
        cosim = [sys.executable, "-m", "tinyml_cosim.cli.app"]
        sweep = [sys.executable, "-m", "tinyml_cosim.cli.sweep"]
        runs: dict[str, dict[str, object]] = {}
        for workers in (1, 2):
            out = tmp / f"sweep{workers}"
            wall, rc, text = timed([*sweep, "run", str(path), "--out", str(out), "--workers", str(workers)], env)
            runs[f"workers_{workers}"] = {
                "wall_s": round(wall, 2),
                "exit_code": rc,
                "points_per_minute": round(len(plan.points) / wall * 60, 2),
                "summary": [ln for ln in text.splitlines() if ln.startswith(("points:", "wall time"))],
                "point_wall_s": point_walls(out),
            }
            print(json.dumps({f"workers_{workers}": runs[f"workers_{workers}"]}), flush=True)
        # The same points as a user runs them: each point's scenario (it names the shipped firmware) by cosim run.
        direct = 0.0
        direct_walls: list[float] = []
        scenarios = [tmp / "sweep1" / "points" / f"{p.hash}.scenario.yaml" for p in plan.points]
        for p, scenario in zip(plan.points, scenarios, strict=True):
            wall, _rc, _ = timed([*cosim, "run", str(scenario), "--out", str(tmp / "direct" / p.hash)], env)
            direct += wall
            direct_walls.append(wall)
        # The machine's own ceiling for this work: the same `cosim run`s two at a time, no sweep machinery.
        k = min(8, len(scenarios)) // 2 * 2
        runs_of = [[*cosim, "run", str(s), "--out", str(tmp / "pairs" / s.stem)] for s in scenarios[:k]]
        pair_wall = sum(timed_pair(runs_of[i : i + 2], env) for i in range(0, k, 2))
        builds_left = sorted(str(d.relative_to(tmp / "build")) for d in (tmp / "build").glob("*/*") if d.is_dir())
    n = len(plan.points)
    w1 = float(runs["workers_1"]["wall_s"])  # type: ignore[arg-type]
    w2 = float(runs["workers_2"]["wall_s"])  # type: ignore[arg-type]
    result = {
        "benchmark": "bench/sweep_bench.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "python": platform.python_version(),
            "measurement": noise_label(load_before, runs),
        },
        "sweep": {"base": str(BASE.relative_to(REPO)), "points": n, "cycles": os.environ.get("COSIM_CYCLES", "on")},
        "runs": runs,
        "metrics": {
            "points_per_minute_1_worker": round(n / w1 * 60, 2),
            "points_per_minute_2_workers": round(n / w2 * 60, 2),
            "speedup_2_vs_1": round(w1 / w2, 2),
            # the same cosim runs one at a time vs two at a time: what 2 cores of this machine give this work
            "machine_ceiling_2_vs_1": round(sum(direct_walls[:k]) / pair_wall, 2) if k else None,
            "speedup_of_ceiling_pct": round(100 * (w1 / w2) / (sum(direct_walls[:k]) / pair_wall), 1) if k else None,
            "direct_cosim_run_wall_s": round(direct, 2),
            "direct_per_point_s": round(direct / n, 2),
            "sweep_1_worker_per_point_s": round(w1 / n, 2),
            "overhead_per_point_pct": round(100 * (w1 - direct) / direct, 1),
            "build_configurations": len(bundles),
            "firmware_compilations": compiled,
            "build_s": round(build_s, 1),
            "builds_in_build_dir_after_sweeps": builds_left,
        },
        "goals": {"speedup_2_vs_1": ">= 1.8", "overhead_per_point_pct": "<= 5", "builds": "one per configuration"},
        "method": "wall time of each whole command (new processes); sweeps into fresh output directories; direct = "
        "cosim run of each point's scenario file one after another",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["metrics"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
