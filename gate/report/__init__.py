"""Reporters: each takes the whole Report and returns text. A new format is one module and one entry."""

from __future__ import annotations

from collections.abc import Callable

from gate.model import Report
from gate.report import github, json_report, junit, markdown, sarif, text

Renderer = Callable[[Report, bool], str]  # (report, colour) -> text

FORMATS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_report.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "github": github.render,
}
