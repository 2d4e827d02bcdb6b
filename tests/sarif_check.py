"""Validate SARIF the gate writes against the OASIS schema in ../shared/schemas (tests use needs_shared)."""

from __future__ import annotations

import json
from functools import cache

import jsonschema
from conftest import SARIF_SCHEMA


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())


def valid_sarif(text: str) -> dict:
    """Parse SARIF text and fail the test with every schema error found."""
    document = json.loads(text)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(document)]
    assert not errors, "\n".join(errors[:20])
    return document
