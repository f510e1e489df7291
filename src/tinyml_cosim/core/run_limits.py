"""Limits of a run that are the same everywhere: when no progress is a hang, and how much simulated and wall time a
run gets beyond what its caller asked for (one rule for `cosim run SCENARIO`, `cosim debug SCENARIO`, the Robot
library's steps and `cosim replay`)."""

from __future__ import annotations

# No console line and no data request for this many instructions means the firmware makes no progress (a hang).
DEFAULT_HANG_INSTRUCTIONS = 2_000_000_000
# Firmware without the cosim runtime (no watchdog of its own): no console line for this many wall-clock seconds,
# with the PC confined to one small loop, is a hang too — a poll of a register the engine models never trips the
# instruction threshold above in reasonable time (2e9 instructions is ~1.8 h at QEMU's 0.3 M instructions/s).
DEFAULT_HANG_WALL_S = 30.0
# Past the end of the scenario's data the firmware gets this much more simulated time to finish its last window
# and exit: max(RUN_SLACK_MIN_S, RUN_SLACK_FRACTION x duration).
RUN_SLACK_MIN_S = 0.1
RUN_SLACK_FRACTION = 0.05
# The wall-clock backstop when the caller gives none: start-up plus a generous 20 wall seconds per simulated
# second (the slowest engine runs the heaviest firmware at a few simulated seconds per wall second).
TIMEOUT_BASE_S = 60.0
TIMEOUT_WALL_PER_SIMULATED_S = 20.0
# `cosim run SCENARIO --seeds N`: each seed is one whole emulated run of the scenario; the cap keeps a typo (100000)
# from becoming days of work, and 1000 runs give confidence intervals far tighter than the spread they describe.
MAX_SEEDS = 1000
# --baseline-threshold: growth in percent (1000 % = eleven times the baseline).
MAX_THRESHOLD_PCT = 1000.0


def with_slack(duration_s: float) -> float:
    """A scenario's simulated duration plus the time its firmware gets to finish the last window and exit."""
    return duration_s + max(RUN_SLACK_MIN_S, RUN_SLACK_FRACTION * duration_s)


def default_timeout_s(simulated_s: float, timeout_s: float | None = None) -> float:
    """`timeout_s` when given, else the wall-clock backstop for a run of `simulated_s` simulated seconds."""
    if timeout_s is not None:
        return timeout_s
    return TIMEOUT_BASE_S + TIMEOUT_WALL_PER_SIMULATED_S * simulated_s
