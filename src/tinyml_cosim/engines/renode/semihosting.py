"""Arm semihosting for firmware on Renode, answered the way QEMU 7.2 answers it.

Renode 1.16.1 implements only SYS_WRITEC, SYS_WRITE0 and SYS_READC (facts.SEMIHOSTING) and returns 0 for every
other operation, so newlib's rdimon start-up takes other paths than on QEMU (no feature file, nothing is a tty, no
heap information), `exit()` runs on, and `printf` over SYS_WRITE is lost. The engine puts a CPU hook at every
`bkpt 0xab` in the image (hooks.py); the hook hands the call to `Semihosting.call` here, which reads what it needs
of the firmware's memory, answers like QEMU 7.2's semihosting/arm-compat-semi.c (read at qemu 7.2+dfsg, Debian
7.2+dfsg-7+deb12u18), and the hook skips the `bkpt` (the engine counts each skipped `bkpt` as one instruction, as
QEMU retires it).

Where QEMU's answer depends on the host (SYS_CLOCK, SYS_TIME, SYS_ELAPSED read host clocks), the answer here comes
from virtual time instead, so runs repeat; files other than the console and the feature file are refused (-1,
ENOENT), as a co-simulation gives the firmware no host file system: untrusted firmware must not reach the host
(docs/security.md). SYS_REMOVE, SYS_RENAME and SYS_TMPNAM name host files and are refused the same way; SYS_SYSTEM
(a host shell command) is refused with EPERM. Nothing here ever calls the host's file system or a shell.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

SYS_OPEN = 0x01
SYS_CLOSE = 0x02
SYS_WRITEC = 0x03
SYS_WRITE0 = 0x04
SYS_WRITE = 0x05
SYS_READ = 0x06
SYS_READC = 0x07
SYS_ISERROR = 0x08
SYS_ISTTY = 0x09
SYS_SEEK = 0x0A
SYS_FLEN = 0x0C
SYS_TMPNAM = 0x0D
SYS_REMOVE = 0x0E
SYS_RENAME = 0x0F
SYS_CLOCK = 0x10
SYS_TIME = 0x11
SYS_SYSTEM = 0x12
SYS_ERRNO = 0x13
SYS_HEAPINFO = 0x16
SYS_EXIT = 0x18
SYS_EXIT_EXTENDED = 0x20
SYS_ELAPSED = 0x30
SYS_TICKFREQ = 0x31

ADP_STOPPED_APPLICATION_EXIT = 0x20026
# QEMU's feature file: magic "SHFB" and feature byte 0 = SH_EXT_EXIT_EXTENDED | SH_EXT_STDOUT_STDERR.
FEATURE_FILE = b"SHFB\x03"
FEATURES_NAME = ":semihosting-features"
TT_NAME = ":tt"
MINUS_ONE = 0xFFFFFFFF
DEAD_BEEF = 0xDEADBEEF  # QEMU's r0 after a call without a defined result (common_semi_dead_cb)


@dataclass
class Console:
    """A console handle of ":tt": 0 = stdin, 1 = stdout, 2 = stderr (QEMU: open mode < 4, < 8, else)."""

    stream: int


@dataclass
class StaticFile:
    data: bytes
    offset: int = 0


@dataclass
class Outcome:
    """What the hook does after a call: r0's value, and whether the firmware ended the run."""

    r0: int
    exit_code: int | None = None


ReadMemory = Callable[[int, int], bytes]
WriteMemory = Callable[[int, bytes], None]


