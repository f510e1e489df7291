"""The robot server client (engines/renode/robotserver.py) against an in-process XML-RPC fake of Renode 1.16.1's
robot server (test_renode_engine.FakeRobotRenode), side by side with the telnet client on the same fake machine;
the error texts are the ones a real Renode 1.16.1 returned. A live class compares both doors on a real Renode.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest
from test_renode_engine import BANNER, F405, FakeRenode, FakeRobotRenode

from tinyml_cosim.core.errors import BadInput, EngineError
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.base import EndKind, RunLimits
from tinyml_cosim.engines.launcher import free_port
from tinyml_cosim.engines.registry import create_engine
from tinyml_cosim.engines.renode import RenodeEngine
from tinyml_cosim.engines.renode import engine as renode_engine_mod
from tinyml_cosim.engines.renode.monitor import MonitorChannel, MonitorError, MonitorTimeout, parse_number
from tinyml_cosim.engines.renode.platform import overlay_text
from tinyml_cosim.engines.renode.robotserver import (
    CONTROL_ENV,
    RobotServerClient,
    connect_control,
    control_argv,
    control_channel,
    keyword_errors,
)
from tinyml_cosim.protocol.datachannel import DataService

# What Renode 1.16.1 (d66b0c2a) put in `error` for these commands, copied from a live run.
NO_SUCH_MEMBER = (
    "KeywordException: Could not execute command 'cpu NoSuchThing': There was an error executing command "
    "'cpu NoSuchThing'sysbus.cpu does not provide a field, method or property NoSuchThing.\n"
)
NO_SUCH_COMMAND = (
    "KeywordException: Could not execute command 'frobnicate now': No such command or device: frobnicate\n"
)
MULTILINE = "The following methods are available:\r\n - UInt32 ReadDoubleWord (UInt64 address)\r\n\r\nUsage:\r\n"


@pytest.fixture
def robot() -> FakeRobotRenode:
    f = FakeRobotRenode()
    yield f
    f.close()


class TestChoice:
    def test_default_is_the_robot_server(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(CONTROL_ENV, raising=False)
        assert control_channel() == "robot"
        monkeypatch.setenv(CONTROL_ENV, " Telnet ")
        assert control_channel() == "telnet"

    def test_bad_value_names_the_variable_and_the_choices(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(CONTROL_ENV, "xmlrpc")
        with pytest.raises(BadInput, match=r"COSIM_RENODE_CONTROL='xmlrpc': expected 'robot' .* or 'telnet'"):
            control_channel()

    def test_bad_value_is_refused_before_renode_starts(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(CONTROL_ENV, "gdb")
        eng = RenodeEngine(F405, tmp_path)
        with pytest.raises(BadInput):
            eng._spawn("/bin/false", 1)
        assert eng._proc is None

    def test_argv(self) -> None:
        assert control_argv("telnet", 10) == ["--port", "10"]
        assert control_argv("robot", 10) == ["--robot-server-port", "10"]
        assert control_argv("robot", 10, 11) == ["--robot-server-port", "10", "--port", "11"]


class TestProtocol:
    def test_banner_numbers_and_the_wire_form(self, robot: FakeRobotRenode) -> None:
        m = RobotServerClient.connect("127.0.0.1", robot.port, 5)
        assert m.banner == BANNER
        m.execute('mach create "cosim"')
        robot.regs["PC"] = 0x8000ABC
        assert m.number("cpu PC") == 0x8000ABC
        robot.cycles = 0x1_0000_00FF
        assert m.number("cpu ElapsedCycles") == 0x1_0000_00FF
        robot.memory[0x20000000] = 0xC0517E57
        assert m.number("sysbus ReadDoubleWord 0x20000000") == 0xC0517E57
        # A named argument: `a=b` must not be taken for one, and the string overload is the one picked.
        robot.on_command = lambda f, cmd: "" if cmd == "a=b" else None
        m.execute("a=b")
        assert robot.keyword_args[-1] == ["command=a=b"]
        assert robot.commands[-1] == "a=b"
        assert m.transcript[-1] == "a=b -> ''"
        m.close()

    def test_output_equals_the_telnet_clients(self) -> None:
        """The same fake machine behind both doors gives the same output for every command."""
        commands = [
            'mach create "cosim"',
            "cpu PC",
            "cpu XProgramStatusRegister",
            "sysbus ReadDoubleWord 0x20000004",
            "cpu ExecutedInstructions",
            'emulation RunFor "0.0001"',
            "cpu ElapsedCycles",
            "multi",
            "frobnicate now",
        ]
        outputs = {}
        for fake_type in (FakeRenode, FakeRobotRenode):
            f = fake_type()
            f.memory[0x20000004] = 0x08000189
            f.on_command = lambda f, cmd: MULTILINE if cmd == "multi" else None
            try:
                m = connect_control(f.control, "127.0.0.1", f.port, 5)  # type: ignore[arg-type]
                outputs[f.control] = [(r.output, r.errors) for r in (m.execute(c, check=False) for c in commands)]
                m.close()
            finally:
                f.close()
        assert outputs["robot"] == outputs["telnet"]
        assert outputs["robot"][7][0] == MULTILINE.replace("\r", "").strip("\n")  # one line break per line
        assert outputs["robot"][5][0] == "" and int(outputs["robot"][6][0], 16) == 16_800  # 100 us at 168 MIPS

    def test_errors(self, robot: FakeRobotRenode) -> None:
        m = RobotServerClient.connect("127.0.0.1", robot.port, 5)
        with pytest.raises(
            MonitorError, match="Renode refused `frobnicate now`: No such command or device: frobnicate"
        ):
            m.execute("frobnicate now")
        reply = m.execute("frobnicate now", check=False)
        assert reply.errors == ["No such command or device: frobnicate"] and not reply.ok
        assert m.number("cpu PC") == robot.regs["PC"]  # a refused command leaves the client usable
        m.close()

    def test_keyword_errors_from_a_real_renode(self) -> None:
        assert keyword_errors("cpu NoSuchThing", NO_SUCH_MEMBER) == [
            "There was an error executing command 'cpu NoSuchThing'",  # what the telnet client reports
            "sysbus.cpu does not provide a field, method or property NoSuchThing.",
        ]
        assert keyword_errors("frobnicate now", NO_SUCH_COMMAND) == ["No such command or device: frobnicate"]
        wrapped = "KeywordException: There was an error when executing command 'x': Bad parameters for command x\n"
        assert keyword_errors("x", wrapped) == ["Bad parameters for command x"]

    def test_unknown_keyword_is_an_engine_error(self, robot: FakeRobotRenode) -> None:
        m = RobotServerClient.connect("127.0.0.1", robot.port, 5)
        robot.not_ready = 1
        with pytest.raises(EngineError, match='refused ExecuteCommand: Keyword "ExecuteCommand" not found') as info:
            m.execute("cpu PC")
        assert not isinstance(info.value, MonitorError)
        assert m.number("cpu PC") == robot.regs["PC"]
        m.close()


class TestFailures:
    def test_timeout_leaves_the_client_unusable(self, robot: FakeRobotRenode) -> None:
        robot.on_command = lambda f, cmd: (time.sleep(1.0), "")[1] if cmd == "slow" else None
        m = RobotServerClient.connect("127.0.0.1", robot.port, 5)
        with pytest.raises(MonitorTimeout, match=r"did not finish 'slow' in 0\.2 s"):
            m.execute("slow", timeout=0.2)
        with pytest.raises(EngineError, match=r"unusable: 'slow' did not return in 0\.2 s") as info:
            m.execute("cpu PC")
        assert not isinstance(info.value, MonitorTimeout)
        m.close()

    def test_dead_process_is_reported_at_once(self) -> None:
        port = free_port()  # nothing listens there
        with pytest.raises(EngineError, match="renode exited before its robot server answered"):
            RobotServerClient.connect("127.0.0.1", port, 30, alive=lambda: False)

    def test_process_dying_while_starting(self) -> None:
        port, checks = free_port(), []

        def alive() -> bool:
            checks.append(1)
            return len(checks) < 4

        with pytest.raises(EngineError, match="exited before"):
            RobotServerClient.connect("127.0.0.1", port, 30, alive=alive, interval=0.01)
        assert len(checks) == 4  # it kept trying while the process lived

    def test_nobody_answering_in_time(self) -> None:
        with pytest.raises(
            EngineError, match=r"could not reach the Renode robot server on 127\.0\.0\.1:\d+ within 0 s"
        ):
            RobotServerClient.connect("127.0.0.1", free_port(), 0.3, interval=0.05)

    def test_waits_for_the_port_and_the_keywords(self) -> None:
        port, box = free_port(), {}

        def late() -> None:
            time.sleep(0.3)
            box["fake"] = f = FakeRobotRenode(port=port)
            f.not_ready = 2  # listening, but RenodeKeywords not registered yet

        t = threading.Thread(target=late)
        t.start()
        try:
            m = RobotServerClient.connect("127.0.0.1", port, 10, alive=lambda: True, interval=0.05)
            assert m.banner == BANNER
            assert box["fake"].keyword_args == [["command=version"]]
            m.close()
        finally:
            t.join()
            box["fake"].close()

    def test_lost_connection(self, robot: FakeRobotRenode) -> None:
        m = RobotServerClient.connect("127.0.0.1", robot.port, 5)
        robot.close()
        with pytest.raises(EngineError, match="lost the Renode robot server connection") as info:
            m.execute("cpu PC", timeout=2)
        assert not isinstance(info.value, (MonitorError, MonitorTimeout))
        with pytest.raises(EngineError, match="unusable"):
            m.execute("cpu PC")

    def test_quit_as_the_engine_sends_it(self, robot: FakeRobotRenode) -> None:
        m = RobotServerClient.connect("127.0.0.1", robot.port, 5)
        m.execute("quit", timeout=2.0, check=False)
        assert robot.quit.is_set()
        m.close()
        with pytest.raises(EngineError, match="unusable: closed"):
            m.execute("cpu PC")


# --------------------------------------------------------------------------------------------------------------------
def _live_renode(tmp_path: Path, control: str, monkeypatch: pytest.MonkeyPatch) -> tuple[RenodeEngine, MonitorChannel]:
    """A real Renode started the engine's way (_spawn: argv, launcher, private TMPDIR, log reader), then connected."""
    monkeypatch.setenv(CONTROL_ENV, control)
    eng = RenodeEngine(F405, tmp_path / control)
    eng.workdir.mkdir(parents=True)
    binary = renode_engine_mod.renode_binary()
    assert binary is not None
    port = free_port()
    eng._spawn(binary, port)
    proc = eng._proc
    assert proc is not None and eng._control == control
    return eng, connect_control(eng._control, "127.0.0.1", port, 120, alive=lambda: proc.poll() is None)


