"""deploy/grafana: the dashboard's structure as Grafana needs it to import and lay it out
(no JSON schema of Grafana dashboards installs offline; the queries themselves run against a
real Prometheus in test_prometheus_live.py): panel ids unique, every panel inside the 24
columns and none on top of another, every query on the dashboard's Prometheus variable with
its own refId, the panels the issue asks for present."""

from __future__ import annotations

from tests.deploy import promql


def test_panels_are_laid_out_without_overlap() -> None:
    panels = promql.dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, panel["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_every_query_uses_the_prometheus_variable() -> None:
    dashboard = promql.dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    assert variables["job"]["current"]["value"] == promql.JOB
    source = {"type": "prometheus", "uid": "${datasource}"}
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == source, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == source and target["expr"].strip(), (panel["title"], target)
            assert 'job=~"$job"' in target["expr"], (panel["title"], target["expr"])


def test_the_panels_the_issue_asks_for() -> None:
    titles = {p["title"] for p in promql.dashboard()["panels"]}
    wanted = {"Robots", "Verdicts/s by result", "Alarms by robot", "Verdict latency", "Consumer lag"}
    assert wanted | {"Dead letters by reason", "Model"} <= titles
    (model,) = [p for p in promql.dashboard()["panels"] if p["title"] == "Model"]
    assert "robotwatch_model_info" in model["targets"][0]["expr"]
    assert model["fieldConfig"]["defaults"]["noValue"]  # says why it is empty, where an instance has no model
