"""The pytest plugin, as a suite elsewhere uses it: ``pytester`` writes a
throwaway project whose tests take the ``mockllm`` fixture (loaded through the
``pytest11`` entry point, never imported), runs it, and these tests assert on
its outcomes and output. The last tests use the fixture in this suite itself.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import openai
import pytest

from mockllm import ScenarioErrors
from tests.docs import page_with

# Every throwaway project runs as strictly as this suite: an unregistered
# marker or ini option, or a warning (an unclosed socket or event loop
# included), fails it.
INI = """
[pytest]
addopts = --strict-markers --strict-config -p no:cacheprovider
filterwarnings = error
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
mockllm_speed = 50
"""

CLIENT = """
import openai
import pytest

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def client(mockllm):
    with openai.OpenAI(base_url=mockllm.base_url, api_key="sk-test", max_retries=0, timeout=30) as client:
        yield client


def stream(client, model):
    chunks = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
    return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
"""

HELLO = "Hello! I am mockllm, a mock language model. How can I help you today?"


def run(pytester: pytest.Pytester, test: str, *args: str, ini: str = INI) -> pytest.RunResult:
    """Run one throwaway test module, with ``CLIENT``'s helpers in its conftest."""
    pytester.makeini(ini)
    pytester.makeconftest(CLIENT)
    pytester.makepyfile(test_it=test)
    return pytester.runpytest_subprocess(*args)


