"""Wall time per engine, QEMU against Renode (issue 13, item 6): what a user waits for on each.

    PATH=/opt/renode:$PATH python bench/renode_speed.py [--reps 3] [--no-robot] [--no-scenario] [--out FILE]

Measured, each way as a user types it, interleaved (qemu, renode, qemu, ...) so both engines see the same load:

* **demo**: `cosim run --board stm32f405 --engine E <demo ELF>` (the demo app, one int8 fully connected layer),
  process start to exit, `--reps` times; the instruction count each engine reports is stored;
* **scenario**: `cosim run <the shortest scenario under scenarios/> --engine E` (16 simulated seconds of the
  vibration monitor), once per engine unless `--scenario-reps`;
* **robot fast**: `robot --include fast --variable ENGINE:E robot_tests`, once per engine (pass/fail/skip counts
  stored: a suite Renode cannot run is skipped there, which makes it shorter, not faster);
* **Renode start-up alone**: process start to the first answer of its telnet monitor (`renode --disable-xwt
  --plain --hide-analyzers --port P`: the banner and prompt), `--reps` times;
* **Renode run profile**: the demo through the Python API on RenodeEngine, every monitor command timed (the
  engine's `_execute`): start-up (process, platform, ELF, host configuration) against running (`emulation RunFor`
  chunks and the reads between them) against stopping.

Without Renode it prints why and writes nothing (exit 0). The JSON records the machine, its load, and the Renode
version and build commit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_spine as spine
import yaml

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines import launcher
from tinyml_cosim.engines.base import RunLimits
from tinyml_cosim.engines.registry import create_engine
from tinyml_cosim.engines.renode import engine as renode_engine
from tinyml_cosim.engines.renode.monitor import MonitorClient
from tinyml_cosim.orchestrate.scenario_runs import _firmware as scenario_firmware
from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.scenario.load import load_scenario

RESULTS = spine.REPO / "bench" / "results" / "renode_speed.json"
ROBOT = Path(sys.executable).with_name("robot")
ENGINES = ("qemu", "renode")
EXPECTED_RENODE_BUILD = "d66b0c2a"  # the Renode 1.16.1 the engine's facts were checked against
JSON = dict[str, Any]


def shortest_scenario() -> Path:
    """The scenario under scenarios/ with the shortest duration_s (first by path on a tie)."""
    found = []
    for path in sorted((spine.REPO / "scenarios").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and "duration_s" in data and "board" in data:
            found.append((float(data["duration_s"]), str(path), path))
    return min(found)[2]


def renode_info(binary: str) -> JSON:
    out = spine.command_output([binary, "--version"]) or ""
    lines = [ln.strip() for ln in out.splitlines()]
    build = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("build:")), None)
    mono = spine.command_output(["mono", "--version"])
    return {
        "binary": binary,
        "version": lines[0] if lines else None,
        "build": build,
        "commit": build.split("-")[0] if build else None,
        "expected_commit": EXPECTED_RENODE_BUILD,
        "runtime": next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("runtime:")), None),
        "mono": mono.splitlines()[0] if mono else None,
    }


def timed_command(argv: list[str], timeout: float, cwd: Path | None = None) -> tuple[float, int | None, str]:
    """Wall seconds from process start to exit, the exit status and the output's last lines."""
    t0 = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)
        rc: int | None = done.returncode
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-5:])
    except subprocess.TimeoutExpired:
        rc, tail = None, f"timed out after {timeout} s"
    return time.perf_counter() - t0, rc, tail


def bench_demo(elf: Path, reps: int, work: Path) -> JSON:
    out: JSON = {e: {"wall_s": [], "instructions": []} for e in ENGINES}
    for i in range(reps):
        for engine in ENGINES:
            spine.say(f"demo {i + 1}/{reps} on {engine}")
            d = work / f"demo-{engine}-{i}"
            argv = [str(spine.COSIM), "run", "--board", "stm32f405", "--engine", engine, "--out", str(d), str(elf)]
            wall, rc, tail = timed_command(argv, 600)
            if rc != 0:
                raise SystemExit(f"demo on {engine} failed (status {rc}):\n{tail}")
            out[engine]["wall_s"].append(round(wall, 3))
            out[engine]["instructions"].append(json.loads((d / "run.json").read_text()).get("instructions"))
    return {e: {**v, "stats": spine.stats(v["wall_s"], 3)} for e, v in out.items()} | {
        "renode_over_qemu": ratio(out, "wall_s"),
        "firmware": "demo app, default build (bench_spine.build_app)",
    }


def ratio(out: JSON, key: str) -> float | None:
    q, r = out["qemu"][key], out["renode"][key]
    if not q or not r:
        return None
    return round(statistics.median(r) / statistics.median(q), 1)


