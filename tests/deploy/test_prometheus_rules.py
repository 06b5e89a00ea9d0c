"""deploy/prometheus: the rules pass `promtool check rules`, and their unit tests
(robotwatch.rules.test.yml: each alert firing on bad series, silent on healthy ones) pass
`promtool test rules`. That the expressions name what serve really exports is
test_prometheus_live.py's job."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.deploy.tools import DEPLOY, tool

RULES = DEPLOY / "prometheus" / "robotwatch.rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "robotwatch.rules.test.yml"


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 16 rules found" in result.stdout, result.stdout


def test_promtool_test_rules() -> None:
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout


def test_the_rule_tests_catch_a_wrong_threshold(tmp_path: Path) -> None:
    """The unit tests are not vacuous: with the latency threshold at 2 s instead of 1 s
    (and every other rule as shipped), `promtool test rules` fails."""
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    text = RULES.read_text()
    assert text.count("p99_5m > 1\n") == 1
    (tmp_path / RULES.name).write_text(text.replace("p99_5m > 1\n", "p99_5m > 2\n"))
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "alertname: RobotwatchVerdictLatencyHigh" in output, output
