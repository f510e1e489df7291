"""`cosim replay RUN_DIR [--window N | --worst] [--gdb]`: run one inference window of an earlier scenario run again,
deterministically — the observed maximum (`--worst`, the default) or inference N — optionally halted under GDB.

The firmware's state at window N (filters, debounce counters, FIFO levels) depends on every window before it, so
the replay re-runs the recorded seed *from boot* with the same ELF and the same sensor streams, and ends the run
right after window N (an instruction budget). Emulation is deterministic: the replayed window takes exactly the
instructions it took in the recorded run, which the replay checks and reports. The cost is the simulated time up
to the window, not the whole scenario.

The scenario run also saves the input of its worst window in the report directory (`worst-window.json` and one
`worst-window-<sensor>.bin` of data-channel bytes per sensor: the samples the part produced between the end of the
previous inference and the start of this one), so the input that gave the observed maximum can be inspected or fed
to a host-side model without any emulator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.provenance import file_sha256
from tinyml_cosim.core.run_limits import default_timeout_s
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.registry import needs_mailbox
from tinyml_cosim.protocol.frames import MAILBOX_DOORBELL_SYMBOL, Event
from tinyml_cosim.run.debug import DebugSession
from tinyml_cosim.run.record import RunRecord, Span
from tinyml_cosim.run.session import RunRequest, run_firmware
from tinyml_cosim.scenario import Scenario, load_scenario
from tinyml_cosim.scenario.delivery import data_service_for, sample_due

# The window's SPAN event line is written after the span ends; the run goes on this many instructions past the
# recorded end so the event is complete (a few microseconds of simulated time).
END_MARGIN_INSTRUCTIONS = 200_000
WORST_WINDOW_META = "worst-window.json"


@dataclass(frozen=True)
class Window:
    """One recorded inference window of a scenario run."""

    run_dir: Path
    scenario: Path
    elf: Path
    board: str
    engine: str
    seed: int
    index: int  # inference number in the run (0-based, as in the report's observed_maximum_at)
    span: str
    begin: int  # instructions at the inference span's begin and end in the recorded run
    end: int
    why: str

    @property
    def instructions(self) -> int:
        return self.end - self.begin

    @property
    def budget(self) -> int:
        return self.end + END_MARGIN_INSTRUCTIONS


def _load_json(path: Path) -> dict[str, Any]:
    if not path.parent.is_dir():
        what = "not a directory" if path.parent.exists() else "no such directory"
        raise BadInput(f"{path.parent}: {what} (give a report directory written by `cosim run SCENARIO.yaml`)")
    if not path.is_file():
        raise BadInput(f"{path}: no such file (give a report directory written by `cosim run SCENARIO.yaml`)")
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror})") from None
    except ValueError as exc:  # also bytes that are not UTF-8
        raise BadInput(f"{path}: not JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object")
    return data


def _field(data: dict[str, Any], path: Path, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """data[key] when it has the right type; a missing key is None; anything else one BadInput naming the field."""
    value = data.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise BadInput(f"{path}: {where}{key}: expected {name}, got {type(value).__name__} (a damaged report?)")
    return value


def _load_record(rec_path: Path) -> RunRecord:
    if not rec_path.is_file():
        raise BadInput(f"{rec_path}: no run record for this seed in {rec_path.parent}")
    try:
        return RunRecord.model_validate_json(rec_path.read_bytes())
    except OSError as exc:
        raise BadInput(f"{rec_path}: cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise BadInput(f"{rec_path}: not a run record: {_first_problem(exc)}") from None


def _first_problem(exc: ValueError) -> str:
    """A pydantic error's first problem on one line (its location and message), else the error's first line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            loc = ".".join(str(x) for x in first.get("loc", ())) or "(top level)"
            return f"{loc}: {first.get('msg', '')}"
        except (IndexError, TypeError, ValueError):
            pass
    return str(exc).splitlines()[0]


def inference_spans(record: RunRecord, span: str) -> list[Span]:
    return [s for s in record.spans if s.name == span]


def find_window(run_dir: Path, window: int | None = None, seed: int | None = None) -> Window:
    """The window to replay: inference `window` of `seed` (default the report's first seed), or — without
    `window` — the observed maximum (the seed and inference the report names)."""
    run_dir = Path(run_dir)
    rpath = run_dir / "report.json"
    report = _load_json(rpath)
    scn = _field(report, rpath, "scenario", dict) or {}
    timing = _field(report, rpath, "timing", dict) or {}
    span = _field(timing, rpath, "span", str, "timing.") or "inference"
    if window is None:
        at = _field(timing, rpath, "observed_maximum_at", dict, "timing.")
        if not at:
            raise BadInput(f"{rpath}: no observed maximum (the run measured no {span!r} spans)")
        at_seed = _field(at, rpath, "seed", int, "timing.observed_maximum_at.")
        at_index = _field(at, rpath, "index", int, "timing.observed_maximum_at.")
        if at_seed is None or at_index is None or at_index < 0:
            raise BadInput(f"{rpath}: timing.observed_maximum_at: needs a seed and an index >= 0 (a damaged report?)")
        seed, index, why = at_seed, at_index, "the observed maximum"
    else:
        if window < 0:
            raise BadInput(f"--window must be 0 or more (inferences are numbered from 0), got {window}")
        seeds = _field(report, rpath, "seeds", list) or []
        seed = seed if seed is not None else (seeds[0] if seeds else None)
        if seed is None:
            raise BadInput(f"{rpath}: no seeds")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise BadInput(f"{rpath}: seeds: expected integers, got {type(seed).__name__} (a damaged report?)")
        index, why = window, f"inference #{window}"
    rec_path = run_dir / f"run-seed{seed}.json"
    if not rec_path.is_file():
        raise BadInput(f"{rec_path}: no run record for seed {seed} in {run_dir}")
    record = _load_record(rec_path)
    spans = inference_spans(record, span)
    if index >= len(spans):
        raise BadInput(f"{rec_path}: seed {seed} made {len(spans)} {span!r} spans; there is no inference #{index}")
    scenario = Path(_field(scn, rpath, "path", str, "scenario.") or "")
    if not str(scenario) or not scenario.is_file():
        raise BadInput(f"{rpath}: the scenario {scenario} is gone (replay from where the run was made)")
    elf = Path(_field(scn, rpath, "firmware", str, "scenario.") or "")
    if not str(elf) or not elf.is_file() or file_sha256(elf) != record.elf_sha256:
        raise BadInput(
            f"{rec_path}: the firmware {elf} is gone or changed since the run (SHA-256 {record.elf_sha256[:12]}…): "
            "the replay must run the same ELF"
        )
    s = spans[index]
    return Window(run_dir, scenario, elf, record.board, record.engine, seed, index, span, s.begin, s.end, why)


