"""``junit.xml`` for one run: one testcase per clause, so CI shows the clauses as tests.

Part of the report directory `mqspec.conformance.frontends.reports` writes; text about
findings comes from ``render.py``, as on the console. Forbidden imports: click, pytest.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime

from mqspec.conformance.core.results import Divergence, RunResult
from mqspec.conformance.frontends.render import render_divergence

__all__ = ["ISO_UTC", "render_junit"]

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
"""The form of every timestamp in the report files (UTC)."""

# Characters XML 1.0 cannot hold even escaped; shown as \xNN instead (task payloads are arbitrary).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_safe(text: str) -> str:
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _found(result: RunResult, clause_id: str, warnings: bool) -> list[Divergence]:
    pool = result.warnings if warnings else (*result.divergences, *result.warnings)
    return [d for d in pool if d.clause.id == clause_id]


def render_junit(result: RunResult, *, started_at: datetime) -> str:
    """``junit.xml``: one testsuite, one testcase per clause (its time: its scenarios'), one
    per search phase (``mqspec.search``, its time, what it found in ``<system-out>``; it never
    fails itself: what it found fails the clauses' testcases), plus one for a run error.

    fail -> ``<failure>`` with the rendered divergence; skip -> ``<skipped message=reason>``;
    warn -> a pass with the warning in ``<system-out>``; verdict error -> a ``mqspec.run``
    testcase with ``<error>``.
    """
    failures = sum(c.status == "fail" for c in result.clauses)
    skipped = sum(c.status == "skip" for c in result.clauses)
    errors = 1 if result.error else 0
    searches = len(result.phases)
    root = ET.Element("testsuites")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=_xml_safe(f"mqspec {result.url}"),
        tests=str(len(result.clauses) + searches + errors),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{result.duration:.3f}",
        timestamp=started_at.strftime(ISO_UTC),
    )
    props = ET.SubElement(suite, "properties")
    known = {"url": result.url, "profile": result.profile, "seed": str(result.seed)}
    known |= {"strict": str(result.strict).lower(), "verdict": result.verdict}
    for key, value in known.items():
        ET.SubElement(props, "property", name=key, value=_xml_safe(value))
    for item in result.clauses:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"mqspec.{item.clause.area}",
            name=_xml_safe(f"{item.clause.id} {item.clause.title}"),
            time=f"{item.seconds:.3f}",
        )
        if item.status == "fail":
            found = _found(result, item.clause.id, warnings=False)
            body = "\n\n".join(render_divergence(d) for d in found) or item.reason
            failure = ET.SubElement(
                case,
                "failure",
                message=_xml_safe(f"{item.clause.id} ({item.clause.level}): {item.reason}"),
                type=item.clause.id,
            )
            failure.text = _xml_safe(body)
        elif item.status == "skip":
            ET.SubElement(case, "skipped", message=_xml_safe(item.reason))
        elif item.status == "warn":
            found = _found(result, item.clause.id, warnings=True)
            out = ET.SubElement(case, "system-out")
            out.text = _xml_safe(
                "\n\n".join("warning: " + render_divergence(d) for d in found) or item.reason
            )
    for n, phase in enumerate(result.phases, start=1):
        # Where the run's time went; what a search found fails its clauses' testcases above.
        case = ET.SubElement(
            suite,
            "testcase",
            classname="mqspec.search",
            name=f"{n} {phase.phase} on the {phase.clock} clock",
            time=f"{phase.seconds:.3f}",
        )
        out = ET.SubElement(case, "system-out")
        out.text = "found: " + ", ".join(phase.broken) if phase.broken else "found nothing"
    if result.error:
        case = ET.SubElement(suite, "testcase", classname="mqspec.run", name="run", time="0")
        error = ET.SubElement(case, "error", message=_xml_safe(result.error), type="error")
        error.text = _xml_safe(result.error)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
