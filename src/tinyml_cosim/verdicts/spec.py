"""The `expect:` block of a scenario, typed: alignment/timing/memory settings plus comparisons to check.

```yaml
expect:
  decision:            # settings: window_s, debounce_s, grace_s, straddle, tolerance_s, background
    accuracy: ">= 0.95"
    false_alarms_per_hour: "<= 1"
    detection_latency_ms: "<= 500"
    missed_events: "== 0"
    per_class:
      shaking: {recall: ">= 0.9", precision: ">= 0.9", detection_latency_ms: "<= 400"}
  timing:              # settings: span, window_period_ms, kernels (ref | cmsis-nn: which silicon factor)
    deadline_ms: 5     # observed maximum inference time must not exceed it (margin in %)
    inference_instructions: "<= 200000"
    inference_ms: "<= 2"
    cpu_load: "<= 0.5" # the largest per-window share of the window period spent in spans
  memory:              # settings: fail_above_pct (90), warn_above_pct (70), limits: {flash_bytes, ram_bytes}
    flash_bytes: "<= 65536"
    ram_bytes: "<= 32768"
    static_ram_bytes: "<= 16384"
    stack_bytes: "<= 2048"
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from tinyml_cosim.verdicts.decisions import Alignment
from tinyml_cosim.verdicts.expect import Comparison, ExpectationError, parse_comparison
from tinyml_cosim.verdicts.memory import MemoryPolicy
from tinyml_cosim.verdicts.timing import TimingConfig

DECISION_METRICS = ("accuracy", "false_alarms_per_hour", "false_alarms", "detection_latency_ms", "missed_events")
CLASS_METRICS = ("precision", "recall", "detection_latency_ms", "missed_events")
TIMING_METRICS = ("inference_instructions", "inference_ms", "cpu_load")
MEMORY_METRICS = ("flash_bytes", "ram_bytes", "static_ram_bytes", "stack_bytes")


@dataclass
class ExpectSpec:
    alignment: Alignment = field(default_factory=Alignment)
    decision: dict[str, Comparison] = field(default_factory=dict)
    per_class: dict[str, dict[str, Comparison]] = field(default_factory=dict)
    timing_cfg: TimingConfig = field(default_factory=TimingConfig)
    deadline_ms: float | None = None
    timing: dict[str, Comparison] = field(default_factory=dict)
    memory_policy: MemoryPolicy = field(default_factory=MemoryPolicy)
    memory: dict[str, Comparison] = field(default_factory=dict)

    @property
    def has_decision(self) -> bool:
        return bool(self.decision or self.per_class)


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ExpectationError(where, f"must be a mapping of names to expectations, got {type(raw).__name__}")
    return raw


def _settings(model: type[BaseModel], raw: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ExpectationError(f"{where}.{loc}", err["msg"]) from None


def _split(raw: dict[str, Any], settings: tuple[str, ...], metrics: tuple[str, ...], where: str, extra=()):
    cfg, comps = {}, {}
    for k, v in raw.items():
        if k in settings:
            cfg[k] = v
        elif k in metrics:
            comps[k] = parse_comparison(v, f"{where}.{k}")
        elif k not in extra:
            allowed = ", ".join([*metrics, *settings, *extra])
            raise ExpectationError(f"{where}.{k}", f"unknown key {k!r}; allowed: {allowed}")
    return cfg, comps


def parse_expect(expect: Any, where: str = "expect") -> ExpectSpec:
    """`expect` is the scenario's Expect model (or a dict with decision/timing/memory)."""
    get = (lambda k: expect.get(k)) if isinstance(expect, dict) else (lambda k: getattr(expect, k, None))
    spec = ExpectSpec()
    if expect is None:
        return spec
    d = _mapping(get("decision"), f"{where}.decision")
    cfg, spec.decision = _split(d, tuple(Alignment.model_fields), DECISION_METRICS, f"{where}.decision", ("per_class",))
    spec.alignment = _settings(Alignment, cfg, f"{where}.decision")
    for cls, metrics in _mapping(d.get("per_class"), f"{where}.decision.per_class").items():
        here = f"{where}.decision.per_class.{cls}"
        _, spec.per_class[str(cls)] = _split(_mapping(metrics, here), (), CLASS_METRICS, here)
    t = _mapping(get("timing"), f"{where}.timing")
    cfg, spec.timing = _split(t, tuple(TimingConfig.model_fields), TIMING_METRICS, f"{where}.timing", ("deadline_ms",))
    spec.timing_cfg = _settings(TimingConfig, cfg, f"{where}.timing")
    if "deadline_ms" in t:
        dl = t["deadline_ms"]
        if isinstance(dl, bool) or not isinstance(dl, int | float) or dl <= 0:
            raise ExpectationError(f"{where}.timing.deadline_ms", f"{dl!r} must be a positive number of milliseconds")
        spec.deadline_ms = float(dl)
    m = _mapping(get("memory"), f"{where}.memory")
    cfg, spec.memory = _split(m, tuple(MemoryPolicy.model_fields), MEMORY_METRICS, f"{where}.memory")
    spec.memory_policy = _settings(MemoryPolicy, cfg, f"{where}.memory")
    if spec.memory_policy.warn_above_pct > spec.memory_policy.fail_above_pct:
        raise ExpectationError(f"{where}.memory.warn_above_pct", "must not be above fail_above_pct")
    return spec
