"""readers.js in Chromium: each format's reader, fed the exact bytes of
/work/shared/wire-format.md through client.js's own parsers (in 7-character
pieces, so frames and lines are split across feeds), gives the text, the
tool calls, the finish reason and the end of the stream, or the provider's
in-stream error. These cover formats before their dialect exists; the page
tests (test_sandbox_formats.py) cover every format the server lists.
"""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Page

READ = """async ({framing, format, text}) => {
  const { createSseParser, createNdjsonParser, ReplyAssembler } = await import("/static/client.js");
  const { createReader } = await import("/static/readers.js");
  const reply = new ReplyAssembler({}, createReader(format));
  const make = framing === "ndjson" ? createNdjsonParser : createSseParser;
  const ignored = [];
  const parser = make({ onEvent: (e) => reply.accept(e), onIgnored: (l) => reply.acceptIgnored(l) || ignored.push(l) });
  try {
    for (let i = 0; i < text.length; i += 7) parser.feed(text.slice(i, i + 7));
    parser.end();
    const { text: reply_, toolCalls, finishReason, sawDone, usage, warnings } = reply.finish();
    return { text: reply_, toolCalls, finishReason, sawDone, usage, warnings, ignored, error: null };
  } catch (error) {
    return { text: reply.text, error: `${error.kind}: ${error.message}` };
  }
}"""


def sse(*frames: tuple[str | None, object], end: str = "\n") -> str:
    """SSE frames: (event name or None, JSON value or raw string)."""
    out = []
    for event, data in frames:
        payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        out.append((f"event: {event}{end}" if event else "") + f"data: {payload}{end}{end}")
    return "".join(out)


def ndjson(*lines: object) -> str:
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)


ANTHROPIC = sse(
    ("message_start", '{"type":"message_start","message":{"id":"msg_01SxRKvzSAbPKgXu4781JHjw","type":"message",'
                      '"role":"assistant","model":"claude-3-sonnet-20240229","content":[],"stop_reason":null,'
                      '"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":1}}               }'),
    ("content_block_start", '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}    }'),
    ("ping", '{"type": "ping"}'),
    ("content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Here"}  }'),
    ("content_block_stop", '{"type":"content_block_stop","index":0             }'),
    ("content_block_start", '{"type":"content_block_start","index":1,"content_block":{"type":"tool_use",'
                            '"id":"toolu_01QRThyzKt6NibK3m1DjUTkE","name":"weather","input":{}}    }'),
    ("content_block_delta", '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
                            '"partial_json":""}         }'),
    ("content_block_delta", '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
                            '"partial_json":"{\\"lo"}               }'),
    ("content_block_delta", '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
                            '"partial_json":"c\\": \\"Paris\\"}"}}'),
    ("content_block_stop", '{"type":"content_block_stop","index":1          }'),
    ("message_delta", '{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
                      '"usage":{"output_tokens":137}          }'),
    ("message_stop", '{"type":"message_stop"             }'),
)
GEMINI = (
    'data: {"candidates": [{"content": {"parts": [{"text": "The capital of Mexico"}],"role": "model"},"index": 0}],'
    '"usageMetadata": {"promptTokenCount": 55,"candidatesTokenCount": 4,"totalTokenCount": 59},'
    '"modelVersion": "gemini-3-pro-preview","responseId": "S1V8aZK2NpGKqtsPvPuEqAw"}\r\n\r\n'
    'data: {"candidates": [{"content": {"parts": [{"text": " is Mexico City."}],"role": "model"},"index": 0}],'
    '"usageMetadata": {"promptTokenCount": 55,"candidatesTokenCount": 8,"totalTokenCount": 63},'
    '"modelVersion": "gemini-3-pro-preview","responseId": "S1V8aZK2NpGKqtsPvPuEqAw"}\r\n\r\n'
    'data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP","index": 0}],'
    '"usageMetadata": {"promptTokenCount": 165,"candidatesTokenCount": 8,"totalTokenCount": 173},'
    '"modelVersion": "gemini-3-pro-preview","responseId": "S1V8aZK2NpGKqtsPvPuEqAw"}\r\n\r\n'
)
GEMINI_TOOL = (
    'data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_country","args": {"a": [1]}},'
    '"thoughtSignature": "Et8ECtwE"}],"role": "model"},"index": 0}],"modelVersion": "gemini-3-pro-preview",'
    '"responseId": "SVV8aY6uBqe6qtsPmJbEuAM"}\r\n\r\n'
    'data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP","index": 0}],'
    '"modelVersion": "gemini-3-pro-preview","responseId": "SVV8aY6uBqe6qtsPmJbEuAM"}\r\n\r\n'
)
GEMINI_RAW_ERROR = (
    'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"},"index": 0}]}\r\n\r\n'
    '{\n  "error": {\n    "code": 503,\n    "message": "This model is currently experiencing high demand.",\n'
    '    "status": "UNAVAILABLE"\n  }\n}\n'
)
ITEM = "msg_029acd"


