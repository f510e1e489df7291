"""The scenario file: board, firmware, sensors with their signal and impairment chains, a labelled timeline.

Validation happens in two passes. Pydantic checks the structure (types, ranges, discriminated unions); then
`semantic_problems` checks what depends on the part data files (ranges, ODRs, modes, channel names), the board
list and the timeline's consistency. Both report `(location, message)` so every error reads
`file:line: field: problem` with the allowed values in the message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from tinyml_cosim.build.firmware import APP_NAME
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.yamlfile import short_repr
from tinyml_cosim.scenario.confine import confinement_problems
from tinyml_cosim.scenario.generate import generate as generate_streams
from tinyml_cosim.sensors.impairments import Impair
from tinyml_cosim.sensors.parts import Part, available_parts, find_part, fmt_num, load_part
from tinyml_cosim.sensors.signals import VECTOR_ONLY, Source
from tinyml_cosim.sensors.stream import SampleStream

Loc = tuple[str | int, ...]
KIND_NAMES = {"accelerometer": "an accelerometer", "microphone": "a microphone", "adc": "an ADC-attached sensor"}


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SensorSpec(_Item):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="name of the stream, unique in the scenario")
    part: str = Field(description="built-in part (lis2dw12, lsm6dso, mp34dt05, tmp36_adc12, ...) or a part YAML path")
    odr_hz: float | None = Field(None, description="output data rate; one of the part's odr_hz (default: its default)")
    range_g: float | None = Field(None, description="accelerometers: full scale in g, one of the part's ranges")
    mode: str | None = Field(None, description="operating mode, one of the part's modes (sets the resolution)")
    cross_axis: Literal["none", "auto"] | list[list[float]] = Field(
        "none", description="axis misalignment: none, auto (random within the part's cross_axis), or a 3x3 matrix"
    )
    intrinsic_noise: bool = Field(True, description="add the part's own noise (noise_density over its bandwidth)")
    stream: int | None = Field(None, ge=0, le=65535, description="data-channel stream id (default: sensor index)")
    signal: list[Source] = Field(min_length=1, description="sources, summed")
    impairments: list[Impair] = Field(default_factory=list, description="applied in stages, in order within one")


class Segment(_Item):
    """A stretch of the timeline with its ground-truth label (what the firmware should decide there)."""

    start_s: float = Field(ge=0)
    end_s: float | None = Field(None, gt=0)
    duration_s: float | None = Field(None, gt=0)
    label: str = Field(min_length=1)
    note: str = ""

    @model_validator(mode="after")
    def _one_end(self) -> Segment:
        if (self.end_s is None) == (self.duration_s is None):
            raise ValueError("give exactly one of end_s or duration_s")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must be after start_s ({self.start_s:g})")
        return self

    @property
    def stop_s(self) -> float:
        return self.end_s if self.end_s is not None else self.start_s + (self.duration_s or 0.0)


class Expect(_Item):
    """Reserved: expectations on the firmware's decisions, timing and memory. Their contents are defined by a later
    issue; today any mapping (or list) is accepted under these three keys and nothing else."""

    decision: dict[str, Any] | list[Any] | None = None
    timing: dict[str, Any] | list[Any] | None = None
    memory: dict[str, Any] | list[Any] | None = None


MAX_TIMELINE_SEGMENTS = 1000


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = Field(1, description="scenario file format version")
    name: str | None = None
    description: str = ""
    board: str = Field(
        description="board id from platforms/ (stm32f405, stm32f205); `stm32f405@84MHz` runs it at a lower clock"
    )
    firmware: str | None = Field(None, description="firmware ELF path, relative to the scenario file")
    app: str | None = Field(None, description="name of a built-in application (instead of firmware)")
    model: str | None = Field(None, description="ML model file the firmware embeds, for the report")
    seed: int = Field(ge=0, le=2**63 - 1, description="root seed; every random draw derives from it")
    duration_s: float = Field(gt=0, le=3600)
    sensors: list[SensorSpec] = Field(min_length=1)
    # Bounded: every segment costs work in the verdicts and the plot; 1000 is one segment per 3.6 s of the longest
    # scenario (duration_s <= 3600).
    timeline: list[Segment] = Field(default_factory=list, max_length=MAX_TIMELINE_SEGMENTS)
    expect: Expect | None = Field(None, description="reserved for expectations (decision, timing, memory)")

    _path: Path | None = PrivateAttr(None)

    @field_validator("app")
    @classmethod
    def _app_is_a_name(cls, v: str | None) -> str | None:
        # A name, never a path: the app's directory (whose make fragment the build runs) is chosen by the project
        # or by the user's --app-dir, not by a scenario file (build.firmware.find_app).
        if v is not None and not APP_NAME.fullmatch(v):
            raise ValueError(
                f"{short_repr(v)} is not an app name (letters, digits, _ and -, not a path); an app outside "
                "firmware/apps is named here and its parent directory given with `cosim run --app-dir DIR`"
            )
        return v

    @model_validator(mode="after")
    def _firmware_or_app(self) -> Scenario:
        if self.firmware is None and self.app is None:
            raise ValueError("give either firmware (an ELF path) or app (a built-in application name)")
        if self.firmware is not None and self.app is not None:
            raise ValueError("give either firmware or app, not both")
        return self

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def base_dir(self) -> Path:
        return self._path.parent if self._path is not None else Path.cwd()

    def part_of(self, sensor: SensorSpec) -> Part:
        return load_part(sensor.part, self.base_dir)

    def generate(self, seed: int | None = None) -> dict[str, SampleStream]:
        """Sensor id -> SampleStream; the same seed gives the same bytes in any process."""
        return generate_streams(self, self.seed if seed is None else seed)


def _choices(values: list[float]) -> str:
    return ", ".join(fmt_num(v) for v in values)


def semantic_problems(scn: Scenario, boards: list[str]) -> list[tuple[Loc, str]]:
    """Checks that need the part files, the board list or several fields at once."""
    problems: list[tuple[Loc, str]] = []
    board_id, clocked, _mhz = scn.board.partition("@")  # `stm32f405@84MHz`: the board below its default clock
    if boards and board_id not in boards:
        problems.append((("board",), f"{scn.board!r} is not one of {', '.join(boards)}"))
    elif clocked:
        try:
            load_board(scn.board)
        except BadInput as exc:
            problems.append((("board",), str(exc)))
    confinement = confinement_problems(scn)  # firmware/part paths outside the source roots are never read
    problems += confinement
    seen: dict[str, int] = {}
    streams: dict[int, int] = {}
    for i, s in enumerate(scn.sensors):
        at: Loc = ("sensors", i)
        if s.id in seen:
            problems.append(((*at, "id"), f"{s.id!r} is already the id of sensors[{seen[s.id]}]"))
        seen.setdefault(s.id, i)
        stream = s.stream if s.stream is not None else i
        if stream in streams:
            problems.append(((*at, "stream"), f"{stream} is already the stream of sensors[{streams[stream]}]"))
        streams.setdefault(stream, i)
        if any(loc == (*at, "part") for loc, _ in confinement):
            continue
        if find_part(s.part, scn.base_dir) is None:
            known = ", ".join(available_parts())
            problems.append(((*at, "part"), f"{s.part!r} is not one of {known} (or a path to a part .yaml file)"))
            continue
        try:
            part = scn.part_of(s)
        except BadInput as exc:
            problems.append(((*at, "part"), f"part file is invalid: {exc}"))
            continue
        problems += _sensor_problems(s, part, at)
    problems += _timeline_problems(scn)
    return problems


def _sensor_problems(s: SensorSpec, part: Part, at: Loc) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    if s.odr_hz is not None and s.odr_hz not in part.odr_hz:
        problems.append(((*at, "odr_hz"), f"{fmt_num(s.odr_hz)} is not one of {_choices(part.odr_hz)}"))
    if s.range_g is not None:
        if part.kind != "accelerometer":
            problems.append(
                ((*at, "range_g"), f"only accelerometers have range_g; {part.id} is {KIND_NAMES[part.kind]}")
            )
        elif s.range_g not in part.ranges:
            problems.append(((*at, "range_g"), f"{fmt_num(s.range_g)} is not one of {_choices(part.range_choices)}"))
    if s.mode is not None and s.mode not in part.modes:
        problems.append(((*at, "mode"), f"{s.mode!r} is not one of {', '.join(part.modes)}"))
    nch = len(part.channels)
    if isinstance(s.cross_axis, list) and (len(s.cross_axis) != nch or any(len(r) != nch for r in s.cross_axis)):
        problems.append(((*at, "cross_axis"), f"must be a {nch}x{nch} matrix for {part.id}"))
    channels = ", ".join(part.channels)
    for j, src in enumerate(s.signal):
        here = (*at, "signal", j)
        if src.type in VECTOR_ONLY and nch != 3:
            problems.append(((*here, "type"), f"{src.type} needs a 3-axis part; {part.id} has channels {channels}"))
        axis = getattr(src, "axis", None)
        if isinstance(axis, str) and axis not in part.channels:
            problems.append(((*here, "axis"), f"{axis!r} is not one of {channels}"))
        if isinstance(axis, list) and nch != 3:
            problems.append(
                ((*here, "axis"), f"a direction vector needs a 3-axis part; {part.id} has channels {channels}")
            )
        if src.type == "constant" and isinstance(src.value, list) and len(src.value) != nch:
            problems.append(((*here, "value"), f"has {len(src.value)} values; {part.id} has {nch} channel(s)"))
        if src.type == "csv" and len(src.columns) not in (1, nch):
            problems.append(((*here, "columns"), f"give 1 or {nch} columns for {part.id} ({channels})"))
        if src.type == "csv" and src.time_column is None and src.rate_hz is None:
            problems.append(((*here, "rate_hz"), "required when time_column is not given"))
    for j, imp in enumerate(s.impairments):
        here = (*at, "impairments", j)
        for c in imp.channels or []:
            if c not in part.channels:
                problems.append(((*here, "channels"), f"{c!r} is not one of {channels}"))
        if imp.type == "mounting_rotation" and nch != 3:
            problems.append(
                ((*here, "type"), f"mounting_rotation needs a 3-axis part; {part.id} has channels {channels}")
            )
        if imp.type == "dropout" and imp.channels is not None:
            problems.append(((*here, "channels"), "a dropout loses whole samples; remove channels"))
    return problems


def _timeline_problems(scn: Scenario) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    previous = None
    for i, seg in enumerate(scn.timeline):
        if seg.start_s >= scn.duration_s:
            problems.append(
                (("timeline", i, "start_s"), f"{seg.start_s:g} is not before duration_s ({scn.duration_s:g})")
            )
        elif seg.stop_s > scn.duration_s + 1e-9:
            key = "end_s" if seg.end_s is not None else "duration_s"
            problems.append((("timeline", i, key), f"ends at {seg.stop_s:g} s, after duration_s ({scn.duration_s:g})"))
        if previous is not None and seg.start_s < previous.stop_s - 1e-9:
            problems.append(
                (
                    ("timeline", i, "start_s"),
                    f"{seg.start_s:g} overlaps timeline[{i - 1}] (ends at {previous.stop_s:g})",
                )
            )
        previous = seg
    return problems
