"""CPU hooks that stop at an instruction and ask the host: semihosting calls and fault-handler entries on Renode.

Renode runs a hook (`cpu AddHook <address> "<python>"`, IronPython 2.7) on the CPU thread before the instruction
at <address> executes; the CPU and virtual time wait while it runs, and `cpu ExecutedInstructions` in it is the
count of the instructions before that one (tlib ends a translation block at a hooked address), so everything the
host learns there is exact to the instruction. Two kinds of sites:
- every `bkpt 0xab` of the image (semihosting): the host answers the call (semihosting.py), the hook sets r0 and
  moves PC past the `bkpt`, so Renode's own partial semihosting never runs;
- the handlers the vector table names for the fault exceptions (foreign firmware, which has no FAULT event of its
  own): the hook reports only when IPSR says a fault vector is active, since vendors share one Default_Handler
  between faults and interrupts.

Wire (private to this module; one TCP connection for all hooks of a run, kept in the AppDomain because Renode gives
every hook its own Python scope): the hook sends b"CSHK", kind (b"S" or b"F"), pc, the instruction count and the
registers r0-r15, xPSR; then serves the host's commands until b"D": b"R" addr n (read n bytes), b"W" addr n bytes
(write), b"L" addr (one word access), b"D" r0 flags (done; flags bit 0: halt the CPU, bit 1: set r0 and skip the
2-byte instruction at pc; bit 2: add a return-site hook at address r0, from inside the hook, active at once).
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from tinyml_cosim.engines.renode.loopback import LoopbackServer

HOOK_MAGIC = b"CSHK"
HELLO = struct.Struct("<4scIQ17I")  # magic, kind, pc, instructions, r0..r15, xpsr
COMMAND = struct.Struct("<cII")  # kind, a, b
KIND_SEMIHOSTING = b"S"
KIND_FAULT = b"F"
KIND_ENTRY = b"E"  # a measured function's first instruction (measure.py)
KIND_RETURN = b"T"  # a return site of a measured function's calls (measure.py)
DONE_HALT = 1
DONE_SKIP = 2
DONE_HOOK_RETURN = 4  # add a b"T" hook at address a (the LR of a call that returns where nothing is hooked yet)
SEMIHOSTING_BKPT = b"\xab\xbe"  # bkpt 0xab, little-endian Thumb


def semihosting_sites(elf: Path) -> list[int]:
    """Addresses of every `bkpt 0xab` in the image's executable sections.

    A halfword scan, not a disassembly: a match inside a 32-bit instruction or a literal pool is never an
    instruction start, so its hook can never fire; missing a real call site is the only harmful error, and a scan
    cannot miss one.
    """
    sites: list[int] = []
    with open(elf, "rb") as fh:
        for section in ELFFile(fh).iter_sections():
            if section["sh_type"] != "SHT_PROGBITS" or not section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR:
                continue
            data, base = section.data(), section["sh_addr"]
            sites += [base + off for off in range(0, len(data) - 1, 2) if data[off : off + 2] == SEMIHOSTING_BKPT]
    return sites


@dataclass
class HookStop:
    """What a hook reported: where, at which count, the registers, and a way to read and write memory there."""

    kind: bytes
    pc: int
    instructions: int
    regs: tuple[int, ...]  # r0..r15
    xpsr: int
    read: Callable[[int, int], bytes]
    read_words: Callable[[int, int], list[int]]  # word accesses, for peripherals (SCB) that take no byte reads
    write: Callable[[int, bytes], None]


# The host's answer: (r0, flags) for b"D".
Answer = tuple[int, int]
Handler = Callable[[HookStop], Answer]


class HookServer(LoopbackServer):
    """Serves the hooks of one Renode run: each stop is handed to `handler`, which answers it."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1") -> None:
        super().__init__("cosim-renode-hooks", host)
        self.handler = handler
        self.stops = 0
        self.start()

    def session(self, conn: socket.socket) -> None:
        try:
            while True:
                self._one(conn)
        except (EOFError, OSError):
            raise
        except Exception as exc:  # a bug in a handler must not leave the CPU thread waiting for ever
            self.error = f"hook handler failed: {exc!r}"
            with contextlib.suppress(OSError):
                conn.sendall(COMMAND.pack(b"D", 0, 0))

    def _one(self, conn: socket.socket) -> None:
        magic, kind, pc, count, *rest = HELLO.unpack(self.recv_exact(conn, HELLO.size))
        if magic != HOOK_MAGIC:
            raise OSError(f"bad hook magic {magic!r}")

        def read(address: int, n: int) -> bytes:
            if n <= 0:
                return b""
            conn.sendall(COMMAND.pack(b"R", address, n))
            return self.recv_exact(conn, n)

        def read_words(address: int, n: int) -> list[int]:
            words = []
            for a in range(address, address + 4 * n, 4):
                conn.sendall(COMMAND.pack(b"L", a, 4))
                words.append(int.from_bytes(self.recv_exact(conn, 4), "little"))
            return words

        def write(address: int, data: bytes) -> None:
            conn.sendall(COMMAND.pack(b"W", address, len(data)) + data)

        stop = HookStop(kind, pc, count, tuple(rest[:16]), rest[16], read, read_words, write)
        r0, flags = self.handler(stop)
        self.stops += 1
        conn.sendall(COMMAND.pack(b"D", r0 & 0xFFFFFFFF, flags))


