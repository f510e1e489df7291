"""A hostile-input corpus generated from the project's own valid files (issue 18): every case gets exit 2 with one
clear line naming the file (or the valid 0), nothing it names runs, and nothing outside the allowed roots is read.

Each case is (id, expected exit, message fragment): exit 2 means BadInput (through the loader API, whose BadInput
the CLI turns into exit 2, or through the CLI itself where the path matters), 0 a valid input, None "either valid
or BadInput, never another exception" (random mutations and truncations). The test ids are the corpus.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import struct
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from cosim_testing import needs_toolchain
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app as cosim_app
from tinyml_cosim.cli.scenario import app as scenario_app
from tinyml_cosim.core import inputs
from tinyml_cosim.core.boards import PLATFORMS_DIR, _load, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.resources import FIRMWARE_DIR
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.registry import resolve_engine_name
from tinyml_cosim.nn.tflite_reader import read_tflite
from tinyml_cosim.scenario.load import load_scenario, problems

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "scenarios" / "valid"
# Every scenario the project ships (sweep files, which name a `base:` scenario, are another format).
SCENARIOS = [
    p
    for p in sorted((ROOT / "scenarios").glob("*/*.yaml")) + sorted(DATA.glob("*.yaml"))
    if "\nbase:" not in p.read_text()
]
BOARDS = sorted(PLATFORMS_DIR.glob("*.yaml"))
MODELS = sorted(FIRMWARE_DIR.glob("apps/*/*.tflite"))
SECRET = "TOPSECRET-7f3a"  # planted in files the tool must refuse: it must never appear in a message
runner = CliRunner()


@contextlib.contextmanager
def unblocking(fifo: Path, after_s: float = 10.0) -> Iterator[None]:
    """Should the code under test open `fifo` for reading (the bug), a writer opens it after `after_s` and closes it,
    so the read ends (and the test fails on its assertion) instead of hanging the tier."""
    done = threading.Event()

    def writer() -> None:
        if not done.wait(after_s):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join()


# --- hostile files of any kind: each input kind gets them -------------------------------------------------------------


def _fifo(d: Path, name: str) -> Path:
    p = d / name
    os.mkfifo(p)
    return p


def _directory(d: Path, name: str) -> Path:
    p = d / name
    p.mkdir()
    return p


def _loop(d: Path, name: str) -> Path:
    p = d / name
    (d / "loop_b").symlink_to(p)
    p.symlink_to(d / "loop_b")
    return p


def _long(d: Path, name: str) -> Path:
    return d.joinpath(*["x" * 200] * 25, name)


def _long_name(d: Path, name: str) -> Path:
    return d / ("n" * 300 + name)


def _oversized(limit: int) -> Callable[[Path, str], Path]:
    def make(d: Path, name: str) -> Path:
        p = d / name
        with p.open("wb") as fh:  # sparse: the size is what stat() reports, no disk is used
            fh.truncate(limit + 1)
        return p

    return make


def _missing(d: Path, name: str) -> Path:
    return d / name


def _device(d: Path, name: str) -> Path:
    return Path("/dev/zero")


FILE_CASES: list[tuple[str, Callable[[Path, str], Path], str]] = [
    ("fifo", _fifo, "must be a regular file, not a FIFO"),
    ("directory", _directory, "must be a regular file, not a directory"),
    ("dev_zero", _device, "must be a regular file, not a character device"),
    ("symlink_loop", _loop, "symlink loop"),
    ("path_too_long", _long, "longer than the OS allows"),
    ("name_too_long", _long_name, "longer than the OS allows"),
    ("missing", _missing, "no such file"),
]
KIND_LIMITS = {
    "scenario": inputs.MAX_YAML_BYTES,
    "board": inputs.MAX_YAML_BYTES,
    "elf": inputs.MAX_ELF_BYTES,
    "tflite": inputs.MAX_TFLITE_BYTES,
}


def _load_kind(kind: str, path: Path) -> None:
    if kind == "scenario":
        load_scenario(path)
    elif kind == "board":
        _load.__wrapped__(path)  # uncached: every case is a new file
    elif kind == "elf":
        load_image(path, load_board("stm32f405"))
    else:
        read_tflite(path)


def one_line(exc: BadInput) -> str:
    text = str(exc)
    assert len(text.splitlines()) == 1, text
    return text


@pytest.mark.parametrize("kind", sorted(KIND_LIMITS))
@pytest.mark.parametrize(
    ("case", "make", "fragment"),
    [*FILE_CASES, ("oversized", None, "allowed for it")],
    ids=[c[0] for c in FILE_CASES] + ["oversized"],
)
def test_hostile_files_of_every_kind_are_refused_before_opening(tmp_path: Path, kind: str, case: str, make, fragment):
    name = {"scenario": "s.yaml", "board": "myboard.yaml", "elf": "app.elf", "tflite": "m.tflite"}[kind]
    path = (make or _oversized(KIND_LIMITS[kind]))(tmp_path, name)
    t0 = time.monotonic()
    with unblocking(path) if case == "fifo" else contextlib.nullcontext(), pytest.raises(BadInput) as err:
        _load_kind(kind, path)
    assert fragment in one_line(err.value)
    assert time.monotonic() - t0 < 5, "refused from stat(), without reading"


# --- YAML: every valid scenario and board file, mutated -------------------------------------------------------------

BOMB = "".join(
    f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join([f'*{chr(96 + i)}'] * 9) if i else 'lol, lol, lol, lol'}]\n"
    for i in range(10)
)
YAML_MUTATIONS: list[tuple[str, Callable[[bytes], bytes], int | None, str]] = [
    ("alias_bomb", lambda b: BOMB.encode() + b, 2, "alias bomb"),
    ("deep_nesting", lambda b: b"deep: " + b"[" * 5000 + b"]" * 5000 + b"\n" + b, 2, "nested deeper than 64"),
    ("deep_mapping", lambda b: b"".join(b"  " * i + b"k:\n" for i in range(200)) + b, 2, "nested deeper than 64"),
    ("recursive_alias", lambda b: b"loop: &r [*r]\n" + b, 2, "recursive alias"),
    ("nul_bytes", lambda b: b[:40] + b"\0\0\0" + b[40:], 2, "is binary, not text"),
    ("not_utf8", lambda b: b[:40] + b"\xff\xfe\xe9" + b[40:], 2, "is not UTF-8 text"),
    ("empty", lambda b: b"", 2, ""),
    ("top_level_list", lambda b: b"- a\n- b\n", 2, "mapping"),
    ("unclosed_flow", lambda b: b + b"\nbad: [unclosed\n", 2, "not valid YAML"),
    ("truncated_half", lambda b: b[: len(b) // 2], None, ""),
    ("truncated_third", lambda b: b[: len(b) // 3], None, ""),
]


def _copy_scenario(src: Path, dest_dir: Path) -> Path:
    """A scenario copied with the files beside it that it names (media/, models/), so its relative paths hold."""
    for sub in ("media", "models"):
        if (src.parent / sub).is_dir() and not (dest_dir / sub).exists():
            (dest_dir / sub).symlink_to(src.parent / sub)
    return dest_dir / src.name


def _rebase(src: Path, text: str) -> str:
    """The shipped scenarios name their app's model relative to the checkout: keep it pointing there."""
    return text.replace("../../src/tinyml_cosim/", str(ROOT / "src" / "tinyml_cosim") + "/")


