"""The Renode backend without Renode: generated files and commands against renode_facts, the monitor protocol
against a fake monitor that speaks like Renode 1.16's (telnet, and the robot server's XML-RPC: the endings run
through both), the mailbox hook against fake memory, and run endings.

A live class at the end runs a real firmware when `renode` is on PATH.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from socketserver import ThreadingMixIn
from xmlrpc.client import Fault
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

import pytest

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput, EngineUnavailable
from tinyml_cosim.engines.base import EndKind, RunLimits
from tinyml_cosim.engines.registry import create_engine
from tinyml_cosim.engines.renode import RenodeEngine
from tinyml_cosim.engines.renode import engine as renode_engine_mod
from tinyml_cosim.engines.renode.facts import (
    CLI_OPTIONS,
    ERROR_COLOUR,
    MONITOR_MEMBERS,
    PROMPT_COLOUR_MACHINE,
    PROMPT_COLOUR_MONITOR,
    REPL_ATTRIBUTES,
    RESET_COLOUR,
    SEMIHOSTING_SUPPORTED_OPS,
    STM32F4_STOCK,
    TELNET_INIT,
    TOP_LEVEL_COMMANDS,
    UNHANDLED_ACCESS_BEHAVIOURS,
)
from tinyml_cosim.engines.renode.logscan import RenodeLog
from tinyml_cosim.engines.renode.mailbox import (
    MailboxServer,
    hook_file_text,
    hook_one_liner,
    service_request,
)
from tinyml_cosim.engines.renode.monitor import MonitorClient, MonitorError, MonitorTimeout, TelnetFilter, parse_number
from tinyml_cosim.engines.renode.platform import (
    HookSpec,
    overlay_text,
    parsed_run_for_ns,
    plan_overlay,
    resc_text,
    run_for_argument,
    setup_commands,
    time_grain,
)
from tinyml_cosim.engines.renode.robotserver import CONTROL_ENV, connect_control
from tinyml_cosim.engines.renode.robotserver import FACTS as ROBOT_FACTS
from tinyml_cosim.protocol.datachannel import DataService, RateStream
from tinyml_cosim.protocol.frames import (
    HOST_CONFIG_MAGIC,
    MAILBOX_HEADER,
    MAILBOX_IDLE,
    MAILBOX_REPLY,
    MAILBOX_REQUEST,
    ConfigFlag,
    Event,
    Frame,
    FrameType,
    HostConfig,
    Transport,
    decode_frame,
    format_event,
)

F405 = load_board("stm32f405")
F205 = load_board("stm32f205")


# --------------------------------------------------------------------------------------------------------------------
# A tiny .repl reader: entries, their type/registration and attributes (indent mode only, as the overlay uses).
def parse_repl(text: str) -> list[dict]:
    entries: list[dict] = []
    current: dict | None = None
    in_init = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 4 == 0, f"indent must be a multiple of four spaces: {raw!r}"
        body = line.strip()
        if indent == 0:
            in_init = False
            if body.startswith("using "):
                entries.append({"using": body.split('"')[1]})
                continue
            name, _, rest = body.partition(":")
            current = {"name": name, "head": rest.strip(), "attrs": {}, "init": None}
            entries.append(current)
        elif indent == 4:
            assert current is not None
            key, _, value = body.partition(":")
            if key.startswith("init"):
                in_init = True
                current["init"] = {"add": key != "init", "lines": []}
            else:
                in_init = False
                current["attrs"][key.strip()] = value.strip()
        else:
            assert in_init and current is not None
            current["init"]["lines"].append(body)
    return entries


def _int(value: str) -> int:
    return int(value.strip('"'), 0)


class TestOverlay:
    def test_memories_are_datasheet_exact(self) -> None:
        entries = {e["name"]: e for e in parse_repl(overlay_text(F405)) if "name" in e}
        assert _int(entries["flash"]["attrs"]["size"]) == 1024 * 1024 == F405.memory.flash.size
        assert _int(entries["sram"]["attrs"]["size"]) == 128 * 1024 == F405.memory.ram.size
        # CCM is on the datasheet but not in the stock file: declared at its address with its size.
        assert entries["ccm"]["head"] == "Memory.MappedMemory @ sysbus 0x10000000"
        assert _int(entries["ccm"]["attrs"]["size"]) == 64 * 1024
        # The 64-pin part has no FSMC: the stock external-memory bank is unregistered.
        assert entries["fsmcBank1"]["head"] == "@none"
        # The stock sizes really were wrong (otherwise the override would be pointless).
        assert STM32F4_STOCK["flash"].attributes["size"] != F405.memory.flash.size
        assert STM32F4_STOCK["sram"].attributes["size"] != F405.memory.ram.size

    def test_clocks_follow_the_time_model(self) -> None:
        entries = {e["name"]: e for e in parse_repl(overlay_text(F405)) if "name" in e}
        assert entries["nvic"]["attrs"]["systickFrequency"] == "168000000"
        assert entries["timer2"]["attrs"]["frequency"] == "168000000"
        assert entries["timer5"]["attrs"]["frequency"] == "168000000"
        plan = plan_overlay(F405)
        assert plan.timer_names == {"timebase": "timer2", "service": "timer5"}
        assert plan.uart_names == {"console": "usart1", "data": "usart2"}

    def test_no_network_fetch(self) -> None:
        text = overlay_text(F405)
        assert "ApplySVD" not in text
        assert not re.search(r"https?:|@http|dl\.antmicro", text)
        entries = parse_repl(text)
        sysbus = next(e for e in entries if e.get("name") == "sysbus")
        # A plain `init:` replaces the stock init section (the one with the SVD download); `init add:` would keep it.
        assert sysbus["init"] is not None and sysbus["init"]["add"] is False

    def test_every_entry_and_attribute_is_a_known_renode_name(self) -> None:
        entries = parse_repl(overlay_text(F405))
        assert entries[0] == {"using": "platforms/cpus/stm32f4.repl"}
        for e in entries[1:]:
            head = e["head"]
            if head.startswith("Memory.MappedMemory"):
                rtype = "Memory.MappedMemory"
            elif e["name"] == "sysbus":
                rtype = None
            else:
                assert e["name"] in STM32F4_STOCK, f"{e['name']} is not an entry of the stock stm32f4.repl"
                rtype = STM32F4_STOCK[e["name"]].type
            for attr in e["attrs"]:
                assert rtype in REPL_ATTRIBUTES and attr in REPL_ATTRIBUTES[rtype], f"{e['name']}.{attr}"
            if e["init"]:
                for line in e["init"]["lines"]:
                    member, value = line.split()
                    assert member in MONITOR_MEMBERS[e["name"]]
                    assert value in UNHANDLED_ACCESS_BEHAVIOURS

    def test_unsupported_board_is_refused_with_its_reason(self) -> None:
        with pytest.raises(BadInput, match="no STM32F2 platform"):
            create_engine("renode", F205)
        with pytest.raises(BadInput):
            plan_overlay(F205)


class TestCommands:
    def commands(self, tmp_path: Path, **kw: object) -> list[str]:
        return setup_commands(
            F405,
            overlay=tmp_path / "o.repl",
            elf=tmp_path / "fw.elf",
            host_config=(0x20000000, HostConfig(Transport.MAILBOX).words()),
            console_port=4321,
            hook=HookSpec(0x08000400, hook_one_liner(tmp_path / "hook.py")),
            **kw,  # type: ignore[arg-type]
        )

    def test_every_command_is_in_the_facts(self, tmp_path: Path) -> None:
        for cmd in self.commands(tmp_path, gdb_port=3333):
            words = shlex.split(cmd, posix=False)
            if words[0] in TOP_LEVEL_COMMANDS:
                continue
            obj, member = words[0], words[1]
            assert obj in MONITOR_MEMBERS, cmd
            assert member in MONITOR_MEMBERS[obj], cmd

    def test_time_model_and_host_config(self, tmp_path: Path) -> None:
        cmds = self.commands(tmp_path)
        assert "cpu PerformanceInMips 168" in cmds  # an integer: clock_hz / 1e6
        writes = [c for c in cmds if c.startswith("sysbus WriteDoubleWord")]
        assert len(writes) == 8
        assert writes[0] == f"sysbus WriteDoubleWord 0x20000000 0x{HOST_CONFIG_MAGIC:08X}"
        # The ELF is loaded before the host configuration is written over its .cosim_config bytes.
        assert cmds.index("sysbus LoadELF @" + str((tmp_path / "fw.elf").resolve())) < cmds.index(writes[0])
        assert cmds[0] == 'mach create "cosim"'
        assert cmds.index("emulation SetGlobalAdvanceImmediately true") > 1  # after the machine exists

    def test_resc_mirrors_the_commands(self, tmp_path: Path) -> None:
        cmds = self.commands(tmp_path)
        text = resc_text(F405, cmds)
        assert [line for line in text.splitlines() if line and not line.startswith(":")] == cmds

    def test_cli_options_are_in_the_facts(self) -> None:
        robot = renode_engine_mod.renode_argv("renode", 1234, "robot", 1235)
        telnet = renode_engine_mod.renode_argv("renode", 1234, "telnet")
        for argv in (renode_engine_mod.renode_argv("renode", 1234), robot, telnet):
            for opt in argv[1:]:
                if opt.startswith("--"):
                    assert opt in CLI_OPTIONS or opt in ROBOT_FACTS, opt
            assert "--console" not in argv  # it would take precedence over --port
        # The robot server answers; the telnet shell is parked on a port nobody uses (on no port it busy-loops).
        assert robot[-4:] == ["--robot-server-port", "1234", "--port", "1235"]
        assert telnet[-2:] == ["--port", "1234"] and "--robot-server-port" not in telnet

    def test_transport_has_no_semihosting_exit(self) -> None:
        cfg = RenodeEngine(F405).transport()
        assert cfg.transport == Transport.MAILBOX
        assert not cfg.flags & ConfigFlag.SEMIHOSTING_EXIT
        assert 0x20 not in SEMIHOSTING_SUPPORTED_OPS and 0x18 not in SEMIHOSTING_SUPPORTED_OPS


class TestTime:
    def test_grain(self) -> None:
        assert time_grain(168) == 21 and time_grain(120) == 3 and time_grain(100) == 1 and time_grain(72) == 9

    @pytest.mark.parametrize("mips", [168, 120, 72, 100, 216])
    def test_run_for_argument_is_exact_after_renodes_parsing(self, mips: int) -> None:
        grain = time_grain(mips)
        for k in [1, 2, 3, 7, 999, 12345, 47619, 10**6 + 1, 8_000_000, 123_456_789]:
            cycles = k * grain
            ns = parsed_run_for_ns(run_for_argument(cycles, mips))
            assert ns * mips // 1000 == cycles and ns * mips % 1000 == 0, (mips, cycles, ns)

    def test_run_for_rejects_off_grain(self) -> None:
        with pytest.raises(ValueError):
            run_for_argument(20, 168)


# --------------------------------------------------------------------------------------------------------------------
# A fake monitor: the wire behaviour of Renode 1.16.1's --port shell (renode_facts.MONITOR_WIRE).
class FakeRenode:
    control = "telnet"  # the door it listens on: renode --port

    def __init__(self, mips: int = 168, port: int = 0, byte_by_byte: bool = False) -> None:
        self.mips = mips
        self.memory: dict[int, int] = {}
        self.regs = {"PC": 0x08000100, "LR": 0xFFFFFFF9, "SP": 0x2001FF00, "CurrentSP": 0, "OtherSP": 0x2001F000}
        self.xpsr = 0x01000000
        self.cycles = 0
        self.prompt = "monitor"
        self.commands: list[str] = []
        self.on_run_for: Callable[[FakeRenode, int, int], None] | None = None
        self.on_command: Callable[[FakeRenode, str], str | None] | None = None
        self.byte_by_byte = byte_by_byte
        self.quit = threading.Event()
        self._listen(port)

    def _listen(self, port: int) -> None:
        self._srv = socket.create_server(("127.0.0.1", port))
        self.port = self._srv.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _send(self, conn: socket.socket, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        data = data.replace(b"\xff", b"\xff\xff")  # telnet mode doubles 0xFF
        if self.byte_by_byte:
            for i in range(len(data)):  # SocketServerProvider queues byte by byte
                conn.sendall(data[i : i + 1])
        else:
            conn.sendall(data)

    def _prompt(self, conn: socket.socket) -> None:
        colour = PROMPT_COLOUR_MONITOR if self.prompt == "monitor" else PROMPT_COLOUR_MACHINE
        self._send(conn, f"{colour}({self.prompt}) {RESET_COLOUR}")

    def _serve(self) -> None:
        try:
            conn, _ = self._srv.accept()
        except OSError:
            return
        with conn:
            conn.sendall(TELNET_INIT)
            self._send(conn, "\n\r\n\rRenode, version 1.16.1.27453 (3b5a12a8-202602161200)\n\r\n\r")
            self._prompt(conn)
            line = b""
            while not self.quit.is_set():
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                for b in data:
                    ch = bytes([b])
                    if ch == b"\n":
                        self._send(conn, "\n\r")
                        cmd = line.decode()
                        line = b""
                        reply = self.handle(cmd)
                        if reply.startswith("ERROR:"):
                            self._send(conn, f"{ERROR_COLOUR}{reply[6:]}\r\n{RESET_COLOUR}")
                        else:
                            self._send(conn, reply)
                        if self.quit.is_set():
                            return
                        self._prompt(conn)
                    else:
                        line += ch
                        self._send(conn, ch)  # the line editor echoes

    def handle(self, cmd: str) -> str:
        self.commands.append(cmd)
        if self.on_command is not None:
            custom = self.on_command(self, cmd)
            if custom is not None:
                return custom
        words = shlex.split(cmd, posix=False)
        if not words:
            return ""
        # Anything outside the verified facts is "not a command" here, as it would be in Renode.
        if words[0] not in TOP_LEVEL_COMMANDS and (
            words[0] not in MONITOR_MEMBERS or len(words) < 2 or words[1] not in MONITOR_MEMBERS[words[0]]
        ):
            return f"ERROR:No such command or device: {words[0]}"
        if words[0] == "quit":
            self.quit.set()
            return ""
        if words[:2] == ["mach", "create"]:
            self.prompt = words[2].strip('"')
            return ""
        if words[0] == "cpu" and words[1] in self.regs and len(words) == 2:
            return f"0x{self.regs[words[1]]:x}\r\n"  # RegisterValue.ToString()
        if words[:2] == ["cpu", "XProgramStatusRegister"]:
            return f"0x{self.xpsr:08X}\r\n"  # uint
        if words[:2] in (["cpu", "ElapsedCycles"], ["cpu", "ExecutedInstructions"]):
            return f"0x{self.cycles:016X}\r\n"  # ulong
        if words[:2] == ["sysbus", "ReadDoubleWord"]:
            return f"0x{self.memory.get(int(words[2], 16), 0):08X}\r\n"
        if words[:2] == ["sysbus", "WriteDoubleWord"]:
            self.memory[int(words[2], 16)] = int(words[3], 16)
            return ""
        if words[:2] == ["cpu", "Step"]:
            self.cycles += int(words[2]) if len(words) > 2 else 1
            return f"0x{self.regs['PC']:016X}\r\n"
        if words[:2] == ["emulation", "RunFor"]:
            ns = parsed_run_for_ns(words[2])
            before = self.cycles
            self.cycles += ns * self.mips // 1000
            if self.on_run_for is not None:
                self.on_run_for(self, before, self.cycles)
            return ""
        return ""

    def close(self) -> None:
        self.quit.set()
        self._srv.close()


BANNER = "Renode, version 1.16.1.27453 (3b5a12a8-202602161200)"


class _KeepAlive(SimpleXMLRPCRequestHandler):
    protocol_version = "HTTP/1.1"  # as Mono's HttpListener: one connection for many requests


class _XmlRpcServer(ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True  # close() must not wait for a connection the client keeps open
    connections: list[socket.socket]

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        self.connections.append(request)
        super().process_request(request, client_address)


class FakeRobotRenode(FakeRenode):
    """The same fake machine behind the robot server of Renode 1.16.1 (robotserver.FACTS): XML-RPC
    run_keyword("ExecuteCommand", [...]) -> {status, return | error, traceback}, one request at a time."""

    control = "robot"

    def _listen(self, port: int) -> None:
        self.keyword_args: list[list[object]] = []
        self.not_ready = 0  # this many first calls fail as before RenodeKeywords is registered
        self._lock = threading.Lock()  # Renode's listener thread serves one request at a time
        self._xml = _XmlRpcServer(("127.0.0.1", port), requestHandler=_KeepAlive, logRequests=False, allow_none=True)
        self._xml.connections = []
        self._xml.register_function(self._run_keyword, "run_keyword")
        self.port = self._xml.server_address[1]
        self._thread = threading.Thread(target=self._xml.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _run_keyword(self, name: str, args: list[object]) -> dict[str, str]:
        with self._lock:
            if self.not_ready > 0 or name != "ExecuteCommand":
                self.not_ready -= 1
                raise Fault(1, f'Keyword "{name}" not found')
            self.keyword_args.append(list(args))
            command = str(args[0]).removeprefix("command=")
            reply = f"{BANNER}\r\n" if command == "version" else self.handle(command)
            if reply.startswith("ERROR:"):
                return {
                    "status": "FAIL",
                    "error": f"KeywordException: Could not execute command '{command}': {reply[6:]}\n",
                    "traceback": "KeywordException:   at Antmicro.Renode.RobotFramework.RenodeKeywords.ExecuteCommand",
                }
            # AntShell ends lines with "\n\r"; the server sends the carriage returns raw inside the XML.
            return {"status": "PASS", "return": reply.replace("\r\n", "\n\r")}

    def close(self) -> None:
        """As Renode's exit would: the listener and every open connection go."""
        self.quit.set()
        self._xml.shutdown()
        self._xml.server_close()
        for conn in self._xml.connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture(params=["telnet", "robot"])
