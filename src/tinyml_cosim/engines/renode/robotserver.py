"""A client for Renode's Robot Framework remote server (`renode --robot-server-port N`), the door renode-test uses.

The server (src/Renode/RobotFrameworkEngine: HttpServer + XmlRpcServer) speaks Robot's remote protocol over XML-RPC:
`run_keyword(name, args)` returns a struct with `status` ("PASS"/"FAIL"), `return`, `error` and `traceback`. The
keyword `ExecuteCommand` runs one monitor command through `Monitor.Parse` and returns what the command wrote; a
command that fails raises a KeywordException whose message carries the monitor's error text. One request is served
at a time (a single listener thread), so one command is in flight, as on the telnet monitor.

Replies equal the telnet monitor's (monitor.MonitorClient) for the same command: the server strips ANSI sequences
itself; Renode ends lines with "\\n\\r", which an XML parser would normalise into two line breaks, so carriage returns
are removed from the raw body before parsing (the telnet client removes them too).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import time
import xmlrpc.client
from collections.abc import Callable
from typing import Any, Literal

from tinyml_cosim.core.errors import BadInput, EngineError
from tinyml_cosim.engines.renode.facts import Fact
from tinyml_cosim.engines.renode.monitor import (
    MonitorChannel,
    MonitorClient,
    MonitorReply,
    MonitorTimeout,
    finish_reply,
    parse_number,
    strip_ansi,
)

# Read in /opt/renode-src, the tree /opt/renode was built from (Renode 1.16.1, commit d66b0c2a; the robot server
# files are unchanged since v1.16.1). Kept here rather than in facts.py: they matter only to this client.
_SRC = "renode/renode@d66b0c2a"
FACTS: dict[str, Fact] = {
    f.name: f
    for f in (
        Fact("--robot-server-port", _SRC, "src/Infrastructure/src/UI/Options.cs", '[Name("robot-server-port")] '
             '"Start robot framework remote server on the specified port."'),
        Fact("run_keyword", _SRC, "src/Renode/RobotFrameworkEngine/XmlRpcServer.cs", '[XmlRpcMethod("run_keyword")] '
             "struct status PASS/FAIL, return, error, traceback; Fault 1 keyword not found, 2 arguments"),
        Fact("ExecuteCommand", _SRC, "src/Renode/RobotFrameworkEngine/RenodeKeywords.cs", "string ExecuteCommand("
             "string command, string machine = null): monitor.Parse(command), returns what the command wrote"),
        Fact("version", _SRC, "src/Infrastructure/src/Emulator/Extensions/UserInterface/Commands/VersionCommand.cs",
             'base(monitor, "version", "shows version information."): the banner'),
        Fact("DummyIOSource", _SRC, "src/Infrastructure/src/UI/DummyIOSource.cs", "Read() returns 0 at once: the "
             "shell of a Renode without --port and without a GUI busy-loops on it"),
    )
}  # fmt: skip
Control = Literal["robot", "telnet"]
CONTROL_ENV = "COSIM_RENODE_CONTROL"
CONTROLS: tuple[Control, ...] = ("robot", "telnet")
KEYWORD = "ExecuteCommand"
# RenodeKeywords.ExecuteCommand wraps the monitor's error text in one of these (the command substituted).
_WRAPPERS = ("Could not execute command '{}': ", "There was an error when executing command '{}': ")
# Monitor.PrintException writes this, then the exception's message as a second WriteError; the wrapper concatenates
# the two without a separator. Split there so errors[0] is what the telnet client reports.
_EXCEPTION_HEAD = "There was an error executing command '{}'"


def control_channel() -> Control:
    """Which door the engine drives Renode through: `$COSIM_RENODE_CONTROL`, the robot server by default."""
    value = os.environ.get(CONTROL_ENV, "").strip().lower() or "robot"
    if value not in CONTROLS:
        raise BadInput(f"{CONTROL_ENV}={value!r}: expected 'robot' (the default, XML-RPC) or 'telnet' (the monitor)")
    return value


def control_argv(control: Control, port: int, shell_port: int | None = None) -> list[str]:
    """The command-line options that open `control` on `port`.

    With the robot server, `shell_port` also opens the telnet monitor, which nobody need connect to: without --port,
    --disable-xwt gives the monitor's shell a DummyIOSource (CommandLineInterface.PrepareShell) whose Read() returns
    at once, and the shell thread spins on it: up to a core for as long as Renode runs (bench/renode_control.py).
    On a socket the shell blocks until someone connects; it is also a door to look in by hand during a run."""
    if control == "telnet":
        return ["--port", str(port)]
    return ["--robot-server-port", str(port), *(["--port", str(shell_port)] if shell_port is not None else [])]


def connect_control(
    control: Control, host: str, port: int, timeout: float, alive: Callable[[], bool] | None = None
) -> MonitorChannel:
    if control == "robot":
        return RobotServerClient.connect(host, port, timeout, alive=alive)
    return MonitorClient.connect(host, port, timeout, alive=alive)


class _Transport(xmlrpc.client.Transport):
    """xmlrpc's HTTP/1.1 keep-alive transport with a per-call socket timeout and carriage returns removed from the
    body before the XML parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.timeout = 30.0

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        if conn.sock is not None:
            conn.sock.settimeout(self.timeout)
        return conn

    def parse_response(self, response: http.client.HTTPResponse) -> tuple[Any, ...]:
        parser, unmarshaller = self.getparser()
        parser.feed(response.read().replace(b"\r", b""))
        parser.close()
        return unmarshaller.close()


