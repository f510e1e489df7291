"""A client for Renode's monitor over TCP (`renode --disable-xwt --port N`).

The monitor is an AntShell line editor behind a telnet-mode socket (renode_facts.MONITOR_WIRE): it negotiates with
IAC bytes, echoes what it is sent, colours its prompt and its errors with ANSI sequences, and prints a new prompt
when a command has finished. One command is in flight at a time; the reply is everything up to the next prompt.
The engine uses it with `COSIM_RENODE_CONTROL=telnet`; by default it talks to the robot server (robotserver.py),
whose client shares this module's reply and error types (MonitorChannel, MonitorReply, MonitorError, MonitorTimeout).
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Protocol

from tinyml_cosim.core.errors import EngineError
from tinyml_cosim.engines.renode.facts import ERROR_COLOUR, RESET_COLOUR

IAC = 255
# Escape sequences AntShell emits: CSI ... final byte (colours, cursor moves, clears) and ESC + one byte (scroll).
_CSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_ERROR_RE = re.compile(re.escape(ERROR_COLOUR) + r"(.*?)" + re.escape(RESET_COLOUR), re.S)
# The prompt is "(<name>) " — "(monitor) " before a machine exists, "(<machine>) " after — drawn as colour, text,
# reset. A reply is complete when the raw text ends with it.
_PROMPT_END_RE = re.compile(r"\((?P<name>[A-Za-z0-9_.\-]+)\) (?:\x1b\[0m)?$")
# Messages Monitor.cs writes with WriteError, for monitors that do not colour (kept as a second line of defence).
ERROR_PHRASES = (
    "There was an error executing command",
    "No such command or device",
    "Could not tokenize here",
    "Could not find",
)


class MonitorError(EngineError):
    """Renode's monitor refused or failed a command."""


class MonitorTimeout(EngineError):
    """A command did not return in time (no prompt, no XML-RPC answer): it is still running, or Renode hangs."""


class TelnetFilter:
    """Removes telnet negotiation from the byte stream (IAC cmd opt, IAC IAC -> 0xFF), across chunk borders."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> bytes:
        data = self._pending + data
        self._pending = b""
        out = bytearray()
        i = 0
        while i < len(data):
            b = data[i]
            if b != IAC:
                out.append(b)
                i += 1
                continue
            if i + 1 >= len(data):
                self._pending = data[i:]
                break
            if data[i + 1] == IAC:
                out.append(IAC)
                i += 2
                continue
            if i + 2 >= len(data):
                self._pending = data[i:]
                break
            i += 3  # IAC DO/DONT/WILL/WONT option
        return bytes(out)


def strip_ansi(text: str) -> str:
    return _CSI_RE.sub("", text)


@dataclass
class MonitorReply:
    command: str
    raw: str  # after telnet filtering, with colours
    output: str  # the command's output: echo and prompt removed, colours stripped, \r removed
    errors: list[str] = field(default_factory=list)
    prompt: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


class MonitorChannel(Protocol):
    """What the engine needs from a way into Renode's monitor: this module's telnet client or the robot server's
    XML-RPC client (robotserver.RobotServerClient). Both raise MonitorError for a refused command and MonitorTimeout
    when a command does not return in time (the channel is unusable afterwards)."""

    banner: str
    transcript: list[str]

    def execute(self, command: str, timeout: float = 30.0, check: bool = True) -> MonitorReply: ...

    def number(self, command: str, timeout: float = 30.0) -> int: ...

    def close(self) -> None: ...


def parse_reply(command: str, raw: str) -> MonitorReply:
    """Split one command's raw reply (echo, newline, output, prompt) into output and errors."""
    m = _PROMPT_END_RE.search(raw)
    body = raw[: m.start()] if m else raw
    prompt = m["name"] if m else ""
    errors = [strip_ansi(e).replace("\r", "").strip() for e in _ERROR_RE.findall(body)]
    text = strip_ansi(body).replace("\r", "")
    # The editor echoes the command and then writes NewLine() ("\n\r") before running it.
    if "\n" in text:
        first, rest = text.split("\n", 1)
        if command and first.strip().endswith(command.strip()):
            text = rest
    output = text.strip("\n")
    errors = [e for e in errors if e]
    if not errors:
        errors = [line.strip() for line in output.splitlines() if line.strip().startswith(ERROR_PHRASES)]
    return MonitorReply(command, raw, output, errors, prompt)


