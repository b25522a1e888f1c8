"""A mounted content route refuses a field of the wrong type with its 400,
as the chat route does, instead of ignoring it."""

from __future__ import annotations

import json

import pytest

from .test_mounts import post, serve  # noqa: F401  (serve is a fixture)

REFUSED = [
    ({"message": "hi", "model": 5}, "model"),
    ({"messages": [7]}, "messages[0]"),
    ({"messages": [{"role": "bot", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": 1, "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": {"text": "hi"}}]}, "messages[0].content"),
]
IDS = ["model-a-number", "message-a-number", "unknown-role", "role-a-number",
       "content-a-number", "content-an-object"]


@pytest.mark.parametrize(("body", "param"), REFUSED, ids=IDS)
async def test_a_bad_field_at_a_content_mount_is_a_400_naming_it(serve, body, param):  # noqa: F811
    server = await serve()
    status, headers, received, _ = await post(server, "/api/chat", body)
    assert status == 400
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    error = json.loads(received)["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert error["message"].startswith(("Invalid type for", "Invalid value:"))


async def test_strings_objects_and_a_null_model_are_fine_at_a_content_mount(serve):  # noqa: F811
    server = await serve()
    body = {"model": None, "messages": ["a poem please", {"role": "assistant", "content": None},
                         {"role": "user", "content": [{"type": "text", "text": "poem"}]}]}
    status, _, received, _ = await post(server, "/api/chat", body)
    assert status == 200 and received.endswith(b"data: [DONE]\n\n")
