"""dialects/fields.py: the API's words for a refused field, as pure functions."""

import pytest

from mockllm.dialects import fields
from mockllm.errors import RequestError


@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, "null"), (True, "a boolean"), (3, "an integer"), (1.5, "a decimal number"), ("x", "a string"),
     ([], "an array"), ({}, "an object")],
    ids=["null", "boolean", "integer", "decimal", "string", "array", "object"],
)
def test_each_json_type_is_named_as_the_api_names_it(value, kind):
    assert fields.kind(value) == kind


@pytest.mark.parametrize(
    ("options", "listed"),
    [(("a",), "'a'"), (("a", "b"), "'a' and 'b'"), (("a", "b", "c"), "'a', 'b', and 'c'")],
    ids=["one", "two", "three"],
)
def test_supported_values_are_listed_with_the_apis_serial_comma(options, listed):
    assert fields.invalid_value("p", "z", options).message == f"Invalid value: 'z'. Supported values are: {listed}."


@pytest.mark.parametrize(
    ("body", "value"),
    [({}, 7), ({"k": None}, 7), ({"k": 0}, 0), ({"k": -3}, -3)],
    ids=["absent-is-the-default", "null-is-the-default", "zero", "negative"],
)
def test_an_optional_integer_is_its_value_or_the_default(body, value):
    assert fields.integer(body, "k", default=7) == value


@pytest.mark.parametrize(
    ("body", "code"),
    [({"k": True}, "invalid_type"), ({"k": 1.0}, "invalid_type"), ({"k": 0}, "integer_below_min_value"),
     ({"k": 11}, "integer_above_max_value")],
    ids=["a-boolean-is-not-an-integer", "nor-is-one-point-zero", "below", "above"],
)
def test_an_integer_out_of_type_or_range_is_refused_with_its_code(body, code):
    with pytest.raises(RequestError) as raised:
        fields.integer(body, "k", minimum=1, maximum=10)
    assert (raised.value.status, raised.value.param, raised.value.code) == (400, "k", code)


def test_a_required_string_may_not_be_null():
    with pytest.raises(RequestError) as raised:
        fields.string({"model": None}, "model", required=True)
    assert raised.value.message == "Invalid type for 'model': expected a string, but got null instead."
