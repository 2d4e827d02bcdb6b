"""The Certificates cert-manager's ingress-shim and gateway-shim will create (pkg/controller/certificate-shim).

They are not in the render, but a Gateway listener or an Ingress depends on them exactly as on a
written Certificate, so the index holds them as synthetic `Resource`s with `derived_from` set to the
Ingress or Gateway that causes them (findings then point at that object's file:line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gate.domain.kube import CERT_MANAGER_GROUP, as_dict, as_list
from gate.model import Resource

ISSUER = "cert-manager.io/issuer"
CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"
ISSUER_KIND = "cert-manager.io/issuer-kind"
ISSUER_GROUP = "cert-manager.io/issuer-group"
COMMON_NAME = "cert-manager.io/common-name"
TLS_ACME = "kubernetes.io/tls-acme"
PARENT_REF_NAME = "acme.cert-manager.io/http01-parentrefname"
PARENT_REF_KIND = "acme.cert-manager.io/http01-parentrefkind"
PARENT_REF_NAMESPACE = "acme.cert-manager.io/http01-parentrefnamespace"
INGRESS_CLASS_OVERRIDE = "acme.cert-manager.io/http01-override-ingress-class"
INGRESS_CLASS_NAME_OVERRIDE = "acme.cert-manager.io/http01-override-ingress-ingressclassname"
INGRESS_NAME_OVERRIDE = "acme.cert-manager.io/http01-override-ingress-name"
TLS_PROTOCOLS = ("HTTPS", "TLS")


@dataclass
class ShimResult:
    """What a shim makes of one Ingress or Gateway."""

    certificates: list[Resource] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why cert-manager refuses the whole object
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # (position, listener/entry name, why)


def _true(value: Any) -> bool:
    # Go's strconv.ParseBool, which the shim uses on kubernetes.io/tls-acme
    return isinstance(value, (str, bool)) and str(value).strip() in ("1", "t", "T", "TRUE", "true", "True")


def annotated(resource: Resource) -> bool:
    """Whether the shim acts on this object at all (tls-acme counts on Ingresses only)."""
    ann = resource.annotations
    if ISSUER in ann or CLUSTER_ISSUER in ann:
        return True
    return resource.kind == "Ingress" and _true(ann.get(TLS_ACME))


def issuer_ref(resource: Resource) -> tuple[dict[str, str], list[str]]:
    """(issuerRef, problems) as cert-manager's issuerForIngressLike computes them from the annotations.

    With only `kubernetes.io/tls-acme` the controller's --default-issuer-* flags apply, which the
    render does not show: the issuerRef then has no name.
    """
    ann = resource.annotations
    ref: dict[str, str] = {}
    problems = []
    if ISSUER in ann:
        ref = {"name": str(ann[ISSUER]), "kind": "Issuer"}
    if CLUSTER_ISSUER in ann:
        ref = {"name": str(ann[CLUSTER_ISSUER]), "kind": "ClusterIssuer"}
    if ISSUER_KIND in ann:
        ref["kind"] = str(ann[ISSUER_KIND])
    if ISSUER_GROUP in ann:
        ref["group"] = str(ann[ISSUER_GROUP])
    if ISSUER in ann and CLUSTER_ISSUER in ann:
        problems.append(f"both {ISSUER} and {CLUSTER_ISSUER} are set")
    if CLUSTER_ISSUER in ann and ISSUER_GROUP in ann:
        problems.append(f"both {CLUSTER_ISSUER} and {ISSUER_GROUP} are set")
    if CLUSTER_ISSUER in ann and ISSUER_KIND in ann:
        problems.append(f"both {CLUSTER_ISSUER} and {ISSUER_KIND} are set")
    if (ISSUER in ann or CLUSTER_ISSUER in ann) and not ref.get("name"):
        problems.append("the issuer annotation is empty")
    return ref, problems


def _certificate(source: Resource, secret: str, namespace: str, hosts: list[str],
                 ref: dict[str, str], annotations: dict[str, str]) -> Resource:
    spec: dict[str, Any] = {"secretName": secret, "dnsNames": list(dict.fromkeys(hosts)), "issuerRef": ref}
    common = source.annotations.get(COMMON_NAME)
    if isinstance(common, str) and common:
        spec["commonName"] = common
    body = {
        "apiVersion": f"{CERT_MANAGER_GROUP}/v1", "kind": "Certificate",
        "metadata": {"name": secret, "namespace": namespace, "labels": dict(source.labels),
                     "annotations": annotations},
        "spec": spec,
    }
    return Resource(api_version=f"{CERT_MANAGER_GROUP}/v1", kind="Certificate", name=secret, namespace=namespace,
                    body=body, file=source.file, line=source.line, source=source.source, origin="render",
                    derived_from=source)


def ingress_shim(ingress: Resource) -> ShimResult:
    """One Certificate per valid spec.tls[] entry, named after its secretName (ingress-shim)."""
    result = ShimResult()
    if not annotated(ingress):
        return result
    ref, result.problems = issuer_ref(ingress)
    entries = [as_dict(e) for e in as_list(ingress.spec.get("tls"))]
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        secret = entry.get("secretName")
        if isinstance(secret, str) and secret:
            if secret in seen:
                # checkForDuplicateSecretNames rejects the whole Ingress, not just the entry
                result.problems.append(f"spec.tls[{i}].secretName {secret!r} is also used in spec.tls[{seen[secret]}]")
            seen.setdefault(secret, i)
    if result.problems:
        return result
    ann = ingress.annotations
    extra: dict[str, str] = {}
    if _true(ann.get("acme.cert-manager.io/http01-edit-in-place")):
        extra[INGRESS_NAME_OVERRIDE] = ingress.name
    for source_key, target in (("acme.cert-manager.io/http01-ingress-class", INGRESS_CLASS_OVERRIDE),
                               ("acme.cert-manager.io/http01-ingress-ingressclassname",
                                INGRESS_CLASS_NAME_OVERRIDE)):
        if ann.get(source_key):
            extra[target] = str(ann[source_key])
    for i, entry in enumerate(entries):
        hosts = [h for h in as_list(entry.get("hosts")) if isinstance(h, str) and h]
        secret = entry.get("secretName")
        missing = [what for what, ok in (("hosts", hosts), ("secretName", isinstance(secret, str) and secret))
                   if not ok]
        if missing:
            result.skipped.append((i, str(secret or ""), f"spec.tls[{i}] has no {' and no '.join(missing)}"))
            continue
        result.certificates.append(_certificate(ingress, secret, ingress.namespace, hosts, ref, dict(extra)))
    return result


def listener_skip_reason(gateway: Resource, raw: dict[str, Any]) -> str | None:
    """Why gateway-shim skips a TLS listener (validateGatewayListenerBlock), None when it uses it."""
    hostname = raw.get("hostname")
    tls = raw.get("tls")
    reasons = []
    if not isinstance(hostname, str) or not hostname:
        reasons.append("it has no hostname")
    if not isinstance(tls, dict):
        reasons.append("it has no tls block")
        return ", ".join(reasons)
    refs = as_list(tls.get("certificateRefs"))
    if not refs:
        reasons.append("it has no tls.certificateRefs")
    for j, ref in enumerate(refs):
        ref = as_dict(ref)
        if str(ref.get("group", "")) not in ("", "core"):
            reasons.append(f"certificateRefs[{j}] has group {ref.get('group')!r}, not core")
        if str(ref.get("kind", "Secret")) not in ("", "Secret"):
            reasons.append(f"certificateRefs[{j}] is a {ref.get('kind')}, not a Secret")
        namespace = ref.get("namespace")
        if namespace and namespace != gateway.namespace:
            reasons.append(f"certificateRefs[{j}] is in namespace {namespace!r} (cross-namespace refs are not used)")
    # An absent mode is stored as Terminate (the Gateway CRD's default), which is what the shim reads.
    if tls.get("mode", "Terminate") != "Terminate":
        reasons.append(f"tls.mode is {tls.get('mode')!r}, not Terminate")
    return ", ".join(reasons) or None


def gateway_shim(gateway: Resource) -> ShimResult:
    """One Certificate per listener Secret, hostnames of listeners sharing a Secret merged (gateway-shim)."""
    result = ShimResult()
    if not annotated(gateway):
        return result
    ref, result.problems = issuer_ref(gateway)
    if result.problems:
        return result
    hosts: dict[str, list[str]] = {}  # secret name -> hostnames, in listener order
    for i, raw in enumerate(as_list(gateway.spec.get("listeners"))):
        raw = as_dict(raw)
        if raw.get("protocol") not in TLS_PROTOCOLS:
            continue
        if as_dict(raw.get("tls")).get("mode") == "Passthrough":
            continue  # never issued for, and not a mistake
        reason = listener_skip_reason(gateway, raw)
        if reason:
            result.skipped.append((i, str(raw.get("name", "")), reason))
            continue
        for cert_ref in as_list(raw["tls"]["certificateRefs"]):
            hosts.setdefault(str(as_dict(cert_ref).get("name", "")), []).append(raw["hostname"])
    # The shim points the HTTP-01 solver route at this Gateway (setIssuerSpecificConfig)
    extra = {PARENT_REF_KIND: "Gateway", PARENT_REF_NAME: gateway.name}
    for secret, names in hosts.items():
        result.certificates.append(_certificate(gateway, secret, gateway.namespace, names, ref, dict(extra)))
    return result


def derived_certificates(written: list[Resource], ingresses: list[Resource],
                         gateways: list[Resource]) -> list[Resource]:
    """The shim Certificates that will exist next to the written ones.

    A Certificate of the same namespace/name that is written in the render has no controller
    owner, and the shim refuses to touch a Certificate it does not own (buildCertificates:
    "refusing to update non-owned certificate resource"): the written one is what issues the
    Secret, so no derived one is added. The same holds when two shim sources want one name: the
    first one created owns it.
    """
    taken = {(c.namespace, c.name) for c in written}
    out = []
    for source in (*ingresses, *gateways):
        shim = ingress_shim(source) if source.kind == "Ingress" else gateway_shim(source)
        for cert in shim.certificates:
            if (cert.namespace, cert.name) not in taken:
                taken.add((cert.namespace, cert.name))
                out.append(cert)
    return out
