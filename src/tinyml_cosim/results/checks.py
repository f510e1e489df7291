"""A checked expectation: what verdicts produce and reports (JSON, JUnit, HTML) read."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field


class CheckStatus(str, Enum):
    PASS = "pass"
    WARN = "warn"  # holds, but inside the policy's warning band
    FAIL = "fail"


class Check(BaseModel):
    """One expectation, checked: a junit testcase and a row of the verdict table."""

    id: str = Field(description="dotted name, e.g. decision.accuracy or decision.per_class.shaking.recall")
    category: str = Field(description="run, decision, timing or memory")
    expected: str = Field(description="the expectation as written, e.g. '>= 0.95'")
    actual: float | None = Field(None, description="the measured value (None: could not be measured)")
    unit: str = ""
    status: CheckStatus
    message: str = Field("", description="actual vs expected, for people")
    ci95: tuple[float, float] | None = Field(None, description="95 % confidence interval over the seeds")
    ci_method: str | None = Field(None, description="wilson (proportions) or t (means over seeds)")

    @property
    def failed(self) -> bool:
        return self.status is CheckStatus.FAIL
