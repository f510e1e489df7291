"""Peripheral polls of foreign firmware on QEMU: seen while it runs (QEMU's unimplemented-device and exec logs,
which never stop the CPU), and named from a stalled loop's own load instructions when the register is one QEMU
models."""

from __future__ import annotations

import contextlib
import functools
import re
import time
from typing import Any

# A stalled PC that stays within this many bytes is one loop (a poll, `b .`, `while (1) {}`).
CONFINED_BYTES = 64
RECENT_POLLS = 16
PERIPHERAL_LOW, PERIPHERAL_HIGH = 0x40000000, 0x60000000  # Cortex-M's peripheral region
POLL_READS = 16
POLL_QUIET_S = 1.0
POLL_SCAN_BYTES = 1 << 20
TRACE_RE = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")
# The hang probe's look at where the CPU runs: the exec trace over this many instructions, at least this many
# trace lines (a loop QEMU chains to itself logs once per icount slice, <= 65,535 instructions), within this long.
SAMPLE_INSTRUCTIONS = 200_000
SAMPLE_LINES = 8
SAMPLE_WALL_S = 1.0


_MTREE_RE = re.compile(r"^\s*([0-9a-f]{8,16})-([0-9a-f]{8,16}) \(prio -?\d+, i/o\): (\S+)", re.MULTILINE)


def device_bases(mtree: str) -> dict[str, int]:
    """Device name -> base address, from the monitor's `info mtree -f`."""
    return {name: int(start, 16) for start, _end, name in _MTREE_RE.findall(mtree)}


UNIMP_RE = re.compile(
    r"^(?P<dev>[\w.\-\[\]]+): unimplemented device (?P<op>read|write)\s+"
    r"\(size \d+, (?:offset|addr) 0x(?P<off>[0-9a-fA-F]+)"
)