_NUMBER_RE = re.compile(r"^(0x[0-9a-fA-F]+|[0-9]+)(?:\s*\(([0-9]+)\))?$")


def parse_number(output: str) -> int:
    """A number as the monitor prints it: 0x%0*X (NumbersMode Hexadecimal), decimal, or '0x.. (dec)' (Both)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        raise MonitorError("the monitor printed nothing where a number was expected")
    m = _NUMBER_RE.match(lines[-1])
    if m is None:
        raise MonitorError(f"the monitor printed {lines[-1]!r} where a number was expected")
    return int(m[1], 0)


def finish_reply(transcript: list[str], command: str, reply: MonitorReply, check: bool) -> MonitorReply:
    """Every channel's last step: keep the command in the last-50 transcript, and raise on the monitor's error."""
    transcript.append(f"{command} -> {reply.output[:200]!r}")
    del transcript[:-50]
    if check and reply.errors:
        raise MonitorError(f"Renode refused `{command}`: {' / '.join(reply.errors)}")
    return reply


class MonitorClient:
    """One connection to the monitor. Not thread-safe: the engine owns it."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._telnet = TelnetFilter()
        self._buffer = ""
        self.prompt = ""
        self.banner = ""  # what Renode printed before the first prompt (its version string among it)
        self.transcript: list[str] = []  # commands and short replies, for messages when something fails

    @classmethod
    def connect(
        cls, host: str, port: int, timeout: float, alive: object = None, interval: float = 0.2
    ) -> MonitorClient:
        """Connect, retrying while Renode starts (it opens the port only after .NET has loaded), then read the
        banner up to the first prompt. `alive` is a callable returning False when the process has died."""
        deadline = time.monotonic() + timeout
        last: OSError | None = None
        while time.monotonic() < deadline:
            if callable(alive) and not alive():
                raise EngineError("renode exited before its monitor port opened")
            try:
                sock = socket.create_connection((host, port), timeout=min(2.0, timeout))
            except OSError as exc:
                last = exc
                time.sleep(interval)
                continue
            client = cls(sock)
            client.banner = client.read_reply("", max(0.1, deadline - time.monotonic())).output
            return client
        raise EngineError(f"could not connect to the Renode monitor on {host}:{port} within {timeout:.0f} s ({last})")

    def _recv(self, timeout: float) -> bool:
        self._sock.settimeout(max(0.001, timeout))
        try:
            data = self._sock.recv(65536)
        except TimeoutError:
            return True
        except OSError as exc:
            raise EngineError(f"lost the Renode monitor connection: {exc}") from None
        if not data:
            raise EngineError("Renode closed its monitor connection")
        self._buffer += self._telnet.feed(data).decode("utf-8", errors="replace")
        return True

    def read_reply(self, command: str, timeout: float) -> MonitorReply:
        deadline = time.monotonic() + timeout
        while True:
            m = _PROMPT_END_RE.search(self._buffer)
            if m is not None:
                raw, self._buffer = self._buffer, ""
                reply = parse_reply(command, raw)
                self.prompt = reply.prompt
                return reply
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MonitorTimeout(f"Renode's monitor did not finish {command or 'starting'!r} in {timeout:.1f} s")
            self._recv(remaining)

    def execute(self, command: str, timeout: float = 30.0, check: bool = True) -> MonitorReply:
        if "\n" in command or "\r" in command:
            raise ValueError("one monitor command per line")
        # Only "\n": the editor treats both \r and \n as Enter, so "\r\n" would run an empty second command.
        self._sock.sendall(command.encode() + b"\n")
        reply = self.read_reply(command, timeout)
        return finish_reply(self.transcript, command, reply, check)

    def number(self, command: str, timeout: float = 30.0) -> int:
        return parse_number(self.execute(command, timeout).output)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