def scenario_file(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")


# -- clients ---------------------------------------------------------------

def test_a_sync_test_gets_the_default_reply_through_the_openai_sdk(pytester):
    result = run(pytester, f"""
        from conftest import MESSAGES, stream

        def test_streamed(mockllm, client):
            assert mockllm.base_url == mockllm.url + "/v1"
            assert mockllm.url.startswith("http://127.0.0.1:")
            assert stream(client, "gpt-4o") == {HELLO!r}

        def test_not_streamed(client):
            reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert reply.choices[0].message.content == {HELLO!r}
    """)
    result.assert_outcomes(passed=2)


def test_an_async_test_streams_through_the_async_sdk(pytester):
    result = run(pytester, f"""
        import openai
        from conftest import MESSAGES

        async def test_async(mockllm):
            async with openai.AsyncOpenAI(base_url=mockllm.base_url, api_key="sk-test", max_retries=0) as client:
                chunks = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
                text = "".join([chunk.choices[0].delta.content or "" async for chunk in chunks if chunk.choices])
            assert text == {HELLO!r}
            [entry] = mockllm.journal()  # a blocking helper, safe in the test's loop
            assert entry["outcome"] == "completed"
    """)
    result.assert_outcomes(passed=1)


# -- shaping the server ----------------------------------------------------

def test_add_scenario_takes_a_dict_or_yaml_text_and_the_sdk_gets_its_reply(pytester):
    result = run(pytester, """
        from conftest import stream

        def test_a_dict(mockllm, client):
            assert mockllm.add_scenario({"name": "from-dict", "reply": {"text": "Shaped as a dict."}}) == "from-dict"
            assert stream(client, "from-dict") == "Shaped as a dict."

        def test_yaml_text(mockllm, client):
            name = mockllm.add_scenario('''
                name: from-yaml
                reply:
                  tokens: ["Shaped", " as", " YAML."]
            ''')
            assert name == "from-yaml"
            assert stream(client, "from-yaml") == "Shaped as YAML."

        def test_replace_and_remove(mockllm, client):
            mockllm.add_scenario({"name": "gpt-4o", "reply": {"text": "First."}})
            mockllm.add_scenario({"name": "gpt-4o", "reply": {"text": "Second."}})
            assert stream(client, "gpt-4o") == "Second."
            mockllm.remove_scenario("gpt-4o")
            assert stream(client, "gpt-4o").startswith("Hello!")  # the default again
            assert "gpt-4o" not in [s["name"] for s in mockllm.scenarios()]
    """)
    result.assert_outcomes(passed=3)


def test_a_refused_scenario_raises_with_every_problem_and_its_line(pytester):
    result = run(pytester, """
        import pytest
        from mockllm import MockllmError, ScenarioErrors

        def test_refused(mockllm):
            with pytest.raises(ScenarioErrors) as info:
                mockllm.add_scenario("name: broken\\nreply:\\n  txt: typo\\ntiming:\\n  first_token: soon\\n")
            # The message: one line per problem, each with its line number.
            assert str(info.value).splitlines() == [
                "<scenario>:3: reply: unknown key 'txt'; did you mean 'text'?",
                "<scenario>:3: reply: needs 'text', 'tokens' or 'tool_calls'",
                "<scenario>:5: timing.first_token: expected a duration like 250ms, 1.5s or 2m, got 'soon'",
            ]
            assert [p.line for p in info.value.problems] == [3, 3, 5]
            assert "broken" not in [s["name"] for s in mockllm.scenarios()]

        def test_a_dict_without_a_name(mockllm):
            with pytest.raises(ScenarioErrors, match="name: missing"):
                mockllm.add_scenario({"reply": {"text": "Nameless."}})

        def test_removing_an_unknown_scenario(mockllm):
            with pytest.raises(MockllmError, match="HTTP 404: No scenario named 'nope'"):
                mockllm.remove_scenario("nope")
    """)
    result.assert_outcomes(passed=3)


# -- the journal -----------------------------------------------------------

def test_the_journal_shows_the_sdk_retrying_exactly_twice_through_two_429s(pytester):
    result = run(pytester, """
        import openai
        from conftest import MESSAGES, stream

        LIMITED = {"faults": [{"status": {"code": 429, "headers": {"retry-after-ms": "10"}}}]}

        def test_retries(mockllm):
            mockllm.add_scenario({"name": "limited", "reply": {"text": "At last."}, "attempts": [LIMITED, LIMITED, {}]})
            with openai.OpenAI(base_url=mockllm.base_url, api_key="sk-test", max_retries=2) as client:
                response = client.chat.completions.with_raw_response.create(model="limited", messages=MESSAGES)
            assert response.retries_taken == 2
            assert response.parse().choices[0].message.content == "At last."
            entries = mockllm.journal()
            assert [
                (e["method"], e["route"], e["scenario"], e["attempt"], e["status"], e["outcome"], e["client_retry_count"])
                for e in entries
            ] == [
                ("POST", "/v1/chat/completions", "limited", 1, 429, "completed", 0),
                ("POST", "/v1/chat/completions", "limited", 2, 429, "completed", 1),
                ("POST", "/v1/chat/completions", "limited", 3, 200, "completed", 2),
            ]
            assert entries[0]["faults"] == ["status(code=429,headers={retry-after-ms:10})"]
            assert entries[2]["faults"] == []
            assert entries[2]["request"]["model"] == "limited"

        def test_filters(mockllm, client):
            mockllm.add_scenario({"name": "cut", "reply": {"text": "One two three four."}, "faults": [{"drop": {"after": 2}}]})
            try:
                stream(client, "cut")
            except openai.APIConnectionError:
                pass
            stream(client, "gpt-4o")
            [cut] = mockllm.journal(scenario="cut")
            assert (cut["outcome"], cut["tokens"]) == ("dropped", 2)
            assert mockllm.journal(outcome="dropped") == [cut]
            assert [e["scenario"] for e in mockllm.journal(outcome="completed")] == ["hello"]
            assert len(mockllm.journal(session=cut["session"])) == 2
            assert mockllm.journal(session="someone-else") == []
    """)
    result.assert_outcomes(passed=2)


def test_reset_clears_the_journal_and_the_attempt_counters(pytester):
    result = run(pytester, """
        import openai
        import pytest
        from conftest import stream

        def test_reset(mockllm, client):
            mockllm.add_scenario('''
                name: flaky
                reply: {text: "Second time lucky."}
                attempts:
                  - faults: [{drop: {before: headers}}]
                  - faults: []
            ''')
            with pytest.raises(openai.APIConnectionError):
                stream(client, "flaky")
            assert stream(client, "flaky") == "Second time lucky."
            assert [e["attempt"] for e in mockllm.journal()] == [1, 2]

            mockllm.reset()
            assert mockllm.journal() == []
            with pytest.raises(openai.APIConnectionError):  # attempt 1 again
                stream(client, "flaky")
            assert [e["attempt"] for e in mockllm.journal()] == [1]
            assert "flaky" in [s["name"] for s in mockllm.scenarios()]  # scenarios stay
    """)
    result.assert_outcomes(passed=1)


# -- configuration ---------------------------------------------------------

# A first token an hour away: the SDK's 30-second timeout fails the test
# unless the configured speed really reaches the server.
SLOW = """
    name: {name}
    reply: {{text: "{text}"}}
    timing: {{first_token: 60m}}
"""


def test_the_ini_options_serve_the_projects_own_scenario_folder(pytester, monkeypatch):
    scenario_file(pytester.path / "llm" / "scenarios", "support", SLOW.format(name="support", text="From the ini folder."))
    ini = INI.replace("mockllm_speed = 50", "mockllm_speed = 36000") + (
        "mockllm_scenarios =\n    llm/scenarios\nmockllm_default = support\n"
    )
    pytester.makeini(ini)
    pytester.makeconftest(CLIENT)
    pytester.mkdir("sub")
    pytester.makepyfile(**{"sub/test_it": """
        import openai
        import pytest
        from conftest import MESSAGES, stream

        def test_the_folder(mockllm, client):
            assert [(s["name"], s["default"]) for s in mockllm.scenarios()] == [("support", True)]
            assert stream(client, "support") == "From the ini folder."
            assert stream(client, "gpt-4o") == "From the ini folder."  # mockllm_default

        def test_the_builtin_library_is_not_loaded(client):
            with pytest.raises(openai.NotFoundError, match="No scenario named 'hello'"):
                client.chat.completions.create(model="x", messages=MESSAGES, extra_headers={"X-Mockllm-Scenario": "hello"})
    """})
    # Run from a sub-folder: the paths are relative to the ini file, not the working directory.
    monkeypatch.chdir(pytester.path / "sub")
    result = pytester.runpytest_subprocess(str(pytester.path))
    result.assert_outcomes(passed=2)


def test_the_marker_overrides_the_ini_folder_and_speed(pytester):
    scenario_file(pytester.path / "project", "support", "name: support\nreply: {text: From the ini folder.}\n")
    # Relative to the test file, which is in tests/: not to the ini file.
    scenario_file(pytester.path / "tests" / "marked", "slow", SLOW.format(name="slow", text="From the marker folder."))
    pytester.makeini(
        INI.replace("mockllm_speed = 50", "mockllm_speed = 1") + "mockllm_scenarios = project\nmockllm_default = support\n"
    )
    pytester.makeconftest(CLIENT)
    pytester.makepyfile(**{"tests/test_it": """
        import pytest
        from conftest import stream

        def names(mockllm):
            return [s["name"] for s in mockllm.scenarios()]

        def test_the_ini_folder(mockllm, client):
            assert names(mockllm) == ["support"]
            assert stream(client, "gpt-4o") == "From the ini folder."

        @pytest.mark.mockllm(scenarios=["marked"], speed=36000)
        def test_the_marker(mockllm, client):
            # The ini's default went with the ini's folder.
            assert [(s["name"], s["default"]) for s in mockllm.scenarios()] == [("slow", False)]
            assert stream(client, "slow") == "From the marker folder."

        @pytest.mark.mockllm(scenarios=["builtin", "marked"], default="slow", speed=36000)
        def test_builtin_keeps_its_meaning(mockllm, client):
            assert {"hello", "slow"} <= set(names(mockllm))
            assert stream(client, "gpt-4o") == "From the marker folder."

        @pytest.mark.mockllm(chaos="status=1", seed=3)
        def test_chaos(mockllm, client):
            with pytest.raises(Exception):
                stream(client, "support")
            [entry] = mockllm.journal()
            assert entry["status"] in (429, 500, 502, 503)
            assert entry["faults"] == [f"status(code={entry['status']})"]

        @pytest.mark.parametrize("mockllm", [{"scenarios": "marked", "speed": 36000}], indirect=True)
        def test_an_indirect_parameter(mockllm, client):
            assert stream(client, "slow") == "From the marker folder."

        @pytest.mark.mockllm(sped=2)
        def test_a_misspelt_keyword(mockllm):
            pass
    """})
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(["*mockllm: @pytest.mark.mockllm: unknown keyword 'sped' (did you mean 'speed'?)"])


def test_scenarios_that_do_not_load_fail_the_setup_with_every_problem(pytester):
    scenario_file(pytester.path / "project", "broken", "name: broken\nreply: {txt: typo}\n")
    result = run(pytester, "def test_it(mockllm):\n    pass\n", ini=INI + "mockllm_scenarios = project\n")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*mockllm: cannot load the scenarios:",
        "*project/broken.yaml:2: reply: unknown key 'txt'; did you mean 'text'?",
    ])


