"""`gate alerts` output without promtool: valid YAML, the objects the operators expect, options honoured."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import ROOT, gate_cli

from gate.alerts import RULES, Options, parse_version, render
from gate.alerts.rules import NAMESPACED


def output(*args: str) -> tuple[int, str, str]:
    result = gate_cli("alerts", *args)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def all_rules(doc: dict) -> list[dict]:
    groups = doc["groups"] if "groups" in doc else doc["spec"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_default_is_a_prometheus_rule():
    code, out, _ = output()
    assert code == 0
    doc = yaml.safe_load(out)
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    assert doc["metadata"]["name"] == "ingress-gate-alerts"
    assert out.startswith("# Alerting rules from `gate alerts`")


def test_vmrule_and_plain_rules_file():
    vm = yaml.safe_load(output("--format", "vmrule")[1])
    assert vm["apiVersion"] == "operator.victoriametrics.com/v1beta1" and vm["kind"] == "VMRule"
    plain = yaml.safe_load(output("--format", "rules")[1])
    assert list(plain) == ["groups"]
    assert plain == vm["spec"]


def test_every_rule_has_severity_summary_description_and_runbook():
    for rule in all_rules(yaml.safe_load(output("--runbook-url", "https://runbooks.example.com/ingress")[1])):
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
        assert rule["annotations"]["runbook_url"] == f"https://runbooks.example.com/ingress#{rule['alert'].lower()}"
        assert re.fullmatch(r"\d+m", rule["for"])


def test_default_runbook_url_is_an_obvious_placeholder():
    rule = all_rules(yaml.safe_load(output()[1]))[0]
    assert ".invalid/" in rule["annotations"]["runbook_url"]


def test_no_acme_request_rate_rule():
    # Let's Encrypt is never called while the self-check fails: such a rule stays silent in this failure.
    out = output()[1]
    assert "certmanager_http_acme_client_request_count" not in out


def test_namespace_scopes_only_the_pod_level_selectors():
    doc = yaml.safe_load(output("--format", "rules", "--namespace", "kube-ingress", "--namespace", "certs,kube-ingress")[1])
    for rule in all_rules(doc):
        scoped = 'namespace=~"certs|kube-ingress"' in rule["expr"]
        assert scoped == (rule["alert"] in NAMESPACED), rule["alert"]
        # a namespaced rule scopes every selector it has
        if scoped:
            selectors = re.findall(r"[a-z_]+\{[^}]*\}", rule["expr"])
            assert selectors and all("namespace=~" in s for s in selectors), rule["expr"]
    assert NAMESPACED >= {"IngressContainerMemoryNearLimit", "IngressPodCrashLooping", "IngressHPAAtMaxReplicas",
                          "TraefikConfigReloadRateHigh", "CertManagerChallengeSyncStorm"}
    # Challenge/Certificate metrics carry the application's namespace; the apiserver counts are cluster-wide.
    assert not NAMESPACED & {"CertManagerChallengeStuck", "CertManagerCertificateNotReady",
                             "GatewayHTTPRouteCountHigh", "GatewayHTTPRouteCountGrowing"}


def test_single_namespace_uses_an_exact_match():
    doc = yaml.safe_load(output("--format", "rules", "--namespace", "ingress")[1])
    memory = next(r for r in all_rules(doc) if r["alert"] == "IngressContainerMemoryNearLimit")
    assert 'namespace="ingress"' in memory["expr"]


@pytest.mark.parametrize("args, message", [
    (["--namespace", "Ingress_NS"], "not a Kubernetes namespace name"),
    (["--namespace", 'a"|.*'], "not a Kubernetes namespace name"),
    (["--for-cert-manager", "latest"], "not a cert-manager version"),
    (["--runbook-url", "runbooks"], "not an http(s) URL"),
    (["--max-httproutes", "0"], "--max-httproutes"),
    (["--format", "json"], "--format"),
])
def test_usage_errors_exit_2(args: list[str], message: str):
    code, out, err = output(*args)
    assert code == 2 and message in err and out == ""


def test_max_httproutes_sets_the_threshold():
    doc = yaml.safe_load(output("--format", "rules", "--max-httproutes", "750")[1])
    high = next(r for r in all_rules(doc) if r["alert"] == "GatewayHTTPRouteCountHigh")
    assert high["expr"].rstrip().endswith(") > 750")


def test_version_parsing():
    assert parse_version("v1.15.1") == (1, 15, 1)
    assert parse_version("1.19") == (1, 19, 0)
    with pytest.raises(ValueError):
        parse_version("1.x")


def names(version: str | None) -> set[str]:
    options = Options(cert_manager=parse_version(version) if version else None)
    return {r["alert"] for r in all_rules(yaml.safe_load(render(options, "rules")))}


def test_challenge_metric_only_from_1_19():
    assert "CertManagerChallengeStuck" in names(None) and "CertManagerCertificateNotReady" not in names(None)
    assert "CertManagerChallengeStuck" in names("1.19.0")
    assert "CertManagerChallengeStuck" not in names("1.18.9")
    assert "CertManagerCertificateNotReady" in names("1.18.9")


def descriptions(version: str | None) -> dict[str, str]:
    options = Options(cert_manager=parse_version(version) if version else None)
    return {r["alert"]: r["annotations"]["description"] for r in all_rules(yaml.safe_load(render(options, "rules")))}


def test_descriptions_name_the_bugs_of_the_version():
    old, fixed, v1_20_0, unknown = (descriptions(v) for v in ("1.15.1", "1.16.0", "1.20.0", None))
    leak = "cert-manager < v1.15.2 with the gatewayHTTPRoute solver and Gateway API support off"
    assert "Likely cause: " + leak in old["GatewayHTTPRouteCountGrowing"]
    assert "#7176" not in fixed["GatewayHTTPRouteCountGrowing"]
    assert "at most one solver route per Challenge" in fixed["GatewayHTTPRouteCountGrowing"]
    assert "#8634" in v1_20_0["CertManagerChallengeSyncStorm"] and "#8634" not in fixed["CertManagerChallengeSyncStorm"]
    # with no version, every hint, each saying which versions it is about
    assert "Possible cause: " + leak in unknown["GatewayHTTPRouteCountGrowing"]
    assert "#8634" in unknown["CertManagerChallengeSyncStorm"]


def test_rule_names_are_unique_and_expressions_multiline_blocks():
    assert len({r.alert for r in RULES}) == len(RULES)
    out = output("--format", "rules")[1]
    assert "expr: |" in out  # literal blocks, not folded or quoted PromQL


def test_no_unquoted_template_at_the_start_of_a_value():
    # gate's own loader reports `key: {{ ... }}` as an unrendered Helm template; our output must not look like one.
    out = output()[1]
    assert not re.search(r"(?:^|:[ \t]|-[ \t])[ \t]*\{\{", out, re.MULTILINE)


def test_docs_cover_every_alert():
    docs = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### (\w+)$", docs, re.MULTILINE))
    assert headings == {r.alert for r in RULES}
    for rule in RULES:
        section = docs.split(f"### {rule.alert}\n", 1)[1].split("\n### ", 1)[0]
        assert f"`for: {rule.for_}`" in section and f"severity `{rule.severity}`" in section, rule.alert


def test_registered_on_the_main_command():
    code, out, _ = output("--help")
    assert code == 0 and "--for-cert-manager" in out


def test_docs_summary_table_is_generated_from_the_rules():
    from gate.alerts.rules import markdown_table
    assert markdown_table() in (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
