"""Alerting rules for the ACME HTTP-01 solver-route leak and its effect on the ingress controller.

rules.py holds the rules as one table of data, render.py writes them as a PrometheusRule, a VMRule or a
plain rules file, cli.py is the `gate alerts` command.
"""

from gate.alerts.render import FORMATS, Options, render
from gate.alerts.rules import RULES, AlertRule, parse_version

__all__ = ["FORMATS", "RULES", "AlertRule", "Options", "parse_version", "render"]