# -- failures and teardown -------------------------------------------------

def test_a_failing_test_prints_the_whole_journal(pytester):
    result = run(pytester, """
        from conftest import stream

        def test_fails_after_two_exchanges(mockllm, client):
            stream(client, "gpt-4o")
            stream(client, "gpt-4o")
            assert False, "the app showed the wrong thing"

        def test_fails_before_any_request(mockllm):
            assert False

        def test_fails_without_the_fixture():
            assert False

        def test_passes(mockllm, client):
            stream(client, "gpt-4o")
    """)
    result.assert_outcomes(failed=3, passed=1)
    result.stdout.fnmatch_lines([
        "*_ test_fails_after_two_exchanges _*",
        "*the app showed the wrong thing*",
        "*- mockllm journal -*",
        "#1 POST /v1/chat/completions 200 scenario=hello session=127.0.0.1 attempt=1 outcome=completed"
        " tokens=14 faults=- client_retry_count=0",
        "#2 POST /v1/chat/completions 200 scenario=hello session=127.0.0.1 attempt=2 outcome=completed"
        " tokens=14 faults=- client_retry_count=0",
        "*_ test_fails_before_any_request _*",
        "*- mockllm journal -*",
        "no requests reached http://127.0.0.1:*",
        "*_ test_fails_without_the_fixture _*",
    ])
    # One section per failed test that used the fixture: none for the others.
    assert result.stdout.str().count("mockllm journal") == 2


