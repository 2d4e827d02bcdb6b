"""`gate alerts`: print the alerting rules for the failure chain of a leaking ACME HTTP-01 solver.

A click command object; gate/cli.py imports it when `gate alerts` is run or listed (`gate --help`).
"""

from __future__ import annotations

import click

from gate.alerts.render import DEFAULT_MAX_HTTPROUTES, DEFAULT_NAMESPACES, DEFAULT_RUNBOOK_URL, FORMATS, Options, render
from gate.alerts.rules import parse_version


def _namespaces(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(n.strip() for value in values for n in value.split(",") if n.strip())
    return names or DEFAULT_NAMESPACES


def _version(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    try:
        return parse_version(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("alerts")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="prometheus-rule", show_default=True,
              help="A monitoring.coreos.com/v1 PrometheusRule, a VictoriaMetrics VMRule, or a plain Prometheus "
                   "rules file (groups: at the top).")
@click.option("--namespace", "namespaces", multiple=True, metavar="NS", callback=_namespaces,
              help="Namespace where cert-manager or the ingress controller runs; repeatable or comma-separated "
                   f"[default: {','.join(DEFAULT_NAMESPACES)}]. Scopes the pod, HPA, Traefik and cert-manager "
                   "controller rules; Challenge, Certificate and HTTPRoute count rules stay cluster-wide.")
@click.option("--for-cert-manager", "cert_manager", metavar="VERSION", callback=_version,
              help="cert-manager version in the cluster (e.g. 1.15.1). Before 1.19 there is no Challenge "
                   "metric and a Certificate-not-Ready rule takes its place; descriptions name the bugs of "
                   "that version. Default: a current cert-manager (1.19 or later).")
@click.option("--runbook-url", default=DEFAULT_RUNBOOK_URL, show_default=True, metavar="URL",
              help="Base of each alert's runbook_url (#<alertname> is appended), e.g. where docs/alerts.md is "
                   "published.")
@click.option("--max-httproutes", type=click.IntRange(min=1), default=DEFAULT_MAX_HTTPROUTES, show_default=True,
              metavar="N", help="GatewayHTTPRouteCountHigh fires above this many HTTPRoutes in the cluster; set "
                                "it to 2-3 times the normal count.")
def alerts(fmt: str, namespaces: tuple[str, ...], cert_manager, runbook_url: str, max_httproutes: int) -> None:
    """Print alerting rules for stuck ACME Challenges, leaked solver HTTPRoutes and their effect on the
    ingress controller (memory, crash loop, config reloads, HPA at max)."""
    try:
        options = Options(namespaces=namespaces, cert_manager=cert_manager, runbook_url=runbook_url,
                          max_httproutes=max_httproutes)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(render(options, fmt), nl=False)
