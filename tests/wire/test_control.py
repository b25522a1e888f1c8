"""The control routes under ``/_mockllm/``: health, the scenario list, adding,
replacing and removing scenarios at run time, and reset, through a real
aiohttp client. A refused change leaves the scenario list exactly as it was,
and the server keeps answering."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

CONTROL = "/_mockllm"
CHAT = "/v1/chat/completions"
ERROR_KEYS = {"message", "type", "param", "code"}


async def call(server, method: str, path: str, *, data: bytes | str | None = None, headers=None):
    """(status, headers, JSON body or None) of one request to ``server``."""
    async with aiohttp.ClientSession() as session:
        async with session.request(method, server.url + path, data=data, headers=headers) as response:
            body = await response.read()
            return response.status, response.headers, json.loads(body) if body else None


async def chat(server, model: str, prompt: str = "hi", **headers: str):
    """(status, X-Mockllm-Scenario, content or error) of a ``stream: false`` chat request."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": False}
    status, response_headers, data = await call(server, "POST", CHAT, data=json.dumps(body), headers=headers)
    if status != 200:
        return status, response_headers.get("X-Mockllm-Scenario"), data["error"]
    return status, response_headers["X-Mockllm-Scenario"], data["choices"][0]["message"]["content"]


async def names(server) -> list[str]:
    status, _, data = await call(server, "GET", f"{CONTROL}/scenarios")
    assert status == 200
    return [s["name"] for s in data["scenarios"]]


async def add(server, text: str | bytes):
    return await call(server, "POST", f"{CONTROL}/scenarios", data=text)


@pytest.fixture
async def two(start_server, write_scenario):
    """A server on two files whose match rules both take prompts with "poem" in them:
    ``first`` wins, being first in load order; ``second`` is the default."""
    write_scenario("first", 'description: The first.\nmatch: {prompt: poem}\nreply: {text: from first}\n')
    write_scenario("second", 'match: {prompt: poem}\nreply: {text: from second}\n')
    return await start_server([write_scenario.folder], default="second")


# -- reading -------------------------------------------------------------

async def test_health_says_ok_with_the_number_of_scenarios(two):
    status, _, data = await call(two, "GET", f"{CONTROL}/health")
    assert status == 200
    assert data["status"] == "ok"
    assert data["scenarios"] == 2


async def test_the_list_gives_each_scenarios_name_description_and_source_file_in_load_order(two, write_scenario):
    status, _, data = await call(two, "GET", f"{CONTROL}/scenarios")
    assert status == 200
    assert data["scenarios"] == [
        {"name": "first", "description": "The first.", "source": str(write_scenario.folder / "first.yaml"),
         "default": False},
        {"name": "second", "description": "", "source": str(write_scenario.folder / "second.yaml"),
         "default": True},
    ]


# -- adding ----------------------------------------------------------------

async def test_a_new_yaml_scenario_is_201_and_selectable_by_model_and_match_rule_at_once(two):
    status, _, data = await add(two, "name: fresh\ndescription: Added.\nmatch: {prompt: sonnet}\nreply: {text: so fresh}\n")
    assert (status, data) == (201, {"name": "fresh", "replaced": False, "warnings": []})
    assert await names(two) == ["first", "second", "fresh"]
    assert await chat(two, "fresh") == (200, "fresh", "so fresh")
    assert await chat(two, "gpt-4o", "write a sonnet") == (200, "fresh", "so fresh")
    _, _, listed = await call(two, "GET", f"{CONTROL}/scenarios")
    assert listed["scenarios"][-1] == {
        "name": "fresh", "description": "Added.", "source": "(added at run time)", "default": False
    }


async def test_a_json_body_is_accepted_like_yaml(two):
    body = json.dumps({"name": "from-json", "reply": {"tokens": ["a", "b"]}, "timing": {"per_token": "1ms"}})
    status, _, data = await add(two, body)
    assert (status, data) == (201, {"name": "from-json", "replaced": False, "warnings": []})
    assert await chat(two, "from-json") == (200, "from-json", "ab")


