"""report.json, versioned: the models here are the schema (docs/report.schema.json is generated from them:
`python -m tinyml_cosim.results.model --write`; a test fails when it is stale)."""

from __future__ import annotations

import sys
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from tinyml_cosim.core import resources, schema_files
from tinyml_cosim.results.checks import Check
from tinyml_cosim.run.faults import FaultBlock, ReadableOrder

REPORT_VERSION: Literal[1] = 1
SCHEMA_PATH = resources.SCHEMAS_DIR / "report.schema.json"


class Metric(BaseModel):
    """A metric over the seeds: the value the expectation is checked against, its 95 % CI, and each seed's value."""

    value: float | None = None
    unit: str = ""
    aggregate: str = Field("", description="how seeds combine: pooled counts, mean, max")
    ci95: tuple[float, float] | None = None
    ci_method: Literal["wilson", "t"] | None = None
    per_seed: list[float | None] = []
    counts: tuple[int, int] | None = Field(None, description="(successes, trials) for proportions, pooled")


class RunSummary(FaultBlock, ReadableOrder):
    """One seed's run in report.json: the run record's outcome, its fault block, and what the verdicts counted."""

    KEY_ORDER: ClassVar[tuple[str, ...]] = (
        "seed", "status", "exit_code", "diagnosis", "instructions", "instructions_accuracy", "simulated_seconds",
        "wall_seconds", "decisions", "inferences", "stack_used", "pc", "pc_symbol", "lr", "cfsr", "hfsr", "bfar",
        "mmfar", "fault_bits",
    )  # fmt: skip
    seed: int
    status: str
    exit_code: int | None = None
    diagnosis: str = ""
    instructions: int | None = None
    instructions_accuracy: str = Field("", description='"exact" or "approximate (±N)", as in the run record')
    simulated_seconds: float | None = None
    wall_seconds: float | None = None
    decisions: int = 0
    inferences: int = 0
    stack_used: int | None = None
    console_tail: list[str] = Field([], description="the last console lines of the run")
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


class LayerCycles(BaseModel):
    """One layer of the longest inference: its exact instructions and estimated cycles, and where they go."""

    index: int
    name: str
    instructions: int
    cycles: int
    parts: dict[str, int] = Field(default_factory=dict, description="cycles by category (loads, ALU/MAC, waits ...)")


class TimingReport(BaseModel):
    span: str
    inferences: int
    time_basis: Literal["instruction time", "calibrated cycles", "estimated cycles"]
    kernels: str = Field("ref", description="kernel set whose silicon factor applies (expect.timing.kernels)")
    cycles_per_instruction: float | None = Field(
        description="silicon cycles per emulated instruction (board file silicon block); None: instruction time"
    )
    factor_band: tuple[float, float] | None = Field(None, description="band of the factor (low, high)")
    factor_provenance: str = Field(description="the factor's source, or why there is none")
    factor_summary: str = Field("", description="factor, source and band in one line, as every report prints it")
    clock_hz: int
    instructions: dict[str, Metric] = Field(description="min, median, p99, observed_maximum (instructions)")
    cycles: dict[str, Metric] | None = Field(
        None, description="estimated cycles per inference (cycle model): min, median, p99, observed_maximum"
    )
    cycle_band: tuple[float, float] | None = Field(None, description="the estimate's band as ratios (low, high)")
    cycle_model: str = Field("", description="core timing tables and memory system the estimate used, with sources")
    cycle_validation: str = Field("", description="the model's measured error against silicon")
    layers: list[LayerCycles] = Field(default_factory=list, description="per layer of the longest inference")
    time_ms: dict[str, Metric] = Field(description="the same in ms (estimated cycles, factor or instructions)")
    time_ms_band: dict[str, tuple[float, float]] | None = Field(
        None, description="the same at the band's low and high end (calibrated only)"
    )
    observed_maximum_at: dict[str, Any] | None = Field(None, description="seed, index, time_s of that inference")
    deadline_ms: float | None = None
    deadline_checked_ms: float | None = Field(
        None, description="the time compared with the deadline: observed maximum at the band's upper end"
    )
    deadline_basis: str = ""
    deadline_margin_pct: float | None = Field(None, description="(deadline - checked time) / deadline x 100")
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


class StackPathReport(BaseModel):
    bytes: int = Field(description="known bytes of the deepest path (frames summed)")
    path: list[str] = Field(description="the functions of the deepest path, outermost first")
    known: bool = Field(description="false: something on the way is unknown (see unknown); bytes is a lower bound")


