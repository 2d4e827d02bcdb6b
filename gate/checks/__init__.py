"""The catalogue: every family's CHECKS (and network PROBES) joined, ids unique."""

from __future__ import annotations

from gate.checks import backends, certificates, dns, gateways, images, listeners, manifests, references, waves
from gate.checks.base import Check, Probe

FAMILIES = (manifests, references, listeners, waves, images, dns, certificates, gateways, backends)


def _catalogue() -> dict[str, Check]:
    catalogue: dict[str, Check] = {}
    for family in FAMILIES:
        for entry in family.CHECKS:
            if entry.id in catalogue:
                raise RuntimeError(f"check id {entry.id!r} is defined twice ({family.__name__})")
            catalogue[entry.id] = entry
    return catalogue


CHECKS: dict[str, Check] = _catalogue()
PROBES: list[Probe] = [probe for family in FAMILIES for probe in getattr(family, "PROBES", ())]
