"""Verdicts: what a scenario run decided, how long each inference took and whether the firmware fits its board,
checked against the scenario's `expect:` block (docs/verdicts.md). Everything here reads run records, scenario
ground truth and ELF/map files; nothing here runs an emulator."""

from tinyml_cosim.verdicts.expect import Check, CheckStatus, Comparison, ExpectationError, parse_comparison
from tinyml_cosim.verdicts.stats import mean_ci, wilson

__all__ = ["Check", "CheckStatus", "Comparison", "ExpectationError", "mean_ci", "parse_comparison", "wilson"]
