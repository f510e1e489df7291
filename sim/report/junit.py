"""junit.xml: one testsuite per scenario, one testcase per expectation; a failure says actual vs expected."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sim.report.model import Report
from sim.verdicts.expect import CheckStatus


def junit_xml(report: Report) -> str:
    checks = report.checks
    failures = sum(c.status is CheckStatus.FAIL for c in checks)
    suite = ET.Element(
        "testsuite",
        name=f"cosim.{report.scenario.name}",
        tests=str(len(checks)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{sum(r.wall_seconds or 0 for r in report.runs):.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("board", report.scenario.board),
        ("engine", report.scenario.engine),
        ("seeds", ",".join(str(s) for s in report.seeds)),
        ("fingerprints", ",".join(r.fingerprint or "" for r in report.runs)),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for c in checks:
        case = ET.SubElement(suite, "testcase", classname=f"{report.scenario.name}.{c.category}", name=c.id, time="0")
        if c.status is CheckStatus.FAIL:
            actual = "not measured" if c.actual is None else f"{c.actual:g} {c.unit}".rstrip()
            fail = ET.SubElement(
                case, "failure", message=f"actual {actual}, expected {c.expected}", type="ExpectationFailed"
            )
            fail.text = c.message
        elif c.status is CheckStatus.WARN:
            out = ET.SubElement(case, "system-out")
            out.text = f"warning: {c.message}"
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