class PollWatch:
    """Foreign firmware: notice, while it runs, the unimplemented peripheral registers it polls, with the PC of the
    polling loop, into `engine.recent_polls` — so a run that ends elsewhere (HAL's timeout sends the firmware to
    Error_Handler after polling RCC_CR for 100 ms) still names the poll.

    QEMU's `log unimp` is on from the start; when one register has been read POLL_READS times, `exec` tracing is
    turned on until a trace line of the loop shows its PC, then all logging pauses for POLL_QUIET_S (a poll writes
    a log line per read). Logging never stops the CPU, so counts and timer interrupts stay where they were (a QMP
    `stop` does not: it moves the virtual clock to the next timer deadline). The hang probe reads where the CPU
    runs from the same log (`sample_pcs`), for the same reason."""

    def __init__(self, engine: Any, flags: str = "unimp") -> None:
        self._engine, self._path = engine, engine._log_path
        self._offset, self._next_scan, self._resume_at = 0, 0.0, 0.0
        self._tracing: int | None = None  # the register whose loop PC is wanted
        self._counts: dict[tuple[str, int], int] = {}
        self._bases: dict[str, int] | None = None
        self._flags = flags
        self._reopen(flags)

    def _log(self, flags: str) -> None:
        self._flags = flags
        self._engine._hmp(f"log {flags}")

    def _reopen(self, flags: str) -> None:
        with contextlib.suppress(OSError):
            self._path.unlink()
        self._offset = 0
        self._engine._hmp(f"logfile {self._path}")
        self._log(flags)

    def sample_pcs(self) -> list[int]:
        """Where the CPU runs, without stopping it: the start PCs of the translation blocks QEMU's exec trace shows
        over the next SAMPLE_INSTRUCTIONS instructions (a QMP `stop` would move the virtual clock and with it the
        firmware's timer interrupts). Empty when nothing ran meanwhile (the CPU stopped at a breakpoint). The
        trace's other lines go through the poll watch as in `scan`."""
        self._read_and_note(time.monotonic())  # what is already there is not part of the sample
        wanted = {f for f in self._flags.split(",") if f != "none"} | {"exec"}
        self._engine._hmp(f"log {','.join(sorted(wanted))}")
        start, deadline = self._engine.instructions(), time.monotonic() + SAMPLE_WALL_S
        size = self._path.stat().st_size if self._path.exists() else 0
        while time.monotonic() < deadline:
            time.sleep(0.002)
            enough = self._engine.instructions() - start >= SAMPLE_INSTRUCTIONS
            if enough and self._path.exists() and self._path.stat().st_size - size >= 100 * SAMPLE_LINES:
                break
        self._engine._hmp(f"log {self._flags}")
        return self._read_and_note(time.monotonic())

    def scan(self, now: float) -> None:
        if now < self._next_scan:
            return
        self._next_scan = now + 0.05
        if self._resume_at:
            if now >= self._resume_at:
                self._resume_at = 0.0
                self._counts.clear()
                self._reopen("unimp")
            return
        self._read_and_note(now)

    def _read_and_note(self, now: float) -> list[int]:
        """Read the log's new lines: note polls from them; the trace PCs among them."""
        try:
            with open(self._path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(POLL_SCAN_BYTES)
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        self._offset += end
        last_trace: int | None = None
        traced: list[int] = []
        for line in data[:end].decode(errors="replace").splitlines():
            trace = TRACE_RE.match(line)
            if trace:
                last_trace = int(trace[1], 16)
                traced.append(last_trace)
                continue
            m = UNIMP_RE.match(line)
            if not m or m["op"] != "read":
                continue
            address = self._address(m["dev"], int(m["off"], 16))
            if address is None:
                continue
            if self._tracing == address and last_trace is not None and not self._resume_at:
                self._engine._note_poll(last_trace, address)
                self._tracing, self._resume_at = None, now + POLL_QUIET_S
                self._log("none")
                continue
            key = (m["dev"], address)
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._tracing is None and self._counts[key] >= POLL_READS and not self._resume_at:
                self._tracing = address
                self._log("unimp,exec")
        if len(data) == POLL_SCAN_BYTES and self._tracing is None:
            self._reopen(self._flags)  # a flood we are not reading: start the file afresh rather than let it grow
        return traced

    def final(self, pc: int | None) -> None:
        """At the end of a run (the CPU stopped or held at `pc`): what the log holds since the last scan, now; a
        register polled often enough whose loop the exec trace had no time to show is noted at `pc`."""
        self._next_scan = 0.0
        if not self._resume_at:
            self.scan(self._next_scan)
        if self._tracing is not None and pc is not None:
            self._engine._note_poll(pc, self._tracing)
            self._tracing = None

    def _address(self, device: str, offset: int) -> int | None:
        if self._bases is None:
            self._bases = self._engine._device_bases()
        base = self._bases.get(device)
        return None if base is None else base + offset


def loop_load_address(code: bytes, begin: int, pcs: list[int], regs: list[int]) -> int | None:
    """The peripheral register a confined loop reads, from its own instructions: a load in the loop whose base
    register (as it is now, `regs`) plus offset lands in the peripheral region. For registers QEMU models
    (USART1_SR), which the unimplemented-device log never shows. The loop is the sampled PCs widened to the backward
    branch that closes it (QEMU stops right after an I/O load, so the samples sit past the load). `code` holds the
    bytes from `begin`, an instruction boundary at or before the loop."""
    from capstone import arm  # heavy (~75 ms): only a stalled foreign firmware needs the decoder

    low, high = min(pcs) & ~1, (max(pcs) & ~1) + 2
    insns = list(thumb_decoder().disasm(code, begin))
    loop_start, loop_end = low, high
    for insn in insns:
        if low <= insn.address <= high + 4 and insn.group(arm.ARM_GRP_JUMP) and insn.operands:
            op = insn.operands[0]
            if op.type == arm.ARM_OP_IMM and begin <= op.imm <= low:
                loop_start, loop_end = min(loop_start, op.imm), max(loop_end, insn.address)
    for insn in insns:
        if not loop_start <= insn.address <= loop_end or not insn.mnemonic.startswith("ldr"):
            continue
        for op in insn.operands:
            base = cs_regs().get(op.mem.base) if op.type == arm.ARM_OP_MEM and op.mem.index == 0 else None
            if base is None or base == 15:
                continue
            address = (regs[base] + op.mem.disp) & 0xFFFFFFFF
            if PERIPHERAL_LOW <= address < PERIPHERAL_HIGH:
                return address
    return None


@functools.cache
def thumb_decoder() -> Any:
    """Capstone for Thumb-2 on an M-profile core, with details (shared with exitsites.py)."""
    from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs  # heavy: see loop_load_address

    cs = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)
    cs.detail = True
    return cs


@functools.cache
def cs_regs() -> dict[int, int]:
    """capstone's register ids -> r0..r15."""
    from capstone import arm  # heavy: see loop_load_address

    return {
        **{getattr(arm, f"ARM_REG_R{i}"): i for i in range(13)},
        arm.ARM_REG_SP: 13,
        arm.ARM_REG_LR: 14,
        arm.ARM_REG_PC: 15,
    }
