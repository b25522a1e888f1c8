"""The exception tree. Every failure a user can cause ends up as one of these.

    MockllmError
    ├── ScenarioError    one problem in a scenario file: path, line, message
    ├── ScenarioErrors   every problem found while loading (a file or a library)
    └── RequestError     a bad HTTP request; rendered in the dialect's error shape
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scenario import ScenarioWarning  # for the type only: this module imports no other


class MockllmError(Exception):
    """Base of every error mockllm raises on purpose."""


class ScenarioError(MockllmError):
    """One problem in a scenario source, printed as ``path:line: message``."""

    def __init__(self, path: str, line: int | None, message: str, keypath: str | None = None) -> None:
        # A problem with no line (a missing file) prints as ``path: message``.
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line
        self.message = message  # with the key path in front, as printed
        self.keypath = keypath  # the field at fault, e.g. "reply.text", if there is one


class ScenarioErrors(MockllmError):
    """All the problems found in one load; nothing from that load is used.
    ``warnings`` are those found beside them."""

    def __init__(self, problems: Iterable[ScenarioError], warnings: Iterable[ScenarioWarning] = ()) -> None:
        self.problems = tuple(problems)
        self.warnings = tuple(warnings)
        super().__init__("\n".join(str(p) for p in self.problems))


class RequestError(MockllmError):
    """A request the server refuses, with the status a real API would use.

    ``type``, ``param`` and ``code`` follow OpenAI's error object; other dialects
    map them onto their own shape.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, object] | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})
        self.details = dict(details or {})  # more top-level keys beside "error" (a scenario's problems)
        self.request_id = request_id  # the response's own id, for a format whose error body repeats it
