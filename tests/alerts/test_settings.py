"""Settings of `robotwatch alerts` fail loudly: one line per problem naming where it was set, the
key, the value and what is allowed; an unknown key is an error with the nearest known key; exit
status 2, no traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robotwatch.alerts.channels import build_senders
from robotwatch.alerts.loading import load_alert_settings, load_alerts, quick_channels
from robotwatch.alerts.settings import EmailChannel
from robotwatch.cli.main import app
from robotwatch.config import SettingsError

runner = CliRunner()
HOOK = {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}}


def _problem(tmp_path: Path, toml: str, **kwargs: object) -> str:
    """The problems, one line each, every line naming the file they are in."""
    config = tmp_path / "alerts.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError) as caught:
        load_alert_settings(config, env={}, **kwargs)  # type: ignore[arg-type]
    text = str(caught.value)
    assert all(line.startswith(f"{config}: ") for line in text.splitlines()), text
    return text


def test_a_typo_anywhere_names_the_key_and_the_nearest_known_one(tmp_path: Path) -> None:
    text = _problem(
        tmp_path,
        """
        grup = "cell-7"
        [grouping]
        wiat_s = 3
        [kafka]
        bootstrap_server = "kafka-1:9092"
        [channels.ops]
        type = "webhook"
        urll = "https://hooks.example/x"
        [channels.pager]
        type = "webhok"
        """,
    )
    assert text.startswith(f"{tmp_path / 'alerts.toml'}: ")
    assert "grup: unknown setting (did you mean 'group'?)" in text
    assert "grouping.wiat_s: unknown setting (did you mean 'wait_s'?)" in text
    assert "kafka.bootstrap_server: unknown setting (did you mean 'bootstrap_servers'?)" in text
    assert "channels.ops.urll: unknown setting (did you mean 'url'?)" in text
    assert "channels.ops.url: missing (required)" in text
    assert 'channels.pager.type = "webhok": must be one of webhook, alertmanager, email' in text
    assert "(did you mean 'webhook'?)" in text


def test_a_value_out_of_range_names_key_value_and_what_is_allowed(tmp_path: Path) -> None:
    text = _problem(
        tmp_path,
        """
        timezone = "Europe/Berlln"
        picture_url = "https://reports.example/{robot}/{cycle_id}.png"
        [rate_limit]
        messages = 0
        [channels.mail]
        type = "email"
        host = "smtp.example"
        port = 70000
        to = ["maintenance"]
        [[routes]]
        min_severity = -1
        channels = ["mail"]
        """,
    )
    assert "timezone = \"Europe/Berlln\": not a time zone (an IANA name such as 'Europe/Berlin'" in text
    assert (
        "picture_url = " in text and "unknown field {robot}; it may name robot_id, cell_id, cycle_id" in text
    )
    assert "rate_limit.messages = 0: input should be greater than or equal to 1" in text
    assert "channels.mail.port = 70000: input should be less than or equal to 65535" in text
    assert "channels.mail.to = [\"maintenance\"]: 'maintenance' is not a mail address" in text
    assert "routes[0].min_severity = -1: input should be greater than or equal to 0" in text


def test_a_route_to_a_channel_that_does_not_exist(tmp_path: Path) -> None:
    text = _problem(
        tmp_path,
        """
        [channels.maintenance]
        type = "alertmanager"
        url = "http://alertmanager:9093"
        [[routes]]
        robots = ["cell-7-*"]
        channels = ["maintenace"]
        """,
    )
    assert text.endswith(
        "routes[0].channels: no channel 'maintenace' (did you mean 'maintenance'?); "
        "the channels are maintenance"
    )


def test_a_password_is_never_shown(tmp_path: Path) -> None:
    text = _problem(
        tmp_path,
        """
        [channels.mail]
        type = "email"
        host = "smtp.example"
        password = 12345678
        to = ["a@plant.example"]
        """,
    )
    assert "channels.mail.password = ***" in text and "12345678" not in text


def test_librdkafka_names_are_taken_and_the_command_line_wins(tmp_path: Path) -> None:
    config = tmp_path / "alerts.toml"
    config.write_text(
        '[kafka]\n"bootstrap.servers" = "from-file:9092"\n"sasl.username" = "cell"\n'
        '[grouping]\nwait_s = 3\n[channels.am]\ntype = "alertmanager"\nurl = "http://am:9093"\n'
    )
    env = {"ROBOTWATCH_ALERTS_GROUPING__WAIT_S": "7", "ROBOTWATCH_ALERTS_GROUP": "from-env"}
    settings = load_alert_settings(config, env=env, kafka={"bootstrap_servers": "from-flag:9092"})
    assert settings.kafka.bootstrap_servers == "from-flag:9092"
    assert settings.kafka.sasl_plain_username == "cell"
    assert settings.grouping.wait_s == 7 and settings.group == "from-env"


def test_flag_channels_get_every_alert_beside_the_files_routes(tmp_path: Path) -> None:
    config = tmp_path / "alerts.toml"
    config.write_text(
        '[channels.am]\ntype = "alertmanager"\nurl = "http://am:9093"\n'
        '[[routes]]\nrobots = ["press-*"]\nmin_severity = 3\nchannels = ["am"]\n'
    )
    channels = quick_channels(webhook="https://hooks.example/x", webhook_format="slack")
    settings = load_alert_settings(config, channels, env={})
    assert list(settings.channels) == ["am", "webhook"]
    assert settings.routes[0].channels == ["am"] and settings.routes[0].robots == ["press-*"]
    assert settings.routes[1].channels == ["webhook"] and settings.routes[1].robots == ["*"]


def test_quick_start_flags_that_do_not_fit() -> None:
    with pytest.raises(SettingsError, match="--smtp HOST:PORT and --mail-to ADDR go together"):
        quick_channels(smtp="smtp.example:587")
    with pytest.raises(SettingsError, match=re.escape("--smtp = 'smtp.example': must be HOST:PORT")):
        quick_channels(smtp="smtp.example", mail_to=["a@plant.example"])
    with pytest.raises(SettingsError, match="no channel: give --webhook, --alertmanager or --smtp"):
        load_alert_settings(env={})
    with pytest.raises(SettingsError, match=re.escape('channels.webhook.url = "ftp://x": must be an http')):
        load_alert_settings(channels=quick_channels(webhook="ftp://x"), env={})


def test_a_password_from_an_environment_variable_that_is_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROBOTWATCH_TEST_SMTP_PASSWORD", raising=False)
    channel = {"type": "email", "host": "smtp.example", "username": "rw", "to": ["a@plant.example"]}
    settings = load_alert_settings(
        channels={"mail": {**channel, "password_env": "ROBOTWATCH_TEST_SMTP_PASSWORD"}}, env={}
    )
    with pytest.raises(SettingsError, match=re.escape("password_env = 'ROBOTWATCH_TEST_SMTP_PASSWORD'")):
        build_senders(settings)
    with pytest.raises(SettingsError, match="would send the password of 'rw' in clear"):
        load_alert_settings(channels={"mail": {**channel, "security": "none"}}, env={})


def test_serve_s_environment_never_reaches_alerts(tmp_path: Path) -> None:
    """Set on one host for serve, ROBOTWATCH_GROUP must not move alerts into serve's group."""
    config = tmp_path / "alerts.toml"
    config.write_text('[channels.mail]\ntype = "email"\nhost = "smtp.example"\nto = ["a@plant.example"]\n')
    env = {
        "ROBOTWATCH_GROUP": "robotwatch-serve",
        "ROBOTWATCH_KAFKA__BOOTSTRAP_SERVERS": "serve-only:9092",
        "ROBOTWATCH_ALERTS_KAFKA__CLIENT_ID": "alerts-7",
        "ROBOTWATCH_ALERTS_CHANNELS__MAIL__PASSWORD": "from-the-secret",
    }
    settings, origins = load_alerts(config, env=env)
    assert settings.group == "robotwatch-alerts" and settings.kafka.bootstrap_servers == "localhost:9092"
    assert settings.kafka.client_id == "alerts-7"
    mail = settings.channels["mail"]
    assert isinstance(mail, EmailChannel) and mail.password is not None
    assert mail.password.get_secret_value() == "from-the-secret"
    assert origins[("channels", "mail", "password")] == "env ROBOTWATCH_ALERTS_CHANNELS__MAIL__PASSWORD"
    with pytest.raises(SettingsError) as caught:
        load_alerts(config, env={"ROBOTWATCH_ALERTS_CHANNELS__MAIL__PORT": "99999"})
    assert str(caught.value) == (
        'env ROBOTWATCH_ALERTS_CHANNELS__MAIL__PORT: channels.mail.port = "99999": '
        "input should be less than or equal to 65535"
    )


