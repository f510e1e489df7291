"""Untrusted firmware cannot touch the host (issue #18): QEMU's seccomp filter and the mount namespace around it
(engines/qemu/sandbox.py), and the refusals of the project's own semihosting for Renode (engines/renode/semihosting.py).

The hostile firmware (tests/firmware/foreign/semihosting_hostile) attacks a directory the test makes outside the run
and patches into its ELF: it creates, reads, removes and renames files there and asks the host to run `touch`."""

from __future__ import annotations

import errno
import secrets
import struct
import subprocess
from pathlib import Path

import psutil
import pytest
from cosim_testing import needs_qemu
from foreign import build_foreign
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.engines import launcher
from tinyml_cosim.engines.qemu import plugin, sandbox
from tinyml_cosim.engines.renode.semihosting import Semihosting
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware

PLACEHOLDER = b"@@COSIM-HOSTILE-DIR@@"
DIR_CAPACITY = 200  # char HOSTILE_DIR[200] in main.c
CONFINED = sandbox.namespace_tool()
needs_namespace = pytest.mark.skipif(isinstance(CONFINED, str), reason=f"no mount namespace here: {CONFINED}")


class Target:
    """The host directory the firmware attacks, with what the test put there."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "host"
        self.dir.mkdir()
        self.secret = f"TOPSECRET-{secrets.token_hex(6)}"
        (self.dir / "secret").write_text(self.secret + "\n")
        (self.dir / "victim").write_text("keep me\n")
        (self.dir / "victim2").write_text("keep me too\n")

    def names(self) -> set[str]:
        return {p.name for p in self.dir.iterdir()}


def hostile_elf(tmp_path: Path, target: Target) -> Path:
    """The hostile firmware with `target.dir` written into its HOSTILE_DIR buffer."""
    image = build_foreign("semihosting_hostile").read_bytes()
    assert image.count(PLACEHOLDER) == 1
    path = str(target.dir).encode()
    assert len(path) < DIR_CAPACITY, path
    at = image.index(PLACEHOLDER)
    elf = tmp_path / "hostile.elf"
    elf.write_bytes(image[:at] + path.ljust(DIR_CAPACITY, b"\0") + image[at + DIR_CAPACITY :])
    return elf


def run(elf: Path) -> RunRecord:
    return run_firmware(RunRequest(elf=elf, board="stm32f405", engine="qemu", timeout_s=60))


def answers(rec: RunRecord) -> dict[str, str]:
    """`hostile: <call> <result>` console lines as {call: result}."""
    lines = [ln.removeprefix("hostile: ") for ln in rec.console_tail if ln.startswith("hostile: ")]
    return dict(ln.split(" ", 1) for ln in lines)


def assert_system_refused(rec: RunRecord, target: Target) -> None:
    assert "system-marker" not in target.names()
    assert "system" not in answers(rec)  # QEMU did not survive the call to print its answer
    assert rec.status is Status.FAULT  # the firmware's doing: a failed run, not an engine error
    assert "SYS_SYSTEM" in rec.diagnosis and "seccomp" in rec.diagnosis, rec.diagnosis
    assert not launcher._live  # no QEMU left, and no process of any kind still holding the ELF
    elf = str(target.dir.parent / "hostile.elf")
    assert not [p.pid for p in psutil.process_iter(["cmdline"]) if elf in " ".join(p.info["cmdline"] or [])]


# --- QEMU ------------------------------------------------------------------------------------------------------
@needs_qemu
@needs_namespace
def test_hostile_firmware_gets_refusals_and_nothing_happens_on_the_host(tmp_path: Path) -> None:
    target = Target(tmp_path)
    rec = run(hostile_elf(tmp_path, target))
    said = answers(rec)
    assert said["open-write"] == "-1" and said["remove"] == "-1" and said["rename"] == "-1", rec.console_tail
    assert said["open-read"].split(" ")[0] == "-1"
    assert not any(target.secret in ln for ln in rec.console_tail)
    assert target.names() == {"secret", "victim", "victim2"}  # nothing created, removed or renamed
    assert (target.dir / "victim").read_text() == "keep me\n"
    assert_system_refused(rec, target)
    assert "not confined" not in rec.diagnosis


@needs_qemu
def test_the_opt_out_gives_host_files_but_never_a_shell(tmp_path: Path, monkeypatch) -> None:
    """COSIM_SEMIHOSTING_HOST_FILES=1: the same firmware really reaches the host's files (so the test above can
    fail), the run says so, and SYS_SYSTEM is still refused."""
    monkeypatch.setenv(sandbox.HOST_FILES_ENV, "1")
    target = Target(tmp_path)
    rec = run(hostile_elf(tmp_path, target))
    said = answers(rec)
    assert said["open-write"] != "-1" and said["remove"] == "0" and said["rename"] == "0", rec.console_tail
    assert target.secret in said["open-read"]
    assert target.names() == {"secret", "created", "renamed"}
    assert "semihosting file access is not confined: COSIM_SEMIHOSTING_HOST_FILES=1" in rec.diagnosis
    assert_system_refused(rec, target)


@needs_qemu
def test_without_a_namespace_the_run_says_so_and_keeps_seccomp(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sandbox, "namespace_tool", lambda: "no namespace tool in this test")
    target = Target(tmp_path)
    rec = run(hostile_elf(tmp_path, target))
    assert "semihosting file access is not confined: no namespace tool in this test" in rec.diagnosis
    assert_system_refused(rec, target)


@needs_qemu
@needs_namespace
def test_cosim_run_names_the_refused_host_command(tmp_path: Path) -> None:
    target = Target(tmp_path)
    result = CliRunner().invoke(app, ["run", "--board", "stm32f405", str(hostile_elf(tmp_path, target))])
    assert result.exit_code == 1, result.output  # the firmware failed: it asked for a host command
    assert "SYS_SYSTEM" in result.stderr and "seccomp" in result.stderr
    assert target.names() == {"secret", "victim", "victim2"}


@needs_qemu
@needs_namespace
def test_a_normal_firmware_counts_the_same_inside_the_sandbox(monkeypatch) -> None:
    """-icount: the namespace and the seccomp filter add no instruction; the exit code and console pass through."""
    elf = build_foreign("semihosting_printf", EXIT_CODE="3")
    confined = run(elf)
    monkeypatch.setenv(sandbox.HOST_FILES_ENV, "1")
    unconfined = run(elf)
    for rec in (confined, unconfined):
        assert (rec.status, rec.exit_code) == (Status.EXITED, 3)
        assert "semihosting_printf: to stderr" in rec.console_tail
    assert confined.instructions == unconfined.instructions and confined.instructions_exact
    assert "not confined" not in confined.diagnosis


# --- the namespace itself --------------------------------------------------------------------------------------
@needs_namespace
def test_the_namespace_shows_only_the_work_directory_writable(tmp_path: Path) -> None:
    """What a semihosting SYS_OPEN could reach, asked of a shell in the same namespace: no home, no /etc/shadow,
    no /proc, nothing writable outside the work directory; the named ELF readable, not writable."""
    assert isinstance(CONFINED, list)
    work, outside = tmp_path / "work", tmp_path / "outside.elf"
    work.mkdir()
    outside.write_text("elf")
    (tmp_path / "secret").write_text("beside the ELF, not named: not there")
    script = (
        "for p in /etc/shadow /etc/passwd /root /home /proc/1/root /sys; do [ -e $p ] && echo visible $p; done;"
        f"ls -A {tmp_path}; touch /usr/x /x {outside} 2>/dev/null && echo wrote; echo $(cat {outside}); "
        f"touch {work}/ok && pwd"
    )
    layout = sandbox._layout(CONFINED[-1], work, ["/usr/bin/qemu-system-arm", "-kernel", str(outside)])
    argv = [*CONFINED, str(work), *layout, "--", "/usr/bin/sh", "-c", script]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    # nothing else visible, nothing written outside the work directory, which is the current directory
    assert proc.stdout.split() == ["outside.elf", "work", "elf", str(work)]
    assert (work / "ok").is_file()


def test_the_command_line_carries_the_seccomp_filter_and_binds_what_it_names(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sandbox, "namespace_tool", lambda: ["unshare", "ROOT"])
    elf = tmp_path / "my fw.elf"  # a space: escaped in the fstab as libmount reads it back
    elf.write_bytes(b"\x7fELF")
    work = tmp_path / "run"
    qemu = ["qemu-system-arm", "-kernel", str(elf), "-qmp", f"unix:{work}/qmp.sock,server=on", "-S"]
    confined = sandbox.confine(qemu, work)
    assert confined.files_confined and confined.note is None
    argv = confined.argv
    assert argv[:3] == ["unshare", "ROOT", str(work)]
    fstab, files = argv[3:5]
    tail = argv[argv.index("--") + 1 :]
    assert tail[1:3] == ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
    assert tail[3:] == qemu[1:]
    escaped = str(elf).replace(" ", "\\040")
    assert f"{escaped} ROOT{escaped} none bind,ro 0 0" in fstab.splitlines()
    assert "/usr ROOT/usr none bind,ro,X-mount.mkdir 0 0" in fstab.splitlines()
    assert fstab.splitlines()[-1] == f"{work} ROOT{work} none bind,X-mount.mkdir 0 0"  # the only read-write dir
    assert str(elf) in files.splitlines() and "/etc/ld.so.cache" in files.splitlines()
    assert sandbox.visible_paths(work, qemu)[-1] == (str(work), False)


def test_paths_are_normalised_and_a_newline_is_refused(tmp_path: Path) -> None:
    """The script makes each mount point under the namespace's root before binding: a ".." must not lead it out."""
    (tmp_path / "fw.elf").write_bytes(b"\x7fELF")
    work = tmp_path / "run"
    dotted = f"{tmp_path}/run/../fw.elf"
    assert (f"{tmp_path}/fw.elf", True) in sandbox.visible_paths(work, ["-kernel", dotted])
    assert not any(".." in p for p, _ in sandbox.visible_paths(work, ["-kernel", dotted]))
    odd = tmp_path / "fw\n.elf"
    odd.write_bytes(b"\x7fELF")
    with pytest.raises(BadInput, match="newline"):
        sandbox._layout("/root", work, ["-kernel", str(odd)])


