"""report.html: one self-contained page (no external files, plots embedded as base64 PNG): the verdict table, the
signal with ground truth and decisions over time, the instruction-count histogram, memory bars against the limits,
the estimated cycles per layer (cycle model), the run fingerprints and the console log."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from matplotlib import colormaps
from matplotlib.figure import Figure

from tinyml_cosim.report.junit import xml_text  # control characters drawn as visible escapes, not missing glyphs
from tinyml_cosim.results.checks import CheckStatus
from tinyml_cosim.results.model import Report, failed_run_lines


@dataclass
class PlotData:
    """What the plots need from the first seed's run (kept out of report.json)."""

    seed: int | None  # SeedRun's: None for a run without a scenario
    signal_t: np.ndarray | None = None  # seconds
    signal: np.ndarray | None = None  # n x channels, physical units
    channels: list[str] = field(default_factory=list)
    unit: str = ""
    sensor: str = ""
    segments: list[tuple[float, float, str]] = field(default_factory=list)
    decisions: list[tuple[float, str]] = field(default_factory=list)
    inference_instructions: list[int] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


def _png(fig: Figure) -> str:
    """The figure as base64 PNG. Figures are made without pyplot (no backend, no global figure list to close)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def plot_signal(p: PlotData) -> str | None:
    if p.signal is None or p.signal_t is None or not len(p.signal_t):
        return None
    labels = sorted({s[2] for s in p.segments} | {d[1] for d in p.decisions})
    colours = {lab: colormaps["tab10"](i % 10) for i, lab in enumerate(labels)}
    fig = Figure(figsize=(11, 5))
    ax, axd = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    step = max(1, len(p.signal_t) // 4000)
    for c, name in enumerate(p.channels):
        ax.plot(p.signal_t[::step], p.signal[::step, c], lw=0.7, label=name)
    # One collection per label rather than an artist per segment or decision: a timeline of hundreds of segments
    # (and a long run's thousands of decisions) would otherwise cost seconds of drawing each.
    ylo, yhi = ax.get_ylim()
    span = max((b for _, b, _ in p.segments), default=0.0) or 1.0
    for lab in labels:
        bars = [(a, b - a) for a, b, seg_lab in p.segments if seg_lab == lab]
        if bars:
            ax.broken_barh(bars, (ylo, yhi - ylo), color=colours[lab], alpha=0.12, lw=0)
            axd.broken_barh(bars, (0.5, 0.5), color=colours[lab], alpha=0.6, lw=0)
        ts = [t for t, d_lab in p.decisions if d_lab == lab]
        if ts:
            axd.plot(ts, [0.25] * len(ts), ls="none", marker="|", ms=14, color=colours[lab])
    ax.set_ylim(ylo, yhi)
    for a, b, lab in p.segments:
        if b - a >= span / 60:  # a label only where it can be read
            # parse_math off: a label is the scenario's text, and a stray `$` in it is no formula
            axd.text((a + b) / 2, 0.75, xml_text(lab), ha="center", va="center", fontsize=8, parse_math=False)
    ax.set_ylabel(f"{p.sensor} [{p.unit}]")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"signal, ground truth and decisions (seed {p.seed})")
    axd.set_yticks([0.25, 0.75], ["decisions", "ground truth"])
    axd.set_ylim(0, 1)
    axd.set_xlabel("simulated time [s]")
    return _png(fig)


def plot_histogram(p: PlotData, basis: str) -> str | None:
    if not p.inference_instructions:
        return None
    fig = Figure(figsize=(7, 3))
    ax = fig.subplots()
    counts = np.asarray(p.inference_instructions)
    ax.hist(counts, bins=min(40, max(5, len(set(counts.tolist())))), color="tab:blue")
    ax.axvline(counts.max(), color="tab:red", ls="--", label=f"observed maximum {counts.max()}")
    ax.set_xlabel("instructions per inference (retired instructions, not cycles)")
    ax.set_ylabel("inferences")
    ax.set_title(f"inference instruction counts (seed {p.seed}); times in the report: {basis}")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_layers(r: Report) -> str | None:
    """Estimated cycles per layer of the longest inference, stacked by where they go (cycle model)."""
    layers = r.timing.layers if r.timing is not None else []
    if not layers:
        return None
    parts = sorted({k for lay in layers for k in lay.parts})
    colours = {k: colormaps["tab10"](i % 10) for i, k in enumerate(parts)}
    fig = Figure(figsize=(9, 3.2))
    ax = fig.subplots()
    x = np.arange(len(layers))
    bottom = np.zeros(len(layers))
    for k in parts:
        v = np.asarray([lay.parts.get(k, 0) for lay in layers], dtype=float)
        ax.bar(x, v, bottom=bottom, color=colours[k], label=k)
        bottom += v
    ax.set_xticks(x, [f"{lay.index}" for lay in layers], fontsize=7)
    ax.set_xlabel("layer (index in the longest inference)")
    ax.set_ylabel("estimated cycles")
    ax.set_title("where the cycles go, per layer (cycle model estimate; instructions are exact, cycles estimated)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def plot_memory(r: Report) -> str:
    m = r.memory
    fig = Figure(figsize=(9, 2.6))
    ax = fig.subplots()
    rows = [("flash", m.components_flash, m.flash_limit), ("RAM", m.components_ram, m.ram_limit)]
    comps = sorted({k for _, c, _ in rows for k in c})
    colours = {k: colormaps["tab10"](i % 10) for i, k in enumerate(comps)}
    seen: set[str] = set()
    top = 100.0
    for y, (_name, parts, limit) in enumerate(rows):
        left = 0.0
        for k in comps:
            v = 100.0 * parts.get(k, 0) / limit
            if v:
                ax.barh(y, v, left=left, color=colours[k], label=k if k not in seen else None)
                seen.add(k)
                left += v
        top = max(top, left)
        ax.text(left + 1, y, f"{sum(parts.values())} / {limit} B", va="center", fontsize=8)
    ax.axvline(100, color="k", lw=2)
    ax.axvline(m.fail_above_pct, color="tab:red", ls="--")
    ax.axvline(m.warn_above_pct, color="tab:orange", ls=":")
    ax.set_xlim(0, top * 1.3 + 5)
    ax.set_yticks([0, 1], ["flash", "RAM"])
    ax.set_xlabel("% of the limit (black: limit; red dashed: fail level; orange dotted: warn level)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"memory by component (limits from {m.limit_source})")
    return _png(fig)


def _mv(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    return f"{v:.6g} {unit}".rstrip()


def _ci(ci: tuple[float, float] | None) -> str:
    return f"{ci[0]:.4g} … {ci[1]:.4g}" if ci else ""


# Autoescape on: every value from the report (scenario names, console lines, messages) is escaped by Jinja2, so no
# spot can forget it; only the plots, base64 of our own PNGs, are marked safe.
_ENV = Environment(
    loader=PackageLoader("tinyml_cosim.report"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(mv=_mv, ci=_ci, fmt=format)


def _safe_png(b64: str | None) -> Markup | None:
    return Markup(b64) if b64 else None


def render_html(r: Report, p: PlotData) -> str:
    plots = {
        "signal": _safe_png(plot_signal(p)) if r.decisions is not None else None,
        "histogram": _safe_png(plot_histogram(p, r.timing.time_basis)) if r.timing is not None else None,
        "memory": _safe_png(plot_memory(r)),
        "layers": _safe_png(plot_layers(r)),
    }
    m = r.memory
    return _ENV.get_template("report.html.j2").render(
        r=r,
        p=p,
        plots=plots,
        verdict_class={"pass": "pass", "fail": "fail", "error": "fail"}[r.verdict],
        components=sorted(set(m.components_flash) | set(m.components_ram)),
        layer_parts=sorted({k for lay in (r.timing.layers if r.timing else []) for k in lay.parts}),
        failed=[line for x in r.runs for line in failed_run_lines(x)],
    )


__all__ = ["CheckStatus", "PlotData", "render_html"]
