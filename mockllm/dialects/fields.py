"""Checks of request fields, refused in the OpenAI API's own words. Pure.

Each check takes the decoded body (or a part of it) and a key, returns the
value (or the default when the key is absent or null: the API treats an
optional null as "not given"), and raises a ``RequestError`` whose message,
``param`` and ``code`` follow the real API's patterns:

    Invalid type for 'model': expected a string, but got null instead.
    Invalid 'n': integer above maximum value. Expected a value <= 128, but got 1000 instead.
    Invalid value: 'bot'. Supported values are: 'system', 'assistant', and 'user'.
    Missing required parameter: 'tools[0].function.name'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, overload

from ..errors import RequestError

_ABSENT = object()


def kind(value: object) -> str:
    """How the API names a JSON value's type in ``but got ... instead``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def type_error(param: str, expected: str, value: object) -> RequestError:
    return RequestError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {kind(value)} instead.",
        param=param,
        code="invalid_type",
    )


def missing(param: str) -> RequestError:
    return RequestError(
        400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def invalid_value(param: str, value: object, supported: Sequence[str]) -> RequestError:
    return RequestError(
        400, f"Invalid value: '{value}'. Supported values are: {_listed(supported)}.",
        param=param, code="invalid_value",
    )


def _listed(options: Sequence[str]) -> str:
    """``'a', 'b', and 'c'``; ``'a' and 'b'`` for two, as the API writes them."""
    quoted = [f"'{option}'" for option in options]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


# -- one field of an object --------------------------------------------------
#
# A decoded JSON object is a ``Mapping[str, object]``: each check narrows one
# value. The overloads say what the caller gets back: the value's type when
# the key is required or has a default, else that type or None.

def required(body: Mapping[str, object], key: str, prefix: str = "") -> object:
    """The value of a key that must be present (it may still be of any type)."""
    if key not in body:
        raise missing(prefix + key)
    return body[key]


@overload
def string(body: Mapping[str, object], key: str, *, prefix: str = "", required: Literal[True]) -> str: ...
@overload
def string(body: Mapping[str, object], key: str, *, prefix: str = "", required: bool = False, default: str) -> str: ...
@overload
def string(
    body: Mapping[str, object], key: str, *, prefix: str = "", required: bool = False, default: None = None
) -> str | None: ...
def string(
    body: Mapping[str, object], key: str, *, prefix: str = "", required: bool = False, default: str | None = None
) -> str | None:
    value = _present(body, key, prefix, required)
    if value is _ABSENT:
        return default
    if not isinstance(value, str):
        raise type_error(prefix + key, "a string", value)
    return value


@overload
def boolean(body: Mapping[str, object], key: str, *, prefix: str = "", default: bool = False) -> bool: ...
@overload
def boolean(body: Mapping[str, object], key: str, *, prefix: str = "", default: None) -> bool | None: ...
def boolean(body: Mapping[str, object], key: str, *, prefix: str = "", default: bool | None = False) -> bool | None:
    value = _present(body, key, prefix, False)
    if value is _ABSENT:
        return default
    if not isinstance(value, bool):
        raise type_error(prefix + key, "a boolean", value)
    return value


@overload
def obj(body: Mapping[str, object], key: str, *, prefix: str = "", required: Literal[True]) -> dict[str, object]: ...
@overload
def obj(
    body: Mapping[str, object], key: str, *, prefix: str = "", required: bool = False
) -> dict[str, object] | None: ...
def obj(
    body: Mapping[str, object], key: str, *, prefix: str = "", required: bool = False
) -> dict[str, object] | None:
    value = _present(body, key, prefix, required)
    if value is _ABSENT:
        return None
    if not isinstance(value, dict):
        raise type_error(prefix + key, "an object", value)
    return value


@overload
def integer(
    body: Mapping[str, object], key: str, *, minimum: int | None = None, maximum: int | None = None, default: int
) -> int: ...
@overload
def integer(
    body: Mapping[str, object], key: str, *, minimum: int | None = None, maximum: int | None = None,
    default: None = None,
) -> int | None: ...
def integer(
    body: Mapping[str, object], key: str, *, minimum: int | None = None, maximum: int | None = None,
    default: int | None = None,
) -> int | None:
    value = _present(body, key, "", False)
    if value is _ABSENT:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise type_error(key, "an integer", value)
    _bounded(key, "integer", value, minimum, maximum)
    return value


@overload
def decimal(body: Mapping[str, object], key: str, *, minimum: float, maximum: float, default: float) -> float: ...
@overload
def decimal(
    body: Mapping[str, object], key: str, *, minimum: float, maximum: float, default: None = None
) -> float | None: ...
def decimal(
    body: Mapping[str, object], key: str, *, minimum: float, maximum: float, default: float | None = None
) -> float | None:
    value = _present(body, key, "", False)
    if value is _ABSENT:
        return default
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise type_error(key, "a decimal", value)
    _bounded(key, "decimal", value, minimum, maximum)
    return value


def _present(body: Mapping[str, object], key: str, prefix: str, required: bool) -> object:
    """The value, or ``_ABSENT`` for an optional key that is missing or null."""
    if key not in body:
        if required:
            raise missing(prefix + key)
        return _ABSENT
    value = body[key]
    if value is None and not required:
        return _ABSENT
    return value


def _bounded(param: str, noun: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise RequestError(
            400,
            f"Invalid '{param}': {noun} below minimum value. Expected a value >= {minimum:g}, "
            f"but got {value!r} instead.",
            param=param,
            code=f"{noun}_below_min_value",
        )
    if maximum is not None and value > maximum:
        raise RequestError(
            400,
            f"Invalid '{param}': {noun} above maximum value. Expected a value <= {maximum:g}, "
            f"but got {value!r} instead.",
            param=param,
            code=f"{noun}_above_max_value",
        )