def fake(request: pytest.FixtureRequest) -> FakeRenode:
    """The fake monitor behind each door the engine can use."""
    f = FakeRobotRenode() if request.param == "robot" else FakeRenode()
    yield f
    f.close()


class TestMonitorProtocol:
    def test_banner_prompt_numbers_and_errors(self) -> None:
        f = FakeRenode(byte_by_byte=True)
        try:
            m = MonitorClient.connect("127.0.0.1", f.port, 5)
            assert "1.16.1" in m.banner and m.prompt == "monitor"
            m.execute('mach create "cosim"')
            assert m.prompt == "cosim"
            f.regs["PC"] = 0x8000ABC
            assert m.number("cpu PC") == 0x8000ABC
            f.cycles = 0x1_0000_00FF  # an 0xFF byte in the stream is doubled by telnet mode
            assert m.number("cpu ElapsedCycles") == 0x1_0000_00FF
            with pytest.raises(MonitorError, match="No such command or device: frobnicate"):
                m.execute("frobnicate now")
            reply = m.execute("frobnicate now", check=False)
            assert reply.errors and reply.output.startswith("No such command")
            m.close()
        finally:
            f.close()

    def test_timeout_when_no_prompt(self, fake: FakeRenode) -> None:
        fake.on_command = lambda f, cmd: (time.sleep(1.0), "")[1] if cmd == "slow" else None
        m = connect_control(fake.control, "127.0.0.1", fake.port, 5)
        with pytest.raises(MonitorTimeout):
            m.execute("slow", timeout=0.2)
        m.close()

    def test_telnet_filter_across_chunks(self) -> None:
        t = TelnetFilter()
        data = TELNET_INIT + b"ab\xff\xffc"
        out = b"".join(t.feed(data[i : i + 1]) for i in range(len(data)))
        assert out == b"ab\xffc"

    def test_number_formats(self) -> None:
        assert parse_number("0x0000000000001234\n") == 0x1234
        assert parse_number("0x8000abc") == 0x8000ABC
        assert parse_number("0x10 (16)") == 16
        with pytest.raises(MonitorError):
            parse_number("There was an error")