def keyword_errors(command: str, error: str) -> list[str]:
    """The monitor's error messages inside a failed ExecuteCommand's `error` ("KeywordException: <wrapper><text>")."""
    text = error.replace("\r", "").strip()
    text = text.removeprefix("KeywordException: ")
    for wrapper in _WRAPPERS:
        text = text.removeprefix(wrapper.format(command))
    head = _EXCEPTION_HEAD.format(command)
    parts = [head, text[len(head) :]] if text.startswith(head) else [text]
    return [p.strip() for p in parts if p.strip()]


class RobotServerClient:
    """One XML-RPC connection to Renode's robot server, with MonitorClient's interface. Not thread-safe."""

    def __init__(self, host: str, port: int) -> None:
        self._transport = _Transport()
        self._proxy = xmlrpc.client.ServerProxy(f"http://{host}:{port}/", transport=self._transport, allow_none=True)
        self._broken: str | None = None
        self.prompt = ""  # the robot server has no prompt; kept for MonitorClient's interface
        self.banner = ""  # the `version` command's output: "Renode, version 1.16.1 (<commit>-<date>)"
        self.transcript: list[str] = []

    @classmethod
    def connect(
        cls, host: str, port: int, timeout: float, alive: Callable[[], bool] | None = None, interval: float = 0.1
    ) -> RobotServerClient:
        """Retry while Renode starts (the port opens once .NET has loaded and the HttpListener is up), then read the
        banner with the `version` command. `alive` returns False when the process has died."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        client = cls(host, port)
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                client.close()
                raise EngineError("renode exited before its robot server answered")
            try:
                # The whole remaining time: a first command can take long while Mono JIT-compiles the monitor.
                client.banner = client._run("version", max(0.1, deadline - time.monotonic())).output
                return client
            except MonitorTimeout as exc:
                last = exc
                break
            except (OSError, http.client.HTTPException, xmlrpc.client.Fault, EngineError) as exc:
                # Refused (not listening yet), reset (a process dying), or keywords not yet registered.
                last = exc
                client._broken = None
                client._transport.close()
                time.sleep(interval)
        client.close()
        raise EngineError(
            f"could not reach the Renode robot server on {host}:{port} within {timeout:.0f} s ({last or 'no answer'})"
        )

    def _call(self, command: str, timeout: float) -> dict[str, Any]:
        if self._broken is not None:
            raise EngineError(f"the Renode robot server connection is unusable: {self._broken}")
        self._transport.timeout = max(0.001, timeout)
        # Named argument: a command such as `a=b` would otherwise be taken for one (Keyword.TryParseArguments), and
        # the name also picks the string overload of ExecuteCommand over the string[] one.
        args = [f"command={command}"] if command else [command]
        try:
            result = self._proxy.run_keyword(KEYWORD, args)
        except TimeoutError:  # socket.timeout is TimeoutError since Python 3.10
            self._broken = f"{command!r} did not return in {timeout:.1f} s"
            raise MonitorTimeout(f"Renode did not finish {command!r} in {timeout:.1f} s") from None
        except xmlrpc.client.Fault as exc:
            raise EngineError(f"Renode's robot server refused {KEYWORD}: {exc.faultString}") from None
        except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as exc:
            self._broken = f"lost the connection ({exc})"
            raise EngineError(f"lost the Renode robot server connection: {exc or type(exc).__name__}") from None
        if not isinstance(result, dict) or result.get("status") not in ("PASS", "FAIL"):
            raise EngineError(f"Renode's robot server answered {KEYWORD} with {result!r}")
        return result

    def _run(self, command: str, timeout: float) -> MonitorReply:
        result = self._call(command, timeout)
        if result["status"] == "PASS":
            raw = str(result.get("return") or "")
            return MonitorReply(command, raw, strip_ansi(raw).replace("\r", "").strip("\n"))
        errors = keyword_errors(command, str(result.get("error", "")))
        return MonitorReply(command, str(result.get("error", "")), "\n".join(errors), errors)

    def execute(self, command: str, timeout: float = 30.0, check: bool = True) -> MonitorReply:
        if "\n" in command or "\r" in command:
            raise ValueError("one monitor command per line")
        reply = self._run(command, timeout)
        return finish_reply(self.transcript, command, reply, check)

    def number(self, command: str, timeout: float = 30.0) -> int:
        return parse_number(self.execute(command, timeout).output)

    def close(self) -> None:
        self._broken = self._broken or "closed"
        with contextlib.suppress(OSError):
            self._transport.close()


__all__ = [
    "CONTROLS",
    "CONTROL_ENV",
    "FACTS",
    "Control",
    "RobotServerClient",
    "connect_control",
    "control_argv",
    "control_channel",
    "keyword_errors",
]
