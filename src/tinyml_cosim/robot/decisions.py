"""Inference and decision keywords: what the firmware decided, when, and how well over a scenario."""

from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword

from tinyml_cosim.robot.context import Context
from tinyml_cosim.robot.messages import decisions_summary, parse_fraction, pct, tinyml_cosim_time


class DecisionKeywords:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @keyword(tags=["decisions"])
    def wait_for_decision(self, decision_class: str, within: str) -> float:
        """Runs the board until the firmware decides ``decision_class``, at most ``within`` of simulated time from
        the current simulated time. Returns the simulated time of that decision (seconds); the board's clock
        stops there. Fails with the decisions seen meanwhile.

        | ${t}= | Wait For Decision | shaking | within=3 s |
        """
        board = self.ctx.board
        w = board.wait_for_decision(decision_class, tinyml_cosim_time(within, "within"))
        if w.decision is None:
            end = ""
            if w.run is not None and w.run.record.status.value != "budget_reached":
                end = f"; the run ended at {w.run.end_s:.3f} s: {w.run.record.diagnosis}"
            raise AssertionError(
                f"No {decision_class!r} decision within {within} of simulated time (from {w.since_s:.3f} s to "
                f"{w.until_s:.3f} s) on {self.ctx.describe()}; decisions seen: {decisions_summary(w.seen)}{end}"
            )
        logger.info(f"{decision_class!r} decided at {w.decision.t_s:.3f} s simulated (waited from {w.since_s:.3f} s)")
        return w.decision.t_s

    @keyword(tags=["decisions"])
    def decision_should_be(self, decision_class: str, at: str | None = None) -> None:
        """Checks the decision in force at the current simulated time (or at ``at``, e.g. ``3.5 s``, within the
        last run): the last one the firmware made at or before it.

        | Run For Simulated Time | 3 s |
        | Decision Should Be | shaking |
        | Decision Should Be | idle | at=1 s |
        """
        board = self.ctx.board
        run = self.ctx.run()
        t = board.now_s if at in (None, "", "None") else tinyml_cosim_time(at, "at", zero_ok=True)
        d = board.decision_at(t)
        if d is None:
            raise AssertionError(
                f"Decision at {t:.3f} s simulated is none yet, expected {decision_class!r} (first decision: "
                f"{decisions_summary(run.decisions[:1])}; {self.ctx.describe()})"
            )
        if d.cls != decision_class:
            raise AssertionError(
                f"Decision at {t:.3f} s simulated is {d.cls!r} (made at {d.t_s:.3f} s), expected {decision_class!r} "
                f"({self.ctx.describe()})"
            )

    def _report(self):
        board = self.ctx.board
        if board.outcome is None:
            raise AssertionError("no scenario run to measure: use Run Scenario first")
        report = board.outcome.report
        if report.decisions is None:
            raise AssertionError(f"scenario {board.scenario_name} has no timeline: decisions cannot be scored")
        return report

    def _span(self, report) -> str:
        n = len(report.seeds)
        return f"over {n} seed(s) of {report.scenario.duration_s:.3f} s simulated, {self.ctx.describe()}"

    @keyword(tags=["decisions"])
    def accuracy_should_be_at_least(self, minimum: str) -> float:
        """Checks the accuracy of the last `Run Scenario` (scored decisions that match the ground truth, pooled
        over the seeds; docs/verdicts.md) against ``minimum`` (``0.9`` or ``90 %``). Returns the accuracy.

        | Accuracy Should Be At Least | 0.95 |
        """
        report = self._report()
        m = report.decisions.metrics["accuracy"]
        need = parse_fraction(minimum)
        if m.value is None:
            raise AssertionError(f"Accuracy not measured: no scored decisions {self._span(report)}")
        if m.value < need:
            k, n = m.counts or (0, 0)
            ci = f"; 95 % CI {pct(m.ci95[0])} … {pct(m.ci95[1])}" if m.ci95 else ""
            raise AssertionError(
                f"Accuracy {pct(m.value)} ({k} of {n} decisions correct{ci}) is below the required {pct(need)} "
                f"{self._span(report)}"
            )
        return m.value

    @keyword(tags=["decisions"])
    def false_alarms_per_hour_should_be_at_most(self, maximum: float) -> float:
        """Checks the false alarms per hour of simulated time of the last `Run Scenario` (mean over the seeds)
        against ``maximum``. The failure lists the simulated times of the false alarms. Returns the rate.

        | False Alarms Per Hour Should Be At Most | 1 |
        """
        report = self._report()
        m = report.decisions.metrics["false_alarms_per_hour"]
        limit = float(maximum)
        if m.value is None:
            raise AssertionError(f"False alarms per hour not measured {self._span(report)}")
        if m.value > limit:
            times = [
                f"seed {s} at " + ", ".join(f"{t:.3f} s" for t in ts[:8]) + (" …" if len(ts) > 8 else "")
                for s, ts in report.decisions.false_alarm_times.items()
                if ts
            ]
            total = sum(len(ts) for ts in report.decisions.false_alarm_times.values())
            raise AssertionError(
                f"False alarms {m.value:.1f} /h ({total} false alarm(s): {'; '.join(times)}) exceeds the allowed "
                f"{limit:g} /h {self._span(report)}"
            )
        return m.value
