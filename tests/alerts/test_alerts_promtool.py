"""`gate alerts` against the real promtool: the rules load, and replaying the incident fires them in time.

promtool (Debian/Ubuntu `prometheus`) is installed by .ci/run; without it these tests skip.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from alerts_timeline import (
    CERT_MANAGER,
    FIRST_OOMKILL,
    LIMIT,
    NAMESPACES,
    PROMTOOL,
    TRAEFIK,
    alert_names,
    challenge,
    expect,
    first_firing,
    healthy_series,
    hpa_series,
    incident_series,
    incident_traefik_memory,
    leaked_routes,
    promtool,
    route_series,
    run_rule_test,
    without_annotations,
)
from conftest import gate_cli

from gate.alerts.rules import RULES

pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed "
                                "(apt-get install --no-install-recommends prometheus; .ci/run does it)")

DEPLOY_PLUS_20_MIN = 20


def rules_output(*args: str) -> str:
    result = gate_cli("alerts", "--format", "rules", *args)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def passes(result) -> None:
    assert result.returncode == 0, f"promtool failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("version", [None, "1.15.1", "1.16.0", "1.20.0", "1.21.1"])
@pytest.mark.parametrize("fmt", ["rules", "prometheus-rule", "vmrule"])
def test_promtool_check_rules_accepts_every_format(tmp_path: Path, fmt: str, version: str | None):
    args = ["--format", fmt, "--namespace", "cert-manager", "--namespace", "ingress"]
    if version:
        args += ["--for-cert-manager", version]
    result = gate_cli("alerts", *args)
    assert result.returncode == 0, result.stderr.decode()
    doc = yaml.safe_load(result.stdout)
    # A PrometheusRule's and a VMRule's spec is a rules file.
    rules_file = doc if fmt == "rules" else doc["spec"]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules_file, sort_keys=False), encoding="utf-8")
    check = promtool("check", "rules", "rules.yml", cwd=tmp_path)
    passes(check)
    assert re.search(rf"SUCCESS: {len(alert_names(yaml.safe_dump(rules_file)))} rules found", check.stdout)


def challenge_labels() -> list[dict[str, str]]:
    return [{**challenge(ns), "severity": "warning"} for ns in NAMESPACES]


def test_incident_fires_stuck_challenge_within_20_minutes_and_route_count_before_the_oomkill(tmp_path: Path):
    rules = without_annotations(rules_output())
    before_oom = FIRST_OOMKILL - 1
    tests = [
        # Challenges are pending from T0+1 min; `for: 15m` is not over at T0+10 min ...
        expect("CertManagerChallengeStuck", 10),
        # ... and is by T0+20 min: one alert per Challenge, across the reason change at T0+30 min too.
        expect("CertManagerChallengeStuck", DEPLOY_PLUS_20_MIN, *challenge_labels()),
        expect("CertManagerChallengeStuck", before_oom, *challenge_labels()),
        # 200 routes are passed ~9 min in (about 21 new routes a minute); 5 more minutes to fire.
        expect("GatewayHTTPRouteCountHigh", 10),
        expect("GatewayHTTPRouteCountHigh", DEPLOY_PLUS_20_MIN, {"severity": "warning"}),
        expect("GatewayHTTPRouteCountHigh", before_oom, {"severity": "warning"}),
        # sustained growth needs 30 min of slope above 120/h
        expect("GatewayHTTPRouteCountGrowing", 30),
        expect("GatewayHTTPRouteCountGrowing", before_oom, {"severity": "critical"}),
        expect("CertManagerChallengeSyncStorm", before_oom, {"severity": "warning", "namespace": "cert-manager"}),
        expect("TraefikConfigReloadRateHigh", before_oom,
               {"severity": "warning", "namespace": TRAEFIK["namespace"], "pod": TRAEFIK["pod"]}),
        # memory passes 70% of the 512Mi limit ~77 min in, still before the first OOMKill
        expect("IngressContainerMemoryNearLimit", 60),
        expect("IngressContainerMemoryNearLimit", before_oom, {"severity": "warning", **TRAEFIK}),
        # then Traefik crash-loops
        expect("IngressPodCrashLooping", before_oom),
        expect("IngressPodCrashLooping", FIRST_OOMKILL + 10, {"severity": "critical", **TRAEFIK}),
        expect("IngressPodCrashLooping", FIRST_OOMKILL + 60, {"severity": "critical", **TRAEFIK}),
        # no HPA existed in the incident
        expect("IngressHPAAtMaxReplicas", before_oom),
    ]
    assert leaked_routes(before_oom) < 2400  # the count the first OOMKill happened at, roughly
    passes(run_rule_test(tmp_path, rules, incident_series(), tests))


@pytest.mark.parametrize("version", [None, "1.15.1"])
def test_incident_alert_sequence(tmp_path: Path, version: str | None):
    """When each alert first fires in the replay: the order an on-call engineer would have seen."""
    rules = without_annotations(rules_output(*(["--for-cert-manager", version] if version else [])))
    issuance = "CertManagerCertificateNotReady" if version else "CertManagerChallengeStuck"
    assert first_firing(tmp_path, rules, incident_series()) == {
        issuance: 15 if version else 16,  # pending from T0+1 min (Ready=False from T0), for: 15m
        "GatewayHTTPRouteCountHigh": 15,  # 200 routes ~T0+9 min, for: 5m
        "TraefikConfigReloadRateHigh": 22,
        "GatewayHTTPRouteCountGrowing": 32,
        "CertManagerChallengeSyncStorm": 33,
        "IngressContainerMemoryNearLimit": 75,  # 35 min before the OOMKill
        "IngressPodCrashLooping": FIRST_OOMKILL + 7,
        "IngressHPAAtMaxReplicas": None,  # there was no HPA
    }


@pytest.mark.parametrize("version", [None, "1.15.1"])
def test_healthy_cluster_fires_nothing(tmp_path: Path, version: str | None):
    rules = rules_output(*(["--for-cert-manager", version] if version else []))
    names = alert_names(rules)
    assert len(names) == len(set(names)) == 8
    # every alert, at several points: during an issuance, after a 40-route deploy, later on
    tests = [expect(name, minute) for name in names for minute in (7, 20, 65, 90, 120, 180)]
    passes(run_rule_test(tmp_path, rules, healthy_series(), tests))


def test_fallback_for_cert_manager_1_15_1_fires_on_certificate_not_ready(tmp_path: Path):
    rules = rules_output("--for-cert-manager", "1.15.1")
    names = alert_names(rules)
    # cert-manager 1.15 has no certmanager_certificate_challenge_status: the Certificate rule replaces it
    assert "CertManagerCertificateNotReady" in names and "CertManagerChallengeStuck" not in names
    assert "certmanager_certificate_challenge_status" not in rules
    certs = [{"namespace": ns, "name": f"{ns}-tls", "severity": "warning"} for ns in NAMESPACES]
    tests = [
        expect("CertManagerCertificateNotReady", 10),
        expect("CertManagerCertificateNotReady", DEPLOY_PLUS_20_MIN, *certs),
        expect("CertManagerCertificateNotReady", FIRST_OOMKILL - 1, *certs),
        expect("GatewayHTTPRouteCountHigh", DEPLOY_PLUS_20_MIN, {"severity": "warning"}),
    ]
    passes(run_rule_test(tmp_path, without_annotations(rules), incident_series(), tests))


def test_route_count_reads_the_kubernetes_1_34_metric_name(tmp_path: Path):
    rules = without_annotations(rules_output())
    # only apiserver_resource_objects, as a cluster that no longer exports apiserver_storage_objects
    tests = [expect("GatewayHTTPRouteCountHigh", DEPLOY_PLUS_20_MIN, {"severity": "warning"}),
             expect("GatewayHTTPRouteCountGrowing", FIRST_OOMKILL - 1, {"severity": "critical"})]
    passes(run_rule_test(tmp_path, rules, route_series(leaked_routes, new_metric=True), tests))


def test_route_count_ignores_a_failed_count_and_a_one_off_deploy(tmp_path: Path):
    rules = without_annotations(rules_output("--max-httproutes", "500"))
    # the apiserver reports -1 when it cannot count; a deploy adds 400 routes at once at minute 60
    tests = [expect("GatewayHTTPRouteCountGrowing", minute) for minute in (70, 80, 90, 100, 120, 180)]
    tests += [expect("GatewayHTTPRouteCountHigh", 120)]
    passes(run_rule_test(tmp_path, rules, route_series(lambda t: -1 if t % 10 == 3 else 30 + (400 if t >= 60 else 0)),
                         tests))


def test_hpa_at_max_fires_unless_min_equals_max(tmp_path: Path):
    rules = without_annotations(rules_output())
    series = (hpa_series("traefik", "traefik", current=5, min_replicas=2, max_replicas=5)
              + hpa_series("traefik", "traefik-internal", current=1, min_replicas=1, max_replicas=1)
              + hpa_series("apps", "web", current=10, min_replicas=2, max_replicas=10))  # not an ingress namespace
    labels = {"severity": "warning", "namespace": "traefik", "horizontalpodautoscaler": "traefik"}
    tests = [expect("IngressHPAAtMaxReplicas", 5), expect("IngressHPAAtMaxReplicas", 15, labels)]
    passes(run_rule_test(tmp_path, rules, series, tests))


def test_namespace_option_scopes_pod_rules(tmp_path: Path):
    # Traefik moved to "ingress": with the default namespaces its memory is not watched, with
    # --namespace ingress it is.
    moved = [s for s in incident_series() if 'namespace="traefik"' in s["series"]]
    for s in moved:
        s["series"] = s["series"].replace('namespace="traefik"', 'namespace="ingress"')
    labels = {"severity": "warning", **TRAEFIK, "namespace": "ingress"}
    passes(run_rule_test(tmp_path, without_annotations(rules_output()), moved,
                         [expect("IngressContainerMemoryNearLimit", FIRST_OOMKILL - 1)]))
    passes(run_rule_test(tmp_path, without_annotations(rules_output("--namespace", "ingress,cert-manager")), moved,
                         [expect("IngressContainerMemoryNearLimit", FIRST_OOMKILL - 1, labels)]))


def test_annotations_render(tmp_path: Path):
    """The real output, annotations included: promtool expands each template as Prometheus would."""
    rules = rules_output("--runbook-url", "https://wiki.example.com/alerts.md")
    doc = yaml.safe_load(rules)
    by_name = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    series = route_series(lambda t: 5000)
    series += [s for s in incident_series() if s["series"].startswith(("container_memory_working_set_bytes",
                                                                       "kube_pod_container_resource_limits"))
               and CERT_MANAGER["pod"] not in s["series"]]

    def expanded(rule: str, value: str, labels: dict[str, str]) -> dict[str, str]:
        out = {}
        for key, text in by_name[rule]["annotations"].items():
            text = re.sub(r"\{\{ \$value \| [^}]+ \}\}", value, text)
            out[key] = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
            assert "{{" not in out[key], out[key]
        return out

    route_annotations = expanded("GatewayHTTPRouteCountHigh", "5000", {})
    assert route_annotations["summary"] == "The cluster stores 5000 HTTPRoutes"
    assert route_annotations["runbook_url"] == "https://wiki.example.com/alerts.md#gatewayhttproutecounthigh"
    memory_labels = {**TRAEFIK}
    percent = f"{incident_traefik_memory(100) / LIMIT * 100:.4g}%"  # humanizePercentage is Go's %.4g
    tests = [
        {"eval_time": "30m", "alertname": "GatewayHTTPRouteCountHigh",
         "exp_alerts": [{"exp_labels": {"severity": "warning"}, "exp_annotations": route_annotations}]},
        {"eval_time": "100m", "alertname": "IngressContainerMemoryNearLimit",
         "exp_alerts": [{"exp_labels": {"severity": "warning", **memory_labels},
                         "exp_annotations": expanded("IngressContainerMemoryNearLimit", percent, memory_labels)}]},
    ]
    passes(run_rule_test(tmp_path, rules, series, tests))


def test_every_rule_in_the_table_is_exercised():
    """The timeline tests above name each alert of the table."""
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [r.alert for r in RULES if f'"{r.alert}"' not in source]
    assert not missing
