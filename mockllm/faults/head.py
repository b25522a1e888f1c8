"""Faults that act on the response as a whole, before any body: a status
error, a body that is not an event stream, headers that come late."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import RequestError
from ..headers import merge_headers
from ..script import Beat, End, Script
from .base import Context, Cut, Fault, duration, headers, http_status, text

_PROXY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


Headers = tuple[tuple[str, str | None], ...]


def _replace_response(script: Script, status: int, head: tuple[tuple[str, str], ...], body: bytes) -> Script:
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
    """The response's request id header, which a replacing answer keeps."""
    name = script.dialect.request_id_header if script.dialect is not None else "x-request-id"
    return tuple((n, v) for n, v in script.headers if n.lower() == name)


@dataclass(frozen=True, slots=True)
class Status(Fault):
    """An HTTP error in the format's error shape instead of a stream, with
    what its API sends for that status (``Dialect.status_error``)."""

    name = "status"
    stream_only = False
    always_shown = ("code",)  # the code is what a reader of a label looks for

    code: int = http_status(500, doc="the HTTP status")
    message: str | None = text(None, doc="the error message (default: the real API's for that status)")
    type: str | None = text(None, doc="the error type (default: the real API's)")
    error_code: str | None = text(None, doc="the error's `code` field (default: the real API's)")
    headers: Headers = headers("extra response headers; a 429 sends the API's retry-after and rate-limit headers")

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        dialect = script.dialect
        assert dialect is not None, "a compiled script knows its format"
        usual = dialect.status_error(self.code)
        error = RequestError(
            self.code,
            self.message if self.message is not None else usual.message,
            type=self.type or usual.type,
            code=self.error_code if self.error_code is not None else usual.code,
            param=usual.param,
            details=usual.details,
            request_id=next((value for _, value in _request_id(script)), ""),
        )
        default = tuple(usual.headers.items())
        head = merge_headers(
            (("Content-Type", dialect.error_content_type), *_request_id(script), *default), self.headers
        )
        return _replace_response(script, self.code, head, dialect.error_body(error))


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
        return script.shifted(self.delay, 0, headers=True)



