"""Google Gemini API (``generativelanguage.googleapis.com``): generateContent
and streamGenerateContent, as shared/wire-format.md §13 records them.

    text        data: {"candidates": [{"content": {"parts": [{"text": "Hel"}],"role": "model"},"index": 0}],
                      "modelVersion": "M","responseId": "R"}\\r\\n\\r\\n
    tool call   one whole ``functionCall`` part (``args`` an object) when its arguments are complete
    finish      data: {"candidates": [{… {"text": ""} …,"finishReason": "STOP","index": 0}],
                      "usageMetadata": {…},"modelVersion": "M","responseId": "R"}\\r\\n\\r\\n
    error       the raw pretty-printed ``{"error": {…}}`` object, no ``data:`` (what the API writes mid-stream)

JSON is spaced as the API spaces it (a space after ``:``, none after ``,``),
frames end in CRLF CRLF, and there is no terminator. A body holds the frame
up to the response's own tail (``modelVersion``, ``responseId``), which
``Encoder.frame`` adds; the finish chunk's ``usageMetadata`` gets the
request's prompt tokens there too.
"""

from __future__ import annotations

import functools
import json
import random
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import events, tokens
from ..errors import RequestError
from . import base, conversation, reading
from .base import Ask, Call, Dialect, Example, Headers, Listing, Message, Response, Route

if TYPE_CHECKING:
    from ..scenario import Scenario

NAME = "gemini"
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ": ")).encode
_PRETTY = json.JSONEncoder(ensure_ascii=False, indent=2).encode
_URLSAFE = string.ascii_letters + string.digits + "-_"
_LOWER = string.ascii_lowercase + string.digits


# -- requests --------------------------------------------------------------

ROLES = ("user", "model")
PART_KINDS = ("text", "functionCall", "functionResponse", "inlineData", "fileData", "executableCode",
              "codeExecutionResult", "thought", "thoughtSignature")
GENERATION_NUMBERS = {  # generationConfig fields and their bounds
    "temperature": (0.0, 2.0),
    "topP": (0.0, 1.0),
    "presencePenalty": (-2.0, 2.0),
    "frequencyPenalty": (-2.0, 2.0),
}
GENERATION_INTEGERS = ("maxOutputTokens", "candidateCount", "topK", "seed")


def invalid(message: str) -> RequestError:
    return RequestError(400, message, type="INVALID_ARGUMENT")


def _field_error(path: str, value: object, expected: str) -> RequestError:
    return invalid(f'Invalid value at \'{path}\' ({expected}), {_DUMPS(value)}')


def parse(body: object, call: Call) -> Ask:
    """Validate a GenerateContentRequest as the API does, in its words."""
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Unknown name \"\": Root element must be a message.")
    contents = body.get("contents")
    if contents is None or contents == []:
        raise invalid("* GenerateContentRequest.contents: contents is not specified\n")
    if not isinstance(contents, list):
        raise _field_error("contents", contents, "type.googleapis.com/google.ai.generativelanguage.v1beta.Content")
    texts: list[str] = []
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise _field_error(f"contents[{i}]", content, "type.googleapis.com/google.ai.generativelanguage.v1beta.Content")
        role = content.get("role", "user")
        if role not in ROLES:
            raise invalid("Please use a valid role: user, model.")
        text = _parts(content.get("parts"), f"contents[{i}]")
        texts.append(text)
    system = body.get("systemInstruction")
    if system is not None:
        if not isinstance(system, dict):
            raise _field_error("system_instruction", system, "type.googleapis.com/google.ai.generativelanguage.v1beta.Content")
        texts.append(_parts(system.get("parts"), "system_instruction"))
    _generation_config(body.get("generationConfig"))
    _tools(body.get("tools"))
    model = call.params.get("model", "")
    said = _conversation(system, contents)
    return Ask(
        model=model.removeprefix("models/"),
        prompt=conversation.last_user_text(said),
        stream=call.route.kind == "stream",
        include_usage=True,  # Gemini reports usage on every stream
        prompt_tokens=sum(len(tokens.words(t)) for t in texts),
        messages=said,
        tools=tuple(
            name for tool in conversation.dicts(body.get("tools"))
            for name in conversation.tool_names(tool.get("functionDeclarations", tool.get("function_declarations")))
        ),
        metadata=conversation.metadata(body.get("labels")),  # Vertex AI's, the one metadata Gemini has
    )


