"""Reporters: each takes the whole Report and returns text. A new format is one module and one entry.

A format's module is imported when the format is rendered, not when the package is: a run pays only
for the formats it writes (junit's XML stack, sarif's hashing and the check catalogue it embeds are
start-up a one-file pre-commit run would otherwise pay on every commit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gate.model import Report

Renderer = Callable[["Report", bool], str]  # (report, colour) -> text
# (report, sink): the text handed to sink in pieces. For the formats whose text grows with every finding
# (JSON, SARIF, JUnit, annotations): at 121,000 objects the JSON report is 228 MiB, and one str of it (with
# its bytes) would raise the run's peak by twice that.
Writer = Callable[["Report", Callable[[str], object]], None]


def _linked(report: Report) -> Report:
    """Formats that link into the repository point at committed files (gate.report.places)."""
    from gate.report.places import linked

    return linked(report)


def _text(report: Report, colour: bool) -> str:
    from gate.report import text

    return text.render(report, colour)


def _json(report: Report, colour: bool) -> str:
    from gate.report import json_report

    return json_report.render(report, colour)


def _json_pieces(report: Report, sink: Callable[[str], object]) -> None:
    from gate.report import json_report

    json_report.write(report, sink)


def _sarif(report: Report, colour: bool) -> str:
    from gate.report import sarif

    return sarif.render(_linked(report), colour)


def _sarif_pieces(report: Report, sink: Callable[[str], object]) -> None:
    from gate.report import sarif

    sarif.write(_linked(report), sink)


def _github_pieces(report: Report, sink: Callable[[str], object]) -> None:
    from gate.report import github

    github.write(_linked(report), sink)


def _junit(report: Report, colour: bool) -> str:
    from gate.report import junit

    return junit.render(report, colour)


def _junit_pieces(report: Report, sink: Callable[[str], object]) -> None:
    from gate.report import junit

    junit.write(report, sink)


def _markdown(report: Report, colour: bool) -> str:
    from gate.report import markdown

    return markdown.render(_linked(report), colour)


def _github(report: Report, colour: bool) -> str:
    from gate.report import github

    return github.render(_linked(report), colour)


def _summary(report: Report, colour: bool) -> str:
    from gate.report import summary

    return summary.render(report, colour)


FORMATS: dict[str, Renderer] = {
    "text": _text,
    "json": _json,
    "sarif": _sarif,
    "junit": _junit,
    "markdown": _markdown,
    "github": _github,
    "summary": _summary,
}

# Formats that can be written in pieces (FORMATS renders them whole, the same text).
WRITERS: dict[str, Writer] = {
    "json": _json_pieces,
    "sarif": _sarif_pieces,
    "github": _github_pieces,
    "junit": _junit_pieces,
}
