"""`gate audit --runbook FILE`: the recovery steps for what the audit found, as a bash script for a
person to review and run. The gate writes it and never runs it.

The steps come in the order the incident needed them (../shared/docs/incident-rca.txt, "Resolution"):
pause Argo CD auto-sync of the applications that own the affected objects (so nothing re-applies
them mid-repair), delete leaked and orphaned solver HTTPRoutes by name, namespace by namespace,
delete the stuck Challenges and their Orders once DNS is right, create placeholder TLS Secrets
(a fresh self-signed pair, made by openssl when the script runs) for unresolved listeners whose
Secret is missing, and re-enable auto-sync only for applications `gate check` passes. Every command
names the objects found; none uses `--all` or a selector. Names are shell-quoted, and a name that is
not a valid Kubernetes name is never put in a command.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from collections import defaultdict
from collections.abc import Iterable

from gate.audit.run import Audit
from gate.config import RunConfig
from gate.domain import acme
from gate.domain.kube import GATEWAY_GROUP, as_dict, as_list, dig
from gate.index import Index
from gate.model import Finding, Resource, api_group

BATCH = 100  # names per `kubectl delete`: one API call each, a command line far below ARG_MAX
PER_LINE = 4
TRACKING_ID = "argocd.argoproj.io/tracking-id"
INSTANCE_LABEL = "app.kubernetes.io/instance"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")  # DNS-1123 subdomain
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def q(value: str) -> str:
    return shlex.quote(value)


def safe(name: str) -> bool:
    return bool(_NAME.match(name))


def comment(text: str) -> str:
    """A comment line that input text cannot end early (newlines and control characters shown escaped)."""
    cleaned = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return f"# {cleaned}"


def _by_check(report_findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in report_findings if f.check == check]


def _subject(index: Index, finding: Finding) -> Resource | None:
    return index.get(api_group(finding.api_version), finding.kind, finding.namespace, finding.name)


class Owners:
    """The Argo CD Application behind an object: its tracking annotation or label, else its owners'."""

    def __init__(self, index: Index):
        self.by_uid = {acme.uid(r): r for r in index.resources if acme.uid(r)}
        self.apps = {r.name: r for r in index.of("argoproj.io", "Application")}

    def app_of(self, resource: Resource | None, depth: int = 0) -> str | None:
        if resource is None or depth > 5:
            return None
        tracking = resource.annotations.get(TRACKING_ID)
        if isinstance(tracking, str) and ":" in tracking:
            name = tracking.split(":", 1)[0]
            return name.split("_", 1)[-1]  # apps in any namespace: "<namespace>_<name>"
        label = resource.labels.get(INSTANCE_LABEL)
        if isinstance(label, str) and label in self.apps:
            return label
        for ref in as_list(resource.metadata.get("ownerReferences")):
            parent = self.by_uid.get(str(as_dict(ref).get("uid", "")))
            found = self.app_of(parent, depth + 1)
            if found:
                return found
        return None


def _delete_batches(kind: str, namespace: str, names: list[str]) -> list[str]:
    lines = []
    for start in range(0, len(names), BATCH):
        batch = names[start:start + BATCH]
        rows = [" ".join(q(n) for n in batch[i:i + PER_LINE]) for i in range(0, len(batch), PER_LINE)]
        lines.append(f"kubectl delete {kind} -n {q(namespace)} --ignore-not-found --wait=false \\")
        lines.extend(f"  {row} \\" for row in rows[:-1])
        lines.append(f"  {rows[-1]}")
    return lines


