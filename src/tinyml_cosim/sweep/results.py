"""One row per point: every axis value and every metric the point's report.json has, as one table
(`results.parquet` through pyarrow, and `results.csv`)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from tinyml_cosim.core.files import write_text_atomically

_RUN_CHECK = re.compile(r"^run\.seed\d+$")
_LIMIT = re.compile(r"^\s*(<=|<)\s*([-+\d.eE]+)\s*$")


def _metric(section: dict[str, Any] | None, *keys: str) -> float | None:
    node: Any = section
    for k in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(k)
    if isinstance(node, dict):
        node = node.get("value")
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def metrics_of(report: dict[str, Any]) -> dict[str, Any]:
    """The point's metrics from its report.json (a dict): decisions, timing, memory and each check's status."""
    out: dict[str, Any] = {"verdict": report.get("verdict"), "exit_code": report.get("exit_code")}
    d = report.get("decisions") or {}
    for name in ("accuracy", "false_alarms_per_hour", "false_alarms", "missed_events", "detection_latency_ms"):
        out[name] = _metric(d.get("metrics"), name)
    for cls, per in sorted((d.get("per_class") or {}).items()):
        out[f"recall.{cls}"] = _metric(per, "recall")
        out[f"detection_latency_ms.{cls}"] = _metric(per, "detection_latency_ms")
    t = report.get("timing") or {}
    out["inferences"] = t.get("inferences")
    out["time_basis"] = t.get("time_basis")
    out["clock_hz"] = t.get("clock_hz")
    out["worst_inference_instructions"] = _metric(t.get("instructions"), "observed_maximum")
    out["worst_inference_cycles"] = _metric(t.get("cycles"), "observed_maximum")
    out["worst_inference_ms"] = _metric(t.get("time_ms"), "observed_maximum")
    out["deadline_ms"] = _metric(t, "deadline_ms")
    out["deadline_checked_ms"] = _metric(t, "deadline_checked_ms")
    out["deadline_margin_pct"] = _metric(t, "deadline_margin_pct")
    out["cpu_load_max"] = _metric(t, "cpu_load_max")
    m = report.get("memory") or {}
    for name in ("flash_used", "flash_limit", "ram_used", "ram_limit", "stack_used", "stack_reserved"):
        out[name] = m.get(name)
    out["stack_static_worst"] = (m.get("stack_static") or {}).get("worst_bytes")
    for c in report.get("checks") or []:
        cid = "run" if _RUN_CHECK.match(str(c.get("id"))) else str(c.get("id"))
        previous = out.get(f"check.{cid}")
        status = str(c.get("status"))
        # One column per check; a repeated id (several runs) keeps its worst status.
        if previous is None or previous == "pass" or status == "fail":
            out[f"check.{cid}"] = status
        limit = _LIMIT.match(str(c.get("expected") or ""))
        if cid == "timing.cpu_load" and limit:
            out["cpu_load_limit"] = float(limit.group(2))
    return out


def row_of(point: Any, result: dict[str, Any] | None) -> dict[str, Any]:
    """The table row of a plan point (tinyml_cosim.sweep.plan.Point) and its stored result (None: not run)."""
    row: dict[str, Any] = {"point": point.hash, "index": point.index}
    row.update(point.values)
    if result is None:
        row["status"] = "missing"
        return row
    row["status"] = result.get("status")
    row["error"] = result.get("error")
    row["report"] = result.get("report")
    row["wall_s"] = result.get("wall_s")
    row["elf_sha256"] = result.get("elf_sha256")
    row.update(result.get("metrics") or {})
    return row


def _column_kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "float" if any(isinstance(v, float) for v in present) else "int"
    return "str"


def normalise(rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Every row with every column (None where absent), each column one type: what Parquet needs."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    kinds = {c: _column_kind([r.get(c) for r in rows]) for c in columns}
    cast = {"float": float, "int": int, "bool": bool, "str": str}
    out = [{c: None if r.get(c) is None else cast[kinds[c]](r[c]) for c in columns} for r in rows]
    return columns, out


def write_table(out: Path, rows: list[dict[str, Any]]) -> list[Path]:
    """results.csv always; results.parquet where pyarrow is installed (the sweep extra)."""
    columns, norm = normalise(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(norm)
    written = [write_text_atomically(out / "results.csv", buf.getvalue())]
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        return written
    table = pa.Table.from_pylist(norm) if norm else pa.table({c: [] for c in columns})
    tmp = out / ".results.parquet.tmp"
    pq.write_table(table, tmp)
    tmp.replace(out / "results.parquet")
    return [*written, out / "results.parquet"]