# A TCP connection and `struct` for a hook, with the standard library or without it: a Renode built without
# IronPython's standard library (IronPython.StdLib.dll) has neither `socket` nor `struct`, only the built-in
# `_struct` and .NET's sockets. Shared with the mailbox hook (mailbox.py).
TCP_PRELUDE = """\
try:
    import struct
except ImportError:
    import _struct as struct
try:
    import socket as _cosim_socket
except ImportError:
    _cosim_socket = None


class _CosimNetConnection(object):
    def __init__(self, port):
        from System.Net.Sockets import TcpClient
        self.client = TcpClient('127.0.0.1', port)
        self.client.NoDelay = True
        self.stream = self.client.GetStream()

    def sendall(self, data):
        from System import Array, Byte
        buf = Array[Byte]([ord(data[i:i + 1]) for i in range(len(data))])
        self.stream.Write(buf, 0, len(buf))

    def recv(self, n):
        from System import Array, Byte
        buf = Array.CreateInstance(Byte, n)
        got = self.stream.Read(buf, 0, n)
        return ''.join([chr(buf[i]) for i in range(got)])


def cosim_recv(sock, n):
    data = b''
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            raise IOError('tinyml-cosim closed the connection')
        data += part
    return data


def cosim_connect(port):
    if _cosim_socket is None:
        return _CosimNetConnection(port)
    sock = _cosim_socket.socket(_cosim_socket.AF_INET, _cosim_socket.SOCK_STREAM)
    sock.setsockopt(_cosim_socket.IPPROTO_TCP, _cosim_socket.TCP_NODELAY, 1)
    sock.connect(('127.0.0.1', port))
    return sock
"""

