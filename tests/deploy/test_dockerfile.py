"""deploy/docker/Dockerfile without a container engine (this machine has the docker client
and no daemon): hadolint finds nothing; the build context that .dockerignore leaves holds
what the image installs and nothing private; the build stage's steps (ARG, ENV, WORKDIR,
COPY, RUN) run as written, in order, in a fresh folder that stands for the image's root, on
this machine's Python of the image's version; and the runtime stage's HEALTHCHECK, run as
written, says healthy against the `serve` of what was installed (started with the image's
ENTRYPOINT and CMD) and unhealthy once it stopped.

What differs from `docker build`, and why: the base image's root is a temporary folder
(absolute paths of ENV, WORKDIR, COPY and CMD are mapped into it); TORCH_INDEX_URL is empty,
so torch==2.13.0 comes from this machine's pip configuration (a CPU wheel on disk) instead
of PyTorch's index, which is not reachable here; the runtime stage's RUN (groupadd, useradd)
is not run, since it would add a user to this machine, and the runtime stage's USER is
checked, not switched to; serve listens on 127.0.0.1 instead of CMD's 0.0.0.0 (the tests
use loopback only). Takes about 2 minutes (pip installs torch and the project's dependencies),
so it runs as its own CI step, `make image-check`, not in `make test`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths
from dockerfile_parse import DockerfileParser

from robotwatch.bench.broker import create_topics
from tests.deploy.tools import DEPLOY, ROOT, tool
from tests.stream.broker import Broker, unique

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
# The build arguments of this run: torch from this machine's pip configuration.
BUILD_ARGS = {"TORCH_INDEX_URL": ""}
HEALTH_PORT = 9108  # HEALTHCHECK and CMD name it; checked below


def _instructions() -> list[dict]:
    return [i for i in DockerfileParser(str(DOCKERFILE)).structure if i["instruction"] != "COMMENT"]


def _stages() -> list[list[dict]]:
    stages: list[list[dict]] = []
    for instruction in _instructions():
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _context() -> set[str]:
    """The files `docker build .` sends, by Docker's .dockerignore rules (docker-py's port)."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return {p for p in exclude_paths(str(ROOT), patterns) if (ROOT / p).is_file()}