def test_a_truncated_count_page_is_no_snapshot_not_a_crash(tmp_path: Path) -> None:
    """The plugin's page lies in the run's directory, which the firmware may write: SYS_OPEN(\"icount.state\", \"w\")
    truncates it. The host reads it with pread, so that is "no count yet", not a SIGBUS that kills the host."""
    state = tmp_path / "icount.state"
    words = plugin._LAYOUT.pack(int.from_bytes(plugin._MAGIC, "little"), 1234, 0, 0x08000100, 0, 0, 0, 0)
    state.write_bytes(words.ljust(4096, b"\0"))
    counter = plugin.PluginCounter(state)
    snap = counter.snapshot()
    assert snap is not None and snap.count == 1234
    state.write_bytes(b"")
    assert counter.snapshot() is None
    counter.release()  # nothing to release, nothing written
    assert state.stat().st_size == 0


def test_only_a_seccomp_kill_is_a_refusal() -> None:
    assert "SYS_SYSTEM" in (sandbox.refusal(-31) or "")
    assert sandbox.refusal(0) is None and sandbox.refusal(159) is None and sandbox.refusal(-9) is None


# --- Renode: the project answers semihosting itself ------------------------------------------------------------
class Memory:
    def __init__(self) -> None:
        self.bytes: dict[int, int] = {}

    def put(self, address: int, data: bytes) -> None:
        for i, b in enumerate(data):
            self.bytes[address + i] = b

    def read(self, address: int, n: int) -> bytes:
        return bytes(self.bytes.get(address + i, 0) for i in range(n))


