"""The expressions of deploy/ as Prometheus will run them: from the rule file, from the
Grafana dashboard (its macros replaced the way Grafana does), and from the Prometheus
adapter's rule behind the Kubernetes autoscaler."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml

from tests.deploy.tools import DEPLOY

RULES = DEPLOY / "prometheus" / "robotwatch.rules.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "robotwatch.json"
ADAPTER = DEPLOY / "k8s" / "prometheus-adapter.yaml"
JOB = "robotwatch"


@dataclass(frozen=True)
class Expression:
    where: str  # e.g. "rule RobotwatchDown", "panel 'Robots' A"
    expr: str


def rule_expressions() -> list[Expression]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [
        Expression(f"rule {r.get('alert') or r['record']}", r["expr"]) for g in groups for r in g["rules"]
    ]


def recorded_names() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["record"] for g in groups for r in g["rules"] if "record" in r}


def grafana_query(expr: str, rate_interval: str, time_range: str) -> str:
    """A dashboard query as Grafana sends it: the variables and range macros replaced."""
    return (
        expr.replace("$__rate_interval", rate_interval)
        .replace("$__range", time_range)
        .replace("$job", JOB)
        .replace("${job}", JOB)
    )


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_expressions(rate_interval: str = "1m", time_range: str = "5m") -> list[Expression]:
    found = []
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            expr = grafana_query(target["expr"], rate_interval, time_range)
            found.append(Expression(f"panel {panel['title']!r} {target['refId']}", expr))
    return found


def adapter_expressions(namespace: str, topic: str) -> list[Expression]:
    """The prometheus-adapter external rule's query as the adapter expands it for the
    HorizontalPodAutoscaler in deploy/k8s: the HPA's namespace and its selector (the signals
    topic) as label matchers, grouped by namespace."""
    found = []
    for document in yaml.safe_load_all(ADAPTER.read_text()):
        config = yaml.safe_load(document["data"]["config.yaml"])
        for rule in config["externalRules"]:
            series = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", rule["seriesQuery"]).group(0)  # type: ignore[union-attr]
            expr = (
                rule["metricsQuery"]
                .replace("<<.Series>>", series)
                .replace("<<.LabelMatchers>>", f'namespace="{namespace}",topic="{topic}"')
                .replace("<<.GroupBy>>", "namespace")
            )
            assert "<<" not in expr, f"an adapter template this test does not expand: {expr}"
            found.append(Expression(f"adapter rule {rule['name']['as']}", expr))
    return found


_SKIP = re.compile(r'"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]')
_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)(?!\s*bool\b)")


def keep_every_series(expr: str) -> str:
    """`A > 1` keeps only the series over 1; `A > bool 1` keeps every series of A (as 0 or
    1). With `bool` after each comparison, an expression returns data exactly when the
    series it compares exist, whether or not its threshold is crossed right now. Label
    matchers, ranges and strings are left alone."""
    out, last = [], 0
    for m in _SKIP.finditer(expr):
        out.append(_COMPARISON.sub(r"\1 bool", expr[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_COMPARISON.sub(r"\1 bool", expr[last:]))
    return "".join(out)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (robotwatch_*, recorded names, up)."""
    bare = _SKIP.sub(" ", expr)
    names = set(re.findall(r"\b[a-z_]*:?robotwatch[a-z0-9_:]*", bare))
    if re.search(r"\bup\b", bare):
        names.add("up")
    return names
