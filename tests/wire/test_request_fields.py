"""Each known request field is checked as the real API checks it: a bad value
is an ``openai.BadRequestError`` naming the field, in the API's own words."""

from __future__ import annotations

import json

import aiohttp
import openai
import pytest

HI = [{"role": "user", "content": "hi"}]
FUNCTION = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}

# (changes to a good request, param, the API's message or None where only the param is pinned)
REFUSED = [
    ({"model": None}, "model", "Invalid type for 'model': expected a string, but got null instead."),
    ({"model": 4}, "model", "Invalid type for 'model': expected a string, but got an integer instead."),
    ({"messages": "hi"}, "messages",
     "Invalid type for 'messages': expected an array of objects, but got a string instead."),
    ({"messages": [{"role": "bot", "content": "hi"}]}, "messages[0].role",
     "Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."),
    ({"messages": [{"role": None, "content": "hi"}]}, "messages[0].role",
     "Invalid type for 'messages[0].role': expected a string, but got null instead."),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content",
     "Invalid type for 'messages[0].content': expected one of a string or array of objects, "
     "but got an integer instead."),
    ({"messages": [{"role": "user", "content": {"text": "hi"}}]}, "messages[0].content", None),
    ({"messages": [{"role": "user", "content": ["hi"]}]}, "messages[0].content[0]",
     "Invalid type for 'messages[0].content[0]': expected an object, but got a string instead."),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text",
     "Missing required parameter: 'messages[0].content[0].text'."),
    ({"n": 1000}, "n", "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 1000 instead."),
    ({"n": -1}, "n", "Invalid 'n': integer below minimum value. Expected a value >= 1, but got -1 instead."),
    ({"n": 0}, "n", "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."),
    ({"n": "2"}, "n", "Invalid type for 'n': expected an integer, but got a string instead."),
    ({"n": 2}, "n", "Unsupported value: 'n' does not support 2 with this model. "
                    "Only the default (1) value is supported (mockllm answers with one choice)."),
    ({"max_tokens": -5}, "max_tokens",
     "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got -5 instead."),
    ({"max_tokens": 1.5}, "max_tokens",
     "Invalid type for 'max_tokens': expected an integer, but got a decimal number instead."),
    ({"max_completion_tokens": 0}, "max_completion_tokens",
     "Invalid 'max_completion_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead."),
    ({"temperature": 99}, "temperature",
     "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 99 instead."),
    ({"temperature": -0.5}, "temperature",
     "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got -0.5 instead."),
    ({"temperature": "hot"}, "temperature",
     "Invalid type for 'temperature': expected a decimal, but got a string instead."),
    ({"top_p": 1.5}, "top_p",
     "Invalid 'top_p': decimal above maximum value. Expected a value <= 1, but got 1.5 instead."),
    ({"presence_penalty": 3}, "presence_penalty",
     "Invalid 'presence_penalty': decimal above maximum value. Expected a value <= 2, but got 3 instead."),
    ({"frequency_penalty": -2.5}, "frequency_penalty",
     "Invalid 'frequency_penalty': decimal below minimum value. Expected a value >= -2, but got -2.5 instead."),
    ({"stream": "yes"}, "stream", "Invalid type for 'stream': expected a boolean, but got a string instead."),
    ({"stream": True, "stream_options": {"include_usage": 1}}, "stream_options.include_usage", None),
    ({"stream_options": {"include_usage": True}}, "stream_options",
     "The 'stream_options' parameter is only allowed when 'stream' is enabled."),
    ({"tools": "none"}, "tools", "Invalid type for 'tools': expected an array of objects, but got a string instead."),
    ({"tools": [{"type": "function"}]}, "tools[0].function", "Missing required parameter: 'tools[0].function'."),
    ({"tools": [{"type": "function", "function": {"parameters": {}}}]}, "tools[0].function.name",
     "Missing required parameter: 'tools[0].function.name'."),
    ({"tools": [{"type": "retrieval"}]}, "tools[0].type",
     "Invalid value: 'retrieval'. Supported values are: 'function' and 'custom'."),
    ({"tools": [FUNCTION], "tool_choice": "maybe"}, "tool_choice",
     "Invalid value: 'maybe'. Supported values are: 'none', 'auto', and 'required'."),
    ({"tools": [FUNCTION], "tool_choice": 7}, "tool_choice",
     "Invalid type for 'tool_choice': expected one of one of 'none', 'auto', or 'required' or object, "
     "but got an integer instead."),
    ({"tools": [FUNCTION], "tool_choice": {"type": "function", "function": {}}}, "tool_choice.function.name",
     "Missing required parameter: 'tool_choice.function.name'."),
    ({"tool_choice": "auto"}, "tool_choice",
     "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."),
    ({"seed": 1.5}, "seed", "Invalid type for 'seed': expected an integer, but got a decimal number instead."),
    ({"seed": True}, "seed", "Invalid type for 'seed': expected an integer, but got a boolean instead."),
    ({"stop": 5}, "stop",
     "Invalid type for 'stop': expected one of a string or array of strings, but got an integer instead."),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop",
     "Invalid 'stop': array too long. Expected an array with maximum length 4, "
     "but got an array with length 5 instead."),
    ({"stop": ["a", 2]}, "stop[1]", "Invalid type for 'stop[1]': expected a string, but got an integer instead."),
    ({"user": {"id": 1}}, "user", "Invalid type for 'user': expected a string, but got an object instead."),
    ({"logprobs": "yes"}, "logprobs", "Invalid type for 'logprobs': expected a boolean, but got a string instead."),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs",
     "Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got 21 instead."),
    ({"top_logprobs": 2}, "top_logprobs", "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled."),
]
REFUSED_IDS = [
    "model-null", "model-a-number", "messages-a-string", "unknown-role", "role-null", "content-a-number",
    "content-an-object", "content-part-a-string", "text-part-without-text", "n-above-128", "n-negative", "n-zero",
    "n-a-string", "n-above-one", "max-tokens-negative", "max-tokens-decimal", "max-completion-tokens-zero",
    "temperature-99", "temperature-negative", "temperature-a-string", "top-p-above-1", "presence-penalty-above-2",
    "frequency-penalty-below-minus-2", "stream-a-string", "include-usage-a-number", "stream-options-without-stream",
    "tools-a-string", "tool-without-function", "tool-function-without-name", "tool-of-unknown-type",
    "tool-choice-unknown", "tool-choice-a-number", "tool-choice-function-without-name", "tool-choice-without-tools",
    "seed-decimal", "seed-boolean", "stop-a-number", "stop-five-strings", "stop-item-a-number", "user-an-object",
    "logprobs-a-string", "top-logprobs-above-20", "top-logprobs-without-logprobs",
]

