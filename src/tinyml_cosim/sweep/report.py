"""The sweep's HTML page (one file, plots inline as SVG): the expectations, robustness curves (each metric against
each numeric axis, mean over seeds with the 95 % Student-t band, one line per board / kernel set / other axis
value), the "which board fits" table, and the failing points with links to their scenario reports."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup
from matplotlib import colormaps
from matplotlib.figure import Figure

from tinyml_cosim.sweep.axes import short_name
from tinyml_cosim.sweep.expect import ExpectResult
from tinyml_cosim.verdicts.stats import mean_ci

CURVE_METRICS = (
    ("accuracy", "accuracy"),
    ("false_alarms_per_hour", "false alarms per hour"),
    ("detection_latency_ms", "detection latency (ms)"),
    ("worst_inference_ms", "worst inference (ms, estimated)"),
)
SEED_AXIS = "seed"


@dataclass
class Curve:
    axis: str
    metric: str
    title: str
    svg: Markup


@dataclass
class FitRow:
    model: str
    board: str
    kernels: str
    clock_mhz: float | None
    points: int
    deadline: str
    cpu_load: str
    memory: str
    holds: bool
    lowest_clock: str
    # Of the clocks the sweep ran this model/board/kernel set at, the lowest at which every point held (measured).
    lowest_measured: str = "?"


@dataclass
class SweepPage:
    name: str
    description: str
    total: int
    done: int
    errors: int
    expectations: list[ExpectResult]
    curves: list[Curve] = field(default_factory=list)
    fit: list[FitRow] = field(default_factory=list)
    failing: list[dict[str, Any]] = field(default_factory=list)
    run_info: dict[str, Any] = field(default_factory=dict)


def _numeric(values: list[Any]) -> bool:
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _svg(fig: Figure) -> Markup:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return Markup(text[text.find("<svg") :])  # drop the XML prolog: the SVG sits inside the HTML page


def varying(rows: list[dict[str, Any]], axis_names: list[str]) -> list[str]:
    return [a for a in axis_names if len({repr(r.get(a)) for r in rows}) > 1]


def curves(rows: list[dict[str, Any]], axis_names: list[str], sweep_axes: list[str]) -> list[Curve]:
    """One figure per (numeric sweep axis, metric with values): x the axis, y the seeds' mean with its band."""
    done = [r for r in rows if r.get("status") == "done"]
    vary = varying(done, axis_names)
    out = []
    for axis in [a for a in sweep_axes if a in vary and _numeric([r.get(a) for r in done])]:
        line_keys = [a for a in vary if a not in (axis, SEED_AXIS)]
        for metric, title in CURVE_METRICS:
            if not any(isinstance(r.get(metric), int | float) for r in done):
                continue
            groups: dict[tuple[Any, ...], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
            for r in done:
                v = r.get(metric)
                if isinstance(v, int | float) and not math.isnan(v):
                    groups[tuple(r.get(k) for k in line_keys)][float(r[axis])].append(float(v))
            fig = Figure(figsize=(6.0, 3.4))
            ax = fig.add_subplot()
            cmap = colormaps["tab10"]
            for i, (key, by_x) in enumerate(sorted(groups.items(), key=lambda kv: repr(kv[0]))):
                xs = sorted(by_x)
                stats = [mean_ci(by_x[x]) for x in xs]
                mean = [s[0] for s in stats if s]
                label = ", ".join(f"{short_name(k, axis_names)}={v}" for k, v in zip(line_keys, key, strict=True))
                ax.plot(xs, mean, marker="o", color=cmap(i % 10), label=label or metric)
                ax.fill_between(
                    xs, [s[1] for s in stats if s], [s[2] for s in stats if s], color=cmap(i % 10), alpha=0.18
                )
            ax.set_xlabel(short_name(axis, axis_names))
            ax.set_ylabel(title)
            ax.grid(alpha=0.3)
            if groups and line_keys:
                ax.legend(fontsize=7)
            out.append(Curve(axis, metric, f"{title} vs {short_name(axis, axis_names)}", _svg(fig)))
    return out


def _fmt_pct(x: float | None) -> str:
    return "?" if x is None else f"{x:.1f} %"


def fit_table(rows: list[dict[str, Any]], base_model: str) -> list[FitRow]:
    """Per model, board, kernel set and clock: do deadline, CPU load and memory hold on every point, with the
    margins; and the lowest clock at which they would (the worst estimated cycles scaled to the clock)."""
    done = [r for r in rows if r.get("status") == "done"]
    groups: dict[tuple[str, str, str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in done:
        key = (str(r.get("model") or base_model), str(r.get("board")), str(r.get("kernels")), r.get("clock_hz"))
        groups[key].append(r)
    out = []
    for (model, board, kernels, clock), rs in sorted(groups.items(), key=lambda kv: repr(kv[0])):
        dl_ok = all(r.get("check.timing.deadline_ms") in ("pass", "warn") for r in rs)
        load_ok = all(r.get("check.timing.cpu_load", "pass") in ("pass", "warn") for r in rs)
        mem_checks = [k for r in rs for k in r if k.startswith("check.memory.")]
        mem_ok = all(r.get(k, "pass") in ("pass", "warn") for r in rs for k in mem_checks)
        checked = [r["deadline_checked_ms"] for r in rs if isinstance(r.get("deadline_checked_ms"), float)]
        deadline = next((r["deadline_ms"] for r in rs if isinstance(r.get("deadline_ms"), float)), None)
        margins = [r["deadline_margin_pct"] for r in rs if isinstance(r.get("deadline_margin_pct"), float)]
        loads = [r["cpu_load_max"] for r in rs if isinstance(r.get("cpu_load_max"), float)]
        limit = next((r["cpu_load_limit"] for r in rs if isinstance(r.get("cpu_load_limit"), float)), None)
        flash = max((r["flash_used"] / r["flash_limit"] * 100 for r in rs if r.get("flash_limit")), default=None)
        ram = max((r["ram_used"] / r["ram_limit"] * 100 for r in rs if r.get("ram_limit")), default=None)
        if checked and deadline:
            verdict = "holds" if dl_ok else "FAILS"
            dl = f"{verdict}: worst {max(checked):.2f} of {deadline:g} ms, margin {min(margins):.1f} %"
        else:
            dl = "not checked (no deadline_ms in the scenario)"
        load = (
            f"{'holds' if load_ok else 'FAILS'}: max {max(loads):.4f}" + (f" of {limit:g}" if limit else "")
            if loads
            else "not measured"
        )
        mem = f"{'holds' if mem_ok else 'FAILS'}: flash {_fmt_pct(flash)}, RAM {_fmt_pct(ram)} of the board"
        # Lowest clock: the same cycles at a lower clock take longer in proportion. Flash wait states fall with
        # the clock, so the real figure is at or below this one (the estimate is on the safe side).
        ratios = []
        if checked and deadline:
            ratios.append(max(checked) / deadline)
        if loads and limit:
            ratios.append(max(loads) / limit)
        lowest = "?"
        if clock and ratios:
            f_min = math.ceil(float(clock) * max(ratios) / 1e6)
            lowest = f"≈ {f_min} MHz (scaled from {float(clock) / 1e6:g} MHz)"
        out.append(
            FitRow(
                model=model,
                board=board,
                kernels=kernels,
                clock_mhz=float(clock) / 1e6 if clock else None,
                points=len(rs),
                deadline=dl,
                cpu_load=load,
                memory=mem,
                holds=dl_ok and load_ok and mem_ok,
                lowest_clock=lowest,
            )
        )
    return _with_lowest_measured(out)


def _with_lowest_measured(rows: list[FitRow]) -> list[FitRow]:
    """Each row with the lowest swept clock of its model, board and kernel set at which deadline, CPU load and
    memory held on every point: measured at that clock (its own wait states), not scaled."""
    by_target: dict[tuple[str, str, str], list[FitRow]] = defaultdict(list)
    for r in rows:
        by_target[(r.model, r.board, r.kernels)].append(r)
    for group in by_target.values():
        clocks = sorted(r.clock_mhz for r in group if r.clock_mhz)
        holding = sorted(r.clock_mhz for r in group if r.clock_mhz and r.holds)
        if not holding:
            text = f"none of {', '.join(f'{c:g}' for c in clocks)} MHz" if clocks else "?"
        else:
            below = [c for c in clocks if c < holding[0]]
            text = f"{holding[0]:g} MHz (of {len(clocks)} swept" + (f"; fails at {below[-1]:g} MHz)" if below else ")")
        for r in group:
            r.lowest_measured = text
    return rows


def failing_points(rows: list[dict[str, Any]], axis_names: list[str]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r.get("status") == "done" and r.get("verdict") == "pass":
            continue
        failed = [k.removeprefix("check.") for k, v in r.items() if k.startswith("check.") and v == "fail"]
        out.append(
            {
                "point": r.get("point"),
                "label": ", ".join(f"{short_name(a, axis_names)}={r.get(a)}" for a in axis_names),
                "status": r.get("verdict") if r.get("status") == "done" else r.get("status"),
                "why": ", ".join(failed) if failed else (r.get("error") or ""),
                "report": r.get("report"),
            }
        )
    return out


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sweep {{ page.name }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
.pass { color: #1a7f37; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
.curves { display: flex; flex-wrap: wrap; gap: 1em; } .curve { width: 560px; } .curve svg { width: 100%; height: auto; }
</style></head><body>
<h1>Sweep {{ page.name }}</h1>
<p>{{ page.description }}</p>
<p>{{ page.total }} point(s): {{ page.done }} done, {{ page.errors }} error(s).
{% for k, v in page.run_info.items() %}{{ k }}: {{ v }}. {% endfor %}</p>
<h2>Expectations</h2>
{% if page.expectations %}<table><tr><th>expectation</th><th>covered</th><th>verdict</th><th>failing points</th></tr>
{% for e in page.expectations %}<tr><td><code>{{ e.expectation.text }}</code></td><td>{{ e.covered }}</td>
<td class="{{ 'pass' if e.passed else 'fail' }}">{{ 'PASS' if e.passed else 'FAIL' }}</td>
<td>{% for f in e.failures[:20] %}{{ f }}<br>{% endfor %}
{% if e.failures|length > 20 %}… {{ e.failures|length - 20 }} more{% endif %}</td></tr>
{% endfor %}</table>{% else %}<p>none in the sweep file.</p>{% endif %}
<h2>Robustness curves</h2>
{% if page.curves %}<div class="curves">{% for c in page.curves %}
<div class="curve"><h3>{{ c.title }}</h3>{{ c.svg }}</div>{% endfor %}</div>
{% else %}<p>no numeric axis with more than one value and a result.</p>{% endif %}
<h2>Which board fits</h2>
<table><tr><th>model</th><th>board</th><th>kernels</th><th>clock</th><th>points</th><th>deadline</th><th>CPU load</th>
<th>memory</th><th>fits</th><th>lowest clock that holds (measured)</th><th>lowest clock (estimate)</th></tr>
{% for f in page.fit %}<tr><td>{{ f.model }}</td><td>{{ f.board }}</td><td>{{ f.kernels }}</td>
<td>{{ '%g MHz' % f.clock_mhz if f.clock_mhz else '?' }}</td><td>{{ f.points }}</td><td>{{ f.deadline }}</td>
<td>{{ f.cpu_load }}</td><td>{{ f.memory }}</td>
<td class="{{ 'pass' if f.holds else 'fail' }}">{{ 'yes' if f.holds else 'no' }}</td>
<td>{{ f.lowest_measured }}</td><td>{{ f.lowest_clock }}</td></tr>{% endfor %}</table>
<p>Lowest clock that holds: the lowest clock of the sweep's <code>clock_hz</code> axis at which every point of the
model, board and kernel set met deadline, CPU load and memory, run at that clock (instruction counts do not depend on
the clock; time, CPU load and the flash wait states of the cycle model do). Lowest clock (estimate): the worst
point's estimated inference time (deadline, at the band's upper end) and CPU load scaled to the clock at which they
reach their limits; fewer flash wait states at a lower clock make the real figure lower.</p>
<h2>Failing points ({{ page.failing|length }})</h2>
{% if page.failing %}<table><tr><th>point</th><th>configuration</th><th>verdict</th><th>failed checks / error</th></tr>
{% for p in page.failing %}<tr>
<td>{% if p.report %}<a href="{{ p.report }}">{{ p.point }}</a>{% else %}{{ p.point }}{% endif %}</td>
<td>{{ p.label }}</td><td>{{ p.status }}</td><td>{{ p.why }}</td></tr>{% endfor %}</table>
{% else %}<p>none.</p>{% endif %}
</body></html>
"""


def render(page: SweepPage) -> str:
    env = Environment(autoescape=True, undefined=StrictUndefined)
    return env.from_string(TEMPLATE).render(page=page)
