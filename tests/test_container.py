"""The Dockerfile, tested without a registry or a Docker daemon (neither is
reachable here): its COPY set installs with its RUN line into a fresh virtual
environment, and its CMD, run from there with its ENV, serves the built-ins
and a mounted folder, answers its HEALTHCHECK, and stops cleanly on SIGTERM
with a stream open. The one change: the CMD binds 127.0.0.1 instead of
0.0.0.0, as every server a test starts must; what binding beyond loopback
does to the control routes is tested in tests/wire/test_control_plane_guard.py."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from mockllm import cli
from mockllm.control import PROBE

ROOT = Path(__file__).resolve().parents[1]
DOCKER_STOP_TIMEOUT = 10  # seconds docker stop waits before it kills


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(word.upper(), rest.strip()) for word, _, rest in (line.partition(" ") for line in lines)]


def one(name: str) -> str:
    [value] = [rest for word, rest in instructions() if word == name]
    return value


def environment() -> dict[str, str]:
    env = {}
    for word, rest in instructions():
        if word == "ENV":
            env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
    return env


def test_the_image_is_slim_runs_as_a_user_and_says_its_port_probe_and_command():
    assert re.fullmatch(r"python:3\.\d+-slim", one("FROM"))
    assert one("USER") not in ("root", "0") and one("EXPOSE") == "8000"
    probe = json.loads(one("HEALTHCHECK").split("CMD", 1)[1])
    assert f"http://127.0.0.1:8000{PROBE}" in probe[-1]
    command = json.loads(one("CMD"))
    args = cli._parser().parse_args(command[1:])
    assert command[0] == "mockllm" and args.run is cli._serve and (args.host, args.port) == ("0.0.0.0", 8000)
    assert "/scenarios" in args.scenarios and args.grace < DOCKER_STOP_TIMEOUT


def test_its_install_and_command_serve_probe_and_stop_cleanly(tmp_path):
    # The files the Dockerfile copies, where it copies them.
    source = tmp_path / "src"
    for word, rest in instructions():
        if word == "COPY":
            *items, target = rest.split()
            for item in items:
                destination = source / Path(target).relative_to("/src")
                if target.endswith("/"):
                    destination /= Path(item).name
                destination.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, destination)
    [install] = [rest for word, rest in instructions() if word == "RUN"]
    pip_install = install.split("&&")[0].replace("/src", str(source))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {**environment(), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    done = subprocess.run(shlex.split(pip_install), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    mounted = tmp_path / "scenarios"
    mounted.mkdir()
    (mounted / "ours.yaml").write_text("name: ours\nreply: {text: From the mounted folder.}\n")
    command = json.loads(one("CMD"))
    command = [str(mounted) if arg == "/scenarios" else "127.0.0.1" if arg == "0.0.0.0" else
               "0" if arg == "8000" else arg for arg in command]
    with subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as server:
        try:
            found = re.fullmatch(r"mockllm listening on (http://127\.0\.0\.1:(\d+))\n", server.stdout.readline())
            assert found, server.stderr.read()
            url, port = found[1], found[2]
            assert server.stdout.readline().startswith(f"control routes {url}/_mockllm/: open")
            assert "From the mounted folder." in chat(url, "ours", stream=False)
            assert "Hello!" in chat(url, "hello", stream=False)
            probe = json.loads(one("HEALTHCHECK").split("CMD", 1)[1])
            probe = [arg.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for arg in probe]
            assert subprocess.run(probe, env=env, timeout=30).returncode == 0
            stalled = urllib.request.urlopen(request(url, "stall-forever", stream=True), timeout=30)
            stalled.read(1)  # the stream is open
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=DOCKER_STOP_TIMEOUT + 20) == 0
            assert "stopping: 1 open stream" in server.stderr.read()
        finally:
            if server.poll() is None:
                server.kill()


def request(url: str, model: str, *, stream: bool) -> urllib.request.Request:
    body = json.dumps({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
    return urllib.request.Request(url + "/v1/chat/completions", body.encode(), {"Content-Type": "application/json"})


def chat(url: str, model: str, *, stream: bool) -> str:
    with urllib.request.urlopen(request(url, model, stream=stream), timeout=60) as response:
        return response.read().decode()