# --------------------------------------------------------------------------------------------------------------------
class FakeBus:
    """machine.SystemBus as the hook sees it: ReadDoubleWord/ReadBytes/WriteDoubleWord/WriteByte."""

    def __init__(self, base: int, size: int) -> None:
        self.base, self.mem = base, bytearray(size)

    def ReadDoubleWord(self, a: int) -> int:
        return int.from_bytes(self.mem[a - self.base : a - self.base + 4], "little")

    def ReadBytes(self, a: int, n: int) -> list[int]:
        return list(self.mem[a - self.base : a - self.base + n])  # .NET byte[] iterates as ints

    def WriteDoubleWord(self, a: int, v: int) -> None:
        self.mem[a - self.base : a - self.base + 4] = v.to_bytes(4, "little")

    def WriteByte(self, a: int, v: int) -> None:
        self.mem[a - self.base] = v


class FakeMachine:
    def __init__(self, bus: FakeBus) -> None:
        self.SystemBus = bus


def _run_hook(tmp_path: Path, bus: FakeBus, mailbox: int, port: int, scope: dict) -> None:
    path = tmp_path / "hook.py"
    path.write_text(hook_file_text(mailbox, port))
    if "execfile" not in scope:
        # Python 2's execfile, as IronPython provides it: run the file in the caller's globals.
        scope["execfile"] = lambda p: exec(compile(Path(p).read_text(), p, "exec"), scope)
        scope["machine"] = FakeMachine(bus)
    exec(hook_one_liner(path), scope)


