"""A sweep file expanded into points: each point is one scenario run (one seed) with its full configuration and a
stable hash of it, which keys its stored result (tinyml_cosim.sweep.store) so a re-run skips what is done.

Loading checks everything a run would trip on later, each problem as `file:line: field: problem`: the sweep file's
structure, the base scenario, every axis path against the base, the expectations' syntax, and every point's
scenario (structure and the part, board and timeline checks of `cosim scenario validate`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tinyml_cosim.core.boards import available_boards, board_ref, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import confined
from tinyml_cosim.core.yamlfile import format_loc, load_yaml
from tinyml_cosim.scenario.confine import outside
from tinyml_cosim.scenario.load import _clean_loc, _message, format_problem
from tinyml_cosim.scenario.load import problems as scenario_problems
from tinyml_cosim.scenario.model import Scenario, semantic_problems
from tinyml_cosim.sweep import axes
from tinyml_cosim.sweep.expect import ExpectParseError, check_columns, parse_expectation
from tinyml_cosim.sweep.model import Sweep
from tinyml_cosim.sweep.sources import SourceDigests

SPECIAL_AXES = ("board", "clock_hz", "kernels", "model", "seed")
HASH_VERSION = 2  # bump when the hashed configuration changes meaning: every stored result is then stale
# 2: the content (sha256) of every source file the scenario reads is hashed, not only its path


@dataclass(frozen=True)
class BuildConfig:
    """What makes one firmware binary: the points that share it share one build."""

    board: str
    app: str | None  # None: the base scenario names a prebuilt `firmware:`
    model: str | None  # absolute path
    kernels: str
    firmware: str | None = None  # absolute path of the prebuilt ELF (app is None)

    @property
    def label(self) -> str:
        model = Path(self.model).name if self.model else "default model"
        return f"{self.app or Path(self.firmware or '').name}/{self.board}/{self.kernels}/{model}"


@dataclass(frozen=True)
class Point:
    index: int
    values: dict[str, Any]  # axis name -> value, then board, kernels, model (file name), seed
    scenario: dict[str, Any]  # the point's whole scenario, paths absolute
    kernels: str
    build: BuildConfig
    hash: str

    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items())


@dataclass
class SweepPlan:
    sweep: Sweep
    path: Path
    base_path: Path
    axis_names: list[str]  # the sweep's axes, then the special ones that vary or are set
    points: list[Point]
    excluded: int
    expectations: list[Any] = field(default_factory=list)  # tinyml_cosim.sweep.expect.Expectation

    @property
    def name(self) -> str:
        return self.sweep.name or self.path.stem

    @property
    def builds(self) -> list[BuildConfig]:
        return list(dict.fromkeys(p.build for p in self.points))


def point_hash(
    scenario: dict[str, Any], kernels: str, engine: str | None, sources: dict[str, str] | None = None
) -> str:
    """sha256 over the canonical JSON of everything that makes the point's run: its scenario, kernel set, engine,
    and the content of the files it reads (`sources`: path -> sha256, tinyml_cosim.sweep.sources)."""
    doc = {"v": HASH_VERSION, "scenario": scenario, "kernels": kernels, "engine": engine, "sources": sources or {}}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _absolute(value: Any, base_dir: Path) -> Any:
    if not isinstance(value, str) or not value:
        return value
    p = Path(value)
    return str(p if p.is_absolute() else (base_dir / p).resolve())


def absolute_paths(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """The scenario's file references made absolute, so the point's scenario can live anywhere."""
    out = dict(data)
    for key in ("firmware", "model"):
        if key in out and out[key] is not None:
            out[key] = _absolute(out[key], base_dir)
    sensors = []
    for s in out.get("sensors") or []:
        if isinstance(s, dict):
            s = dict(s)
            part = s.get("part")
            if isinstance(part, str) and part.endswith((".yaml", ".yml")):
                s["part"] = _absolute(part, base_dir)
            signal = []
            for src in s.get("signal") or []:
                if isinstance(src, dict) and isinstance(src.get("path"), str):
                    src = {**src, "path": _absolute(src["path"], base_dir)}
                signal.append(src)
            if "signal" in s:
                s["signal"] = signal
        sensors.append(s)
    if "sensors" in out:
        out["sensors"] = sensors
    return out


def _scenario_kernels(data: dict[str, Any]) -> str:
    timing = ((data.get("expect") or {}).get("timing") or {}) if isinstance(data.get("expect"), dict) else {}
    k = timing.get("kernels") if isinstance(timing, dict) else None
    return str(k) if k else "ref"


def _matches(values: dict[str, Any], entry: dict[str, Any]) -> bool:
    for key, want in entry.items():
        wants = want if isinstance(want, list) else [want]
        if values.get(key) not in wants:
            return False
    return True


class _Problems:
    def __init__(self, path: Path, lines: dict[tuple[Any, ...], int]) -> None:
        self.path = path
        self.lines = lines
        self.items: list[str] = []
        self._told: set[str] = set()

    def add(self, loc: tuple[str | int, ...], message: str) -> None:
        self.items.append(format_problem(self.path, self.lines, loc, message))

    def add_once(self, loc: tuple[str | int, ...], message: str, key: str | None = None) -> None:
        """`message`, unless one with the same `key` (default: the message) was added: a problem every point of
        the sweep shares is told for the first point only."""
        if (key or message) not in self._told:
            self._told.add(key or message)
            self.add(loc, message)

    def raise_if_any(self) -> None:
        if self.items:
            raise BadInput("\n".join(dict.fromkeys(self.items)))


def load_sweep(path: str | Path) -> tuple[Sweep, dict[tuple[Any, ...], int]]:
    """The sweep file, structurally valid; BadInput with one `file:line: field: problem` line per problem."""
    path = Path(path)
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise BadInput(f"{path}:1: (top level): expected a mapping of fields, got {type(data).__name__}")
    try:
        return Sweep.model_validate(data), lines
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            loc = _clean_loc(err["loc"], data)
            msg = _message(err, loc, data)
            if err["type"] == "extra_forbidden":
                msg = f"unknown field; allowed fields are {', '.join(sorted(Sweep.model_fields))}"
            out.append(format_problem(path, lines, loc, msg))
        raise BadInput("\n".join(dict.fromkeys(out))) from None


def plan_sweep(path: str | Path, engine: str | None = None) -> SweepPlan:
    """Every point of the sweep at `path`, checked; BadInput listing every problem."""
    path = Path(path)
    sweep, lines = load_sweep(path)
    probs = _Problems(path, lines)
    engine = engine or sweep.engine
    base_path = (path.parent / sweep.base).resolve()
    # The base scenario and the models are confined like a scenario's own files (scenario/confine.py).
    for loc, name, what in [(("base",), sweep.base, "the base scenario"), *_model_fields(sweep)]:
        if not confined(path.parent, name):
            probs.add(loc, outside(name, what, beside="sweep"))
    probs.raise_if_any()
    if not base_path.is_file():
        probs.add(("base",), f"{sweep.base!r}: no such scenario file (relative to {path.parent})")
        probs.raise_if_any()
    found = scenario_problems(base_path)
    if found:
        probs.add(("base",), f"the base scenario has problems: {found[0]}" + (" (and more)" if found[1:] else ""))
        probs.raise_if_any()
    base_data, _ = load_yaml(base_path)
    base_data = absolute_paths(base_data, base_path.parent)
    _check_axes(sweep, base_data, probs)
    firmware_base = base_data.get("firmware") is not None
    if firmware_base and (sweep.board or sweep.model or sweep.kernels):
        probs.add(("base",), "the base scenario names a prebuilt firmware: board, model and kernels need app: there")
    expectations = []
    for i, text in enumerate(sweep.expect):
        try:
            exp = parse_expectation(text)
            check_columns(exp, [*sweep.axes, *SPECIAL_AXES])
            expectations.append(exp)
        except ExpectParseError as exc:
            probs.add(("expect", i), str(exc))
    probs.raise_if_any()

    plan = _expand(sweep, path, base_path, base_data, engine, probs)
    plan.expectations = expectations
    probs.raise_if_any()
    return plan


def _check_axes(sweep: Sweep, base_data: dict[str, Any], probs: _Problems) -> None:
    """The axes against the base scenario, the clocks and the exclusions: problems added to `probs`."""
    for name, _values in sweep.axes.items():
        if name in SPECIAL_AXES:
            probs.add(("axes", name), f"set {name} at the top level of the sweep file, not under axes")
            continue
        try:
            axes.check_path(base_data, name)
        except axes.PathError as exc:
            probs.add(("axes", name), str(exc))
    if sweep.combine == "zip":
        lengths = {len(v) for v in sweep.axes.values()}
        if len(lengths) > 1:
            shown = ", ".join(f"{k} has {len(v)}" for k, v in sweep.axes.items())
            probs.add(("combine",), f"zip needs axes of equal length ({shown})")
    for name, values in sweep.axes.items():
        if not values:
            probs.add(("axes", name), "give at least one value")
    for i, hz in enumerate(sweep.clock_hz):
        if hz <= 0 or hz % 1_000_000:
            probs.add(("clock_hz", i), f"{hz}: give a positive whole number of MHz, in Hz (e.g. 84000000)")
    known_axes = [*sweep.axes, *SPECIAL_AXES]
    for i, entry in enumerate(sweep.exclude):
        if not entry:
            probs.add(("exclude", i), "name at least one axis")
        for key in entry:
            if key not in known_axes:
                probs.add(("exclude", i, key), f"{key!r} is not an axis; axes are {', '.join(known_axes)}")


def _model_fields(sweep: Sweep) -> list[tuple[tuple[str | int, ...], str, str]]:
    return [(("model", i), m, "the model file") for i, m in enumerate(sweep.model)]


def _expand(
    sweep: Sweep, path: Path, base_path: Path, base_data: dict[str, Any], engine: str | None, probs: _Problems
) -> SweepPlan:
    names = list(sweep.axes)
    value_lists = [sweep.axes[n] for n in names]
    combos = list(zip(*value_lists, strict=True)) if sweep.combine == "zip" else list(itertools.product(*value_lists))
    boards = sweep.board or [str(base_data.get("board"))]
    kernel_sets: list[str] = list(sweep.kernels) or [_scenario_kernels(base_data)]
    models: list[str | None] = [str((path.parent / m).resolve()) for m in sweep.model] or [base_data.get("model")]
    base_seed = int(base_data.get("seed", 0))
    seeds = [base_seed + i for i in range(sweep.seeds)]
    known_boards = available_boards()
    points: list[Point] = []
    excluded = 0
    digests = SourceDigests()
    clocks: list[int | None] = list(sweep.clock_hz) or [None]
    for combo, board, clock, kernels, model, seed in itertools.product(
        combos, boards, clocks, kernel_sets, models, seeds
    ):
        values: dict[str, Any] = dict(zip(names, combo, strict=True))
        values["board"] = board
        if sweep.clock_hz:
            values["clock_hz"] = clock
        values["kernels"] = kernels
        if sweep.model:
            values["model"] = Path(model).name if model else None
        values["seed"] = seed
        if any(_matches(values, e) for e in sweep.exclude):
            excluded += 1
            continue
        data = dict(base_data)
        for n, v in zip(names, combo, strict=True):
            data = axes.set_value(data, n, v)
        if names:  # an axis over files (a part, a signal's CSV) names them relative to the base scenario
            data = absolute_paths(data, base_path.parent)
        # The clock travels in the board id (`stm32f405@84MHz`, core/boards.py): the build and the run both see it.
        data["board"], data["seed"] = board_ref(board, clock), seed
        if model is not None:
            data["model"] = model
        where = f"point {len(points) + excluded} ({_label(values)})"
        _add_point_problems(data, clock is not None and board in known_boards, base_path, known_boards, where, probs)
        build = BuildConfig(
            board=data["board"],  # with its clock: the binary has it (-DCOSIM_CLOCK_HZ)
            app=data.get("app"),
            model=data.get("model") if data.get("app") else None,
            kernels=kernels,
            firmware=data.get("firmware"),
        )
        h = point_hash(data, kernels, engine, digests.of(data))
        points.append(Point(len(points), values, data, kernels, build, h))
    if not points:
        probs.add(("exclude",), "every point is excluded: nothing to run")
    optional = {"model": bool(sweep.model), "clock_hz": bool(sweep.clock_hz)}
    axis_names = names + [k for k in SPECIAL_AXES if optional.get(k, True)]
    return SweepPlan(sweep, path, base_path, axis_names, points, excluded)


def _add_point_problems(
    data: dict[str, Any], clocked: bool, base_path: Path, known_boards: list[str], where: str, probs: _Problems
) -> None:
    """The point's problems (its clock first: a board that cannot run at it has no other checks), each told once."""
    clock_problem = _clock_problem(data["board"]) if clocked else None
    if clock_problem is not None:
        probs.add_once(("clock_hz",), clock_problem)
    for problem in [] if clock_problem else _point_problems(data, base_path, known_boards):
        loc: tuple[str | int, ...] = ("board",) if problem.startswith("board:") else ("axes",)
        probs.add_once(loc, f"{where}: {problem}", key=problem)


def _clock_problem(board: str) -> str | None:
    """Why the board cannot run at the point's clock (above its maximum, no flash latency table), or None."""
    try:
        load_board(board)
    except BadInput as exc:
        return str(exc)
    return None


def _label(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _point_problems(data: dict[str, Any], base_path: Path, boards: list[str]) -> list[str]:
    """The scenario checks of `cosim scenario validate` on one point's scenario, `field: problem` each."""
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        return [
            f"{format_loc(_clean_loc(e['loc'], data))}: {_message(e, _clean_loc(e['loc'], data), data)}"
            for e in exc.errors()
        ]
    scn._path = base_path
    return [f"{format_loc(loc)}: {msg}" for loc, msg in semantic_problems(scn, boards)]
