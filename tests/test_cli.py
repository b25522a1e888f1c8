"""cli.py: each subcommand called through ``main``, and ``serve`` once as a real process."""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

from mockllm import cli, pipeline, schema, server
from mockllm.dialects import DIALECTS, Ask
from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.library import load_library
from tests.unit.test_hostile_scenarios import HOSTILE

BEAT = re.compile(r"^@(\d+\.\d{3})s data: (.+)\\n\\n$")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two good scenarios."""
    write(tmp_path / "good/alpha.yaml", "description: The first one.\nreply: {text: a b}\n")
    write(tmp_path / "good/beta-long-name.yml", "reply: {text: b}\n")
    return tmp_path / "good"


def hello_plan(**overrides):
    options = dict(seed=0, session="play", attempt=1, speed=1.0, created=1)
    options.update(overrides)
    hello = load_library(["builtin"]).get("hello")
    return pipeline.plan(hello, Ask(model="hello", stream=True), openai_chat, **options)


# -- validate -------------------------------------------------------------------


def test_validate_good_files_prints_ok_and_exits_0(folder, capsys):
    assert cli.main(["validate", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("ok: 2 scenarios\n", "")


def test_validate_a_single_file(folder, capsys):
    assert cli.main(["validate", str(folder / "alpha.yaml")]) == 0
    assert capsys.readouterr().out == "ok: 1 scenario\n"


def test_validate_bad_files_exits_1_with_one_line_per_problem(folder, tmp_path, capsys):
    first = write(tmp_path / "bad/one.yaml", "reply: {text: hi}\nseed: x\ntiming: {per_token: 5x}\n")
    second = write(tmp_path / "bad/two.yaml", "reply:\n  txt: hi\n")
    assert cli.main(["validate", str(folder), str(tmp_path / "bad")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{first}:2: seed: expected a whole number, got 'x'",
        f"{first}:3: timing.per_token: expected a duration like 250ms, 1.5s or 2m, got '5x'",
        f"{second}:2: reply: unknown key 'txt'; did you mean 'text'?",
        f"{second}:2: reply: needs 'text', 'tokens' or 'tool_calls'",
    ]


def test_validate_a_missing_path_exits_1(tmp_path, capsys):
    assert cli.main(["validate", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err == f"{tmp_path / 'nope'}: no such file or directory\n"


def test_validate_prints_warnings_and_still_exits_0_when_there_are_only_warnings(tmp_path, capsys):
    path = write(tmp_path / "slow.yaml", "reply: {text: hi}\ntiming:\n  first_token: 9\n  per_token: 40\n  jitter: 10s\n")
    assert cli.main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == "ok: 1 scenario\n"
    assert err.splitlines() == [
        f"{path}:4: warning: timing.per_token: 40 with no unit means 40 seconds; did you mean 40ms? Write 40s to keep seconds.",
    ]


def test_validate_prints_warnings_among_a_files_problems_in_line_order(tmp_path, capsys):
    path = write(tmp_path / "bad.yaml", "reply: {text: hi}\ntiming: {retry: 15}\nseed: x\n")
    assert cli.main(["validate", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:2: warning: timing.retry: 15 with no unit means 15 seconds; did you mean 15ms? Write 15s to keep seconds.",
        f"{path}:3: seed: expected a whole number, got 'x'",
    ]


def test_validate_prints_one_files_warning_and_anothers_problem_in_file_order(tmp_path, capsys):
    warned = write(tmp_path / "a.yaml", "reply: {text: hi}\ntiming: {per_token: 40}\n")
    broken = write(tmp_path / "b.yaml", "reply: {text: hi}\nseed: x\n")
    assert cli.main(["validate", str(tmp_path)]) == 1
    assert [line.split(":")[0] for line in capsys.readouterr().err.splitlines()] == [str(warned), str(broken)]


@pytest.mark.parametrize(("text", "line"), [case[1:3] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_validate_a_hostile_file_prints_located_problems_and_exits_1(tmp_path, capsys, text, line):
    path = write(tmp_path / "hostile.yaml", text)
    assert cli.main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err and all(note.startswith(f"{path}:") for note in err.splitlines()), err[:2000]
    assert f"{path}:{line}: " in err


# -- schema -----------------------------------------------------------------------


def test_schema_prints_the_shipped_json_schema_sorted_and_indented(capsys):
    assert cli.main(["schema"]) == 0
    out = capsys.readouterr().out
    assert out == schema.SHIPPED.read_text(encoding="utf-8")
    assert out == json.dumps(json.loads(out), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# -- list -------------------------------------------------------------------------


def test_list_prints_names_and_descriptions(folder, capsys):
    assert cli.main(["list", "--scenarios", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "alpha" + " " * 12 + "The first one.",  # names padded to the longest, then the marker column,
        "beta-long-name",
    ]


def test_list_marks_the_default(folder, capsys):
    assert cli.main(["list", "--scenarios", str(folder), "--scenarios", "builtin"]) == 0
    lines = capsys.readouterr().out.splitlines()
    marked = [line.split()[0] for line in lines if line.split()[1:2] == ["*"]]
    assert marked == ["hello"]
    assert lines[0].startswith("alpha ") and lines[0].endswith("  The first one.")


def test_list_shows_the_first_sentence_of_a_description_cut_to_the_terminal(tmp_path, capsys, monkeypatch):
    write(tmp_path / "long.yaml", """
        description: A first sentence that is quite long on its own. A second sentence that is never shown.
        reply: {text: hi}
    """)
    write(tmp_path / "short.yaml", """
        description: Short. And more.
        reply: {text: hi}
    """)
    monkeypatch.setenv("COLUMNS", "40")
    assert cli.main(["list", "--scenarios", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "long    A first sentence that is quite…",
        "short   Short.",
    ]


def test_list_into_a_closed_pipe_ends_quietly(tmp_path):
    for i in range(1000):  # more lines than a pipe holds, so the writer meets the closed end
        (tmp_path / f"s{i}.yaml").write_text(f"description: {'word ' * 30}end.\nreply: {{text: hi}}\n")
    command = [sys.executable, "-m", "mockllm", "list", "--scenarios", str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        process.stdout.read(10)
        process.stdout.close()  # like `| head -c 10`
        stderr = process.stderr.read().decode()
        process.wait(timeout=30)
    assert "Traceback" not in stderr and "Broken pipe" not in stderr, stderr


# -- play -------------------------------------------------------------------------


def test_play_prints_status_headers_one_line_per_beat_and_the_end(capsys):
    assert cli.main(["play", "hello", "--created", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = hello_plan()
    assert lines[0] == "@0.000s HTTP 200"
    headers = lines[1 : 1 + len(expected.headers)]
    assert headers[0] == "  Content-Type: text/event-stream; charset=utf-8"
    assert all(line.startswith("  ") for line in headers)
    beats = [BEAT.match(line) for line in lines[1 + len(expected.headers) : -1]]
    assert all(beats), "every other line is one beat"
    assert len(beats) == len(expected.beats)
    times = [float(beat[1]) for beat in beats]
    assert times == sorted(times) and times[-1] > 0
    assert '"created":1,' in beats[0][2]
    assert beats[-1][2] == "[DONE]"
    assert lines[-1] == f"@{times[-1]:.3f}s <eof>"


def test_play_no_stream_prints_one_json_write(capsys):
    assert cli.main(["play", "hello", "--created", "1", "--no-stream"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  Content-Type: application/json" in lines
    writes = [line for line in lines if re.match(r"^@\d+\.\d{3}s ", line)]
    assert len(writes) == 3  # status, the body, the end
    assert '"object": "chat.completion"' in writes[1]


def test_play_raw_writes_exactly_the_body_bytes(capsysbinary):
    assert cli.main(["play", "hello", "--created", "1", "--raw"]) == 0
    out = capsysbinary.readouterr().out
    assert out == hello_plan().body
    assert out.endswith(b"data: [DONE]\n\n")


def test_play_is_reproducible_for_a_seed_and_differs_for_another(capsysbinary):
    def play(*extra: str) -> bytes:
        assert cli.main(["play", "hello", "--created", "1", "--raw", *extra]) == 0
        return capsysbinary.readouterr().out

    assert play("--seed", "5") == play("--seed", "5")
    assert play("--seed", "5") != play("--seed", "6")
    assert play("--seed", "6") == hello_plan(seed=6).body


def test_play_speed_divides_the_printed_times(capsys):
    def last_time(*extra: str) -> float:
        assert cli.main(["play", "hello", "--created", "1", *extra]) == 0
        return float(capsys.readouterr().out.splitlines()[-1].split("s ")[0][1:])

    assert last_time("--speed", "10") == pytest.approx(last_time() / 10, abs=0.001)


def test_play_unknown_name_exits_1_listing_the_names(folder, capsys):
    assert cli.main(["play", "nope", "--scenarios", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "mockllm: no scenario named 'nope' (known: alpha, beta-long-name)\n"


# -- serve ------------------------------------------------------------------------


def test_serve_with_a_bad_scenario_folder_exits_1_without_starting(tmp_path, capsys, monkeypatch):
    def must_not_start(*args, **kwargs):
        raise AssertionError("the server started")

    monkeypatch.setattr(server, "serve_forever", must_not_start)
    bad = write(tmp_path / "bad/broken.yaml", "reply: {text: hi}\nfaults: 3\n")
    assert cli.main(["serve", "--port", "0", "--scenarios", str(tmp_path / "bad")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"{bad}:2: faults: expected a list, got '3'\n"


def test_serve_with_an_unknown_default_exits_1(folder, capsys, monkeypatch):
    monkeypatch.setattr(server, "serve_forever", None)  # calling it would raise TypeError
    assert cli.main(["serve", "--scenarios", str(folder), "--default", "gamma"]) == 1
    assert capsys.readouterr().err == "--default: no scenario named 'gamma' (known: alpha, beta-long-name)\n"


def test_serve_with_a_bad_quota_exits_2_saying_what_is_wrong(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--quota", "rpm=60,tpm=lots"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        "error: argument --quota: tpm: expected a whole number of at least 1, got 'lots'\n")


def test_serve_as_a_real_process_streams_hello_to_the_openai_sdk(tmp_path):
    hello = load_library(["builtin"]).get("hello")
    command = [sys.executable, "-m", "mockllm", "serve", "--port", "0", "--speed", "20"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
            try:
                first = lines.get(timeout=60)
            except queue.Empty:
                pytest.fail("no 'listening' line within 60 s")
            if not first:
                pytest.fail(f"serve exited before listening: {process.communicate(timeout=10)[1]}")
            found = re.fullmatch(r"mockllm listening on (http://127\.0\.0\.1:(\d+))\n", first)
            assert found, f"unexpected first line {first!r}"
            assert int(found[2]) > 0
            with openai.OpenAI(base_url=found[1] + "/v1", api_key="sk-test", max_retries=0, timeout=60) as sdk:
                stream = sdk.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
                )
                with stream:
                    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
            assert text == hello.reply.text
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class ServeProcess:
    """``mockllm serve --port 0 ARGS`` (or ``proxy``, ``record``) as a real
    process; its stdout lines are read by a thread, so a wait for one is bounded."""

    def __init__(self, cwd: Path, *args: str, env: dict | None = None, command: str = "serve") -> None:
        command = [sys.executable, "-m", "mockllm", command, "--port", "0", *args]
        environment = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def line(self, timeout: float = 60) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line from serve within {timeout} s")
        if not line:
            pytest.fail(f"serve exited: {self.process.communicate(timeout=10)[1]}")
        return line

    def url(self) -> str:
        """The URL of the listening line, which must come first."""
        found = re.fullmatch(r"mockllm listening on (http://127\.0\.0\.1:(\d+))\n", self.line())
        assert found, "the first line is not the listening line"
        return found[1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=10)


@pytest.fixture
def serve(tmp_path):
    """Start ``mockllm serve`` processes with ``serve(*args, env=...)``; each is killed at the end."""
    started: list[ServeProcess] = []

    def start(*args: str, env: dict | None = None, command: str = "serve") -> ServeProcess:
        started.append(ServeProcess(tmp_path, *args, env=env, command=command))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def get(url: str, **headers: str) -> tuple[int, dict[str, str]]:
    """(status, headers) of a GET, whatever the status."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_serve_prints_the_sandbox_url_after_the_listening_and_control_lines(serve):
    process = serve()
    url = process.url()
    assert process.line().startswith(f"control routes {url}/_mockllm/: open")
    assert process.line() == f"sandbox {url}/\n"
    assert get(url + "/")[0] == 200