def test_the_server_is_stopped_after_each_test(pytester):
    result = run(pytester, """
        import socket
        import threading
        import pytest

        SEEN = []

        def test_uses_the_server(mockllm):
            mockllm.add_scenario({"name": "only-here", "reply": {"text": "x"}})
            host, port = mockllm.url.removeprefix("http://").split(":")
            socket.create_connection((host, int(port)), timeout=5).close()  # listening now
            SEEN.append((host, int(port)))

        def test_the_port_refuses_connections_afterwards():
            [address] = SEEN
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(address, timeout=5)
            assert [t for t in threading.enumerate() if t.name == "mockllm-server"] == []

        def test_the_next_server_is_fresh(mockllm):
            assert "only-here" not in [s["name"] for s in mockllm.scenarios()]
            assert mockllm.journal() == []
    """)
    result.assert_outcomes(passed=3)


# -- verdicts ----------------------------------------------------------------

def test_verdicts_judge_the_only_session_and_assert_client_takes_false_for_fail(pytester):
    result = run(pytester, """
        import httpx
        import pytest

        REFUSED = {"name": "refused", "reply": {"text": "x"}, "faults": [{"status": {"code": 400}}]}

        def retry_at_once(mockllm, times, session=None):
            headers = {"X-Mockllm-Session": session} if session else {}
            with httpx.Client(headers=headers) as http:
                for _ in range(times):
                    http.post(mockllm.base_url + "/chat/completions", json={"model": "refused", "messages": []})

        def test_a_storm(mockllm):
            mockllm.add_scenario(REFUSED)
            retry_at_once(mockllm, 4)
            judged = mockllm.verdicts()
            assert judged["no_retry_on_non_retryable"]["result"] == "fail"
            assert judged["bounded_retries"]["result"] == "pass"
            assert mockllm.verdicts(max_retries=2)["bounded_retries"]["result"] == "fail"
            mockllm.assert_client(no_retry_on_non_retryable=False, backed_off=False, max_retries=2,
                                  bounded_retries=False)

        def test_two_sessions_need_a_name(mockllm):
            mockllm.add_scenario(REFUSED)
            retry_at_once(mockllm, 1, "a")
            retry_at_once(mockllm, 1, "b")
            mockllm.assert_client("a", no_retry_on_non_retryable=True)
            mockllm.verdicts()

        def test_an_unknown_verdict(mockllm):
            mockllm.assert_client(politeness=True)
    """)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*name the session to judge: the journal has 2 (a, b)*",
        "*assert_client: no verdict named politeness; the verdicts are honoured_retry_after, backed_off*",
    ])


