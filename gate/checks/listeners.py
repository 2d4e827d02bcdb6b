"""Gateway listeners and the TLS Secrets they serve."""

from __future__ import annotations

from collections.abc import Iterator

from gate.checks.base import Check, Context, Hit, collector
from gate.domain.controllers import blast_radius
from gate.domain.gateway_api import Listener, terminating_listeners

CHECKS: list[Check] = []
check = collector(CHECKS)


def _blast_radius(ctx: Context, listener: Listener) -> str:
    gateway = f"{listener.gateway.namespace}/{listener.gateway.name}"
    return blast_radius(gateway, ctx.index.other_listeners(listener), ctx.gateway_controller())


@check("listener-secret-missing", "error", item="listener", unresolved=True, options=("gatewayController",),
       why="A listener referencing a Secret that nothing provides is ResolvedRefs=False/InvalidCertificateRef for "
           "ever; on Traefik before v3.1 and released Cilium that takes the whole Gateway down (Gateway API spec; "
           "traefik #9158; cilium #34982).",
       title="A Gateway listener references a TLS Secret that nothing provides",
       remediation="Create the Secret, add a cert-manager Certificate whose secretName is that Secret (in an "
                   "earlier sync wave than the Gateway), or fix the certificateRef.")
def listener_secret_missing(ctx: Context) -> Iterator[Hit]:
    for listener in terminating_listeners(ctx.index.listeners):
        for ref in listener.certificate_refs:
            if (ref.group, ref.kind) != ("", "Secret") or ref.target is not None:
                continue
            if ctx.index.certificates_by_secret.get((ref.namespace, ref.name)):
                continue
            yield Hit(listener.gateway,
                      f"listener '{listener.name}' ({listener.hostname or 'no hostname'}) references Secret "
                      f"{ref.namespace}/{ref.name}, which no Certificate produces and which is "
                      f"{ctx.unresolved_note()}; {_blast_radius(ctx, listener)}",
                      hostname=listener.hostname, path=ref.path)
