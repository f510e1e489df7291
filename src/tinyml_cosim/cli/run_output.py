"""What `cosim run ELF` prints besides the console and the ending: the stack high-water mark the engine painted
and, per measured function (`--measure`), calls, min, median, max and total instructions with their exactness."""

from __future__ import annotations

import statistics
from typing import Any


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
        out[name] = {
            "calls": len(counts),
            "min": min(counts),
            "median": statistics.median_low(counts),
            "max": max(counts),
            "total": sum(counts),
            "exact": exact,
            "precision": precision,
        }
    return out


def run_extra_lines(record: Any, summary: dict[str, dict[str, Any]]) -> list[str]:
    """The `[stack]` and `[measure]` lines of the text output."""
    out = []
    if record.stack_used is not None or record.stack_used_source:
        used = f"{record.stack_used:,} B" if record.stack_used is not None else "unknown"
        out.append(f"[stack] high-water mark {used} ({record.stack_used_source})")
    for name, m in summary.items():
        label = "exact" if m["exact"] else f"approximate (±{m['precision']} per call)"
        out.append(
            f"[measure] {name}: {m['calls']} calls, instructions per call min {m['min']:,} median {m['median']:,} "
            f"max {m['max']:,}, total {m['total']:,} ({label} retired instructions, entry through return)"
        )
    return out
