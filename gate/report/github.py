"""`--format github`: workflow commands that GitHub Actions turns into annotations on the files.

`::error file=F,line=L,title=T::message`. The runner reads `%`, CR and LF in the message as escapes,
and in property values also `:` and `,` (they end a property), so both are escaped the way the
runner's own toolkit (actions/toolkit `command.ts`) does it, or a message could cut itself short or
forge another command.
"""

from __future__ import annotations

from collections.abc import Iterator

from gate.model import Finding, Report
from gate.report.locations import on_disk, relative_path
from gate.report.pieces import batched
from gate.report.safe import clean

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    properties = {"file": clean(relative_path(finding.file) or finding.file), "line": str(max(1, finding.line)),
                  "title": f"{finding.check}{' (could not verify)' if finding.unverified else ''}"}
    if not on_disk(finding.file):  # stdin, an Argo CD application: no file to annotate
        del properties["file"], properties["line"]
    subject = f"{clean(finding.resource_ref)}: " if finding.resource_ref else ""
    # clean: a name with escape sequences must not reach the log raw (the runner prints the message)
    # the remediation is the catalogue's text, cleaned all the same: the runner prints it
    message = (f"{subject}{clean(finding.message, keep_lines=True)}"
               f"\nRemediation: {clean(finding.remediation, keep_lines=True)}")
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{COMMANDS[finding.severity]} {props}::{escape_data(message)}"


class _Once(dict):
    """A value per key, computed the first time: what many annotations repeat (a file's properties,
    a check's title, a remediation) is cleaned and escaped once, not per finding."""

    def __init__(self, compute) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key):
        value = self[key] = self.compute(key)
        return value


def render(report: Report, colour: bool = False) -> str:
    return "".join(annotations(report))


def write(report: Report, sink) -> None:
    """`render`'s text, handed to `sink` in pieces: 100,000 findings make 40 MiB of annotations."""
    batched(annotations(report), sink)


def annotations(report: Report) -> Iterator[str]:
    """One workflow command per finding and input error, each ending in a newline."""
    # annotation(f) for every finding, with the parts that repeat written once: escape_data and
    # escape_property replace single characters, so the escape of a text is its parts' escapes joined.
    files = _Once(lambda file: f"file={escape_property(clean(relative_path(file) or file))},line="
                  if on_disk(file) else "")
    titles = _Once(lambda key: "title=" + escape_property(key[0] + (" (could not verify)" if key[1] else "")))
    remedies = _Once(lambda text: escape_data(f"\nRemediation: {clean(text, keep_lines=True)}"))
    for f in report.findings:
        place = files[f.file]
        if place:
            place = f"{place}{escape_property(str(max(1, f.line)))},"
        ref = f.resource_ref
        subject = f"{clean(ref)}: " if ref else ""
        yield (f"::{COMMANDS[f.severity]} {place}{titles[f.check, f.unverified]}::"
               f"{escape_data(subject + clean(f.message, keep_lines=True))}{remedies[f.remediation]}\n")
    for error in report.errors:
        yield (f"::error title={escape_property('ingress-gate input error')}::"
               f"{escape_data(clean(error, keep_lines=True))}\n")
