"""deploy/systemd: `systemd-analyze verify` finds nothing to say about the unit, and
`systemd-analyze security --offline=yes` rates its exposure at most 1.5 ("OK").

No systemd runs as PID 1 in this container, so the unit is verified, not started: verify
loads it as systemd would (every key known, every value parsed, the units it names found,
ExecStart executable) from a root where the system's units and the venv's `robotwatch` sit
at the paths the unit names. The settings files beside it are checked by test_settings_files.py."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

from tests.deploy.tools import DEPLOY, VENV_BIN, tool

UNIT = DEPLOY / "systemd" / "robotwatch.service"


def _root_with(unit_text: str, tmp_path: Path) -> Path:
    """A filesystem root for `systemd-analyze verify --root`: the host's system units, the
    unit under test in /etc/systemd/system, and its ExecStart program where it points."""
    root = tmp_path / "root"
    # A copy, not a link: verify resolves links inside the root (the units' own are relative).
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system" / UNIT.name).write_text(unit_text)
    program = _exec_start(unit_text)
    (root / program.relative_to("/")).parent.mkdir(parents=True)
    shutil.copy(VENV_BIN / "robotwatch", root / program.relative_to("/"))
    return root


def _exec_start(unit_text: str) -> Path:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit_text)
    return Path(parser["Service"]["ExecStart"].split()[0])


def _verify(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("systemd-analyze"), "verify", f"--root={root}", str(root / "etc/systemd/system" / UNIT.name)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_systemd_analyze_verify_says_nothing(tmp_path: Path) -> None:
    text = UNIT.read_text()
    assert _exec_start(text) == Path("/opt/robotwatch/bin/robotwatch")  # where deploy/README installs it
    result = _verify(_root_with(text, tmp_path))
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_verify_catches_a_misspelt_key_and_a_missing_program(tmp_path: Path) -> None:
    """verify reports what it ignores: a typo must show, or the test above proves nothing."""
    text = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict")
    result = _verify(_root_with(text, tmp_path / "typo"))
    assert "Unknown key 'ProtectSytem'" in result.stderr, result.stderr
    root = _root_with(UNIT.read_text(), tmp_path / "missing")
    (root / "opt/robotwatch/bin/robotwatch").unlink()
    result = _verify(root)
    assert result.returncode != 0 and "is not executable" in result.stderr, result.stderr


def test_hardening_exposure_is_at_most_1_5() -> None:
    result = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=yes", "--threshold=15", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Overall exposure level for robotwatch.service: 1.2 OK" in result.stdout, result.stdout[-400:]


def test_the_unit_keeps_what_the_plant_relies_on() -> None:
    """The properties deploy/README promises, by name (verify accepts their absence)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    service = parser["Service"]
    assert service["DynamicUser"] == "yes" and service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict" and service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "2"  # a settings error is not retried
    assert service["EnvironmentFile"] == "-/etc/robotwatch/robotwatch.env"
    assert service["TimeoutStopSec"] == "35s"  # past grace_s = 25 s