@dataclass
class ImageRoot:
    """A folder standing for the image's filesystem, and the environment its steps see."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"

    def inside(self, image_path: str) -> Path:
        assert image_path.startswith("/"), image_path
        return self.path / image_path.lstrip("/")

    def set_env(self, key: str, value: str) -> None:
        # $VAR and ${VAR} in ENV values refer to what is set so far (Docker's rule).
        value = re.sub(r"\$\{?(\w+)\}?", lambda m: self.env.get(m.group(1), ""), value)
        if key == "PATH":
            value = ":".join(str(self.inside(p)) if p.startswith("/opt/") else p for p in value.split(":"))
        elif value.startswith("/"):
            value = str(self.inside(value))
        self.env[key] = value


def _run_build_stage(image: ImageRoot, python_bin: Path) -> list[str]:
    """ARG, ENV, WORKDIR, COPY and RUN of the build stage, as written and in order; returns the
    RUN commands it ran."""
    build = _stages()[0]
    assert build[0]["value"].endswith(" AS build"), build[0]
    context = _context()
    ran = []
    for step in build[1:]:
        kind, value = step["instruction"], step["value"]
        if kind == "ARG":
            name, _, default = value.partition("=")
            image.env[name] = BUILD_ARGS.get(name, default)
        elif kind == "ENV":
            for pair in shlex.split(value):
                image.set_env(*pair.split("=", 1))
        elif kind == "WORKDIR":
            image.workdir = value
            image.inside(value).mkdir(parents=True, exist_ok=True)
        elif kind == "COPY":
            *sources, dest = shlex.split(value)
            target = image.inside(dest if dest.startswith("/") else f"{image.workdir}/{dest}")
            for source in sources:
                files = [p for p in context if p == source or p.startswith(f"{source.rstrip('/')}/")]
                assert files, f"COPY {source}: not in the build context (.dockerignore)"
                for name in files:
                    relative = Path(name).name if name == source else Path(name).relative_to(source)
                    into = target / relative if dest.endswith("/") or len(files) > 1 else target
                    into.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / name, into)
        elif kind == "RUN":
            # Every absolute path a step uses must come through the mapped ENV, or it would
            # write to this machine.
            assert not re.findall(r"(?<![\w$}\"])/(?!dev/null)\w", value), f"an unmapped path in: {value}"
            env = {
                **image.env,
                "PATH": f"{python_bin}:/usr/bin:/bin",
                "HOME": os.environ.get("HOME", "/root"),
            }
            result = subprocess.run(
                ["/bin/sh", "-c", value],
                cwd=image.inside(image.workdir),
                env=env,
                capture_output=True,
                text=True,
                timeout=420,
            )
            assert result.returncode == 0, f"RUN {value}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            ran.append(value)
        else:
            raise AssertionError(f"a build-stage instruction this test does not run: {kind} {value}")
    return ran


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageRoot]:
    """The build stage run once for this module's tests; its 1.6 GB removed afterwards."""
    tmp = tmp_path_factory.mktemp("image")
    # `python` of the image: this machine's interpreter (not the project's venv) of the
    # image's Python version.
    version = _instructions()[0]["value"]
    assert version == f"PYTHON_VERSION={sys.version_info.major}.{sys.version_info.minor}", version
    python_bin = tmp / "python-bin"
    python_bin.mkdir()
    (python_bin / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    image = ImageRoot(tmp / "rootfs")
    image.path.mkdir()
    try:
        ran = _run_build_stage(image, python_bin)
        assert any("torch==" in r for r in ran) and any("install ." in r for r in ran), ran
        yield image
    finally:
        shutil.rmtree(image.path, ignore_errors=True)


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_the_build_context_holds_the_packages_and_nothing_private() -> None:
    context = _context()
    for needed in (
        "pyproject.toml",
        "README.md",
        "robotwatch/stream/service.py",
        "replay/profiles/default.toml",
    ):
        assert needed in context, needed
    for top in (".git", ".venv", "tests", "deploy", "docs"):
        assert not any(p == top or p.startswith(f"{top}/") for p in context), top
    assert not [p for p in context if p.endswith((".rwmodel", ".parquet", ".pyc", ".toml.local", ".env"))]
    size = sum((ROOT / p).stat().st_size for p in context)
    assert size < 20e6, f"the build context is {size / 1e6:.0f} MB"


def test_the_runtime_stage_runs_as_a_user_with_a_liveness_healthcheck() -> None:
    runtime = {i["instruction"]: i["value"] for i in _stages()[-1]}
    user = runtime["USER"].split(":")[0]
    assert user not in ("root", "0") and int(user) >= 1000, runtime["USER"]
    assert "/livez" in runtime["HEALTHCHECK"] and f":{HEALTH_PORT}/" in runtime["HEALTHCHECK"]
    assert json.loads(runtime["ENTRYPOINT"]) == ["robotwatch"]
    cmd = json.loads(runtime["CMD"])
    assert cmd[0] == "serve" and cmd[cmd.index("--http-port") + 1] == str(HEALTH_PORT)
    assert cmd[cmd.index("--http-host") + 1] == "0.0.0.0"  # reachable from outside the container
    # The installed venv is copied to where the build made it (its scripts name that path).
    copy = next(i["value"] for i in _stages()[-1] if i["instruction"] == "COPY")
    assert copy == "--from=build /opt/robotwatch /opt/robotwatch"


def _healthcheck(image: ImageRoot, runtime_env: dict[str, str]) -> int:
    value = next(i["value"] for i in _stages()[-1] if i["instruction"] == "HEALTHCHECK")
    command = json.loads(value.split(" CMD ", 1)[1].strip())
    return subprocess.run(command, env=runtime_env, capture_output=True, timeout=30).returncode


@pytest.mark.image
@pytest.mark.kafka
def test_the_built_image_serves_and_its_healthcheck_tells_alive_from_dead(
    built: ImageRoot,
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", HEALTH_PORT))
        except OSError:
            pytest.skip(f"port {HEALTH_PORT}, which the HEALTHCHECK names, is taken on this machine")
    image = built
    runtime = ImageRoot(image.path, env={"PATH": "/usr/bin:/bin"})
    for step in _stages()[-1]:
        if step["instruction"] == "ENV":
            for pair in shlex.split(step["value"]):
                runtime.set_env(*pair.split("=", 1))
    assert Path(runtime.env["PATH"].split(":")[0]) == image.inside("/opt/robotwatch/bin")

    _, model, _ = stream_cell
    topics = {"signals": unique("signals"), "anomalies": unique("anomalies"), "dlq": unique("dlq")}
    asyncio.run(create_topics(broker.bootstrap, list(topics.values()), 1))
    cmd = json.loads(next(i["value"] for i in _stages()[-1] if i["instruction"] == "CMD"))
    config = image.inside(cmd[cmd.index("--config") + 1])
    config.parent.mkdir(parents=True, exist_ok=True)
    settings = {
        "model": str(model),
        "signals_topic": topics["signals"],
        "anomalies_topic": topics["anomalies"],
        "dead_letter_topic": topics["dlq"],
        "group": unique("group"),
        "device": "cpu",
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    config.write_text(
        "\n".join([*lines, "[kafka]", f"bootstrap_servers = {json.dumps(broker.bootstrap)}", ""])
    )
    args = [
        str(config) if a == cmd[cmd.index("--config") + 1] else "127.0.0.1" if a == "0.0.0.0" else a
        for a in cmd
    ]
    assert _healthcheck(image, runtime.env) != 0  # nothing listens yet
    log = (image.path / "serve.log").open("wb")
    serve = subprocess.Popen(
        ["robotwatch", *args], env=runtime.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while _healthcheck(image, runtime.env) != 0:
            assert serve.poll() is None, (image.path / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the HEALTHCHECK never passed"
            time.sleep(1)
        os.kill(serve.pid, signal.SIGTERM)
        assert serve.wait(40) == 0  # a graceful stop within grace_s
        assert _healthcheck(image, runtime.env) != 0
    finally:
        if serve.poll() is None:
            os.kill(serve.pid, signal.SIGKILL)
            serve.wait(10)
        log.close()
