"""The deployment files: the Kubernetes manifests validate against the
Kubernetes schemas and agree with the server they run (its flags, its probe
route, its scenario format)."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from mockllm import cli
from mockllm.control import PROBE, READY
from mockllm.parse import parse_text

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "deploy" / "kubernetes" / "mockllm.yaml"
DOCUMENTS = [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]
REDIS = ROOT / "deploy" / "kubernetes" / "redis.yaml"  # for replicas that share their state
REDIS_DOCUMENTS = [doc for doc in yaml.safe_load_all(REDIS.read_text()) if doc]
KUBERNETES = "1.34"  # a version the schemas ship for; the manifests use only long-stable APIs


def kind(name: str) -> dict:
    [found] = [doc for doc in DOCUMENTS if doc["kind"] == name]
    return found


@pytest.mark.parametrize("document", DOCUMENTS + REDIS_DOCUMENTS,
                         ids=[d["kind"] for d in DOCUMENTS] + [f"redis {d['kind']}" for d in REDIS_DOCUMENTS])
def test_each_manifest_validates_strictly_against_the_kubernetes_schemas(document):
    kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_the_container_runs_a_serve_command_line_the_server_accepts():
    [container] = kind("Deployment")["spec"]["template"]["spec"]["containers"]
    args = cli._parser().parse_args(container["args"])
    assert args.run is cli._serve and args.host == "0.0.0.0" and args.port == 8000
    assert [env["name"] for env in container["env"]] == ["MOCKLLM_ADMIN_TOKEN"]  # the control plane needs it
    pod = kind("Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > args.grace  # streams get their grace, then the pod stops


def test_the_probes_ask_the_open_probe_routes_on_the_served_port():
    [container] = kind("Deployment")["spec"]["template"]["spec"]["containers"]
    [port] = container["ports"]
    for probe, route in (("readinessProbe", READY), ("livenessProbe", PROBE)):
        assert container[probe]["httpGet"] == {"path": route, "port": port["name"]}
    assert kind("Service")["spec"]["ports"][0]["targetPort"] == port["name"]
    assert container["resources"]["requests"]


def test_the_configmaps_scenarios_are_valid_and_mounted_where_serve_reads_them():
    for name, text in kind("ConfigMap")["data"].items():
        assert parse_text(text, name).name
    [container] = kind("Deployment")["spec"]["template"]["spec"]["containers"]
    [mount] = container["volumeMounts"]
    assert mount["mountPath"] in container["args"]


def test_the_redis_manifest_gives_replicas_the_state_url_its_comment_sets():
    [service] = [d for d in REDIS_DOCUMENTS if d["kind"] == "Service"]
    url = f"redis://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/0"
    assert f"MOCKLLM_STATE={url}" in REDIS.read_text()
    args = cli._parser().parse_args(["serve", "--state", url])
    assert args.state == url


def test_the_validation_can_fail_a_misspelt_field():
    broken = yaml.safe_load(yaml.safe_dump(kind("Deployment")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = broken["spec"]["template"]["spec"][
        "containers"][0].pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
