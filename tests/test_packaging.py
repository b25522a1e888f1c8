"""The built wheel: it ships the built-in scenarios and the console script, and
a non-editable install serves the built-ins from any directory.

Builds with the hatchling installed beside pytest (``--no-build-isolation``,
``--no-index``), so the test needs no network.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [path] = out.glob("mockllm_server-*.whl")
    return path


def test_wheel_ships_the_builtin_scenarios_the_sandbox_page_and_the_schema(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "mockllm/scenarios/hello.yaml" in names
    assert {"mockllm/static/index.html", "mockllm/static/client.js"} <= set(names)
    assert "mockllm/scenario.schema.json" in names  # what `mockllm schema` prints, for editors
    assert "mockllm/cli.py" in names
    assert not any(name.startswith(("tests/", "scenarios/")) for name in names)


def test_wheel_declares_the_mockllm_console_script(wheel):
    with zipfile.ZipFile(wheel) as archive:
        [entry_points] = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        parser = configparser.ConfigParser()
        parser.read_string(archive.read(entry_points).decode("utf-8"))
    assert parser["console_scripts"]["mockllm"] == "mockllm.cli:main"


def test_unpacked_wheel_lists_the_builtins_from_an_unrelated_directory(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    # The unpacked copy, not the checkout's editable install, is the one imported.
    imported = Path(run("-c", "import mockllm; print(mockllm.__file__)").strip())
    assert imported == site / "mockllm" / "__init__.py"
    listed = {line.split()[0]: line for line in run("-m", "mockllm", "list").splitlines()}
    assert "hello" in listed
    assert listed["hello"].split()[1] == "*"