class TestMailbox:
    def test_service_request(self) -> None:
        data = DataService()
        hello = Frame(FrameType.HELLO, 100, struct.pack("<HH", 1, 0) + b"fw").encode()
        reply = decode_frame(service_request(data, hello, 256))
        assert reply.type == FrameType.HELLO_ACK and reply.instructions == 100
        bad = bytearray(hello)
        bad[-1] ^= 0xFF
        err = decode_frame(service_request(data, bytes(bad), 256))
        assert err.type == FrameType.ERROR and b"CRC" in err.payload

    def test_reply_never_exceeds_capacity(self) -> None:
        stream = RateStream(bytes(4000), sample_bytes=4, rate_hz=1_000_000, clock_hz=168_000_000)
        data = DataService(streams={0: stream})
        read = Frame(FrameType.READ, 10_000_000, struct.pack("<HHI", 0, 0, 4000)).encode()
        raw = service_request(data, read, 128)
        assert len(raw) <= 128
        reply = decode_frame(raw)
        # A READ larger than the mailbox gets what fits (whole samples), not an error.
        assert reply.type == FrameType.DATA
        count = struct.unpack_from("<HHIQI", reply.payload)[2]
        assert count == 88 and count % 4 == 0

    def test_hook_services_a_request_in_memory(self, tmp_path: Path) -> None:
        base, capacity = 0x20001000, 256
        bus = FakeBus(base, MAILBOX_HEADER.size + 2 * capacity)
        server = MailboxServer(DataService())
        try:
            scope: dict = {}
            # Idle mailbox: the doorbell does nothing.
            bus.mem[:16] = MAILBOX_HEADER.pack(MAILBOX_IDLE, 0, 0, capacity)
            _run_hook(tmp_path, bus, base, server.port, scope)
            assert server.requests == 0 and bus.ReadDoubleWord(base) == MAILBOX_IDLE
            for n, name in enumerate([b"fw", b"firmware-3"], start=1):
                req = Frame(FrameType.HELLO, 1234 * n, struct.pack("<HH", 1, 0) + name).encode()
                bus.mem[:16] = MAILBOX_HEADER.pack(MAILBOX_REQUEST, len(req), 0, capacity)
                bus.mem[16 : 16 + len(req)] = req
                _run_hook(tmp_path, bus, base, server.port, scope)
                state, _, reply_len, _ = MAILBOX_HEADER.unpack_from(bus.mem)
                assert state == MAILBOX_REPLY
                out = 16 + capacity
                reply = decode_frame(bytes(bus.mem[out : out + reply_len]))
                assert reply.type == FrameType.HELLO_ACK and reply.instructions == 1234 * n
                assert server.requests == n
                assert server.data.stats.firmware_name == name.decode()
        finally:
            server.close()

    def test_one_liner_fits_a_monitor_string(self, tmp_path: Path) -> None:
        line = hook_one_liner(tmp_path / "hook.py")
        assert '"' not in line and "\n" not in line
        with pytest.raises(ValueError):
            hook_one_liner(Path("/tmp/it's.py"))


