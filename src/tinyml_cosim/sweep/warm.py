"""Preloaded by every LocalCluster worker of a sweep as it starts (distributed's `preload`): the modules a point
run needs, imported once at worker start (about 1 to 3 s) rather than inside the first point of each worker, and
while the client builds the firmware, so the start-up of the cluster and the workers' warm-up overlap."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # the scenario report's plots; no display on a worker

import scipy.special  # noqa: F401  (confidence intervals: tinyml_cosim.verdicts.stats)

import tinyml_cosim.orchestrate.scenario_runs
import tinyml_cosim.report.html
import tinyml_cosim.sweep.pointrun  # noqa: F401
