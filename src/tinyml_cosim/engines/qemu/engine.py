"""QEMU backend: Debian's qemu-system-arm 7.2 with deterministic instruction counting.

-icount shift=0,sleep=off makes virtual time one nanosecond per retired instruction, so runs repeat to the
instruction and QMP's `query-replay` reports the exact instruction count without stopping the CPU. The host watches
through QMP (a unix socket per run): it polls that count for budgets and stall detection, and on a stall stops the
CPU and reads registers, the stacked exception frame and the SCB fault registers through the human monitor, so a
firmware that does not use this project's runtime is diagnosed too.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import select
import signal
import socket
import subprocess
import termios
import threading
import time
from pathlib import Path

from tinyml_cosim.core.errors import EngineError
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
from tinyml_cosim.engines.gdbremote import RspClient, RspError
from tinyml_cosim.engines.qemu import exitsites, faults, flashwatch, plugin, sandbox, stallprobe
from tinyml_cosim.engines.qemu.consolesplit import QEMU_OWN_RE, ConsoleSplitter
from tinyml_cosim.engines.qemu.paint import StackRegion, paint_args
from tinyml_cosim.engines.qemu.plugin import PluginCounter, PluginState
from tinyml_cosim.engines.qemu.polls import RECENT_POLLS, PollWatch, device_bases
from tinyml_cosim.engines.qemu.psp import read_psp
from tinyml_cosim.engines.qemu.qmp import QmpClient, QmpDisconnected, QmpError
from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.protocol.frames import HOST_CONFIG_SYMBOL, ConfigFlag, HostConfig, Transport
from tinyml_cosim.protocol.framing import serve_frames

QEMU_BINARY = os.environ.get("COSIM_QEMU", "qemu-system-arm")
_REG_RE = stallprobe.REG_RE
# With sleep=off virtual time only moves while instructions retire or timers are due: a core asleep in WFI with
# nothing pending never advances it, so "no progress" must also be measured in wall time.
FROZEN_WALL_S = 5.0
SIGTRAP = 5  # the signal of a GDB stub's breakpoint stop
_LOCKUP_RE = re.compile(r"Lockup", re.IGNORECASE)
# COSIM_QEMU_PLUGIN=off runs foreign firmware without the exact-count plugin (its counts are then labelled
# approximate); the bench and the fallback's tests use it.
PLUGIN_ENV = "COSIM_QEMU_PLUGIN"
# Without the plugin, an exit between two polls leaves the instructions since the last poll unseen: bounded by
# the fastest rate seen this run, or by this ceiling (QEMU 7.2 TCG with icount stays well below it) before any.
CEILING_INSTRUCTIONS_PER_S = 1e9


class QemuExited(EngineError):
    """QEMU went away while the host was talking to it (usually: the firmware just exited through semihosting)."""


class QemuEngine(Engine):
    name = "qemu"
    data_transport = Transport.SEMIHOSTING
    supports_live_steps = True  # QEMU runs on between run() calls; a held data request holds the firmware
    supports_measure = True
    # QEMU's STM32 SoCs leave many peripherals (RCC among them) as unimplemented devices; Renode models more.
    unmodelled_peripheral_advice = "; use --engine renode"
    # The stack region the engine paints before reset for firmware that paints none itself (engines.qemu.paint);
    # set by the caller before start(), read back with paint.high_water at the end.
    stack_paint: StackRegion | None = None
    # More plugins for QEMU's command line (the cycle model's, run.cycle_estimate): they observe, never steer.
    plugin_args: tuple[str, ...] = ()
    cycle_profile: Path | None = None  # that plugin's profile file: `measure` reads its running total at stops

    def __init__(self, board, workdir=None) -> None:
        super().__init__(board, workdir)
        self._proc: subprocess.Popen[bytes] | None = None
        self._qmp: QmpClient | None = None
        self._version: str | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._data: DataService | None = None
        self._config: HostConfig | None = None
        self._last_icount = 0
        # The exact-count plugin's shared page (foreign firmware), and why it is not loaded when it is not.
        self._counter: PluginCounter | None = None
        self.count_plugin_missing: str | None = None
        self.sandbox_note: str | None = None  # why semihosting file access is not confined (sandbox.py), if it is not
        self._last_poll_t: float | None = None  # wall time of the last QMP count, and the fastest rate seen
        self._peak_rate = 0.0
        self._count_started = time.monotonic()
        self._qmp_stopped = False  # stopped through QMP: QEMU's own count is exact and is the one reported
        self._gdb_port: int | None = None
        self._console_fd: int | None = None
        # Foreign firmware: the GDB connection that holds breakpoints at its fault handlers, and their addresses.
        self._fault_rsp: RspClient | None = None
        self._fault_handlers: dict[int, str] = {}
        self._fault_stopped = False
        self.stray_stops: list[int] = []  # PCs of traps of the fault stub at no fault handler (diagnostics)
        # Semihosting exit sites with a breakpoint (exitsites.py): what QEMU takes with it when it quits is read
        # there, with the CPU stopped on the exit's bkpt (count, painted stack); stops there that were no exit.
        self._exit_sites: set[int] = set()
        self.exit_instructions: int | None = None
        self.stack_used_at_exit: int | None = None
        self.exit_site_stops = 0
        self.hang_probes = 0  # looks of the wall-clock hang rule at where the CPU runs (stallprobe.py)
        self._poll_watch: PollWatch | None = None
        self.recent_polls: list[tuple[int, int]] = []  # (pc, register) the firmware was seen polling, newest last
        self._console_lock = threading.Lock()
        self._stderr_path = self.workdir / "qemu.stderr"
        self._log_path = self.workdir / "qemu.log"  # -D: the poll watch's and the stall probe's log
        # QEMU's own messages (errors, warnings, a lockup's register dump) go to stderr.
        self.log_path = self._stderr_path

    # --- capabilities ---
    @classmethod
    def unavailable_reason(cls, board) -> str | None:
        if which(QEMU_BINARY) is None:
            return f"{QEMU_BINARY} not found on PATH: run `make setup` (installs Debian's qemu-system-arm)"
        return None

    def version(self) -> str | None:
        # From the QMP greeting of the started QEMU; asking `--version` starts another QEMU (~40 ms a run).
        return self._version or _qemu_version(QEMU_BINARY)

    @property
    def systick_ticks_per_instruction(self) -> float:
        q = self.board.engines.qemu
        assert q is not None and q.systick_hz is not None  # create_engine refuses a board QEMU cannot run
        # SysTick counts the SoC's sysclk in virtual time; one instruction is one virtual nanosecond.
        return q.systick_hz / 1e9

    def transport(self) -> HostConfig:
        return HostConfig(self.data_transport, flags=int(ConfigFlag.SEMIHOSTING_EXIT | ConfigFlag.QEMU_TIMER_ALARM))

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
        q = self.board.engines.qemu
        if q is None:
            raise EngineError(f"board {self.board.id} has no QEMU machine")
        self.image, self._config, self._data = image, config, data
        self.workdir.mkdir(parents=True, exist_ok=True)
        qmp_path = self.workdir / "qmp.sock"
        assert q.machine is not None  # create_engine refuses a board marked unsupported on QEMU
        argv = self._argv_for(image, config, q.machine, qmp_path, gdb_port)
        if config.transport == Transport.SEMIHOSTING and data is not None:
            for name in ("cosim-f2h", "cosim-h2f"):
                os.mkfifo(self.workdir / name)
        argv += self._count_args(image, config)
        argv += paint_args(image, self.board, self.stack_paint)
        argv += list(self.plugin_args)
        confined = sandbox.confine(argv, self.workdir)  # seccomp, and a mount namespace where one can be made
        self._argv, self.sandbox_note = confined.argv, confined.note
        # Foreign firmware may print to newlib's stderr (":tt" opened for append: QEMU's own stderr). One pipe for
        # QEMU's stdout and stderr keeps that text in order with the rest; QEMU's own lines are taken out of it
        # again by _ConsoleSplitter. The project's firmware prints nothing there: its stderr stays QEMU's alone.
        merged = not image.has_symbol(HOST_CONFIG_SYMBOL)
        stderr = subprocess.STDOUT if merged else subprocess.PIPE
        try:
            self._proc = launcher.popen(
                self._argv, cwd=self.workdir, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
            )
        except OSError as exc:
            raise EngineError(f"cannot start {QEMU_BINARY}: {exc}") from None
        assert self._proc.stdout is not None
        if self._proc.stderr is not None:
            self._spawn(self._read_stderr, self._proc.stderr)
        else:
            self._stderr_path.touch()
        self._qmp = self._connect_qmp(qmp_path)
        self._version = self._qmp.qemu_version
        self._spawn(self._read_console, self._proc.stdout, merged)
        if gdb_port is None and not image.has_symbol(HOST_CONFIG_SYMBOL):
            self._fault_rsp = RspClient.unix(str(self.workdir / "gdb.sock"))
            self._fault_handlers = faults.arm_fault_breakpoints(self, self._fault_rsp)
            flashwatch.watch_flash(self._fault_rsp, self.board)  # QEMU drops writes to flash silently: report them
            if self.stack_paint is not None:  # the painted stack is read at the exit, before QEMU quits
                exitsites.arm(self, self._fault_rsp)
        if not image.has_symbol(HOST_CONFIG_SYMBOL):
            self._poll_watch = PollWatch(self)
        if data is not None and config.transport == Transport.SEMIHOSTING:
            self._spawn(self._serve_fifos, data)
        elif data is not None and config.transport == Transport.UART:
            self._spawn(self._serve_socket, self._connect_unix(self.workdir / "data.sock"), data)
        if not halted:
            with contextlib.suppress(QemuExited):  # a very short firmware may be done before the reply arrives
                self._qmp_cmd("cont")

    def _argv_for(
        self, image: FirmwareImage, config: HostConfig, machine: str, qmp_path: Path, gdb_port: int | None
    ) -> list[str]:
        argv = [
            QEMU_BINARY,
            "-M",
            machine,
            "-kernel",
            str(image.path.resolve()),
            "-display",
            "none",
            "-monitor",
            "none",
            "-icount",
            "shift=0,sleep=off",
            # One ordered console stream on QEMU's stdout: USART1 and semihosting SYS_WRITEC/SYS_WRITE0 share this
            # chardev (mux), and SYS_WRITE to the ":tt" stdout handle that newlib's rdimon opens goes to QEMU's own
            # stdout, the same pipe. `signal=off`: a 0x03 the host writes to the USART is data, not Ctrl-C.
            "-semihosting-config",
            "enable=on,target=native,chardev=console",
            "-chardev",
            "stdio,id=console,mux=on,signal=off",
            "-serial",
            "chardev:console",
            "-qmp",
            f"unix:{qmp_path},server=on,wait=off",
            "-D",
            str(self._log_path),
            "-S",
        ]
        if config.transport == Transport.UART:
            data_path = self.workdir / "data.sock"
            argv += ["-chardev", f"socket,id=data,path={data_path},server=on,wait=off", "-serial", "chardev:data"]
        if image.has_symbol(HOST_CONFIG_SYMBOL):
            base = image.symbol(HOST_CONFIG_SYMBOL)
            for i, word in enumerate(config.words()):
                # QEMU's generic loader writes each word at reset, before the first instruction runs.
                argv += ["-device", f"loader,addr=0x{base + 4 * i:08x},data=0x{word:08x},data-len=4"]
        self._gdb_port = gdb_port
        if gdb_port is not None:
            argv += ["-gdb", f"tcp:127.0.0.1:{gdb_port}"]
        elif not image.has_symbol(HOST_CONFIG_SYMBOL):
            # Foreign firmware has no handler that reports a fault: a private GDB stub stops the CPU at the entry
            # of its fault handlers (faults.py).
            gdb_path = self.workdir / "gdb.sock"
            argv += ["-chardev", f"socket,id=faultgdb,path={gdb_path},server=on,wait=off", "-gdb", "chardev:faultgdb"]
        return argv

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name=f"cosim-qemu-{target.__name__}")
        t.start()
        self._threads.append(t)

    def _wait_for_socket(self, path: Path) -> None:
        deadline = time.monotonic() + 10
        while not path.exists():
            if self._proc is not None and self._proc.poll() is not None:
                raise EngineError(f"{QEMU_BINARY} exited at start-up: {self._stderr_tail() or 'no message'}")
            if time.monotonic() > deadline:
                raise EngineError(f"{QEMU_BINARY} did not create {path.name} within 10 s")
            time.sleep(0.002)

    def _connect_qmp(self, path: Path) -> QmpClient:
        self._wait_for_socket(path)
        for _ in range(500):
            try:
                return QmpClient(str(path))
            except (OSError, QmpDisconnected):
                if self._proc is not None and self._proc.poll() is not None:
                    break
                time.sleep(0.005)
        raise EngineError(f"cannot connect to QEMU's QMP socket: {self._stderr_tail() or 'no message'}")

    def _connect_unix(self, path: Path) -> socket.socket:
        self._wait_for_socket(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(500):
            try:
                sock.connect(str(path))
                return sock
            except OSError:
                time.sleep(0.005)
        raise EngineError(f"cannot connect to QEMU's {path.name}")

    def _read_console(self, pipe, merged: bool = False) -> None:
        # read and feed under one lock, so `console_settled` can tell "nothing in flight" from "read, not yet fed".
        fd = pipe.fileno()
        self._console_fd = fd
        feed = ConsoleSplitter(self.console.feed, self._stderr_path).feed if merged else self.console.feed
        while True:
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
            except (OSError, ValueError):
                break
            if not ready:
                continue
            with self._console_lock:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                feed(chunk)
        self._console_fd = None
        self.console.close()

    def _read_stderr(self, pipe) -> None:
        """QEMU's stderr carries its own messages and what the firmware writes to newlib's stderr (the ":tt" handle
        opened for append). QEMU's lines go to the log file, which is all the diagnosis reads; the firmware's go to
        the console, so console text never becomes a reason."""
        fatal = False
        with open(self._stderr_path, "wb") as log:
            for raw in iter(pipe.readline, b""):
                line = raw.decode(errors="replace")
                fatal = fatal or line.startswith("qemu: fatal")
                if fatal or QEMU_OWN_RE.match(line):  # after "qemu: fatal" come QEMU's register dump lines
                    log.write(raw)
                    log.flush()
                else:
                    with self._console_lock:
                        # QEMU wrote its stdout before this line (one vCPU thread, unbuffered writes): feed what is
                        # waiting in that pipe first, so the two streams keep the firmware's order.
                        self._feed_pending_console()
                        self.console.feed(raw)
        pipe.close()

    def _feed_pending_console(self) -> None:
        fd = self._console_fd
        while fd is not None:
            try:
                waiting = int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")
                if not waiting:
                    return
                chunk = os.read(fd, waiting)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            self.console.feed(chunk)

    def console_settled(self) -> bool:
        """Whether every console byte QEMU has written so far has been fed to `console`. The USART model writes to
        the pipe synchronously, so once the firmware waits (e.g. in a data request) its output so far is here."""
        fd = self._console_fd
        if fd is None:
            return True
        with self._console_lock:
            try:
                raw = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
            except (OSError, ValueError):
                return True  # closed: everything there was has been read
        return int.from_bytes(raw, "little") == 0

    def write_console(self, data: bytes) -> None:
        # QEMU's stdin feeds USART1's receiver one byte at a time, as the firmware clears RXNE, so nothing is lost
        # once the receiver is enabled. The console chardev is a mux: its escape byte 0x01 is sent doubled.
        stdin = self._proc.stdin if self._proc is not None else None
        if stdin is None:
            raise EngineError("QEMU is not running")
        try:
            stdin.write(data.replace(b"\x01", b"\x01\x01"))
            stdin.flush()
        except (OSError, ValueError) as exc:
            raise EngineError(f"cannot write to QEMU's console UART: {exc}") from None

    def _serve_fifos(self, data: DataService) -> None:
        # O_RDWR opens of a FIFO never block, so a firmware that never opens the channel leaves nothing hanging.
        f2h = os.open(self.workdir / "cosim-f2h", os.O_RDWR)
        h2f = os.open(self.workdir / "cosim-h2f", os.O_RDWR)
        try:
            serve_frames(lambda n: _read_exact_fd(f2h, n, self._stop), lambda b: _write_all_fd(h2f, b), data)
        finally:
            os.close(f2h)
            os.close(h2f)

    def _serve_socket(self, sock: socket.socket, data: DataService) -> None:
        with sock:
            serve_frames(lambda n: _read_exact_sock(sock, n, self._stop), sock.sendall, data)

    # --- QMP helpers ---
    def _qmp_cmd(self, cmd: str, **args: object) -> object:
        if self._qmp is None:
            raise EngineError("QEMU is not running")
        if cmd in ("stop", "cont") and self._held() is not None:
            # The plugin holds the vCPU at the budget: that is a stop already. QMP `stop` would wait for the vCPU
            # forever, and `cont` would give up the exact stop; the hold ends with QEMU.
            return {}
        try:
            reply = self._qmp.command(cmd, **args)
            if cmd in ("stop", "cont"):
                self._qmp_stopped = cmd == "stop"
            return reply
        except QmpError:
            raise
        except QmpDisconnected as exc:
            proc = self._proc
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=2)
                if proc.poll() is not None:
                    raise QemuExited(f"QEMU exited (status {proc.returncode})") from None
            raise EngineError(f"QEMU's monitor stopped answering ({exc.__class__.__name__}: {exc})") from None

    def _hmp(self, command: str) -> str:
        return str(self._qmp_cmd("human-monitor-command", **{"command-line": command}))

    def _drain_console_now(self) -> None:
        with self._console_lock:
            self._feed_pending_console()

    def halted_by_fault(self) -> bool:
        """Whether foreign firmware has entered a fault handler: the GDB stub stopped the CPU there (SIGTRAP at a
        handler's entry). The stub also reports every QMP `stop` (SIGINT, T02): those are the host's own, skipped."""
        if self._fault_stopped:
            return True
        rsp = self._fault_rsp
        if rsp is None:
            return False
        while True:
            try:
                stop = rsp.poll_stop()
            except (RspError, OSError):
                return False
            if stop is None or stop.exited:
                return False
            if stop.code != SIGTRAP:
                continue  # the VM paused by QMP (the host sampling PCs, or stopping at the end)
            if self._note_flash_write(rsp, stop):
                continue
            try:
                pc = rsp.registers()[15] & ~1
            except (RspError, OSError, TimeoutError, ValueError):
                pc = None
            if pc is not None and pc in self._exit_sites:
                exitsites.at_exit_site(self, rsp)
                rsp.cont()
                continue
            if pc is not None and pc not in self._fault_handlers:
                self.stray_stops.append(pc)  # a trap at no fault handler: not a fault, go on
                rsp.cont()
                continue
            self._fault_stopped = True
            return True

    def _note_flash_write(self, rsp: RspClient, stop) -> bool:
        """A stop at the flash write watchpoint (engines/qemu/flashwatch.py): note (PC, address), take the
        watchpoint away and let the firmware go on; False for any other stop."""
        if not flashwatch.is_flash_write(stop):
            return False
        try:
            regs = rsp.registers()
            self.flash_writes.append((regs[15] & ~1, flashwatch.store_address(rsp, regs)))
            flashwatch.disarm(rsp, self.board)
            rsp.cont()
        except (RspError, OSError, TimeoutError):
            return False
        return True

    def process_stack_pointer(self) -> int | None:
        """PSP through the fault GDB stub (one probe instruction, everything restored: engines/qemu/psp.py); None
        without that stub (the project's own firmware, --measure runs). Call it with the CPU stopped."""
        if self._fault_rsp is None:
            return None
        return read_psp(self._fault_rsp, self.board)

    def instructions(self) -> int:
        """Retired instructions since reset, read without stopping the CPU; exact while the CPU is stopped (and,
        with the plugin, while it holds the CPU at a budget: QEMU's own count then includes the rest of the block)."""
        snap = self._counter.snapshot() if self._counter is not None else None
        if snap is not None and not self._qmp_stopped:
            # The plugin counts an instruction as it starts, QEMU as it retires: they differ by one for each
            # instruction whose memory access faulted (precise BusFault/MemManage, re-executed or never retired).
            # Where QEMU's count is exact (a stopped CPU) it is the one reported; otherwise the plugin's.
            self._last_icount = snap.count
            return snap.count
        icount = self.qemu_icount()
        now = time.monotonic()
        if self._last_poll_t is not None and now > self._last_poll_t and icount > self._last_icount:
            self._peak_rate = max(self._peak_rate, (icount - self._last_icount) / (now - self._last_poll_t))
        self._last_icount, self._last_poll_t = icount, now
        return icount

    def plugin_instructions(self) -> int | None:
        """The exact-count plugin's count (instructions started), or None without the plugin."""
        snap = self._counter.snapshot() if self._counter is not None else None
        return snap.count if snap is not None else None

    def qemu_icount(self) -> int:
        """QEMU's own instruction count (-icount), over QMP."""
        reply = self._qmp_cmd("query-replay")
        assert isinstance(reply, dict)
        return int(reply["icount"])

    def read_memory(self, address: int, size: int) -> bytes:
        words = (size + 3) // 4
        # `x` reads through the CPU's view, which includes the System Control Space (NVIC, SCB); `xp` does not.
        text = self._hmp(f"x /{words}wx 0x{address:08x}")
        values = [int(v, 16) for v in re.findall(r"0x([0-9a-fA-F]{8})(?=\s|$)", text.split(":", 1)[-1])]
        if len(values) < words:
            raise EngineError(f"cannot read {size} bytes at 0x{address:08x}: {text.strip()!r}")
        return b"".join(v.to_bytes(4, "little") for v in values[:words])[:size]

    def read_cpu(self) -> CpuState:
        regs = dict(_REG_RE.findall(self._hmp("info registers")))
        if "R15" not in regs:
            raise EngineError("QEMU's monitor returned no register dump")
        held = self._held()
        pc = held.pc if held is not None else int(regs["R15"], 16)  # R15 is stale inside a translation block
        return CpuState(pc=pc, lr=int(regs["R14"], 16), sp=int(regs["R13"], 16), xpsr=int(regs["XPSR"], 16))

    # --- running ---
    def run(self, limits: RunLimits) -> Ending:
        assert self._proc is not None
        started = time.monotonic()
        budget = limits.max_instructions
        activity = self._activity()
        idle_since = 0
        interval = 0.002
        mips_estimate = 300e6
        prev_t, prev_i = started, 0
        frozen_since = started  # wall time since the count last moved (a CPU halted in WFI with nothing pending)
        active_since = started  # wall time of the last console line or data request (foreign firmware's hang clock)
        terminal_seen_at: float | None = None
        while True:
            rc = self._proc.poll()
            if rc is not None:
                return self._ended_by_itself(rc)
            if budget is not None and (held := self._held()) is not None:
                return self._budget_hold_ending(held, budget)
            if self.halted_by_fault():
                assert self._fault_rsp is not None
                return faults.after_fault_entry(self, self._fault_rsp, self._stop_and_describe(EndKind.FAULT))
            try:
                icount = self.instructions()
            except QemuExited:
                continue  # poll() above collects the exit status
            now = time.monotonic()
            if now > prev_t and icount > prev_i:
                mips_estimate = 0.7 * mips_estimate + 0.3 * (icount - prev_i) / (now - prev_t)
                frozen_since = now
            prev_t, prev_i = now, icount
            if self.console.terminal_event():
                # With semihosting the firmware ends QEMU itself right after; give it a moment before stopping it.
                terminal_seen_at = terminal_seen_at or now
                if not self._semihosting_exit() or now - terminal_seen_at > 0.5:
                    return self._stop_and_describe(EndKind.EXITED)
            current = self._activity()
            if current != activity:
                activity, idle_since, active_since = current, icount, now
            if self._poll_watch is not None:
                with contextlib.suppress(QemuExited):
                    self._poll_watch.scan(now)
            if not self._own_runtime() and now - active_since >= limits.hang_wall_s:
                pcs, active_since = stallprobe.confined_pcs(self), now  # still working, just quiet: look again later
                if pcs:  # the PCs at the end are sampled with the CPU stopped (the run ends: nothing to disturb)
                    return self._stop_and_describe(EndKind.STALLED, wall_s=limits.hang_wall_s)
            if budget is not None and icount >= budget + self._budget_margin():
                return self._stop_and_describe(EndKind.BUDGET, budget=budget)
            if icount - idle_since >= self._stall_threshold(limits) or now - frozen_since > FROZEN_WALL_S:
                return self._stop_and_describe(EndKind.STALLED)
            if limits.timeout_s is not None and now - started >= limits.timeout_s:
                return self._stop_and_describe(EndKind.TIMEOUT)
            # Sleep until about half-way to the next instruction limit, so budgets land close without busy polling.
            targets = [idle_since + self._stall_threshold(limits)]
            if budget is not None:
                targets.append(budget + self._budget_margin())
            remaining = min(targets) - icount
            interval = min(0.01, max(0.0005, 0.5 * remaining / max(mips_estimate, 1.0)))
            time.sleep(interval)

    def measure(self, limits: RunLimits, functions: dict[str, int]) -> tuple[Ending, list[CallMeasurement]]:
        """Breakpoints at each function's entry and, per call, at its return address; QMP's instruction count at
        each stop, which stopping does not advance.

        Caveat, measured: with sleep=off QEMU jumps the virtual clock to the next timer deadline whenever the CPU
        is stopped, so a firmware's own timer interrupts come sooner than in a free run and, when one lands inside
        a measured call, its handler's instructions are in that call's count. The project's runtime turns its
        timers off in debug sessions for this reason; firmware with its own periodic timers should measure
        functions that run with interrupts masked, or read the counts as an upper bound.
        """
        if self._gdb_port is None:
            raise EngineError("measure() needs the engine started with a GDB server (gdb_port) and halted")
        rsp = RspClient("127.0.0.1", self._gdb_port)
        entries = {addr & ~1: name for name, addr in functions.items()}
        returns: dict[int, int] = {}  # return address -> pending calls returning there
        frames: list[tuple[str, int, int, int, int | None]] = []  # function, icount, SP, return address, cycles
        calls: list[CallMeasurement] = []
        started = time.monotonic()
        try:
            self._arm_measure(rsp, entries)
            while True:
                stop = self._continue_until_stop(rsp, limits, started)
                if stop is None:  # a limit: the CPU is stopped; describe it like run() would
                    over_time = limits.timeout_s is not None and time.monotonic() - started >= limits.timeout_s
                    kind = EndKind.TIMEOUT if over_time else EndKind.BUDGET
                    budget = None if over_time else limits.max_instructions
                    return self._stop_and_describe(kind, budget=budget), calls
                if stop.exited:
                    assert self._proc is not None
                    return exitsites.exited_while_measuring(self, self._proc.wait(timeout=10)), calls
                regs = rsp.registers()
                pc, sp, lr = regs[15] & ~1, regs[13], regs[14]
                if pc in self._fault_handlers:
                    return faults.after_fault_entry(self, rsp, self._stop_and_describe(EndKind.FAULT)), calls
                if pc in self._exit_sites and pc not in entries and pc not in returns:
                    exitsites.at_exit_site(self, rsp)
                    continue
                icount, cycles = self.instructions(), plugin.running_cycles(self.cycle_profile)
                if limits.max_instructions is not None and icount >= limits.max_instructions:
                    return self._stop_and_describe(EndKind.BUDGET, budget=limits.max_instructions), calls
                while frames and frames[-1][3] == pc and sp >= frames[-1][2]:
                    name, begin, _sp, ret, c0 = frames.pop()
                    spent = cycles - c0 if cycles is not None and c0 is not None else None
                    calls.append(CallMeasurement(name, begin, icount - begin, spent))
                    returns[ret] -= 1
                    if not returns[ret]:
                        del returns[ret]
                        if ret not in entries:
                            rsp.remove_breakpoint(ret)
                if pc in entries:
                    ret = lr & ~1
                    frames.append((entries[pc], icount, sp, ret, cycles))
                    if ret not in returns and ret not in entries:
                        rsp.set_breakpoint(ret)
                    returns[ret] = returns.get(ret, 0) + 1
                if pc in entries or pc in returns:  # step off the breakpoint we stand on, then put it back
                    rsp.remove_breakpoint(pc)
                    rsp.command("s")
                    rsp.set_breakpoint(pc)
        finally:
            rsp.close()

    def _arm_measure(self, rsp: RspClient, entries: dict[int, str]) -> None:
        for addr in entries:
            rsp.set_breakpoint(addr)
        if not self._own_runtime():  # foreign firmware: stop at its fault handlers too, as run() does
            handlers = faults.arm_fault_breakpoints(self, rsp)
            self._fault_handlers = {a: n for a, n in handlers.items() if a not in entries}
        exitsites.arm(self, rsp)  # the exact total (and the painted stack) are read on the exit's bkpt

    def _continue_until_stop(self, rsp: RspClient, limits: RunLimits, started: float):
        """`c`, then wait for the stop while watching the budget and the wall clock; None when a limit hit."""
        rsp.cont()
        while True:
            try:
                return rsp.wait_stop(timeout=0.02)
            except TimeoutError:
                pass
            if self._proc is not None and self._proc.poll() is not None:
                return rsp.wait_stop(timeout=1.0)
            if self._poll_watch is not None:
                self._poll_watch.scan(time.monotonic())
            if self._held() is not None:  # the plugin holds the CPU at exactly the budget (interrupting would hang)
                return None
            over_budget = limits.max_instructions is not None and self.instructions() >= limits.max_instructions
            over_time = limits.timeout_s is not None and time.monotonic() - started >= limits.timeout_s
            if over_budget or over_time:
                if self._held() is not None:  # the count reached the budget since the check above
                    return None
                rsp.interrupt()
                rsp.wait_stop(timeout=5.0)
                return None

    def _semihosting_exit(self) -> bool:
        return bool(self._config and self._config.flags & ConfigFlag.SEMIHOSTING_EXIT)

    def _own_runtime(self) -> bool:
        return self.image is not None and self.image.has_symbol(HOST_CONFIG_SYMBOL)

    def _budget_margin(self) -> int:
        # The project's firmware stops itself at the budget, exactly, from its service alarm; the host's own check
        # is only a backstop (interrupts masked), so it must not win the race. With the plugin the count never
        # passes the budget (it holds the CPU there), so the host's check only fires if the plugin overshot.
        return 1 << 22 if self._own_runtime() else 0

    # --- exact counts (plugin.py, plugin/icount.c) ---
    def _count_args(self, image: FirmwareImage, config: HostConfig) -> list[str]:
        """Foreign firmware gets the exact-count plugin, holding the CPU at the budget; the project's own firmware
        counts and stops itself exactly (its events carry the count), so it runs as before."""
        self._counter, self.count_plugin_missing = None, None
        self._count_started = time.monotonic()
        if image.has_symbol(HOST_CONFIG_SYMBOL):
            return []
        if os.environ.get(PLUGIN_ENV, "").lower() in ("0", "off", "no", "false"):
            self.count_plugin_missing = f"{PLUGIN_ENV}=off"
            return []
        reason = plugin.unavailable_reason()
        if reason is None:
            try:
                state = self.workdir / "icount.state"
                args = plugin.qemu_args(state, config.budget_instructions or None)
            except EngineError as exc:
                reason = str(exc)
            else:
                self._counter = PluginCounter(state)
                return args
        self.count_plugin_missing = reason
        return []

    @property
    def counts_exact(self) -> bool:
        """Whether totals and budget stops of this run are exact to the instruction (the plugin, or own firmware)."""
        return self._counter is not None or self._own_runtime()

    def _held(self) -> plugin.Snapshot | None:
        snap = self._counter.settle(self.is_alive) if self._counter is not None else None  # waits for a pending hold
        return snap if snap is not None and snap.state == PluginState.HELD else None

    def _budget_hold_ending(self, held: plugin.Snapshot, budget: int) -> Ending:
        """The plugin holds the CPU with exactly `held.count` instructions retired: registers from the monitor
        (the plugin had QEMU write them back), the PC from the plugin."""
        try:
            cpu = self.read_cpu()
        except QemuExited:
            assert self._proc is not None
            return self._ended_by_itself(self._proc.wait())
        if self._poll_watch is not None:
            with contextlib.suppress(QemuExited):
                self._poll_watch.final(cpu.pc)  # the polls logged since the last scan
        ending = Ending(
            EndKind.BUDGET, instructions=held.count, instructions_exact=True, cpu=cpu, recent_polls=self.recent_polls
        )
        ending.instructions_precision = held.count - budget  # 0 unless run() was asked another budget than start()
        return ending

    def _final_count(self) -> tuple[int, bool, int]:
        """(instructions, exact, ± bound) once QEMU has gone: the plugin's page outlives it; without the plugin,
        the last polled count plus at most what the fastest rate seen could have retired since."""
        snap = self._counter.snapshot() if self._counter is not None else None
        if snap is not None:
            return snap.count, True, 0
        if self._own_runtime():
            return self._last_icount, False, -1  # the project's firmware reports its count in its events
        since = time.monotonic() - (self._last_poll_t or self._count_started)  # >= the time it ran unseen
        rate = self._peak_rate or CEILING_INSTRUCTIONS_PER_S
        return self._last_icount, False, int(rate * since) + 1

    def _stall_threshold(self, limits: RunLimits) -> int:
        # The project's own firmware has a watchdog on simulated time; give it room to speak first.
        return limits.hang_instructions + (1 << 26) if self._own_runtime() else limits.hang_instructions

    def _activity(self) -> tuple[int, int]:
        return self.console.line_count, self._data.stats.requests if self._data else 0

    def _ended_by_itself(self, rc: int) -> Ending:
        self._drain()
        stderr = self._stderr_tail()
        if self._own_runtime():  # its events carry the count; the engine's is the last one polled, as before
            count: dict = {"instructions": self._last_icount}
            exited_count: dict = {**count, "instructions_precision": -1}
        else:
            n, exact, bound = self._final_count()
            count = exited_count = {"instructions": n, "instructions_exact": exact, "instructions_precision": bound}
        if rc in (134, -signal.SIGABRT) and _LOCKUP_RE.search(stderr):
            regs = dict(_REG_RE.findall(stderr))
            cpu = None
            if "R15" in regs:
                cpu = CpuState(
                    int(regs["R15"], 16), int(regs["R14"], 16), int(regs["R13"], 16), int(regs.get("XPSR", "0"), 16)
                )
            # QEMU's abort message first ("qemu: fatal: Lockup"), not a warning that preceded it.
            lines = stderr.splitlines()
            fatal = next((i for i, ln in enumerate(lines) if _LOCKUP_RE.search(ln)), 0)
            return Ending(EndKind.LOCKUP, **count, cpu=cpu, message="\n".join(lines[fatal:]))
        # QEMU's own errors (not its warnings) on stderr, or death by a signal, mean the emulator failed.
        errors = [ln for ln in stderr.splitlines() if ln.startswith("qemu") and ": warning:" not in ln]
        if (refused := sandbox.refusal(rc)) is not None:  # a SYS_SYSTEM the seccomp filter ended QEMU at
            return Ending(EndKind.REFUSED, **count, exit_code=None, message=refused)
        if rc < 0 or (rc != 0 and errors):
            return Ending(EndKind.CRASH, **count, exit_code=None, message=stderr or f"exit status {rc}")
        return Ending(EndKind.EXITED, **exited_count, exit_code=rc, message=stderr)

    def _stop_and_describe(
        self, kind: EndKind, budget: int | None = None, pcs: list[int] | None = None, wall_s: float | None = None
    ) -> Ending:
        """Stop the CPU and collect everything known: exact count, registers, stacked frame, fault registers."""
        try:
            self._qmp_cmd("stop")
            icount = self.instructions()
            cpu = self.read_cpu()
            if self._poll_watch is not None and kind == EndKind.BUDGET:
                self._poll_watch.final(cpu.pc)  # the polls logged since the last scan
        except QemuExited:
            assert self._proc is not None
            return self._ended_by_itself(self._proc.wait())
        ending = Ending(kind, instructions=icount, instructions_exact=True, cpu=cpu, recent_polls=self.recent_polls)
        if budget is not None:
            ending.instructions_precision = icount - budget
        if kind == EndKind.FAULT:
            handler = self._fault_handlers.get(cpu.pc & ~1, "a fault handler")
            ending.message = f"stopped at the entry of {handler} (0x{cpu.pc & ~1:08x}), before it ran"
        if kind in (EndKind.STALLED, EndKind.TIMEOUT, EndKind.FAULT):
            ending.stacked = self.unwind_exception(cpu)
            ending.faults = self._safe_fault_registers()
            if cpu.ipsr == 0:
                stallprobe.describe_loop(self, ending, pcs)
                ending.hang_wall_s = wall_s
        return ending

    def _note_poll(self, pc: int, address: int) -> None:
        poll = (pc & ~1, address)
        if poll in self.recent_polls:
            self.recent_polls.remove(poll)
        self.recent_polls.append(poll)
        del self.recent_polls[:-RECENT_POLLS]

    def _device_bases(self) -> dict[str, int]:
        return device_bases(self._hmp("info mtree -f"))

    def _safe_fault_registers(self) -> FaultRegisters:
        try:
            return self.read_fault_registers()
        except EngineError:
            return FaultRegisters()

    def _drain(self) -> None:
        for t in self._threads:
            if t.name.endswith(("_read_console", "_read_stderr")):
                t.join(timeout=2)

    def _stderr_tail(self, limit: int = 4000) -> str:
        try:
            return self._stderr_path.read_text(errors="replace")[-limit:].strip()
        except OSError:
            return ""

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        self._stop.set()
        if self._fault_rsp is not None:
            self._fault_rsp.close()
            self._fault_rsp = None
        if self._qmp is not None:
            with contextlib.suppress(Exception):
                self._qmp.close()
            self._qmp = None
        if self._proc is not None:
            launcher.kill_group(self._proc)
        for t in self._threads:
            t.join(timeout=1)


@functools.cache
def _qemu_version(binary: str) -> str | None:
    """Asked once per process: `--version` costs a process start."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else None


def _read_exact_fd(fd: int, n: int, stop: threading.Event) -> bytes | None:
    buf = b""
    while len(buf) < n:
        ready, _, _ = select.select([fd], [], [], 0.02)
        if stop.is_set():
            return None
        if not ready:
            continue
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _write_all_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact_sock(sock: socket.socket, n: int, stop: threading.Event) -> bytes | None:
    buf = b""
    sock.settimeout(0.02)
    while len(buf) < n:
        if stop.is_set():
            return None
        try:
            chunk = sock.recv(n - len(buf))
        except TimeoutError:
            continue
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
    return buf