async def test_adding_an_existing_name_replaces_it_with_200_and_keeps_its_place_in_match_order(two):
    status, _, data = await add(two, "name: first\nmatch: {prompt: poem}\nreply: {text: first again}\n")
    assert (status, data) == (200, {"name": "first", "replaced": True, "warnings": []})
    assert await names(two) == ["first", "second"]
    # Both rules still match; "first" still wins, so it kept its place instead of moving last.
    assert await chat(two, "gpt-4o", "a poem please") == (200, "first", "first again")
    assert await chat(two, "first") == (200, "first", "first again")


# -- refusing a bad scenario -------------------------------------------------

BAD_SCENARIOS = [
    (
        "name: bad\nreply: {text: hi}\ntiming: {per_token: 5x}\nbogus: 1\n",
        "timing.per_token",
        [3, 4],
        ["timing.per_token: expected a duration", "unknown key 'bogus'"],
    ),
    ('{"name": "bad", "reply": {"text": 5}}', "reply.text", [1], ["reply.text: expected a string"]),
    ("reply: {text: hi}\n", "name", [1], ["name: missing"]),
    ("name: ../x\nreply: {text: hi}\n", "name", [1], ["'../x' is not a valid name"]),
    ("name: bad\nreply: {text: [unclosed}\n", None, [2], ["invalid YAML"]),
]


@pytest.mark.parametrize(
    ("text", "param", "lines", "messages"),
    BAD_SCENARIOS,
    ids=["bad-duration-and-unknown-key", "json-wrong-type", "no-name", "path-separator-in-name", "yaml-syntax"],
)
async def test_a_bad_scenario_is_422_naming_the_field_and_each_problem_and_changes_nothing(
    two, text, param, lines, messages
):
    before = await names(two)
    status, headers, data = await add(two, text)
    assert status == 422
    assert headers["Content-Type"].startswith("application/json")
    assert set(data["error"]) == ERROR_KEYS
    assert data["error"]["param"] == param
    assert data["error"]["code"] == "invalid_scenario"
    assert [p["line"] for p in data["problems"]] == lines
    for problem, message in zip(data["problems"], messages):
        assert message in problem["message"]
    for line in lines:
        assert f"line {line}: " in data["error"]["message"]
    assert await names(two) == before


async def test_a_bad_replacement_leaves_the_old_scenario_serving(two):
    status, _, _ = await add(two, "name: first\nreply: {text: 5x, tokenize: nope}\n")
    assert status == 422
    assert await chat(two, "first") == (200, "first", "from first")


async def test_a_yaml_python_tag_is_refused_and_never_run(two, tmp_path: Path):
    marker = tmp_path / "ran"
    text = f'name: evil\nreply: !!python/object/apply:os.system ["touch {marker}"]\n'
    before = await names(two)
    status, _, data = await add(two, text)
    assert status == 422
    assert [p["line"] for p in data["problems"]] == [2]
    assert "unsupported YAML tag" in data["problems"][0]["message"]
    assert not marker.exists()
    assert await names(two) == before


async def test_a_body_that_is_not_utf8_is_400_and_changes_nothing(two):
    before = await names(two)
    status, _, data = await add(two, "name: caf\xe9\nreply: {text: hi}\n".encode("latin-1"))
    assert status == 400
    assert set(data["error"]) == ERROR_KEYS
    assert "UTF-8" in data["error"]["message"]
    assert await names(two) == before
    assert (await call(two, "GET", f"{CONTROL}/health"))[0] == 200


async def test_a_body_over_max_body_is_413_and_the_server_stays_up(start_server, write_scenario):
    write_scenario("only", "reply: {text: hi}\n")
    server = await start_server([write_scenario.folder], max_body=1000)
    text = "name: big\nreply: {text: " + "x" * 2000 + "}\n"
    status, _, data = await add(server, text)
    assert status == 413
    assert data["error"]["code"] == "request_too_large"
    assert await names(server) == ["only"]
    assert await chat(server, "only") == (200, "only", "hi")


# -- removing --------------------------------------------------------------

