"""Canned probe answers, shipped for tests: `run(config, probe_answers=...)` judges without a server.

The real probes are proved against real servers (knot, docker-registry); these let a test state
what the network said and assert what the checks make of it.

    run(config, probe_answers={
        "dns": fake.dns({"pay.example.com": {"A": ["192.0.2.10"]}, "lb.example.net": {"A": ["192.0.2.10"]}}),
        "registry": fake.registry({"registry.example.com/pay/web:1.4.2": "found"}),
    })
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gate.domain.imageref import ImageRef, parse
from gate.probes.dns_answers import NODATA, NXDOMAIN, RESOLVED, CaaSet, Lookup, NameAnswer, Question
from gate.probes.registry import ABSENT, FOUND, UNAVAILABLE, ManifestAnswer

FAKE_NAMESERVER = "fake nameserver"


def _lookup(entry: Mapping[str, Any], family: str) -> Lookup:
    status = entry.get("status", RESOLVED)
    records = tuple(entry.get(family, ()))
    chain = tuple(entry.get("CNAME", ()))
    if status == RESOLVED and not records:
        status = NODATA
    return Lookup(status, records, chain, entry.get("detail", ""))


def dns(zone: Mapping[str, Mapping[str, Any]], *, nameserver: str = FAKE_NAMESERVER) -> Callable[[Question], dict]:
    """name -> {"A": [...], "AAAA": [...], "CNAME": [targets...], "CAA": [(flags, tag, value)],
    "status": "timeout"|"servfail"|...}; a name not in `zone` is NXDOMAIN."""

    def answer(question: Question) -> dict[str, NameAnswer]:
        entry = zone.get(question.name)
        if entry is None:
            a = aaaa = Lookup(NXDOMAIN)
        else:
            a, aaaa = _lookup(entry, "A"), _lookup(entry, "AAAA")
        caa = None
        if question.caa:
            records = tuple(entry.get("CAA", ())) if entry else ()
            caa = CaaSet(RESOLVED, question.name, records) if records else CaaSet(NODATA)
        if not question.addresses:
            a = aaaa = None
        return {nameserver: NameAnswer(a=a, aaaa=aaaa, caa=caa)}

    return answer


def registry(outcomes: Mapping[str, str | ManifestAnswer], *,
             default: str = ABSENT) -> Callable[[ImageRef], ManifestAnswer]:
    """image reference (as written; normalised like the gate does) -> outcome or a ManifestAnswer."""
    table = {parse(ref): value for ref, value in outcomes.items()}

    def answer(ref: ImageRef) -> ManifestAnswer:
        value = table.get(ref, default)
        if isinstance(value, ManifestAnswer):
            return value
        detail = {FOUND: "", ABSENT: "manifest unknown", UNAVAILABLE: "connection refused"}.get(value, value)
        digest = "sha256:" + "0" * 64 if value == FOUND else None
        return ManifestAnswer(value, detail, "application/vnd.oci.image.manifest.v1+json" if digest else None,
                              digest)

    return answer
