"""The catalogue: every family's CHECKS (and the PROBES they ask) joined, ids unique, probes known."""

from __future__ import annotations

from gate.checks import (
    api,
    backends,
    certificates,
    dns,
    gateways,
    images,
    listeners,
    manifests,
    references,
    waves,
)
from gate.checks.base import Check
from gate.probes.base import Probe

FAMILIES = (manifests, api, references, listeners, waves, images, dns, certificates, gateways, backends)


def _catalogue() -> dict[str, Check]:
    catalogue: dict[str, Check] = {}
    for family in FAMILIES:
        for entry in family.CHECKS:
            if entry.id in catalogue:
                raise RuntimeError(f"check id {entry.id!r} is defined twice ({family.__name__})")
            catalogue[entry.id] = entry
    return catalogue


def _probes() -> dict[str, Probe]:
    probes = {probe.name: probe for family in FAMILIES for probe in getattr(family, "PROBES", ())}
    for entry in CHECKS.values():
        # A check whose probe nobody provides would never be asked, and its line would read as passed.
        if entry.probe is not None and entry.probe not in probes:
            raise RuntimeError(f"check {entry.id} needs the {entry.probe} probe, which no family provides")
    return probes


CHECKS: dict[str, Check] = _catalogue()
PROBES: dict[str, Probe] = _probes()
