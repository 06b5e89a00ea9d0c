"""The robotwatch command lines deploy/ runs (the image's ENTRYPOINT and CMD, the compose
services, the Kubernetes args, the systemd ExecStart) use only sub-commands and options the
real CLI has, and the settings files they read pass `robotwatch config check` (unknown keys
are errors there, so a typo fails here). The environment variables deploy/ sets for the
secret and the client id reach the settings they are meant for (`robotwatch config show`)."""

from __future__ import annotations

import configparser
import functools
import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.deploy.tools import DEPLOY, VENV_BIN


def _command_lines() -> list[tuple[str, list[str]]]:
    """(where, argv after `robotwatch`) for every robotwatch command deploy/ runs."""
    found: list[tuple[str, list[str]]] = []
    runtime = {
        i["instruction"]: i["value"]
        for i in DockerfileParser(str(DEPLOY / "docker" / "Dockerfile")).structure
    }
    assert json.loads(runtime["ENTRYPOINT"]) == ["robotwatch"]
    found.append(("Dockerfile CMD", json.loads(runtime["CMD"])))
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        if not service.get("image", "").startswith("robotwatch:") or "entrypoint" not in service:
            if service.get("image", "").startswith("robotwatch:"):
                found.append((f"compose {name}", service["command"]))
            continue
        # A shell script: every line that runs robotwatch (continuation lines joined).
        script = " ".join(service.get("command") or []).replace("\\\n", " ")
        for line in script.splitlines():
            if "robotwatch " in line:
                words = shlex.split(line.split("robotwatch ", 1)[1].split("||")[0])
                found.append((f"compose {name}", words))
    deployment = yaml.safe_load((DEPLOY / "k8s" / "base" / "deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    found.append(("k8s Deployment args", container["args"]))
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((DEPLOY / "systemd" / "robotwatch.service").read_text())
    exec_start = shlex.split(unit["Service"]["ExecStart"])
    assert exec_start[0].endswith("/bin/robotwatch")
    found.append(("systemd ExecStart", exec_start[1:]))
    return found


COMMAND_LINES = _command_lines()


@functools.cache
def _help(command: str) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "robotwatch"), command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1"},
    )
    assert result.returncode == 0, f"robotwatch {command} --help: {result.stdout}{result.stderr}"
    return result.stdout


def test_every_kind_of_command_line_is_found() -> None:
    commands = {argv[0] for _, argv in COMMAND_LINES}
    assert commands == {"serve", "simulate", "train", "replay", "alerts"}, COMMAND_LINES
    assert len(COMMAND_LINES) >= 9


@pytest.mark.parametrize(("where", "argv"), COMMAND_LINES, ids=[w for w, _ in COMMAND_LINES])
def test_the_command_line_uses_options_the_cli_has(where: str, argv: list[str]) -> None:
    text = _help(argv[0])
    options = {re.split(r"[ =]", word)[0] for word in argv if word.startswith("--")}
    missing = {o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)}
    assert not missing, f"{where}: robotwatch {argv[0]} has no {sorted(missing)}"


SETTINGS_FILES = {
    "compose": (DEPLOY / "compose" / "robotwatch.toml").read_text(),
    "systemd": (DEPLOY / "systemd" / "robotwatch.toml").read_text(),
    "k8s ConfigMap": yaml.safe_load((DEPLOY / "k8s" / "base" / "configmap.yaml").read_text())["data"][
        "robotwatch.toml"
    ],
}


def _config(command: str, path: Path, **env: str) -> subprocess.CompletedProcess:
    """`robotwatch config show|check --config PATH`: the settings as serve would load them."""
    return subprocess.run(
        [str(VENV_BIN / "robotwatch"), "config", command, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1", **env},
    )


@pytest.mark.parametrize("where", SETTINGS_FILES)
def test_the_settings_file_passes_robotwatch_config_check(where: str, tmp_path: Path) -> None:
    path = tmp_path / "robotwatch.toml"
    path.write_text(SETTINGS_FILES[where])
    result = _config("check", path)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "ok: the settings are valid" in output, output
    written = tomllib.loads(SETTINGS_FILES[where])
    keys = [*written, *written.get("kafka", {})]
    assert not [k for k in keys if "password" in k], f"{where}: a secret in a settings file"


def test_config_check_catches_a_misspelt_key(tmp_path: Path) -> None:
    """Unknown keys are errors (or the test above would prove nothing)."""
    path = tmp_path / "robotwatch.toml"
    path.write_text(SETTINGS_FILES["k8s ConfigMap"].replace("ssl_cafile", "ssl_ca_file"))
    result = _config("check", path)
    assert result.returncode == 2 and "ssl_ca_file: unknown setting" in result.stdout + result.stderr


def test_the_environment_deploy_sets_reaches_the_settings(tmp_path: Path) -> None:
    """The Secret's password and the pod's name arrive as the variables deploy/ sets."""
    path = tmp_path / "robotwatch.toml"
    path.write_text(SETTINGS_FILES["k8s ConfigMap"])
    shown = _config(
        "show",
        path,
        ROBOTWATCH_KAFKA__SASL_PLAIN_PASSWORD="from-the-secret",
        ROBOTWATCH_KAFKA__CLIENT_ID="pod-7f9c",
    ).stdout
    rows = {
        cells[0]: cells[1:]
        for line in shown.splitlines()
        if (cells := [c.strip() for c in line.split("│")[1:-1]])
    }
    assert rows["kafka.sasl_plain_password"] == ["***", "env ROBOTWATCH_KAFKA__SASL_PLAIN_PASSWORD"]
    assert rows["kafka.client_id"] == ["pod-7f9c", "env ROBOTWATCH_KAFKA__CLIENT_ID"]
    assert "from-the-secret" not in shown
    example = (DEPLOY / "systemd" / "robotwatch.env.example").read_text()
    assert re.findall(r"^(\w+)=", example, re.M) == ["ROBOTWATCH_KAFKA__SASL_PLAIN_PASSWORD"]
