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
from tinyml_cosim.engines.gdbremote import RspClient
from tinyml_cosim.engines.qemu.qmp import QmpClient, QmpDisconnected, QmpError
from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.protocol.frames import HOST_CONFIG_SYMBOL, ConfigFlag, HostConfig, Transport
from tinyml_cosim.protocol.framing import serve_frames

QEMU_BINARY = os.environ.get("COSIM_QEMU", "qemu-system-arm")
_REG_RE = re.compile(r"\b(R\d\d|XPSR)=([0-9a-fA-F]{8})")
_UNIMP_RE = re.compile(
    r"^(?P<dev>[\w.\-\[\]]+): unimplemented device (?P<op>read|write)\s+"
    r"\(size \d+, (?:offset|addr) 0x(?P<off>[0-9a-fA-F]+)"
)
_MTREE_RE = re.compile(r"^\s*([0-9a-f]{8,16})-([0-9a-f]{8,16}) \(prio -?\d+, i/o\): (\S+)", re.MULTILINE)
# With sleep=off virtual time only moves while instructions retire or timers are due: a core asleep in WFI with
# nothing pending never advances it, so "no progress" must also be measured in wall time.
FROZEN_WALL_S = 5.0
_LOCKUP_RE = re.compile(r"Lockup", re.IGNORECASE)


class QemuExited(EngineError):
    """QEMU went away while the host was talking to it (usually: the firmware just exited through semihosting)."""


