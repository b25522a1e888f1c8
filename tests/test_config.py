"""config.py through cli: flag over MOCKLLM_* variable over config file over default."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import openai
import pytest

from mockllm import cli, server
from tests.docs import page_with
from tests.test_cli import serve, write  # noqa: F401  (serve is a fixture)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory and an environment with no MOCKLLM_* variable."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("MOCKLLM_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "serve_forever", None)  # calling it would raise TypeError


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """``main``'s stderr lines, having checked it exits 2 as for a bad flag."""
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err.splitlines()


# One row per kind of option: (flag args, variable and its text, file line, what each level gives, the default).
KINDS = {
    "int": ("port", ["--port", "1"], ("MOCKLLM_PORT", "2"), "port = 3", (1, 2, 3), 8000),
    "float": ("speed", ["--speed", "2.5"], ("MOCKLLM_SPEED", "3.5"), "speed = 4.5", (2.5, 3.5, 4.5), 1.0),
    "path-list": ("scenarios", ["--scenarios", "a", "--scenarios", "b"], ("MOCKLLM_SCENARIOS", f"c{os.pathsep}d"),
                  'scenarios = ["e", "f"]', (["a", "b"], ["c", "d"], ["e", "f"]), []),
    "repeatable": ("mount", ["--mount", "/one=content"], ("MOCKLLM_MOUNT", "/two=openai, /three=content"),
                   'mount = ["/four=content"]',
                   ([("/one", "content")], [("/two", "openai"), ("/three", "content")], [("/four", "content")]), []),
    "boolean": ("strict", ["--strict"], ("MOCKLLM_STRICT", "false"), "strict = true", (True, False, True), False),
    "enum": ("loop", ["--loop", "asyncio"], ("MOCKLLM_LOOP", "uvloop"), 'loop = "asyncio"',
             ("asyncio", "uvloop", "asyncio"), "auto"),
}
LEVELS = {  # which sources are set, and which of them wins
    "flag-over-variable-and-file": (("flag", "env", "file"), 0),
    "variable-over-file": (("env", "file"), 1),
    "file-over-default": (("file",), 2),
}


@pytest.mark.parametrize("level", list(LEVELS), ids=list(LEVELS))
@pytest.mark.parametrize("kind", list(KINDS), ids=list(KINDS))
def test_a_flag_beats_its_variable_which_beats_the_file(home, monkeypatch, kind, level):
    dest, flag, (variable, text), line, values, _ = KINDS[kind]
    sources, winner = LEVELS[level]
    if "env" in sources:
        monkeypatch.setenv(variable, text)
    if "file" in sources:
        write(home / "mockllm.toml", line + "\n")
    args = cli.parse_args(["serve", *(flag if "flag" in sources else [])])
    assert getattr(args, dest) == values[winner]


@pytest.mark.parametrize("kind", list(KINDS), ids=list(KINDS))
def test_with_no_flag_variable_or_file_an_option_has_its_default(home, kind):
    dest, *_, default = KINDS[kind]
    assert getattr(cli.parse_args(["serve"]), dest) == default


def test_every_serve_flag_has_a_variable_named_after_it_and_a_file_key(home):
    [commands] = [action for action in cli._parser()._actions if isinstance(action, argparse._SubParsersAction)]
    older = {"--allow-origin": "MOCKLLM_ALLOW_ORIGINS", "--allow-host": "MOCKLLM_ALLOW_HOSTS"}  # plural, comma-separated
    table = {option.flag: option for option in cli.SERVE}
    flags = [action.option_strings[-1] for action in commands.choices["serve"]._actions
             if action.option_strings and action.dest not in ("help", "config")]
    assert flags and set(flags) == set(table)
    for flag in flags:
        name = flag.removeprefix("--")
        assert table[flag].variable == older.get(flag, "MOCKLLM_" + name.upper().replace("-", "_"))
        assert table[flag].key == name.replace("-", "_")


def test_serve_builds_its_settings_from_the_flag_the_variable_and_the_file(home, monkeypatch, caplog):
    write(home / "mockllm.toml", 'speed = 4.0\nseed = 7\nallow_host = ["file.internal"]\njournal_size = 12\n')
    monkeypatch.setenv("MOCKLLM_SEED", "8")
    monkeypatch.setenv("MOCKLLM_ALLOW_HOSTS", "env.internal")
    started = []

    async def record_start(settings, host, port, ready):
        started.append((settings, host, port))

    monkeypatch.setattr(server, "serve_forever", record_start)
    with caplog.at_level(logging.INFO, logger="mockllm"):
        assert cli.main(["serve", "--port", "0", "--journal-size", "3", "--loop", "asyncio"]) == 0
    [(settings, host, port)] = started
    assert (host, port) == ("127.0.0.1", 0)
    assert (settings.speed, settings.seed, settings.allow_hosts, settings.journal_size) == (
        4.0, 8, ("env.internal",), 3)
    assert "configuration from mockllm.toml" in caplog.messages


