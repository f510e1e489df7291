"""How the Renode engine talks to Renode (issue 13, item 3): the robot server's XML-RPC against the telnet monitor.

    PATH=/opt/renode:$PATH python bench/renode_control.py [--reps N] [--commands N] [--out FILE]

Both doors are opened exactly as the engine opens them (engine.renode_argv, launcher.popen with a private TMPDIR),
interleaved so both see the same machine load:

Doors: `telnet` (`--port P`, COSIM_RENODE_CONTROL=telnet), `robot` (the engine's default: `--robot-server-port P`
plus an idle `--port Q`), `robot_alone` (`--robot-server-port P` only, as renode-test starts Renode).

- start-up: process start to the port accepting a TCP connection, and to the first answered command (`version`,
  the banner), both polled every 20 ms; the Renode process tree's CPU seconds up to that answer; its CPU use while
  idle for 2 s afterwards;
- round trip: a robot-server Renode and a telnet Renode side by side, each after `mach create` and the board's
  platform overlay, sent one command each in turn (so both see the same load): N x `cpu PC`, N x
  `sysbus ReadDoubleWord`, N/4 x `emulation RunFor "0.0001"` (a halted CPU: Renode's own cost of a RunFor, no guest
  code), per command;
- memory: resident set of the Renode process tree before and after those commands and --rss-commands more `cpu PC`
  (the robot server records every keyword it runs in its Recorder, for re-execution);
- engine: a whole RenodeEngine start/run/close of firmware/tests/apps/bench_trivial (mailbox build) through each
  door, with the ending (kind and instruction count) compared.

Skips with a message (exit 0) when `renode` is not on PATH.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines import launcher
from tinyml_cosim.engines.base import RunLimits
from tinyml_cosim.engines.renode import RenodeEngine
from tinyml_cosim.engines.renode.engine import renode_argv, renode_binary
from tinyml_cosim.engines.renode.monitor import MonitorChannel, MonitorClient
from tinyml_cosim.engines.renode.platform import overlay_text
from tinyml_cosim.engines.renode.robotserver import CONTROL_ENV, CONTROLS, Control, RobotServerClient
from tinyml_cosim.protocol.datachannel import DataService

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "renode_control.json"
POLL_S = 0.02
JSON = dict[str, Any]


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def stats(values: Sequence[float], digits: int = 4) -> JSON:
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {
        "n": len(values),
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu_s(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def tree_rss_mib(pid: int) -> float:
    total = 0
    for p in tree(pid):
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 2**20


def connect(control: Control, port: int, alive: Callable[[], bool]) -> MonitorChannel:
    if control == "robot":
        return RobotServerClient.connect("127.0.0.1", port, 120, alive=alive, interval=POLL_S)
    return MonitorClient.connect("127.0.0.1", port, 120, alive=alive, interval=POLL_S)


def port_open(port: int, alive: Callable[[], bool], deadline: float) -> None:
    while time.monotonic() < deadline and alive():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(POLL_S)
    raise SystemExit(f"port {port} did not open")


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


DOORS: dict[str, Control] = {"robot": "robot", "telnet": "telnet", "robot_alone": "robot"}


def door_argv(door: str, binary: str, port: int) -> list[str]:
    control = DOORS[door]
    shell_port = launcher.free_port() if door == "robot" else None
    return renode_argv(binary, port, control, shell_port)


class Renode:
    """One Renode started the engine's way (argv, launcher, private TMPDIR), timed up to its first answer."""

    def __init__(self, door: str, binary: str, work: Path) -> None:
        self.door, self.control = door, DOORS[door]
        work.mkdir(parents=True, exist_ok=True)
        port = launcher.free_port()
        self.log = open(work / "renode.log", "wb")  # noqa: SIM115 - closed in stop(), after the process
        t0 = time.monotonic()
        self.proc = proc = launcher.popen(
            door_argv(door, binary, port), tmpdir=work / "tmp", cwd=work, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        alive = lambda: proc.poll() is None  # noqa: E731
        self.timings: JSON = {}
        # A telnet probe would take the monitor's only session: the bare TCP accept is timed for the robot server
        # alone, whose HTTP listener takes any number of connections.
        if self.control == "robot":
            port_open(port, alive, t0 + 120)
            self.timings["port_open_s"] = time.monotonic() - t0
        self.client = connect(self.control, port, alive)
        self.timings["first_answer_s"] = time.monotonic() - t0
        self.timings["cpu_to_first_answer_s"] = tree_cpu_s(proc.pid)
        self.banner = self.client.banner

    def stop(self) -> None:
        t = time.monotonic()
        try:
            with contextlib.suppress(Exception):
                self.client.execute("quit", 5.0, check=False)
            self.client.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            self.timings["quit_to_exit_s"] = time.monotonic() - t
            self.timings["exit_status"] = self.proc.returncode
        finally:
            launcher.kill_group(self.proc)
            self.log.close()


def start_up(door: str, binary: str, work: Path) -> JSON:
    r = Renode(door, binary, work)
    try:
        cpu0 = tree_cpu_s(r.proc.pid)
        time.sleep(2.0)
        r.timings["idle_cpu_per_s"] = (tree_cpu_s(r.proc.pid) - cpu0) / 2.0
        r.timings["banner"] = r.banner
    finally:
        r.stop()
    return r.timings


def round_trips(binary: str, work: Path, commands: int, rss_commands: int) -> dict[str, JSON]:
    """The robot server and the telnet monitor side by side, one command to each in turn, so that both see the same
    machine load; then the resident set before and after many more commands."""
    doors = {d: Renode(d, binary, work / f"rt-{d}") for d in ("robot", "telnet")}
    out: dict[str, JSON] = {d: {} for d in doors}
    try:
        overlay = work / "board.repl"
        overlay.write_text(overlay_text(load_board("stm32f405")))
        for r in doors.values():
            r.client.execute('mach create "cosim"', 60)
            r.client.execute(f"machine LoadPlatformDescription @{overlay}", 120)
            for _ in range(20):  # warm up: the first calls JIT-compile the paths
                r.client.execute("cpu PC")
        rss0 = {d: tree_rss_mib(r.proc.pid) for d, r in doors.items()}
        for key, command, n in (
            ("cpu_pc_ms", "cpu PC", commands),
            ("read_word_ms", "sysbus ReadDoubleWord 0x20000000", commands),
            ("run_for_ms", 'emulation RunFor "0.0001"', max(1, commands // 4)),
        ):
            times: dict[str, list[float]] = {d: [] for d in doors}
            for i in range(n):
                for d in list(doors) if i % 2 == 0 else reversed(doors):
                    times[d] += timed(lambda d=d, c=command: doors[d].client.execute(c), 1)
            for d in doors:
                out[d][key] = stats(times[d], 3)
        for _ in range(rss_commands):
            for r in doors.values():
                r.client.execute("cpu PC")
        for d, r in doors.items():
            out[d]["rss_before_mib"] = round(rss0[d], 1)
            out[d]["rss_after_mib"] = round(tree_rss_mib(r.proc.pid), 1)
            out[d]["commands_between"] = 2 * commands + max(1, commands // 4) + rss_commands
            if isinstance(r.client, RobotServerClient):  # one HTTP/1.1 connection for all calls, or one per call
                conn = r.client._transport._connection[1]
                out[d]["keep_alive"] = conn is not None and conn.sock is not None
    finally:
        for r in doors.values():
            r.stop()
    return out


def engine_run(control: Control, elf: Path, work: Path) -> JSON:
    board = load_board("stm32f405")
    os.environ[CONTROL_ENV] = control
    try:
        eng = RenodeEngine(board, work)
        image = load_image(elf, board)
        t0 = time.monotonic()
        with eng:
            eng.start(image, eng.transport(), data=DataService())
            t1 = time.monotonic()
            ending = eng.run(RunLimits(max_instructions=50_000_000, timeout_s=120))
            t2 = time.monotonic()
        t3 = time.monotonic()
    finally:
        os.environ.pop(CONTROL_ENV, None)
    return {
        "start_s": round(t1 - t0, 3),
        "run_s": round(t2 - t1, 3),
        "close_s": round(t3 - t2, 3),
        "total_s": round(t3 - t0, 3),
        "ending": ending.kind.value,
        "instructions": ending.instructions,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3, help="Renode start-ups per door (interleaved)")
    ap.add_argument("--commands", type=int, default=200, help="round trips per command kind")
    ap.add_argument("--rss-commands", type=int, default=3000, help="extra `cpu PC` between the two RSS readings")
    ap.add_argument("--engine-reps", type=int, default=2, help="whole engine runs per door")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--note", default="", help="a sentence stored with the results (e.g. what else loaded the machine)")
    args = ap.parse_args(argv)
    binary = renode_binary()
    if binary is None:
        say("renode is not on PATH (nor $COSIM_RENODE): nothing to measure; e.g. PATH=/opt/renode:$PATH")
        return 0
    load_before = os.getloadavg()
    results: dict[str, JSON] = {d: {"runs": [], "engine": []} for d in DOORS}
    with tempfile.TemporaryDirectory(prefix="cosim-renode-control-") as tmp:
        for rep in range(args.reps):
            for door in list(DOORS) if rep % 2 == 0 else reversed(DOORS):
                say(f"start-up {door} #{rep + 1}")
                results[door]["runs"].append(start_up(door, binary, Path(tmp) / f"{door}-{rep}"))
        say("round trips, robot server and telnet side by side")
        trips = round_trips(binary, Path(tmp), args.commands, args.rss_commands)
        elf = build(load_board("stm32f405"), "bench_trivial", mailbox=True).elf
        for rep in range(args.engine_reps):
            for control in CONTROLS if rep % 2 == 0 else reversed(CONTROLS):
                say(f"engine {control} #{rep + 1}")
                results[control]["engine"].append(engine_run(control, elf, Path(tmp) / f"engine-{control}-{rep}"))
    summary: JSON = {}
    for door in DOORS:
        runs, engine = results[door]["runs"], results[door]["engine"]
        summary[door] = {
            "first_answer_s": stats([r["first_answer_s"] for r in runs], 3),
            "port_open_s": stats([r["port_open_s"] for r in runs if "port_open_s" in r], 3),
            "cpu_to_first_answer_s": stats([r["cpu_to_first_answer_s"] for r in runs], 3),
            "idle_cpu_per_s": stats([r["idle_cpu_per_s"] for r in runs], 3),
            "quit_to_exit_s": stats([r["quit_to_exit_s"] for r in runs], 3),
        }
        if door in trips:
            trip = trips[door]
            summary[door] |= {k: trip[k] for k in ("cpu_pc_ms", "read_word_ms", "run_for_ms")}
            summary[door]["rss_growth_mib"] = round(trip["rss_after_mib"] - trip["rss_before_mib"], 1)
            summary[door]["rss_mib"] = [trip["rss_before_mib"], trip["rss_after_mib"]]
            summary[door]["commands_between_rss"] = trip["commands_between"]
            if "keep_alive" in trip:
                summary[door]["keep_alive"] = trip["keep_alive"]
        if engine:
            summary[door]["engine_start_s"] = stats([e["start_s"] for e in engine], 3)
            summary[door]["engine_total_s"] = stats([e["total_s"] for e in engine], 3)
            summary[door]["engine_endings"] = sorted({f"{e['ending']} {e['instructions']}" for e in engine})
    same = summary["robot"]["engine_endings"] == summary["telnet"]["engine_endings"]
    doc: JSON = {
        "benchmark": "renode_control",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "method": __doc__.split("\n\n", 2)[2].strip(),
        "machine": {"cpu_count": os.cpu_count(), "os": platform.platform(), "python": platform.python_version()},
        "renode": results["robot"]["runs"][0]["banner"],
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "note": args.note,
        "summary": summary,
        "engine_endings_identical": same,
        "raw": results,
        "raw_round_trips": trips,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    say(json.dumps(summary, indent=2))
    say(f"wrote {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
