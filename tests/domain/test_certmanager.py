"""cert-manager's issuer lookup and ACME solver picking (gate/domain/certmanager.py), on small renders."""

from __future__ import annotations

import textwrap

from conftest import write

from gate.domain.certmanager import choose_solver, issuer_for, validated_names
from gate.index import Index
from gate.sources.files import load_paths

CERT = """
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: app-tls
  namespace: shop
  labels: {team: payments, tier: web}
spec:
  secretName: app-tls
  commonName: app.example.com
  dnsNames: [www.example.com, "*.example.com"]
  issuerRef: {name: le, kind: ClusterIssuer}
"""


def index_of(tmp_path, *documents: str) -> Index:
    path = write(tmp_path, "render.yaml", "---\n".join(textwrap.dedent(d).lstrip("\n") for d in documents))
    return Index(load_paths([str(path)]).resources)


def issuer(solvers: str) -> str:
    return ("apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: le}\nspec:\n  acme:\n"
            "    server: https://acme.example/directory\n    solvers:\n"
            + textwrap.indent(textwrap.dedent(solvers).strip(), "    ") + "\n")


def position(tmp_path, solvers: str, name: str) -> int | None:
    index = index_of(tmp_path, issuer(solvers), CERT)
    return choose_solver(index, index.certificates[0], name).position


DNS = "dns01: {webhook: {groupName: x, solverName: y}}"
HTTP = "http01: {ingress: {ingressClassName: nginx}}"


def test_dns_names_match_beats_zones_and_labels_even_listed_last(tmp_path):
    """A dnsNames match wins over a longer dnsZones match and over more matchLabels, whatever the order."""
    solvers = f"""
    - selector: {{dnsZones: [www.example.com], matchLabels: {{team: payments, tier: web}}}}
      {DNS}
    - selector: {{dnsNames: [www.example.com]}}
      {DNS}
    """
    assert position(tmp_path, solvers, "www.example.com") == 1


def test_zone_with_most_labels_wins(tmp_path):
    """Between two matching zones, the one with more labels (the closer zone) is picked."""
    solvers = f"""
    - selector: {{dnsZones: [example.com]}}
      {DNS}
    - selector: {{dnsZones: [www.example.com]}}
      {DNS}
    - selector: {{dnsZones: [com]}}
      {DNS}
    """
    assert position(tmp_path, solvers, "www.example.com") == 1


def test_more_labels_then_list_order(tmp_path):
    """Same zone: more matched labels wins; a full tie keeps the first in the list."""
    solvers = f"""
    - selector: {{dnsZones: [example.com], matchLabels: {{team: payments}}}}
      {DNS}
    - selector: {{dnsZones: [example.com], matchLabels: {{team: payments, tier: web}}}}
      {DNS}
    - selector: {{dnsZones: [example.com], matchLabels: {{tier: web, team: payments}}}}
      {DNS}
    """
    assert position(tmp_path, solvers, "www.example.com") == 1


def test_default_solver_only_when_nothing_more_specific(tmp_path):
    """A solver without selector is the default: a matching selector listed after it still wins."""
    solvers = f"""
    - {HTTP}
    - selector: {{matchLabels: {{team: payments}}}}
      {DNS}
    """
    assert position(tmp_path, solvers, "www.example.com") == 1
    assert position(tmp_path, f"- selector: {{matchLabels: {{team: other}}}}\n  {DNS}\n- {HTTP}",
                    "www.example.com") == 1


def test_a_zone_matches_whole_labels_only(tmp_path):
    """dnsZones [ample.com] does not match www.example.com (no solver); [example.com] does."""
    assert position(tmp_path, f"- selector: {{dnsZones: [ample.com]}}\n  {DNS}", "www.example.com") is None
    assert position(tmp_path, f"- selector: {{dnsZones: [EXAMPLE.com]}}\n  {DNS}", "www.example.com") == 0


def test_wildcard_looked_up_as_written_and_only_dns01(tmp_path):
    """`*.example.com` matches a dnsNames entry written with the star; HTTP-01 solvers yield to DNS-01 for it."""
    solvers = f"""
    - selector: {{dnsNames: ["*.example.com"]}}
      {HTTP}
    - selector: {{dnsZones: [example.com]}}
      {DNS}
    """
    index = index_of(tmp_path, issuer(solvers), CERT)
    wildcard = choose_solver(index, index.certificates[0], "*.example.com")
    assert (wildcard.position, wildcard.challenge) == (1, "dns01")
    only_http = index_of(tmp_path, issuer(f"- {HTTP}"), CERT)
    choice = choose_solver(only_http, only_http.certificates[0], "*.example.com")
    assert (choice.position, choice.challenge, choice.acme_server) == (0, "http01", "https://acme.example/directory")


def test_issuer_lookup_follows_kind_and_namespace(tmp_path):
    """kind defaults to Issuer in the Certificate's namespace; an Issuer elsewhere does not count."""
    index = index_of(tmp_path, "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: ca, namespace: infra}\n"
                               "spec: {selfSigned: {}}\n",
                     CERT.replace("{name: le, kind: ClusterIssuer}", "{name: ca}"))
    assert issuer_for(index, index.certificates[0]) is None
    index = index_of(tmp_path, "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: ca, namespace: shop}\n"
                               "spec: {selfSigned: {}}\n",
                     CERT.replace("{name: le, kind: ClusterIssuer}", "{name: ca}"))
    found = issuer_for(index, index.certificates[0])
    assert found is not None and found.ref == "Issuer shop/ca"
    assert choose_solver(index, index.certificates[0], "www.example.com").solver is None  # not ACME


def test_validated_names_cover_common_name_and_shim_certificates(tmp_path):
    """Every dnsName, the commonName and the names of Certificates an Ingress will get are listed."""
    ingress = """
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: shop
      namespace: shop
      annotations: {cert-manager.io/cluster-issuer: le}
    spec:
      tls:
      - hosts: [Shop.Example.com]
        secretName: shop-tls
    """
    index = index_of(tmp_path, issuer(f"- {HTTP}"), CERT, ingress)
    names = validated_names(index)
    assert set(names) == {"www.example.com", "*.example.com", "app.example.com", "shop.example.com"}
    (cert, choice), = names["shop.example.com"]
    assert cert.derived_from is not None and cert.derived_from.kind == "Ingress"
    assert choice.challenge == "http01" and choice.issuer.name == "le"
