"""`--format summary`: the verdict and why, in the first lines of a log.

For logs read from the top and often cut: the Argo CD PreSync Job's Pod log (the UI and
`kubectl logs` show its beginning), a CI step folded after a few lines. One verdict line, then the
findings that decide it (at or above --fail-on), at most MAX_LINES of them; the full checklist
follows when `--format text` comes after it.
"""

from __future__ import annotations

from gate.model import SEVERITY_RANK, Report, Verdict

MAX_LINES = 20


def render(report: Report, colour: bool = False) -> str:
    counts = report.summary
    tally = (f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info, "
             f"{counts['unverified']} unverified (fail on {report.fail_on})")
    verdict = report.verdict
    if verdict is Verdict.ERROR:
        lines = [f"ingress-gate: could not check everything (exit 2): {len(report.errors)} input error(s); {tally}"]
        lines += [f"  input error: {error}" for error in report.errors[:MAX_LINES]]
    else:
        lines = [f"ingress-gate: {'PASSED' if verdict is Verdict.PASSED else 'FAILED'}: {tally}"]
    threshold = SEVERITY_RANK[report.fail_on]
    deciding = [f for f in report.findings if SEVERITY_RANK[f.severity] >= threshold]
    room = max(0, MAX_LINES - (len(lines) - 1))
    for finding in deciding[:room]:
        tag = f"{finding.severity} (could not verify)" if finding.unverified else finding.severity
        subject = f"{finding.resource_ref}: " if finding.resource_ref else ""
        lines.append(f"  {tag} {finding.check}: {subject}{finding.message} at {finding.location}")
    if len(deciding) > room:
        lines.append(f"  ... and {len(deciding) - room} more (below, and in --format json)")
    return "\n".join(lines) + "\n\n"