def test_pyproject_tool_mockllm_is_read_when_there_is_no_mockllm_toml(home):
    write(home / "pyproject.toml", '[project]\nname = "app"\n\n[tool.mockllm]\nport = 9100\n')
    args = cli.parse_args(["serve"])
    assert (args.port, args.config_file) == (9100, "pyproject.toml [tool.mockllm]")


def test_mockllm_toml_is_the_only_file_read_when_both_are_there(home):
    write(home / "pyproject.toml", "[tool.mockllm]\nport = 9100\nseed = 5\n")
    write(home / "mockllm.toml", "port = 9200\n")
    args = cli.parse_args(["serve"])
    assert (args.port, args.seed, args.config_file) == (9200, 0, "mockllm.toml")


def test_a_pyproject_without_tool_mockllm_is_no_configuration(home):
    write(home / "pyproject.toml", '[project]\nname = "app"\n\n[tool.ruff]\nline-length = 99\n')
    args = cli.parse_args(["serve"])
    assert (args.port, args.config_file) == (8000, None)


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_config_or_its_variable_names_the_one_file_to_read(home, monkeypatch, how):
    write(home / "mockllm.toml", "port = 9200\n")
    write(home / "ci/mock.toml", "port = 9300\n")
    write(home / "ci/pyproject.toml", "[tool.mockllm]\nport = 9400\n")
    monkeypatch.setenv("MOCKLLM_CONFIG", "ci/pyproject.toml")
    argv = ["serve", "--config", "ci/mock.toml"] if how == "flag" else ["serve"]
    expected = (9300, "ci/mock.toml") if how == "flag" else (9400, "ci/pyproject.toml [tool.mockllm]")
    args = cli.parse_args(argv)
    assert (args.port, args.config_file) == expected


def test_proxy_and_record_take_the_options_they_share_with_serve(home, monkeypatch):
    write(home / "mockllm.toml", 'grace = 2\ndefault = "hello"\nscenarios = ["rules"]\n')
    monkeypatch.setenv("MOCKLLM_PORT", "9500")
    proxy = cli.parse_args(["proxy", "--upstream", "http://up.test"])
    record = cli.parse_args(["record", "--upstream", "http://up.test"])
    assert (proxy.port, proxy.grace, proxy.scenarios) == (9500, 2.0, ["rules"])
    assert (record.port, record.grace) == (9500, 2.0)
    assert not hasattr(record, "default") and not hasattr(record, "scenarios")  # serve's keys, not record's


def test_other_mockllm_variables_are_not_options(home, monkeypatch):
    monkeypatch.setenv("MOCKLLM_URL", "http://127.0.0.1:8000")  # the GitHub action sets it for later steps
    monkeypatch.setenv("MOCKLLM_PID", "42")
    assert cli.parse_args(["serve"]).port == 8000


def test_list_and_play_read_no_variable_or_file(home, monkeypatch, capsys):
    write(home / "mockllm.toml", "speed = nope\n")  # not even parsed
    monkeypatch.setenv("MOCKLLM_SPEED", "x")
    assert cli.main(["play", "hello", "--created", "1"]) == 0
    assert "HTTP 200" in capsys.readouterr().out


# -- errors name their source -------------------------------------------------------


@pytest.mark.parametrize(("variable", "text", "message"), [
    ("MOCKLLM_PORT", "x", "MOCKLLM_PORT: expected a whole number, got 'x'"),
    ("MOCKLLM_SPEED", "0", "MOCKLLM_SPEED: expected a positive number, got '0'"),
    ("MOCKLLM_GRACE", "soon", "MOCKLLM_GRACE: expected a number of seconds, 0 or more, got 'soon'"),
    ("MOCKLLM_QUIET", "maybe", "MOCKLLM_QUIET: expected true or false (or 1, 0, yes, no, on, off), got 'maybe'"),
    ("MOCKLLM_LOOP", "fast", "MOCKLLM_LOOP: expected one of auto, asyncio, uvloop, got 'fast'"),
    ("MOCKLLM_MOUNT", "/a=content,/a=openai", "MOCKLLM_MOUNT: /a is mounted twice (content, then openai): give each path once"),
    ("MOCKLLM_QUOTA", "rpm=lots", "MOCKLLM_QUOTA: rpm: expected a whole number of at least 1, got 'lots'"),
], ids=["int", "float", "seconds", "boolean", "enum", "mount-twice", "quota"])
def test_a_bad_variable_is_refused_naming_it(home, no_server, monkeypatch, capsys, variable, text, message):
    monkeypatch.setenv(variable, text)
    assert refused(["serve"], capsys) == [f"mockllm: {message}"]