def bench_scenario(scenario: Path, reps: int, work: Path) -> JSON:
    board = load_board(str(yaml.safe_load(scenario.read_text())["board"]))
    for engine in ENGINES:  # build outside the timing: Renode's build has the RAM mailbox, QEMU's does not
        scenario_firmware(load_scenario(scenario), board, engine=engine)
    out: JSON = {e: {"wall_s": [], "exit": []} for e in ENGINES}
    for i in range(reps):
        for engine in ENGINES:
            spine.say(f"scenario {scenario.name} {i + 1}/{reps} on {engine}")
            d = work / f"scenario-{engine}-{i}"
            wall, rc, tail = timed_command(
                [str(spine.COSIM), "run", str(scenario), "--engine", engine, "--out", str(d)], 3600
            )
            out[engine]["wall_s"].append(round(wall, 2))
            out[engine]["exit"].append(rc)
            if rc not in (0, 1):
                spine.say(f"  {engine}: status {rc}\n{tail}")
    return {e: {**v, "stats": spine.stats(v["wall_s"], 2)} for e, v in out.items()} | {
        "renode_over_qemu": ratio(out, "wall_s"),
        "scenario": str(scenario.relative_to(spine.REPO)),
        "simulated_s": float(yaml.safe_load(scenario.read_text())["duration_s"]),
    }


def robot_counts(output_xml: Path) -> JSON:
    """Pass/fail/skip totals, and each failed test's name and message (the first 300 characters)."""
    try:
        root = ET.parse(output_xml).getroot()
    except (OSError, ET.ParseError):
        return {}
    stat = root.find("./statistics/total/stat")
    counts: JSON = {k: int(stat.get(k, 0)) for k in ("pass", "fail", "skip")} if stat is not None else {}
    failed = []
    for test in root.iter("test"):
        status = test.find("status")
        if status is not None and status.get("status") == "FAIL":
            failed.append({"test": test.get("name"), "message": (status.text or "")[:300]})
    return counts | {"failed": failed}


def bench_robot(work: Path, engines: tuple[str, ...] = ENGINES) -> JSON:
    out: JSON = {}
    for engine in engines:
        spine.say(f"robot --include fast on {engine}")
        d = work / f"robot-{engine}"
        argv = [str(ROBOT), "--include", "fast", "--variable", f"ENGINE:{engine}", "--outputdir", str(d)]
        argv += ["--console", "none", str(spine.REPO / "robot_tests")]
        wall, rc, _ = timed_command(argv, 7200, cwd=work)
        out[engine] = {"wall_s": round(wall, 1), "exit": rc, "tests": robot_counts(d / "output.xml")}
    if set(out) != set(ENGINES):
        return out
    q, r = out["qemu"]["wall_s"], out["renode"]["wall_s"]
    return out | {"renode_over_qemu": round(r / q, 1) if q else None}


