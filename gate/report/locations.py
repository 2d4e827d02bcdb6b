"""Where a finding is, as the tools reading our reports want it: paths relative to the working folder."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from gate.model import Finding
from gate.report.safe import utf8


def on_disk(file: str) -> bool:
    """False for inputs that are not files: `<stdin>`, `argocd:APP/KIND/NAMESPACE/NAME` (--argocd-app)."""
    return bool(file) and not file.startswith(("<", "argocd:"))


def relative_path(file: str, base: Path | None = None) -> str | None:
    """A POSIX path relative to `base` (the working folder), or None when not a file under it.

    GitHub matches annotations and code-scanning alerts to repository files by this path, so
    `examples/x.yaml` and `./examples/x.yaml` must come out the same.
    """
    if not on_disk(file):
        return None
    return _relative(file, str(base) if base else os.getcwd())


@lru_cache(maxsize=4096)  # a report names few files many times (22,514 findings in one render file)
def _relative(file: str, base_folder: str) -> str | None:
    base = Path(base_folder).resolve()
    path = Path(file)
    absolute = path if path.is_absolute() else base / path
    try:
        return PurePosixPath(Path(os.path.normpath(absolute)).relative_to(base)).as_posix()
    except ValueError:
        return None


def artifact_uri(file: str, base: Path | None = None) -> str:
    """A URI reference for SARIF: relative (under %SRCROOT%) when possible, else file:// or the name."""
    relative = relative_path(file, base)
    if relative is not None:
        return quote(utf8(relative))  # a non-UTF-8 file name keeps its own bytes, percent-encoded
    if on_disk(file):
        return "file://" + quote(utf8(Path(os.path.abspath(file)).as_posix()))
    return quote(utf8(file or "<input>"), safe="/")


def resource_identity(finding: Finding) -> str:
    """`group/Kind/namespace/name`: what a finding is about, independent of where its file puts it."""
    group = finding.api_version.rpartition("/")[0] if "/" in finding.api_version else ""
    return f"{group}/{finding.kind}/{finding.namespace}/{finding.name}"
