"""report.json, versioned: the models here are the schema (docs/report.schema.json is generated from them:
`python -m sim.report.model --write`; a test fails when it is stale)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from sim.verdicts.expect import Check

REPORT_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent.parent / "docs" / "report.schema.json"


class Metric(BaseModel):
    """A metric over the seeds: the value the expectation is checked against, its 95 % CI, and each seed's value."""

    value: float | None = None
    unit: str = ""
    aggregate: str = Field("", description="how seeds combine: pooled counts, mean, max")
    ci95: tuple[float, float] | None = None
    ci_method: Literal["wilson", "t"] | None = None
    per_seed: list[float | None] = []
    counts: tuple[int, int] | None = Field(None, description="(successes, trials) for proportions, pooled")


class RunSummary(BaseModel):
    seed: int
    status: str
    exit_code: int | None = None
    diagnosis: str = ""
    instructions: int | None = None
    simulated_seconds: float | None = None
    wall_seconds: float | None = None
    decisions: int = 0
    inferences: int = 0
    stack_used: int | None = None
    fingerprint: str | None = None
    provenance: dict[str, Any] | None = None
    run_record: str = Field(description="file name of the full run record in the report directory")
    console_log: str = Field(description="file name of the console log in the report directory")


class EventReport(BaseModel):
    seed: int
    label: str
    start_s: float
    end_s: float
    detected_s: float | None
    latency_ms: float | None


class DecisionReport(BaseModel):
    alignment: dict[str, Any] = Field(description="window_s, debounce_s, grace_s, straddle, tolerance_s, background")
    alignment_sources: dict[str, str] = Field(description="where each alignment value came from")
    labels: list[str]
    confusion: dict[str, dict[str, int]] = Field(description="truth -> predicted -> count, summed over seeds")
    counts: dict[str, int] = Field(description="decisions by alignment status: scored, grace, straddle, unlabelled")
    metrics: dict[str, Metric]
    per_class: dict[str, dict[str, Metric]]
    events: list[EventReport]
    false_alarm_times: dict[str, list[float]] = Field(description="seed -> simulated times of false alarms")


class TimingReport(BaseModel):
    span: str
    inferences: int
    time_basis: Literal["instruction time", "calibrated cycles"]
    cycles_per_instruction: float | None
    factor_provenance: str
    clock_hz: int
    instructions: dict[str, Metric] = Field(description="min, median, p99, observed_maximum (instructions)")
    time_ms: dict[str, Metric] = Field(description="the same converted to milliseconds")
    observed_maximum_at: dict[str, Any] | None = Field(None, description="seed, index, time_s of that inference")
    deadline_ms: float | None = None
    deadline_margin_pct: float | None = Field(None, description="(deadline - observed maximum) / deadline x 100")
    window_period_s: float | None = None
    window_period_source: str = ""
    cpu_load_max: Metric | None = None
    cpu_load_max_at: dict[str, Any] | None = None


class SectionReport(BaseModel):
    name: str
    address: int
    load_address: int
    size: int
    flash: int
    ram: int


class MemoryReport(BaseModel):
    elf: str
    map_file: str | None
    sections: list[SectionReport]
    components_flash: dict[str, int]
    components_ram: dict[str, int]
    flash_used: int
    flash_limit: int
    flash_pct: float
    ram_used: int = Field(description="static RAM plus the stack reservation")
    ram_limit: int
    ram_pct: float
    static_ram: int
    stack_reserved: int
    stack_used: int | None = Field(None, description="high-water mark from the EXIT event, max over seeds")
    limit_source: str
    fail_above_pct: float
    warn_above_pct: float
    notes: list[str] = []


class ScenarioInfo(BaseModel):
    name: str
    path: str
    sha256: str
    board: str
    engine: str
    app: str | None = None
    firmware: str
    duration_s: float


class Report(BaseModel):
    report_version: Literal[1] = REPORT_VERSION
    tool_version: str
    verdict: Literal["pass", "fail"]
    exit_code: int = Field(description="0 every expectation holds, 1 one fails")
    scenario: ScenarioInfo
    seeds: list[int]
    runs: list[RunSummary]
    checks: list[Check]
    decisions: DecisionReport | None = None
    timing: TimingReport | None = None
    memory: MemoryReport
    notes: list[str] = []


def schema_text() -> str:
    schema = Report.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://tinyml-cosim/report.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    if "--write" in sys.argv:
        SCHEMA_PATH.write_text(schema_text())
        print(f"wrote {SCHEMA_PATH}")
    else:
        print(schema_text(), end="")
