"""Semihosting on Renode answered as QEMU 7.2 answers it, and the hook mechanism that carries it (no Renode needed:
the generated IronPython hook runs here under CPython against a stand-in CPU and bus)."""

from __future__ import annotations

import errno
import struct
import subprocess
from pathlib import Path

import pytest

from tinyml_cosim.engines.renode import hooks
from tinyml_cosim.engines.renode.hooks import DONE_HALT, DONE_SKIP, KIND_SEMIHOSTING, HookServer, HookStop
from tinyml_cosim.engines.renode.semihosting import (
    ADP_STOPPED_APPLICATION_EXIT,
    FEATURE_FILE,
    Semihosting,
)

MINUS_ONE = 0xFFFFFFFF


class Memory:
    def __init__(self) -> None:
        self.bytes: dict[int, int] = {}

    def put(self, address: int, data: bytes) -> None:
        for i, b in enumerate(data):
            self.bytes[address + i] = b

    def words(self, address: int, *values: int) -> None:
        self.put(address, struct.pack(f"<{len(values)}I", *values))

    def read(self, address: int, n: int) -> bytes:
        return bytes(self.bytes.get(address + i, 0) for i in range(n))


@pytest.fixture
def host() -> tuple[Semihosting, Memory, list[tuple[int, bytes]]]:
    out: list[tuple[int, bytes]] = []
    semi = Semihosting(write_console=lambda s, d: out.append((s, d)), clock_hz=168_000_000,
                       heap=(0x20000000, 0x20020000))  # fmt: skip
    return semi, Memory(), out


def call(semi: Semihosting, mem: Memory, op: int, r1: int, instructions: int = 0):
    return semi.call(op, r1, mem.read, mem.put, instructions)


def open_(semi: Semihosting, mem: Memory, name: bytes, mode: int) -> int:
    mem.put(0x20001000, name + b"\0")
    mem.words(0x20000F00, 0x20001000, mode, len(name))
    return call(semi, mem, 0x01, 0x20000F00).r0


def test_rdimon_start_up_sees_what_it_sees_on_qemu(host) -> None:
    """newlib's rdimon: stdin, the feature file (read and closed), stdout, stderr; handles count from 1 and reuse."""
    semi, mem, _out = host
    assert open_(semi, mem, b":tt", 0) == 1
    features = open_(semi, mem, b":semihosting-features", 0)
    assert features == 2
    mem.words(0x20000F10, features)
    assert call(semi, mem, 0x0C, 0x20000F10).r0 == len(FEATURE_FILE)  # SYS_FLEN
    mem.words(0x20000F20, features, 0x20002000, 8)
    assert call(semi, mem, 0x06, 0x20000F20).r0 == 8 - len(FEATURE_FILE)  # SYS_READ: bytes NOT read
    assert mem.read(0x20002000, 5) == b"SHFB\x03"
    assert call(semi, mem, 0x02, 0x20000F10).r0 == 0  # SYS_CLOSE
    assert open_(semi, mem, b":tt", 4) == 2  # the freed handle first, as QEMU's alloc_guestfd
    assert open_(semi, mem, b":tt", 8) == 3
    mem.words(0x20000F10, 2)
    assert call(semi, mem, 0x09, 0x20000F10).r0 == 0  # SYS_ISTTY: QEMU's console is a pipe here
    assert call(semi, mem, 0x13, 0).r0 == errno.ENOTTY  # SYS_ERRNO


def test_writes_reach_the_console_and_say_all_bytes_were_written(host) -> None:
    semi, mem, out = host
    stdout, stderr = open_(semi, mem, b":tt", 4), open_(semi, mem, b":tt", 8)
    mem.put(0x20003000, b"hello\n")
    mem.words(0x20000F30, stdout, 0x20003000, 6)
    assert call(semi, mem, 0x05, 0x20000F30).r0 == 0
    mem.words(0x20000F30, stderr, 0x20003000, 2)
    assert call(semi, mem, 0x05, 0x20000F30).r0 == 0
    mem.put(0x20003100, b"w0 text\0junk")
    assert call(semi, mem, 0x04, 0x20003100).r0 == 0xDEADBEEF  # SYS_WRITE0, QEMU's dead callback
    mem.put(0x20003200, b"!")
    call(semi, mem, 0x03, 0x20003200)  # SYS_WRITEC
    assert out == [(1, b"hello\n"), (2, b"he"), (1, b"w0 text"), (1, b"!")]
    mem.words(0x20000F30, 9, 0x20003000, 6)  # a handle that is not open
    assert call(semi, mem, 0x05, 0x20000F30).r0 == 6


def test_exit_codes_as_qemu_computes_them(host) -> None:
    semi, mem, _ = host
    assert call(semi, mem, 0x18, ADP_STOPPED_APPLICATION_EXIT).exit_code == 0
    assert call(semi, mem, 0x18, 0x20024).exit_code == 1  # any other reason
    mem.words(0x20000F40, ADP_STOPPED_APPLICATION_EXIT, 3)
    assert call(semi, mem, 0x20, 0x20000F40).exit_code == 3  # SYS_EXIT_EXTENDED
    mem.words(0x20000F40, 0x20023, 3)
    assert call(semi, mem, 0x20, 0x20000F40).exit_code == 1
    assert call(semi, mem, 0x05 + 0x100, 0).r0 == MINUS_ONE  # unknown operation
    assert call(semi, mem, 0x13, 0).r0 == errno.ENOSYS


