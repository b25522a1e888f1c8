"""Faults that act on the response as a whole, before any body: a status
error, a body that is not an event stream, headers that come late."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import RequestError
from ..script import Beat, End, Script
from .base import Context, Cut, Fault, duration, headers, http_status, text

# What the real API answers with each status: error type, code, message.
_STATUS_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request (simulated by mockllm)."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-mock****. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported"),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("invalid_request_error", "timeout", "Request timed out."),
    409: ("invalid_request_error", "conflict", "The request conflicts with another request."),
    422: ("invalid_request_error", "unprocessable_entity", "The request could not be processed."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1. "
        "Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.",
    ),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
    504: ("server_error", None, "Gateway timeout."),
}

_RATE_LIMIT_HEADERS = (
    ("retry-after", "1"),
    ("x-ratelimit-limit-requests", "500"),
    ("x-ratelimit-limit-tokens", "200000"),
    ("x-ratelimit-remaining-requests", "0"),
    ("x-ratelimit-remaining-tokens", "199996"),
    ("x-ratelimit-reset-requests", "1s"),
    ("x-ratelimit-reset-tokens", "1ms"),
)

_PROXY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def merge_headers(base, overrides) -> tuple[tuple[str, str], ...]:
    """``base`` with ``overrides`` applied by case-insensitive name; None removes."""
    merged = {name.lower(): (name, value) for name, value in base}
    for name, value in overrides:
        merged[name.lower()] = (name, value)
    return tuple((name, value) for name, value in merged.values() if value is not None)


def _replace_response(script: Script, status: int, head, body: bytes) -> Script:
    """The same request answered by one complete, non-streamed body, whatever
    cut or stall came before: a head fault wins over everything else."""
    return dataclasses.replace(
        script,
        status=status,
        headers=head,
        beats=(Beat(script.headers_at, body),),
        end=End.EOF,
        end_at=None,
        streaming=False,
        respond=True,
        keepalive=None,
    )


def _request_id(script: Script) -> tuple[tuple[str, str], ...]:
    return tuple((n, v) for n, v in script.headers if n.lower() == "x-request-id")


@dataclass(frozen=True, slots=True)
class Status(Fault):
    """An HTTP error in the dialect's error shape instead of a stream."""

    name = "status"
    stream_only = False
    always_shown = ("code",)  # the code is what a reader of a label looks for

    code: int = http_status(500, doc="the HTTP status")
    message: str | None = text(None, doc="the error message (default: the real API's for that status)")
    type: str | None = text(None, doc="the error type (default: the real API's)")
    error_code: str | None = text(None, doc="the error's `code` field (default: the real API's)")
    headers: tuple = headers("extra response headers; 429 sends retry-after and x-ratelimit-* by default")

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        kind, code, message = _STATUS_ERRORS.get(
            self.code, ("server_error" if self.code >= 500 else "invalid_request_error", None, f"Error {self.code}.")
        )
        error = RequestError(
            self.code,
            self.message if self.message is not None else message,
            type=self.type or kind,
            code=self.error_code if self.error_code is not None else code,
        )
        default = _RATE_LIMIT_HEADERS if self.code == 429 else ()
        content_type, body = script.encoder.error_response(error)
        head = merge_headers((("Content-Type", content_type), *_request_id(script), *default), self.headers)
        return _replace_response(script, self.code, head, body)


@dataclass(frozen=True, slots=True)
class ContentType(Fault):
    """A body that is not an event stream, like a proxy's error page."""

    name = "content_type"
    stream_only = False

    value: str = text("text/html; charset=utf-8", header=True, doc="the Content-Type sent")
    body: str = text(_PROXY_PAGE, doc="the body sent (default: an nginx 502 page)")
    status: int = http_status(200, doc="the HTTP status")

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        head = (("Content-Type", self.value), *_request_id(script))
        return _replace_response(script, self.status, head, self.body.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class SlowHeaders(Fault):
    """Nothing at all, not even headers, for a while; then the response as planned."""

    name = "slow_headers"
    stream_only = False

    delay: float = duration(5.0, doc="how long before the headers")

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        return script.shifted(self.delay / ctx.speed, 0, headers=True)



