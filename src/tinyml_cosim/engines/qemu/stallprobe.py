"""The stall probe of the QEMU engine for foreign firmware: whether a quiet firmware is stuck in one loop, and, once
the run ends as a stall, which peripheral register that loop waits on.

While the run goes on, where the CPU runs comes from QEMU's exec trace with the CPU running (`confined_pcs`): the
probe stops nothing, so it cannot move a count (tests/test_byof_hang_probe.py). Measured with the probe it replaced
(8 QMP stop/cont pairs per look): systick_busy's total did not move over 80 pairs — QMP stops the VM before its
vCPU, and icount's clock warp needs a running VM whose vCPUs are all idle, while a GDB breakpoint or step stops the
vCPU first and does warp (the --measure TIM2 jump) — but a few pairs in a row with the fault stub attached left
hal_clock_timeout's vCPU not running again (count frozen: a false hang), and a firmware exiting during a look ended
the run as an engine error. Once the run ends, `describe_loop` stops and steps the CPU freely: nothing is left to
disturb.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any

from tinyml_cosim.core.errors import EngineError
from tinyml_cosim.engines.base import Ending
from tinyml_cosim.engines.qemu.polls import CONFINED_BYTES, UNIMP_RE, PollWatch, loop_load_address

REG_RE = re.compile(r"\b(R\d\d|XPSR)=([0-9a-fA-F]{8})")
UNIMP_INSTRUCTIONS = 200_000  # how long the unimplemented-device log is on at the end


def confined_pcs(engine: Any) -> list[int] | None:
    """Silent for hang_wall_s wall seconds: a hang if the PC stays in a small loop, polled register or not (a USART
    RX poll reads a register QEMU models, so the unimplemented-device log is silent). The PCs when it does; None
    when it does not, or when nothing ran meanwhile (stopped at a breakpoint the run loop has not seen yet)."""
    engine.hang_probes += 1
    try:
        watch = engine._poll_watch or PollWatch(engine, flags="none")
        pcs = watch.sample_pcs()
        if engine._poll_watch is None:
            engine._hmp("log none")
    except EngineError:  # QemuExited: the firmware ended meanwhile, and the run loop collects the exit
        return None
    if len(pcs) >= 2 and max(pcs) - min(pcs) < CONFINED_BYTES:
        return pcs
    return None


def describe_loop(engine: Any, ending: Ending, pcs: list[int] | None) -> None:
    """The stalled loop of a run that ends (CPU stopped, thread mode): its PCs and the register it polls."""
    assert ending.cpu is not None
    ending.pc_samples = pcs or sample_pcs(engine)
    ending.polled_address = polled_address(engine)
    modelled = ending.polled_address is None
    if modelled:
        ending.polled_address = polled_register(engine, ending.pc_samples)
    if ending.polled_address is not None:
        engine._note_poll(ending.cpu.pc, ending.polled_address)
        ending.polled_modelled = modelled


def sample_pcs(engine: Any, samples: int = 8) -> list[int]:
    """At the end of the run: let the CPU run a moment between stops; a tight loop shows the same few PCs."""
    pcs = []
    for _ in range(samples):
        engine._qmp_cmd("cont")
        time.sleep(0.001)
        engine._qmp_cmd("stop")
        pcs.append(engine.read_cpu().pc)
    return pcs


def polled_register(engine: Any, pcs: list[int]) -> int | None:
    """The peripheral register the stalled loop at `pcs` reads, decoded from its instructions (polls.py)."""
    image = engine.image
    if not pcs or image is None:
        return None
    low = min(pcs) & ~1
    begin = low - CONFINED_BYTES
    symbol = image.symbolize(low)
    if symbol is not None:
        func_start = image.function_range(symbol.split("+")[0])[0]
        if begin <= func_start <= low:
            begin = func_start  # decode from an instruction boundary
    try:
        code = engine.read_memory(begin, (max(pcs) & ~1) + CONFINED_BYTES - begin)
        named = dict(REG_RE.findall(engine._hmp("info registers")))
        regs = [int(named[f"R{i:02d}"], 16) for i in range(16)]
    except (EngineError, KeyError):
        return None
    return loop_load_address(code, begin, pcs, regs)


def polled_address(engine: Any) -> int | None:
    """Turn on QEMU's unimplemented-device log for a moment: a firmware waiting on RCC shows up there."""
    log_path = engine._log_path
    with contextlib.suppress(OSError):
        log_path.unlink()
    engine._hmp(f"logfile {log_path}")
    engine._hmp("log unimp")
    # Run for a fixed number of instructions rather than a fixed wall time, so a loaded machine (CI) still lets the
    # loop go round often enough to show up in the log.
    start, deadline = engine.instructions(), time.monotonic() + 1.0
    engine._qmp_cmd("cont")
    while engine.instructions() - start < UNIMP_INSTRUCTIONS and time.monotonic() < deadline:
        time.sleep(0.002)
    engine._qmp_cmd("stop")
    engine._hmp("log none")
    try:
        with open(log_path, errors="replace") as fh:
            lines = [next(fh, "") for _ in range(2000)]
    except OSError:
        return None
    reads = [m for m in (UNIMP_RE.match(ln) for ln in lines) if m and m["op"] == "read"]
    if not reads:
        return None
    device, offset = reads[-1]["dev"], int(reads[-1]["off"], 16)
    base = engine._device_bases().get(device)
    return None if base is None else base + offset
