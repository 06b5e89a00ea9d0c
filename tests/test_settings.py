"""Settings that fail loudly (issue 12): a wrong key or value is one line that names it, librdkafka's
names are understood, every numeric option has a range, and `config show` says where each value
came from."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from robotwatch.cli.main import app
from robotwatch.config import SettingsError, load
from robotwatch.stream.settings import ServeSettings

runner = CliRunner()


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "robotwatch.toml"
    path.write_text('model = "cell.rwmodel"\n' + text)
    return path


def test_a_typo_in_a_kafka_key_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[kafka]\nbootstrap_server = "kafka-1:9093"\n')
    with pytest.raises(SettingsError) as error:
        load(ServeSettings, path, env={})
    assert str(error.value) == (
        f"{path}: kafka.bootstrap_server: unknown setting (did you mean 'bootstrap_servers'?)"
    )


def test_librdkafka_names_are_understood(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        '[kafka]\n"bootstrap.servers" = "kafka-1:9093"\n"security.protocol" = "sasl_ssl"\n'
        '"sasl.mechanism" = "SCRAM-SHA-512"\n"sasl.username" = "rw"\n"sasl.password" = "s3cret"\n',
    )
    settings, origins = load(ServeSettings, path, env={})
    kafka = settings.kafka
    assert kafka.bootstrap_servers == "kafka-1:9093" and kafka.security_protocol == "SASL_SSL"
    assert kafka.sasl_plain_username == "rw" and kafka.sasl_plain_password is not None
    assert origins[("kafka", "bootstrap_servers")] == str(path)


def test_layers_override_in_order_and_each_value_says_where_it_came_from(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'group = "from-file"\nidle_close_s = 7.0\n')
    env = {"ROBOTWATCH_GROUP": "from-env", "ROBOTWATCH_KAFKA__CLIENT_ID": "cell-7", "ROBOTWATCH_EXCERPT": "x"}
    settings, origins = load(ServeSettings, path, {"idle_close_s": 3.0, "grace_s": None}, env=env)
    assert (settings.group, settings.idle_close_s, settings.kafka.client_id) == ("from-env", 3.0, "cell-7")
    assert origins[("group",)] == "env ROBOTWATCH_GROUP"
    assert origins[("idle_close_s",)] == "--idle-close-s" and ("grace_s",) not in origins


def test_a_wrong_value_names_the_key_the_value_and_what_is_allowed(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'localize = "some"\ngrace_s = -2\n')
    with pytest.raises(SettingsError) as error:
        load(ServeSettings, path, env={})
    lines = str(error.value).splitlines()
    assert lines[0].startswith(f"{path}: localize = \"some\": input should be 'all', 'flagged' or 'none'")
    assert lines[1] == f"{path}: grace_s = -2: input should be greater than 0"


def test_a_wrong_value_is_named_as_written_and_a_secret_is_never_shown(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[kafka]\n"sasl.password" = 12345678\n"security.protocol" = "TLS"\n')
    with pytest.raises(SettingsError) as error:
        load(ServeSettings, path, env={})
    lines = sorted(str(error.value).splitlines())
    assert lines[0] == f'{path}: kafka."sasl.password" = ***: input should be a valid string'
    assert lines[1].startswith(f'{path}: kafka."security.protocol" = "TLS": input should be \'PLAINTEXT\'')
    assert "12345678" not in str(error.value)


def test_an_environment_prefix_keeps_the_commands_apart(tmp_path: Path) -> None:
    """Another command's prefix: serve's variables are not its own, and its own name the problem."""
    path = _toml(tmp_path, "")
    env = {"ROBOTWATCH_GROUP": "serve-group", "ROBOTWATCH_OTHER_GROUP": "other-group"}
    settings, origins = load(ServeSettings, path, env=env, env_prefix="ROBOTWATCH_OTHER_")
    assert settings.group == "other-group" and origins[("group",)] == "env ROBOTWATCH_OTHER_GROUP"
    assert load(ServeSettings, path, env=env)[0].group == "serve-group"  # the default prefix: serve's
    with pytest.raises(SettingsError) as error:
        load(ServeSettings, path, env={"ROBOTWATCH_OTHER_KAFKA__CLIENT": "x"}, env_prefix="ROBOTWATCH_OTHER_")
    assert str(error.value) == (
        "env ROBOTWATCH_OTHER_KAFKA__CLIENT: kafka.client: unknown setting (did you mean 'client_id'?)"
    )


def test_serve_with_a_bad_setting_prints_one_line_per_problem_and_exits_2(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[kafka]\nbootstrap_server = "kafka-1:9093"\nsecurity_protocol = "TLS"\n')
    result = runner.invoke(app, ["serve", "--config", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines), result.output
    assert any("did you mean 'bootstrap_servers'?" in line for line in lines)
    assert any('security_protocol = "TLS"' in line for line in lines)
    assert "Traceback" not in result.output


def test_config_show_masks_secrets_and_names_origins(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[kafka]\n"sasl.password" = "s3cret"\n')
    result = runner.invoke(app, ["config", "show", "--config", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output and "***" in result.output
    assert "kafka.sasl_plain_password" in result.output and str(path) in result.output
    assert runner.invoke(app, ["config", "check", "--config", str(path)]).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["train", "x.parquet", "--out", "m.rwmodel", "--rate", "0"],
        ["train", "x.parquet", "--out", "m.rwmodel", "--batch-size", "0"],
        ["train", "x.parquet", "--out", "m.rwmodel", "--epochs", "0"],
        ["train", "x.parquet", "--out", "m.rwmodel", "--target-fpr", "1.5"],
        ["evaluate", "x.parquet", "--rate", "0"],
        ["evaluate", "x.parquet", "--runs", "0"],
        ["replay", "x.parquet", "--speed", "0"],
        ["bench", "--repeats", "0"],
        ["demo", "--epochs", "0"],
    ],
)
def test_numeric_options_have_ranges(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output and "Traceback" not in result.output
    assert not Path("m.rwmodel").exists()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("robotwatch ")


def test_scoring_threads_are_at_least_one(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        load(ServeSettings, _toml(tmp_path, "scoring_threads = 0\n"), env={})
    assert "scoring_threads = 0: input should be greater than or equal to 1" in str(error.value)
