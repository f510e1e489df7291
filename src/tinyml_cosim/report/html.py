"""report.html: one self-contained page (no external files, plots embedded as base64 PNG): the verdict table, the
signal with ground truth and decisions over time, the instruction-count histogram, memory bars against the limits,
the run fingerprints and the console log."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

import numpy as np

from tinyml_cosim.results.model import Report, failed_run_lines
from tinyml_cosim.verdicts.expect import CheckStatus


@dataclass
class PlotData:
    """What the plots need from the first seed's run (kept out of report.json)."""

    seed: int
    signal_t: np.ndarray | None = None  # seconds
    signal: np.ndarray | None = None  # n x channels, physical units
    channels: list[str] = field(default_factory=list)
    unit: str = ""
    sensor: str = ""
    segments: list[tuple[float, float, str]] = field(default_factory=list)
    decisions: list[tuple[float, str]] = field(default_factory=list)
    inference_instructions: list[int] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


def _png(fig) -> str:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plot_signal(p: PlotData) -> str | None:
    if p.signal is None or p.signal_t is None or not len(p.signal_t):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted({s[2] for s in p.segments} | {d[1] for d in p.decisions})
    colours = {lab: plt.get_cmap("tab10")(i % 10) for i, lab in enumerate(labels)}
    fig, (ax, axd) = plt.subplots(2, 1, figsize=(11, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    step = max(1, len(p.signal_t) // 4000)
    for c, name in enumerate(p.channels):
        ax.plot(p.signal_t[::step], p.signal[::step, c], lw=0.7, label=name)
    for a, b, lab in p.segments:
        ax.axvspan(a, b, color=colours[lab], alpha=0.12, lw=0)
        axd.axvspan(a, b, ymin=0.5, ymax=1.0, color=colours[lab], alpha=0.6, lw=0)
        axd.text((a + b) / 2, 0.75, lab, ha="center", va="center", fontsize=8)
    for t, lab in p.decisions:
        axd.plot([t], [0.25], marker="|", ms=14, color=colours.get(lab, "k"))
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    counts = np.asarray(p.inference_instructions)
    ax.hist(counts, bins=min(40, max(5, len(set(counts.tolist())))), color="tab:blue")
    ax.axvline(counts.max(), color="tab:red", ls="--", label=f"observed maximum {counts.max()}")
    ax.set_xlabel("instructions per inference (retired instructions, not cycles)")
    ax.set_ylabel("inferences")
    ax.set_title(f"inference instruction counts (seed {p.seed}); times in the report: {basis}")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_memory(r: Report) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = r.memory
    fig, ax = plt.subplots(figsize=(9, 2.6))
    rows = [("flash", m.components_flash, m.flash_limit), ("RAM", m.components_ram, m.ram_limit)]
    comps = sorted({k for _, c, _ in rows for k in c})
    colours = {k: plt.get_cmap("tab10")(i % 10) for i, k in enumerate(comps)}
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


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:90%}
.pass{background:#e6f4e6}.warn{background:#fff4d6}.fail{background:#fde2e2}
.verdict{font-size:150%;font-weight:bold}pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:80%}
"""


def _img(b64: str | None, alt: str) -> str:
    return f'<p><img alt="{alt}" src="data:image/png;base64,{b64}"></p>' if b64 else f"<p>({alt}: no data)</p>"


def _table(head: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    h = "".join(f"<th>{html.escape(x)}</th>" for x in head)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(x)}</td>" for x in row) + "</tr>")
    return f"<table><tr>{h}</tr>{''.join(body)}</table>"


def render_html(r: Report, p: PlotData) -> str:
    e = html.escape
    s = r.scenario
    verdict_class = {"pass": "pass", "fail": "fail", "error": "fail"}[r.verdict]
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(s.name)}: {r.verdict}</title>"
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(s.name)}</h1>",
        f"<p class='verdict {verdict_class}'>verdict: {r.verdict.upper()}</p>",
        f"<p>board {e(s.board)}, engine {e(s.engine)}, firmware {e(s.firmware)}, {s.duration_s:g} s simulated, "
        f"seeds {', '.join(str(x) for x in r.seeds)}; report version {r.report_version}, {e(r.tool_version)}</p>",
        "<h2>Expectations</h2>",
    ]
    rows, classes = [], []
    for c in r.checks:
        ci = f"{c.ci95[0]:.4g} … {c.ci95[1]:.4g} ({c.ci_method})" if c.ci95 else ""
        actual = "not measured" if c.actual is None else f"{c.actual:.6g} {c.unit}".rstrip()
        rows.append([c.id, c.status.value, actual, c.expected, ci, c.message])
        classes.append(c.status.value)
    parts.append(_table(["expectation", "status", "actual", "expected", "95 % CI", "detail"], rows, classes))
    if r.decisions is not None:
        d = r.decisions
        parts.append("<h2>Decisions</h2>")
        parts.append(_img(plot_signal(p), "signal, ground truth and decisions"))
        parts.append(
            "<p>alignment: "
            + ", ".join(f"{k}={v} ({d.alignment_sources.get(k, '')})" for k, v in d.alignment.items())
            + f"; decisions by status: {d.counts}</p>"
        )
        labels = d.labels
        parts.append(
            "<p>confusion matrix (rows: ground truth, columns: decided)</p>"
            + _table(
                ["truth \\ decided", *labels], [[t, *(str(d.confusion[t].get(x, 0)) for x in labels)] for t in labels]
            )
        )
        mrows = [[k, _mv(m.value, m.unit), _ci(m.ci95), m.aggregate] for k, m in d.metrics.items()]
        for cls, ms in d.per_class.items():
            mrows += [[f"{cls}.{k}", _mv(m.value, m.unit), _ci(m.ci95), m.aggregate] for k, m in ms.items()]
        parts.append(_table(["metric", "value", "95 % CI", "over seeds"], mrows))
    if r.timing is not None:
        t = r.timing
        parts.append("<h2>Inference time</h2>")
        parts.append(
            f"<p>{t.inferences} inferences (span <code>{e(t.span)}</code>); times are <b>{e(t.time_basis)}</b>: "
            f"{e(t.factor_summary or t.factor_provenance)}. Counts are retired instructions, not cycles. The largest "
            "count is the observed maximum over these inputs, not a WCET.</p>"
        )
        if t.cycles_per_instruction is not None and t.factor_band is not None:
            parts.append(
                f"<p>silicon factor ({e(t.kernels)} kernels): <b>{t.cycles_per_instruction:g}</b> cycles per "
                f"instruction, band {t.factor_band[0]:g} .. {t.factor_band[1]:g}; source: {e(t.factor_provenance)}</p>"
            )
        band = t.time_ms_band or {}
        trows = [
            [
                k,
                _mv(t.instructions[k].value, ""),
                _mv(t.time_ms[k].value, "ms"),
                f"{band[k][0]:.6g} … {band[k][1]:.6g} ms" if k in band else "—",
            ]
            for k in t.instructions
        ]
        parts.append(_table(["statistic", "instructions", f"time ({t.time_basis})", "time over the band"], trows))
        if t.observed_maximum_at:
            parts.append(f"<p>observed maximum at {e(str(t.observed_maximum_at))}</p>")
        if t.deadline_ms is not None:
            parts.append(
                f"<p>deadline {t.deadline_ms:g} ms, checked with {_mv(t.deadline_checked_ms, 'ms')}: "
                f"{e(t.deadline_basis)}; margin {_mv(t.deadline_margin_pct, '%')}</p>"
            )
        if t.cpu_load_max is not None:
            parts.append(
                f"<p>largest per-window CPU load {_mv(t.cpu_load_max.value, '')} of a {t.window_period_s:g} s window "
                f"({e(t.window_period_source)}) at {e(str(t.cpu_load_max_at))}</p>"
            )
        parts.append(_img(plot_histogram(p, t.time_basis), "instruction-count histogram"))
    m = r.memory
    parts.append("<h2>Memory</h2>")
    parts.append(_img(plot_memory(r), "memory bars"))
    parts.append(
        f"<p>flash {m.flash_used} / {m.flash_limit} B ({m.flash_pct:.1f} %), RAM {m.ram_used} / {m.ram_limit} B "
        f"({m.ram_pct:.1f} %: static {m.static_ram} B + stack reservation {m.stack_reserved} B), stack high-water "
        f"mark {m.stack_used if m.stack_used is not None else 'unknown'} B; limits from {e(m.limit_source)}</p>"
    )
    parts += _static_stack_html(m)
    parts.append(
        _table(
            ["section", "address", "size", "flash", "RAM"],
            [[x.name, f"0x{x.address:08x}", str(x.size), str(x.flash), str(x.ram)] for x in m.sections],
        )
    )
    comps = sorted(set(m.components_flash) | set(m.components_ram))
    parts.append(
        _table(
            ["component", "flash", "RAM"],
            [[c, str(m.components_flash.get(c, 0)), str(m.components_ram.get(c, 0))] for c in comps],
        )
    )
    for note in [*m.notes, *r.notes]:
        parts.append(f"<p>note: {e(note)}</p>")
    parts.append("<h2>Runs</h2>")
    parts.append(
        _table(
            ["seed", "status", "instructions", "simulated s", "wall s", "fingerprint"],
            [
                [
                    str(x.seed),
                    x.status,
                    str(x.instructions),
                    f"{x.simulated_seconds or 0:.6f}",
                    f"{x.wall_seconds or 0:.3f}",
                    x.fingerprint or "",
                ]
                for x in r.runs
            ],
        )
    )
    failed = [failed_run_lines(x) for x in r.runs]
    failed = [x for x in failed if x]
    if failed:
        parts.append("<h2>Failed runs</h2>")
        parts.append(f"<pre class='fail'>{e(chr(10).join(line for x in failed for line in x))}</pre>")
    if r.baseline is not None:
        b = r.baseline
        parts.append("<h2>Baseline</h2>")
        parts.append(
            f"<p>compared with {e(b.path)} ({e(b.baseline_tool_version)}); growth above {b.threshold_pct:g} % fails</p>"
        )
        parts.append(
            _table(
                ["quantity", "baseline", "now", "delta", "delta %", "status"],
                [
                    [
                        d.id,
                        _mv(d.baseline, d.unit),
                        _mv(d.actual, d.unit),
                        "—" if d.delta is None else f"{d.delta:+g} {d.unit}",
                        "—" if d.delta_pct is None else f"{d.delta_pct:+.2f} %",
                        d.status,
                    ]
                    for d in b.deltas
                ],
                [d.status for d in b.deltas],
            )
        )
        for note in b.notes:
            parts.append(f"<p>note: {e(note)}</p>")
    parts.append(f"<h2>Console (seed {p.seed})</h2><pre>{e(chr(10).join(p.console))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _static_stack_html(m) -> list[str]:  # type: ignore[no-untyped-def]
    """The static stack worst case beside the measured high-water mark: summary, the nesting levels, unknowns."""
    st = m.stack_static
    if st is None:
        return []
    e = html.escape
    measured = f"{m.stack_used} B" if m.stack_used is not None else "not measured"
    out = [
        "<h3>Stack</h3>",
        f"<p>reserved {m.stack_reserved} B; measured high-water mark {measured}; "
        f"static worst case {f'{st.worst_bytes} B' if st.worst_bytes is not None else '<b>unknown</b>'}</p>",
        f"<p>{e(st.summary)}</p>",
    ]
    if not st.available:
        return out
    rows = []
    if st.thread is not None:
        rows.append(["thread", "—", str(st.thread.bytes), "—", " → ".join(st.thread.path)])
    for lv in st.levels:
        prio = "set at run time" if lv.priority is None else str(lv.priority)
        rows.append([f"{lv.exception} ({lv.handler})", prio, str(lv.handler_bytes), str(lv.frame_bytes),
                     " → ".join(lv.path)])  # fmt: skip
    out.append(_table(["level", "priority", "bytes", "exception frame", "deepest path"], rows))
    out.append(f"<p>{e(st.priorities)}</p>")
    if st.unknown:
        out.append("<p class='warn'>unknown (not counted as zero): " + "; ".join(
            e(f"{u.kind} in {u.function}: {u.detail}") for u in st.unknown) + "</p>")  # fmt: skip
    return out


def _mv(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    return f"{v:.6g} {unit}".rstrip()


def _ci(ci: tuple[float, float] | None) -> str:
    return f"{ci[0]:.4g} … {ci[1]:.4g}" if ci else ""


__all__ = ["CheckStatus", "PlotData", "render_html"]