async def test_delete_is_204_and_the_name_then_falls_through_to_the_default(two):
    status, _, body = await call(two, "DELETE", f"{CONTROL}/scenarios/first")
    assert (status, body) == (204, None)
    assert await names(two) == ["second"]
    assert await chat(two, "first", "a poem please") == (200, "second", "from second")
    status, _, error = await chat(two, "gpt-4o", **{"X-Mockllm-Scenario": "first"})
    assert status == 404
    assert "No scenario named 'first'" in error["message"]


async def test_delete_of_an_unknown_name_is_404_in_the_openai_shape(two):
    status, headers, data = await call(two, "DELETE", f"{CONTROL}/scenarios/nope")
    assert status == 404
    assert headers["Content-Type"].startswith("application/json")
    assert set(data["error"]) == ERROR_KEYS
    assert data["error"]["code"] == "scenario_not_found"
    assert "'nope'" in data["error"]["message"]
    assert await names(two) == ["first", "second"]


async def test_delete_of_a_name_with_an_encoded_path_separator_is_refused(two):
    status, _, _ = await call(two, "DELETE", f"{CONTROL}/scenarios/..%2Ffirst")
    assert status == 404
    assert await names(two) == ["first", "second"]


async def test_a_deleted_builtin_is_no_longer_selectable_by_name_or_by_its_match_rule(start_server):
    server = await start_server(speed=50)
    assert (await chat(server, "gpt-4o", "write me a poem"))[:2] == (200, "poem")
    status, _, _ = await call(server, "DELETE", f"{CONTROL}/scenarios/poem")
    assert status == 204
    assert "poem" not in await names(server)
    status, scenario, _ = await chat(server, "poem", "write me a poem")
    assert (status, scenario) == (200, "hello")


async def test_a_deleted_default_leaves_unmatched_requests_with_a_404(two):
    assert (await call(two, "DELETE", f"{CONTROL}/scenarios/second"))[0] == 204
    status, _, listed = await call(two, "GET", f"{CONTROL}/scenarios")
    assert [s["default"] for s in listed["scenarios"]] == [False]
    status, _, error = await chat(two, "gpt-4o")
    assert status == 404
    assert "no default scenario" in error["message"]


# -- reset -----------------------------------------------------------------

async def test_reset_restarts_attempt_counting_and_clears_the_journal(start_server, write_scenario):
    write_scenario("flaky", "reply: {text: ok}\nattempts:\n  - faults: [{status: {code: 429}}]\n  - faults: []\n")
    server = await start_server([write_scenario.folder])
    session = {"X-Mockllm-Session": "s"}
    assert (await chat(server, "flaky", **session))[0] == 429
    assert await chat(server, "flaky", **session) == (200, "flaky", "ok")
    assert len((await call(server, "GET", f"{CONTROL}/journal"))[2]["entries"]) == 2

    status, _, body = await call(server, "POST", f"{CONTROL}/reset")
    assert (status, body) == (204, None)
    assert (await call(server, "GET", f"{CONTROL}/journal"))[2]["entries"] == []

    async with aiohttp.ClientSession() as client:
        payload = {"model": "flaky", "messages": [{"role": "user", "content": "hi"}], "stream": False}
        async with client.post(server.url + CHAT, json=payload, headers=session) as response:
            assert response.status == 429
            assert response.headers["X-Mockllm-Attempt"] == "1"
    [entry] = (await call(server, "GET", f"{CONTROL}/journal"))[2]["entries"]
    assert entry["attempt"] == 1


async def test_a_scenario_added_with_a_doubtful_duration_is_added_with_its_warning(builtin):
    text = "name: slowpoke\nreply: {text: hi}\ntiming: {per_token: 40}\n"
    status, _, data = await call(builtin, "POST", f"{CONTROL}/scenarios", data=text)
    assert status == 201
    assert data["name"] == "slowpoke"
    assert [w["line"] for w in data["warnings"]] == [3]
    assert "40 with no unit means 40 seconds" in data["warnings"][0]["message"]
    status, _, data = await call(builtin, "POST", f"{CONTROL}/scenarios", data="name: fine\nreply: {text: hi}\n")
    assert data["warnings"] == []