def _conversation(system: object, contents: list[object]) -> tuple[Message, ...]:
    """The contents as messages: a model turn's ``functionCall`` parts are its
    calls, and each ``functionResponse`` part is a tool message of its own.
    Consecutive model contents are one model turn: google-genai's streamed
    automatic function calling sends each chunk's content as one (the call,
    then the last chunk's empty text)."""
    out = []
    if isinstance(system, dict):
        out.append(Message("system", _text(system.get("parts"))))
    for content in conversation.dicts(contents):
        parts = list(conversation.dicts(content.get("parts")))
        text = _text(parts)
        if content.get("role") == "model":
            calls = list(conversation.dicts([p.get("functionCall") for p in parts]))
            out.append(Message(
                "assistant", text, calls=tuple(conversation.string(c.get("name")) for c in calls),
                call_ids=tuple(conversation.string(c.get("id")) for c in calls),
            ))
            continue
        results = list(conversation.dicts([p.get("functionResponse") for p in parts]))
        out += [
            Message("tool", _DUMPS(r.get("response")), result_of=conversation.string(r.get("name")),
                    call_id=conversation.string(r.get("id")))
            for r in results
        ]
        if text or not results:
            out.append(Message("user", text))
    return conversation.model_turns(out)


def _text(parts: object) -> str:
    return "".join(conversation.string(part.get("text")) for part in conversation.dicts(parts))


def _parts(parts: object, at: str) -> str:
    """The parts' text, joined; each part needs one known kind."""
    if parts is None or parts == []:
        raise invalid(f"* GenerateContentRequest.{at}.parts: contents.parts must not be empty.\n")
    if not isinstance(parts, list):
        raise _field_error(f"{at}.parts", parts, "type.googleapis.com/google.ai.generativelanguage.v1beta.Part")
    text = []
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise _field_error(f"{at}.parts[{j}]", part, "type.googleapis.com/google.ai.generativelanguage.v1beta.Part")
        if not any(kind in part for kind in PART_KINDS):
            raise invalid(f"* GenerateContentRequest.{at}.parts[{j}].data: required oneof field 'data' must have one initialized field\n")
        if "text" in part:
            if not isinstance(part["text"], str):
                raise _field_error(f"{at}.parts[{j}].text", part["text"], "TYPE_STRING")
            text.append(part["text"])
        for kind in ("functionCall", "functionResponse"):
            if kind in part:
                value = part[kind]
                if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
                    raise invalid(f"* GenerateContentRequest.{at}.parts[{j}].{_snake(kind)}.name: Name cannot be empty.\n")
    return "".join(text)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _generation_config(config: object) -> None:
    if config is None:
        return
    if not isinstance(config, dict):
        raise _field_error("generation_config", config, "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig")
    for name, (low, high) in GENERATION_NUMBERS.items():
        value = config.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _field_error(f"generation_config.{_snake(name)}", value, "TYPE_FLOAT")
        if not low <= value <= high:
            raise invalid(f"{_snake(name)} must be in the range [{low:g}, {high:g}] (inclusive).")
    for name in GENERATION_INTEGERS:
        value = config.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise _field_error(f"generation_config.{_snake(name)}", value, "TYPE_INT32")
        if name in ("maxOutputTokens", "candidateCount") and value < 1:
            raise invalid(f"{_snake(name)} must be positive.")
    if config.get("candidateCount", 1) > 1:
        raise invalid("Only one candidate can be specified in the current model (mockllm streams one).")
    stop = config.get("stopSequences")
    if stop is not None and (not isinstance(stop, list) or not all(isinstance(s, str) for s in stop)):
        raise _field_error("generation_config.stop_sequences", stop, "TYPE_STRING")


def _tools(tools: object) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _field_error("tools", tools, "type.googleapis.com/google.ai.generativelanguage.v1beta.Tool")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _field_error(f"tools[{i}]", tool, "type.googleapis.com/google.ai.generativelanguage.v1beta.Tool")
        declarations = tool.get("functionDeclarations", [])
        if not isinstance(declarations, list):
            raise _field_error(f"tools[{i}].function_declarations", declarations,
                               "type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionDeclaration")
        for j, declaration in enumerate(declarations):
            name = declaration.get("name") if isinstance(declaration, dict) else None
            if not isinstance(name, str) or not name:
                raise invalid(f"* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: "
                              "Invalid function name. Must start with a letter or an underscore. Must be a-z, "
                              "A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 64.\n")


