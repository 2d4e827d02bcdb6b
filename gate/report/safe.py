"""What a report may print of the input: manifest names, messages and file names are the input's
text, so a name can hold terminal escape sequences (`\\x1b]0;title\\x07`, `\\x1b[2J`), newlines
that would forge report lines, bidirectional overrides, lone surrogates (`"\\ud800"` in JSON) and
the undecodable bytes of a file name (read by Python as surrogate escapes). `clean` makes any of
them visible as escapes; every human-facing reporter passes input text through it.
"""

from __future__ import annotations

import re

# C0 controls but tab, DEL, C1 controls (0x9b is a one-byte CSI on some terminals), line and
# paragraph separators, bidirectional embeddings/overrides/isolates (CVE-2021-42574), surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_KEEP_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a non-UTF-8 file name, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return _NAMED.get(char, f"\\x{code:02x}")
    return f"\\u{code:04x}"


def clean(text: object, *, keep_lines: bool = False) -> str:
    """`text` with every control character, bidi override and surrogate shown as an escape: one line,
    inert on a terminal, encodable as UTF-8. `keep_lines` leaves CR and LF for a format that escapes
    them itself (workflow commands: %0A; Markdown cells: <br>)."""
    text = text if isinstance(text, str) else str(text)
    return (_UNSAFE_KEEP_LINES if keep_lines else _UNSAFE).sub(_escape, text)


def utf8(text: str) -> bytes:
    """Bytes for hashing or quoting a string that may hold surrogates (a file name's raw bytes are
    kept as they were, other surrogates as their code points), never an encoding error."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
