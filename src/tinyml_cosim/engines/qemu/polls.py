"""Peripheral polls of foreign firmware on QEMU: seen while it runs (QEMU's unimplemented-device and exec logs,
which never stop the CPU), and named from a stalled loop's own load instructions when the register is one QEMU
models."""

from __future__ import annotations

import contextlib
import functools
import re
from typing import Any

# A stalled PC that stays within this many bytes is one loop (a poll, `b .`, `while (1) {}`).
CONFINED_BYTES = 64
RECENT_POLLS = 16
PERIPHERAL_LOW, PERIPHERAL_HIGH = 0x40000000, 0x60000000  # Cortex-M's peripheral region
POLL_READS = 16
POLL_QUIET_S = 1.0
POLL_SCAN_BYTES = 1 << 20
TRACE_RE = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


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
    `stop` does not: it moves the virtual clock to the next timer deadline)."""

    def __init__(self, engine: Any) -> None:
        self._engine, self._path = engine, engine._log_path
        self._offset, self._next_scan, self._resume_at = 0, 0.0, 0.0
        self._tracing: int | None = None  # the register whose loop PC is wanted
        self._counts: dict[tuple[str, int], int] = {}
        self._bases: dict[str, int] | None = None
        self._reopen("unimp")

    def _reopen(self, flags: str) -> None:
        with contextlib.suppress(OSError):
            self._path.unlink()
        self._offset = 0
        self._engine._hmp(f"logfile {self._path}")
        self._engine._hmp(f"log {flags}")

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
        try:
            with open(self._path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(POLL_SCAN_BYTES)
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self._offset += end
        last_trace: int | None = None
        for line in data[:end].decode(errors="replace").splitlines():
            trace = TRACE_RE.match(line)
            if trace:
                last_trace = int(trace[1], 16)
                continue
            m = UNIMP_RE.match(line)
            if not m or m["op"] != "read":
                continue
            address = self._address(m["dev"], int(m["off"], 16))
            if address is None:
                continue
            if self._tracing == address and last_trace is not None:
                self._engine._note_poll(last_trace, address)
                self._tracing, self._resume_at = None, now + POLL_QUIET_S
                self._engine._hmp("log none")
                return
            key = (m["dev"], address)
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._tracing is None and self._counts[key] >= POLL_READS:
                self._tracing = address
                self._engine._hmp("log unimp,exec")
        if len(data) == POLL_SCAN_BYTES and self._tracing is None:
            self._reopen("unimp")  # a flood we are not reading: start the file afresh rather than let it grow

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
    insns = list(_thumb_decoder().disasm(code, begin))
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
            base = _cs_regs().get(op.mem.base) if op.type == arm.ARM_OP_MEM and op.mem.index == 0 else None
            if base is None or base == 15:
                continue
            address = (regs[base] + op.mem.disp) & 0xFFFFFFFF
            if PERIPHERAL_LOW <= address < PERIPHERAL_HIGH:
                return address
    return None


@functools.cache
def _thumb_decoder() -> Any:
    from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs  # heavy: see loop_load_address

    cs = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)
    cs.detail = True
    return cs


@functools.cache
def _cs_regs() -> dict[int, int]:
    """capstone's register ids -> r0..r15."""
    from capstone import arm  # heavy: see loop_load_address

    return {
        **{getattr(arm, f"ARM_REG_R{i}"): i for i in range(13)},
        arm.ARM_REG_SP: 13,
        arm.ARM_REG_LR: 14,
        arm.ARM_REG_PC: 15,
    }
