"""Real manifests from public projects (../shared/corpus): no crash anywhere, hand-checked findings."""

from __future__ import annotations

import pytest
from conftest import CORPUS, needs_corpus

from gate.run import RunConfig, run
from gate.sources.files import iter_manifest_files

pytestmark = needs_corpus


def corpus_folders():
    if not CORPUS.is_dir():
        return []
    return sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and p.name != "big")


@pytest.mark.parametrize("folder", corpus_folders())
def test_every_corpus_file_runs_without_crashing(folder):
    """Each file on its own (fixtures are separate renders) gives a report, never an exception."""
    for path in iter_manifest_files(CORPUS / folder):
        report = run(RunConfig(paths=[str(path)], offline=True))
        assert report.errors == []
        for finding in report.findings:
            assert finding.line >= 1 and finding.file


def findings(relative: str) -> list[tuple[str, int]]:
    report = run(RunConfig(paths=[str(CORPUS / relative)], offline=True))
    return sorted((f.check, f.line) for f in report.findings)


def test_reference_grant_conformance_case():
    """gateway-api's conformance test for an invalid ReferenceGrant: the route's backendRef is not permitted.

    Checked by hand: the grant in gateway-conformance-app-backend names another Service (app-backend-v1),
    so app-backend-v2 is refused; the Services themselves live in the conformance base (not in this file).
    """
    assert ("reference-not-permitted", 30) in findings(
        "gateway-api/conformance/tests/httproute-partially-invalid-via-invalid-reference-grant.yaml")


def test_portless_backend_invalid_example():
    """gateway-api's invalid example of a backendRef without a port is caught."""
    assert ("route-backend-port-missing", 10) in findings(
        "gateway-api/hack/invalid-examples/standard/httproute/httproute-portless-backend.yaml")


def test_cert_manager_docs_cross_namespace_listener():
    """cert-manager's docs Gateway with a certificateRef into other-namespace has no ReferenceGrant."""
    assert ("reference-not-permitted", 50) in findings(
        "cert-manager-website-docs-snippets/content/docs/usage/gateway/block-03-L172.yaml")


def test_kube_prometheus_value_tag_file_loads():
    """The AlertmanagerConfig CRD with `- =` is valid YAML and loads (PyYAML alone refuses it)."""
    assert findings("kube-prometheus/manifests/setup/0alertmanagerConfigCustomResourceDefinition.yaml") == []


def test_kustomize_render_is_clean():
    """microservices-demo rendered by kustomize: complete and consistent, no finding."""
    report = run(RunConfig(paths=[str(CORPUS / "kustomize-rendered")], offline=True))
    assert report.findings == [] and report.resources > 30


def test_unrendered_helm_chart_is_named_as_such():
    """cert-manager's chart templates are reported as unrendered Helm templates, not parser noise."""
    messages = [f.message for f in run(RunConfig(
        paths=[str(CORPUS / "cert-manager/deploy/charts/cert-manager/templates/deployment.yaml")],
        offline=True)).findings]
    assert messages and all("unrendered Helm template" in m for m in messages if not m.startswith("no Kubernetes"))


ISSUE_3_CHECKS = {"certificate-issuer-missing", "certificate-no-solver", "http01-wildcard", "http01-solver-unroutable",
                  "listener-secret-pending", "listener-certificate-mismatch", "shim-listener-skipped",
                  "ingress-shim-conflict", "route-parent-missing", "service-selects-nothing", "gateway-invalid",
                  "gateway-blast-radius", "ingress-backend-missing"}


@pytest.mark.parametrize("relative", [
    "envoy-gateway/examples/kubernetes/quickstart.yaml",  # GatewayClass, Gateway, Service, Deployment, HTTPRoute
    "microservices-demo/release/kubernetes-manifests.yaml",
    "ingress-nginx/deploy/static/provider/cloud/deploy.yaml",
    "argo-cd/manifests/install.yaml",
    "cert-manager-website-docs-snippets/content/docs/configuration/selfsigned/block-03-L81.yaml",  # issuers + CA chain
    "cert-manager-website/content/docs/usage/istio-csr/example/example-issuer.yaml",
])
def test_complete_renders_have_no_certificate_or_gateway_finding(relative):
    """Self-contained real renders get no finding from the cert-manager / Gateway API checks."""
    report = run(RunConfig(paths=[str(CORPUS / relative)], offline=True))
    assert [f for f in report.findings if f.check in ISSUE_3_CHECKS] == []


def test_gateway_api_invalid_examples_are_schema_invalid():
    """gateway-api's own invalid examples (duplicate listener names, tls on TCP) are rejected as the CRD rejects them,
    at the listeners field the CRD's rule is on."""
    assert ("schema-invalid", 7) in findings("gateway-api/hack/invalid-examples/standard/gateway/duplicate-listeners.yaml")
    assert any(check == "schema-invalid" for check, _ in
               findings("gateway-api/hack/invalid-examples/standard/gateway/tlsconfig-tcp.yaml"))


def test_cert_manager_docs_skipped_listeners():
    """The docs' Gateway marks example-2 (no hostname) and example-4 (cross-namespace ref) as skipped: so do we.

    example-1 is plain HTTP (not a TLS listener) and example-3 is HTTPS Passthrough, which the API server
    rejects (the Gateway CRD's rule, schema-invalid) and the shim ignores without an event.
    """
    report = run(RunConfig(paths=[str(CORPUS / "cert-manager-website-docs-snippets/content/docs/usage/gateway/"
                                            "block-03-L172.yaml")], offline=True))
    skipped = sorted(f.message.split("'")[1] for f in report.findings if f.check == "shim-listener-skipped")
    assert skipped == ["example-2", "example-4"]
    assert any(f.check == "schema-invalid" and "tls mode must be Terminate for protocol HTTPS" in f.message
               for f in report.findings)


def test_envoy_gateway_common_labels_render_has_duplicate_keys():
    """envoy-gateway's Helm test render with commonLabels repeats app.kubernetes.io/name and /instance in
    one labels mapping (checked by hand at lines 15 and 18, 14 and 19): kubectl refuses that."""
    found = findings("envoy-gateway/test/helm/gateway-helm/common-labels.out.yaml")
    assert ("manifest-duplicate-key", 18) in found and ("manifest-duplicate-key", 19) in found
