"""Plot a scenario: every channel of every sensor, with ground-truth label bands and impairment windows."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.sensors.stream import SampleStream

from .generate import part_model
from .model import Scenario

MAX_POINTS = 20000


def _envelope(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min/max per bucket, so a long stream plots fast and no spike disappears between plotted points."""
    if len(t) <= MAX_POINTS:
        return t, y
    buckets = MAX_POINTS // 2
    edges = np.linspace(0, len(t), buckets + 1).astype(int)
    tt, yy = [], []
    for a, b in itertools.pairwise(edges):
        if b <= a:
            continue
        seg = y[a:b]
        i, j = int(np.argmin(seg)), int(np.argmax(seg))
        for k in sorted((i, j)):
            tt.append(t[a + k])
            yy.append(seg[k])
    return np.asarray(tt), np.asarray(yy)


def render(scn: Scenario, streams: dict[str, SampleStream], out: Path, seed: int | None = None) -> Path:
    seed = scn.seed if seed is None else seed
    rows = [(sid, c) for sid, s in streams.items() for c in range(len(s.channels))]
    # A figure without pyplot: no display backend (the CLI and CI render to files only), nothing global to close.
    fig = Figure(figsize=(12, 1.8 + 1.6 * len(rows)))
    axes = fig.subplots(len(rows), 1, sharex=True, squeeze=False)
    labels = list(dict.fromkeys(seg.label for seg in scn.timeline))
    colors = {lab: colormaps["tab10"](i % 10) for i, lab in enumerate(labels)}
    for ax, (sid, c) in zip(axes[:, 0], rows, strict=True):
        s = streams[sid]
        t = s.timestamps_ns / 1e9
        spec = next(x for x in scn.sensors if x.id == sid)
        y = part_model(scn, spec, scn.seed).to_physical(s.codes[:, c])
        for seg in scn.timeline:
            ax.axvspan(seg.start_s, seg.stop_s, color=colors[seg.label], alpha=0.12, lw=0)
        for f in s.fault_windows:
            if f.start_s <= 0 and f.end_s >= scn.duration_s:
                continue  # always-on impairments (noise, slow drift) are conditions, not fault windows
            ax.axvspan(f.start_s, f.end_s, facecolor="none", edgecolor="tab:red", hatch="///", alpha=0.35, lw=0)
        ax.plot(*_envelope(t, y), lw=0.6, color="black")
        ax.set_ylabel(f"{sid}.{s.channels[c]}\n[{s.unit}]", fontsize=8)
        ax.set_xlim(0, scn.duration_s)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("simulated time [s]")
    handles = [Patch(color=colors[lab], alpha=0.3, label=lab) for lab in labels]
    handles.append(Patch(facecolor="none", edgecolor="tab:red", hatch="///", label="impairment active"))
    title = scn.name or (scn.path.stem if scn.path else "scenario")
    fig.suptitle(f"{title} (seed {seed})", y=0.995, fontsize=10)
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.965),
        ncol=min(len(handles), 6),
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    try:
        fig.savefig(out, dpi=100)
    except OSError as exc:
        raise BadInput(f"{out}: cannot write the plot ({exc.strerror})") from None
    except ValueError as exc:  # matplotlib: unknown file format from the suffix
        raise BadInput(f"{out}: {exc}") from None
    return out
