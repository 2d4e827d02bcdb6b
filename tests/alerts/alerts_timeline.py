"""Input series for `promtool test rules`: the incident's timeline and a healthy cluster, one sample a minute.

Times are minutes after the deploy (T0 = 18:00 in the report). The incident, as the report and
cert-manager #7176 explain it: four namespaces each get a Certificate whose HTTP-01 Challenge can never
pass (no DNS), cert-manager < v1.15.2 adds a solver HTTPRoute on every 10 s self-check round (one every
~11.5 s per namespace counting the GETs, ~5,600 per namespace in 18 h), Traefik's memory grows with the
route table until it is OOMKilled 1 h 50 min in, then it crash-loops.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

PROMTOOL = shutil.which("promtool")
PROMTOOL_TIMEOUT = 60  # seconds; each test file here replays a few hours of series in well under one

MIB = 1024 * 1024
MINUTES = 180  # series length: three hours after the deploy
FIRST_OOMKILL = 110  # 19:49 in the report, 1 h 49-50 min after the deploy
ROUTES_BEFORE = 30  # the route table before the deploy
LEAK_PER_MINUTE = 4 * 60 / 11.5  # four namespaces, one route every ~11.5 s each
NAMESPACES = ("acme-pay-production", "acme-pay-sandbox", "acme-rbac-production", "acme-rbac-sandbox")
TRAEFIK = {"namespace": "traefik", "pod": "traefik-749c566fd-zj2mb", "container": "traefik"}
CERT_MANAGER = {"namespace": "cert-manager", "pod": "cert-manager-7d9f8b6c5-q2xkw", "container": "cert-manager-controller"}
LIMIT = 512 * MIB


def values(at: Callable[[int], float | str | None], minutes: int = MINUTES) -> str:
    """promtool's sample list, one per minute: None is a missing sample, "stale" a staleness marker."""
    out = []
    for t in range(minutes + 1):
        v = at(t)
        out.append("_" if v is None else v if isinstance(v, str) else repr(float(v)))
    return " ".join(out)


def series(name: str, labels: dict[str, str], at: Callable[[int], float | str | None]) -> dict:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values(at)}


def challenge(ns: str) -> dict[str, str]:
    return {"namespace": ns, "name": f"{ns}-tls-1-2743519650-0", "domain": f"{ns.removeprefix('acme-')}.example.com",
            "type": "HTTP-01"}


def challenge_series(ns: str, state_at: Callable[[int], str | None]) -> list[dict]:
    """cert-manager's Challenge collector: one series per state, 1 for the current one. The reason is a
    label too and changes while the self-check retries: a new series each time."""
    out = []
    labels = challenge(ns)
    for status in ("", "pending", "processing", "valid", "invalid", "errored", "expired", "ready"):
        for reason, (start, end) in {
            "Waiting for HTTP-01 challenge propagation: failed to perform self check GET request: "
            "dial tcp: lookup app.example.com: no such host": (0, 30),
            "Waiting for HTTP-01 challenge propagation: did not get expected response when querying "
            "endpoint, expected token but got 404": (30, MINUTES + 1),
        }.items():
            def at(t: int, status=status, start=start, end=end):
                state = state_at(t)
                if state is None or t < start:
                    return None
                if t >= end:
                    return "stale" if t == end else None
                return 1 if state == status else 0
            out.append(series("certmanager_certificate_challenge_status",
                              {**labels, "status": status, "processing": "true", "reason": reason}, at))
    return out


def certificate_series(ns: str, ready_at: Callable[[int], bool | None]) -> list[dict]:
    labels = {"namespace": ns, "name": f"{ns}-tls", "issuer_name": "letsencrypt", "issuer_kind": "ClusterIssuer",
              "issuer_group": "cert-manager.io"}
    out = []
    for condition in ("True", "False", "Unknown"):
        def at(t: int, condition=condition):
            ready = ready_at(t)
            if ready is None:
                return None
            return 1 if condition == ("True" if ready else "False") else 0
        out.append(series("certmanager_certificate_ready_status", {**labels, "condition": condition}, at))
    return out


def route_series(count_at: Callable[[int], float], new_metric: bool = False) -> list[dict]:
    """kube-apiserver's object count from two replicas (the second one a little behind)."""
    out = []
    for instance, lag in (("10.0.1.10:6443", 0), ("10.0.2.10:6443", 1)):
        if new_metric:
            name, labels = "apiserver_resource_objects", {"group": "gateway.networking.k8s.io",
                                                          "resource": "httproutes"}
        else:
            name, labels = "apiserver_storage_objects", {"resource": "httproutes.gateway.networking.k8s.io"}
        out.append(series(name, {**labels, "job": "apiserver", "instance": instance},
                          lambda t, lag=lag: round(count_at(max(t - lag, 0)))))
    return out


