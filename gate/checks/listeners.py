"""Gateway listeners and the TLS Secrets they serve."""

from __future__ import annotations

from collections.abc import Iterator

from gate.checks.base import Check, Context, Hit, collector
from gate.domain.controllers import bad_secret_takes_tls_down, blast_radius
from gate.domain.tls import key_pair_problem
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
       remediation="Create the Secret, add a cert-manager Certificate whose secretName is that Secret (issued "
                   "before the listener goes live: an earlier sync wave when its HTTP-01 solver does not need this "
                   "Gateway, else the HTTPS listener in a later wave), or fix the certificateRef.")
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


@check("tls-secret-invalid", "error", item="listener", options=("gatewayController",),
       why="A TLS Secret whose PEM does not parse, whose key does not match its certificate, or whose certificate "
           "has expired cannot serve: the listener is not Programmed, and Envoy Gateway 1.7.4-1.8.2 rejects the "
           "whole configuration update on it, so unrelated listeners lose TLS (envoyproxy/gateway #9463, #9473, "
           "#9225).",
       title="A rendered kubernetes.io/tls Secret holds a key pair that cannot serve TLS",
       remediation="Render a valid pair, or leave the Secret to cert-manager; a placeholder must still be a real "
                   "matching self-signed pair: `openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=NAME "
                   "-keyout tls.key -out tls.crt`, then `kubectl create secret tls NAME --cert tls.crt --key "
                   "tls.key --dry-run=client -o yaml`.")
def tls_secret_invalid(ctx: Context) -> Iterator[Hit]:
    serving = {}  # (namespace, name) -> the first listener that serves the Secret
    for listener in ctx.index.listeners:
        for ref in listener.certificate_refs:
            serving.setdefault((ref.namespace, ref.name), listener)
    controller = None
    for secret in ctx.index.of("", "Secret"):
        if secret.body.get("type") != "kubernetes.io/tls":
            continue
        problem = key_pair_problem(secret.body)
        if problem is None:
            continue
        listener = serving.get((secret.namespace, secret.name))
        effect = ""
        if listener is not None:
            controller = controller or ctx.gateway_controller()
            whole = bad_secret_takes_tls_down(controller)
            effect = f"; listener '{listener.name}' of {listener.gateway.ref} serves it"
            if whole:
                effect += f", and {controller.describe()} rejects the whole update: every listener loses TLS"
            elif whole is None:
                effect += " (on Envoy Gateway 1.7.4-1.8.2 every listener of the Gateway loses TLS with it)"
        yield Hit(secret, f"{problem}{effect}", hostname=listener.hostname if listener else None,
                  path=("data", "tls.key") if problem.startswith("tls.key") else ("data", "tls.crt"),
                  points_at_nothing=False)