class QemuEngine(Engine):
    name = "qemu"
    data_transport = Transport.SEMIHOSTING
    supports_live_steps = True  # QEMU runs on between run() calls; a held data request holds the firmware
    supports_measure = True
    # QEMU's STM32 SoCs leave many peripherals (RCC among them) as unimplemented devices; Renode models more.
    unmodelled_peripheral_advice = "; use --engine renode"

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
        self._gdb_port: int | None = None
        self._console_sock: socket.socket | None = None
        self._console_lock = threading.Lock()
        self._stderr_path = self.workdir / "qemu.stderr"
        self._log_path = self.workdir / "qemu.log"  # -D: only while _polled_address turns `log unimp` on
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
        assert q is not None
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
        console_path = self.workdir / "console.sock"
        argv = [
            QEMU_BINARY,
            "-M",
            q.machine,
            "-kernel",
            str(image.path.resolve()),
            "-display",
            "none",
            "-monitor",
            "none",
            "-icount",
            "shift=0,sleep=off",
            "-semihosting-config",
            "enable=on,target=native",
            "-chardev",
            f"socket,id=console,path={console_path},server=on,wait=off",
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
        if config.transport == Transport.SEMIHOSTING and data is not None:
            for name in ("cosim-f2h", "cosim-h2f"):
                os.mkfifo(self.workdir / name)
        self._argv = argv
        with open(self._stderr_path, "wb") as err:
            try:
                self._proc = launcher.popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
            except OSError as exc:
                raise EngineError(f"cannot start {QEMU_BINARY}: {exc}") from None
        self._qmp = self._connect_qmp(qmp_path)
        self._version = self._qmp.qemu_version
        self._spawn(self._read_console, self._connect_unix(console_path))
        if data is not None and config.transport == Transport.SEMIHOSTING:
            self._spawn(self._serve_fifos, data)
        elif data is not None and config.transport == Transport.UART:
            self._spawn(self._serve_socket, self._connect_unix(self.workdir / "data.sock"), data)
        if not halted:
            with contextlib.suppress(QemuExited):  # a very short firmware may be done before the reply arrives
                self._qmp_cmd("cont")

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

    def _read_console(self, sock: socket.socket) -> None:
        # recv and feed under one lock, so `console_settled` can tell "nothing in flight" from "read, not yet fed".
        self._console_sock = sock
        with sock:
            while True:
                try:
                    ready, _, _ = select.select([sock], [], [], 0.05)
                except (OSError, ValueError):
                    break
                if not ready:
                    continue
                with self._console_lock:
                    try:
                        chunk = sock.recv(65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    self.console.feed(chunk)
        self.console.close()

    def console_settled(self) -> bool:
        """Whether every console byte QEMU has written so far has been fed to `console`. The USART model writes to
        the socket synchronously, so once the firmware waits (e.g. in a data request) its output so far is here."""
        sock = self._console_sock
        if sock is None:
            return True
        with self._console_lock:
            try:
                raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
            except (OSError, ValueError):
                return True  # closed: everything there was has been read
        return int.from_bytes(raw, "little") == 0

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
        try:
            return self._qmp.command(cmd, **args)
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

    def instructions(self) -> int:
        """Retired instructions since reset, exact, read without stopping the CPU."""
        reply = self._qmp_cmd("query-replay")
        assert isinstance(reply, dict)
        self._last_icount = int(reply["icount"])
        return self._last_icount

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
        return CpuState(
            pc=int(regs["R15"], 16), lr=int(regs["R14"], 16), sp=int(regs["R13"], 16), xpsr=int(regs["XPSR"], 16)
        )

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
        terminal_seen_at: float | None = None
        while True:
            rc = self._proc.poll()
            if rc is not None:
                return self._ended_by_itself(rc)
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
                activity, idle_since = current, icount
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
        frames: list[tuple[str, int, int, int]] = []  # function, icount at entry, SP at entry, return address
        calls: list[CallMeasurement] = []
        started = time.monotonic()
        try:
            for addr in entries:
                rsp.set_breakpoint(addr)
            while True:
                stop = self._continue_until_stop(rsp, limits, started)
                if stop is None:  # a limit: the CPU is stopped; describe it like run() would
                    over_time = limits.timeout_s is not None and time.monotonic() - started >= limits.timeout_s
                    kind = EndKind.TIMEOUT if over_time else EndKind.BUDGET
                    budget = None if over_time else limits.max_instructions
                    return self._stop_and_describe(kind, budget=budget), calls
                if stop.exited:
                    assert self._proc is not None
                    return self._ended_by_itself(self._proc.wait(timeout=10)), calls
                regs = rsp.registers()
                pc, sp, lr = regs[15] & ~1, regs[13], regs[14]
                icount = self.instructions()
                if limits.max_instructions is not None and icount >= limits.max_instructions:
                    return self._stop_and_describe(EndKind.BUDGET, budget=limits.max_instructions), calls
                while frames and frames[-1][3] == pc and sp >= frames[-1][2]:
                    name, begin, _sp, ret = frames.pop()
                    calls.append(CallMeasurement(name, begin, icount - begin))
                    returns[ret] -= 1
                    if not returns[ret]:
                        del returns[ret]
                        if ret not in entries:
                            rsp.remove_breakpoint(ret)
                if pc in entries:
                    ret = lr & ~1
                    frames.append((entries[pc], icount, sp, ret))
                    if ret not in returns and ret not in entries:
                        rsp.set_breakpoint(ret)
                    returns[ret] = returns.get(ret, 0) + 1
                if pc in entries or pc in returns:  # step off the breakpoint we stand on, then put it back
                    rsp.remove_breakpoint(pc)
                    rsp.command("s")
                    rsp.set_breakpoint(pc)
        finally:
            rsp.close()

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
            over_budget = limits.max_instructions is not None and self.instructions() >= limits.max_instructions
            over_time = limits.timeout_s is not None and time.monotonic() - started >= limits.timeout_s
            if over_budget or over_time:
                rsp.interrupt()
                rsp.wait_stop(timeout=5.0)
                return None

    def _semihosting_exit(self) -> bool:
        return bool(self._config and self._config.flags & ConfigFlag.SEMIHOSTING_EXIT)

    def _own_runtime(self) -> bool:
        return self.image is not None and self.image.has_symbol(HOST_CONFIG_SYMBOL)

    def _budget_margin(self) -> int:
        # The project's firmware stops itself at the budget, exactly, from its service alarm; the host's own check
        # is only a backstop (interrupts masked), so it must not win the race.
        return 1 << 22 if self._own_runtime() else 0

    def _stall_threshold(self, limits: RunLimits) -> int:
        # The project's own firmware has a watchdog on simulated time; give it room to speak first.
        return limits.hang_instructions + (1 << 26) if self._own_runtime() else limits.hang_instructions

    def _activity(self) -> tuple[int, int]:
        return self.console.line_count, self._data.stats.requests if self._data else 0

    def _ended_by_itself(self, rc: int) -> Ending:
        self._drain()
        stderr = self._stderr_tail()
        if rc in (134, -signal.SIGABRT) and _LOCKUP_RE.search(stderr):
            regs = dict(_REG_RE.findall(stderr))
            cpu = None
            if "R15" in regs:
                cpu = CpuState(
                    int(regs["R15"], 16), int(regs["R14"], 16), int(regs["R13"], 16), int(regs.get("XPSR", "0"), 16)
                )
            return Ending(EndKind.LOCKUP, instructions=self._last_icount, cpu=cpu, message=stderr)
        # QEMU's own errors (not its warnings) on stderr, or death by a signal, mean the emulator failed.
        errors = [ln for ln in stderr.splitlines() if ln.startswith("qemu") and ": warning:" not in ln]
        if rc < 0 or (rc != 0 and errors):
            return Ending(
                EndKind.CRASH, instructions=self._last_icount, exit_code=None, message=stderr or f"exit status {rc}"
            )
        return Ending(
            EndKind.EXITED, instructions=self._last_icount, exit_code=rc, instructions_precision=-1, message=stderr
        )

    def _stop_and_describe(self, kind: EndKind, budget: int | None = None) -> Ending:
        """Stop the CPU and collect everything known: exact count, registers, stacked frame, fault registers."""
        try:
            self._qmp_cmd("stop")
            icount = self.instructions()
            cpu = self.read_cpu()
        except QemuExited:
            assert self._proc is not None
            return self._ended_by_itself(self._proc.wait())
        ending = Ending(kind, instructions=icount, instructions_exact=True, cpu=cpu)
        if budget is not None:
            ending.instructions_precision = icount - budget
        if kind in (EndKind.STALLED, EndKind.TIMEOUT):
            ending.stacked = self.unwind_exception(cpu)
            ending.faults = self._safe_fault_registers()
            if cpu.ipsr == 0:
                ending.pc_samples = self._sample_pcs()
                ending.polled_address = self._polled_address()
        return ending

    def _safe_fault_registers(self) -> FaultRegisters:
        try:
            return self.read_fault_registers()
        except EngineError:
            return FaultRegisters()

    def _sample_pcs(self, samples: int = 8) -> list[int]:
        """Let the CPU run a moment between samples: a tight loop shows the same few PCs."""
        pcs = []
        for _ in range(samples):
            self._qmp_cmd("cont")
            time.sleep(0.001)
            self._qmp_cmd("stop")
            pcs.append(self.read_cpu().pc)
        return pcs

    def _polled_address(self) -> int | None:
        """Turn on QEMU's unimplemented-device log for a moment: a firmware waiting on RCC shows up there."""
        with contextlib.suppress(OSError):
            self._log_path.unlink()
        self._hmp(f"logfile {self._log_path}")
        self._hmp("log unimp")
        # Run for a fixed number of instructions rather than a fixed wall time, so a loaded machine (CI) still
        # lets the loop go round often enough to show up in the log.
        start, deadline = self.instructions(), time.monotonic() + 1.0
        self._qmp_cmd("cont")
        while self.instructions() - start < 200_000 and time.monotonic() < deadline:
            time.sleep(0.002)
        self._qmp_cmd("stop")
        self._hmp("log none")
        try:
            with open(self._log_path, errors="replace") as fh:
                lines = [next(fh, "") for _ in range(2000)]
        except OSError:
            return None
        reads = [m for m in (_UNIMP_RE.match(ln) for ln in lines) if m and m["op"] == "read"]
        if not reads:
            return None
        device, offset = reads[-1]["dev"], int(reads[-1]["off"], 16)
        base = self._device_bases().get(device)
        return None if base is None else base + offset

    def _device_bases(self) -> dict[str, int]:
        text = self._hmp("info mtree -f")
        return {name: int(start, 16) for start, _end, name in _MTREE_RE.findall(text)}

    def _drain(self) -> None:
        for t in self._threads:
            if t.name.endswith("_read_console"):
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
