"""Fuzz targets for every parser of untrusted input (issue 18): scenario and board files, .tflite models, ELF
images, data-channel frames and console event lines. The property is the CLI's contract: a valid result or the
parser's own refusal (BadInput, which the CLI turns into exit 2; FrameError/CorruptEvent on the wire, which the host
answers with an ERROR frame or reports as corruption), never another exception.

`make test` runs each target briefly and derandomized (profile cosim-quick); the `long` tier runs many more random
examples (cosim-long).
"""

from __future__ import annotations

import contextlib
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tinyml_cosim.core.boards import PLATFORMS_DIR, _load, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.resources import FIRMWARE_DIR
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.nn.tflite_reader import parse_tflite
from tinyml_cosim.protocol.datachannel import DataService, RateStream
from tinyml_cosim.protocol.frames import (
    FRAME_HEADER,
    CorruptEvent,
    Event,
    FrameError,
    FrameType,
    decode_frame,
    format_event,
    parse_event,
)
from tinyml_cosim.protocol.framing import serve_frames
from tinyml_cosim.scenario.load import problems

ROOT = Path(__file__).resolve().parents[1]
_SLOW = [HealthCheck.too_slow]
settings.register_profile(
    "cosim-quick", max_examples=40, derandomize=True, deadline=None, database=None, suppress_health_check=_SLOW
)
settings.register_profile("cosim-long", max_examples=2000, deadline=None, database=None, suppress_health_check=_SLOW)
QUICK, LONG = settings.get_profile("cosim-quick"), settings.get_profile("cosim-long")

SCENARIO = ROOT / "tests" / "data" / "scenarios" / "valid" / "pump_bearing.yaml"
BOARD = PLATFORMS_DIR / "stm32f405.yaml"
MODEL = FIRMWARE_DIR / "apps" / "keyword_spotter" / "kws_int8.tflite"
YAML_ALPHABET = st.sampled_from([*list(" \n:-[]{},&*!|>'\"#%@`0123456789.abcxyz_\t\\"), "\x00", "é", "<<: *a\n"])


def mutations(base: bytes, alphabet: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """`base` with a few edits: a byte run replaced, inserted or cut out, or the whole cut short."""
    edit = st.tuples(st.integers(0, len(base)), st.integers(0, 64), alphabet)

    def apply(edits: list[tuple[int, int, bytes]], cut: int | None) -> bytes:
        data = bytearray(base)
        for pos, drop, text in edits:
            data[pos : pos + drop] = text
        return bytes(data[:cut] if cut is not None else data)

    return st.builds(apply, st.lists(edit, min_size=1, max_size=6), st.none() | st.integers(0, len(base)))


def text_bytes(alphabet: st.SearchStrategy[str] = YAML_ALPHABET) -> st.SearchStrategy[bytes]:
    return st.lists(alphabet, max_size=30).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))


def _scratch(name: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix="cosim-fuzz-"))
    for sub in ("media", "models"):
        if (SCENARIO.parent / sub).is_dir():
            (d / sub).symlink_to(SCENARIO.parent / sub)
    return d / name


@pytest.fixture(scope="module")
def scratch() -> Iterator[Callable[[str], Path]]:
    """A file path per name in a private directory (hypothesis runs many examples per test: one file each)."""
    made: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in made:
            made[name] = _scratch(name)
        return made[name]

    yield make
    for p in made.values():
        shutil.rmtree(p.parent, ignore_errors=True)


# --- scenario files ---------------------------------------------------------------------------------------------------