# The hook file, for IronPython 2.7 in Renode 1.16 (and runnable under CPython 3 for the tests, with stand-ins for
# the CLR names). A Renode built without IronPython's standard library has only the built-in `_struct`.
HOOK_TEMPLATE = (
    """\
# Generated by tinyml-cosim: hands semihosting calls and fault entries to the host. Do not edit.
"""
    + TCP_PRELUDE
    + """
try:
    from System import AppDomain, UInt64
    from Antmicro.Renode.Peripherals.CPU import CpuAddressHook, RegisterValue
except ImportError:
    AppDomain = UInt64 = RegisterValue = CpuAddressHook = None

COSIM_HOOK_PORT = {port}
COSIM_HOOK_KEY = 'tinyml-cosim-hooks-{port}'
COSIM_FAULT_VECTORS = {fault_vectors}
_cosim_local = {{}}


def _cosim_conn():
    if AppDomain is not None:
        sock = AppDomain.CurrentDomain.GetData(COSIM_HOOK_KEY)
    else:
        sock = _cosim_local.get('sock')
    if sock is None:
        sock = cosim_connect(COSIM_HOOK_PORT)
        if AppDomain is not None:
            AppDomain.CurrentDomain.SetData(COSIM_HOOK_KEY, sock)
        else:
            _cosim_local['sock'] = sock
    return sock


def _cosim_reg(value):
    return RegisterValue.Create(UInt64(value), 32) if RegisterValue is not None else value


def cosim_stop(cpu, machine, pc, kind):
    xpsr = int(cpu.XProgramStatusRegister)
    if kind == b'F' and (xpsr & 0x1ff) not in COSIM_FAULT_VECTORS:
        return  # an interrupt sharing the fault handler: not a fault
    bus = machine.SystemBus
    regs = [int(cpu.GetRegister(i).RawValue) & 0xffffffff for i in range(16)]
    sock = _cosim_conn()
    hello = struct.pack('<4scIQ17I', b'CSHK', kind, pc, int(cpu.ExecutedInstructions), *(regs + [xpsr]))
    sock.sendall(hello)
    while True:
        op, a, b = struct.unpack('<cII', cosim_recv(sock, 9))
        if op == b'R':
            values = [int(v) for v in bus.ReadBytes(a, b)]
            sock.sendall(struct.pack('<%dB' % len(values), *values))
        elif op == b'L':
            sock.sendall(struct.pack('<I', int(bus.ReadDoubleWord(a)) & 0xffffffff))
        elif op == b'W':
            data = cosim_recv(sock, b)
            for i in range(b):
                bus.WriteByte(a + i, ord(data[i:i + 1]))
        else:
            if b & 2:
                cpu.SetRegister(0, _cosim_reg(a))
                cpu.PC = _cosim_reg((pc + 2) | 1)
            if b & 1:
                cpu.IsHalted = True
            if b & 4:
                _cosim_add_return_hook(cpu, machine, a)
            return


def _cosim_add_return_hook(cpu, machine, address):
    # A delegate hook at a call's return address (a function pointer's or a tail call's, which no static call site
    # names). Renode 1.16.1 gives tlib a new hook's breakpoint in ActivateNewHooks(), which ExecuteInstructions
    # also calls when the CPU resumes after this hook (TranslationCPU.ExecutionFinished): called here so the site
    # is armed before the call runs on whatever the resume path does (measured: the same counts either way).
    def fire(c, at):
        cosim_hook(c, machine, int(at), b'T')

    if CpuAddressHook is not None:
        cpu.AddHook(UInt64(address), CpuAddressHook(fire))
    else:
        cpu.AddHook(address, fire)
    cpu.ActivateNewHooks()


def cosim_hook(cpu, machine, pc, kind):
    try:
        cosim_stop(cpu, machine, pc, kind)
    except Exception as exc:  # an exception escaping a hook kills Renode; say what happened instead
        print('tinyml-cosim hook failed at 0x%08x: %s' % (pc, exc))
"""
)


def hook_file_text(port: int, fault_vectors: tuple[int, ...] = (2, 3, 4, 5, 6)) -> str:
    return HOOK_TEMPLATE.format(port=port, fault_vectors=repr(tuple(fault_vectors)))


def hook_one_liner(path: Path, kind: bytes) -> str:
    """The script given to `cpu AddHook`: loads the hook file once into the hook's scope, then calls it.
    One line without double quotes, so it fits a monitor string token."""
    text = str(path)
    if any(c in text for c in "'\"\\\n"):
        raise ValueError(f"{text}: the hook path must not contain quotes, backslashes or newlines")
    return f"globals().get('cosim_hook') or execfile(r'{text}'); cosim_hook(self, machine, pc, '{kind.decode()}')"


__all__ = [
    "DONE_HALT",
    "DONE_HOOK_RETURN",
    "DONE_SKIP",
    "KIND_ENTRY",
    "KIND_FAULT",
    "KIND_RETURN",
    "KIND_SEMIHOSTING",
    "HookServer",
    "HookStop",
    "hook_file_text",
    "hook_one_liner",
    "semihosting_sites",
]