def leaked_routes(t: int) -> float:
    return ROUTES_BEFORE + LEAK_PER_MINUTE * max(t - 1, 0)  # the first solver route ~1 min after the deploy


def container_series(pod: dict[str, str], working_set_at: Callable[[int], float | None], limit: float) -> list[dict]:
    cadvisor = {"job": "kubelet", "metrics_path": "/metrics/cadvisor", "namespace": pod["namespace"],
                "pod": pod["pod"]}
    ksm = {"job": "kube-state-metrics", "namespace": pod["namespace"], "pod": pod["pod"],
           "container": pod["container"]}
    return [
        series("container_memory_working_set_bytes", {**cadvisor, "container": pod["container"]}, working_set_at),
        # the pod cgroup (container="") and the pause container have no container limit
        series("container_memory_working_set_bytes", {**cadvisor, "container": ""},
               lambda t: None if working_set_at(t) is None else working_set_at(t) + 2 * MIB),
        series("container_memory_working_set_bytes", {**cadvisor, "container": "POD"}, lambda t: 0.5 * MIB),
        series("kube_pod_container_resource_limits",
               {**ksm, "resource": "memory", "unit": "byte", "node": "ip-10-0-1-23"}, lambda t: limit),
    ]


def incident_traefik_memory(t: int) -> float:
    """Grows with the route table up to the limit at the first OOMKill, then dies within seconds of
    each restart while it loads the table again (what a 1-minute scrape sees: a sawtooth)."""
    if t < FIRST_OOMKILL:
        return 100 * MIB + (LIMIT - 100 * MIB) * (leaked_routes(t) - ROUTES_BEFORE) / (
            leaked_routes(FIRST_OOMKILL) - ROUTES_BEFORE)
    return (260 + 60 * (t % 4)) * MIB


RESTARTS_AT = (FIRST_OOMKILL, FIRST_OOMKILL + 1, FIRST_OOMKILL + 2, FIRST_OOMKILL + 4, FIRST_OOMKILL + 7,
               FIRST_OOMKILL + 12)  # CrashLoopBackOff: back-off 10 s, 20 s, 40 s, ... up to 5 min
RESTARTS_AT += tuple(range(FIRST_OOMKILL + 17, MINUTES + 1, 5))


def incident_series() -> list[dict]:
    out: list[dict] = []
    for ns in NAMESPACES:
        out += challenge_series(ns, lambda t: None if t < 1 else "pending")
        out += certificate_series(ns, lambda t: False)
    out += route_series(leaked_routes)
    # every failing self-check re-queues its Challenge after 10 s: 6 syncs a minute each
    out.append(series("certmanager_controller_sync_call_count",
                      {"controller": "challenges", "job": "cert-manager", **CERT_MANAGER},
                      lambda t: 3 + 4 * 6 * max(t - 1, 0)))
    out += container_series(TRAEFIK, incident_traefik_memory, LIMIT)
    out += container_series(CERT_MANAGER, lambda t: 60 * MIB, 256 * MIB)
    ksm = {"job": "kube-state-metrics", **TRAEFIK, "uid": "8e2f1c7a-0000-4000-8000-00000000c0de"}
    out.append(series("kube_pod_container_status_restarts_total", ksm,
                      lambda t: sum(1 for r in RESTARTS_AT if r <= t)))
    out.append(series("kube_pod_container_status_waiting_reason", {**ksm, "reason": "CrashLoopBackOff"},
                      lambda t: 1 if t > FIRST_OOMKILL and t not in RESTARTS_AT else 0))
    # Traefik rebuilds its configuration for each new route (throttled to one build per 2 s); the
    # counter starts again at each restart.
    out.append(series("traefik_config_reloads_total", {"job": "traefik", **TRAEFIK},
                      lambda t: 1 + round(LEAK_PER_MINUTE * max(t - 1, 0)) if t < FIRST_OOMKILL
                      else 1 + (t - FIRST_OOMKILL) % 3))
    out.append(series("traefik_config_last_reload_success", {"job": "traefik", **TRAEFIK},
                      lambda t: 1774191600 + 60 * t))
    return out