# -- responses -------------------------------------------------------------

FINISH_REASONS = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "content_filter": "SAFETY"}
_CHUNK_HEAD = b'data: {"candidates": [{"content": {"parts": ['
_ROLE = b'],"role": "model"},'
_USAGE_KEY = b',"usageMetadata": {'
STREAM_ERROR_MESSAGE = ("This model is currently experiencing high demand. Spikes in demand are usually "
                        "temporary. Please try again later.")


@functools.lru_cache(maxsize=16384)
def _text_body(text: str) -> bytes:
    return b'{"text": ' + _DUMPS(text).encode("utf-8") + b"}" + _ROLE + b'"index": 0}]'


def _call_part(call: events.ToolCall) -> dict[str, object]:
    try:
        args = json.loads(call.arguments) if call.arguments else {}
    except ValueError:
        args = {"arguments": call.arguments}  # a scenario's arguments that are not JSON
    if not isinstance(args, dict):
        args = {"value": args}
    return {"functionCall": {"name": call.name, "args": args, "id": call.id}}


def _call_body(call: events.ToolCall) -> bytes:
    return _DUMPS(_call_part(call)).encode("utf-8") + _ROLE + b'"index": 0}]'


def _finish_body(reason: str, candidates: int) -> bytes:
    """The last chunk: an empty text part and the finish reason; the encoder
    puts the prompt's tokens in front of ``candidatesTokenCount``."""
    return (b'{"text": ""}' + _ROLE + b'"finishReason": ' + _DUMPS(FINISH_REASONS.get(reason, reason)).encode()
            + b',"index": 0}]' + _USAGE_KEY + b'"candidatesTokenCount": %d' % candidates)


def error_object(code: int, message: str, status: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "status": status}}


def _stream_error(event: events.Error) -> bytes:
    """The raw multi-line error object the API writes after frames already sent."""
    code = int(event.code) if event.code and event.code.isdigit() else 503
    status = event.type or STATUS_WORDS.get(code, "UNAVAILABLE")
    message = STREAM_ERROR_MESSAGE if event.message is None else event.message
    return (_PRETTY(error_object(code, message, status)) + "\n").encode("utf-8")


def event_bodies(stream: Sequence[events.Event]) -> list[bytes]:
    out: list[bytes] = []
    calls: dict[int, events.ToolCall] = {}
    count = 0
    # A hand-written stream's own usage, if it has one, says the reply's tokens.
    usage = next((e for e in stream if isinstance(e, events.Usage)), None)
    for event in stream:
        match event:
            case events.Text(text):
                out.append(_text_body(text))
                count += 1
            case events.ToolCallStart(index, call_id, name):
                calls[index] = events.ToolCall(call_id, name)
                count += 1  # a call's name is a token, as script.completion_tokens counts it
                out.append(b"")
            case events.ToolCallArguments(index, arguments):
                if index in calls:
                    calls[index].arguments += arguments
                count += 1
                out.append(b"")
            case events.ToolCallEnd(index):
                out.append(_call_body(calls.pop(index)) if index in calls else b"")
            case events.Finish(reason):
                out.append(_finish_body(reason, count if usage is None else usage.completion_tokens))
            case events.Error():
                out.append(_stream_error(event))
            case events.Comment(text):
                out.append(b": " + text.encode("utf-8") + b"\r\n\r\n")
            case events.Raw(data):
                out.append(data)
            case _:  # Start, the block events, Usage (on the finish chunk), Done (none)
                out.append(b"")
    return out


