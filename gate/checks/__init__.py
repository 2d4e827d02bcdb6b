"""The catalogues: every family's CHECKS (and the PROBES they ask) joined, ids unique, probes known.

`CHECKS` is `gate check`'s (the render); `AUDIT_CHECKS` is `gate audit`'s (the live cluster). Each
command runs its own; an id may be in both (certmanager-gateway-api-disabled: the render's view and
the live Deployment's), and a policy may name any id of either.
"""

from __future__ import annotations

from gate.checks import (
    api,
    audit,
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
AUDIT_FAMILIES = (audit,)


def _catalogue(families: tuple = FAMILIES) -> dict[str, Check]:
    catalogue: dict[str, Check] = {}
    for family in families:
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
AUDIT_CHECKS: dict[str, Check] = _catalogue(AUDIT_FAMILIES)
ALL_CHECK_IDS: frozenset[str] = frozenset(CHECKS) | frozenset(AUDIT_CHECKS)
if any(entry.pipeline != "audit" for entry in AUDIT_CHECKS.values()) or any(
        entry.pipeline != "check" for entry in CHECKS.values()):
    raise RuntimeError("a family's checks are registered for the other command's pipeline")