@pytest.mark.parametrize("src", SCENARIOS, ids=[f"{p.parent.name}/{p.stem}" for p in SCENARIOS])
def test_every_valid_scenario_validates(src: Path) -> None:
    assert problems(src) == []


@pytest.mark.parametrize("src", SCENARIOS, ids=[f"{p.parent.name}/{p.stem}" for p in SCENARIOS])
@pytest.mark.parametrize(("case", "mutate", "code", "fragment"), YAML_MUTATIONS, ids=[m[0] for m in YAML_MUTATIONS])
def test_mutated_scenarios(tmp_path: Path, src: Path, case: str, mutate, code, fragment) -> None:
    path = _copy_scenario(src, tmp_path)
    path.write_bytes(mutate(_rebase(src, src.read_text()).encode()))
    t0 = time.monotonic()
    res = runner.invoke(scenario_app, ["validate", str(path)])
    assert time.monotonic() - t0 < 10
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    if code is None:
        assert res.exit_code in (0, 2), res.output
    else:
        assert res.exit_code == code, res.output
        assert fragment in res.stderr
        assert all(line.startswith(str(path)) for line in res.stderr.splitlines()), res.stderr


@pytest.mark.parametrize("src", BOARDS, ids=[p.stem for p in BOARDS])
@pytest.mark.parametrize(("case", "mutate", "code", "fragment"), YAML_MUTATIONS, ids=[m[0] for m in YAML_MUTATIONS])
def test_mutated_board_files(tmp_path: Path, src: Path, case: str, mutate, code, fragment) -> None:
    path = tmp_path / src.name
    path.write_bytes(mutate(src.read_bytes()))
    if code is None:
        with contextlib.suppress(BadInput):
            _load.__wrapped__(path)
        return
    with pytest.raises(BadInput) as err:
        _load.__wrapped__(path)
    assert fragment in str(err.value) and str(err.value).startswith(str(path))


@pytest.mark.parametrize("src", BOARDS, ids=[p.stem for p in BOARDS])
def test_a_board_file_cut_at_any_line_fails_or_is_a_complete_board(tmp_path: Path, src: Path) -> None:
    full = _load.__wrapped__(src)
    lines = src.read_text().splitlines(keepends=True)
    path = tmp_path / src.name
    refused = 0
    for n in range(1, len(lines)):
        path.write_text("".join(lines[:n]))
        try:
            board = _load.__wrapped__(path)
        except BadInput:
            refused += 1
            continue
        # Accepted only once every required section is whole: what is left out is optional (the cycle model,
        # a later kernel set's calibration), never engines or the silicon statement.
        keep = {"silicon", "cycle_model"}
        assert board.model_dump(exclude=keep) == full.model_dump(exclude=keep), f"cut after line {n}"
        assert board.engines == full.engines and board.silicon is not None
    assert refused >= len(lines) * 0.8


