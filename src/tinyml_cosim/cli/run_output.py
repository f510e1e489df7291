"""What `cosim run ELF` prints besides the console and the ending: the stack high-water mark the engine painted
and, per measured function (`--measure`), calls, min, median, max and total instructions with their exactness;
and the files it writes into `--out DIR`."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from tinyml_cosim.results.artefacts import keep_failure_artefacts


def write_run_dir(tmp: Path, record: Any, payload: str, console: list[str]) -> None:
    """The files of `cosim run ELF --out DIR` (into the temporary that replaces DIR): run.json, and for a run that
    failed the whole console and the engine's log (the record carries the engine's log out of run_firmware)."""
    (tmp / "run.json").write_text(payload)
    if not record.succeeded:
        keep_failure_artefacts(tmp, record, console, record.engine_log, write_record=False)


def measure_summary(record: Any) -> dict[str, dict[str, Any]]:
    """Per measured function: calls, min, median, max and total instructions, and their exactness. The counts are
    differences of the engine's instruction counter at entry and return, so they are as exact as the engine's
    counts (`instructions_exact`); otherwise each call is within twice the engine's bound."""
    measured_exact = getattr(record, "measurements_exact", None)
    exact = bool(record.instructions_exact if measured_exact is None else measured_exact)
    precision = 0 if exact else 2 * int(record.instructions_precision or 0)
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(m.function for m in record.measurements):
        counts = [m.instructions for m in record.measurements if m.function == name]
        cycles = [m.cycles for m in record.measurements if m.function == name]
        out[name] = {
            "calls": len(counts),
            "min": min(counts),
            "median": statistics.median_low(counts),
            "max": max(counts),
            "total": sum(counts),
            "exact": exact,
            "precision": precision,
            "cycles": _cycle_stats(cycles),
        }
    return out


def _cycle_stats(cycles: list[int | None]) -> dict[str, int] | None:
    """Estimated cycles per call, when every call has them."""
    if not cycles or any(c is None for c in cycles):
        return None
    known = [int(c or 0) for c in cycles]
    return {"min": min(known), "median": statistics.median_low(known), "max": max(known), "total": sum(known)}


def cycles_line(record: Any) -> str | None:
    """`[cycles]`: the cycle model's estimate of the whole run, labelled as one, or why there is none."""
    c = getattr(record, "cycles", None)
    if c is None:
        why = getattr(record, "cycles_missing", None)
        return f"[cycles] no estimate: {why}" if why else None
    ms = c.total / record.clock_hz * 1000
    line = (
        f"[cycles] estimated {c.total:,} cycles ({ms:.4g} ms at {record.clock_hz / 1e6:g} MHz), band {c.low:,} .. "
        f"{c.high:,}, over the {c.instructions:,} instructions QEMU executed (an estimate; instruction counts are "
        f"exact); {c.model}; {c.validation}"
    )
    if c.unknown_instructions:
        line += f"; {c.unknown_instructions:,} executed instructions without a timing counted at 1 cycle"
    return line + "".join(f"; problem: {p}" for p in c.problems)


def run_extra_lines(record: Any, summary: dict[str, dict[str, Any]]) -> list[str]:
    """The `[stack]`, `[cycles]` and `[measure]` lines of the text output."""
    out = []
    cl = cycles_line(record)
    if cl:
        out.append(cl)
    if record.stack_used is not None or record.stack_used_source:
        used = f"{record.stack_used:,} B" if record.stack_used is not None else "unknown"
        out.append(f"[stack] high-water mark {used} ({record.stack_used_source})")
    for name, m in summary.items():
        label = "exact" if m["exact"] else f"approximate (±{m['precision']} per call)"
        out.append(
            f"[measure] {name}: {m['calls']} calls, instructions per call min {m['min']:,} median {m['median']:,} "
            f"max {m['max']:,}, total {m['total']:,} ({label} retired instructions, entry through return)"
            + (
                f"; estimated cycles per call min {m['cycles']['min']:,} median {m['cycles']['median']:,} max "
                f"{m['cycles']['max']:,}, total {m['cycles']['total']:,} (cycle model estimate)"
                if m.get("cycles")
                else ""
            )
        )
    return out
