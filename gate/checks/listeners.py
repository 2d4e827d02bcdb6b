"""Gateway listeners and the TLS Secrets they serve."""

from __future__ import annotations

from collections.abc import Iterator

from gate.checks.base import Check, Context, Hit, collector
from gate.index import Listener

CHECKS: list[Check] = []
check = collector(CHECKS)

TLS_PROTOCOLS = ("HTTPS", "TLS")


def terminating_listeners(ctx: Context) -> Iterator[Listener]:
    """Rendered listeners that terminate TLS with certificateRefs (Passthrough needs none)."""
    for listener in ctx.index.listeners:
        if listener.protocol in TLS_PROTOCOLS and listener.tls_mode in (None, "Terminate"):
            yield listener


def controller(ctx: Context) -> str:
    """The policy's gatewayController profile (traefik, envoy-gateway, nginx, istio, generic)."""
    return str(ctx.settings.get("gatewayController") or "generic")


def blast_radius(ctx: Context, listener: Listener) -> str:
    """How many other listeners go down with this one, for the configured controller."""
    others = len(ctx.index.listeners_by_gateway.get(listener.gateway.key, ())) - 1
    gateway = f"{listener.gateway.namespace}/{listener.gateway.name}"
    if others <= 0:
        return f"Gateway {gateway} has no other listener"
    plural = "s" if others != 1 else ""
    if controller(ctx) == "traefik":
        # traefik pkg/provider/kubernetes/gateway: any listener error makes the whole Gateway not Programmed
        return (f"Traefik marks the whole Gateway {gateway} not Programmed, so its {others} other listener{plural} "
                f"stop serving with it")
    return (f"Gateway {gateway} has {others} other listener{plural}: per the Gateway API spec only this listener "
            f"stops (ResolvedRefs=False), but controllers that reject the whole Gateway (Traefik) take all "
            f"{others} down with it")


@check("listener-secret-missing", "error", item="listener", unresolved=True,
       title="A Gateway listener references a TLS Secret that nothing provides",
       remediation="Create the Secret, add a cert-manager Certificate whose secretName is that Secret (in an "
                   "earlier sync wave than the Gateway), or fix the certificateRef.")
def listener_secret_missing(ctx: Context) -> Iterator[Hit]:
    for listener in terminating_listeners(ctx):
        for ref in listener.certificate_refs:
            if (ref.group, ref.kind) != ("", "Secret") or ref.target is not None:
                continue
            if ctx.index.certificates_by_secret.get((ref.namespace, ref.name)):
                continue
            yield Hit(listener.gateway,
                      f"listener '{listener.name}' ({listener.hostname or 'no hostname'}) references Secret "
                      f"{ref.namespace}/{ref.name}, which no Certificate produces and which is "
                      f"{ctx.unresolved_note()}; {blast_radius(ctx, listener)}",
                      hostname=listener.hostname, path=ref.path)