class StackLevelReport(BaseModel):
    """One interrupt nesting level: the worst handler at this preemption priority, with its exception frame."""

    priority: int | None = Field(description="preemption priority; None: configurable and possibly set at run time")
    exception: str = Field(description="the exception of the worst handler at this level, e.g. HardFault, IRQ50")
    vector: int
    handler: str
    handler_bytes: int
    frame_bytes: int = Field(description="exception frame (32 B, 104 B with FPU context) + 4 B alignment padding")
    path: list[str]
    known: bool = Field(description="false: a handler at this level has something unknown on its paths")


class StackUnknownReport(BaseModel):
    kind: Literal["recursion", "function pointer", "dynamic frame", "no information"]
    function: str
    detail: str


class StaticStackReport(BaseModel):
    """Static stack worst case from -fstack-usage / -fcallgraph-info (tinyml_cosim/stack_static.py)."""

    available: bool = Field(description="false: no stack-usage output beside the ELF (summary says why)")
    worst_bytes: int | None = Field(
        None, description="thread + one worst handler and frame per nesting level; None when unknown"
    )
    lower_bound_bytes: int | None = Field(None, description="the known part (equals worst_bytes when known)")
    summary: str
    thread: StackPathReport | None = None
    levels: list[StackLevelReport] = []
    unknown: list[StackUnknownReport] = Field([], description="what makes the worst case unknown (never zero)")
    exception_frame_bytes: int = 0
    align_pad_bytes: int = 0
    priorities: str = Field("", description="how preemption levels were assigned")
    handlers: dict[str, list[str]] = Field({}, description="handler function -> the exceptions it serves")


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
    stack_static: StaticStackReport | None = Field(None, description="static worst case next to the high-water mark")
    limit_source: str
    fail_above_pct: float
    warn_above_pct: float
    notes: list[str] = []
    harness_flash: int = Field(0, description="bytes of flash_used the co-simulation harness adds (cosim.h runtime)")
    harness_ram: int = Field(
        0, description="bytes of static_ram the harness adds (cosim.h state, host config, the Renode mailbox if linked)"
    )
    product_flash: int | None = Field(None, description="flash_used without the harness: what the product needs")
    product_static_ram: int | None = Field(None, description="static_ram without the harness (stack reservation apart)")


class ScenarioInfo(BaseModel):
    name: str
    path: str
    sha256: str
    board: str
    engine: str
    app: str | None = None
    firmware: str
    duration_s: float


class BaselineDelta(BaseModel):
    """One quantity compared with the baseline report: growth beyond the threshold fails."""

    id: str = Field(description="e.g. baseline.instructions.median, baseline.memory.flash")
    unit: str
    baseline: float | None
    actual: float | None
    delta: float | None = Field(None, description="actual - baseline")
    delta_pct: float | None = Field(None, description="(actual - baseline) / baseline x 100")
    status: Literal["pass", "warn", "fail"]


class BaselineReport(BaseModel):
    path: str = Field(description="the earlier report.json compared with")
    threshold_pct: float = Field(description="growth above this percentage fails")
    baseline_tool_version: str
    baseline_firmware_sha256: list[str] = Field([], description="ELF SHA-256 of the baseline's runs")
    deltas: list[BaselineDelta]
    notes: list[str] = []


class Report(BaseModel):
    report_version: Literal[1] = REPORT_VERSION
    tool_version: str
    verdict: Literal["pass", "fail", "error"]
    exit_code: int = Field(description="0 every expectation holds; 1 one fails or the firmware failed; 3 engine error")
    scenario: ScenarioInfo
    seeds: list[int]
    runs: list[RunSummary]
    checks: list[Check]
    decisions: DecisionReport | None = None
    timing: TimingReport | None = None
    memory: MemoryReport
    baseline: BaselineReport | None = None
    notes: list[str] = []


def failed_run_lines(run: RunSummary) -> list[str]:
    """What a failed run left behind, for the summary and junit: status, diagnosis, PC, fault registers, console."""
    if run.status == "exited" and run.exit_code == 0:
        return []
    out = [f"seed {run.seed}: {run.status}: {run.diagnosis}"]
    regs = [
        f"{name}=0x{value:08x}"
        for name, value in (("PC", run.pc), ("LR", run.lr), ("CFSR", run.cfsr), ("HFSR", run.hfsr),
                            ("BFAR", run.bfar), ("MMFAR", run.mmfar))
        if value is not None
    ]  # fmt: skip
    if regs:
        where = f" ({run.pc_symbol})" if run.pc_symbol else ""
        out.append("  " + " ".join(regs) + where + (f"; {', '.join(run.fault_bits)}" if run.fault_bits else ""))
    if run.console_tail:
        out.append("  last console lines:")
        out += [f"    {line}" for line in run.console_tail[-5:]]
    return out


def schema_text() -> str:
    return schema_files.schema_text(Report, SCHEMA_PATH)


if __name__ == "__main__":
    sys.exit(schema_files.schema_main(sys.argv, Report, SCHEMA_PATH))