@dataclass
class Semihosting:
    """Semihosting state of one run: open handles, errno, and where output goes."""

    write_console: Callable[[int, bytes], None]  # (stream 1 or 2, bytes)
    clock_hz: int
    heap: tuple[int, int]  # (base, limit): the board's RAM, as QEMU reports its largest RAM gap
    handles: dict[int, Console | StaticFile] = field(default_factory=dict)
    errno: int = 0
    calls: int = 0

    def _alloc(self, handle: Console | StaticFile) -> int:
        # QEMU's alloc_guestfd: the lowest free handle, starting at 1 (SYS_OPEN must return nonzero).
        fd = 1
        while fd in self.handles:
            fd += 1
        self.handles[fd] = handle
        return fd

    def _fail(self, code: int) -> Outcome:
        self.errno = code
        return Outcome(MINUS_ONE)

    def call(self, op: int, r1: int, read: ReadMemory, write: WriteMemory, instructions: int) -> Outcome:
        """Answer one call; `instructions` is the count at the `bkpt` (virtual time for the clock calls)."""
        self.calls += 1
        handler = _OPERATIONS.get(op)
        if handler is None:
            return self._fail(errno.ENOSYS)
        return handler(self, _Call(r1, read, write, instructions))

    def _writec(self, c: _Call) -> Outcome:
        self.write_console(1, c.read(c.r1, 1))
        return Outcome(DEAD_BEEF)

    def _write0(self, c: _Call) -> Outcome:
        text = bytearray()
        while len(text) < 1 << 16:
            chunk = c.read(c.r1 + len(text), 64)
            end = chunk.find(b"\0")
            text += chunk if end < 0 else chunk[:end]
            if end >= 0:
                break
        self.write_console(1, bytes(text))
        return Outcome(DEAD_BEEF)

    def _open(self, c: _Call) -> Outcome:
        name_ptr, mode, length = c.args(3)
        if mode >= 12:
            return self._fail(errno.EINVAL)
        name = c.read(name_ptr, length).decode("latin-1") if length else ""
        if name == TT_NAME:
            return Outcome(self._alloc(Console(0 if mode < 4 else 1 if mode < 8 else 2)))
        if name == FEATURES_NAME:
            if mode not in (0, 1):
                return self._fail(errno.EACCES)
            return Outcome(self._alloc(StaticFile(FEATURE_FILE)))
        return self._fail(errno.ENOENT)

    def _no_host_file(self, c: _Call) -> Outcome:
        return self._fail(errno.ENOENT)  # SYS_REMOVE, SYS_RENAME, SYS_TMPNAM: there is no host file system here

    def _no_host_command(self, c: _Call) -> Outcome:
        return self._fail(errno.EPERM)  # SYS_SYSTEM: the firmware never runs anything on the host

    def _close(self, c: _Call) -> Outcome:
        (fd,) = c.args(1)
        if self.handles.pop(fd, None) is None:
            return self._fail(errno.EBADF)
        return Outcome(0)

    def _write(self, c: _Call) -> Outcome:
        fd, buf, n = c.args(3)
        handle = self.handles.get(fd)
        if isinstance(handle, Console) and handle.stream in (1, 2):
            self.write_console(handle.stream, c.read(buf, n) if n else b"")
            return Outcome(0)  # bytes NOT written
        self.errno = errno.EBADF
        return Outcome(n)

    def _read(self, c: _Call) -> Outcome:
        fd, buf, n = c.args(3)
        handle = self.handles.get(fd)
        if isinstance(handle, StaticFile):
            data = handle.data[handle.offset : handle.offset + n]
            handle.offset += len(data)
            if data:
                c.write(buf, data)
            return Outcome(n - len(data))
        if isinstance(handle, Console) and handle.stream == 0:
            return Outcome(n)  # no console input on this channel: end of file
        self.errno = errno.EBADF
        return Outcome(n)

    def _readc(self, c: _Call) -> Outcome:
        return Outcome(MINUS_ONE)

    def _iserror(self, c: _Call) -> Outcome:
        (value,) = c.args(1)
        return Outcome(1 if value & 0x80000000 else 0)

    def _istty(self, c: _Call) -> Outcome:
        (fd,) = c.args(1)
        if fd not in self.handles:
            return self._fail(errno.EBADF)
        # QEMU answers from its host file: the project runs QEMU with pipes, so the console is no terminal.
        self.errno = errno.ENOTTY
        return Outcome(0)

    def _seek(self, c: _Call) -> Outcome:
        fd, offset = c.args(2)
        handle = self.handles.get(fd)
        if isinstance(handle, StaticFile):
            handle.offset = min(offset, len(handle.data))
            return Outcome(0)
        return self._fail(errno.ESPIPE if handle is not None else errno.EBADF)

    def _flen(self, c: _Call) -> Outcome:
        (fd,) = c.args(1)
        handle = self.handles.get(fd)
        if isinstance(handle, StaticFile):
            return Outcome(len(handle.data))
        if isinstance(handle, Console):
            return Outcome(0)  # fstat of a terminal or pipe: size 0
        return self._fail(errno.EBADF)

    def _clock(self, c: _Call) -> Outcome:
        return Outcome((c.instructions * 100 // self.clock_hz) & MINUS_ONE)  # centiseconds of virtual time

    def _time(self, c: _Call) -> Outcome:
        return Outcome(c.instructions // self.clock_hz)  # seconds since the run started (no host clock)

    def _errno(self, c: _Call) -> Outcome:
        return Outcome(self.errno)

    def _heapinfo(self, c: _Call) -> Outcome:
        (block,) = c.args(1)
        base, limit = self.heap
        c.write(block, struct.pack("<4I", base, limit, limit, base))  # heap base, limit, stack base, stack limit
        return Outcome(0)

    def _exit(self, c: _Call) -> Outcome:
        return Outcome(0, exit_code=0 if c.r1 == ADP_STOPPED_APPLICATION_EXIT else 1)

    def _exit_extended(self, c: _Call) -> Outcome:
        reason, code = c.args(2)
        return Outcome(0, exit_code=code if reason == ADP_STOPPED_APPLICATION_EXIT else 1)

    def _elapsed(self, c: _Call) -> Outcome:
        ticks = c.instructions * 1_000_000_000 // self.clock_hz
        c.write(c.r1, struct.pack("<II", ticks & MINUS_ONE, ticks >> 32))
        return Outcome(0)

    def _tickfreq(self, c: _Call) -> Outcome:
        return Outcome(1_000_000_000)


@dataclass
class _Call:
    r1: int
    read: ReadMemory
    write: WriteMemory
    instructions: int

    def args(self, n: int) -> tuple[int, ...]:
        return struct.unpack(f"<{n}I", self.read(self.r1, 4 * n))


_OPERATIONS: dict[int, Callable[[Semihosting, _Call], Outcome]] = {
    SYS_OPEN: Semihosting._open,
    SYS_CLOSE: Semihosting._close,
    SYS_WRITEC: Semihosting._writec,
    SYS_WRITE0: Semihosting._write0,
    SYS_WRITE: Semihosting._write,
    SYS_READ: Semihosting._read,
    SYS_READC: Semihosting._readc,
    SYS_ISERROR: Semihosting._iserror,
    SYS_ISTTY: Semihosting._istty,
    SYS_SEEK: Semihosting._seek,
    SYS_FLEN: Semihosting._flen,
    SYS_TMPNAM: Semihosting._no_host_file,
    SYS_REMOVE: Semihosting._no_host_file,
    SYS_RENAME: Semihosting._no_host_file,
    SYS_SYSTEM: Semihosting._no_host_command,
    SYS_CLOCK: Semihosting._clock,
    SYS_TIME: Semihosting._time,
    SYS_ERRNO: Semihosting._errno,
    SYS_HEAPINFO: Semihosting._heapinfo,
    SYS_EXIT: Semihosting._exit,
    SYS_EXIT_EXTENDED: Semihosting._exit_extended,
    SYS_ELAPSED: Semihosting._elapsed,
    SYS_TICKFREQ: Semihosting._tickfreq,
}


__all__ = ["ADP_STOPPED_APPLICATION_EXIT", "FEATURE_FILE", "Outcome", "Semihosting"]