def test_clocks_come_from_virtual_time_and_heap_from_the_board(host) -> None:
    semi, mem, _ = host
    assert call(semi, mem, 0x10, 0, instructions=168_000_000 * 3).r0 == 300  # SYS_CLOCK, centiseconds
    assert call(semi, mem, 0x31, 0).r0 == 1_000_000_000  # SYS_TICKFREQ
    call(semi, mem, 0x30, 0x20000F50, instructions=168)  # SYS_ELAPSED: 1 us
    assert struct.unpack("<II", mem.read(0x20000F50, 8)) == (1000, 0)
    mem.words(0x20000F60, 0x20000F70)
    call(semi, mem, 0x16, 0x20000F60)  # SYS_HEAPINFO
    assert struct.unpack("<4I", mem.read(0x20000F70, 16)) == (0x20000000, 0x20020000, 0x20020000, 0x20000000)


def test_semihosting_sites_are_every_bkpt_0xab(tmp_path: Path) -> None:
    src = tmp_path / "s.S"
    src.write_text(
        ".syntax unified\n.thumb\n.text\n.global f\nf:\n  movs r0, #1\n  bkpt 0xab\n  bkpt 0x01\n  nop\n"
        "  bkpt 0xab\n  bx lr\n"
    )
    elf = tmp_path / "s.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-nostdlib", "-Wl,-Ttext=0x08000000", "-o", str(elf),
                    str(src)], check=True, capture_output=True)  # fmt: skip
    assert hooks.semihosting_sites(elf) == [0x08000002, 0x08000008]


class StandInCpu:
    """What the hook touches of Renode's CortexM: registers, XProgramStatusRegister, ExecutedInstructions, PC."""

    def __init__(self, regs: list[int], xpsr: int, executed: int) -> None:
        self.regs, self.XProgramStatusRegister, self.ExecutedInstructions = regs, xpsr, executed
        self.PC: int | None = None
        self.IsHalted = False

    def GetRegister(self, i: int):
        return type("RegisterValue", (), {"RawValue": self.regs[i]})()

    def SetRegister(self, i: int, value: int) -> None:
        self.regs[i] = value


class StandInBus:
    def __init__(self, mem: Memory) -> None:
        self.mem = mem

    def ReadBytes(self, address: int, n: int) -> bytes:
        return self.mem.read(address, n)

    def ReadDoubleWord(self, address: int) -> int:
        return int.from_bytes(self.mem.read(address, 4), "little")

    def WriteByte(self, address: int, value: int) -> None:
        self.mem.put(address, bytes([value]))


def test_the_generated_hook_round_trips_a_call_through_the_server(host) -> None:
    """The hook file as Renode runs it (here under CPython): the host reads memory through it, answers, and the
    hook sets r0, skips the bkpt and halts the core on an exit."""
    semi, mem, out = host
    seen: list[HookStop] = []

    def answer(stop: HookStop) -> tuple[int, int]:
        seen.append(stop)
        outcome = semi.call(stop.regs[0], stop.regs[1], stop.read, stop.write, stop.instructions)
        return outcome.r0, DONE_SKIP | (DONE_HALT if outcome.exit_code is not None else 0)

    server = HookServer(answer)
    try:
        scope: dict[str, object] = {}
        exec(compile(hooks.hook_file_text(server.port), "cosim_hooks.py", "exec"), scope)
        machine = type("Machine", (), {"SystemBus": StandInBus(mem)})()
        mem.put(0x20003100, b"from the hook\0")
        cpu = StandInCpu([0x04, 0x20003100] + [0] * 14, xpsr=0x01000000, executed=1234)
        scope["cosim_hook"](cpu, machine, 0x08000100, KIND_SEMIHOSTING)  # type: ignore[operator]
        assert out == [(1, b"from the hook")]
        assert cpu.regs[0] == 0xDEADBEEF and cpu.PC == 0x08000103 and not cpu.IsHalted
        assert seen[0].instructions == 1234 and seen[0].pc == 0x08000100
        cpu = StandInCpu([0x18, ADP_STOPPED_APPLICATION_EXIT] + [0] * 14, xpsr=0x01000000, executed=2000)
        scope["cosim_hook"](cpu, machine, 0x08000200, KIND_SEMIHOSTING)  # type: ignore[operator]
        assert cpu.IsHalted and server.error is None
    finally:
        server.close()


def test_a_failing_handler_answers_the_hook_instead_of_hanging_it() -> None:
    def broken(stop: HookStop) -> tuple[int, int]:
        raise RuntimeError("boom")

    server = HookServer(broken)
    try:
        scope: dict[str, object] = {}
        exec(compile(hooks.hook_file_text(server.port), "cosim_hooks.py", "exec"), scope)
        machine = type("Machine", (), {"SystemBus": StandInBus(Memory())})()
        cpu = StandInCpu([0x05, 0] + [0] * 14, xpsr=0x01000000, executed=1)
        scope["cosim_hook"](cpu, machine, 0x08000100, KIND_SEMIHOSTING)  # type: ignore[operator]
        assert "boom" in (server.error or "")
        assert cpu.PC is None  # not skipped: Renode's own handler runs, nothing is invented
    finally:
        server.close()