def replay_window(
    w: Window, engine: str | None = None, timeout_s: float | None = None
) -> tuple[RunRecord, Span | None]:
    """Run the recorded seed from boot to just past the window's end; the window's span in the new run."""
    engine = engine or w.engine
    if needs_mailbox(engine) and not load_image(w.elf, load_board(w.board)).has_symbol(MAILBOX_DOORBELL_SYMBOL):
        # The replay must run the recorded ELF, so the build cannot be changed to suit the engine.
        raise BadInput(
            f"{w.run_dir}: recorded on {w.engine} with a firmware without the RAM mailbox that {engine}'s data "
            f"channel needs; replay it on {w.engine}, or record the scenario with --engine {engine}"
        )
    scn = load_scenario(w.scenario)
    record = run_firmware(
        RunRequest(
            elf=w.elf,
            board=w.board,
            engine=engine,
            max_instructions=w.budget,
            timeout_s=timeout_s if timeout_s is not None else default_timeout_s(w.budget / record_clock(w.board)),
            data=data_service_for(scn, w.seed),
            scenario=w.scenario,
            seed=w.seed,
        )
    )
    spans = inference_spans(record, w.span)
    return record, spans[w.index] if w.index < len(spans) else None


def record_clock(board: str) -> int:
    return max(1, load_board(board).clock_hz)


def debug_window(w: Window, engine: str | None = None, port: int | None = None) -> DebugSession:
    """A halted debug session (tinyml_cosim.run.debug.DebugSession, not entered) with the recorded seed's sensor
    streams; serve it with `until=window_done(w)` to end it after the window."""
    data = data_service_for(load_scenario(w.scenario), w.seed)
    return DebugSession(w.elf, w.board, engine or w.engine, port, data=data)


def window_done(w: Window) -> Callable[[Event], bool]:
    """For tinyml_cosim.run.debug.serve: true at the window's span event (the host ends the session after it)."""
    seen = 0

    def done(event: Event) -> bool:
        nonlocal seen
        if event.kind == "SPAN" and event.fields.get("name") == w.span:
            seen += 1
        return seen > w.index

    return done


def worst_window_files(scn: Scenario, report: object, records: dict[int | None, RunRecord]) -> dict[str, bytes]:
    """The input of the observed-maximum window, for the report directory: per sensor the data-channel bytes of
    the samples produced between the end of the previous inference and the start of this one, and a JSON index."""
    timing = getattr(report, "timing", None)
    if timing is None:
        return {}
    at = timing.observed_maximum_at
    if not at or at.get("seed") not in records:
        return {}
    seed, index = int(at["seed"]), int(at["index"])
    record = records[seed]
    spans = inference_spans(record, timing.span)
    if index >= len(spans):
        return {}
    start = spans[index - 1].end if index > 0 else 0
    stop = spans[index].begin
    meta: dict[str, Any] = {
        "seed": seed,
        "index": index,
        "span": timing.span,
        "instructions": spans[index].instructions,
        "inference_begin": spans[index].begin,
        "inference_end": spans[index].end,
        "window_from_instructions": start,
        "clock_hz": record.clock_hz,
        "note": "samples the part produced in (window_from_instructions, inference_begin]; replay the window with "
        "`cosim replay REPORT_DIR --worst`",
        "sensors": {},
    }
    files: dict[str, bytes] = {}
    streams = scn.generate(seed)
    for i, spec in enumerate(scn.sensors):
        stream = streams[spec.id]
        due = sample_due(stream, record.clock_hz)
        first = int((due <= start).sum()) if start else 0
        last = int((due <= stop).sum())
        sb = stream.sample_bytes
        name = f"worst-window-{spec.id}.bin"
        files[name] = stream.to_bytes()[first * sb : last * sb]
        meta["sensors"][spec.id] = {
            "stream": spec.stream if spec.stream is not None else i,
            "file": name,
            "first_sample": first,
            "samples": last - first,
            "sample_bytes": sb,
            "first_due_instructions": int(due[first]) if last > first else None,
        }
    files[WORST_WINDOW_META] = (json.dumps(meta, indent=2) + "\n").encode()
    return files
