"""docs/ci.md's recipes and the image workflow, checked against what they
start: the Dockerfile's port and probe, the server's own flags and routes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from mockllm import cli
from mockllm.control import PROBE

ROOT = Path(__file__).resolve().parents[1]
RECIPES = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "ci.md").read_text(), re.DOTALL)
ACTION, SERVICE, GITLAB, COMPOSE = (yaml.safe_load(block) for block in RECIPES)
IMAGE = re.compile(r"ghcr\.io/OWNER/mockllm:\d+\.\d+\.\d+")
EXPOSED = re.search(r"^EXPOSE (\d+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)[1]


def test_the_action_recipe_uses_the_actions_own_inputs():
    steps = ACTION["jobs"]["test"]["steps"]
    uses = [step for step in steps if step.get("uses", "").startswith("OWNER/mockllm@")]
    inputs = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    assert len(uses) == 2 and all(set(step.get("with", {})) <= set(inputs) for step in uses)
    assert uses[-1]["with"]["stop"] == "true" and uses[-1]["if"] == "always()"
    cli._parser().parse_args(["serve", *shlex.split(uses[0]["with"]["args"])])  # flags serve knows


def test_the_service_container_and_gitlab_recipes_reach_the_exposed_port():
    [service] = SERVICE["jobs"]["test"]["services"].values()
    assert IMAGE.fullmatch(service["image"]) and service["ports"] == [f"{EXPOSED}:{EXPOSED}"]
    assert f":{EXPOSED}{PROBE}" in service["options"]
    assert SERVICE["jobs"]["test"]["env"]["OPENAI_BASE_URL"] == f"http://127.0.0.1:{EXPOSED}/v1"
    [gitlab] = GITLAB["test"]["services"]
    assert IMAGE.fullmatch(gitlab["name"])
    assert GITLAB["test"]["variables"]["OPENAI_BASE_URL"] == f"http://{gitlab['alias']}:{EXPOSED}/v1"


def test_the_compose_recipe_runs_a_command_line_serve_accepts_and_probes_it():
    mockllm, app = COMPOSE["services"]["mockllm"], COMPOSE["services"]["app"]
    args = cli._parser().parse_args(mockllm["command"][1:])
    assert mockllm["command"][0] == "mockllm" and args.run is cli._serve and str(args.port) == EXPOSED
    assert [volume.split(":")[1] for volume in mockllm["volumes"]] == ["/scenarios"]
    assert "/scenarios" in args.scenarios and "MOCKLLM_ADMIN_TOKEN" in mockllm["environment"]
    assert f":{EXPOSED}{PROBE}" in mockllm["healthcheck"]["test"][-1]
    assert app["environment"]["OPENAI_BASE_URL"] == f"http://mockllm:{EXPOSED}/v1"
    assert app["depends_on"]["mockllm"]["condition"] == "service_healthy"


def test_the_image_workflow_builds_the_dockerfile_on_a_version_tag():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "image.yml").read_text())
    assert workflow[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key `on` as true
    steps = workflow["jobs"]["image"]["steps"]
    [build] = [step for step in steps if step.get("uses", "").startswith("docker/build-push-action@")]
    assert build["with"]["context"] == "." and build["with"]["push"] is True
    assert (ROOT / "Dockerfile").exists()
