"""Reports built from findings a test chooses (for cases no offline run produces, e.g. unverified)."""

from __future__ import annotations

from gate.checks import CHECKS
from gate.model import ChecklistItem, Finding, Report, ServiceChecklist, Status, Suppressed

# What manifest text can put in a report: controls, DEL and C1, line/paragraph separators, bidi
# overrides and isolates, lone and paired surrogates (a non-UTF-8 file name), astral characters,
# quotes and backslashes, and JSON's own syntax.
HOSTILE = ["", "\x00\x01\x1f\x7f\x9b", "\t\n\r\x0b\x0c", "\x1b]0;title\x07\x1b[2J", "\u2028\u2029",
           "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069", "\ud800", "\udfff", "n\udcffame",
           "\ud83d\ude00", "\U0001f512 é ☃ \ufeff \uffff", '"\\/\'', '{"a": [1, 2]}\n  ,', "%0A::error::"]


def finding(check: str = "route-backend-missing", message: str = "names Service shop/web, not in the render",
            **fields) -> Finding:
    values = {"severity": "error", "file": "render.yaml", "line": 3, "api_version": "gateway.networking.k8s.io/v1",
              "kind": "HTTPRoute", "namespace": "shop", "name": "web", "remediation": CHECKS[check].remediation}
    values.update(fields)
    return Finding(check=check, message=message, **values)


def report_of(findings: list[Finding], *, services: list[ServiceChecklist] | None = None,
              errors: list[str] | None = None, fail_on: str = "error") -> Report:
    services = services or []
    placed = {id(f) for s in services for i in s.items for f in i.findings}
    return Report(findings=findings, services=services, unassigned=[f for f in findings if id(f) not in placed],
                  suppressed=[], skipped=[], errors=errors or [], checks=list(CHECKS.values()), fail_on=fail_on,
                  files=1, documents=len(findings), resources=len(findings))


def example_findings(example: str) -> list[dict]:
    """The JSON findings of an example, as the other formats must carry them (other issues add checks)."""
    import json

    from conftest import gate_cli
    return json.loads(gate_cli("check", "--offline", "--format", "json", f"examples/{example}").stdout)["findings"]


def hostile_report() -> Report:
    """Every field of findings, suppressed ones and a checklist line holding HOSTILE text."""
    odd = [finding(message=text, hostname=text or None, source=text, image=text, name=text, namespace=text,
                   file=text or "render.yaml", remediation=text, kind=text) for text in HOSTILE]
    odd += [finding(unverified=True, line=0, source="", hostname=None),
            finding(check="manifest-invalid", kind="", name="", namespace="", api_version="", line=-1)]
    quiet = [Suppressed(finding=f, reason=f.message, by="annotation") for f in odd[:4]]
    item = ChecklistItem(label="Backend Service exists", status=Status.FAIL, note="\x1b[2J", resource="HTTPRoute a/b",
                         findings=odd[:3], suppressed=quiet[:2])
    report = report_of(odd, services=[ServiceChecklist(hostname="\u202eevil", items=[item])])
    report.suppressed.extend(quiet)
    return report
