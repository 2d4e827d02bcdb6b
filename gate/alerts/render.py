"""Fill the rule table in for one cluster and write it as a PrometheusRule, a VMRule or a rules file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Template

import yaml

from gate import __version__
from gate.alerts.rules import CHALLENGE_METRIC_SINCE, GROUPS, AlertRule, Version, select, show

FORMATS = ("prometheus-rule", "vmrule", "rules")
DEFAULT_NAMESPACES = ("cert-manager", "traefik")
# RFC 2606 reserves .invalid: it can never resolve, so nobody mistakes it for a real runbook.
DEFAULT_RUNBOOK_URL = "https://runbooks.example.invalid/ingress-gate/alerts"
DEFAULT_MAX_HTTPROUTES = 200
OBJECT_NAME = "ingress-gate-alerts"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Options:
    namespaces: tuple[str, ...] = DEFAULT_NAMESPACES
    cert_manager: Version | None = None
    runbook_url: str = DEFAULT_RUNBOOK_URL
    max_httproutes: int = DEFAULT_MAX_HTTPROUTES

    def __post_init__(self) -> None:
        if not self.namespaces:
            raise ValueError("give at least one namespace")
        for ns in self.namespaces:
            # Namespace names are DNS labels, which also keeps them free of regex and quote characters.
            if not _DNS_LABEL.fullmatch(ns):
                raise ValueError(f"{ns!r} is not a Kubernetes namespace name (RFC 1123 label)")
        if not re.match(r"https?://\S+$", self.runbook_url):
            raise ValueError(f"{self.runbook_url!r} is not an http(s) URL")
        if self.max_httproutes < 1:
            raise ValueError("the HTTPRoute threshold must be at least 1")


def namespace_matcher(namespaces: tuple[str, ...]) -> str:
    names = sorted(set(namespaces))
    if len(names) == 1:
        return f'namespace="{names[0]}"'
    return f'namespace=~"{"|".join(names)}"'


def expression(rule: AlertRule, options: Options) -> str:
    text = Template(rule.expr.strip()).substitute(ns=namespace_matcher(options.namespaces),
                                                  max_httproutes=options.max_httproutes)
    return text + "\n" if "\n" in text else text


def rule_entry(rule: AlertRule, options: Options) -> dict:
    anchor = rule.alert.lower()  # docs/alerts.md has one heading per alert, named after it
    return {
        "alert": rule.alert,
        "expr": expression(rule, options),
        "for": rule.for_,
        "labels": {"severity": rule.severity},
        "annotations": {
            "summary": rule.summary,
            "description": rule.describe(options.cert_manager),
            "runbook_url": f"{options.runbook_url}#{anchor}",
        },
    }


def groups(options: Options) -> list[dict]:
    chosen = select(options.cert_manager)
    out = []
    for key, name in GROUPS.items():
        rules = [rule_entry(r, options) for r in chosen if r.group == key]
        if rules:
            out.append({"name": name, "rules": rules})
    return out


def document(options: Options, fmt: str) -> dict:
    body = {"groups": groups(options)}
    if fmt == "rules":
        return body
    metadata = {"name": OBJECT_NAME,
                "labels": {"app.kubernetes.io/name": "ingress-gate", "app.kubernetes.io/component": "alerts"}}
    if fmt == "prometheus-rule":
        return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": metadata,
                "spec": body}
    if fmt == "vmrule":
        return {"apiVersion": "operator.victoriametrics.com/v1beta1", "kind": "VMRule", "metadata": metadata,
                "spec": body}
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # PromQL over several lines reads best as a literal block; PyYAML falls back to quoting by itself
    # when a block cannot hold the text exactly.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def header(options: Options) -> str:
    if options.cert_manager is None:
        version = (f"cert-manager >= {show(CHALLENGE_METRIC_SINCE)} assumed (older versions have no "
                   "Challenge metric: pass --for-cert-manager VERSION)")
    else:
        version = f"for cert-manager {show(options.cert_manager)}"
    return (f"# Alerting rules from `gate alerts` (ingress-gate {__version__}), {version}.\n"
            f"# Pod-level rules watch the namespaces: {', '.join(sorted(set(options.namespaces)))}.\n"
            "# What each alert means and what to do: docs/alerts.md.\n")


def render(options: Options, fmt: str = "prometheus-rule") -> str:
    body = yaml.dump(document(options, fmt), Dumper=_Dumper, sort_keys=False, width=120,
                     allow_unicode=True, default_flow_style=False)
    return header(options) + body