def test_serve_quota_limits_every_scenario_with_the_providers_headers(serve):
    url = serve("--quota", "rpm=2,per=session", "--speed", "10").url()
    with openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0) as sdk:
        left = [sdk.chat.completions.with_raw_response.create(model="hello", messages=[{"role": "user", "content": "Hi"}])
                .headers["x-ratelimit-remaining-requests"] for _ in range(2)]
        with pytest.raises(openai.RateLimitError) as refused:
            sdk.chat.completions.create(model="hello", messages=[{"role": "user", "content": "Hi"}])
    assert left == ["1", "0"]
    assert refused.value.response.headers["retry-after"] == "3"  # 30 s at speed 10


def test_serve_allows_origins_and_hosts_from_flags_and_environment_variables(serve):
    env = dict(os.environ, MOCKLLM_ALLOW_ORIGINS="http://one.test, http://two.test:5173",
               MOCKLLM_ALLOW_HOSTS="env-host.internal")
    url = serve("--allow-host", "flag-host.internal", env=env).url()
    journal = url + "/_mockllm/journal"
    port = url.rsplit(":", 1)[1]
    for origin in ("http://one.test", "http://two.test:5173"):
        status, headers = get(journal, Origin=origin)
        assert (status, headers.get("Access-Control-Allow-Origin")) == (200, origin)
    assert get(journal, Origin="http://three.test")[0] == 403
    assert get(journal, Host=f"flag-host.internal:{port}")[0] == 200
    # A flag given replaces its environment variable, as for every other option.
    assert get(journal, Host=f"env-host.internal:{port}")[0] == 403


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {"MOCKLLM_ADMIN_TOKEN": b"tok\xff"}, "the admin token is not UTF-8 text"),
        (("--admin-token", "tok\n"), {}, "the admin token has control characters"),
        (("--allow-origin", "*"), {}, "expected an origin such as http://localhost:5173, got '*'"),
        ((), {"MOCKLLM_ALLOW_HOSTS": "mockllm:8000"}, "expected a host name or address with no port"),
    ],
    ids=["token-not-utf8", "token-newline", "origin-star", "host-with-port"],
)
def test_serve_refuses_bad_security_settings_with_one_line_and_exit_2(tmp_path, args, env, message):
    environment = {**os.environb, b"PYTHONUNBUFFERED": b"1"}
    environment.update({key.encode(): value if isinstance(value, bytes) else value.encode()
                        for key, value in env.items()})
    done = subprocess.run([sys.executable, "-m", "mockllm", "serve", "--port", "0", *args], cwd=tmp_path,
                          env=environment, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("mockllm: ") and message in done.stderr


def open_stream(url: str, scenario: str) -> socket.socket:
    """A raw socket with a stream of ``scenario`` begun on it (its first event read)."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    body = b'{"model": "%s", "stream": true, "messages": [{"role": "user", "content": "hi"}]}' % scenario.encode()
    connection.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (host.encode(), port.encode(), len(body), body))
    received = b""
    while b"data: " not in received:
        chunk = connection.recv(65536)
        assert chunk, f"the stream ended before its first event: {received!r}"
        received += chunk
    return connection


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_serve_stops_on_a_signal_ending_open_streams_after_the_grace_period_and_exits_0(serve, signal_number):
    process = serve("--grace", "1")
    url = process.url()
    with open_stream(url, "stall-forever") as connection:
        time.sleep(0.2)
        began = time.monotonic()
        process.process.send_signal(signal_number)
        try:
            _, err = process.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("serve did not stop within 30 s of the signal")
        took = time.monotonic() - began
        connection.settimeout(10)
        while connection.recv(65536):  # the server ended the stream: EOF, not a hang
            pass
    assert process.process.returncode == 0, err
    assert took >= 1  # the stream had its grace period
    assert "stopping: 1 open stream; letting it finish for up to 1s" in err
    assert "stopping: ended 1 stream still open" in err
    assert re.search(r"POST /v1/chat/completions 200 scenario=stall-forever .* outcome=server_shutdown", err), err
    assert "Traceback" not in err


def test_serve_with_no_open_stream_stops_at_once_on_sigterm(serve):
    process = serve()  # the default grace period, 5 s, is not waited for when nothing is open
    process.url()
    began = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    _, err = process.process.communicate(timeout=30)
    assert process.process.returncode == 0
    assert time.monotonic() - began < 4
    assert "stopping: 0 open streams" in err


def test_a_second_signal_ends_the_grace_period_at_once(serve):
    process = serve("--grace", "60")
    url = process.url()
    with open_stream(url, "stall-forever"):
        process.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30
        while "stopping: 1 open stream" not in (line := process.process.stderr.readline()):
            assert line and time.monotonic() < deadline, "serve did not log the open stream"
        process.process.send_signal(signal.SIGINT)
        try:
            _, err = process.process.communicate(timeout=30)  # far less than the 60 s grace
        except subprocess.TimeoutExpired:
            pytest.fail("a second signal did not end the grace period")
    assert process.process.returncode == 0
    assert "stopping: ended 1 stream still open" in err


def test_serve_logs_each_scenario_warning_at_start_up(tmp_path, monkeypatch, caplog):
    write(tmp_path / "slow.yaml", "reply: {text: hi}\ntiming: {per_token: 40}\n")

    async def stop_at_once(*args, **kwargs):
        return None

    monkeypatch.setattr(server, "serve_forever", stop_at_once)
    with caplog.at_level(logging.WARNING, logger="mockllm"):
        assert cli.main(["serve", "--scenarios", str(tmp_path), "--port", "0"]) == 0
    assert [r.getMessage() for r in caplog.records if "warning:" in r.getMessage()] == [
        f"{tmp_path / 'slow.yaml'}:2: warning: timing.per_token: 40 with no unit means 40 seconds; "
        "did you mean 40ms? Write 40s to keep seconds."
    ]


@pytest.mark.parametrize("name", list(DIALECTS), ids=list(DIALECTS))
def test_play_prints_any_format_as_its_route_would_send_it(name, capsysbinary):
    dialect = DIALECTS[name]
    assert cli.main(["play", "text-then-tool-call", "--format", name, "--raw", "--created", "1"]) == 0
    example = dialect.example("text-then-tool-call", "", stream=True)
    ask = dialect.parse(example.body, example.call)
    scenario = load_library().get("text-then-tool-call")
    assert capsysbinary.readouterr().out == pipeline.plan(scenario, ask, dialect, created=1).body


def test_play_refuses_an_unknown_format(capsys):
    with pytest.raises(SystemExit):
        cli.main(["play", "hello", "--format", "xml"])
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_record_and_proxy_as_real_processes_forward_to_the_upstream_and_record_it(serve, tmp_path):
    hello = load_library(["builtin"]).get("hello")
    upstream = serve("--speed", "20").url()
    recorder = serve("--upstream", upstream, "--out", str(tmp_path / "takes"), command="record")
    recorder_url = recorder.url()
    assert recorder.line() == f"forwarding to {upstream}\n"
    with openai.OpenAI(base_url=recorder_url + "/v1", api_key="sk-cli-secret-4242", max_retries=0, timeout=60) as sdk:
        reply = sdk.chat.completions.create(model="hello", messages=[{"role": "user", "content": "hi"}])
    [take] = (tmp_path / "takes").glob("*.yaml")
    assert take.name == "001-hi.yaml" and "sk-cli-secret-4242" not in take.read_text()
    assert cli.main(["validate", str(take)]) == 0

    proxy = serve("--upstream", upstream, "--seed", "3", command="proxy").url()
    with openai.OpenAI(base_url=proxy + "/v1", api_key="k", max_retries=0, timeout=60) as sdk:
        stream = sdk.chat.completions.create(
            model="hello", messages=[{"role": "user", "content": "hi"}], stream=True,
            extra_headers={"X-Mockllm-Faults": "drop(after=3)"})
        got = []
        with pytest.raises(openai.APIConnectionError):
            for part in stream:
                got += [part.choices[0].delta.content] if part.choices and part.choices[0].delta.content else []
    assert reply.choices[0].message.content == hello.reply.text and got == list(hello.reply.tokens[:3])


@pytest.mark.parametrize(("args", "message"), [
    (["record", "--upstream", "ftp://x"], "the upstream must be an http:// or https:// URL, got 'ftp://x'"),
    (["record", "--upstream", "http://x", "--timing", "slow"], "expected keep, none or compress:X"),
    (["record", "--upstream", "http://x", "--redact", "(a"], "invalid regular expression"),
])
def test_record_refuses_a_bad_option_saying_what_is_wrong(args, message, capsys):
    try:
        code = cli.main(args)
    except SystemExit as exited:
        code = exited.code
    assert code == 2 and message in capsys.readouterr().err