# --------------------------------------------------------------------------------------------------------------------
# Log lines exactly as Renode 1.16.1 formats them (renode_facts.LOG_FORMATS).
OOB_READ = "12:00:01.2345 [WARNING] sysbus: [cpu: 0x8000ABC] ReadDoubleWord from non existing peripheral at 0x30000000."
OOB_WRITE = (
    "12:00:01.2345 [WARNING] sysbus: [cpu: 0x8000AC0] WriteByte to non existing peripheral at 0x90000000, value 0x5."
)
PERIPH_READ = (
    "12:00:01.2345 [WARNING] sysbus: [cpu: 0x8000B00] ReadDoubleWord from non existing peripheral at 0x40013800. (3)"
)
MONITOR_READ = "12:00:01.2345 [WARNING] sysbus: ReadDoubleWord from non existing peripheral at 0x30000000."
TAGGED = (
    "12:00:01.2345 [WARNING] sysbus: [cpu: 0x8000B00] (tag: 'USB:RESET') ReadDoubleWord from non existing "
    "peripheral at 0x50000010, returning 0x80000000."
)
ABORT = "12:00:01.2345 [ERROR] cpu: CPU abort [PC=0x30000000]: Trying to execute code outside RAM or ROM at 0x30000000."
UNHANDLED = "12:00:01.2345 [WARNING] rcc: Unhandled read from offset 0x0."