def delta(text: str, n: int) -> tuple[str, dict]:
    return ("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": n, "item_id": ITEM,
                                           "output_index": 0, "content_index": 0, "delta": text, "logprobs": []})


RESPONSE = {"id": "resp_029acd", "object": "response", "status": "in_progress", "output": []}
RESPONSES = sse(
    ("response.created", {"type": "response.created", "sequence_number": 0, "response": RESPONSE}),
    ("response.in_progress", {"type": "response.in_progress", "sequence_number": 1, "response": RESPONSE}),
    ("response.output_item.added", {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
                                    "item": {"id": ITEM, "type": "message", "status": "in_progress", "content": [],
                                             "role": "assistant"}}),
    delta("Elegant", 3), delta(" language", 4),
    ("response.output_text.done", {"type": "response.output_text.done", "sequence_number": 5, "item_id": ITEM,
                                   "output_index": 0, "content_index": 0, "text": "Elegant language"}),
    ("response.output_item.added", {"type": "response.output_item.added", "sequence_number": 6, "output_index": 1,
                                    "item": {"id": "fc_1", "type": "function_call", "status": "in_progress",
                                             "arguments": "", "call_id": "call_abc", "name": "get_time"}}),
    ("response.function_call_arguments.delta", {"type": "response.function_call_arguments.delta", "sequence_number": 7,
                                                "item_id": "fc_1", "output_index": 1, "delta": '{"tz":'}),
    ("response.function_call_arguments.delta", {"type": "response.function_call_arguments.delta", "sequence_number": 8,
                                                "item_id": "fc_1", "output_index": 1, "delta": ' "UTC"}'}),
    ("response.completed", {"type": "response.completed", "sequence_number": 9,
                            "response": {**RESPONSE, "status": "completed",
                                         "usage": {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15}}}),
)
RESPONSES_ERROR = sse(
    ("response.created", {"type": "response.created", "sequence_number": 0, "response": RESPONSE}),
    ("error", {"type": "error", "sequence_number": 1, "error": {"type": "insufficient_quota",
                                                                "code": "insufficient_quota",
                                                                "message": "You exceeded your current quota"}}),
)
OLLAMA = ndjson(
    {"model": "llama3.2", "created_at": "2025-07-07T20:22:19.184789Z",
     "message": {"role": "assistant", "content": "The"}, "done": False},
    {"model": "llama3.2", "created_at": "2025-07-07T20:22:19.19314Z",
     "message": {"role": "assistant", "content": " sky"}, "done": False},
    {"model": "llama3.2", "created_at": "2025-07-07T20:22:19.19514Z",
     "message": {"role": "assistant", "content": "", "tool_calls": [
         {"id": "call_k3x9a0qz", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}}]},
     "done": False},
    {"model": "llama3.2", "created_at": "2025-07-07T20:22:19.2001Z", "message": {"role": "assistant", "content": ""},
     "done": True, "done_reason": "stop", "total_duration": 182242375, "prompt_eval_count": 169, "eval_count": 15},
)
COMPLETIONS = (
    'data: {"id":"cmpl-CKzH","object":"text_completion","created":1759118173,"choices":[{"text":" +","index":0,'
    '"logprobs":null,"finish_reason":null}],"model":"babbage:2023-07-21-v2","usage":null}\n\n'
    'data: {"id":"cmpl-CKzH","object":"text_completion","created":1759118173,"choices":[{"text":"       ","index":0,'
    '"logprobs":null,"finish_reason":"length"}],"model":"babbage:2023-07-21-v2","usage":null}\n\n'
    'data: {"id":"cmpl-CKzH","object":"text_completion","created":1759118173,"model":"babbage:2023-07-21-v2",'
    '"usage":{"prompt_tokens":31,"completion_tokens":25,"total_tokens":56},"choices":[]}\n\n'
    "data: [DONE]\n\n"
)
CONTENT = sse(
    (None, {"content": "Hel"}), (None, {"content": "lo"}),
    (None, {"tool_call": {"index": 0, "id": "call_1", "name": "f"}}),
    (None, {"tool_call": {"index": 0, "arguments": '{"a"'}}), (None, {"tool_call": {"index": 0, "arguments": ":1}"}}),
    (None, "[DONE]"),
)