BOARD_EDITS: list[tuple[str, Callable[[str], str], str]] = [
    (
        "cflag_backticks",
        lambda t: t.replace("-mthumb,", '-mthumb, "`touch MARKER`",'),
        "is not a known compiler option",
    ),
    ("cflag_dollar_paren", lambda t: t.replace("-mthumb,", '-mthumb, "$(touch MARKER)",'), "is not a known compiler"),
    ("cflag_make_shell", lambda t: t.replace("-mthumb,", '-mthumb, "$(shell touch MARKER)",'), "not a known compiler"),
    ("cflag_define_subst", lambda t: t.replace("-mthumb,", '-mthumb, "-DX=$(id)",'), "is not a known compiler option"),
    ("cflag_semicolon", lambda t: t.replace("-mthumb,", '-mthumb, "-O2;touch MARKER",'), "is not a known compiler"),
    ("cflag_space", lambda t: t.replace("-mthumb,", '-mthumb, "-O2 -include /etc/passwd",'), "not a known compiler"),
    ("cflag_linker_plugin", lambda t: t.replace("-mthumb,", '-mthumb, "-Wl,-plugin=/tmp/x.so",'), "assembler, linker"),
    ("cflag_fplugin", lambda t: t.replace("-mthumb,", '-mthumb, "-fplugin=/tmp/x.so",'), "is not a known compiler"),
    ("cflag_include_dir", lambda t: t.replace("-mthumb,", '-mthumb, "-I/etc",'), "is not a known compiler option"),
    ("cflag_specs", lambda t: t.replace("-mthumb,", '-mthumb, "--specs=/tmp/x",'), "is not a known compiler option"),
    ("cflag_response_file", lambda t: t.replace("-mthumb,", '-mthumb, "@/etc/passwd",'), "is not a known compiler"),
    ("machine_unknown", lambda t: t.replace("machine: netduino2", "machine: no_such_board"), "machine"),
    ("machine_properties", lambda t: t.replace("machine: netduino2", "machine: netduino2,memory=1G"), "machine"),
    ("machine_option", lambda t: t.replace("machine: netduino2", 'machine: "-sandbox off"'), "machine"),
    ("uart_name_shell", lambda t: t.replace("{name: usart1,", '{name: "usart1;id",', 1), "uarts"),
    ("timer_name_shell", lambda t: t.replace("{name: tim2,", '{name: "tim2`id`",'), "timers.timebase.name"),
    ("serial_order_junk", lambda t: t.replace("serial_order: [usart1,", "serial_order: [x$y,"), "serial_order"),
    ("engines_without_renode", lambda t: t[: t.index("  renode:")] + t[t.index("\n# Silicon") :], "engines.renode"),
    ("empty_silicon", lambda t: t.replace("\nsilicon:\n", "\nsilicon:\nsilicon_was:\n"), "silicon: has no value"),
]


@pytest.mark.parametrize(("case", "edit", "fragment"), BOARD_EDITS, ids=[e[0] for e in BOARD_EDITS])
def test_hostile_board_values_are_refused_by_name(tmp_path: Path, case: str, edit, fragment: str) -> None:
    src = PLATFORMS_DIR / "stm32f205.yaml"
    text = edit(src.read_text()).replace("MARKER", str(tmp_path / "pwned"))
    path = tmp_path / "stm32f205.yaml"
    path.write_text(text)
    with pytest.raises(BadInput) as err:
        _load.__wrapped__(path)
    assert fragment in str(err.value) and str(err.value).startswith(f"{path}:")
    if case == "machine_unknown" and inputs.os.environ.get("COSIM_QEMU") is None and shutil.which("qemu-system-arm"):
        assert "netduino2" in str(err.value)  # the machines this QEMU has, checked against `-M help`
    assert not (tmp_path / "pwned").exists()


def test_every_shipped_cflag_is_in_the_allowed_set() -> None:
    from tinyml_cosim.core.board_values import refused_cflag

    flags = {f for p in BOARDS for f in _load.__wrapped__(p).compiler.cflags}
    assert flags and all(refused_cflag(f) is None for f in flags), flags
    assert refused_cflag("-Wall") is None and refused_cflag("-DNDEBUG=1") is None and refused_cflag("-Os") is None
    assert refused_cflag("-Wl,--gc-sections") and refused_cflag("-D'X'") and refused_cflag("-mcpu=cortex-m4 -x")


@pytest.mark.parametrize(
    ("case", "text", "fragment"),
    [
        ("bomb", BOMB + "engine: qemu\n", "alias bomb"),
        ("deep", "engine: " + "[" * 500 + "]" * 500 + "\n", "nested deeper"),
        ("recursive", "engine: &e [*e]\n", "recursive alias"),
        ("binary", "engine: qemu\n\0\0", "is binary"),
        ("unknown_engine", "engine: bochs\n", "engine: 'bochs' is not one of qemu, renode"),
    ],
)
def test_hostile_cosim_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, text: str, fragment: str):
    monkeypatch.delenv("COSIM_ENGINE", raising=False)
    config = tmp_path / "cosim.yaml"
    config.write_text(text)
    monkeypatch.setenv("COSIM_CONFIG", str(config))
    with pytest.raises(BadInput) as err:
        resolve_engine_name(None)
    assert fragment in one_line(err.value)