# -- the README example ----------------------------------------------------

README_INI = '''\
# pyproject.toml
[tool.pytest.ini_options]
mockllm_scenarios = ["builtin", "tests/scenarios"]  # the built-in library and the project's own
mockllm_speed = "20"  # every delay divided by 20
'''

README_SCENARIO = '''\
# tests/scenarios/refund.yaml
name: refund-policy
match:
  prompt: "(?i)refund"
reply:
  text: "You can return any item within 30 days."
'''

README_TEST = '''\
# tests/test_chat.py
import openai
import pytest


def answer(client: openai.OpenAI, question: str, model: str = "gpt-4o") -> str:
    """The code under test: stream a reply and return its text."""
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], stream=True
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


@pytest.fixture
def client(mockllm):
    with openai.OpenAI(base_url=mockllm.base_url, api_key="sk-test") as client:
        yield client


def test_a_refund_question_gets_the_policy(mockllm, client):
    assert answer(client, "Can I get a refund?") == "You can return any item within 30 days."
    [exchange] = mockllm.journal()
    assert exchange["scenario"] == "refund-policy"
    assert exchange["outcome"] == "completed"


def test_the_sdk_retries_through_two_rate_limits(mockllm, client):
    mockllm.add_scenario("""
        name: gpt-4o
        reply: {text: "Third time lucky."}
        attempts:
          - faults: [{status: {code: 429, headers: {retry-after-ms: "10"}}}]
          - faults: [{status: {code: 429, headers: {retry-after-ms: "10"}}}]
          - faults: []
    """)
    assert answer(client, "Hello?") == "Third time lucky."
    exchanges = mockllm.journal(scenario="gpt-4o")
    assert [e["status"] for e in exchanges] == [429, 429, 200]
    assert [e["client_retry_count"] for e in exchanges] == [0, 1, 2]


@pytest.mark.mockllm(speed=100)  # this test only: delays divided by 100
def test_a_dropped_stream_is_an_error_not_an_answer(mockllm, client):
    with pytest.raises(openai.APIConnectionError):
        answer(client, "Tell me a story.", model="drop-reset")  # a built-in scenario
    [exchange] = mockllm.journal()
    assert exchange["outcome"] == "dropped"
    assert exchange["tokens"] == 5
'''

README_SECTION = "# Testing with pytest"


def test_the_readme_example_passes_in_a_fresh_process(pytester):
    """In a subprocess, as a project that only installed mockllm runs it: the
    fixture comes from the entry point, and the strict settings hold."""
    for block in (README_INI, README_SCENARIO, README_TEST):
        name, _, body = block.partition("\n")
        path = pytester.path / name.removeprefix("# ")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    with (pytester.path / "pyproject.toml").open("a", encoding="utf-8") as ini:
        ini.write('addopts = ["--strict-markers", "--strict-config", "-p", "no:cacheprovider"]\n')
        ini.write('filterwarnings = ["error"]\n')
        # Not the example's concern: pytest-asyncio, installed here, warns when this is unset.
        ini.write('asyncio_default_fixture_loop_scope = "function"\n')
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=3)


def test_the_readme_shows_the_tested_example():
    section = page_with(f"{README_SECTION}\n").split(f"{README_SECTION}\n", 1)[1]
    blocks = re.findall(r"```(?:toml|yaml|python)\n(.*?)```", section, re.DOTALL)
    assert [README_INI, README_SCENARIO, README_TEST] == blocks[:3]


# -- the fixture in this suite ---------------------------------------------

@pytest.mark.mockllm(speed=50)
async def test_the_fixture_serves_this_suite_too(mockllm):
    name = mockllm.add_scenario({"name": "ours", "reply": {"tokens": ["From", " our", " suite."]}})
    async with openai.AsyncOpenAI(base_url=mockllm.base_url, api_key="sk-test", max_retries=0) as client:
        chunks = await client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    assert text == "From our suite."
    [entry] = mockllm.journal()
    assert (entry["scenario"], entry["outcome"], entry["tokens"]) == ("ours", "completed", 3)
    with pytest.raises(ScenarioErrors, match=r"<scenario>:1: .*'tokenz'"):
        mockllm.add_scenario("{name: bad, reply: {tokenz: []}}")
