"""Reporters: each takes the whole Report and returns text. A new format is one module and one entry."""

from __future__ import annotations

from collections.abc import Callable

from gate.model import Report
from gate.report import github, json_report, junit, markdown, sarif, summary, text
from gate.report.places import linked

Renderer = Callable[[Report, bool], str]  # (report, colour) -> text


def _linking(render: Renderer) -> Renderer:
    """Formats that link into the repository point at committed files (gate.report.places)."""
    return lambda report, colour: render(linked(report), colour)


FORMATS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_report.render,
    "sarif": _linking(sarif.render),
    "junit": junit.render,
    "markdown": _linking(markdown.render),
    "github": _linking(github.render),
    "summary": summary.render,
}