@pytest.mark.parametrize(
    ("op", "args"),
    [
        (0x01, ("/etc/shadow", 0)),  # SYS_OPEN of an absolute path, for reading
        (0x01, ("/tmp/cosim-created", 4)),  # ... for writing
        (0x01, ("../../created", 8)),  # ... relative, appending
        (0x0E, ("/tmp/victim",)),  # SYS_REMOVE
        (0x0F, ("/tmp/victim", "/tmp/renamed")),  # SYS_RENAME
        (0x12, ("touch /tmp/marker",)),  # SYS_SYSTEM
        (0x0D, ()),  # SYS_TMPNAM
    ],
)
def test_renode_semihosting_refuses_host_files_and_commands(op: int, args: tuple) -> None:
    mem = Memory()
    words: list[int] = []
    at = 0x20001000
    for arg in args:
        if isinstance(arg, str):
            mem.put(at, arg.encode() + b"\0")
            words += [at, len(arg)] if op != 0x01 else [at]
            at += 0x100
        else:
            words.append(arg)
    if op == 0x01:
        words.append(len(args[0]))
    mem.put(0x20000F00, struct.pack(f"<{len(words)}I", *words))
    semi = Semihosting(write_console=lambda s, d: None, clock_hz=168_000_000, heap=(0x20000000, 0x20020000))
    outcome = semi.call(op, 0x20000F00, mem.read, mem.put, 0)
    assert outcome.r0 == 0xFFFFFFFF and outcome.exit_code is None
    assert semi.errno == (errno.EPERM if op == 0x12 else errno.ENOENT) and not semi.handles
