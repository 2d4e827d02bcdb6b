"""The incident's live cluster state (and a healthy one) as the API server holds it, and as
`kubectl get ... -A -o yaml` writes it.

Built by code, never committed as a file: 22,514 solver HTTPRoutes are ~20 MB of YAML. The shapes
follow the sources ../shared/docs/domain.md names: solver routes as cert-manager v1.15.1 creates
them (pkg/issuer/acme/http/httproute.go: generateName `cm-acme-http-solver` without a dash before
v1.15.2, labels `acme.cert-manager.io/http-domain`/`http-token` holding adler32 sums, a controller
ownerReference to the Challenge, backend Service port 8089); Challenges pending in the self-check
with the reason the challenges controller writes ("Waiting for HTTP-01 challenge propagation: "
+ the self-check's error); the Gateway's status as Traefik v3.6.6 writes it (Accepted=False
ListenersNotValid, no Programmed condition, ResolvedRefs=False InvalidCertificateRef on the
listeners whose Secret is missing); cert-manager v1.15.1 without --enable-gateway-api.

    python tests/audit/live_state.py incident|healthy OUT.yaml
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sys
import zlib
from typing import Any

NOW = dt.datetime(2026, 3, 23, 9, 20, tzinfo=dt.timezone.utc)  # 12:20 EAT: the second investigation
DEPLOYED = dt.datetime(2026, 3, 22, 15, 0, tzinfo=dt.timezone.utc)  # ~18:00 EAT: the four namespaces synced
HEALTHY = ["shop", "blog", "docs", "api", "status", "grafana", "auth", "billing", "search", "media", "admin",
           "chat", "maps", "mail", "files", "metrics", "events", "orders", "support"]
# namespace -> (hostname, Certificate/Secret name, app Service, solver routes at NOW): 22,514 in all
NEW = {
    "acme-pay-production": ("pay.example.com", "pay-tls", "pay-web", 5445),
    "acme-pay-sandbox": ("pay.sandbox.example.com", "pay-sandbox-tls", "pay-sandbox-web", 5675),
    "acme-rbac-production": ("rbac.example.com", "rbac-tls", "rbac-web", 5697),
    "acme-rbac-sandbox": ("rbac.sandbox.example.com", "rbac-sandbox-tls", "rbac-sandbox-web", 5697),
}
TRAEFIK = "traefik.io/gateway-controller"
GATEWAY = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "traefik-gateway", "namespace": "traefik"}
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # what the API server's generateName picks from


def ts(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def uid(*parts: object) -> str:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def generated(prefix: str, number: int) -> str:
    number = (number * 7919 + 12345) % len(_NAME_CHARS) ** 5  # 7919 is prime: distinct for 14M numbers
    out = ""
    for _ in range(5):
        number, digit = divmod(number, len(_NAME_CHARS))
        out += _NAME_CHARS[digit]
    return prefix + out


def meta(name: str, namespace: str | None, created: dt.datetime, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "creationTimestamp": ts(created), "uid": uid(namespace, name),
                           "resourceVersion": str(int(created.timestamp()) % 10_000_000), "generation": 1}
    if namespace:
        out["namespace"] = namespace
    out.update(extra)
    return out


def cond(kind: str, status: str, reason: str, message: str, when: dt.datetime, generation: int = 1) -> dict:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": ts(when), "observedGeneration": generation}


def owner(kind: str, api_version: str, obj: dict) -> dict:
    return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def tracked(app: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": app}  # Argo CD's default (label) resource tracking


# -- platform --------------------------------------------------------------------------------------

def cert_manager(version: str, gateway_api: bool) -> dict:
    args = ["--v=2", "--cluster-resource-namespace=$(POD_NAMESPACE)", "--leader-election-namespace=kube-system",
            "--max-concurrent-challenges=60"]
    if gateway_api:
        args.append("--enable-gateway-api")
    labels = {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller",
              "app.kubernetes.io/instance": "cert-manager", "app.kubernetes.io/version": version}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta("cert-manager", "cert-manager", DEPLOYED - dt.timedelta(days=200), labels=labels),
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "cert-manager",
                                                                 "app.kubernetes.io/component": "controller"}},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "serviceAccountName": "cert-manager",
                         "containers": [{"name": "cert-manager-controller",
                                         "image": f"quay.io/jetstack/cert-manager-controller:{version}",
                                         "args": args, "ports": [{"containerPort": 9402, "name": "http-metrics",
                                                                  "protocol": "TCP"}],
                                         "env": [{"name": "POD_NAMESPACE", "valueFrom": {
                                             "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
                                             {"name": "AWS_SECRET_ACCESS_KEY", "value": "pod-env-secret-5e1f"}]}]}}},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 1}}


def traefik(version: str, restarts: int) -> list[dict]:
    labels = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-traefik"}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": meta("traefik", "traefik", DEPLOYED - dt.timedelta(days=120), labels=labels),
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels},
                 "spec": {"containers": [{"name": "traefik", "image": f"docker.io/traefik:{version}",
                                          "args": ["--entryPoints.web.address=:8000/tcp",
                                                   "--entryPoints.websecure.address=:8443/tcp",
                                                   "--providers.kubernetesgateway"],
                                          "env": [{"name": "GOMEMLIMIT", "value": "115MiB"}],
                                          "resources": {"limits": {"cpu": "500m", "memory": "512Mi"},
                                                        "requests": {"cpu": "100m", "memory": "128Mi"}}}]}}},
        "status": {"replicas": 1, "readyReplicas": 0 if restarts else 1, "unavailableReplicas": 1 if restarts else 0,
                   "observedGeneration": 1},
    }
    gateway_class = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                     "metadata": meta("traefik", None, DEPLOYED - dt.timedelta(days=120)),
                     "spec": {"controllerName": TRAEFIK},
                     "status": {"conditions": [cond("Accepted", "True", "Accepted", "Handled by Traefik controller",
                                                    DEPLOYED - dt.timedelta(days=120))]}}
    return [deployment, gateway_class]


def gateway(broken: dict[str, tuple[str, str]], solver_routes: int) -> dict:
    """The shared Gateway: web, 19 live HTTPS listeners, and the four new ones (`broken`: listener name ->
    (namespace, Secret) whose Secret is missing)."""
    listeners = [{"name": "web", "port": 8000, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}]
    for name in HEALTHY:
        listeners.append({"name": f"{name}-https", "port": 8443, "protocol": "HTTPS", "hostname": f"{name}.example.com",
                          "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret",
                                                                            "name": f"{name}-tls"}]},
                          "allowedRoutes": {"namespaces": {"from": "All"}}})
    for namespace, (host, secret, _, _) in NEW.items():
        listeners.append({"name": secret.replace("-tls", "-https"), "port": 8443, "protocol": "HTTPS", "hostname": host,
                          "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret",
                                                                            "name": secret, "namespace": namespace}]},
                          "allowedRoutes": {"namespaces": {"from": "All"}}})
    since = DEPLOYED + dt.timedelta(seconds=4)
    kinds = [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"},
             {"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"}]
    statuses = []
    for listener in listeners:
        name = listener["name"]
        if name in broken:
            namespace, secret = broken[name]
            statuses.append({"name": name, "attachedRoutes": 0, "supportedKinds": kinds, "conditions": [
                cond("ResolvedRefs", "False", "InvalidCertificateRef",
                     f"Error while retrieving certificate: getting secret: secret \"{secret}\" not found", since)]})
        else:
            attached = solver_routes if name == "web" else 1
            statuses.append({"name": name, "attachedRoutes": attached, "supportedKinds": kinds, "conditions": [
                cond("Accepted", "True", "Accepted", "No error found", since),
                cond("ResolvedRefs", "True", "ResolvedRefs", "No error found", since),
                cond("Programmed", "True", "Programmed", "No error found", since)]})
    if broken:
        conditions = [cond("Accepted", "False", "ListenersNotValid", "All Listeners must be valid", since)]
    else:
        conditions = [cond("Accepted", "True", "Accepted", "Gateway successfully scheduled", since),
                      cond("Programmed", "True", "Programmed", "Gateway successfully scheduled", since)]
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": meta("traefik-gateway", "traefik", DEPLOYED - dt.timedelta(days=120), generation=31,
                             labels=tracked("platform")),
            "spec": {"gatewayClassName": "traefik", "listeners": listeners},
            "status": {"addresses": [{"type": "Hostname",
                                      "value": "a1b2c3-4d5e.elb.eu-west-1.amazonaws.com"}],
                       "conditions": conditions, "listeners": statuses}}


def live_service(name: str, namespace: str = "traefik", host: str | None = None, secret_name: str | None = None,
                 backend: str | None = None, app: str = "platform") -> list[dict]:
    """A service already live: its Certificate (Ready), Secret (with data, as the API holds it), route, Service."""
    created = DEPLOYED - dt.timedelta(days=90)
    host = host or f"{name}.example.com"
    secret_name = secret_name or f"{name}-tls"
    backend = backend or f"{name}-web"
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": meta(secret_name, namespace, created, labels=tracked(app)),
            "spec": {"secretName": secret_name, "dnsNames": [host],
                     "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"}},
            "status": {"conditions": [cond("Ready", "True", "Ready", "Certificate is up to date and has not expired",
                                           created + dt.timedelta(minutes=2))],
                       "notAfter": ts(NOW + dt.timedelta(days=40)), "notBefore": ts(NOW - dt.timedelta(days=50)),
                       "renewalTime": ts(NOW + dt.timedelta(days=10)), "revision": 3}}
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": meta(secret_name, namespace, created,
                               annotations={"cert-manager.io/certificate-name": secret_name,
                                            "cert-manager.io/issuer-name": "letsencrypt-prod"}),
              "data": {"tls.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmxpdmUtY2VydA==",
                       "tls.key": "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmxpdmUta2V5LWJ5dGVzLTdjM2E="}}
    route_namespace = name if namespace == "traefik" else namespace
    service = {"apiVersion": "v1", "kind": "Service", "metadata": meta(backend, route_namespace, created),
               "spec": {"type": "ClusterIP", "clusterIP": "10.100.3.7", "selector": {"app": backend},
                        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}}
    route = app_route(route_namespace, host, secret_name.replace("-tls", "-https"), backend, created, found=True)
    return [cert, secret, service, route]


def app_route(namespace: str, host: str, section: str, backend: str, created: dt.datetime, found: bool) -> dict:
    since = created + dt.timedelta(seconds=5)
    if found:
        resolved = cond("ResolvedRefs", "True", "ResolvedRefs", "Resolved all the Object references for the Route",
                        since)
    else:
        resolved = cond("ResolvedRefs", "False", "BackendNotFound",
                        f"Cannot load HTTPBackendRef {namespace}/{backend}: getting service: service \"{backend}\" "
                        f"not found", since)
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": meta(backend.replace("-web", "-route"), namespace, created,
                             labels=tracked(namespace if namespace in NEW else "platform")),
            "spec": {"parentRefs": [{**GATEWAY, "sectionName": section}], "hostnames": [host],
                     "rules": [{"backendRefs": [{"group": "", "kind": "Service", "name": backend, "port": 80,
                                                 "weight": 1}],
                                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]},
            "status": {"parents": [{"parentRef": {**GATEWAY, "sectionName": section}, "controllerName": TRAEFIK,
                                    "conditions": [cond("Accepted", "True", "Accepted", "Route successfully accepted",
                                                        since), resolved]}]}}


# -- the four new namespaces -------------------------------------------------------------------------

def application(name: str, destination: str) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": meta(name, "argocd", DEPLOYED - dt.timedelta(hours=1)),
            "spec": {"project": "default",
                     "source": {"repoURL": "https://git.example.com/platform/apps.git", "path": f"apps/{name}",
                                "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": destination},
                     "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                                    "syncOptions": ["CreateNamespace=true"]}},
            "status": {"health": {"status": "Degraded"}, "sync": {"status": "Synced", "revision": "4f1c2d9"}}}


def issuing(namespace: str, host: str, secret: str, backend: str, routes: int,
            reason: str, with_routes: bool = True) -> list[dict]:
    """One new namespace as the outage left it: Certificate issuing since the deploy, its request, Order
    and Challenge stuck in the self-check, and (cert-manager < 1.15.2) a solver route per round."""
    started = DEPLOYED + dt.timedelta(seconds=3)
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": meta(secret, namespace, DEPLOYED, labels=tracked(namespace)),
            "spec": {"secretName": secret, "dnsNames": [host],
                     "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"}},
            "status": {"conditions": [
                cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist", started),
                cond("Issuing", "True", "DoesNotExist", "Issuing certificate as Secret does not exist", started)],
                "nextPrivateKeySecretName": f"{secret}-x7k2p"}}
    request_name = f"{secret}-1"
    order_hash = zlib.crc32(f"{namespace}/order".encode())
    order_name = f"{request_name}-{order_hash}"
    request = {"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
               "metadata": meta(request_name, namespace, started,
                                annotations={"cert-manager.io/certificate-name": secret,
                                             "cert-manager.io/certificate-revision": "1",
                                             "cert-manager.io/private-key-secret-name": f"{secret}-x7k2p"},
                                ownerReferences=[owner("Certificate", "cert-manager.io/v1", cert)]),
               "spec": {"issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"},
                        "request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K", "usages": ["digital signature",
                                                                                               "key encipherment"]},
               "status": {"conditions": [
                   cond("Approved", "True", "cert-manager.io", "Certificate request has been approved by "
                                                                "cert-manager.io", started),
                   cond("Ready", "False", "Pending", f"Waiting on certificate issuance from order "
                                                     f"{namespace}/{order_name}: \"pending\"", started)]}}
    order = {"apiVersion": "acme.cert-manager.io/v1", "kind": "Order",
             "metadata": meta(order_name, namespace, started, ownerReferences=[
                 owner("CertificateRequest", "cert-manager.io/v1", request)]),
             "spec": {"dnsNames": [host], "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer",
                                                        "group": "cert-manager.io"},
                      "request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K"},
             "status": {"state": "pending", "url": f"https://acme-v02.api.letsencrypt.org/acme/order/1870/{order_hash}",
                        "finalizeURL": f"https://acme-v02.api.letsencrypt.org/acme/finalize/1870/{order_hash}",
                        "authorizations": [{"identifier": host, "initialState": "pending", "wildcard": False,
                                            "url": f"https://acme-v02.api.letsencrypt.org/acme/authz-v3/{order_hash}"}]}}
    token = hashlib.sha256(f"{namespace}/token".encode()).hexdigest()[:43]
    challenge_name = f"{order_name}-{zlib.crc32(host.encode())}"
    url = f"http://{host}/.well-known/acme-challenge/{token}"
    challenge = {"apiVersion": "acme.cert-manager.io/v1", "kind": "Challenge",
                 "metadata": meta(challenge_name, namespace, started + dt.timedelta(seconds=2),
                                  finalizers=["finalizer.acme.cert-manager.io"],
                                  ownerReferences=[owner("Order", "acme.cert-manager.io/v1", order)]),
                 "spec": {"authorizationURL": f"https://acme-v02.api.letsencrypt.org/acme/authz-v3/{order_hash}",
                          "dnsName": host, "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer",
                                                         "group": "cert-manager.io"},
                          "key": f"{token}.kQ3bQ4n3yJ5oGvQ4LJ2ExampleThumbprint",
                          "solver": {"http01": {"gatewayHTTPRoute": {"parentRefs": [
                              {"name": "traefik-gateway", "namespace": "traefik", "kind": "Gateway"}]}}},
                          "token": token, "type": "HTTP-01", "wildcard": False,
                          "url": f"https://acme-v02.api.letsencrypt.org/acme/chall-v3/{order_hash}/Zx9c1w"},
                 "status": {"presented": True, "processing": True, "state": "pending",
                            "reason": reason.format(url=url, host=host)}}
    out = [cert, request, order, challenge]
    service_name = generated("cm-acme-http-solver-", zlib.crc32(namespace.encode()))
    out.append({"apiVersion": "v1", "kind": "Service",
                "metadata": meta(service_name, namespace, started + dt.timedelta(seconds=3),
                                 generateName="cm-acme-http-solver-",
                                 labels={"acme.cert-manager.io/http-domain": str(zlib.adler32(host.encode())),
                                         "acme.cert-manager.io/http-token": str(zlib.adler32(token.encode())),
                                         "acme.cert-manager.io/http01-solver": "true"},
                                 annotations={"auth.istio.io/8089": "NONE"},
                                 ownerReferences=[owner("Challenge", "acme.cert-manager.io/v1", challenge)]),
                "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 8089, "protocol": "TCP",
                                                        "targetPort": 8089, "nodePort": 30000 + len(namespace)}],
                         "selector": {"acme.cert-manager.io/http-domain": str(zlib.adler32(host.encode())),
                                      "acme.cert-manager.io/http-token": str(zlib.adler32(token.encode())),
                                      "acme.cert-manager.io/http01-solver": "true"}}})
    if with_routes:
        step = (NOW - started - dt.timedelta(seconds=30)) / routes
        for i in range(routes):
            out.append(solver_route(namespace, host, token, challenge, service_name, i,
                                    started + dt.timedelta(seconds=10) + step * i))
    out.append(app_route(namespace, host, secret.replace("-tls", "-https"), backend, DEPLOYED, found=False))
    return out


def solver_route(namespace: str, host: str, token: str, challenge: dict, service: str, number: int,
                 created: dt.datetime) -> dict:
    name = generated("cm-acme-http-solver", number)  # no dash before v1.15.2
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "generateName": "cm-acme-http-solver", "namespace": namespace,
                         "creationTimestamp": ts(created), "uid": uid(namespace, name), "generation": 1,
                         "resourceVersion": str(1_000_000 + number),
                         "labels": {"acme.cert-manager.io/http-domain": str(zlib.adler32(host.encode())),
                                    "acme.cert-manager.io/http-token": str(zlib.adler32(token.encode())),
                                    "acme.cert-manager.io/http01-solver": "true"},
                         "ownerReferences": [owner("Challenge", "acme.cert-manager.io/v1", challenge)]},
            "spec": {"hostnames": [host],
                     "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                     "name": "traefik-gateway", "namespace": "traefik"}],
                     "rules": [{"backendRefs": [{"group": "", "kind": "Service", "name": service, "port": 8089,
                                                 "weight": 1}],
                                "matches": [{"path": {"type": "Exact",
                                                      "value": f"/.well-known/acme-challenge/{token}"}}]}]}}


SELF_CHECK_NXDOMAIN = ("Waiting for HTTP-01 challenge propagation: failed to perform self check GET request '{url}': "
                       "Get \"{url}\": dial tcp: lookup {host} on 10.100.0.10:53: no such host")


def incident(routes: dict[str, int] | None = None) -> list[dict]:
    """The live state at NOW: 22,514 solver routes (or `routes` per namespace), 4 stuck Challenges, 4 listeners
    without their Secret on Traefik v3.6.6, cert-manager v1.15.1 without Gateway API support."""
    counts = routes or {ns: spec[3] for ns, spec in NEW.items()}
    broken = {secret.replace("-tls", "-https"): (ns, secret) for ns, (_, secret, _, _) in NEW.items()}
    objects = [cert_manager("v1.15.1", gateway_api=False), *traefik("v3.6.6", restarts=102),
               gateway(broken, sum(counts.values()))]
    for name in HEALTHY:
        objects += live_service(name)
    for namespace, (host, secret, backend, _) in NEW.items():
        objects.append(application(namespace, namespace))
        objects += issuing(namespace, host, secret, backend, counts[namespace], SELF_CHECK_NXDOMAIN)
    objects.append(application("platform", "traefik"))
    return objects


def healthy() -> list[dict]:
    """The same platform once fixed and issued: cert-manager v1.15.2 with Gateway API support, every
    listener with its Secret, no Challenge left (completed ones are deleted), every route accepted."""
    objects = [cert_manager("v1.15.2", gateway_api=True), *traefik("v3.6.6", restarts=0), gateway({}, 0)]
    for name in HEALTHY:
        objects += live_service(name)
    for namespace, (host, secret, backend, _) in NEW.items():
        objects += live_service(namespace, namespace, host, secret, backend, app=namespace)
        objects.append(application(namespace, namespace))
    objects.append(application("platform", "traefik"))
    for item in objects:
        if item["kind"] == "Application":
            item["status"]["health"]["status"] = "Healthy"
    return objects


# -- `kubectl get -o yaml` ------------------------------------------------------------------------------

# What go-yaml (sigs.k8s.io/yaml) quotes: strings a YAML 1.1 reader would take for something else
# (numbers, booleans, null, timestamps), empty strings, and ones with indicators or surrounding spaces.
_PLAIN_UNSAFE = re.compile(r"""^(?:[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|0[xob][\da-fA-F_]+
    |y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
    |null|Null|NULL|~|\d{4}-\d\d?-\d\d?(?:[Tt ].*)?|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)|<<|=)$""", re.VERBOSE)
_INDICATOR_START = set(",[]{}#&*!|>'\"%@`")


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if (not text or _PLAIN_UNSAFE.match(text) or text[0] in _INDICATOR_START or text != text.strip()
            or text in ("-", "?", ":") or text.startswith(("- ", "? ", ": "))
            or ": " in text or " #" in text or "\n" in text or text.endswith(":")):
        return json.dumps(text, ensure_ascii=False)
    return text


def _emit(value: Any, indent: str, out: list[str]) -> None:
    """Block YAML as go-yaml writes it: keys sorted, sequences not indented under their key."""
    if isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            if isinstance(item, dict) and item:
                out.append(f"{indent}{key}:\n")
                _emit(item, indent + "  ", out)
            elif isinstance(item, list) and item:
                out.append(f"{indent}{key}:\n")
                _emit(item, indent, out)
            else:
                empty = "{}" if isinstance(item, dict) else "[]" if isinstance(item, list) else _scalar(item)
                out.append(f"{indent}{key}: {empty}\n")
    else:
        for item in value:
            if isinstance(item, dict) and item:
                inner: list[str] = []
                _emit(item, indent + "  ", inner)
                inner[0] = indent + "- " + inner[0][len(indent) + 2:]
                out.extend(inner)
            else:
                out.append(f"{indent}- {_scalar(item)}\n")


def kubectl_yaml(objects: list[dict]) -> str:
    """`kubectl get ... -A -o yaml`: one `kind: List` with the objects as items."""
    out: list[str] = []
    _emit({"apiVersion": "v1", "items": objects, "kind": "List", "metadata": {"resourceVersion": ""}}, "", out)
    return "".join(out)


if __name__ == "__main__":
    which, path = sys.argv[1], sys.argv[2]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(kubectl_yaml(incident() if which == "incident" else healthy()))