def scenario_target(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        found = problems(path)
    except BadInput as exc:
        assert str(exc).startswith(str(path))
        return
    assert all(isinstance(p, str) and p.startswith(str(path)) for p in found)


SCENARIO_INPUTS = mutations(SCENARIO.read_bytes(), text_bytes()) | text_bytes()


@QUICK
@given(data=SCENARIO_INPUTS)
def test_fuzz_scenario_loader(scratch, data: bytes) -> None:
    scenario_target(scratch("s.yaml"), data)


@pytest.mark.long
@pytest.mark.timeout(1800)
@LONG
@given(data=SCENARIO_INPUTS)
def test_fuzz_scenario_loader_long(scratch, data: bytes) -> None:
    scenario_target(scratch("s.yaml"), data)


# --- board files ------------------------------------------------------------------------------------------------------


def board_target(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        _load.__wrapped__(path)
    except BadInput as exc:
        assert str(exc).startswith(str(path))


BOARD_INPUTS = mutations(BOARD.read_bytes(), text_bytes())


@QUICK
@given(data=BOARD_INPUTS)
def test_fuzz_board_loader(scratch, data: bytes) -> None:
    board_target(scratch("stm32f405.yaml"), data)


@pytest.mark.long
@pytest.mark.timeout(1800)
@LONG
@given(data=BOARD_INPUTS)
def test_fuzz_board_loader_long(scratch, data: bytes) -> None:
    board_target(scratch("stm32f405.yaml"), data)


# --- .tflite models ---------------------------------------------------------------------------------------------------


def tflite_target(data: bytes) -> None:
    with contextlib.suppress(BadInput):
        parse_tflite(data)


MODEL_BYTES = MODEL.read_bytes()
MODEL_INPUTS = mutations(MODEL_BYTES, st.binary(max_size=8)) | st.binary(max_size=256)


@QUICK
@given(data=MODEL_INPUTS)
def test_fuzz_tflite_reader(data: bytes) -> None:
    tflite_target(data)


@pytest.mark.long
@pytest.mark.timeout(1800)
@LONG
@given(data=MODEL_INPUTS)
def test_fuzz_tflite_reader_long(data: bytes) -> None:
    tflite_target(data)


# --- ELF images -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_elf(firmware) -> Path:
    """The demo build's ELF (a path: hypothesis prints the arguments of a failing example)."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs arm-none-eabi-gcc (run `make setup`)")
    return firmware("demo")


def elf_inputs(base: bytes) -> st.SearchStrategy[bytes]:
    # Most of an ELF's structure is in its first kilobytes (header, program headers) and its end (section headers):
    # edits there, and anywhere.
    head = st.tuples(st.integers(0, 128), st.binary(min_size=1, max_size=4))
    tail = st.tuples(st.integers(max(0, len(base) - 2048), len(base) - 1), st.binary(min_size=1, max_size=4))

    def apply(edits: list[tuple[int, bytes]], cut: int | None) -> bytes:
        data = bytearray(base)
        for pos, b in edits:
            data[pos : pos + len(b)] = b
        return bytes(data[:cut] if cut is not None else data)

    return st.builds(apply, st.lists(head | tail, min_size=1, max_size=6), st.none() | st.integers(0, len(base)))


def elf_target(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        image = load_image(path, load_board("stm32f405"))
    except BadInput as exc:
        assert str(exc).startswith(str(path)) and len(str(exc).splitlines()) == 1
        return
    image.describe(image.entry)  # symbol and DWARF lookups of an accepted image work too


@settings(QUICK, max_examples=25)
@given(data=st.data())
def test_fuzz_elf_reader(scratch, demo_elf: Path, data) -> None:
    elf_target(scratch("app.elf"), data.draw(elf_inputs(demo_elf.read_bytes())))


@pytest.mark.long
@pytest.mark.timeout(1800)
@settings(LONG, max_examples=500)  # ~0.2 s an example (a DWARF line table read per accepted image)
@given(data=st.data())
def test_fuzz_elf_reader_long(scratch, demo_elf: Path, data) -> None:
    elf_target(scratch("app.elf"), data.draw(elf_inputs(demo_elf.read_bytes())))


# --- data-channel frames and console events ---------------------------------------------------------------------------


def _valid_frame(ftype: int, instructions: int, payload: bytes) -> bytes:
    head = FRAME_HEADER.pack(b"\xc5\x31", ftype, 0, len(payload), instructions)
    return head + payload + struct.pack("<I", zlib.crc32(head + payload) & 0xFFFFFFFF)


FRAME_INPUTS = st.binary(max_size=64) | st.builds(
    _valid_frame,
    st.sampled_from([int(t) for t in FrameType] + [0, 7]),
    st.integers(0, 2**64 - 1),
    st.binary(max_size=24),
)


def frames_target(raw: bytes) -> None:
    service = DataService(streams={0: RateStream(bytes(64), 2, 16_000, 168_000_000)})
    try:
        frame = decode_frame(raw)
    except FrameError:
        frame = None
    if frame is not None:
        assert decode_frame(frame.encode()) == frame  # a decoded frame re-encodes to itself
        reply = service.handle(frame)
        assert decode_frame(reply.encode()) == reply
    # The byte-stream server answers anything (a prefix of frames, garbage) with frames, never an exception.
    stream, out = memoryview(raw), bytearray()
    pos = 0

    def read_exact(n: int) -> bytes | None:
        nonlocal pos
        if pos + n > len(stream):
            return None
        pos += n
        return bytes(stream[pos - n : pos])

    serve_frames(read_exact, out.extend, service)


@QUICK
@given(raw=FRAME_INPUTS)
@example(raw=_valid_frame(int(FrameType.WRITE), 0, b""))  # found by the long run: a WRITE without its header
@example(raw=_valid_frame(int(FrameType.HELLO), 0, b"\x01"))
def test_fuzz_protocol_frames(raw: bytes) -> None:
    frames_target(raw)


@pytest.mark.long
@pytest.mark.timeout(1800)
@LONG
@given(raw=FRAME_INPUTS)
def test_fuzz_protocol_frames_long(raw: bytes) -> None:
    frames_target(raw)


EVENTS = st.builds(
    Event,
    st.from_regex(r"[A-Z_]{1,12}", fullmatch=True),
    st.integers(0, 2**64 - 1),
    st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.from_regex(r"[!-~]{0,12}", fullmatch=True)),
)


def events_target(event: Event, noise: str) -> None:
    line = format_event(event)
    assert parse_event(line) == event  # round trip
    for text in (noise, "@C1 " + noise, line[: len(line) // 2], line + noise):
        try:
            got = parse_event(text)
        except CorruptEvent:
            continue
        assert got is None or isinstance(got, Event)


@QUICK
@given(event=EVENTS, noise=st.text(max_size=40))
def test_fuzz_console_events(event: Event, noise: str) -> None:
    events_target(event, noise)


@pytest.mark.long
@pytest.mark.timeout(1800)
@LONG
@given(event=EVENTS, noise=st.text(max_size=40))
def test_fuzz_console_events_long(event: Event, noise: str) -> None:
    events_target(event, noise)
