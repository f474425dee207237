"""deploy/k8s/: valid Kubernetes 1.28 objects (strict schemas, offline), wired together,
with the settings names the code reads and no secret in them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseSettings

from actions.settings import ActionSettings
from exchange.core.config import Settings as ExchangeSettings
from rasa_addons.channels import ChannelSettings
from rasa_addons.tracker_store import TrackerStoreSettings
from scripts import stack
from tests.support.processes import ROOT
from voice.settings import VoiceSettings

K8S = ROOT / "deploy" / "k8s"
VERSION = "1.28.0"
MANIFESTS = sorted(K8S.glob("*.yaml"))


def documents() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in MANIFESTS:
        found += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def env_names(settings: type[BaseSettings]) -> set[str]:
    return {
        name.upper()
        for field in settings.__fields__.values()
        for name in field.field_info.extra["env_names"]
    }


def names_the_code_reads() -> set[str]:
    names = set(stack.DEFAULT_PORTS) | set(stack.PROD_DEFAULTS) | set(stack.REPLICA_PORTS)
    # bot/endpoints*.yml and the Procfiles; the rest are read by the tools themselves.
    names |= {"ACTION_SERVER_URL", "RASA_URL", "RASA_HOST", "RASA_TOKEN", "RASA_MODEL",
              "TRACKER_DIALECT", "TRACKER_URL", "EXCHANGE_DATABASE_URL", "RASA_TELEMETRY_ENABLED",
              "TF_CPP_MIN_LOG_LEVEL", "SQLALCHEMY_SILENCE_UBER_WARNING", "PYTHONUNBUFFERED",
              "HOME"}  # fmt: skip
    for settings in (ExchangeSettings, ActionSettings, VoiceSettings, TrackerStoreSettings,
                     ChannelSettings):  # fmt: skip
        names |= env_names(settings)
    return names


def test_there_is_a_manifest_for_every_process():
    procfile = (ROOT / "Procfile.prod").read_text().splitlines()
    processes = {line.split(":")[0] for line in procfile if line and not line.startswith("#")}
    # The proxies are Services in Kubernetes; the phone line, which the gateway
    # answers itself under honcho, is a Deployment of its own there (deploy/README.md).
    assert set(of_kind("Deployment")) == processes - {"rasa-proxy", "actions-proxy"} | {"phone"}
    assert set(of_kind("Service")) == set(of_kind("Deployment"))


@pytest.mark.parametrize(
    "path, doc",
    documents(),
    ids=[f"{path.name}:{doc['kind']}/{doc['metadata']['name']}" for path, doc in documents()],
)
def test_every_object_is_valid_kubernetes_1_28(path, doc):
    assert kubernetes_validate.validate(doc, VERSION, strict=True) == "1.28"


def test_rasa_and_actions_run_at_least_two_replicas_with_a_disruption_budget():
    deployments = of_kind("Deployment")
    budgets = of_kind("PodDisruptionBudget")
    for name in ("rasa", "actions"):
        assert deployments[name]["spec"]["replicas"] >= 2
        assert budgets[name]["spec"]["minAvailable"] >= 1


def test_every_container_has_probes_and_resource_requests():
    for name, deployment in of_kind("Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        for container in spec["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, name
        for container in containers(deployment):
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True


def test_services_select_their_pods_on_the_ports_they_declare():
    deployments = of_kind("Deployment")
    for name, service in of_kind("Service").items():
        pods = deployments[name]["spec"]["template"]
        labels = pods["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        declared = {p["name"] for c in pods["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= declared


def test_settings_have_the_names_the_code_reads_and_the_addresses_match():
    (config,) = of_kind("ConfigMap").values()
    (secret,) = of_kind("Secret").values()
    known = names_the_code_reads()
    assert sorted(set(config["data"]) - known) == []
    assert sorted(set(secret["stringData"]) - known) == []
    services = of_kind("Service")
    data = config["data"]
    for url_name, service, port_name in (
        ("EXCHANGE_URL", "exchange", "EXCHANGE_PORT"),
        ("RASA_URL", "rasa", "RASA_PORT"),
        ("ACTION_SERVER_URL", "actions", "ACTIONS_PORT"),
    ):
        port = services[service]["spec"]["ports"][0]["port"]
        assert data[url_name].startswith(f"http://{service}:{port}")
        assert data[port_name] == str(port)


def test_secrets_are_empty_placeholders_and_every_reference_exists():
    (secret,) = of_kind("Secret").values()
    assert set(secret["stringData"].values()) == {""}  # nothing real in the repository
    (config,) = of_kind("ConfigMap").values()
    for name, deployment in of_kind("Deployment").items():
        for container in containers(deployment):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] == config["metadata"]["name"]
            for variable in container.get("env", []):
                ref = variable["valueFrom"]["secretKeyRef"]
                assert ref["name"] == secret["metadata"]["name"], name
                assert ref["key"] == variable["name"], name  # the same name everywhere
                assert ref["key"] in secret["stringData"], name


def test_rasa_uses_the_production_endpoints_after_the_preflight():
    rasa = of_kind("Deployment")["rasa"]["spec"]["template"]["spec"]
    (prepare,) = rasa["initContainers"]
    assert prepare["command"] == ["python", "-m", "scripts.prod", "prepare"]
    (server,) = rasa["containers"]
    assert "--endpoints=bot/endpoints.prod.yml" in server["args"]
    assert (ROOT / "bot" / "endpoints.prod.yml").exists()