class TestLogClassification:
    def test_out_of_bounds_read_and_write(self) -> None:
        log = RenodeLog("platforms/cpus/stm32f4.repl")
        log.feed(OOB_READ)
        log.feed(OOB_WRITE)
        first = log.first_out_of_bounds()
        assert first is not None and first.address == 0x30000000 and first.pc == 0x8000ABC and not first.write
        assert log.out_of_bounds[1].write and log.out_of_bounds[1].size == 1

    def test_not_out_of_bounds(self) -> None:
        log = RenodeLog("platforms/cpus/stm32f4.repl")
        for line in (PERIPH_READ, MONITOR_READ, TAGGED, "12:00:01.2345 [INFO] cpu: Setting PC value to 0x8000189."):
            log.feed(line)
        assert log.first_out_of_bounds() is None
        assert log.unmodelled[0].address == 0x40013800  # SYSCFG: a peripheral the stock file lacks

    def test_execute_outside_memory(self) -> None:
        log = RenodeLog("platforms/cpus/stm32f4.repl")
        log.feed(ABORT)
        bad = log.first_out_of_bounds()
        assert bad is not None and bad.execute and bad.address == 0x30000000

    def test_polled_register(self) -> None:
        log = RenodeLog("platforms/cpus/stm32f4.repl")
        mark = log.mark()
        for _ in range(3):
            log.feed(UNHANDLED)
        log.feed(PERIPH_READ)
        assert log.most_polled_since(mark) == 0x40023800  # RCC_CR (rcc base + 0)


# --------------------------------------------------------------------------------------------------------------------
def _engine_on(fake: FakeRenode, tmp_path: Path, proc: subprocess.Popen[bytes]) -> RenodeEngine:
    """An engine wired to the fake monitor, with a harmless real process standing in for Renode."""
    eng = RenodeEngine(F405, tmp_path)
    eng._monitor = connect_control(fake.control, "127.0.0.1", fake.port, 5)
    eng._monitor_usable = True
    eng._proc = proc
    return eng


@pytest.fixture
def stand_in() -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


