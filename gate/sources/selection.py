"""Which files a run reads, and whose findings count: the policy's `paths` and `exclude`, and `--changed`.

- `paths` (policy): what to check when the command line names nothing; relative to the policy
  file's folder (for `./.gate.yaml`, the working folder).
- `exclude` (policy): globs, relative to the same folder (`charts/**`, `**/templates/**`); a file or
  folder they match is never opened, so unrendered Helm templates beside the render cost nothing.
- `--changed FILE...`: the files a commit touches (pre-commit passes them). The render is still the
  whole render set (`paths`, else the working folder) so that references resolve against
  everything; only findings in the given files count. pre-commit cuts a long file list into
  several processes: every process reads the same render set and judges only its own files, so a
  split never changes the verdict.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from gate.sources.files import MANIFEST_SUFFIXES, display_path


_ANY_NAME = "\x01" * 24  # no manifest is called that; only `*` and `**` match it


class SelectionError(Exception):
    """Paths and options that cannot be combined (exit code 2)."""


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex over POSIX paths: `**` any number of folders, `*` and `?` within one
    name, `[...]` a class. A pattern without `/` matches a name at any depth, as .gitignore does."""
    pattern = pattern.strip().removeprefix("./")
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.rstrip("/")
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[" and (end := pattern.find("]", i + 2)) > 0:
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body[:1] == "!" else body).replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    body = "".join(out)
    return re.compile(body if anchored else f"(?:.*/)?{body}")


@dataclass(frozen=True)
class Excluder:
    patterns: tuple[str, ...]
    base: Path  # the folder the patterns are relative to

    @cached_property
    def regexes(self) -> tuple[re.Pattern[str], ...]:
        return tuple(glob_regex(p) for p in self.patterns if p.strip())

    def relative(self, path: Path) -> str:
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.relative_to(self.base).as_posix()
        except ValueError:
            return display_path(path)

    def file_excluded(self, path: Path) -> bool:
        if not self.regexes:
            return False
        rel = self.relative(path)
        parts = rel.split("/")
        # A file is excluded when it, or any folder above it, matches.
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        return any(r.fullmatch(p) for r in self.regexes for p in prefixes)

    def folder_excluded(self, path: Path) -> bool:
        """A folder whose every file is excluded: the folder itself, or `folder/**` matches."""
        if not self.regexes:
            return False
        rel = self.relative(path)
        # A pattern that matches a made-up child name matches every child (`folder/**`, `folder/*`).
        return any(r.fullmatch(rel) or r.fullmatch(f"{rel}/{_ANY_NAME}") for r in self.regexes)


def walk(folder: Path, excluder: Excluder) -> Iterator[Path]:
    """Manifest files under a folder as `gate.sources.files` finds them (sorted, hidden folders
    skipped), without descending into excluded folders."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not excluder.folder_excluded(Path(root, d)))
        for name in sorted(files):
            path = Path(root, name)
            if name.endswith(MANIFEST_SUFFIXES) and not excluder.file_excluded(path):
                yield path


def expand(paths: Iterable[str], excluder: Excluder) -> list[str]:
    """The paths to read, with excluded files and folders left out (stdin and missing paths kept,
    so the loader reports them as it always does)."""
    if not excluder.regexes:
        return list(paths)
    out: list[str] = []
    for raw in paths:
        path = Path(raw)
        if raw == "-" or not path.exists():
            out.append(raw)
        elif path.is_dir():
            if not excluder.folder_excluded(path):
                out.extend(str(p) for p in walk(path, excluder))
        elif not excluder.file_excluded(path):
            out.append(raw)
    return out


def in_render_set(file: Path, render_paths: Iterable[str], excluder: Excluder) -> bool:
    """Whether reading `render_paths` reads `file` (without listing the folders)."""
    if excluder.file_excluded(file):
        return False
    target = Path(os.path.abspath(file))
    for raw in render_paths:
        if raw == "-":
            continue
        root = Path(os.path.abspath(raw))
        if target == root:
            return True
        try:
            inside = target.relative_to(root)
        except ValueError:
            continue
        if root.is_dir() and target.name.endswith(MANIFEST_SUFFIXES) \
                and not any(part.startswith(".") for part in inside.parts[:-1]):
            return True
    return False


@dataclass(frozen=True)
class Selection:
    paths: tuple[str, ...]  # what the loader reads
    focus: frozenset[str] | None = None  # display paths whose findings count; None: every finding
    changed: tuple[str, ...] = ()  # the --changed files as given
    outside: tuple[str, ...] = ()  # given --changed files that are not in the render set
    render_set: tuple[str, ...] = ()  # what --changed judged against (for messages)


def select(paths: tuple[str, ...], *, changed: bool, policy_paths: Iterable[str], exclude: Iterable[str],
           policy_file: str | None, other_source: bool = False) -> Selection:
    """`paths`: the command line's PATHs (with `changed`, the changed files); `other_source`: the
    render also comes from elsewhere (--argocd-app), so no PATH is needed."""
    base = Path(os.path.abspath(Path(policy_file).parent)) if policy_file else Path(os.path.abspath("."))
    excluder = Excluder(tuple(exclude), base)
    configured = tuple(str(base / p) if not Path(p).is_absolute() else p for p in policy_paths)
    if not changed:
        chosen = paths or configured
        if not chosen and not other_source:
            raise SelectionError("give at least one PATH (a file, a folder, or - for stdin), set `paths` in the "
                                 "policy (.gate.yaml), or use --argocd-app NAME")
        return Selection(paths=tuple(expand(chosen, excluder)))
    if "-" in paths:
        raise SelectionError("--changed takes the changed files by name, not - (stdin)")
    render_set = configured or (str(base),)
    policy = Path(os.path.abspath(policy_file)) if policy_file else None
    inside, outside = [], []
    for raw in paths:
        file = Path(raw)
        if policy is not None and Path(os.path.abspath(file)) == policy:
            # The policy changed: every finding may have changed with it.
            return Selection(paths=tuple(expand(render_set, excluder)), focus=None, changed=paths,
                             render_set=render_set)
        (inside if in_render_set(file, render_set, excluder) else outside).append(raw)
    return Selection(paths=tuple(expand(render_set, excluder)),
                     focus=frozenset(display_path(Path(f)) for f in inside), changed=paths,
                     outside=tuple(outside), render_set=render_set)