def bench_startup(binary: str, reps: int, work: Path) -> JSON:
    """Process start to the telnet monitor's first answer (banner and prompt), on a private TMPDIR."""
    walls: list[float] = []
    for i in range(reps):
        spine.say(f"renode start-up {i + 1}/{reps}")
        port = launcher.free_port()
        t0 = time.perf_counter()
        proc = launcher.popen(
            [binary, "--disable-xwt", "--plain", "--hide-analyzers", "--port", str(port)],
            tmpdir=work / f"startup-{i}" / "tmp",
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = MonitorClient.connect("127.0.0.1", port, 120.0, alive=lambda p=proc: p.poll() is None)
            walls.append(round(time.perf_counter() - t0, 3))
            client.close()
        finally:
            launcher.kill_group(proc)
    return {"process_start_to_monitor_prompt_s": walls, "stats": spine.stats(walls, 3)}


def command_kind(command: str) -> str:
    words = command.split()
    return " ".join(words[:2]) if words else ""


def bench_profile(elf: Path, work: Path) -> JSON:
    """The demo on RenodeEngine through the Python API, with every monitor command timed."""
    board = load_board("stm32f405")
    per: dict[str, list[float]] = defaultdict(list)
    phase = {"name": "start"}
    engine = create_engine("renode", board, work / "profile")
    inner = engine._execute  # type: ignore[attr-defined]

    def timed_execute(command: str, timeout: float | None = None) -> str:
        t = time.perf_counter()
        try:
            return str(inner(command, timeout))
        finally:
            per[f"{phase['name']}: {command_kind(command)}"].append(time.perf_counter() - t)

    engine._execute = timed_execute  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    with engine:
        engine.start(load_image(elf, board), engine.transport(), data=DataService())
        t_started = time.perf_counter()
        phase["name"] = "run"
        ending = engine.run(RunLimits(max_instructions=2_000_000_000, timeout_s=600))
        t_ran = time.perf_counter()
        phase["name"] = "close"
    t_closed = time.perf_counter()
    commands = {
        k: {"n": len(v), "total_s": round(sum(v), 3), "mean_ms": round(1000 * sum(v) / len(v), 2)}
        for k, v in sorted(per.items(), key=lambda kv: -sum(kv[1]))
    }
    run_s = t_ran - t_started
    in_commands = sum(sum(v) for k, v in per.items() if k.startswith("run: "))
    return {
        "ending": ending.kind.value if hasattr(ending.kind, "value") else str(ending.kind),
        "instructions": ending.instructions,
        "chunk_seconds": getattr(type(engine), "chunk_seconds", None),
        "start_s": round(t_started - t0, 3),
        "run_s": round(run_s, 3),
        "close_s": round(t_closed - t_ran, 3),
        "run_in_monitor_commands_s": round(in_commands, 3),
        "commands": commands,
    }


METHOD = (
    "Wall seconds, process start to exit (time.perf_counter around subprocess.run), engines interleaved. demo: "
    "`cosim run --board stm32f405 --engine E --out DIR <demo ELF>` (one ELF for both engines: the default build, "
    "without the RAM mailbox, which the demo does not need). scenario: `cosim run SCENARIO --engine E --out DIR` "
    "(verdicts and report included; exit 1 = an expectation failed, still timed; its firmware built for both "
    "engines beforehand). robot_fast: `robot --include fast "
    "--variable ENGINE:E --console none robot_tests` (tests skipped on an engine count as skip; firmware the "
    "suites build on demand is timed unless an earlier run built it). Each part records its own date and load. "
    "renode_startup: launcher.popen of `renode --disable-xwt --plain --hide-analyzers --port P` to "
    "MonitorClient.connect returning (banner and first prompt read). renode_profile: the demo through "
    "create_engine('renode') with RenodeEngine._execute wrapped to time every monitor command, grouped by phase "
    "and the command's first two words."
)


PARTS = ("renode_startup", "renode_profile", "demo", "scenario", "robot_fast")


def with_load(measure: Callable[[], JSON]) -> JSON:
    """`measure()`'s result with when it ran and how busy the machine was meanwhile: the cores other processes used
    (machine CPU time minus this benchmark's process tree) and the load averages."""
    date, before, t0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), spine.load(), time.perf_counter()
    busy0, own0 = spine.busy_cpu_seconds(), spine.own_cpu_seconds()
    result = measure()
    wall = time.perf_counter() - t0
    busy1 = spine.busy_cpu_seconds()
    other = None if busy0 is None or busy1 is None else max(0.0, (busy1 - busy0) - (spine.own_cpu_seconds() - own0))
    return result | {
        "date_utc": date,
        "measure_wall_s": round(wall, 1),
        "load": {
            "before": before,
            "after": spine.load(),
            "other_processes_avg_cores": None if other is None else round(other / wall, 2),
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the demo and of Renode's start-up")
    ap.add_argument("--scenario-reps", type=int, default=1)
    ap.add_argument("--parts", default=",".join(PARTS), help=f"what to measure, comma-separated ({', '.join(PARTS)})")
    ap.add_argument("--robot-engines", default=",".join(ENGINES), help="engines of the Robot part, comma-separated")
    ap.add_argument("--merge", action="store_true", help="keep the other parts of an existing --out file")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--note", default=None, help="a remark stored in the JSON")
    args = ap.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        ap.error(f"--parts: unknown {', '.join(unknown)}; expected some of {', '.join(PARTS)}")
    binary = renode_engine.renode_binary()
    if binary is None:
        print("renode_speed: skipped: renode is not on PATH (or $COSIM_RENODE); nothing measured", file=sys.stderr)
        return 0
    launcher.install_signal_handlers()
    board = load_board("stm32f405")
    elf = spine.build_app(board, "demo")
    scenario = shortest_scenario()
    result: JSON = json.loads(args.out.read_text()) if args.merge and args.out.is_file() else {}
    if "load" in result:  # a file from before parts had their own date and load: give its parts the run's
        old = {"date_utc": result.pop("date_utc", None), "load": result.pop("load")}
        old["measure_wall_s"] = result.pop("measure_wall_s", None)
        for part in PARTS:
            if part in result and "load" not in result[part]:
                result[part] |= old
    with tempfile.TemporaryDirectory(prefix="cosim-renode-speed-") as tmp:
        work = Path(tmp)
        plan: dict[str, Callable[[], JSON]] = {
            "renode_startup": lambda: bench_startup(binary, args.reps, work),
            "renode_profile": lambda: bench_profile(elf, work),
            "demo": lambda: bench_demo(elf, args.reps, work),
            "scenario": lambda: bench_scenario(scenario, args.scenario_reps, work),
            "robot_fast": lambda: bench_robot(work, tuple(args.robot_engines.split(","))),
        }
        measured = {part: with_load(plan[part]) for part in PARTS if part in parts}
    result |= {
        "benchmark": "renode_speed",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "method": METHOD,
        "machine": spine.machine_info(),
        "software": spine.software_info() | {"renode": renode_info(binary)},
        **({"note": args.note} if args.note else {}),
        **measured,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for part in measured:
        spine.say(f"{part}: {summary(part, result[part])}")
    spine.say(f"wrote {args.out}")
    return 0


def summary(part: str, got: JSON) -> str:
    if part == "renode_startup":
        return f"median {got['stats']['median']} s"
    if part == "renode_profile":
        return f"start {got['start_s']} s, run {got['run_s']} s, close {got['close_s']} s"
    if part in ("demo", "scenario"):
        return " / ".join(f"{e} {got[e]['stats']['median']} s" for e in ENGINES if e in got)
    return " / ".join(f"{e} {got[e]['wall_s']} s {got[e]['tests']}" for e in ENGINES if e in got)


if __name__ == "__main__":
    sys.exit(main())
