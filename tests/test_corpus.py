"""Real manifests from public projects (../shared/corpus): no crash anywhere, hand-checked findings."""

from __future__ import annotations

import pytest
from conftest import CORPUS, needs_corpus

from gate.load import iter_manifest_files
from gate.run import RunConfig, run

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
    assert ("reference-not-permitted", 16) in findings(
        "gateway-api/conformance/tests/httproute-partially-invalid-via-invalid-reference-grant.yaml")


def test_portless_backend_invalid_example():
    """gateway-api's invalid example of a backendRef without a port is caught."""
    assert ("route-backend-port-missing", 1) in findings(
        "gateway-api/hack/invalid-examples/standard/httproute/httproute-portless-backend.yaml")


def test_cert_manager_docs_cross_namespace_listener():
    """cert-manager's docs Gateway with a certificateRef into other-namespace has no ReferenceGrant."""
    assert ("reference-not-permitted", 1) in findings(
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
    assert messages and all("unrendered Helm template" in m for m in messages)
