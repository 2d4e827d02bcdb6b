"""ingress-shim and gateway-shim Certificates (gate/domain/shims.py) and findings on them."""

from __future__ import annotations

from conftest import check_text

from gate.domain.shims import PARENT_REF_KIND, PARENT_REF_NAME, gateway_shim, ingress_shim
from gate.index import Index
from gate.sources.files import load_paths

GATEWAY = """apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: web
  labels: {team: shop}
  annotations:
    cert-manager.io/issuer: ca
    cert-manager.io/issuer-kind: AWSPCAIssuer
    cert-manager.io/issuer-group: awspca.cert-manager.io
spec:
  gatewayClassName: example
  listeners:
  - {name: a, protocol: HTTPS, port: 443, hostname: a.example.com,
     tls: {mode: Terminate, certificateRefs: [{name: shared-tls}]}}
  - {name: b, protocol: HTTPS, port: 443, hostname: b.example.com,
     tls: {mode: Terminate, certificateRefs: [{name: shared-tls}]}}
  - {name: c, protocol: TLS, port: 443, hostname: c.example.com,
     tls: {mode: Terminate, certificateRefs: [{name: c-tls}]}}
  - {name: d, protocol: TLS, port: 8443, hostname: d.example.com, tls: {mode: Passthrough}}
  - {name: plain, protocol: HTTP, port: 80}
"""

INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: web
  annotations:
    cert-manager.io/cluster-issuer: le
spec:
  tls:
  - hosts: [shop.example.com, www.shop.example.com]
    secretName: shop-tls
  - hosts: [api.example.com]
    secretName: api-tls
"""


def resources(tmp_path, text):
    path = tmp_path / "render.yaml"
    path.write_text(text)
    return load_paths([str(path)]).resources


def test_gateway_shim_merges_hostnames_of_listeners_sharing_a_secret(tmp_path):
    """One Certificate per Secret, named after it, with the hostnames of every listener serving it."""
    gateway, = resources(tmp_path, GATEWAY)
    result = gateway_shim(gateway)
    certs = {c.name: c for c in result.certificates}
    assert set(certs) == {"shared-tls", "c-tls"} and result.skipped == []
    shared = certs["shared-tls"]
    assert shared.spec["dnsNames"] == ["a.example.com", "b.example.com"]
    assert shared.spec["secretName"] == "shared-tls" and shared.namespace == "web"
    assert shared.spec["issuerRef"] == {"name": "ca", "kind": "AWSPCAIssuer", "group": "awspca.cert-manager.io"}
    assert shared.labels == {"team": "shop"}
    assert shared.annotations == {PARENT_REF_KIND: "Gateway", PARENT_REF_NAME: "gw"}
    assert shared.derived_from is gateway and (shared.file, shared.line) == (gateway.file, gateway.line)
    assert shared.origin == "render" and shared.api_version == "cert-manager.io/v1"


def test_ingress_shim_makes_one_certificate_per_tls_entry(tmp_path):
    """Each spec.tls entry becomes a Certificate named after its secretName, issued by the annotated issuer."""
    ingress, = resources(tmp_path, INGRESS)
    certs = ingress_shim(ingress).certificates
    assert [(c.name, c.spec["dnsNames"]) for c in certs] == [
        ("shop-tls", ["shop.example.com", "www.shop.example.com"]), ("api-tls", ["api.example.com"])]
    assert certs[0].spec["issuerRef"] == {"name": "le", "kind": "ClusterIssuer"}


def test_tls_acme_counts_on_ingresses_only(tmp_path):
    """kubernetes.io/tls-acme triggers ingress-shim, but gateway-shim ignores it."""
    gateway, = resources(tmp_path, GATEWAY.replace(
        "    cert-manager.io/issuer: ca\n    cert-manager.io/issuer-kind: AWSPCAIssuer\n"
        "    cert-manager.io/issuer-group: awspca.cert-manager.io\n", '    kubernetes.io/tls-acme: "true"\n'))
    assert gateway_shim(gateway).certificates == []
    ingress, = resources(tmp_path, INGRESS.replace("cert-manager.io/cluster-issuer: le", 'kubernetes.io/tls-acme: "true"'))
    assert [c.spec["issuerRef"] for c in ingress_shim(ingress).certificates] == [{}, {}]


def test_index_holds_derived_certificates_and_the_written_one_wins(tmp_path):
    """Derived Certificates are in index.certificates(_by_secret); a written one of the same name replaces it."""
    written = ("apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: api-tls, namespace: web}\n"
               "spec: {secretName: api-tls, dnsNames: [api.example.com], issuerRef: {name: le, kind: ClusterIssuer}}\n")
    index = Index(resources(tmp_path, INGRESS + "---\n" + written))
    by_name = {c.name: c for c in index.certificates}
    assert len(index.certificates) == 2 and index.duplicates == []
    assert by_name["shop-tls"].derived_from is not None and by_name["api-tls"].derived_from is None
    assert index.certificates_by_secret[("web", "shop-tls")] == [by_name["shop-tls"]]


def test_findings_on_derived_certificates_point_at_the_ingress(tmp_path):
    """certificate-issuer-missing on an ingress-shim Certificate is reported at the Ingress's file:line."""
    text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n---\n" + INGRESS
    report = check_text(tmp_path, text)
    missing = [f for f in report.findings if f.check == "certificate-issuer-missing"]
    assert sorted((f.name, f.line) for f in missing) == [("api-tls", 5), ("shop-tls", 5)]
    assert all(f.file.endswith("render.yaml") and f.kind == "Certificate" for f in missing)
    assert "from the annotations of Ingress web/shop" in missing[0].message


def test_gateway_shim_certificate_feeds_the_listener_checks(tmp_path):
    """A listener served by a gateway-shim Certificate is not 'missing' but 'pending', at the Gateway's line."""
    text = ("apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: le}\nspec: {selfSigned: {}}\n---\n"
            + GATEWAY.replace("cert-manager.io/issuer: ca", "cert-manager.io/cluster-issuer: le")
                     .replace("    cert-manager.io/issuer-kind: AWSPCAIssuer\n", "")
                     .replace("    cert-manager.io/issuer-group: awspca.cert-manager.io\n", ""))
    report = check_text(tmp_path, text)
    checks = {f.check for f in report.findings}
    assert "listener-secret-missing" not in checks
    pending = [f for f in report.findings if f.check == "listener-secret-pending"]
    assert sorted(f.hostname for f in pending) == ["a.example.com", "b.example.com", "c.example.com"]
    assert {f.line for f in pending} == {6}