def healthy_series() -> list[dict]:
    """A cluster that works: one certificate issued in 3 minutes, a deploy adding 40 routes at once,
    memory flat, no restarts, two HPAs (one pinned at min = max = 1)."""
    out: list[dict] = []

    def issuing(t: int) -> str | None:
        if t < 5 or t >= 15:
            return None  # cert-manager deletes the Challenge once the Order is done
        return "pending" if t < 8 else "valid"

    out += challenge_series(NAMESPACES[0], issuing)
    out += certificate_series(NAMESPACES[0], lambda t: t >= 8)
    for ns in NAMESPACES[1:]:
        out += certificate_series(ns, lambda t: True)
    out += route_series(lambda t: ROUTES_BEFORE + (40 if t >= 60 else 0))
    out.append(series("certmanager_controller_sync_call_count",
                      {"controller": "challenges", "job": "cert-manager", **CERT_MANAGER},
                      lambda t: 3 + min(max(t - 4, 0), 4) * 2))
    out += container_series(TRAEFIK, lambda t: (100 + (t % 7)) * MIB, LIMIT)
    out += container_series(CERT_MANAGER, lambda t: 60 * MIB, 256 * MIB)
    ksm = {"job": "kube-state-metrics", **TRAEFIK, "uid": "8e2f1c7a-0000-4000-8000-00000000c0de"}
    out.append(series("kube_pod_container_status_restarts_total", ksm, lambda t: 0))
    out.append(series("kube_pod_container_status_waiting_reason", {**ksm, "reason": "CrashLoopBackOff"},
                      lambda t: 0))
    out.append(series("traefik_config_reloads_total", {"job": "traefik", **TRAEFIK},
                      lambda t: 1 + t // 5 + (6 if t >= 60 else 0)))
    out.append(series("traefik_config_last_reload_success", {"job": "traefik", **TRAEFIK},
                      lambda t: 1774191600 + 300 * (t // 5)))
    out += hpa_series("traefik", "traefik", current=2, min_replicas=2, max_replicas=5)
    out += hpa_series("traefik", "traefik-internal", current=1, min_replicas=1, max_replicas=1)
    return out


def hpa_series(ns: str, name: str, current: int, min_replicas: int, max_replicas: int) -> list[dict]:
    labels = {"job": "kube-state-metrics", "namespace": ns, "horizontalpodautoscaler": name}
    return [series("kube_horizontalpodautoscaler_status_current_replicas", labels, lambda t: current),
            series("kube_horizontalpodautoscaler_spec_min_replicas", labels, lambda t: min_replicas),
            series("kube_horizontalpodautoscaler_spec_max_replicas", labels, lambda t: max_replicas)]


def alert_names(rules_text: str) -> list[str]:
    return [r["alert"] for g in yaml.safe_load(rules_text)["groups"] for r in g["rules"]]


def without_annotations(rules_text: str) -> str:
    """The same rules without annotations: promtool compares annotations too, and the timeline tests are
    about when alerts fire (test_annotations_render checks the annotation templates)."""
    doc = yaml.safe_load(rules_text)
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return yaml.safe_dump(doc, sort_keys=False)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT, check=False,
                          env={**os.environ, "TZ": "UTC"})


def run_rule_test(tmp_path: Path, rules_text: str, input_series: list[dict], alert_tests: list[dict],
                  minutes: int = MINUTES) -> subprocess.CompletedProcess:
    (tmp_path / "rules.yml").write_text(rules_text, encoding="utf-8")
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": input_series, "alert_rule_test": alert_tests}]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False, width=1000), encoding="utf-8")
    return promtool("test", "rules", "test.yml", cwd=tmp_path)


def expect(alertname: str, minute: int, *label_sets: dict[str, str]) -> dict:
    return {"eval_time": f"{minute}m", "alertname": alertname,
            "exp_alerts": [{"exp_labels": labels} for labels in label_sets]}


def first_firing(tmp_path: Path, rules_text: str, input_series: list[dict]) -> dict[str, int | None]:
    """The first minute each alert fires, from one promtool run that expects silence every minute and
    reading which expectations it reports as failed."""
    names = alert_names(rules_text)
    result = run_rule_test(tmp_path, rules_text, input_series,
                           [expect(name, minute) for name in names for minute in range(MINUTES + 1)])
    first: dict[str, int | None] = dict.fromkeys(names)
    for name, hours, minutes in re.findall(r"alertname: (\w+), time: (?:(\d+)h)?(?:(\d+)m)?\S*,",
                                           result.stdout + result.stderr):
        minute = int(hours or 0) * 60 + int(minutes or 0)
        first[name] = minute if first[name] is None else min(first[name], minute)
    return first
