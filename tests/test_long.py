"""`make test-long`: runs that take tens of seconds."""

from __future__ import annotations

import pytest
from cosim_testing import needs_qemu

from tinyml_cosim.run.record import Status
from tinyml_cosim.run.session import RunRequest, run_firmware

pytestmark = [needs_qemu, pytest.mark.long]


def test_instruction_counter_crosses_the_32_bit_wrap(firmware) -> None:
    """TIM2 wraps every 2^32 instructions (25.6 s simulated at 168 MHz); the 64-bit extension must carry on."""
    rec = run_firmware(RunRequest(elf=firmware("wrap"), board="stm32f405", timeout_s=300))
    marks = [e for e in rec.events if e.kind == "MARK"]
    assert rec.status is Status.EXITED and rec.exit_code == 0, rec.diagnosis
    assert next(int(e.fields["value"]) for e in marks if e.fields["name"] == "backwards") == 0
    gib = [e.instructions for e in marks if e.fields["name"] == "gib"]
    assert len(gib) == 4 and all(g >= (i + 1) << 30 for i, g in enumerate(gib))
    assert rec.instructions > (1 << 32) + (1 << 28)
    assert rec.simulated_seconds > 25.6
