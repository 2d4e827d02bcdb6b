"""`--format markdown`: the checklist for `$GITHUB_STEP_SUMMARY` and pull-request comments.

A table per HTTPS service: services with findings open, the others (passed, or with checks
skipped offline) folded into one `<details>` block when there are many; findings link to `file#Lline` (to the commit on GitHub when
run in Actions). Rows are capped so a huge render stays under GitHub's 1 MiB step-summary limit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

from gate.model import ChecklistItem, Finding, Report, ServiceChecklist
from gate.report.locations import relative_path
from gate.report.safe import clean, utf8
from gate.report.text import headline, plural

ICONS = {"pass": "✅", "fail": "❌", "unverified": "❔", "suppressed": "➖"}
VERDICTS = {"passed": "✅ PASSED", "failed": "❌ FAILED", "error": "❌ ERROR"}
FOLD_QUIET_AFTER = 3  # more services without findings than this are folded into <details>
FOLD_ROWS_AFTER = 20  # a table of findings longer than this is folded
MAX_ROWS = 400  # finding rows in the whole document; the JSON and SARIF reports carry all of them
SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def cell(text: str) -> str:
    """Text safe inside a table cell: Markdown and HTML inert, one line, no control characters."""
    text = SPECIAL.sub(r"\\\1", clean(text, keep_lines=True).replace("&", "&amp;"))
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def code(text: str) -> str:
    return f"`{clean(text)}`" if text and "`" not in text and "|" not in text else cell(text)


def link_base() -> tuple[str | None, Path]:
    """(URL prefix of the commit's files, folder paths are relative to) from the Actions environment."""
    server, repo, sha = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
    if server and repo and sha:
        return f"{server.rstrip('/')}/{repo}/blob/{sha}/", workspace
    return None, Path.cwd()


def where(finding: Finding, base: tuple[str | None, Path]) -> str:
    prefix, folder = base
    relative = relative_path(finding.file, folder)
    label = cell(f"{relative or finding.file}:{finding.line}")
    if relative is None:
        return label
    return f"[{label}]({prefix or ''}{quote(utf8(relative))}#L{finding.line})"


def finding_text(finding: Finding, base: tuple[str | None, Path]) -> str:
    tag = f"could not verify ({finding.severity})" if finding.unverified else finding.severity
    subject = f"{finding.resource_ref}: " if finding.resource_ref else ""
    return f"**{tag}** `{finding.check}`: {cell(subject + finding.message)} at {where(finding, base)}"


class Rows:
    """Counts the finding rows written, so the document stops growing past MAX_ROWS."""

    def __init__(self) -> None:
        self.written = 0
        self.left_out = 0

    def take(self, findings: list[Finding]) -> list[Finding]:
        room = max(0, MAX_ROWS - self.written)
        self.written += min(room, len(findings))
        self.left_out += max(0, len(findings) - room)
        return findings[:room]


def service_table(service: ServiceChecklist, base: tuple[str | None, Path], rows: Rows) -> list[str]:
    lines = [f"### {ICONS[service.status]} https://{cell(service.hostname)}", "",
             "| | Check | About | Finding |", "|---|---|---|---|"]
    for item in service.items:
        lines.append(item_row(item, base, rows))
    return [*lines, ""]


def item_row(item: ChecklistItem, base: tuple[str | None, Path], rows: Rows) -> str:
    shown = rows.take(item.findings)
    notes = [finding_text(f, base) for f in shown]
    if len(shown) < len(item.findings):
        notes.append(f"... and {len(item.findings) - len(shown)} more")
    if item.note and not item.findings:
        notes.append(cell(item.note))
    return f"| {ICONS[item.status]} | {cell(item.label)} | {code(item.resource)} | {'<br>'.join(notes)} |"


def folded(summary: str, body: list[str]) -> list[str]:
    return [f"<details><summary>{summary}</summary>", "", *body, "</details>", ""]


def render(report: Report, colour: bool = False) -> str:
    base = link_base()
    rows = Rows()
    counts, extra = report.summary, report.counts
    lines = [f"## ingress-gate: {VERDICTS[report.verdict]}", "", cell(headline(report)), "",
             f"**{plural(counts['error'], 'error')}, {plural(counts['warning'], 'warning')}, {counts['info']} info** "
             f"(fail on {report.fail_on}) · {extra['notVerifiedOffline']} not verified (offline) · "
             f"{extra['couldNotVerify']} could not be verified · {extra['suppressed']} suppressed · "
             f"{plural(extra['services'], 'service')} · {plural(report.resources, 'resource')} checked in "
             f"{plural(report.files, 'file')}", ""]
    if report.errors:
        lines += ["### Input errors", "", *(f"- {cell(error)}" for error in report.errors), ""]
    # Services with findings stay open; the quiet ones (passed, or skipped checks only, as offline) fold.
    noisy = [s for s in report.services if any(item.findings for item in s.items)]
    quiet = [s for s in report.services if not any(item.findings for item in s.items)]
    for service in noisy:
        lines += service_table(service, base, rows)
    quiet_tables = [line for service in quiet for line in service_table(service, base, rows)]
    if len(quiet) > FOLD_QUIET_AFTER:
        passed = sum(1 for s in quiet if s.status == "pass")
        detail = f" ({passed} passed, {len(quiet) - passed} not fully checked)" if passed < len(quiet) else ""
        lines += folded(f"{len(quiet)} services without findings{detail}", quiet_tables)
    else:
        lines += quiet_tables
    if report.unassigned:
        shown = rows.take(report.unassigned)
        table = ["| Severity | Check | Finding | Where |", "|---|---|---|---|"]
        table += [f"| {'could not verify (' + f.severity + ')' if f.unverified else f.severity} | `{f.check}` | "
                  f"{cell((f.resource_ref + ': ' if f.resource_ref else '') + f.message)} | {where(f, base)} |"
                  for f in shown]
        lines += ["### Findings outside any HTTPS service", ""]
        lines += folded(f"{len(report.unassigned)} findings", [*table, ""]) if len(shown) > FOLD_ROWS_AFTER \
            else [*table, ""]
    if rows.left_out:
        lines += [f"> {rows.left_out} more findings are not shown here: see the JSON or SARIF report.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