LIVE_COMMANDS = [
    "version",
    'mach create "cosim"',
    "machine LoadPlatformDescription @{overlay}",
    "cpu PC",
    "sysbus ReadDoubleWord 0x20000000",
    "sysbus WriteDoubleWord 0x20000000 0xC0517E57",
    "sysbus ReadDoubleWord 0x20000000",
    "cpu ExecutedInstructions",
    'emulation RunFor "0.0001"',
    "cpu ElapsedCycles",
    "cpu XProgramStatusRegister",
    "cpu NoSuchThing",
    "frobnicate now",
    "help version",
]


@pytest.mark.renode
@pytest.mark.skipif(renode_engine_mod.renode_binary() is None, reason="renode not on PATH")
class TestLiveRenode:
    def test_both_doors_answer_alike(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        overlay = tmp_path / "board.repl"
        overlay.write_text(overlay_text(F405))
        replies: dict[str, list[tuple[str, list[str]]]] = {}
        for control in ("robot", "telnet"):
            eng, client = _live_renode(tmp_path, control, monkeypatch)
            try:
                assert "1.16" in client.banner
                replies[control] = [
                    (r.output, r.errors[:1])
                    for r in (client.execute(c.format(overlay=overlay), 120, check=False) for c in LIVE_COMMANDS)
                ]
                # The robot client's message also carries the exception's text (telnet: only its first, red line).
                detail = "does not provide a field, method or property NoSuchThing" if control == "robot" else ""
                with pytest.raises(
                    MonitorError, match=f"There was an error executing command 'cpu NoSuchThing'.*{detail}"
                ):
                    client.execute("cpu NoSuchThing")
                with contextlib.suppress(EngineError):  # telnet: Renode closes the socket as it quits
                    client.execute("quit", 5, check=False)
                client.close()
                proc = eng._proc
                assert proc is not None
                assert proc.wait(timeout=30) == 0  # `quit` ends Renode through either door
            finally:
                eng.close()
        robot, telnet = replies["robot"], replies["telnet"]
        assert robot == telnet
        assert robot[0][0] == client.banner and robot[6][0] == "0xC0517E57" and robot[8][0] == ""
        assert parse_number(robot[7][0]) == 0  # the stock CPU halts at once: PC 0 is not in memory
        # The robot server's dummy-free start: Renode logged both the server and the parked telnet shell.
        log = (tmp_path / "robot" / "renode.log").read_text()
        assert "Robot Framework remote server is listening on port" in log
        assert "Monitor available in telnet mode on port" in log

    def test_firmware_run_is_the_same_through_both_doors(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from tinyml_cosim.build.firmware import build

        image = load_image(build(F405, "bench_trivial", mailbox=True).elf, F405)
        endings = {}
        for control in ("robot", "telnet"):
            monkeypatch.setenv(CONTROL_ENV, control)
            with create_engine("renode", F405, tmp_path / control) as eng:
                eng.start(image, eng.transport(), data=DataService())
                endings[control] = eng.run(RunLimits(max_instructions=50_000_000, timeout_s=120))
        assert endings["robot"].kind == EndKind.EXITED, endings["robot"]
        assert (endings["robot"].kind, endings["robot"].instructions, endings["robot"].exit_code) == (
            endings["telnet"].kind,
            endings["telnet"].instructions,
            endings["telnet"].exit_code,
        )
