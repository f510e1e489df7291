"""RenodeEngine: runs a firmware ELF in Renode 1.16 behind the common Engine interface.

How a run works (docs/renode.md has the long version):
- the board YAML becomes a platform overlay (platform.overlay_text) and a list of monitor commands
  (platform.setup_commands, also written as cosim.resc);
- Renode starts in its own process group; the engine drives it through the robot server's XML-RPC (robotserver.py;
  `COSIM_RENODE_CONTROL=telnet`: the telnet monitor) and reads its log from stdout (logscan.RenodeLog);
- USART1 goes to a raw server-socket terminal the engine reads into `self.console`;
- the data channel is the RAM mailbox, serviced synchronously by a CPU hook (mailbox.py);
- time advances only in `emulation RunFor` chunks, so budgets stop on Renode's time grain and the CPU is stopped
  whenever run() returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from tinyml_cosim.core import cortex_m
from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput, EngineError
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.engines import launcher
from tinyml_cosim.engines.base import (
    CallMeasurement,
    CpuState,
    Ending,
    EndKind,
    Engine,
    FaultRegisters,
    RunLimits,
    which,
)
from tinyml_cosim.engines.launcher import free_port
from tinyml_cosim.engines.qemu.polls import CONFINED_BYTES
from tinyml_cosim.engines.renode.endings import Progress, RenodeEndings, event_ending
from tinyml_cosim.engines.renode.facts import RENODE_VERSION
from tinyml_cosim.engines.renode.hooks import hook_one_liner as hook_one_liner_for
from tinyml_cosim.engines.renode.logscan import RenodeLog
from tinyml_cosim.engines.renode.mailbox import MailboxServer, hook_file_text, hook_one_liner
from tinyml_cosim.engines.renode.measure import MeasureHooks
from tinyml_cosim.engines.renode.monitor import MonitorChannel, MonitorError, MonitorTimeout, parse_number
from tinyml_cosim.engines.renode.platform import (
    HookSpec,
    overlay_text,
    plan_overlay,
    resc_text,
    round_up_to_grain,
    run_for_argument,
    setup_commands,
    time_grain,
)
from tinyml_cosim.engines.renode.robotserver import Control, connect_control, control_argv, control_channel
from tinyml_cosim.engines.renode.sensors import SensorFeed, scenario_feeds
from tinyml_cosim.engines.renode.stops import HookedStops
from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.protocol.frames import (
    HOST_CONFIG_SYMBOL,
    MAILBOX_DOORBELL_SYMBOL,
    MAILBOX_SYMBOL,
    TERMINAL_EVENTS,
    ConfigFlag,
    HostConfig,
    Transport,
)

NOT_FOUND = "renode not found on PATH; install Renode 1.16 (e.g. the antmicro/renode:1.16.1 image) or use --engine qemu"
# Event kinds after which the firmware stops making progress by design (it sleeps in WFI when it cannot exit
# through semihosting, which Renode 1.16 cannot do): the engine ends the run when it sees one.
END_EVENTS = TERMINAL_EVENTS
# `cpu MaximumBlockSize`: tlib's translation blocks are cut at this many instructions (default 0x7FF), which bounds
# how stale a timer read inside a block can be (event_count_precision). Blocks end at branches well before this in
# most code; unrolled kernels are cut into a few more blocks.
MAX_BLOCK_SIZE = 64
_VERSION_RE = re.compile(r"(\d+\.\d+\.\d+)")


def renode_binary() -> str | None:
    """`$COSIM_RENODE` (a path or a command name) or `renode` on PATH."""
    configured = os.environ.get("COSIM_RENODE")
    if configured:
        path = Path(configured)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        return which(configured)
    return which("renode")


def renode_argv(binary: str, monitor_port: int, control: Control = "robot", shell_port: int | None = None) -> list[str]:
    """No GUI, no colours in the log (stdout), no analyzer windows, and the monitor on a TCP port (robotserver.
    control_argv; not --console, which would take precedence over --port in CommandLineInterface.PrepareShell)."""
    return [binary, "--disable-xwt", "--plain", "--hide-analyzers", *control_argv(control, monitor_port, shell_port)]


class RenodeEngine(Engine, RenodeEndings):
    name: ClassVar[str] = "renode"
    data_transport: ClassVar[Transport] = Transport.MAILBOX  # serviced by a CPU hook on the doorbell write
    supports_measure: ClassVar[bool] = True  # CPU hooks at entries and return sites (measure.py), no GDB
    # Virtual time per `emulation RunFor`: an EXIT event or a bad access is noticed at the end of its chunk.
    chunk_seconds: ClassVar[float] = 0.1  # 2-3x the MIPS of 10 ms; not a 1 ms quantum: docs/renode.md, Speed
    startup_timeout_s: ClassVar[float] = 120.0  # .NET start-up plus platform load
    command_timeout_s: ClassVar[float] = 60.0
    stall_samples: ClassVar[int] = 5
    # How far past --max-instructions the host waits for the project's runtime to stop itself (as on QEMU).
    budget_margin: ClassVar[int] = 1 << 22
    # A budget's last instructions run in single-step mode (`cpu Step`), which stops on the instruction.
    step_below: ClassVar[int] = 64

    def __init__(self, board: Board, workdir: Path | None = None) -> None:
        super().__init__(board, workdir)
        desc = board.engines.renode
        self.log = RenodeLog(desc.platform if desc else None)
        self.grain = time_grain(board.mips)
        self.files: dict[str, Path] = {}
        self.banner = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._monitor: MonitorChannel | None = None
        self._monitor_usable = False
        self._busy = False
        self._console_sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._mailbox: MailboxServer | None = None
        self._gdb_port: int | None = None
        self._version: str | None = None
        self._closed = False
        self._started_emulation = False
        self.log_path = self.workdir / "renode.log"  # Renode's stdout: its log
        # Wired sensors this run feeds with RESD (engines/renode/sensors.scenario_feeds); set before start().
        self.sensor_feeds: list[SensorFeed] = []
        # Semihosting and fault-entry hooks (stops.py): the host answers at the instruction, the count is exact.
        self._stops: HookedStops | None = None
        self._debug_session = False  # the host configuration's DEBUG_SESSION flag

    # --- capabilities ---
    @classmethod
    def unavailable_reason(cls, board: Board) -> str | None:
        if renode_binary() is None:
            return NOT_FOUND
        desc = board.engines.renode
        if desc is None:
            return f"board {board.id} has no renode description in its platform file"
        if desc.unsupported:
            return desc.unsupported
        try:
            plan_overlay(board)
        except BadInput as exc:
            return str(exc)
        return None

    def version(self) -> str | None:
        if self._version is None:
            m = _VERSION_RE.search(self.banner)
            if m is None:
                binary = renode_binary()
                if binary is None:
                    return None
                try:
                    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60).stdout
                except (OSError, subprocess.SubprocessError):
                    return None
                m = _VERSION_RE.search(out)
            self._version = m[1] if m else None
        return self._version

    @classmethod
    def event_count_precision(cls, board: Board) -> int:
        """The firmware's TIM2 reads on Renode: virtual time advances in whole grains, and a read inside a
        translation block sees the count at the block's start (tlib declares a block's instructions at its end),
        so a reading is up to grain - 1 plus max_block_size - 1 instructions behind the retired count."""
        return time_grain(board.mips) - 1 + MAX_BLOCK_SIZE - 1

    @property
    def systick_ticks_per_instruction(self) -> float:
        # The overlay sets nvic systickFrequency = clock_hz and PerformanceInMips = clock_hz / 1e6.
        return 1.0

    def transport(self) -> HostConfig:
        # No SEMIHOSTING_EXIT: the project's firmware prints its EXIT event (it carries the count) and sleeps; the
        # hooks would answer SYS_EXIT_EXTENDED as for vendor firmware (Renode itself returns 0, facts.SEMIHOSTING).
        return HostConfig(self.data_transport, flags=0)

    # --- life cycle ---
    def start(
        self,
        image: FirmwareImage,
        config: HostConfig,
        *,
        data: DataService | None = None,
        gdb_port: int | None = None,
        halted: bool = False,
    ) -> None:
        if self._proc is not None or self._closed:
            raise EngineError("this Renode engine was already started; create a new one per run")
        binary = renode_binary()
        if binary is None:
            raise EngineError(NOT_FOUND)
        self.image = image
        self._gdb_port = gdb_port
        self._debug_session = bool(config.flags & ConfigFlag.DEBUG_SESSION)
        self.workdir.mkdir(parents=True, exist_ok=True)
        overlay = self._write(f"{self.board.id}-cosim.repl", overlay_text(self.board))
        hook, config = self._mailbox_hook(image, config, data)
        # Vendor firmware has no host configuration: nothing is written, exactly as on QEMU.
        host_config = (image.symbol(HOST_CONFIG_SYMBOL), config.words()) if self._own_runtime(image) else None
        console_port, monitor_port = free_port(), free_port()
        commands = setup_commands(
            self.board,
            overlay=overlay,
            elf=image.path,
            host_config=host_config,
            console_port=console_port,
            hook=hook,
            gdb_port=gdb_port,
            sensors=self.sensor_feeds,
        )
        commands += [f"cpu MaximumBlockSize {MAX_BLOCK_SIZE}", *self._stop_hooks(image)]
        self._write("cosim.resc", resc_text(self.board, commands))
        self._spawn(binary, monitor_port)
        try:
            proc = self._proc
            assert proc is not None
            self._monitor = connect_control(
                self._control, "127.0.0.1", monitor_port, self.startup_timeout_s, alive=lambda: proc.poll() is None
            )
            self._monitor_usable = True
            self.banner = self._monitor.banner
            for command in commands:
                self._execute(command)
            self._console_sock = socket.create_connection(("127.0.0.1", console_port), timeout=10)
            self._console_sock.settimeout(None)
            self._thread(self._read_console, "cosim-renode-console")
            if host_config is not None:
                self._check_host_config(*host_config)
        except BaseException:
            self.close()
            raise

    def _check_host_config(self, address: int, words: list[int]) -> None:
        got = self._number(f"sysbus ReadDoubleWord 0x{address:08X}")
        if got != words[0]:
            raise EngineError(
                f"the host configuration did not land at {HOST_CONFIG_SYMBOL} (0x{address:08x}): read "
                f"0x{got:08x}, wrote 0x{words[0]:08x}"
            )

    def _mailbox_hook(
        self, image: FirmwareImage, config: HostConfig, data: DataService | None
    ) -> tuple[HookSpec | None, HostConfig]:
        """The mailbox data channel's hook when the firmware has the mailbox; otherwise the config says NONE."""
        hook = None
        if config.transport == Transport.MAILBOX:
            if not (image.has_symbol(MAILBOX_SYMBOL) and image.has_symbol(MAILBOX_DOORBELL_SYMBOL)):
                if data is not None and (data.streams or data.sinks):
                    raise BadInput(
                        f"{image.path}: the Renode data channel needs symbols {MAILBOX_SYMBOL} and "
                        f"{MAILBOX_DOORBELL_SYMBOL}; build the firmware with the mailbox transport"
                    )
            else:
                self._mailbox = MailboxServer(data or DataService())
                hook_path = self._write(
                    "cosim_mailbox_hook.py", hook_file_text(image.symbol(MAILBOX_SYMBOL), self._mailbox.port)
                )
                hook = HookSpec(image.symbol(MAILBOX_DOORBELL_SYMBOL), hook_one_liner(hook_path.resolve()))
            if self._mailbox is None:
                # A build without the mailbox (the default outside Renode builds) and nothing to serve: the firmware
                # is told it has no data channel, exactly as if it ran without a host.
                config = dataclasses.replace(config, transport=Transport.NONE)
        return hook, config

    def feed_sensors(self, scenario: Path, seed: int | None) -> None:
        """The board's wired sensor models (sensors.py) fed from the scenario's samples through a RESD file."""
        if not self.board.sensors:
            return
        from tinyml_cosim.scenario.load import load_scenario  # only runs with wired sensors load scenario code

        self.workdir.mkdir(parents=True, exist_ok=True)
        scn = load_scenario(scenario)
        self.sensor_feeds = scenario_feeds(
            self.board, scn, scn.seed if seed is None else seed, self.workdir / "sensors"
        )

    @staticmethod
    def _own_runtime(image: FirmwareImage | None) -> bool:
        return image is not None and image.has_symbol(HOST_CONFIG_SYMBOL)

    def _stop_hooks(self, image: FirmwareImage) -> list[str]:
        """Semihosting and fault-entry hooks (stops.py); the hook file lands in the work directory."""
        self._stops = HookedStops(self.board, image, own_runtime=self._own_runtime(image), console=self.console)
        sites = self._stops.sites()
        if not sites:
            return []
        path = self._write("cosim_hooks.py", self._stops.hook_file())
        return [f'cpu AddHook 0x{address:08X} "{hook_one_liner_for(path.resolve(), kind)}"' for address, kind in sites]

    def _write(self, name: str, text: str) -> Path:
        path = self.workdir / name
        path.write_text(text)
        self.files[name] = path
        return path

    def _spawn(self, binary: str, monitor_port: int) -> None:
        self._control: Control = control_channel()  # $COSIM_RENODE_CONTROL; BadInput before anything starts
        argv = renode_argv(binary, monitor_port, self._control, free_port() if self._control == "robot" else None)
        self.files["renode.log"] = self.workdir / "renode.log"
        # Through the launcher: own process group, so close() kills Renode and the mono child its launcher script
        # runs (not exec'd: PDEATHSIG misses it; the launcher's guard kills the group when the host dies) and a
        # Ctrl-C in the user's terminal reaches only us.
        # Its own TMPDIR: at start-up Renode deletes every $TMPDIR/renode-<pid> directory whose PID is not running,
        # which in the shared /tmp would include other programs' (and other users' Renode runs') folders.
        self._proc = launcher.popen(
            argv,
            tmpdir=self.workdir / "tmp",
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._thread(self._read_log, "cosim-renode-log")

    def _thread(self, target: Callable[[], object], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _read_log(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        # close() may close the pipe under this thread (launcher.kill_group): the log simply ends there.
        with (
            open(self.files["renode.log"], "w", encoding="utf-8", errors="replace") as out,
            contextlib.suppress(ValueError, OSError),
        ):
            for raw in proc.stdout:
                line = raw.decode("utf-8", errors="replace")
                out.write(line)
                self.log.feed(line)

    def write_console(self, data: bytes) -> None:
        """Into USART1's receiver through the console's socket terminal (Renode's UART queues the bytes). They arrive
        while the emulation runs, so the instruction at which the firmware sees them is not fixed run to run."""
        sock = self._console_sock
        if sock is None:
            raise EngineError("Renode's console is not connected (engine not started)")
        try:
            sock.sendall(data)
        except OSError as exc:
            raise EngineError(f"cannot write to Renode's console UART: {exc}") from None

    def _read_console(self) -> None:
        sock = self._console_sock
        assert sock is not None
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                break
            if not data:
                break
            self.console.feed(data)

    # --- monitor helpers ---
    def _require_monitor(self) -> MonitorChannel:
        if self._monitor is None or not self._monitor_usable:
            raise EngineError("the Renode monitor is not available (engine not started, stopped or hung)")
        return self._monitor

    def _execute(self, command: str, timeout: float | None = None) -> str:
        monitor = self._require_monitor()
        self._busy = True
        try:
            return monitor.execute(command, timeout or self.command_timeout_s).output
        except MonitorTimeout:
            # The command is still running inside Renode; the connection cannot be used for anything else.
            self._monitor_usable = False
            raise
        finally:
            self._busy = False

    def _number(self, command: str) -> int:
        return parse_number(self._execute(command))

    def elapsed_cycles(self) -> int:
        """Virtual time in instructions (executed plus WFI-idle): the firmware's TIM2 time base."""
        return self._number("cpu ElapsedCycles")

    def executed_instructions(self) -> int:
        return self._number("cpu ExecutedInstructions")

    def instructions(self) -> int:
        """Retired instructions, exact: Renode's own count plus the semihosting `bkpt`s the hooks answered (skipped
        in Renode, retired on QEMU)."""
        return self.executed_instructions() + (self._stops.skipped if self._stops else 0)

    def _run_for(self, cycles: int, wall_timeout: float | None) -> None:
        cycles = round_up_to_grain(cycles, self.board.mips)
        timeout = self.command_timeout_s if wall_timeout is None else max(0.5, wall_timeout)
        self._execute(f"emulation RunFor {run_for_argument(cycles, self.board.mips)}", timeout)

    # --- memory and CPU ---
    def read_memory(self, address: int, size: int) -> bytes:
        """Word reads through the monitor (`sysbus ReadDoubleWord`): simple and exact, fine for the small reads the
        engine and diagnosis make. The monitor's own accesses are not logged as CPU accesses."""
        start = address & ~3
        end = (address + size + 3) & ~3
        raw = b"".join(
            self._number(f"sysbus ReadDoubleWord 0x{a:08X}").to_bytes(4, "little") for a in range(start, end, 4)
        )
        return raw[address - start : address - start + size]

    def read_cpu(self) -> CpuState:
        return CpuState(
            pc=self._number("cpu PC"),
            lr=self._number("cpu LR"),
            sp=self._number("cpu SP"),
            xpsr=self._number("cpu XProgramStatusRegister"),
        )

    def process_stack_pointer(self) -> int | None:
        # tlib keeps the active SP in r13 and the other one in other_sp; CurrentSP says whether PSP is active.
        try:
            if self._number("cpu CurrentSP"):
                return self._number("cpu SP")
            return self._number("cpu OtherSP")
        except EngineError:
            return None

    def read_fault_registers(self) -> FaultRegisters:
        # Renode's NVIC models CFSR and MMFAR; HFSR is tag-only (reads 0 even after an escalation) and BFAR is not
        # defined (unhandled read). Unknown is reported as None rather than a misleading 0.
        return FaultRegisters(
            cfsr=self.read_u32(cortex_m.CFSR), hfsr=None, mmfar=self.read_u32(cortex_m.MMFAR), bfar=None
        )

    # --- running ---
    def run(self, limits: RunLimits) -> Ending:
        if self._proc is None or self._closed:
            raise EngineError("run() before start()")
        if self._gdb_port is not None:
            return self._run_free(limits)
        deadline = time.monotonic() + limits.timeout_s if limits.timeout_s else None
        # The budget counts retired instructions (cpu ExecutedInstructions plus answered semihosting calls), as on
        # QEMU; the hang rule counts virtual time (cpu ElapsedCycles), which also passes while the core sleeps.
        # The project's runtime stops itself at its budget (BUDGET event) and has its own watchdog on simulated
        # time: the host's rules are backstops that give it room to speak first (as on QEMU).
        own = self._own_runtime(self.image)
        budget = limits.max_instructions
        # In a debug session (--measure, GDB) the runtime has no service alarm: the host stops it on the instruction.
        if budget is not None and own and not self._debug_session:
            budget += self.budget_margin
        hang = limits.hang_instructions + (1 << 26 if own else 0)
        try:
            st = Progress(self.elapsed_cycles(), self.instructions(), self._progress(), self.log.mark())
        except (MonitorTimeout, EngineError):
            return self._dead_ending(None)
        while True:
            early = self._early_ending(st.count, deadline)
            if early is not None:
                return early
            if self._progress() != st.seen:
                st.moved(self._progress(), self.log.mark())
            if not own and time.monotonic() - st.active_since >= limits.hang_wall_s:
                # As on QEMU: quiet for hang_wall_s and the PC in one small loop is a hang, whatever it polls. The
                # samples are taken between short RunFor steps, so virtual time is not disturbed.
                stall = self._stall_ending(st.cycles - st.progress_at, st.polled_mark)
                if max(stall.pc_samples) - min(stall.pc_samples) < CONFINED_BYTES:
                    stall.hang_wall_s = limits.hang_wall_s
                    return stall
                st.active_since = time.monotonic()
            if budget is not None and st.count >= budget:
                return self._settled_ending(st.count) or self._budget_ending(st.count, limits.max_instructions or 0)
            if st.cycles - st.progress_at >= hang:
                late = self._settled_ending(st.count)
                if late is not None:
                    return late
                if self._progress() == st.seen:
                    return self._stall_ending(st.cycles - st.progress_at, st.polled_mark)
                continue
            stopped = self._advance(st, min(self.chunk, st.progress_at + hang - st.cycles), budget, deadline)
            if stopped is not None:
                return stopped

    @property
    def chunk(self) -> int:
        return round_up_to_grain(int(self.chunk_seconds * self.board.clock_hz), self.board.mips)

    def _advance(self, st: Progress, step: int, budget: int | None, deadline: float | None) -> Ending | None:
        """One RunFor chunk, or toward the budget: whole grains of time while they fit, halving the distance (answered
        semihosting calls add to the count without taking time), and `cpu Step` for the last few instructions."""
        remaining = None if budget is None else budget - st.count
        if remaining is not None:
            step = min(step, max(self.grain, remaining // 2 - remaining // 2 % self.grain))
        wall = None if deadline is None else deadline - time.monotonic() + 5.0
        try:
            if remaining is not None and remaining <= self.step_below:
                self._step(remaining, wall)
                if self.instructions() == st.count:  # a core that cannot step (halted, sleeping) never gets there
                    ending = self._stopped_ending(EndKind.BUDGET, st.count, "stopped short of the budget")
                    ending.instructions_exact, ending.instructions_precision = False, remaining
                    return ending
            else:
                self._run_for(step, wall)
            st.cycles, st.count = self.elapsed_cycles(), self.instructions()
        except MonitorTimeout:
            return self._timeout_ending(st.count, "Renode did not finish a RunFor chunk before the wall-clock limit")
        except (MonitorError, EngineError) as exc:
            return self._dead_ending(st.count, str(exc))
        return None

    def measure(self, limits: RunLimits, functions: dict[str, int]) -> tuple[Ending, list[CallMeasurement]]:
        """run() with hooks at the functions' entries and return sites (measure.py): exact per-call counts. A GDB
        server the session opened for measuring stays unused: time is granted in RunFor chunks, as in run()."""
        if self._proc is None or self._closed or self.image is None:
            raise EngineError("measure() before start()")
        calls = MeasureHooks.for_image(
            self.image.path, self.board, functions, skipped=lambda: self._stops.skipped if self._stops else 0
        )
        try:
            path = self._write("cosim_measure_hooks.py", calls.hook_file())
            for command in calls.commands(path.resolve()):
                self._execute(command)
            self._gdb_port = None  # run() would otherwise run free for a debugger that never comes
            ending = self.run(limits)
        finally:
            calls.close()
        if calls.error:
            raise EngineError(f"--measure on Renode: {calls.error}")
        return ending, calls.calls

    def _progress(self) -> tuple[int, int]:
        return (self.console.line_count, self._mailbox.requests if self._mailbox else 0)

    def _early_ending(self, cycles: int, deadline: float | None) -> Ending | None:
        """Endings that do not wait for a limit, in the order they happen: a fault handler's entry and a bad access
        (after which the firmware may still print its end event or exit: Renode does not stop it), then the
        firmware's end (semihosting exit or its own end event), a dead Renode, wall time."""
        stops = self._stops
        if stops is not None and stops.fault_entry is not None:
            return stops.fault_entry
        if stops is not None and stops.error is not None:
            return self._dead_ending(cycles, f"the semihosting/fault hook failed: {stops.error}")
        exit_ = stops.exit if stops is not None else None
        if exit_ is not None or self.console.terminal_event() is not None:
            self._settle_log()
        if self.log.first_out_of_bounds() is not None:
            return self._oob_ending(cycles)
        event = self.console.terminal_event()
        if event is not None:
            return event_ending(event, self.event_count_precision(self.board))
        if exit_ is not None:
            code, count = exit_
            self._settle()
            return Ending(
                kind=EndKind.EXITED,
                instructions=count,
                instructions_exact=True,
                exit_code=code,
                message=f"semihosting exit, code {code}",
            )
        if self._proc is not None and self._proc.poll() is not None:
            return self._dead_ending(cycles)
        if deadline is not None and time.monotonic() >= deadline:
            return self._timeout_ending(cycles, "wall-clock limit reached")
        return None

    def _settle_log(self) -> None:
        """Renode's log reaches us through a pipe and a reader thread: an answered monitor command proves Renode has
        written everything it logged before it, a short wait lets the reader catch up."""
        with contextlib.suppress(EngineError):
            self._execute("cpu PC")
        time.sleep(0.05)

    def _step(self, count: int, wall_timeout: float | None) -> None:
        """Exactly `count` instructions (less than one time grain) with the core in single-step mode."""
        timeout = self.command_timeout_s if wall_timeout is None else max(0.5, wall_timeout)
        self._execute(f"cpu Step {count}", timeout)
        self._execute("pause", timeout)
        self._execute("cpu ExecutionMode Continuous", timeout)

    def _settle(self, quiet_s: float = 0.05, max_s: float = 0.5) -> None:
        """Console bytes travel UART model -> socket terminal -> TCP -> reader thread after RunFor has returned; wait
        for them before deciding that an event did not come."""
        end = time.monotonic() + max_s
        while time.monotonic() < end and time.monotonic() - self.console.last_activity < quiet_s:
            time.sleep(quiet_s / 2)

    def _settled_ending(self, cycles: int) -> Ending | None:
        self._settle()
        self._settle_log()
        return self._early_ending(cycles, None)

    def _run_free(self, limits: RunLimits) -> Ending:
        """With a GDB server the debugger may halt the CPU at any time, so time cannot be granted in RunFor chunks:
        the emulation runs free (`start`) and the limits are checked every 100 ms of wall time."""
        deadline = time.monotonic() + limits.timeout_s if limits.timeout_s else None
        if not self._started_emulation:
            self._execute("start")
            self._started_emulation = True
        progress, progress_at = self._progress(), 0
        cycles = 0
        try:
            while True:
                cycles = self.elapsed_cycles()
                early = self._early_ending(cycles, deadline)
                if early is not None:
                    return early
                if self._progress() != progress:
                    progress, progress_at = self._progress(), cycles
                if limits.max_instructions is not None and cycles >= limits.max_instructions:
                    self._execute("pause")
                    return self._stopped_ending(EndKind.BUDGET, self.elapsed_cycles(), "budget (free-running)")
                if cycles - progress_at >= limits.hang_instructions:
                    self._execute("pause")
                    return self._stall_ending(cycles - progress_at, self.log.mark())
                time.sleep(0.1)
        finally:
            if self._monitor_usable and self._proc is not None and self._proc.poll() is None:
                with contextlib.suppress(EngineError):
                    self._execute("pause")

    # --- shutdown ---
    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and not self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        monitor, proc = self._monitor, self._proc
        if monitor is not None:
            # A polite quit when the monitor is idle; never from inside another command (e.g. a signal handler
            # interrupting RunFor), where the kill below is the only safe way.
            if self._monitor_usable and not self._busy and proc is not None and proc.poll() is None:
                with contextlib.suppress(Exception):
                    monitor.execute("quit", timeout=2.0, check=False)
            monitor.close()
        self._monitor_usable = False
        if proc is not None:
            launcher.kill_group(proc)
        if self._console_sock is not None:
            with contextlib.suppress(OSError):
                self._console_sock.close()
        if self._mailbox is not None:
            self._mailbox.close()
        if self._stops is not None:
            self._stops.close()
        for t in self._threads:
            t.join(timeout=2)
        self.console.close()


__all__ = ["END_EVENTS", "NOT_FOUND", "RENODE_VERSION", "RenodeEngine", "event_ending", "renode_argv", "renode_binary"]