def runbook(result: Audit, config: RunConfig) -> str:
    report, index = result.report, result.index
    clock = config.now or dt.datetime.now(dt.timezone.utc)
    findings = report.findings
    owners = Owners(index)
    sources = ", ".join(config.cluster.state_paths) or ("the live API" + (
        f", context {config.cluster.context}" if config.cluster.context else ""))
    out = [
        "#!/usr/bin/env bash",
        comment(f"Recovery runbook written by `gate audit` at {acme.show_time(clock)} from {sources}."),
        "# Review every step before you run it: the gate never runs this script. Each command names the",
        "# objects the audit found, never all of a kind or a selector; re-run `gate audit` for a fresh one.",
        "set -euo pipefail",
        "",
        "confirm() {",
        "  local answer",
        "  read -r -p \"$1 [y/N] \" answer </dev/tty",
        "  [ \"$answer\" = y ] || { echo \"stopped before: $1\" >&2; exit 1; }",
        "}",
        "",
    ]
    counts = defaultdict(int)
    for finding in findings:
        counts[finding.check] += 1
    if not findings:
        out += ["echo 'gate audit found nothing to repair.'", ""]
        return "\n".join(out)
    out.append(comment("Found: " + ", ".join(f"{check} x{n}" for check, n in sorted(counts.items()))))
    out.append("")

    # 1. Pause auto-sync of the applications owning what is affected.
    apps: dict[str, Resource] = {}
    for finding in findings:
        name = owners.app_of(_subject(index, finding))
        if name and name in owners.apps:
            apps[name] = owners.apps[name]
    automated = {name: app for name, app in sorted(apps.items()) if isinstance(dig(app.body, "spec", "syncPolicy",
                                                                                   "automated"), dict)}
    out.append("# --- 1. Pause Argo CD auto-sync of the applications that own the affected objects, so that")
    out.append("#        nothing re-applies them (and restarts the loop) while you repair. ---")
    if not automated:
        out.append("# No application with auto-sync owns an affected object.")
    for name, app in automated.items():
        if not safe(name) or not safe(app.namespace):
            out.append(comment(f"skipped: Application {app.namespace}/{name} has a name no command may carry"))
            continue
        out.append(f"kubectl patch application {q(name)} -n {q(app.namespace)} --type=json "
                   f"-p '[{{\"op\": \"remove\", \"path\": \"/spec/syncPolicy/automated\"}}]'")
    out.append("")

    # 2. Leaked and orphaned solver routes.
    leaking = _by_check(findings, "solver-route-leak")
    orphaned = _by_check(findings, "solver-route-orphan")
    out.append("# --- 2. Delete leaked and orphaned solver HTTPRoutes, by name, namespace by namespace. ---")
    disabled = _by_check(findings, "certmanager-gateway-api-disabled")
    if disabled:
        out.append("# First stop the leak at its source, or cert-manager creates new routes as fast as these go:")
        out.append(comment(disabled[0].message))
        out.append("# -> run cert-manager v1.15.2 or later with --enable-gateway-api (Helm: config.enableGatewayAPI).")
        out.append("confirm 'cert-manager runs v1.15.2+ with Gateway API support (or you accept that routes come back)'")
    groups = acme.group_solver_routes(index.of(GATEWAY_GROUP, "HTTPRoute"))
    to_delete: dict[str, dict[str, Resource]] = defaultdict(dict)
    leak_subjects = {(f.kind, f.namespace, f.name) for f in leaking}
    for owner_uid, routes in groups.by_owner.items():
        ref_name = groups.owner_names.get(owner_uid, "")
        namespace = routes[0].namespace
        newest = max(routes, key=lambda r: (acme.created(r) or clock, r.name))
        if ("Challenge", namespace, ref_name) in leak_subjects or any(
                ("HTTPRoute", namespace, r.name) in leak_subjects for r in routes):
            # The newest route is the one cert-manager serves the token with now: it stays (and goes with
            # its Challenge in step 3).
            for route in routes:
                if route is not newest:
                    to_delete[namespace][route.name] = route
    # A namespace over the limit with one route per Challenge has no extras: only its orphans go.
    orphan_names = _orphan_routes(index, groups, orphaned)
    for namespace, names in orphan_names.items():
        for name, route in names.items():
            to_delete[namespace][name] = route
    if not to_delete:
        out.append("# No leaked or orphaned solver route.")
    for namespace in sorted(to_delete):
        routes = to_delete[namespace]
        names = sorted(n for n in routes if safe(n))
        unsafe = sorted(n for n in routes if not safe(n))
        if not safe(namespace):
            out.append(comment(f"skipped: namespace {namespace!r} is not a name a command may carry"))
            continue
        out.append(comment(f"{namespace}: {len(names):,} solver HTTPRoutes"))
        out.extend(_delete_batches("httproute", namespace, names))
        out.extend(comment(f"skipped: HTTPRoute {namespace}/{n!r} has a name no command may carry") for n in unsafe)
    out.append("")

    # 3. Stuck Challenges and their Orders, once DNS is right.
    stuck = [_subject(index, f) for f in _by_check(findings, "challenge-stuck")]
    stuck = [c for c in stuck if c is not None]
    out.append("# --- 3. Delete the stuck Challenges and their Orders once what their reason names is fixed")
    out.append("#        (DNS to the load balancer first), so that cert-manager starts fresh ones. ---")
    if not stuck:
        out.append("# No stuck Challenge.")
    else:
        hosts = sorted({str(c.spec.get("dnsName")) for c in stuck if _HOST.match(str(c.spec.get("dnsName", "")))})
        for host in hosts:
            out.append(f"dig +short {q(host)}  # must answer with the load balancer's addresses")
        out.append("confirm 'DNS of every name above points at the load balancer'")
        by_namespace: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for challenge in stuck:
            by_namespace[challenge.namespace]["challenge"].append(challenge.name)
            order = acme.owner(challenge, "Order")
            if order is not None and index.get(acme.ACME_GROUP, "Order", challenge.namespace, order[1]) is not None:
                by_namespace[challenge.namespace]["order"].append(order[1])
        for namespace in sorted(by_namespace):
            if not safe(namespace):
                out.append(comment(f"skipped: namespace {namespace!r} is not a name a command may carry"))
                continue
            for kind in ("challenge", "order"):
                names = sorted({n for n in by_namespace[namespace][kind] if safe(n)})
                if names:
                    out.extend(_delete_batches(kind, namespace, names))
    out.append("")

    # 4. Placeholder TLS Secrets for unresolved listeners whose Secret is missing.
    missing = _missing_secrets(index, _by_check(findings, "gateway-listener-unresolved"))
    out.append("# --- 4. Create a placeholder TLS Secret (a fresh self-signed pair, valid 1 day) for each unresolved")
    out.append("#        listener whose Secret is missing; cert-manager overwrites it once it issues. ---")
    if not missing:
        out.append("# No unresolved listener with a missing Secret.")
    else:
        out += [
            "workdir=\"$(mktemp -d)\"",
            "trap 'rm -rf \"$workdir\"' EXIT",
            "placeholder() {  # NAMESPACE SECRET HOSTNAME",
            "  if kubectl get secret \"$2\" -n \"$1\" >/dev/null 2>&1; then",
            "    echo \"Secret $1/$2 exists now: left as it is\"",
            "    return 0",
            "  fi",
            "  openssl req -x509 -nodes -newkey rsa:2048 -days 1 -subj \"/CN=$3\" -addext \"subjectAltName=DNS:$3\" \\",
            "    -keyout \"$workdir/$1.$2.key\" -out \"$workdir/$1.$2.crt\" 2>/dev/null",
            "  kubectl create secret tls \"$2\" -n \"$1\" --cert=\"$workdir/$1.$2.crt\" --key=\"$workdir/$1.$2.key\"",
            "  kubectl label secret \"$2\" -n \"$1\" gate.ingress-gate.dev/placeholder=true",
            "}",
        ]
        for namespace, secret, host in missing:
            out.append(f"placeholder {q(namespace)} {q(secret)} {q(host)}")
        gateways = sorted({(f.namespace, f.name) for f in _by_check(findings, "gateway-listener-unresolved")})
        out.append("# Have the controller read its listeners again (the incident's Traefik needed the nudge):")
        for namespace, name in gateways:
            if safe(namespace) and safe(name):
                out.append(f"kubectl annotate gateway {q(name)} -n {q(namespace)} --overwrite "
                           f"\"gate.ingress-gate.dev/reconcile=$(date -u +%s)\"")
    out.append("")

    # 5. Re-enable auto-sync, each application only once `gate check` passes on what it will apply.
    out.append("# --- 5. Re-enable auto-sync, for each application only once `gate check` passes on what Argo CD")
    out.append("#        would apply (needs ARGOCD_SERVER and ARGOCD_AUTH_TOKEN for --argocd-app). ---")
    if not automated:
        out.append("# Nothing was paused.")
    for name, app in automated.items():
        if not safe(name) or not safe(app.namespace):
            continue
        policy = json.dumps({"spec": {"syncPolicy": {"automated": dig(app.body, "spec", "syncPolicy", "automated")}}},
                            sort_keys=True)
        out += [
            f"if gate check --kube --argocd-app {q(name)}; then",
            f"  kubectl patch application {q(name)} -n {q(app.namespace)} --type=merge -p {q(policy)}",
            "else",
            f"  echo {q(f'gate check fails for {name}: its auto-sync stays off')} >&2",
            "fi",
        ]
    out.append("")
    return "\n".join(out)


