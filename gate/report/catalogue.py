"""The check catalogue as text, JSON or Markdown: `gate checks`, and README's table (generated, tested).

`gate check`'s checks come first; `gate audit`'s follow, marked (text: `audit`, JSON: `pipeline`,
Markdown: a table of their own).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the catalogue is handed in: `gate --help` does not import every check family
    from gate.checks.base import Check


def catalogue_text(checks: list[Check]) -> str:
    width = max(len(c.id) for c in checks)
    lines = []
    for entry in checks:
        marker = "(gate audit) " if entry.pipeline == "audit" else ""
        lines.append(f"{entry.id:<{width}}  {entry.severity:<7}  {marker}{entry.title}")
        lines.append(f"{'':<{width}}  {'':<7}  why: {entry.why}")
    return "\n".join(lines) + "\n"


def catalogue_json(checks: list[Check]) -> str:
    return json.dumps([{"id": c.id, "severity": c.severity, "title": c.title, "why": c.why,
                        "remediation": c.remediation, "item": c.item, "probe": c.probe,
                        "options": list(c.options), "pipeline": c.pipeline} for c in checks], indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(checks: list[Check]) -> list[str]:
    rows = ["| id | severity | checklist line | what it finds | why it matters |", "|---|---|---|---|---|"]
    for entry in checks:
        probe = f" (needs {entry.probe}; `[?]` offline)" if entry.probe else ""
        rows.append(f"| `{entry.id}` | {entry.severity} | {entry.item_label} | {_cell(entry.title)}{probe} | "
                    f"{_cell(entry.why)} |")
    return rows


def catalogue_markdown(checks: list[Check]) -> str:
    rows = _table([c for c in checks if c.pipeline == "check"])
    audit = [c for c in checks if c.pipeline == "audit"]
    if audit:
        rows += ["", "`gate audit` (the live cluster, or a snapshot of it):", "", *_table(audit)]
    return "\n".join(rows) + "\n"


CATALOGUE_FORMATS = {"text": catalogue_text, "json": catalogue_json, "markdown": catalogue_markdown}
