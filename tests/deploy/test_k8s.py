"""deploy/k8s: `kubectl kustomize` renders the CPU base and the GPU overlay offline, and every
manifest (rendered ones, the adapter's ConfigMap, the Secret example) is valid, strictly (no
unknown field), against the Kubernetes API schemas that kubernetes-validate ships for
Kubernetes 1.37 and 1.34. Then what the schemas cannot see: selectors that match, probes
on the port serve listens on, mounts that hold the paths the TOML names, the user the image
runs as, a grace period past serve's, replicas bounded by the partitions, the HPA's metric
named by the adapter rule, and no secret in the ConfigMap. Not run here: a cluster."""

from __future__ import annotations

import copy
import subprocess
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from robotwatch.stream.settings import ServeSettings
from tests.deploy.tools import DEPLOY, tool

K8S = DEPLOY / "k8s"
VERSIONS = ("1.37.0", "1.34.0")


def _render(folder: Path) -> list[dict]:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def _by_kind(documents: list[dict]) -> dict[str, dict]:
    kinds = {d["kind"]: d for d in documents}
    assert len(kinds) == len(documents), "one object of each kind expected"
    return kinds


def _loose_manifests() -> list[dict]:
    """The files applied on their own: the adapter rule, the Secret's example, the model loader."""
    return [
        d
        for name in ("prometheus-adapter.yaml", "secret.example.yaml", "model-loader.yaml")
        for d in yaml.safe_load_all((K8S / name).read_text())
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schema(version: str) -> None:
    documents = [*_render(K8S / "base"), *_render(K8S / "gpu"), *_loose_manifests()]
    assert len(documents) == 2 * 7 + 3
    for document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = f"{document['kind']} {document['metadata']['name']} ({version})"
            pytest.fail(f"{where}: {exc.message} at {list(exc.path)}")


def test_strict_validation_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(_by_kind(_render(K8S / "base"))["Deployment"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)


def _container(kinds: dict[str, dict]) -> dict:
    (container,) = kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def test_the_objects_agree_with_each_other_and_with_serve() -> None:
    kinds = _by_kind(_render(K8S / "base"))
    deployment, pod = kinds["Deployment"], kinds["Deployment"]["spec"]["template"]
    labels = pod["metadata"]["labels"]
    for selector in (
        kinds["Service"]["spec"]["selector"],
        kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    container = _container(kinds)
    args = container["args"]
    port = int(args[args.index("--http-port") + 1])
    assert container["ports"] == [{"name": "metrics", "containerPort": port}]
    assert args[args.index("--http-host") + 1] == "0.0.0.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert kinds["Service"]["spec"]["ports"][0]["targetPort"] == "metrics"
    assert kinds["Service"]["metadata"]["name"] == "robotwatch"  # job="robotwatch" under a ServiceMonitor

    # The TOML's paths lie in the volumes mounted for them; the config where --config says.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    settings = tomllib.loads(kinds["ConfigMap"]["data"]["robotwatch.toml"])
    assert args[args.index("--config") + 1] == f"{mounts['config']}/robotwatch.toml"
    assert settings["model"].startswith(f"{mounts['models']}/")
    assert settings["kafka"]["ssl_cafile"].startswith(f"{mounts['kafka-tls']}/")
    assert not any("password" in key for key in settings["kafka"]), "a secret in the ConfigMap"
    env = {e["name"]: e.get("valueFrom", {}) for e in container["env"]}
    secret_ref = env["ROBOTWATCH_KAFKA__SASL_PLAIN_PASSWORD"]["secretKeyRef"]
    (secret,) = [d for d in _loose_manifests() if d["kind"] == "Secret"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert secret_ref["name"] == secret["metadata"]["name"] == volumes["kafka-tls"]["secret"]["secretName"]
    assert {secret_ref["key"], *(i["key"] for i in volumes["kafka-tls"]["secret"]["items"])} == set(
        secret["stringData"]
    )

    # The model loader writes where the replicas read.
    (loader,) = [d for d in _loose_manifests() if d["kind"] == "Pod"]
    (loader_volume,) = loader["spec"]["volumes"]
    assert (
        loader_volume["persistentVolumeClaim"]["claimName"]
        == volumes["models"]["persistentVolumeClaim"]["claimName"]
    )
    assert loader["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == mounts["models"]

    # Runs as the image's user, stops after serve's grace period, never as root.
    runtime_user = [
        i["value"]
        for i in DockerfileParser(str(DEPLOY / "docker" / "Dockerfile")).structure
        if i["instruction"] == "USER"
    ]
    assert (
        f"{pod['spec']['securityContext']['runAsUser']}:{pod['spec']['securityContext']['runAsGroup']}"
        == runtime_user[-1]
    )
    assert (
        pod["spec"]["terminationGracePeriodSeconds"]
        > settings["grace_s"]
        == ServeSettings.model_fields["grace_s"].default
    )
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert (
        container["resources"]["requests"]["memory"] == "768Mi"
        and "cpu" not in container["resources"]["limits"]
    )

    # Replicas: at least 2 (the PDB lets one go), at most the partitions serve creates.
    hpa = kinds["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert 2 == hpa["minReplicas"] == deployment["spec"]["replicas"]
    assert hpa["maxReplicas"] == ServeSettings.model_fields["topic_partitions"].default
    (metric,) = hpa["metrics"]
    (adapter,) = [d for d in _loose_manifests() if d["kind"] == "ConfigMap"]
    (rule,) = yaml.safe_load(adapter["data"]["config.yaml"])["externalRules"]
    assert metric["external"]["metric"]["name"] == rule["name"]["as"]
    assert metric["external"]["metric"]["selector"]["matchLabels"] == {
        "topic": ServeSettings.model_fields["signals_topic"].default
    }


def test_the_gpu_overlay_asks_for_a_gpu_and_the_cuda_image() -> None:
    cpu, gpu = _container(_by_kind(_render(K8S / "base"))), _container(_by_kind(_render(K8S / "gpu")))
    assert (
        gpu["resources"]["limits"]["nvidia.com/gpu"] == 1
        and "nvidia.com/gpu" not in cpu["resources"]["limits"]
    )
    assert cpu["image"].endswith("-cpu") and gpu["image"] == cpu["image"].replace("-cpu", "-cuda")
    assert {k: v for k, v in gpu.items() if k not in ("image", "resources")} == {
        k: v for k, v in cpu.items() if k not in ("image", "resources")
    }
