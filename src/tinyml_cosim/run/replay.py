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
    if not path.is_file():
        raise BadInput(f"{path}: no such file (give a report directory written by `cosim run SCENARIO.yaml`)")
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise BadInput(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object")
    return data


def inference_spans(record: RunRecord, span: str) -> list[Span]:
    return [s for s in record.spans if s.name == span]


def find_window(run_dir: Path, window: int | None = None, seed: int | None = None) -> Window:
    """The window to replay: inference `window` of `seed` (default the report's first seed), or — without
    `window` — the observed maximum (the seed and inference the report names)."""
    run_dir = Path(run_dir)
    report = _load_json(run_dir / "report.json")
    scn = report.get("scenario") or {}
    timing = report.get("timing") or {}
    span = timing.get("span", "inference")
    if window is None:
        at = timing.get("observed_maximum_at")
        if not at:
            raise BadInput(f"{run_dir}/report.json: no observed maximum (the run measured no {span!r} spans)")
        seed, index, why = int(at["seed"]), int(at["index"]), "the observed maximum"
    else:
        if window < 0:
            raise BadInput(f"--window must be 0 or more (inferences are numbered from 0), got {window}")
        seeds = report.get("seeds") or []
        seed = seed if seed is not None else (seeds[0] if seeds else None)
        if seed is None:
            raise BadInput(f"{run_dir}/report.json: no seeds")
        index, why = window, f"inference #{window}"
    rec_path = run_dir / f"run-seed{seed}.json"
    if not rec_path.is_file():
        raise BadInput(f"{rec_path}: no run record for seed {seed} in {run_dir}")
    record = RunRecord.model_validate_json(rec_path.read_text())
    spans = inference_spans(record, span)
    if index >= len(spans):
        raise BadInput(f"{rec_path}: seed {seed} made {len(spans)} {span!r} spans; there is no inference #{index}")
    scenario = Path(scn.get("path", ""))
    if not scenario.is_file():
        raise BadInput(f"{run_dir}/report.json: the scenario {scenario} is gone (replay from where the run was made)")
    elf = Path(scn.get("firmware", ""))
    if not elf.is_file() or file_sha256(elf) != record.elf_sha256:
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
