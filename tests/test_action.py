"""The composite action (action.yml), run as a runner would run it: each
step's ``run`` in bash with its inputs and env substituted, GITHUB_ENV lines
carried into later steps, in a fresh virtual environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import openai
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def expand(text: str, inputs: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*inputs\.(\w+)\s*\}\}", lambda m: inputs[m[1]], text)


def holds(condition: str | None, inputs: dict[str, str]) -> bool:
    """The two conditions the action uses: ``inputs.NAME == 'V'`` and ``!=``."""
    if condition is None:
        return True
    found = re.fullmatch(r"inputs\.(\w+) (==|!=) '([^']*)'", condition.strip())
    assert found, f"a condition this runner stand-in cannot read: {condition!r}"
    return (inputs[found[1]] == found[3]) == (found[2] == "==")


def run_action(given: dict[str, str], env: dict[str, str], tmp: Path) -> dict[str, str]:
    """Run every step; returns the job's environment after it (GITHUB_ENV applied)."""
    inputs = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()} | given
    github_env, output = tmp / "github_env", tmp / "github_output"
    for step in ACTION["runs"]["steps"]:
        if not holds(step.get("if"), inputs):
            continue
        assert step["shell"] == "bash"
        step_env = {**env, **{k: expand(v, inputs) for k, v in step.get("env", {}).items()},
                    "GITHUB_ENV": str(github_env), "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(tmp),
                    "GITHUB_ACTION_PATH": str(ROOT)}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", expand(step["run"], inputs)],
                              env=step_env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{step['name']}: {done.stdout}\n{done.stderr}"
        if github_env.exists():
            env = env | dict(line.split("=", 1) for line in github_env.read_text().splitlines() if line)
    return env


def test_the_action_installs_starts_exports_the_url_and_stops(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {"PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    ours = tmp_path / "scenarios"
    ours.mkdir()
    (ours / "ours.yaml").write_text("name: ours\nreply: {text: From the job's own scenarios.}\n")
    try:
        env = run_action({"package": str(ROOT), "port": "0", "scenarios": f"builtin {ours}", "args": "--speed 20"},
                         env, tmp_path)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", env["MOCKLLM_URL"])
        assert env["OPENAI_BASE_URL"] == env["MOCKLLM_URL"] + "/v1"
        assert (tmp_path / "github_output").read_text() == f"url={env['MOCKLLM_URL']}\n"
        with openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key="k", max_retries=0, timeout=60) as sdk:
            for model, text in (("ours", "From the job's own scenarios."), ("hello", "Hello!")):
                reply = sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
                assert reply.choices[0].message.content.startswith(text)
        pid = int(env["MOCKLLM_PID"])
        run_action({"stop": "true"}, env, tmp_path)
        assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0  # it is gone
    finally:  # whatever failed, the server this test started is stopped
        started = tmp_path / "github_env"
        for line in started.read_text().splitlines() if started.exists() else []:
            if line.startswith("MOCKLLM_PID="):
                subprocess.run(["kill", "-KILL", line.split("=", 1)[1]], capture_output=True)
