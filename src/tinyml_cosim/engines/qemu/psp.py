"""Read PSP on QEMU 7.2, which exposes neither MSP nor PSP (its monitor shows the current SP only; its GDB stub
has no M-profile system-register feature): execute one `MRS r0, PSP` through the GDB stub and put everything back.

Used once, at the end of a run stopped in a fault handler whose frame is on the process stack (an RTOS task): the
run's instruction count is taken before, so the one probe instruction is in no figure. The probe's two halfwords
go below the handler's SP (stack not in use, RAM, executable in the ARMv7-M default memory map); the bytes there,
r0 and PC are restored after the step. GDB's single step runs with interrupts and timers held (QEMU's default
`sstep` flags), so nothing else runs meanwhile.
"""

from __future__ import annotations

import contextlib

from tinyml_cosim.core.boards import Board
from tinyml_cosim.engines.gdbremote import RspClient, RspError

MRS_R0_PSP = bytes.fromhex("eff30980")  # MRS r0, PSP (T1: F3EF 8009), little-endian halfwords
_PC, _R0 = 15, 0
_PROBE_BELOW_SP = 64  # bytes under the handler's SP where the probe goes (word aligned)


def _write_registers(rsp: RspClient, block: str) -> None:
    # `G` (the whole block), not `P`: QEMU 7.2 answers `P` only to a client that has read its target description.
    if rsp.command(f"G{block}") != "OK":
        raise RspError("cannot write the registers")


def read_psp(rsp: RspClient, board: Board) -> int | None:
    """PSP of the stopped CPU, or None when the probe cannot run (SP outside RAM, the stub refuses a packet)."""
    try:
        block = rsp.command("g")
        regs = rsp.registers()
        sp = regs[13]
        probe = (sp - _PROBE_BELOW_SP) & ~3
        if not board.memory.ram.contains(probe, len(MRS_R0_PSP)):
            return None  # an overflowed main stack: no free RAM known to put the probe in
        saved = rsp.command(f"m{probe:x},{len(MRS_R0_PSP):x}")
        if rsp.command(f"M{probe:x},{len(MRS_R0_PSP):x}:{MRS_R0_PSP.hex()}") != "OK":
            return None
        try:
            pc_hex = slice(8 * _PC, 8 * _PC + 8)
            _write_registers(rsp, block[: pc_hex.start] + probe.to_bytes(4, "little").hex() + block[pc_hex.stop :])
            rsp.command("s")
            after = rsp.registers()
            psp = after[_R0] if after[_PC] == probe + len(MRS_R0_PSP) else None
        finally:
            with contextlib.suppress(RspError, OSError):
                rsp.command(f"M{probe:x},{len(MRS_R0_PSP):x}:{saved}")
                _write_registers(rsp, block)
        return psp
    except (RspError, OSError, TimeoutError, ValueError, IndexError):
        return None