@pytest.mark.parametrize(("text", "message"), [
    ("prot = 8080", "unknown key 'prot'; did you mean 'port'?"),
    ("upstream = 'http://x'", "unknown key 'upstream' (known: "),
    ("port = 80.5", "port: expected a whole number, got '80.5'"),
    ("port = true", "port: expected a single value, got True"),
    ("quiet = 'yes'", "quiet: expected true or false, got 'yes'"),
    ("scenarios = 'here'", "scenarios: expected a list of strings, e.g. ['here'], got 'here'"),
    ("chaos = 'drip=0.1'", "chaos: "),
    ("port = ", "Invalid value (at line 1, column 8)"),
], ids=["unknown-key", "unknown-no-close-match", "int", "bool-for-int", "boolean", "list", "chaos", "toml-syntax"])
def test_a_bad_mockllm_toml_is_refused_naming_it_and_the_key(home, no_server, capsys, text, message):
    write(home / "mockllm.toml", text + "\n")
    [line] = refused(["serve"], capsys)
    assert line.startswith(f"mockllm: mockllm.toml: {message}")


def test_a_bad_pyproject_value_names_the_table(home, no_server, capsys):
    write(home / "pyproject.toml", "[tool.mockllm]\nspeed = -1\n")
    assert refused(["serve"], capsys) == [
        "mockllm: pyproject.toml [tool.mockllm]: speed: expected a positive number, got '-1'"]


def test_every_problem_is_listed_not_only_the_first(home, no_server, monkeypatch, capsys):
    write(home / "mockllm.toml", "sped = 2\nseed = 'x'\n")
    monkeypatch.setenv("MOCKLLM_PORT", "eighty")
    assert refused(["serve"], capsys) == [
        "mockllm: mockllm.toml: unknown key 'sped'; did you mean 'speed'?",
        "mockllm: MOCKLLM_PORT: expected a whole number, got 'eighty'",
        "mockllm: mockllm.toml: seed: expected a whole number, got 'x'",
    ]


def test_a_missing_config_file_is_refused_naming_what_named_it(home, no_server, monkeypatch, capsys):
    assert refused(["serve", "--config", "nope.toml"], capsys) == ["mockllm: --config: no such file: nope.toml"]
    monkeypatch.setenv("MOCKLLM_CONFIG", "gone.toml")
    assert refused(["serve"], capsys) == ["mockllm: MOCKLLM_CONFIG: no such file: gone.toml"]
    write(home / "pyproject.toml", '[project]\nname = "app"\n')
    assert refused(["serve", "--config", "pyproject.toml"], capsys) == [
        "mockllm: pyproject.toml: no [tool.mockllm] table"]


def test_a_bad_flag_reads_as_its_variable_does(home, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--port", "x"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith("error: argument --port: expected a whole number, got 'x'\n")


def test_a_flag_given_skips_a_bad_variable_for_it(home, monkeypatch):
    monkeypatch.setenv("MOCKLLM_PORT", "x")  # never read: the flag wins
    assert cli.parse_args(["serve", "--port", "1"]).port == 1


# -- a real process --------------------------------------------------------------


def test_serve_as_a_real_process_configured_by_mockllm_toml(tmp_path, serve):  # noqa: F811
    write(tmp_path / "mine/own.yaml", "reply: {text: configured by a file}\n")
    write(tmp_path / "mockllm.toml", 'scenarios = ["mine"]\ndefault = "own"\nspeed = 20\nstrict = false\n')
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MOCKLLM_")}
    process = serve(env=environment)
    url = process.url()
    with openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0, timeout=60) as sdk:
        reply = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "configured by a file"
    process.process.terminate()
    _, err = process.process.communicate(timeout=30)
    assert "configuration from mockllm.toml" in err


# -- the README's examples -------------------------------------------------------

def readme_block(opening: str) -> str:
    """The fenced block of the docs that begins with ``opening``."""
    return page_with(opening).split(opening, 1)[1].split("```\n", 1)[0]


def test_the_readme_config_file_is_what_serve_reads(home):
    write(home / "mockllm.toml", readme_block("```toml\n# mockllm.toml\n"))
    args = cli.parse_args(["serve"])
    assert (args.port, args.scenarios, args.mount, args.speed, args.strict) == (
        8080, ["scenarios", "builtin"], [("/api/chat", "content")], 10.0, True)


@pytest.mark.parametrize(("line", "variable", "file", "text"), [
    (0, "x", None, None),
    (1, None, "mockllm.toml", "prot = 8080\n"),
    (2, None, "pyproject.toml", "[tool.mockllm]\nspeed = -1\n"),
], ids=["variable", "mockllm-toml", "pyproject"])
def test_the_readme_error_lines_are_what_serve_prints(home, no_server, monkeypatch, capsys, line, variable, file, text):
    shown = readme_block("```text\nmockllm: MOCKLLM_PORT").splitlines()
    if variable:
        monkeypatch.setenv("MOCKLLM_PORT", variable)
    if file:
        write(home / file, text)
    assert refused(["serve"], capsys) == [("mockllm: MOCKLLM_PORT" + shown[0], *shown[1:])[line]]
