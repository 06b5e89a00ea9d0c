"""deploy/compose: the compose file is valid against the Compose Specification's JSON schema
(the copy check-jsonschema ships, offline), and what it refers to is there and agrees: the
mounted files exist, Prometheus scrapes both serve instances on the port they listen on,
Grafana's provisioning points at the Prometheus service and the dashboard folder it mounts,
both serve instances read one settings file (one group), and the webhook sink prints what it
is sent. Not run here: `docker compose up` (no container engine in CI); the command lines'
flags and the settings files are checked against the real CLI in test_command_lines.py."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

from robotwatch.bench.broker import free_port
from tests.deploy.tools import DEPLOY, ROOT, tool

COMPOSE = DEPLOY / "compose" / "compose.yaml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_compose_file_matches_the_compose_spec_schema(tmp_path: Path) -> None:
    result = _check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    # The schema is strict: a misspelt key fails (or the check above would prove nothing).
    typo = tmp_path / "compose.yaml"
    typo.write_text(COMPOSE.read_text().replace("stop_grace_period:", "stop_grace_perod:"))
    result = _check_jsonschema(typo)
    assert result.returncode != 0 and "stop_grace_perod" in result.stdout, result.stdout


def test_the_stack_has_what_the_issue_asks_for() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "kafka",
        "topics",
        "setup",
        "replay",
        "alerts",
        "webhook",
        "prometheus",
        "grafana",
    } | {
        "serve-1",
        "serve-2",
    }
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft: no ZooKeeper
    assert services["kafka"]["image"].startswith("apache/kafka:")
    for name in ("serve-1", "serve-2"):
        assert services[name]["command"][0] == "serve"
        (config,) = services[name]["configs"]
        assert config == {"source": "serve-settings", "target": "/etc/robotwatch/robotwatch.toml"}
    assert (
        "replay" in services["replay"]["command"][0]
        and "--to-kafka kafka:9092" in services["replay"]["command"][0]
    )
    assert (
        services["alerts"]["command"][:1] == ["alerts"]
        and "http://webhook:8080/robotwatch" in services["alerts"]["command"]
    )
    # Every port published on the loopback address only.
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_every_file_it_mounts_is_in_the_repository() -> None:
    compose = _compose()
    here = COMPOSE.parent
    for name, config in compose["configs"].items():
        assert (here / config["file"]).is_file(), (name, config)
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (here / source).exists(), (name, volume)
            else:
                assert source in compose["volumes"], (name, volume)
        build = service.get("build")
        if build:
            assert (
                here / build["context"] / build["dockerfile"]
            ).resolve() == DEPLOY / "docker" / "Dockerfile"
        for needed in service.get("depends_on", {}):
            assert needed in compose["services"], (name, needed)


def test_prometheus_scrapes_both_serve_instances_and_loads_the_rules() -> None:
    compose = _compose()
    prometheus = yaml.safe_load((COMPOSE.parent / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    (static,) = job["static_configs"]
    serves = {name: s for name, s in compose["services"].items() if s.get("command", [])[:1] == ["serve"]}
    ports = {s["command"][s["command"].index("--http-port") + 1] for s in serves.values()}
    assert sorted(static["targets"]) == sorted(f"{name}:{port}" for name in serves for port in ports)
    mounted = {c["target"] for c in compose["services"]["prometheus"]["configs"]}
    assert set(prometheus["rule_files"]) <= mounted
    sources = {c["source"] for c in compose["services"]["prometheus"]["configs"]}
    assert {compose["configs"][s]["file"] for s in sources} == {
        "./prometheus.yml",
        "../prometheus/robotwatch.rules.yml",
    }


def test_grafana_provisions_the_prometheus_service_and_the_dashboard() -> None:
    compose = _compose()
    grafana = compose["services"]["grafana"]
    # source folder in the repository -> where Grafana reads it
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"] if v.startswith("."))
    assert mounts["../grafana/provisioning"] == "/etc/grafana/provisioning"
    provisioning = COMPOSE.parent / "../grafana/provisioning"
    (datasource,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert datasource["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "robotwatch.yml").read_text())["providers"]
    assert provider["options"]["path"] == mounts["../grafana/dashboards"]
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].startswith(
        provider["options"]["path"]
    )
    assert (DEPLOY / "grafana" / "dashboards" / "robotwatch.json").is_file()
    # No default admin password: compose refuses to start until one is chosen.
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")


def test_the_webhook_sink_prints_what_it_is_sent() -> None:
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, str(COMPOSE.parent / "webhook_sink.py"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert "listening" in sink.stderr.readline()  # type: ignore[union-attr]
        alert = {"robot_id": "robot-002", "cycle_id": "9", "score": 48211.4}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/robotwatch",
            data=json.dumps(alert).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 204
        assert json.loads(sink.stdout.readline()) == {"path": "/robotwatch", "alert": alert}  # type: ignore[union-attr]
    finally:
        sink.terminate()
        sink.wait(10)