def test_a_fifo_as_cosim_yaml_is_not_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSIM_ENGINE", raising=False)
    fifo = _fifo(tmp_path, "cosim.yaml")
    monkeypatch.setenv("COSIM_CONFIG", str(fifo))
    with unblocking(fifo):
        assert resolve_engine_name(None) == "qemu"  # not a config file: the default, without blocking


# --- scenario sources: CSV and WAV, confined and validated ----------------------------------------------------------


def _csv_scenario(tmp_path: Path, csv_name: str = "media/motor_current.csv") -> Path:
    src = DATA / "current_monitor.yaml"
    (tmp_path / "media").mkdir(exist_ok=True)
    shutil.copy(DATA / "media" / "motor_current.csv", tmp_path / "media")
    path = tmp_path / src.name
    path.write_text(src.read_text().replace("media/motor_current.csv", csv_name))
    return path


def _write(rel: str, data: bytes | str) -> Callable[[Path], str]:
    def make(d: Path) -> str:
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return rel

    return make


def _sparse(rel: str, size: int) -> Callable[[Path], str]:
    def make(d: Path) -> str:
        with (d / rel).open("wb") as fh:
            fh.truncate(size)
        return rel

    return make


def _link(rel: str, target: str) -> Callable[[Path], str]:
    def make(d: Path) -> str:
        (d / rel).symlink_to(target)
        return rel

    return make


HEAD = "time_s,current_a\n"
CSV_CASES: list[tuple[str, Callable[[Path], str], str]] = [
    ("abs_outside", lambda d: "/etc/passwd", "lies outside the allowed directories"),
    ("dotdot_outside", lambda d: "../" * 12 + "etc/passwd", "lies outside the allowed directories"),
    ("symlink_outside", _link("link.csv", "/etc/passwd"), "lies outside the allowed directories"),
    ("fifo", lambda d: _fifo(d, "f.csv").name, "not a FIFO"),
    ("directory", lambda d: _directory(d, "dir.csv").name, "not a directory"),
    ("dev_zero_link", _link("zero.csv", "/dev/zero"), "lies outside"),
    ("symlink_loop", lambda d: _loop(d, "loop.csv").name, "symlink loop"),
    ("missing", lambda d: "nope.csv", "no such file"),
    ("binary", _write("b.csv", HEAD.encode() + b"0.0,1\x00\x01\x02\n"), "is binary, not text"),
    ("not_utf8", _write("u.csv", HEAD.encode() + b"0.0,\xe9\xff\n"), "is not UTF-8 text"),
    ("ragged", _write("r.csv", HEAD + "0.0,1.0\n0.1,1.0,7\n"), ":3: has 3 fields, the header has 2"),
    ("short_row", _write("s.csv", HEAD + "0.0,1.0\n0.1\n"), ":3: has 1 fields"),
    ("not_numeric", _write("n.csv", HEAD + f"0.0,1.0\n0.1,{SECRET}\n"), ":3: column 'current_a': not a number"),
    ("huge_field", _write("h.csv", HEAD + "0.0," + "9" * 200_000 + "\n"), "not a valid CSV file"),
    ("long_number", _write("l.csv", HEAD + "0.0," + "1" * 100 + "\n"), ":2: column 'current_a': not a number"),
    ("nan", _write("nan.csv", HEAD + "0.0,nan\n"), "not a finite number"),
    ("inf_time", _write("inf.csv", HEAD + "inf,1.0\n"), "not a finite number"),
    ("header_only", _write("ho.csv", HEAD), "no data rows"),
    ("empty", _write("e.csv", ""), "empty"),
    ("missing_column", _write("mc.csv", "time_s,voltage\n0.0,1.0\n"), "no column 'current_a'"),
    ("duplicate_header", _write("dh.csv", "time_s,time_s,current_a\n0,0,1\n"), "names a column twice"),
    ("time_not_increasing", _write("t.csv", HEAD + "0.0,1\n0.2,1\n0.1,1\n"), ":4: column 'time_s': not after"),
    ("bad_quote", _write("q.csv", HEAD + '0.0,"1.0\n'), "not a valid CSV file"),
    ("oversized", _sparse("big.csv", inputs.MAX_CSV_BYTES + 1), "allowed for it"),
]


