"""Point links at committed files: a finding in a Helm render goes to its chart template.

A render made in CI (`helm template ... --output-dir rendered`) is not committed, so a SARIF alert,
an annotation or a step-summary link to `rendered/...` leads nowhere on GitHub. Helm writes
`# Source: CHART/templates/FILE` above every document it renders; with `--source-root DIR` (where
the charts live in the repository) the formats that link into the repository point at
`DIR/CHART/templates/FILE` when that file exists, and say where the rendered object was. Without
it, or when the template is not there, they keep the rendered file and say that it is generated.
"""

from __future__ import annotations

import dataclasses
import os
import re
from functools import lru_cache
from pathlib import Path

from gate.model import Finding, Report, ServiceChecklist

_CHART_NAME = re.compile(r"^name:\s*['\"]?([^'\"\s#]+)", re.MULTILINE)
MAX_CHART_DEPTH = 4  # Chart.yaml files are looked for this deep under the source root


@lru_cache(maxsize=64)
def chart_folders(source_root: str) -> dict[str, str]:
    """Chart name (Chart.yaml `name`) -> its folder, for charts whose folder is named otherwise."""
    found: dict[str, str] = {}
    root = Path(source_root)
    for folder, dirs, files in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "templates") \
            if depth < MAX_CHART_DEPTH else []
        if "Chart.yaml" in files:
            try:
                text = Path(folder, "Chart.yaml").read_text(encoding="utf-8", errors="replace")[:65536]
            except OSError:
                continue
            match = _CHART_NAME.search(text)
            if match:
                found.setdefault(match.group(1), folder)
    return found


def template_file(source: str, source_root: str) -> Path | None:
    """The template a `# Source:` names, under `source_root`, when it exists there."""
    relative = Path(source)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return None
    direct = Path(source_root, relative)
    if direct.is_file():
        return direct
    chart, *rest = relative.parts
    folder = chart_folders(os.path.abspath(source_root)).get(chart)
    if folder and rest and Path(folder, *rest).is_file():
        return Path(folder, *rest)
    return None


@lru_cache(maxsize=1024)
def _template_lines(path: str) -> tuple[str, ...]:
    try:
        return tuple(Path(path).read_text(encoding="utf-8", errors="replace")[:1048576].splitlines())
    except OSError:
        return ()


def template_line(path: Path, kind: str) -> int:
    """The line of `kind: KIND` when the template has exactly one such line, else 1: a template's
    lines do not match the render's, and a guess is worse than the top of the file."""
    if not kind:
        return 1
    pattern = re.compile(rf"^\s*kind:\s*['\"]?{re.escape(kind)}['\"]?\s*(#.*)?$")
    hits = [n for n, line in enumerate(_template_lines(str(path)), 1) if pattern.match(line)]
    return hits[0] if len(hits) == 1 else 1


def committed(finding: Finding, source_root: str | None) -> Finding:
    """The finding as the linking formats should show it (unchanged when it has no Helm source)."""
    if not finding.source or finding.file.startswith(("<", "argocd:")):
        return finding
    template = template_file(finding.source, source_root) if source_root else None
    if template is None:
        hint = "" if source_root else "; --source-root links the template"
        return dataclasses.replace(finding, message=f"{finding.message} (generated file, from Helm template "
                                                    f"{finding.source}{hint})")
    return dataclasses.replace(
        finding, file=os.path.normpath(template).replace(os.sep, "/"), line=template_line(template, finding.kind),
        message=f"{finding.message} (this template, rendered at {finding.file}:{finding.line})")


def linked(report: Report) -> Report:
    """A copy of the report whose findings point at committed files (see `committed`)."""
    if not any(f.source for f in report.findings):
        return report
    mapped = {id(f): committed(f, report.source_root) for f in report.findings}

    def swap(findings: list[Finding]) -> list[Finding]:
        return [mapped.get(id(f)) or committed(f, report.source_root) for f in findings]

    services = [ServiceChecklist(s.hostname, [dataclasses.replace(item, findings=swap(item.findings))
                                              for item in s.items]) for s in report.services]
    return dataclasses.replace(report, findings=swap(report.findings), unassigned=swap(report.unassigned),
                               services=services)

