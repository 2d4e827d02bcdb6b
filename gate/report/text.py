"""The human checklist: per HTTPS service, `[x]` passed, `[ ]` failed, `[?]` not verified, `[-]` suppressed.

Read top to bottom: the verdict with its counts, the failing services in full, one line per service
that did not fail (`--verbose` expands them), findings outside any service, a tally per check with
its remediation (once per check), the summary line. A render with hundreds of services and
thousands of findings stays readable: each line shows a few findings of a check and counts the
rest (`--verbose` shows all; JSON and SARIF always carry all). Input text is printed through
`safe.clean`, so a manifest cannot write escape sequences or forge lines.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from gate.model import SEVERITY_RANK, ChecklistItem, Finding, Report, ServiceChecklist, Status, Verdict
from gate.report.safe import clean

MARKS = {"pass": "[x]", "fail": "[ ]", "unverified": "[?]", "suppressed": "[-]"}
COLOURS = {"pass": "32", "fail": "31", "unverified": "33", "suppressed": "36", "error": "31", "warning": "33",
           "info": "36", Verdict.PASSED: "32", Verdict.FAILED: "31", Verdict.ERROR: "31"}
Seen = dict[int, str]  # id(finding) -> the service it was first shown under
SHOWN_PER_CHECK = 3  # findings of one check on one line before "... and N more" (without --verbose)


@dataclass(frozen=True)
class Options:
    colour: bool = False
    verbose: bool = False  # every line of every service, every finding
    quiet: bool = False  # only failing lines and the verdict
    width: int | None = None  # wrap long lines to this many columns (a terminal), else never
    fail_on: str = "error"  # with quiet: a line is shown when one of its findings fails the gate


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 error`, `2 errors`, `0 errors`: counts in messages read as English."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def _paint(text: str, code: str, opts: Options) -> str:
    return f"\033[{code}m{text}\033[0m" if opts.colour else text


def _wrap(first: str, indent: str, opts: Options) -> list[str]:
    """One logical line, wrapped to the terminal: continuation lines indented under the text."""
    if opts.width is None or len(first) <= opts.width:
        return [first]
    import textwrap  # only on a terminal narrower than the line: piped output (a hook's log) never wraps

    return textwrap.wrap(first, width=max(40, opts.width), subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [first]


def _where(finding: Finding) -> str:
    source = f" (template {clean(finding.source)})" if finding.source else ""
    return f"{clean(finding.file)}:{finding.line}{source}"


def _finding_lines(finding: Finding, opts: Options, indent: str) -> list[str]:
    tag = "unverified" if finding.unverified else finding.severity
    head = _paint(tag, COLOURS["unverified" if finding.unverified else finding.severity], opts)
    subject = f"{clean(finding.resource_ref)}: " if finding.resource_ref else ""
    body = f"{finding.check}: {subject}{clean(finding.message)}"
    lines = _wrap(f"{indent}{' ' * len(tag)} {body}", indent + "    ", opts)
    lines[0] = f"{indent}{head}{lines[0][len(indent) + len(tag):]}"
    return [*lines, f"{indent}  at {_where(finding)}"]


def _findings_block(findings: list[Finding], opts: Options, indent: str, seen: Seen | None = None,
                    where: str = "") -> list[str]:
    """Each check's first findings, then how many more (all of them with --verbose). A finding shown
    under an earlier service (a Gateway shared by many) is only counted, with where it is."""
    lines: list[str] = []
    if seen is not None and not opts.verbose:
        earlier = [f for f in findings if id(f) in seen]
        findings = [f for f in findings if id(f) not in seen]
    else:
        earlier = []
    if opts.verbose:
        lines = [line for f in findings for line in _finding_lines(f, opts, indent)]
    else:
        by_check: dict[str, list[Finding]] = defaultdict(list)
        for finding in findings:
            by_check[finding.check].append(finding)
        for check_id, group in by_check.items():
            for finding in group[:SHOWN_PER_CHECK]:
                lines += _finding_lines(finding, opts, indent)
            if len(group) > SHOWN_PER_CHECK:
                lines.append(f"{indent}... and {plural(len(group) - SHOWN_PER_CHECK, f'more {check_id} finding')} "
                             f"(--verbose shows all)")
    if earlier:
        first = seen[id(earlier[0])]
        lines.append(f"{indent}... and {plural(len(earlier), 'finding')} shown above (under https://{first})")
    if seen is not None:
        for finding in findings:
            seen.setdefault(id(finding), where)
    return lines


def _item_lines(item: ChecklistItem, opts: Options, seen: Seen | None = None, where: str = "") -> list[str]:
    mark = _paint(MARKS[item.status], COLOURS[item.status], opts)
    detail = f" ({clean(item.note)})" if item.note and item.status != "suppressed" else ""
    if item.status == "suppressed":
        detail = f"  {clean(item.note)}"
    about = f"  {clean(item.resource)}" if item.resource and item.status == "pass" else ""
    lines = _wrap(f"  {MARKS[item.status]} {item.label}{detail}{about}", "      ", opts)
    lines[0] = f"  {mark}{lines[0][5:]}"
    return [*lines, *_findings_block(item.findings, opts, "      ", seen, where)]


def _service_block(service: ServiceChecklist, opts: Options, seen: Seen | None = None) -> list[str]:
    host = clean(service.hostname)
    lines = [_paint(f"https://{host}", "1", opts)]
    for item in service.items:
        if opts.quiet and not any(SEVERITY_RANK[f.severity] >= SEVERITY_RANK[opts.fail_on] for f in item.findings):
            continue
        lines += _item_lines(item, opts, seen, host)
    return [*lines, ""]


def _service_line(service: ServiceChecklist, opts: Options) -> str:
    """A service that did not fail, in one line: `[x] https://admin.example.com  5 checks`."""
    states = Counter(item.status for item in service.items)
    parts = [plural(states["pass"], "check") + (" passed" if len(states) > 1 else "")]
    if states["unverified"]:
        offline = sum(1 for i in service.items if i.status == "unverified" and i.note == "offline")
        if offline:
            parts.append(f"{offline} not verified (offline)")
        if states["unverified"] - offline:
            parts.append(f"{states['unverified'] - offline} could not be verified")
    if states["suppressed"]:
        parts.append(f"{states['suppressed']} suppressed")
    mark = _paint(MARKS[service.status], COLOURS[service.status], opts)
    return f"{mark} https://{clean(service.hostname)}  {', '.join(parts)}"


def _tally(report: Report, opts: Options) -> list[str]:
    """Per check with findings: how many, of what, and its remediation once."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    remedies: dict[str, str] = {}
    for finding in report.findings:
        found[finding.check]["could not verify" if finding.unverified else finding.severity] += 1
        remedies.setdefault(finding.check, finding.remediation)
    for suppressed in report.suppressed:
        found[suppressed.finding.check]["suppressed"] += 1
    if not found:
        return []
    order = ("error", "warning", "info", "could not verify", "suppressed")
    width = max(len(check_id) for check_id in found)
    lines = [_paint("Findings per check", "1", opts)]
    for check_id, counts in sorted(found.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        described = ", ".join(f"{counts[k]} {k}" if k in ("info", "could not verify", "suppressed")
                              else plural(counts[k], k) for k in order if counts[k])
        lines.append(f"  {check_id:<{width}}  {described}")
        if check_id in remedies:
            lines += _wrap(f"  {'':<{width}}  fix: {clean(remedies[check_id])}", " " * (width + 9), opts)
    rest = [c for c in report.checks if c.id not in found]
    offline = sum(1 for c in rest if c.probe and report.probe_status.get(c.probe) == "offline")
    note = f" ({offline} not run: offline)" if offline else ""
    lines += [f"  {plural(len(rest), 'other check')} found nothing{note}", ""]
    return lines


def headline(report: Report) -> str:
    """The verdict with its counts, the first line people read: `FAILED: 11 errors in 4 of 23 services`."""
    counts, extra = report.summary, report.counts
    verdict = report.verdict.value.upper()
    severities = [plural(counts[s], s) if s != "info" else f"{counts[s]} info"
                  for s in ("error", "warning", "info") if counts[s]]
    if counts["unverified"]:
        severities.append(f"{counts['unverified']} could not be verified")
    what = ", ".join(severities) or "no findings"
    where = f" in {extra['failingServices']} of {plural(extra['services'], 'service')}" \
        if extra["failingServices"] else f"; {plural(extra['services'], 'service')}"
    outside = f", {extra['outsideServices']} outside any service" if extra["outsideServices"] else ""
    if extra["notVerifiedOffline"]:  # findings that could not be verified are counted with the others
        outside += f"; {extra['notVerifiedOffline']} not verified (offline)"
    errors = f"{plural(len(report.errors), 'input')} could not be read; " if report.errors else ""
    return (f"{verdict}: {errors}{what}{where}{outside}; {plural(report.resources, 'resource')} checked "
            f"(fail on {report.fail_on})")


def summary_line(report: Report) -> str:
    counts, extra = report.summary, report.counts
    parts = [plural(counts["error"], "error"), plural(counts["warning"], "warning"), f"{counts['info']} info"]
    checked = [f"{extra['notVerifiedOffline']} not verified (offline)",
               f"{extra['couldNotVerify']} could not be verified", f"{extra['suppressed']} suppressed"]
    extras = []
    if report.cluster_state_consulted:
        extras.append(f"{plural(report.known, 'object')} known from cluster state")
    if report.skipped:
        extras.append(f"{plural(len(report.skipped), 'document')} skipped (not Kubernetes objects)")
    tail = f"; {', '.join(extras)}" if extras else ""
    return (f"{report.verdict.value.upper()}: {', '.join(parts)} (fail on {report.fail_on}); {', '.join(checked)}; "
            f"{plural(extra['services'], 'service')} ({extra['failingServices']} failing), "
            f"{plural(report.resources, 'resource')} checked in {plural(report.files, 'file')}{tail}")


def render(report: Report, colour: bool = False, *, verbose: bool = False, quiet: bool = False,
           width: int | None = None) -> str:
    opts = Options(colour=colour, verbose=verbose, quiet=quiet, width=width, fail_on=report.fail_on)
    verdict_colour = COLOURS[report.verdict]
    lines = [*(_paint(line, verdict_colour, opts) for line in _wrap(headline(report), "  ", opts)), ""]
    # Services with findings first, in full: a `[?]` line whose finding could not be verified can
    # fail the gate as surely as a `[ ]` one.
    failing = [s for s in report.services if any(item.findings for item in s.items)]
    # The most broken first: a platform-wide finding (a misconfigured issuer) reaches every service,
    # and the services that fail on their own as well must not drown in alphabetical order.
    failing.sort(key=lambda s: (-sum(item.status == Status.FAIL for item in s.items),
                                -sum(len(item.findings) for item in s.items)))
    others = [s for s in report.services if not any(item.findings for item in s.items)]
    seen: Seen = {}
    for service in failing:
        block = _service_block(service, opts, seen)
        if len(block) > 2 or not opts.quiet:  # quiet: a service none of whose lines fails the gate is left out
            lines += block
    if not opts.quiet and others:
        if opts.verbose:
            for service in others:
                lines += _service_block(service, opts, seen)
        else:
            lines += [_service_line(service, opts) for service in others]
            lines.append("")
    threshold = SEVERITY_RANK[report.fail_on]
    outside = [f for f in report.unassigned if not opts.quiet or SEVERITY_RANK[f.severity] >= threshold]
    if outside:
        lines.append(_paint("Findings outside any HTTPS service", "1", opts))
        lines += _findings_block(outside, opts, "  ")
        lines.append("")
    if not opts.quiet:
        lines += _tally(report, opts)
        if report.private_names:
            names = ", ".join(clean(n) for n in report.private_names[:10])
            more = f" and {len(report.private_names) - 10} more" if len(report.private_names) > 10 else ""
            lines += _wrap(f"Not public DNS names, so not listed as HTTPS services and not asked of DNS: "
                           f"{names}{more}", "  ", opts)
            lines.append("")
    for error in report.errors:
        lines.append(_paint(f"input error: {clean(error)}", COLOURS["error"], opts))
    lines += [_paint(line, verdict_colour, opts) for line in _wrap(summary_line(report), "  ", opts)]
    return "\n".join(lines) + "\n"