class TestEndings:
    def test_exit_event(self, fake: FakeRenode, tmp_path: Path, stand_in: subprocess.Popen[bytes]) -> None:
        eng = _engine_on(fake, tmp_path, stand_in)

        def run_for(f: FakeRenode, before: int, after: int) -> None:
            if before < 3_000_000 <= after:
                eng.console.feed(b"hello\r\n" + format_event(Event("EXIT", 3_000_123, {"code": "7"})).encode() + b"\n")

        fake.on_run_for = run_for
        with eng:
            ending = eng.run(RunLimits(max_instructions=50_000_000))
        assert ending.kind == EndKind.EXITED and ending.exit_code == 7 and ending.instructions == 3_000_123
        # TIM2 moves in 21-instruction grains at 168 MIPS and a read sees the count at its block start (<= 64).
        assert ending.instructions_precision == RenodeEngine.event_count_precision(F405) == 20 + 63
        assert stand_in.poll() is not None  # close() killed the process group

    def test_budget_stops_on_the_instruction(self, fake: FakeRenode, tmp_path: Path, stand_in) -> None:
        """Whole time grains by RunFor while they fit, halving the distance; the last instructions by `cpu Step`."""
        with _engine_on(fake, tmp_path, stand_in) as eng:
            ending = eng.run(RunLimits(max_instructions=1_000_003))
        assert ending.kind == EndKind.BUDGET and ending.instructions_exact
        assert ending.instructions == 1_000_003 and ending.instructions_precision == 0
        runs = [c for c in fake.commands if c.startswith("emulation RunFor")]
        assert runs and all(parsed_run_for_ns(c.split()[2]) * 168 % 1000 == 0 for c in runs)
        steps = [int(c.split()[2]) for c in fake.commands if c.startswith("cpu Step")]
        assert steps and sum(steps) <= RenodeEngine.step_below

    def test_stall(self, fake: FakeRenode, tmp_path: Path, stand_in) -> None:
        eng = _engine_on(fake, tmp_path, stand_in)
        fake.on_run_for = lambda f, b, a: eng.log.feed(UNHANDLED)
        with eng:
            ending = eng.run(RunLimits(hang_instructions=500_000))
        assert ending.kind == EndKind.STALLED and ending.instructions >= 500_000
        assert len(ending.pc_samples) == RenodeEngine.stall_samples
        assert ending.polled_address == 0x40023800
        assert ending.cpu is not None and ending.cpu.pc == fake.regs["PC"] and ending.stacked is None
        assert ending.faults.hfsr is None and ending.faults.bfar is None  # not modelled by Renode's NVIC

    def test_stall_in_handler_unwinds_the_stack(self, fake: FakeRenode, tmp_path: Path, stand_in) -> None:
        fake.xpsr = 0x01000003  # HardFault active
        fake.regs["LR"] = 0xFFFFFFFD  # return to thread mode on the process stack
        fake.regs["OtherSP"] = psp = 0x2001E000
        frame = [0, 1, 2, 3, 12, 0x08000111, 0x08000222, 0x21000000]
        for i, w in enumerate(frame):
            fake.memory[psp + 4 * i] = w
        with _engine_on(fake, tmp_path, stand_in) as eng:
            ending = eng.run(RunLimits(hang_instructions=200_000))
        assert ending.stacked is not None and ending.stacked.pc == 0x08000222 and ending.stacked.sp == psp

    def test_out_of_bounds(self, fake: FakeRenode, tmp_path: Path, stand_in) -> None:
        eng = _engine_on(fake, tmp_path, stand_in)
        fake.on_run_for = lambda f, b, a: eng.log.feed(OOB_READ) if a > 2_000_000 else None
        with eng:
            ending = eng.run(RunLimits(max_instructions=10_000_000))
        assert ending.kind == EndKind.OUT_OF_BOUNDS and ending.bad_address == 0x30000000
        assert ending.cpu is not None and ending.cpu.pc == 0x8000ABC  # the accessing instruction, from the log
        assert "0x30000000" in ending.message

    def test_crash(self, fake: FakeRenode, tmp_path: Path) -> None:
        proc = subprocess.Popen(["true"], start_new_session=True)
        proc.wait()
        with _engine_on(fake, tmp_path, proc) as eng:
            ending = eng.run(RunLimits(max_instructions=10_000_000))
        assert ending.kind == EndKind.CRASH and "exited with status 0" in ending.message

    def test_wall_timeout(self, fake: FakeRenode, tmp_path: Path, stand_in) -> None:
        fake.on_run_for = lambda f, b, a: time.sleep(0.05)
        with _engine_on(fake, tmp_path, stand_in) as eng:
            ending = eng.run(RunLimits(timeout_s=0.3))
        assert ending.kind == EndKind.TIMEOUT and ending.cpu is not None