def test_config_check_and_show_for_alerts(tmp_path: Path) -> None:
    """`robotwatch config check --for alerts` says what alerts would say at start, without
    starting; `config show --for alerts` names where each value came from, secrets masked."""
    config = tmp_path / "alerts.toml"
    config.write_text(
        'group = "cell-7-alerts"\n[channels.am]\ntype = "alertmanager"\nurl = "http://am:9093"\n'
    )
    env = {"ROBOTWATCH_ALERTS_KAFKA__SASL_PLAIN_PASSWORD": "s3cret", "COLUMNS": "200"}
    checked = runner.invoke(app, ["config", "check", "--for", "alerts", "--config", str(config)], env=env)
    assert checked.exit_code == 0 and "ok: the settings are valid for robotwatch alerts" in checked.output
    shown = runner.invoke(app, ["config", "show", "--for", "alerts", "--config", str(config)], env=env)
    assert shown.exit_code == 0, shown.output
    rows = {
        cells[0]: cells[1:]
        for line in shown.output.splitlines()
        if (cells := [c.strip() for c in line.split("│")[1:-1]])
    }
    assert rows["group"] == ["cell-7-alerts", str(config)]
    assert rows["channels.am.url"] == ["http://am:9093", str(config)]
    assert rows["channels.am.resolve_after_s"] == ["3600.0", "default"]
    assert rows["kafka.sasl_plain_password"] == ["***", "env ROBOTWATCH_ALERTS_KAFKA__SASL_PLAIN_PASSWORD"]
    assert "s3cret" not in shown.output
    # without --for it is serve's check, as before: an alerts file is not serve's
    assert runner.invoke(app, ["config", "check", "--config", str(config)]).exit_code == 2

    config.write_text(
        '[channels.am]\ntype = "alertmanger"\n[channels.mail]\ntype = "email"\nhost = "smtp.example"\n'
        'to = ["a@plant.example"]\npassword_env = "ROBOTWATCH_TEST_UNSET"\n[grouping]\nwait = 3\n'
    )
    failed = runner.invoke(app, ["config", "check", "--for", "alerts", "--config", str(config)], env={})
    assert failed.exit_code == 2
    assert failed.output.splitlines() == [
        f"error: {config}: grouping.wait: unknown setting (did you mean 'wait_s'?)",
        f'error: {config}: channels.am.type = "alertmanger": must be one of webhook, alertmanager, email '
        "(did you mean 'alertmanager'?)",
    ]
    config.write_text(config.read_text().replace('"alertmanger"', '"alertmanager"\nurl = "http://am:9093"'))
    config.write_text(config.read_text().replace("wait = 3", "wait_s = 3"))
    unset = runner.invoke(app, ["config", "check", "--for", "alerts", "--config", str(config)], env={})
    assert unset.exit_code == 2 and unset.output.splitlines() == [
        "error: channels.mail.password_env = 'ROBOTWATCH_TEST_UNSET': that environment variable is not set"
    ]