def _said(chunk: dict[str, object]) -> events.Event | None:
    """What a ``GenerateContentResponse`` chunk says: its text (every part's),
    else its first call (whole, its ``args`` as JSON), else its finish, else its usage."""
    if error := reading.error_in(chunk):
        return error
    candidate = reading.first(chunk.get("candidates"))
    parts = list(reading.dicts(reading.obj(candidate.get("content")).get("parts")))
    if text := "".join(reading.string(part.get("text")) for part in parts):
        return events.Text(text)
    calls = [call for part in parts if isinstance(call := part.get("functionCall"), dict)]
    if calls:
        return events.ToolCallArguments(0, reading.compact(calls[0].get("args") or {}))
    if reason := reading.string(candidate.get("finishReason")):
        return events.Finish(reason)
    usage = chunk.get("usageMetadata")
    if not isinstance(usage, dict):
        return None
    return events.Usage(reading.integer(usage.get("promptTokenCount")), reading.integer(usage.get("candidatesTokenCount")))


def random_id(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(alphabet[b % len(alphabet)] for b in rng.randbytes(length))


class Encoder:
    """Adds each chunk's head and the response's tail (model version, response id)."""

    def __init__(self, ask: Ask, response_id: str) -> None:
        self.model = ask.model
        self.prompt_tokens = ask.prompt_tokens
        self.response_id = response_id
        self._tail = b',"modelVersion": ' + _DUMPS(ask.model).encode("utf-8") + \
            b',"responseId": ' + _DUMPS(response_id).encode() + b"}\r\n\r\n"

    def frame(self, index: int, body: bytes, event: events.Event | None) -> bytes:
        if isinstance(event, (events.Text, events.ToolCallEnd)):
            return b"".join((_CHUNK_HEAD, body, self._tail))
        if isinstance(event, events.Finish):
            head, _, candidates = body.rpartition(_USAGE_KEY)
            count = int(candidates.rpartition(b" ")[2])
            prompt = self.prompt_tokens
            usage = b'"promptTokenCount": %d,%s,"totalTokenCount": %d}' % (prompt, candidates, prompt + count)
            return b"".join((_CHUNK_HEAD, head, _USAGE_KEY, usage, self._tail))
        return body

    def encode(self, event: events.Event, index: int = 0) -> bytes:
        return self.frame(index, event_bodies([event])[0], event)

    def complete(self, stream: Sequence[events.Event]) -> bytes:
        """The GenerateContentResponse, 2-space pretty-printed with a trailing newline."""
        folded = events.fold(stream)
        parts: list[dict[str, object]] = []
        if folded.text or not folded.tool_calls:
            parts.append({"text": folded.text})
        parts += [_call_part(call) for call in folded.tool_calls]
        usage = folded.usage or events.Usage(self.prompt_tokens, 0)
        body = {
            "candidates": [{
                "content": {"parts": parts, "role": "model"},
                "finishReason": FINISH_REASONS.get(folded.finish or "stop", folded.finish),
                "index": 0,
            }],
            "usageMetadata": {
                "promptTokenCount": usage.prompt_tokens,
                "candidatesTokenCount": usage.completion_tokens,
                "totalTokenCount": usage.prompt_tokens + usage.completion_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.prompt_tokens}],
            },
            "modelVersion": self.model,
            "responseId": self.response_id,
        }
        return (_PRETTY(body) + "\n").encode("utf-8")


# -- errors ------------------------------------------------------------------

STATUS_WORDS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED", 409: "ABORTED", 413: "INVALID_ARGUMENT", 422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED", 529: "RESOURCE_EXHAUSTED",
}
STATUS_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "API keys are not supported by this API. Expected OAuth2 access token or other authentication "
         "credentials that assert a principal.",
    403: "Method doesn't allow unregistered callers (callers without established identity). Please use "
         "API Key or other form of API consumer identity to call this API.",
    404: "Requested entity was not found.",
    408: "Deadline expired before operation could complete.",
    409: "The operation was aborted.",
    413: "Request payload size exceeds the limit: 20971520 bytes.",
    422: "Request contains an invalid argument.",
    429: "You exceeded your current quota, please check your plan and billing details.",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    502: "Bad Gateway",
    503: STREAM_ERROR_MESSAGE,
    504: "The service is currently unavailable.",
    529: "The model is overloaded. Please try again later.",
}
QUOTA_FAILURE: dict[str, object] = {
    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
    "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}],
}