@pytest.mark.parametrize(("case", "make", "fragment"), CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_hostile_csv_sources(tmp_path: Path, case: str, make, fragment: str) -> None:
    (tmp_path / "scn").mkdir()
    d = tmp_path / "scn"
    path = _csv_scenario(d, make(d))
    with unblocking(d / "f.csv") if case == "fifo" else contextlib.nullcontext():
        res = runner.invoke(scenario_app, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and fragment in lines[0], res.stderr
    assert lines[0].startswith(f"{path}:") and "sensors[0].signal[0].path" in lines[0]
    assert SECRET not in res.output and "root:" not in res.output


@pytest.mark.parametrize("model", ["/etc/passwd", "../../../../../../etc/shadow", "/root/.ssh/id_rsa"])
def test_a_model_outside_the_allowed_roots_fails_validation(tmp_path: Path, model: str) -> None:
    src = DATA / "pump_bearing.yaml"
    path = tmp_path / src.name
    path.write_text(src.read_text().replace("models/vibration_int8.tflite", model))
    (found,) = problems(path)
    assert found.startswith(f"{path}:6: model: ") and "lies outside the scenario's directory" in found


def test_a_source_elsewhere_in_the_scenarios_repository_is_allowed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "data").mkdir()
    (repo / "scn").mkdir()
    shutil.copy(DATA / "media" / "motor_current.csv", repo / "data" / "m.csv")
    path = _csv_scenario(repo / "scn", "../data/m.csv")
    assert problems(path) == []  # the shipped scenarios name the apps' models in src/ this way
    shutil.copy(DATA / "media" / "motor_current.csv", tmp_path / "outside.csv")
    path = _csv_scenario(repo / "scn", "../../outside.csv")
    assert "lies outside the allowed directories" in problems(path)[0]


def test_allowed_roots_admit_a_source_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    shutil.copy(DATA / "media" / "motor_current.csv", elsewhere / "m.csv")
    (tmp_path / "scn").mkdir()
    path = _csv_scenario(tmp_path / "scn", str(elsewhere / "m.csv"))
    assert "lies outside the allowed directories" in problems(path)[0]
    monkeypatch.setenv(inputs.ALLOW_ROOTS_ENV, str(elsewhere))
    assert problems(path) == []


def _wav(rate: int = 16000, width: int = 2, channels: int = 1, frames: int = 1600) -> bytes:
    import io

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(bytes(frames * width * channels))
    return buf.getvalue()


def _patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


# Offsets in the canonical 44-byte header: 20 format, 22 channels, 24 rate, 34 bits per sample, 40 data size.
WAV_CASES: list[tuple[str, bytes, str]] = [
    ("zero_rate", _patched(_wav(), 24, "<I", 0), "rate"),
    ("width_40_bits", _patched(_patched(_wav(), 34, "<H", 40), 32, "<H", 5), "40 bits wide"),
    ("width_0", _patched(_wav(), 34, "<H", 0), "cannot read as PCM WAV"),
    ("zero_channels", _patched(_wav(), 22, "<H", 0), "channels"),
    ("declared_longer", _patched(_wav(), 40, "<I", 1600 * 2 * 4), "declares 6400 frames"),
    ("truncated_data", _wav()[:1000], "declares 1600 frames"),
    ("odd_byte_count", _patched(_wav(), 40, "<I", 1601), "not a whole number of 2-byte frames"),
    ("no_samples", _wav(frames=0), "holds no samples"),
    ("float_format", _patched(_wav(), 20, "<H", 3), "cannot read as PCM WAV"),
    ("not_riff", f"RIFX{SECRET}".encode() * 4, "cannot read as PCM WAV"),
    ("truncated_header", _wav()[:30], "cannot read as PCM WAV"),
    ("text", f"{SECRET}\n".encode() * 20, "cannot read as PCM WAV"),
]


@pytest.mark.parametrize(("case", "data", "fragment"), WAV_CASES, ids=[c[0] for c in WAV_CASES])
def test_hostile_wav_sources(tmp_path: Path, case: str, data: bytes, fragment: str) -> None:
    src = DATA / "keyword_audio.yaml"
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "chirp.wav").write_bytes(data)
    path = tmp_path / src.name
    path.write_text(src.read_text())
    res = runner.invoke(scenario_app, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and fragment in lines[0] and lines[0].startswith(f"{path}:"), res.stderr
    assert SECRET not in res.output


def test_a_valid_wav_at_every_width_loads_and_a_missing_channel_is_named(tmp_path: Path) -> None:
    from tinyml_cosim.sensors.wavfile import read_wav

    for width in (1, 2, 3, 4):
        (tmp_path / f"w{width}.wav").write_bytes(_wav(width=width, channels=2, frames=10))
        data, rate = read_wav(tmp_path / f"w{width}.wav")
        assert data.shape == (10, 2) and rate == 16000
    src = DATA / "keyword_audio.yaml"
    shutil.copytree(DATA / "media", tmp_path / "media", dirs_exist_ok=True)
    path = tmp_path / src.name
    path.write_text(src.read_text().replace("gain: 2.0,", "gain: 2.0, channel: 3,"))
    assert "has 1 channel(s), no channel 3" in problems(path)[0]


# --- app: names only --------------------------------------------------------------------------------------------------

APP_CASES = ["../../tests", "/etc", "demo/../demo", "..", "a b", "x;id", "$(id)", "", "demo/"]


@pytest.mark.parametrize("name", APP_CASES)
def test_a_scenario_app_is_a_name_never_a_path(tmp_path: Path, name: str) -> None:
    src = DATA / "pump_bearing.yaml"
    path = tmp_path / src.name
    path.write_text(src.read_text().replace("app: vibration_monitor", f"app: {name!r}"))
    res = runner.invoke(scenario_app, ["validate", str(path)])
    assert res.exit_code == 2 and "app:" in res.stderr and "not an app name" in res.stderr, res.output


@pytest.mark.parametrize("name", APP_CASES)
def test_cosim_build_app_is_a_name_never_a_path(name: str) -> None:
    res = runner.invoke(cosim_app, ["build", "--board", "stm32f405", "--app", name])
    assert res.exit_code == 2 and "not a path" in res.output, res.output


# --- ELF images: the demo build, mutated ------------------------------------------------------------------------------


def _flip(data: bytes, seed: int, start: int, end: int, count: int) -> bytes:
    rng = random.Random(seed)
    b = bytearray(data)
    for _ in range(count):
        b[rng.randrange(start, min(end, len(b)))] = rng.randrange(256)
    return bytes(b)


def _flipper(seed: int, start: int, end: int, count: int) -> Callable[[bytes], bytes]:
    return partial(_flip, seed=seed, start=start, end=end, count=count)


def _elf_header_edit(offset: int, fmt: str, value: int) -> Callable[[bytes], bytes]:
    return lambda b: _patched(b, offset, fmt, value)


ELF_CASES: list[tuple[str, Callable[[bytes], bytes], int | None, str]] = (
    [
        ("phnum_65535", _elf_header_edit(44, "<H", 0xFFFF), 2, "program headers"),
        ("shnum_65535", _elf_header_edit(48, "<H", 0xFFFF), 2, "sections"),
        ("phoff_past_end", _elf_header_edit(28, "<I", 0x7FFFFFF0), 2, "program header table lies outside"),
        ("shoff_past_end", _elf_header_edit(32, "<I", 0x7FFFFFF0), 2, "section header table lies outside"),
        ("phentsize_wrong", _elf_header_edit(42, "<H", 7), 2, "wrong entry size"),
        ("shstrndx_bogus", _elf_header_edit(50, "<H", 0xFFF0), 2, "section name table index"),
        ("extended_numbering", _elf_header_edit(48, "<H", 0), 2, "extended section numbering"),
        ("class_unknown", _elf_header_edit(4, "<B", 7), 2, "unknown class"),
        ("machine_x86", _elf_header_edit(18, "<H", 3), 2, "needs a 32-bit ARM"),
        ("truncated_10", lambda b: b[:10], 2, "corrupt ELF header"),
        ("truncated_40", lambda b: b[:40], 2, "truncated ELF header"),
        ("truncated_400", lambda b: b[:400], 2, "outside the file"),
        ("truncated_half", lambda b: b[: len(b) // 2], 2, ""),
        ("not_elf", lambda b: SECRET.encode() * 10, 2, "not an ELF file (no ELF magic"),
        ("empty", lambda b: b"", 2, "not an ELF file"),
    ]
    + [(f"header_flip_{i}", _flipper(i, 0, 52, 3), None, "") for i in range(12)]
    + [(f"table_flip_{i}", _flipper(i, 52, 2048, 16), None, "") for i in range(12)]
)


@pytest.fixture(scope="module")
def demo_elf(firmware) -> bytes:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs arm-none-eabi-gcc (run `make setup`)")
    return firmware("demo").read_bytes()


@pytest.mark.parametrize(("case", "mutate", "code", "fragment"), ELF_CASES, ids=[c[0] for c in ELF_CASES])
def test_mutated_elfs(tmp_path: Path, demo_elf: bytes, case: str, mutate, code, fragment: str) -> None:
    path = tmp_path / "app.elf"
    path.write_bytes(mutate(demo_elf))
    board = load_board("stm32f405")
    if code is None:
        with contextlib.suppress(BadInput):
            load_image(path, board)
        return
    with pytest.raises(BadInput) as err:
        load_image(path, board)
    assert fragment in one_line(err.value) and SECRET not in str(err.value)


# --- .tflite models: the shipped ones, mutated ------------------------------------------------------------------------

TFLITE_CASES: list[tuple[str, Callable[[bytes], bytes], int | None, str]] = [
    ("truncated_4", lambda b: b[:4], 2, "too short"),
    ("truncated_100", lambda b: b[:100], 2, ""),
    ("truncated_half", lambda b: b[: len(b) // 2], 2, ""),
    ("wrong_identifier", lambda b: b[:4] + b"XXXX" + b[8:], 2, "file identifier"),
    ("empty", lambda b: b"", 2, "too short"),
    ("zip", lambda b: b"PK\x03\x04" + b[4:], 2, ""),
    ("hdf5", lambda b: b"\x89HDF\r\n\x1a\n" + b[8:], 2, ""),
    ("lfs_pointer", lambda b: b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n", 2, "LFS"),
] + [(f"flip_{i}", _flipper(i, 0, 4096, 8), None, "") for i in range(10)]


@pytest.mark.parametrize("model", MODELS, ids=[p.stem for p in MODELS])
@pytest.mark.parametrize(("case", "mutate", "code", "fragment"), TFLITE_CASES, ids=[c[0] for c in TFLITE_CASES])
def test_mutated_models(tmp_path: Path, model: Path, case: str, mutate, code, fragment: str) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(mutate(model.read_bytes()))
    if code is None:
        with contextlib.suppress(BadInput):
            read_tflite(path)
        return
    with pytest.raises(BadInput) as err:
        read_tflite(path)
    assert fragment in str(err.value)


# --- through the real CLI: the paths where the order of checks matters ------------------------------------------------


def cosim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tinyml_cosim.cli.app", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def _error_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_cli_scenario_run_refuses_before_building(tmp_path: Path) -> None:
    src = DATA / "pump_bearing.yaml"
    evil = tmp_path / "evil.yaml"
    evil.write_text(src.read_text().replace("app: vibration_monitor", "app: ../../../tmp/x"))
    r = cosim("run", str(evil), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2 and "not an app name" in _error_line(r)
    model = tmp_path / "model.yaml"
    model.write_text(src.read_text().replace("models/vibration_int8.tflite", "/etc/passwd"))
    r = cosim("run", str(model), "--out", str(tmp_path / "out2"), cwd=tmp_path)
    assert r.returncode == 2 and "model: '/etc/passwd' lies outside" in _error_line(r), r.stderr
    fifo = _fifo(tmp_path, "fifo.yaml")
    with unblocking(fifo):
        r = cosim("run", str(fifo), "--out", str(tmp_path / "out3"), cwd=tmp_path)
    assert r.returncode == 2 and "not a FIFO" in _error_line(r)


def test_cli_build_refuses_a_board_whose_flags_would_run_a_command(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    board = tmp_path / "stm32f405.yaml"
    text = (PLATFORMS_DIR / "stm32f405.yaml").read_text()
    board.write_text(text.replace("-mthumb,", f'-mthumb, "`touch {marker}`",'))
    r = cosim("build", "--board", str(board), "--app", "demo", "--out", str(tmp_path / "b"), cwd=tmp_path)
    assert r.returncode == 2 and "is not a known compiler option" in _error_line(r)
    assert not marker.exists()


def test_cli_run_refuses_a_fifo_and_an_absurd_elf(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path, "app.elf")
    with unblocking(fifo):
        r = cosim("run", "--board", "stm32f405", str(fifo), cwd=tmp_path)
    assert r.returncode == 2 and "not a FIFO" in _error_line(r)
    elf = tmp_path / "absurd.elf"
    elf.write_bytes(b"\x7fELF\x01\x01\x01" + bytes(37) + struct.pack("<H", 0xFFFF) + bytes(8))
    r = cosim("run", "--board", "stm32f405", str(elf), cwd=tmp_path)
    assert r.returncode == 2 and "program headers" in _error_line(r)


@needs_toolchain
def test_cosim_build_app_dir_builds_an_app_from_a_directory_the_user_names(tmp_path: Path) -> None:
    apps = tmp_path / "myapps"
    shutil.copytree(FIRMWARE_DIR / "apps" / "demo", apps / "mydemo")
    r = cosim("build", "--board", "stm32f405", "--app", "mydemo", "--out", str(tmp_path / "b"), cwd=tmp_path)
    assert r.returncode == 2 and "unknown app 'mydemo'" in _error_line(r)
    r = cosim(
        "build", "--board", "stm32f405", "--app", "mydemo", "--app-dir", str(apps), "--out", str(tmp_path / "b"),
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).is_file() and "/mydemo-" in r.stdout


def test_run_app_dir_and_allow_root_reach_the_build_and_the_source_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cosim run SCENARIO --app-dir D --allow-root R`: R is allowed for the run (and its workers, through the
    environment) and D is where the scenario's `app:` is looked for; stopped at the build, nothing is emulated."""
    from tinyml_cosim.engines import launcher
    from tinyml_cosim.orchestrate import scenario_runs

    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copy(DATA / "media" / "motor_current.csv", shared / "m.csv")
    (tmp_path / "scn").mkdir()
    path = _csv_scenario(tmp_path / "scn", str(shared / "m.csv"))
    seen: dict[str, object] = {}

    def fake_build(board, app, **kw):  # type: ignore[no-untyped-def]
        seen.update(app=app, app_dirs=kw.get("app_dirs"), roots=os.environ.get(inputs.ALLOW_ROOTS_ENV))
        raise BadInput("stopped before building")

    monkeypatch.setattr(scenario_runs, "build", fake_build)
    # `cosim run` turns SIGTERM into SystemExit for its process; in-process here, pytest's handlers stay.
    monkeypatch.setattr(launcher, "install_signal_handlers", lambda: None)
    monkeypatch.setenv(inputs.ALLOW_ROOTS_ENV, "")  # restored after the test: the CLI adds --allow-root to it
    base = ["run", str(path), "--out", str(tmp_path / "out")]
    res = runner.invoke(cosim_app, base)
    assert res.exit_code == 2 and "lies outside the allowed directories" in res.stderr and not seen
    res = runner.invoke(cosim_app, [*base, "--allow-root", str(shared), "--app-dir", str(tmp_path / "scn")])
    assert res.exit_code == 2 and "stopped before building" in res.stderr, res.output
    assert seen["app_dirs"] == (tmp_path / "scn",) and str(shared.resolve()) in str(seen["roots"])


# --- firmware: and part: paths, confined like the sources ------------------------------------------------------------

PART_FILE = ROOT / "src" / "tinyml_cosim" / "sensors" / "parts" / "lsm6dso.yaml"


def _outside_copy(tmp_path: Path, src: Path, name: str) -> Path:
    """A readable file with a planted secret outside the scenario's directory (tmp_path/elsewhere)."""
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    p = tmp_path / "elsewhere" / name
    p.write_bytes(src.read_bytes() + f"\n# {SECRET}\n".encode())
    return p


def _confine_scenario(tmp_path: Path, field: str, value: str) -> Path:
    """wrist_activity.yaml in tmp_path/scn with `firmware:` or the sensor's `part:` set to `value`."""
    d = tmp_path / "scn"
    d.mkdir(exist_ok=True)
    text = (DATA / "wrist_activity.yaml").read_text()
    old = "firmware: build/har_int8.elf" if field == "firmware" else "part: lsm6dso"
    path = d / "scenario.yaml"
    path.write_text(text.replace(old, f"{field}: {value}"))
    return path


def _escape(kind: str, tmp_path: Path, outside: Path) -> str:
    if kind == "absolute":
        return str(outside)
    if kind == "dotdot":
        return f"../elsewhere/{outside.name}"
    if kind == "symlink":
        link = tmp_path / "scn" / f"link{outside.suffix}"
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(outside)
        return link.name
    return {"etc_passwd": "/etc/passwd.yaml" if outside.suffix == ".yaml" else "/etc/passwd"}[kind]


CONFINED_FIELDS = [("firmware", "firmware", "the firmware ELF"), ("part", "sensors[0].part", "the part file")]


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink", "etc_passwd"])
@pytest.mark.parametrize(("field", "loc", "what"), CONFINED_FIELDS, ids=[f[0] for f in CONFINED_FIELDS])
def test_firmware_and_part_paths_outside_the_roots_are_refused(
    tmp_path: Path, field: str, loc: str, what: str, kind: str
) -> None:
    outside = _outside_copy(tmp_path, PART_FILE, "lsm6dso.yaml" if field == "part" else "fw.elf")
    path = _confine_scenario(tmp_path, field, _escape(kind, tmp_path, outside))
    res = runner.invoke(scenario_app, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    (line,) = res.stderr.splitlines()
    assert line.startswith(f"{path}:") and f" {loc}: " in line, line
    assert f"{what} lies outside the scenario's directory" in line and "--allow-root" in line, line
    assert SECRET not in res.output


@pytest.mark.parametrize(("field", "loc", "what"), CONFINED_FIELDS, ids=[f[0] for f in CONFINED_FIELDS])
def test_firmware_and_part_paths_under_an_allowed_root_are_admitted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, loc: str, what: str
) -> None:
    outside = _outside_copy(tmp_path, PART_FILE, "lsm6dso.yaml" if field == "part" else "fw.elf")
    path = _confine_scenario(tmp_path, field, str(outside))
    assert any("lies outside" in p for p in problems(path))
    monkeypatch.setenv(inputs.ALLOW_ROOTS_ENV, str(outside.parent))
    assert problems(path) == []


def test_cli_run_refuses_a_firmware_outside_the_roots_before_running(tmp_path: Path) -> None:
    path = _confine_scenario(tmp_path, "firmware", "/etc/passwd")
    r = cosim("run", str(path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    line = _error_line(r)
    assert r.returncode == 2 and "firmware: '/etc/passwd': the firmware ELF lies outside" in line, r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("part", ["/etc/passwd.yaml", "../../../etc/x.yaml", "parts/lis2dw12.yaml"])
def test_a_board_sensor_part_is_a_name_never_a_path(tmp_path: Path, part: str) -> None:
    src = PLATFORMS_DIR / "stm32f405.yaml"
    path = tmp_path / src.name
    path.write_text(src.read_text().replace("part: lis2dw12", f'part: "{part}"', 1))
    with pytest.raises(BadInput) as err:
        _load.__wrapped__(path)
    assert str(err.value).startswith(f"{path}:") and "sensors[0].part" in one_line(err.value), err.value


@pytest.mark.parametrize(
    ("body", "loc", "what"),
    [
        ("base: /etc/passwd\n", "base", "the base scenario"),
        ("base: ../../../../../../../etc/hosts\n", "base", "the base scenario"),
        ("base: scenario.yaml\nmodel: [/etc/passwd]\n", "model[0]", "the model file"),
    ],
)
def test_a_sweeps_base_and_models_are_confined(tmp_path: Path, body: str, loc: str, what: str) -> None:
    from tinyml_cosim.sweep.plan import plan_sweep  # lazy: the sweep package is optional to this corpus

    d = tmp_path / "sw"
    d.mkdir()
    (d / "scenario.yaml").write_text((DATA / "pump_bearing.yaml").read_text())
    path = d / "sweep.yaml"
    path.write_text("version: 1\n" + body)
    with pytest.raises(BadInput) as err:
        plan_sweep(path)
    line = one_line(err.value)
    assert line.startswith(f"{path}:") and f" {loc}: " in line and f"{what} lies outside the sweep's directory" in line