CLEAN = [
    # format, framing, bytes, text, tool calls (id, name, arguments), finish, usage
    ("anthropic", "sse", ANTHROPIC, "Here", [("toolu_01QRThyzKt6NibK3m1DjUTkE", "weather", '{"loc": "Paris"}')],
     "tool_use", {"prompt_tokens": 11, "completion_tokens": 137}),
    ("gemini", "sse", GEMINI, "The capital of Mexico is Mexico City.", [], "STOP",
     {"prompt_tokens": 165, "completion_tokens": 8}),
    ("gemini", "sse", GEMINI_TOOL, "", [("", "get_country", '{"a":[1]}')], "STOP", None),
    ("responses", "sse", RESPONSES, "Elegant language", [("call_abc", "get_time", '{"tz": "UTC"}')], "tool_calls",
     {"prompt_tokens": 12, "completion_tokens": 3}),
    ("ollama", "ndjson", OLLAMA, "The sky", [("call_k3x9a0qz", "get_weather", '{"city":"Tokyo"}')], "stop",
     {"prompt_tokens": 169, "completion_tokens": 15}),
    ("completions", "sse", COMPLETIONS, " +       ", [], "length",
     {"prompt_tokens": 31, "completion_tokens": 25, "total_tokens": 56}),
    ("content", "sse", CONTENT, "Hello", [("call_1", "f", '{"a":1}')], None, None),
]


async def read(page: Page, server, format_name: str, framing: str, text: str) -> dict:
    await page.goto(server.url + "/")
    return await page.evaluate(READ, {"framing": framing, "format": format_name, "text": text})


@pytest.mark.parametrize(("format_name", "framing", "text", "reply", "calls", "finish", "usage"), CLEAN,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CLEAN)])
async def test_a_clean_stream_reads_back_exactly(page, builtin, format_name, framing, text, reply, calls, finish,
                                                 usage):
    result = await read(page, builtin, format_name, framing, text)

    assert result["error"] is None, result
    assert result["text"] == reply
    assert [(c["id"], c["name"], c["arguments"]) for c in result["toolCalls"]] == calls
    assert result["finishReason"] == finish
    assert result["usage"] == usage
    assert result["sawDone"] is True
    assert result["warnings"] == [] and result["ignored"] == []


@pytest.mark.parametrize(("format_name", "framing", "text", "partial", "message"), [
    ("anthropic", "sse", ANTHROPIC.split("event: content_block_stop")[0]
     + 'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n',
     "Here", "server sent an error event: "),
    ("responses", "sse", RESPONSES_ERROR, "", "server sent an error event: "),
    ("gemini", "sse", GEMINI_RAW_ERROR, "Hi", "server error in the stream: This model is currently experiencing"),
    ("gemini", "sse", 'data: {"error": {"code": 503, "message": "Overloaded", "status": "UNAVAILABLE"}}\r\n\r\n', "",
     "server error in the stream: Overloaded"),
    ("ollama", "ndjson", OLLAMA.splitlines(keepends=True)[0] + '{"error":"an error was encountered while running the model"}\n',
     "The", "server error in the stream: an error was encountered while running the model"),
    ("completions", "sse", 'data: {"error":{"message":"The server had an error","type":"server_error"}}\n\n', "",
     "server error in the stream: The server had an error"),
], ids=["anthropic", "responses", "gemini-raw", "gemini-data", "ollama", "completions"])
async def test_the_in_stream_error_is_an_error_event_and_keeps_the_partial_text(page, builtin, format_name, framing,
                                                                               text, partial, message):
    result = await read(page, builtin, format_name, framing, text)

    assert result["error"] is not None and result["error"].startswith(f"error-event: {message}"), result
    assert result["text"] == partial


@pytest.mark.parametrize(("format_name", "framing", "text", "warning"), [
    ("anthropic", "sse", ANTHROPIC.split("event: message_stop")[0], "the stream ended without message_stop"),
    ("responses", "sse", RESPONSES.split("event: response.completed")[0],
     "the stream ended without response.completed"),
    ("ollama", "ndjson", "".join(OLLAMA.splitlines(keepends=True)[:2]), 'the stream ended without "done": true'),
    ("completions", "sse", COMPLETIONS.replace("data: [DONE]\n\n", ""), "the stream ended without data: [DONE]"),
    ("gemini", "sse", GEMINI.rsplit("data: ", 1)[0], "no finish_reason: the answer may be cut short"),
], ids=["anthropic", "responses", "ollama", "completions", "gemini"])
async def test_a_stream_cut_before_its_end_says_so(page, builtin, format_name, framing, text, warning):
    result = await read(page, builtin, format_name, framing, text)

    assert result["error"] is None, result
    assert warning in result["warnings"]