def retry_details(delay: str = "1") -> list[dict[str, object]]:
    """A 429's details: the quota it broke and, in RetryInfo, the wait in seconds."""
    return [QUOTA_FAILURE, {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"}]


def model_list(scenarios: Sequence[Scenario]) -> dict[str, object]:
    return {"models": [
        {"name": f"models/{s.name}", "version": "001", "displayName": s.name, "description": s.description,
         "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
         "supportedGenerationMethods": ["generateContent", "countTokens"]}
        for s in scenarios
    ]}


class GeminiFraming(base.SSEFraming):
    """``data: PAYLOAD\\r\\n\\r\\n``, and the raw multi-line error object the API
    writes mid-stream; misframed, the payload alone (the raw lines google-genai
    gathers as an error object)."""

    def end(self, ends: base.LineEnds, start: int) -> int:
        """A raw error object ends at its closing brace, alone on its line as the
        API pretty-prints it (or at a blank line)."""
        raw = ends.buffer.startswith(b"{", start)
        return base.sse_end(ends, start, closing=b"}" if raw else None)

    def misframed(self, head: bytes, payload: bytes, tail: bytes) -> bytes:
        return payload + tail


_VERSIONS = ("v1beta", "v1")
ROUTES = tuple(
    route
    for version in _VERSIONS
    for route in (Route("POST", f"/{version}/models/{{model}}:streamGenerateContent", "stream"),
                  Route("POST", f"/{version}/models/{{model}}:generateContent", "once"))
)


class Gemini(Dialect):
    name = NAME
    title = "Google Gemini API"
    routes = ROUTES
    listings = (Listing("/v1beta/models", model_list),)  # /v1/models is OpenAI's
    framing = GeminiFraming()
    allow_headers = ("Content-Type", "Accept", "x-goog-api-key", "x-goog-api-client")
    expose_headers = ("x-request-id",)
    # google-genai raises on any non-blank line that is not ``data: ``; a blank
    # line ends an empty event, which every reader skips.
    heartbeat = b"\r\n"
    error_content_type = "application/json; charset=UTF-8"
    finish_reasons = FINISH_REASONS

    def parse(self, body: object, call: Call) -> Ask:
        return parse(body, call)

    def call_id(self, rng: random.Random) -> str:
        return random_id(rng, _LOWER, 8)

    def encoder(self, response: Response) -> Encoder:
        return Encoder(response.ask, random_id(response.rng, _URLSAFE, 23))

    def headers(self, rng: random.Random, *, streaming: bool, first_token: float) -> Headers:
        return (
            ("Content-Type", "text/event-stream" if streaming else "application/json; charset=UTF-8"),
            ("Vary", "Origin, X-Origin, Referer"),
            ("Server-Timing", f"gfet4t7; dur={round(first_token * 1000)}"),
            ("x-request-id", rng.randbytes(8).hex()),
        )

    def bodies(self, stream: Sequence[events.Event]) -> list[bytes]:
        return event_bodies(stream)

    def understand(self, frame: bytes) -> events.Event | None:
        if frame.startswith(b"{"):  # the raw error object, no ``data:``
            value = reading.json_object(frame)
            return None if value is None else reading.error_in(value)
        return reading.sse_understood(frame, _said)

    def error_body(self, error: RequestError) -> bytes:
        """``{"error": {"code", "message", "status"[, "details"]}}``, 2-space pretty-printed."""
        word = error.type if error.type.isupper() else STATUS_WORDS.get(error.status, "INVALID_ARGUMENT")
        inner: dict[str, object] = {"code": error.status, "message": error.message, "status": word}
        if error.status == 429:
            # Its clients read the wait here, not in a header: the two must agree.
            inner["details"] = retry_details(error.headers.get("retry-after", "1"))
        return (_PRETTY({"error": inner, **error.details}) + "\n").encode("utf-8", "backslashreplace")

    def status_error(self, status: int) -> RequestError:
        word = STATUS_WORDS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return RequestError(status, STATUS_MESSAGES.get(status, f"Error {status}."), type=word)

    def example(self, model: str, prompt: str, *, stream: bool) -> Example:
        route = self.routes[0 if stream else 1]
        path = route.path.replace("{model}", model) + ("?alt=sse" if stream else "")
        return Example(path, Call(route, {"model": model}, {"alt": "sse"} if stream else {}),
                       {"contents": [{"role": "user", "parts": [{"text": prompt}]}]})


DIALECT = Gemini()