ACCEPTED = [
    {"model": "gpt-4o", "messages": HI, "n": 1, "max_tokens": 1, "temperature": 2, "top_p": 0,
     "presence_penalty": -2, "frequency_penalty": 2, "seed": -3, "stop": ["a", "b", "c", "d"], "user": "u",
     "logprobs": True, "top_logprobs": 20},
    {"model": "gpt-4o", "messages": HI, "temperature": None, "n": None, "stop": "\n", "max_completion_tokens": 9},
    {"model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"},
                                     {"role": "user", "content": [{"type": "text", "text": "hi"},
                                                                  {"type": "image_url", "image_url": {"url": "x"}}]},
                                     {"role": "assistant", "content": None},
                                     {"role": "developer", "content": "x"}, {"role": "user", "content": "hi"}]},
    {"model": "gpt-4o", "messages": HI, "tools": [FUNCTION], "tool_choice": "required"},
    {"model": "gpt-4o", "messages": HI, "tools": [FUNCTION],
     "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
]
ACCEPTED_IDS = ["every-bound-at-its-edge", "nulls-mean-not-given", "every-role-and-content-part", "tool-choice-string",
                "tool-choice-object"]


def _request(changes: dict) -> dict:
    return {"model": "gpt-4o", "messages": HI, **changes}


@pytest.mark.parametrize(("changes", "param", "message"), REFUSED, ids=REFUSED_IDS)
async def test_a_bad_field_is_a_bad_request_error_naming_it(client, changes, param, message):
    request = _request(changes)
    model, messages = request.pop("model"), request.pop("messages")
    stream = request.pop("stream", openai.NOT_GIVEN)
    with pytest.raises(openai.BadRequestError) as raised:
        await client.chat.completions.create(model=model, messages=messages, stream=stream, extra_body=request)
    assert raised.value.status_code == 400
    assert raised.value.body["param"] == param
    assert raised.value.body["type"] == "invalid_request_error"
    if message is not None:
        assert raised.value.body["message"] == message


@pytest.mark.parametrize("body", ACCEPTED, ids=ACCEPTED_IDS)
async def test_good_fields_at_their_limits_stream(builtin, body):
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + "/v1/chat/completions", json={**body, "stream": True}) as response:
            assert response.status == 200, await response.text()
            assert (await response.read()).endswith(b"data: [DONE]\n\n")


async def test_model_null_never_streams_model_null(builtin):
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + "/v1/chat/completions",
                                json={"model": None, "messages": HI, "stream": True}) as response:
            body = await response.read()
    assert response.status == 400
    assert b'"model":null' not in body and json.loads(body)["error"]["param"] == "model"
