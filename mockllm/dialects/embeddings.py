"""OpenAI embeddings (``POST /v1/embeddings``): deterministic unit vectors.

There is no stream: the reply's events are not read, and the body is one
JSON list with a vector for each input, pretty-printed as the API sends it::

    {"object": "list",
     "data": [{"object": "embedding", "index": 0, "embedding": [0.0123…, …] or "base64…"}, …],
     "model": "text-embedding-3-small",
     "usage": {"prompt_tokens": N, "total_tokens": N}}

A vector comes from its text alone (same text, same vector, in any model and
any response): a generator seeded with the text's SHA-256 draws one Gaussian
per component, the vector is scaled to length 1 and rounded to float32, the
API's precision. ``dimensions`` keeps the first components and scales them
to length 1 again, as the API shortens its vectors. ``encoding_format:
base64`` (what openai-python asks for unless told otherwise) is the same
float32 values, little-endian, in base64.

The scenario (by model name, else the default) still decides faults that act
before the body (a status, slow or no headers, a proxy's page) and when the
answer comes (``timing.first_token``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import random
import struct
from collections.abc import Sequence

from .. import events, sse, tokens
from ..errors import RequestError
from . import fields, openai_chat
from .base import Ask, Call, Example, Headers, Response, Route
from .openai_completions import invalid, model_of, prompts

# The length of each model's vectors; any other model's is DEFAULT_LENGTH.
LENGTHS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
DEFAULT_LENGTH = 1536
FIXED_LENGTH = ("text-embedding-ada-002",)  # models that refuse ``dimensions``
MAX_INPUTS = 2048  # the API's ceiling for the inputs of one request
ENCODINGS = ("float", "base64")


# -- requests --------------------------------------------------------------

def parse(body: object) -> Ask:
    """Validate a decoded request body as the API does, with its messages; the
    texts go to ``Ask.inputs``, ``dimensions`` and ``encoding_format`` to ``Ask.echo``."""
    if not isinstance(body, dict):
        raise RequestError(400, "The request body must be a JSON object.", code="invalid_type")
    model = model_of(body)
    given = prompts(fields.required(body, "input"), "input")
    if len(given) > MAX_INPUTS or any(item == "" for item in given):
        raise invalid("input")  # the API's words for an empty string too
    encoding = fields.string(body, "encoding_format", default="float")
    if encoding not in ENCODINGS:
        raise fields.invalid_value("encoding_format", encoding, ENCODINGS)
    length = LENGTHS.get(model, DEFAULT_LENGTH)
    dimensions = fields.integer(body, "dimensions", minimum=1, maximum=length)
    if dimensions is not None and model in FIXED_LENGTH:
        raise RequestError(400, "This model does not support specifying dimensions.")
    fields.string(body, "user")
    texts = tuple(text_of(item) for item in given)
    return Ask(
        model=model,
        prompt=texts[-1] if texts else "",  # ``match`` rules read the input, as they read a last message
        stream=False,
        prompt_tokens=sum(len(tokens.words(item)) if isinstance(item, str) else len(item) for item in given),
        inputs=texts,
        echo=(("dimensions", dimensions or length), ("encoding_format", encoding)),
    )


def text_of(item: str | list[int]) -> str:
    """What a vector is drawn from: the text, or a token array's JSON."""
    return item if isinstance(item, str) else _DUMPS(item)


# -- vectors ---------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def packed(text: str, length: int, dimensions: int) -> bytes:
    """The vector of ``text`` as little-endian float32: ``length`` Gaussians drawn
    from a generator seeded with the text's hash, the first ``dimensions`` kept,
    scaled to length 1."""
    rng = random.Random(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
    values = [rng.gauss(0.0, 1.0) for _ in range(length)][:dimensions]
    norm = math.sqrt(math.fsum(v * v for v in values)) or 1.0
    return struct.pack(f"<{dimensions}f", *(v / norm for v in values))


def vector(text: str, length: int = DEFAULT_LENGTH, dimensions: int | None = None) -> list[float]:
    """The vector of ``text``, as the ``float`` encoding sends it."""
    count = dimensions or length
    return list(struct.unpack(f"<{count}f", packed(text, length, count)))


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Encoder:
    """One response's body: the vectors of its inputs. There is nothing to
    stream, so the events are not read."""

    def __init__(self, ask: Ask) -> None:
        self.ask = ask

    def frame(self, index: int, body: bytes, event: events.Event | None) -> bytes:
        return self.complete(()) if type(event) is events.Done else body

    def encode(self, event: events.Event, index: int = 0) -> bytes:
        return self.frame(index, event_body(event), event)

    def complete(self, stream: Sequence[events.Event]) -> bytes:
        ask = self.ask
        length = LENGTHS.get(ask.model, DEFAULT_LENGTH)
        dimensions = ask.option("dimensions", length)
        assert isinstance(dimensions, int), "parse puts the vectors' length in Ask.echo"
        as_base64 = ask.option("encoding_format") == "base64"
        data = []
        # An Ask a route made without ``parse`` (a mount's ``{"message"}``) has a prompt, not inputs.
        inputs = ask.inputs or ((ask.prompt,) if ask.prompt else ())
        for index, text in enumerate(inputs):
            values = packed(text, length, dimensions)
            embedding: object = (base64.b64encode(values).decode("ascii") if as_base64
                                 else list(struct.unpack(f"<{dimensions}f", values)))
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        body = {"object": "list", "data": data, "model": ask.model,
                "usage": {"prompt_tokens": ask.prompt_tokens, "total_tokens": ask.prompt_tokens}}
        return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")


# What stands for the body in a stream (``Encoder.frame`` puts the body there).
BODY_MARK = b"(the embeddings body)"


def event_body(event: events.Event) -> bytes:
    """Nothing for a reply's events: embeddings are never streamed. A route
    that streams every format (``play``, EventSource, a mount) gets the whole
    body where the terminator would be, and what a scenario's steps send
    verbatim (``raw``, ``comment``)."""
    match event:
        case events.Done():
            return BODY_MARK
        case events.Raw(data):
            return data
        case events.Comment(text):
            return sse.comment(text)
    return b""


class Embeddings(openai_chat.OpenAIFamily):
    name = "embeddings"
    title = "OpenAI Embeddings"
    routes = (Route("POST", "/v1/embeddings"),)
    streams = False

    def parse(self, body: object, call: Call) -> Ask:
        return parse(body)

    def encoder(self, response: Response) -> Encoder:
        return Encoder(response.ask)

    def headers(self, rng: random.Random, *, streaming: bool, first_token: float) -> Headers:
        return openai_chat.headers(rng, streaming=False, processing_ms=round(first_token * 1000))

    def bodies(self, stream: Sequence[events.Event]) -> list[bytes]:
        return list(map(event_body, stream))

    def example(self, model: str, prompt: str, *, stream: bool) -> Example:
        """The request openai-python sends for ``embeddings.create(model=…, input=prompt)``
        (an empty prompt is refused by the API: ``Hello`` instead); there is no
        stream, whatever ``stream`` says."""
        route = self.routes[0]
        return Example(route.path, Call(route), {"model": model, "input": prompt or "Hello", "encoding_format": "base64"})


DIALECT = Embeddings()
