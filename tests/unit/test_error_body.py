import json

from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.errors import RequestError


def test_an_error_echoing_a_surrogate_escaped_header_is_still_utf8_json():
    # aiohttp decodes header bytes that are not UTF-8 to surrogate escapes.
    error = RequestError(404, "No scenario named caf\udcff.", param="x\udced")
    body = openai_chat.error_body(error)
    decoded = json.loads(body.decode("utf-8"))["error"]
    assert (decoded["message"], decoded["param"]) == ("No scenario named caf\udcff.", "x\udced")