def _orphan_routes(index: Index, groups: acme.SolverRoutes, orphaned: Iterable[Finding]) -> dict[str, dict[str, Resource]]:
    """Every solver route of the namespaces with orphan findings that is an orphan by the same rules."""
    challenges = {acme.uid(c): c for c in index.of(acme.ACME_GROUP, "Challenge") if acme.uid(c)}
    namespaces = {f.namespace for f in orphaned}
    found: dict[str, dict[str, Resource]] = defaultdict(dict)
    routes_by_id = {id(route.resource): route for route in index.routes}
    for namespace in namespaces:
        for route in groups.by_namespace.get(namespace, []):
            ref = acme.owner(route, "Challenge")
            challenge = challenges.get(ref[0]) if ref and ref[0] else None
            gone = challenge is None or acme.challenge_state(challenge) in acme.FINAL_STATES
            indexed = routes_by_id.get(id(route))
            backend_gone = indexed is not None and any(b.kind == "Service" and b.target is None
                                                       for b in indexed.backends)
            if gone or backend_gone:
                found[namespace][route.name] = route
    return found


def _missing_secrets(index: Index, unresolved: list[Finding]) -> list[tuple[str, str, str]]:
    """(namespace, Secret, hostname) of the TLS Secrets unresolved listeners name and nobody has."""
    out: dict[tuple[str, str], str] = {}
    for finding in unresolved:
        gateway = index.get(GATEWAY_GROUP, "Gateway", finding.namespace, finding.name)
        if gateway is None:
            continue
        statuses = {str(as_dict(s).get("name")): as_dict(s) for s in as_list(dig(gateway.body, "status", "listeners"))}
        for raw in as_list(gateway.spec.get("listeners")):
            raw = as_dict(raw)
            status = statuses.get(str(raw.get("name")), {})
            if not any(as_dict(c).get("status") == "False" for c in as_list(status.get("conditions"))):
                continue
            host = raw.get("hostname")
            if not isinstance(host, str) or not _HOST.match(host) or host != finding.hostname:
                continue
            for ref in as_list(dig(raw, "tls", "certificateRefs")):
                ref = as_dict(ref)
                if ref.get("group") or ref.get("kind", "Secret") != "Secret":
                    continue
                namespace, name = str(ref.get("namespace") or gateway.namespace), str(ref.get("name", ""))
                if safe(namespace) and safe(name) and index.secret_exists(namespace, name) is None:
                    out[(namespace, name)] = host.removeprefix("*.")
    return [(ns, name, host) for (ns, name), host in sorted(out.items())]
