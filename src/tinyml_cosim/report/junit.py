"""junit.xml: one testsuite per scenario, one testcase per expectation; a failure says actual vs expected."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tinyml_cosim.results.checks import CheckStatus
from tinyml_cosim.results.model import Report, failed_run_lines

# What XML 1.0 forbids (C0 controls but tab, newline and carriage return; lone surrogates; U+FFFE, U+FFFF) and what it
# discourages (DEL and the C1 controls, which strict JUnit readers refuse too). Such a character in a scenario name or
# console line is written as a visible \xNN / \uNNNN escape instead, so the text stays readable and the XML valid.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """`text` with every character XML 1.0 forbids or discourages replaced by a visible escape."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def _xml_safe(root: ET.Element) -> None:
    """Every text, tail and attribute of the tree made writable as XML 1.0 (ElementTree escapes <, & and quotes but
    writes control characters as they are, which no XML reader accepts)."""
    for el in root.iter():
        if el.text:
            el.text = xml_text(el.text)
        if el.tail:
            el.tail = xml_text(el.tail)
        for key, value in el.attrib.items():
            el.attrib[key] = xml_text(value)


def _timing_properties(report: Report) -> list[tuple[str, str]]:
    t = report.timing
    if t is None:
        return []
    out: list[tuple[str, str]] = [("time_basis", t.time_basis)]
    if t.cycles is None:  # the documented fallback: the board's factor
        out.append(("silicon_factor", t.factor_summary or t.factor_provenance))
    if t.cycles_per_instruction is not None:
        out.append(("cycles_per_instruction", f"{t.cycles_per_instruction:g}"))
    if t.factor_band is not None:
        out.append(("cycles_per_instruction_band", f"{t.factor_band[0]:g} .. {t.factor_band[1]:g}"))
    out.append(("factor_source", t.factor_provenance))
    if t.cycles is not None:
        omax = t.cycles["observed_maximum"].value
        out.append(("estimated_cycles_observed_maximum", "unknown" if omax is None else f"{omax:.0f}"))
        if t.cycle_band is not None:
            out.append(("estimated_cycles_band", f"x{t.cycle_band[0]:.3f} .. x{t.cycle_band[1]:.3f}"))
        out.append(("cycle_model", t.cycle_model))
        out.append(("cycle_validation", t.cycle_validation))
    return out


def _baseline_properties(report: Report) -> list[tuple[str, str]]:
    b = getattr(report, "baseline", None)
    if b is None:
        return []
    return [("baseline", b.path), ("baseline_threshold_pct", f"{b.threshold_pct:g}")]


def _stack_properties(report: Report) -> list[tuple[str, str]]:
    st = report.memory.stack_static
    if st is None:
        return []
    worst = "unknown" if st.worst_bytes is None else str(st.worst_bytes)
    used = report.memory.stack_used
    return [
        ("stack_static_worst_bytes", worst),
        ("stack_static", st.summary),
        ("stack_high_water_mark_bytes", "not measured" if used is None else str(used)),
    ]


def junit_xml(report: Report) -> str:
    checks = report.checks
    runs = {f"run.seed{r.seed}": r for r in report.runs}
    # A run the engine failed under is a junit <error> (not the firmware's failure), the others <failure>.
    errored = {i for i, r in runs.items() if r.status in ("error", "crash")}
    failures = sum(c.status is CheckStatus.FAIL and c.id not in errored for c in checks)
    suite = ET.Element(
        "testsuite",
        name=f"cosim.{report.scenario.name}",
        tests=str(len(checks)),
        failures=str(failures),
        errors=str(sum(c.id in errored for c in checks)),
        skipped="0",
        time=f"{sum(r.wall_seconds or 0 for r in report.runs):.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("board", report.scenario.board),
        ("engine", report.scenario.engine),
        ("seeds", ",".join(str(s) for s in report.seeds)),
        ("fingerprints", ",".join(r.fingerprint or "" for r in report.runs)),
        *_timing_properties(report),
        *_baseline_properties(report),
        *_stack_properties(report),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for c in checks:
        case = ET.SubElement(suite, "testcase", classname=f"{report.scenario.name}.{c.category}", name=c.id, time="0")
        if c.status is CheckStatus.FAIL:
            actual = "not measured" if c.actual is None else f"{c.actual:g} {c.unit}".rstrip()
            if c.id in errored:
                fail = ET.SubElement(case, "error", message=runs[c.id].diagnosis, type="EngineError")
            else:
                fail = ET.SubElement(
                    case, "failure", message=f"actual {actual}, expected {c.expected}", type="ExpectationFailed"
                )
            fail.text = c.message
            if c.id in runs:
                fail.text = "\n".join([c.message, *failed_run_lines(runs[c.id])[1:]])
        elif c.status is CheckStatus.WARN:
            out = ET.SubElement(case, "system-out")
            out.text = f"warning: {c.message}"
    _xml_safe(suite)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
