"""RenodeEngine: runs a firmware ELF in Renode 1.16 behind the common Engine interface.

How a run works (docs/renode.md has the long version):
- the board YAML becomes a platform overlay (platform.overlay_text) and a list of monitor commands
  (platform.setup_commands, also written as cosim.resc);
- Renode starts as `renode --disable-xwt --plain --hide-analyzers --port <P>` in its own process group; the engine
  drives it through the monitor socket (monitor.MonitorClient) and reads its log from stdout (logscan.RenodeLog);
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
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from tinyml_cosim.core import cortex_m
from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput, EngineError
from tinyml_cosim.elf.image import FirmwareImage
from tinyml_cosim.engines import launcher
from tinyml_cosim.engines.base import CpuState, Ending, EndKind, Engine, FaultRegisters, RunLimits, which
from tinyml_cosim.engines.launcher import free_port
from tinyml_cosim.engines.renode.facts import RENODE_VERSION
from tinyml_cosim.engines.renode.logscan import RenodeLog
from tinyml_cosim.engines.renode.mailbox import MailboxServer, hook_file_text, hook_one_liner
from tinyml_cosim.engines.renode.monitor import MonitorClient, MonitorError, MonitorTimeout, parse_number
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
from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.protocol.frames import (
    HOST_CONFIG_SYMBOL,
    MAILBOX_DOORBELL_SYMBOL,
    MAILBOX_SYMBOL,
    TERMINAL_EVENTS,
    Event,
    HostConfig,
    Transport,
)

NOT_FOUND = "renode not found on PATH; install Renode 1.16 (e.g. the antmicro/renode:1.16.1 image) or use --engine qemu"
# Event kinds after which the firmware stops making progress by design (it sleeps in WFI when it cannot exit
# through semihosting, which Renode 1.16 cannot do): the engine ends the run when it sees one.
END_EVENTS = TERMINAL_EVENTS
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


def renode_argv(binary: str, monitor_port: int) -> list[str]:
    """No GUI, no colours in the log (stdout), no analyzer windows, monitor on a TCP port (not --console, which
    would take precedence over --port in CommandLineInterface.PrepareShell)."""
    return [binary, "--disable-xwt", "--plain", "--hide-analyzers", "--port", str(monitor_port)]


def event_ending(event: Event, grain: int) -> Ending:
    """EXITED from the firmware's own end-of-run event.

    The count is the firmware's (TIM2 time base, printed in the event); on Renode TIM2 advances in steps of one
    time grain, so it is exact to grain - 1 instructions.
    """
    faults = FaultRegisters()
    if event.kind == "FAULT":
        faults = FaultRegisters(
            cfsr=event.int_field("cfsr"),
            hfsr=event.int_field("hfsr"),
            mmfar=event.int_field("mmfar"),
            bfar=event.int_field("bfar"),
        )
    return Ending(
        kind=EndKind.EXITED,
        instructions=event.instructions,
        instructions_exact=grain == 1,
        instructions_precision=grain - 1,
        exit_code=event.int_field("code") if event.kind == "EXIT" else None,
        faults=faults,
        message=f"firmware reported {event.kind}" + "".join(f" {k}={v}" for k, v in event.fields.items()),
    )


class RenodeEngine(Engine):
    name: ClassVar[str] = "renode"
    data_transport: ClassVar[Transport] = Transport.MAILBOX  # serviced by a CPU hook on the doorbell write
    # Virtual time per `emulation RunFor`: an EXIT event or a bad access is noticed at the end of its chunk.
    chunk_seconds: ClassVar[float] = 0.01
    startup_timeout_s: ClassVar[float] = 120.0  # .NET start-up plus platform load
    command_timeout_s: ClassVar[float] = 60.0
    stall_samples: ClassVar[int] = 5

    def __init__(self, board: Board, workdir: Path | None = None) -> None:
        super().__init__(board, workdir)
        desc = board.engines.renode
        self.log = RenodeLog(desc.platform if desc else None)
        self.grain = time_grain(board.mips)
        self.files: dict[str, Path] = {}
        self.banner = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._monitor: MonitorClient | None = None
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

    @property
    def systick_ticks_per_instruction(self) -> float:
        # The overlay sets nvic systickFrequency = clock_hz and PerformanceInMips = clock_hz / 1e6.
        return 1.0

    def transport(self) -> HostConfig:
        # No SEMIHOSTING_EXIT: Renode 1.16.1's Arm semihosting handles only SYS_WRITEC/SYS_WRITE0/SYS_READC
        # (renode_facts.SEMIHOSTING); SYS_EXIT_EXTENDED returns 0 and the firmware would run on.
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
        self.workdir.mkdir(parents=True, exist_ok=True)
        overlay = self._write(f"{self.board.id}-cosim.repl", overlay_text(self.board))
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
        host_config = (image.symbol(HOST_CONFIG_SYMBOL), config.words())
        console_port, monitor_port = free_port(), free_port()
        commands = setup_commands(
            self.board,
            overlay=overlay,
            elf=image.path,
            host_config=host_config,
            console_port=console_port,
            hook=hook,
            gdb_port=gdb_port,
        )
        self._write("cosim.resc", resc_text(self.board, commands))
        self._spawn(binary, monitor_port)
        try:
            proc = self._proc
            assert proc is not None
            self._monitor = MonitorClient.connect(
                "127.0.0.1", monitor_port, self.startup_timeout_s, alive=lambda: proc.poll() is None
            )
            self._monitor_usable = True
            self.banner = self._monitor.banner
            for command in commands:
                self._execute(command)
            self._console_sock = socket.create_connection(("127.0.0.1", console_port), timeout=10)
            self._console_sock.settimeout(None)
            self._thread(self._read_console, "cosim-renode-console")
            address, words = host_config
            got = self._number(f"sysbus ReadDoubleWord 0x{address:08X}")
            if got != words[0]:
                raise EngineError(
                    f"the host configuration did not land at {HOST_CONFIG_SYMBOL} (0x{address:08x}): read "
                    f"0x{got:08x}, wrote 0x{words[0]:08x}"
                )
        except BaseException:
            self.close()
            raise

    def _write(self, name: str, text: str) -> Path:
        path = self.workdir / name
        path.write_text(text)
        self.files[name] = path
        return path

    def _spawn(self, binary: str, monitor_port: int) -> None:
        argv = renode_argv(binary, monitor_port)
        self.files["renode.log"] = self.workdir / "renode.log"
        # Through the launcher: own process group, so close() kills Renode and the dotnet/mono child it execs and a
        # Ctrl-C in the user's terminal reaches only us; and PDEATHSIG, so it dies with a killed host.
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
        with open(self.files["renode.log"], "w", encoding="utf-8", errors="replace") as out:
            for raw in proc.stdout:
                line = raw.decode("utf-8", errors="replace")
                out.write(line)
                self.log.feed(line)

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
    def _require_monitor(self) -> MonitorClient:
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
        chunk = round_up_to_grain(int(self.chunk_seconds * self.board.clock_hz), self.board.mips)
        try:
            cycles = self.elapsed_cycles()
        except (MonitorTimeout, EngineError):
            return self._dead_ending(None)
        progress = self._progress()
        progress_at = cycles
        polled_mark = self.log.mark()
        while True:
            early = self._early_ending(cycles, deadline)
            if early is not None:
                return early
            now_progress = self._progress()
            if now_progress != progress:
                progress, progress_at, polled_mark = now_progress, cycles, self.log.mark()
            if limits.max_instructions is not None and cycles >= limits.max_instructions:
                late = self._settled_ending(cycles)
                if late is not None:
                    return late
                ending = self._stopped_ending(EndKind.BUDGET, cycles, f"stopped at {cycles} instructions (budget)")
                # As the QEMU engine: the precision of a budget stop is how far past the budget it landed (< grain).
                ending.instructions_precision = cycles - limits.max_instructions
                return ending
            if cycles - progress_at >= limits.hang_instructions:
                late = self._settled_ending(cycles)
                if late is not None:
                    return late
                if self._progress() == progress:
                    return self._stall_ending(cycles, cycles - progress_at, polled_mark)
                continue
            step = chunk
            if limits.max_instructions is not None:
                step = min(step, limits.max_instructions - cycles)
            step = min(step, progress_at + limits.hang_instructions - cycles)
            wall = None if deadline is None else deadline - time.monotonic() + 5.0
            try:
                self._run_for(step, wall)
                cycles = self.elapsed_cycles()
            except MonitorTimeout:
                return self._timeout_ending(cycles, "Renode did not finish a RunFor chunk before the wall-clock limit")
            except MonitorError as exc:
                return self._dead_ending(cycles, str(exc))
            except EngineError as exc:
                return self._dead_ending(cycles, str(exc))

    def _progress(self) -> tuple[int, int]:
        return (self.console.line_count, self._mailbox.requests if self._mailbox else 0)

    def _early_ending(self, cycles: int, deadline: float | None) -> Ending | None:
        """Endings that do not wait for a limit: the firmware's end event, a bad access, a dead Renode, wall time."""
        event = self.console.terminal_event()
        if event is not None:
            return event_ending(event, self.grain)
        bad = self.log.first_out_of_bounds()
        if bad is not None:
            return self._oob_ending(cycles)
        if self._proc is not None and self._proc.poll() is not None:
            return self._dead_ending(cycles)
        if deadline is not None and time.monotonic() >= deadline:
            return self._timeout_ending(cycles, "wall-clock limit reached")
        return None

    def _settle(self, quiet_s: float = 0.05, max_s: float = 0.5) -> None:
        """Console bytes travel UART model -> socket terminal -> TCP -> reader thread after RunFor has returned; wait
        for them before deciding that an event did not come."""
        end = time.monotonic() + max_s
        while time.monotonic() < end and time.monotonic() - self.console.last_activity < quiet_s:
            time.sleep(quiet_s / 2)

    def _settled_ending(self, cycles: int) -> Ending | None:
        self._settle()
        event = self.console.terminal_event()
        if event is not None:
            return event_ending(event, self.grain)
        if self.log.first_out_of_bounds() is not None:
            return self._oob_ending(cycles)
        return None

    def _stopped_ending(self, kind: EndKind, cycles: int, message: str) -> Ending:
        cpu = self.read_cpu()
        return Ending(
            kind=kind,
            instructions=cycles,
            instructions_exact=True,
            cpu=cpu,
            stacked=self.unwind_exception(cpu),
            message=message,
        )

    def _stall_ending(self, cycles: int, idle: int, polled_mark: Counter[int]) -> Ending:
        samples: list[int] = []
        sample_step = round_up_to_grain(max(self.grain, self.board.clock_hz // 10_000), self.board.mips)
        for _ in range(self.stall_samples):
            samples.append(self._number("cpu PC"))
            self._run_for(sample_step, None)
        cycles = self.elapsed_cycles()
        cpu = self.read_cpu()
        polled = self.log.most_polled_since(polled_mark)
        return Ending(
            kind=EndKind.STALLED,
            instructions=cycles,
            instructions_exact=True,
            cpu=cpu,
            stacked=self.unwind_exception(cpu),
            faults=self.read_fault_registers(),
            polled_address=polled,
            pc_samples=samples,
            message=f"no console line or data request for {idle} instructions",
        )

    def _oob_ending(self, cycles: int) -> Ending:
        bad = self.log.first_out_of_bounds()
        assert bad is not None
        cpu: CpuState | None = None
        faults = FaultRegisters()
        with contextlib.suppress(EngineError):
            now = self.read_cpu()
            # The PC that matters is the accessing instruction's, from the log line; Renode ran on to the end of
            # the chunk, so LR/SP/xPSR are those at the stop.
            cpu = CpuState(pc=bad.pc, lr=now.lr, sp=now.sp, xpsr=now.xpsr)
            faults = self.read_fault_registers()
        return Ending(
            kind=EndKind.OUT_OF_BOUNDS,
            instructions=cycles,
            instructions_exact=False,
            # The access happened inside the last RunFor chunk; Renode does not stop on it.
            instructions_precision=round_up_to_grain(int(self.chunk_seconds * self.board.clock_hz), self.board.mips),
            cpu=cpu,
            faults=faults,
            bad_address=bad.address,
            pc_samples=[bad.pc],
            message=f"{bad.describe()} (Renode: {bad.line.strip()})",
        )

    def _timeout_ending(self, cycles: int | None, why: str) -> Ending:
        cpu = None
        if self._monitor_usable:
            with contextlib.suppress(EngineError):
                cpu = self.read_cpu()
        return Ending(kind=EndKind.TIMEOUT, instructions=cycles, cpu=cpu, message=why)

    def _dead_ending(self, cycles: int | None, why: str = "") -> Ending:
        proc = self._proc
        code = proc.poll() if proc else None
        if proc is not None and code is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = proc.wait(timeout=2)
        tail = "\n".join(self.log.recent(15))
        head = f"Renode exited with status {code}" if code is not None else "Renode stopped answering"
        return Ending(
            kind=EndKind.CRASH,
            instructions=cycles,
            message=f"{head}{': ' + why if why else ''}\n{tail}".strip(),
        )

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
                    return self._stall_ending(cycles, cycles - progress_at, self.log.mark())
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
        for t in self._threads:
            t.join(timeout=2)
        self.console.close()


__all__ = ["END_EVENTS", "NOT_FOUND", "RENODE_VERSION", "RenodeEngine", "event_ending", "renode_argv", "renode_binary"]