# --------------------------------------------------------------------------------------------------------------------
FAKE_RENODE = """\
#!{python}
# A stand-in for the `renode` launcher: the fake monitor from the test module, on the --port it is given.
import socket, sys, threading
sys.path[:0] = [{tests!r}, {root!r}]
import test_renode_engine as t

argv = sys.argv[1:]
assert "--disable-xwt" in argv and "--console" not in argv, argv
print("12:00:00.0000 [INFO] Loaded monitor commands from: scripts/monitor.py", flush=True)
if "--robot-server-port" in argv:
    assert "--port" in argv, argv  # the idle telnet shell
    fake = t.FakeRobotRenode(port=int(argv[argv.index("--robot-server-port") + 1]))
else:
    fake = t.FakeRenode(port=int(argv[argv.index("--port") + 1]))
console = {{}}

def on_command(f, cmd):
    words = cmd.split()
    if words[:2] == ["emulation", "CreateServerSocketTerminal"]:
        console["srv"] = socket.create_server(("127.0.0.1", int(words[2])))
        def accept():
            console["conn"], _ = console["srv"].accept()
        threading.Thread(target=accept, daemon=True).start()
    return None

def on_run_for(f, before, after):
    if before == 0:
        line = t.format_event(t.Event("EXIT", 4242, {{"code": "0"}})).encode()
        console["conn"].sendall(b"boot\\r\\n" + line + b"\\n")

fake.on_command = on_command
fake.on_run_for = on_run_for
fake.quit.wait()
"""


class TestLifecycle:
    def test_unavailable_when_renode_missing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("COSIM_RENODE", raising=False)
        monkeypatch.setattr(renode_engine_mod, "which", lambda name: None)
        assert RenodeEngine.unavailable_reason(F405) == renode_engine_mod.NOT_FOUND
        with pytest.raises(EngineUnavailable, match=r"renode not found on PATH; install Renode 1\.16"):
            create_engine("renode", F405)

    @pytest.mark.parametrize("control", ["", "robot", "telnet"])
    def test_start_run_close_with_a_fake_renode(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, control: str
    ) -> None:
        from tinyml_cosim.elf.image import FirmwareImage, LoadedSection

        monkeypatch.setenv(CONTROL_ENV, control)  # "": the default, the robot server

        script = tmp_path / "bin" / "renode"
        script.parent.mkdir()
        here = Path(__file__).resolve().parent
        script.write_text(FAKE_RENODE.format(python=sys.executable, tests=str(here), root=str(here.parent)))
        script.chmod(0o755)
        monkeypatch.setenv("COSIM_RENODE", str(script))
        assert RenodeEngine.unavailable_reason(F405) is None
        elf = tmp_path / "fw.elf"
        elf.write_bytes(b"\x7fELF")
        image = FirmwareImage(
            path=elf,
            sha256="0",
            entry=0x08000189,
            sections=[LoadedSection(".text", 0x08000000, 0x08000000, 0x1000, False, True)],
            symbols={
                "cosim_host_config": (0x20000000, 32),
                "cosim_mailbox": (0x20000100, 16 + 512),
                "cosim_mailbox_doorbell": (0x08000400, 4),
            },
        )
        work = tmp_path / "work"
        eng = create_engine("renode", F405, work)
        with eng:
            eng.start(image, eng.transport(), data=DataService())
            proc = eng._proc
            assert proc is not None
            assert eng.version() == "1.16.1"
            assert (work / "cosim.resc").is_file() and (work / "stm32f405-cosim.repl").is_file()
            assert "cosim_ring" in (work / "cosim_mailbox_hook.py").read_text()
            ending = eng.run(RunLimits(max_instructions=100_000_000, timeout_s=30))
            assert ending.kind == EndKind.EXITED and ending.instructions == 4242
            assert eng.console.lines()[0] == "boot"
        assert proc.poll() is not None
        assert "Loaded monitor commands" in (work / "renode.log").read_text()


# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.renode
@pytest.mark.skipif(renode_engine_mod.renode_binary() is None, reason="renode not on PATH")
class TestLiveRenode:
    """Runs a real firmware ELF in a real Renode: COSIM_RENODE_ELF (a firmware built for stm32f405), else the demo."""

    def test_firmware_reaches_its_exit_event(self, tmp_path: Path) -> None:
        from tinyml_cosim.build.firmware import build
        from tinyml_cosim.elf.image import load_image

        elf = os.environ.get("COSIM_RENODE_ELF") or build(F405, "demo").elf
        image = load_image(Path(elf), F405)
        with create_engine("renode", F405, tmp_path) as eng:
            eng.start(image, eng.transport(), data=DataService())
            ending = eng.run(RunLimits(max_instructions=2_000_000_000, timeout_s=300))
        assert ending.kind == EndKind.EXITED, (ending, eng.log.summary())
        assert eng.console.first_event("EXIT") is not None
