"""Reading the error bodies of the HTTP APIs the sources talk to (Kubernetes, Argo CD)."""

from __future__ import annotations

import json


def error_message(data: bytes) -> str:
    """`: <message>` of a JSON error body, when there is one: a Kubernetes Status, or an Argo CD
    (grpc-gateway) error; both carry a `message`."""
    try:
        body = json.loads(data)
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {message[:300]}" if isinstance(message, str) and message else ""