def test_the_command_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    """As a user meets it: a real process, its whole stderr."""
    config = tmp_path / "alerts.toml"
    config.write_text(
        'anomalies_topc = "robot.anomalies"\n[channels.am]\ntype = "alertmanager"\nurl = "http://a:1"\n'
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "robotwatch"), "alerts", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert lines[0] == f"error: {config}: anomalies_topc: unknown setting (did you mean 'anomalies_topic'?)"


def test_the_help_shows_the_quick_start_flags() -> None:
    result = CliRunner().invoke(app, ["alerts", "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    for flag in ("--bootstrap-servers", "--webhook", "--alertmanager", "--smtp", "--mail-to", "--config"):
        assert flag in result.output


def test_the_documented_configuration_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TOML in docs/alerts.md and in the README's alerts section is what a user copies."""
    monkeypatch.setenv("SMTP_PASSWORD", "from the environment")
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text().split("## Alerts for people", 1)[1].split("\n## ", 1)[0]
    for where, text in (("docs/alerts.md", (root / "docs" / "alerts.md").read_text()), ("README.md", readme)):
        blocks = [b.split("```", 1)[0] for b in text.split("```toml\n")[1:]]
        assert blocks, where
        for block in blocks:
            config = tmp_path / "alerts.toml"
            config.write_text(block if "[channels." in block else block + CHANNEL)
            build_senders(load_alert_settings(config, env={}))


# the channels a block of routes alone names
CHANNEL = "".join(
    f'[channels.{name}]\ntype = "alertmanager"\nurl = "http://am:9093"\n'
    for name in ("maintenance-mail", "am", "ops-chat")
)
