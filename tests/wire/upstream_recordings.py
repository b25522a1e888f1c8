"""What the real providers sent, as recorded: the stand-in upstream
(``upstream.py``) plays these bytes, and the record and proxy tests compare
against them.

Each recording is one reply of a real API, copied from the captures that
shared/wire-format.md quotes (its section and source are named at each one).
Where the doc cut a capture short in the middle of a structure (a tool call's
JSON, an Anthropic reply it joined from two captures), the rest comes from the
capture it names. The prompt that selects a recording is the one the capture
was made with when the capture says; otherwise it is ours, and says so.

    RECORDINGS[(provider, prompt, streamed)] -> Recording(frames, ...)
    STREAMS[(provider, prompt)]              -> the frames of the streamed reply
    body(provider, prompt, streamed=True)    -> the exact body a client reads

A frame is one write: the stand-in waits ``gap`` seconds between frames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Recording:
    provider: str
    prompt: str
    streamed: bool
    frames: tuple[bytes, ...]
    source: str  # the doc section and the capture the bytes come from
    text: str = ""  # what a client assembles from it
    tool_calls: tuple[tuple[str, dict], ...] = ()  # (name, arguments) in order

    @property
    def body(self) -> bytes:
        return b"".join(self.frames)


# --- OpenAI Chat Completions -------------------------------------------------
# Every chunk of one reply starts with the same fields, so each recording is a
# head and the tails that follow it; ``data: `` + head + tail + ``\n\n`` is the
# recorded frame, byte for byte.


def _openai_frames(head: str, tails: list[str]) -> tuple[bytes, ...]:
    return tuple(b"data: %s\n\n" % (head + tail).encode() for tail in tails) + (b"data: [DONE]\n\n",)


def _openai_arguments(index: int, fragments: list[str], obfuscations: str) -> list[str]:
    """The tails that carry a tool call's arguments, one fragment (JSON-escaped, as on the wire) each."""
    return ['"usage":null,"choices":[{"index":0,"delta":{"tool_calls":[{"index":%d,"function":{"arguments":"%s"}}]},'
            '"logprobs":null,"finish_reason":null}],"obfuscation":"%s"}' % (index, fragment, obfuscation)
            for fragment, obfuscation in zip(fragments, obfuscations.split())]


# Both calls' arguments arrived cut at the same places, up to the city.
_FORMAT_THEN_LOCATION = [r'{\"fo', r'rmat\"', r': \"cel', r'sius', r'\", \"l', r'ocatio', r'n\": ']


def _openai_call(index: int, call_id: str, name: str, obfuscation: str) -> str:
    return ('"usage":null,"choices":[{"index":0,"delta":{"tool_calls":[{"index":%d,"id":"%s","type":"function",'
            '"function":{"name":"%s","arguments":""}}]},"logprobs":null,"finish_reason":null}],"obfuscation":"%s"}'
            % (index, call_id, name, obfuscation))


OPENAI_HELLO = Recording(
    "openai", "Hello!", True,
    _openai_frames(
        '{"id":"chatcmpl-C4HqHBe4xca0k0EzsCnf1t6V3YFXp","object":"chat.completion.chunk","created":1755137933,'
        '"model":"gpt-5-nano-2025-08-07","service_tier":"default","system_fingerprint":null,',
        [
            r'"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}],"obfuscation":"nX"}',
            r'"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"obfuscation":"UC"}',
            r'"choices":[{"index":0,"delta":{"content":" there"},"finish_reason":null}],"obfuscation":"LcdzdJdMMgDHt6"}',
            r'"choices":[{"index":0,"delta":{"content":"’d"},"finish_reason":null}],"obfuscation":"46"}',
            r'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"obfuscation":"XQdNwPP14L3TH0"}',
        ],
    ),
    "§2.2, envoyproxy/ai-gateway chat-streaming.yaml (gpt-5-nano, no stream_options), middle cut as the doc cuts it",
    text="Hi there’d",
)

OPENAI_JOKE = Recording(
    "openai", "Tell me a joke", True,
    _openai_frames(
        '{"id":"chatcmpl-A8dyC7f6pKkQ516qqRHK6ep7Z3yG9","object":"chat.completion.chunk","created":1726623632,'
        '"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_483d39d857",',
        [
            r'"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}',
            r'"choices":[{"index":0,"delta":{"content":"Why"},"logprobs":null,"finish_reason":null}],"usage":null}',
            r'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}',
            r'"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":18,"total_tokens":29,"completion_tokens_details":{"reasoning_tokens":0}}}',
        ],
    ),
    "§2.2, simonw/til llms/streaming-llm-apis.md (gpt-4o-mini, stream_options.include_usage), middle cut as the doc cuts it",
    text="Why",
)

OPENAI_WEATHER = Recording(
    # The prompt is ours. The capture ends with a usage chunk rewritten by the
    # gateway it went through ("input_tokens", the model without its snapshot),
    # so the reply ends at its finish chunk and [DONE], as the doc shows it.
    "openai", "What is the weather in Beijing and in Luoyang?", True,
    _openai_frames(
        '{"id":"chatcmpl-CiKIfaJe92tvtH3QZModD64Qz5uvn","object":"chat.completion.chunk","created":1764680501,'
        '"model":"gpt-4.1-nano-2025-04-14","service_tier":"default","system_fingerprint":"fp_1a97b5aa6c",',
        [
            r'"usage":null,"choices":[{"index":0,"delta":{"role":"assistant","content":null},"logprobs":null,"finish_reason":null}],"obfuscation":"58LAb"}',
            _openai_call(0, "call_8wSWhuzOhClEzH8c2pYjRIiz", "get_current_weather", "zz7xlYFGDdsJ"),
            *_openai_arguments(0, [*_FORMAT_THEN_LOCATION, r'\"北京\"}'],
                               "5hOyVc12Sg4 uDVX3RZjQX bAyNo0Qi2 cb7g4JkAKtyK wHzVJqRg1 9lmVWssxKZ 4vf7qsxUt6B vVRyaWfpd"),
            _openai_call(1, "call_RbImHA6tBOwuzwIAvsQKFOox", "get_history_weather", "NnnjipxeyCb0"),
            *_openai_arguments(1, [*_FORMAT_THEN_LOCATION, r'\"洛阳\"}'],
                               "fXsyoDJA0to WLN9UjESD1 SQJWWIVud Z9eEX8Cu2zbU H6p1PqKXQ tCzhDKlaHz d7wEQ2vBGqg yt6d6eJNh"),
            r'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null,"obfuscation":"azv06a8lAt7uZY"}',
        ],
    ),
    "§2.5, LnYo-Cly/ai4j APIResponse.md (gpt-4.1-nano, two parallel calls, stream_options.include_usage)",
    tool_calls=(("get_current_weather", {"format": "celsius", "location": "北京"}),
                ("get_history_weather", {"format": "celsius", "location": "洛阳"})),
)

OPENAI_TWO_WORDS = Recording(
    # The prompt is ours. The doc does not say whether the body ends with a newline; this one does not.
    "openai", "Describe it in two words.", False,
    (b"""{
  "id": "chatcmpl-ADx5bEkzrSB6WjrnB9ce1ofWcaOAq",
  "object": "chat.completion",
  "created": 1727888767,
  "model": "gpt-4o-2024-05-13",
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": "Elegant simplicity.",
        "refusal": null
      },
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {
    "prompt_tokens": 343,
    "completion_tokens": 3,
    "total_tokens": 346,
    "prompt_tokens_details": {
      "cached_tokens": 0
    },
    "completion_tokens_details": {
      "reasoning_tokens": 0
    }
  },
  "system_fingerprint": "fp_5796ac6771"
}""",),
    "§2.7, olimorris/codecompanion.nvim OpenAI NO STREAMING spec (gpt-4o)",
    text="Elegant simplicity.",
)


# --- Anthropic Messages ------------------------------------------------------
# Anthropic pads its JSON with spaces, differently on every event, so each data
# line is kept whole; the event name is the data's own "type".


def _anthropic_frames(datas: list[str]) -> tuple[bytes, ...]:
    return tuple(b"event: %s\ndata: %s\n\n" % (json.loads(data)["type"].encode(), data.encode()) for data in datas)


ANTHROPIC_JOKE = Recording(
    "anthropic", "Tell me a joke", True,
    _anthropic_frames([
        r'{"type":"message_start","message":{"id":"msg_01SxRKvzSAbPKgXu4781JHjw","type":"message","role":"assistant","model":"claude-3-sonnet-20240229","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":1}}               }',
        r'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}    }',
        r'{"type": "ping"}',
        r'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Here"}  }',
        r"""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'s a silly"}}""",
        r'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" joke for you:"}           }',
        r'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\n\nWhy"}     }',
        r'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" can"}    }',
        r"""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'t a bicycle"}      }""",
        r'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" stand up by"} }',
        r'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" itself?"}    }',
        r"""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\nBecause it's two"} }""",
        r'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"-tired!"}   }',
        r'{"type":"content_block_stop","index":0             }',
        r'{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":30}           }',
        r'{"type":"message_stop"             }',
    ]),
    "§5, simonw/til llms/streaming-llm-apis.md (claude-3-sonnet), whole",
    text="Here's a silly joke for you:\n\nWhy can't a bicycle stand up by itself?\nBecause it's two-tired!",
)

ANTHROPIC_WEATHER = Recording(
    # The prompt is ours. The capture has no blank lines (the stub keeps one
    # event per two lines); they are restored, as every SSE event ends with one.
    "anthropic", "What is the weather in London and in Paris?", True,
    _anthropic_frames([
        r'{"type":"message_start","message":{"id":"msg_01HGJRN5feUfoHAW2KTnFc3d","type":"message","role":"assistant","model":"claude-3-5-sonnet-20241022","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":905,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}        }',
        r'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}    }',
        r'{"type": "ping"}',
        r'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I"}         }',
        r"""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'ll check the weather for both cities using"}  }""",
        r'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" Celsius units."}             }',
        r'{"type":"content_block_stop","index":0       }',
        r'{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01QRThyzKt6NibK3m1DjUTkE","name":"weather","input":{}}    }',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}         }',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"lo"}               }',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ca"}               }',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"tion\": "}              }',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"London, "}}',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"UK\""}          }',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":", \""}    }',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"units\": "}     }',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"celsi"}               }',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"us"}   }',
        r'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"}"}           }',
        r'{"type":"content_block_stop","index":1          }',
        r'{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_015A1zQUwKw1YE3CYvRRUdXZ","name":"weather","input":{}}      }',
        r'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}           }',
        r'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\""}              }',
        r'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"location\": "}      }',
        r'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"Paris,"}   }',
        r'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":" Fra"}     }',
        r'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"nce\""}            }',
        r'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":", \"u"}               }',
        r'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"nits\""}   }',
        r'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":": \"cels"}           }',
        r'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ius\"}"}            }',
        r'{"type":"content_block_stop","index":2    }',
        r'{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":137}          }',
        r'{"type":"message_stop"}',
    ]),
    "§5, olimorris/codecompanion.nvim tests/adapters/http/stubs/anthropic_tools_streaming.txt (claude-3-5-sonnet)",
    text="I'll check the weather for both cities using Celsius units.",
    tool_calls=(("weather", {"location": "London, UK", "units": "celsius"}),
                ("weather", {"location": "Paris, France", "units": "celsius"})),
)


# --- Gemini ------------------------------------------------------------------
# Google's JSON has a space after every colon and none after a comma; each SSE
# frame ends with CRLF CRLF. A non-stream body is indented by two, with a final
# newline. The objects below are the captures' (thought signatures as captured).


def google_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ": "))


def _gemini_frames(chunks: list[dict]) -> tuple[bytes, ...]:
    return tuple(b"data: %s\r\n\r\n" % google_json(chunk).encode() for chunk in chunks)


def _gemini_usage(prompt: int, candidates: int, total: int, **more: int) -> dict:
    return {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "totalTokenCount": total,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}], **more}


def _gemini_chunk(parts: list[dict], usage: dict, response_id: str, finish: str | None = None) -> dict:
    candidate: dict = {"content": {"parts": parts, "role": "model"}}
    if finish:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-3-pro-preview",
            "responseId": response_id}


COUNTRY_SIGNATURE = (
    "Et8ECtwEAXLI2nyCB1jKZUE4ZxdH07XhZlpU7X7tlcbNO8oQurN910Rmh6fTq1azIzM7kzq/xMB7GilOxBK6VMDoMgkGuIHttwPgPiwD2jO3a3ra4gF"
    "E+zxUPPx9R9bsRWd5641CymAZnsFeXVvrwYeeymh7gxR0a8F0pYkxwvuMDgGJwopaCXSuP8+6d8OgA+uoGTyyzr6f9Qi2N0sZwDcURV1S+8QSYsz8Ili"
    "jh/lfKAoEJ7g8qWJil47hvc/4QnVueKCcIsFCb2mto2w+awtagbg3DXF52epHnQyCe7RaKAHyvRqZ7NOSi9Aya4LkGnf7uoeG/yLPwZMPSet3xzygCMu"
    "yU+P7sG7T7g7KfQtlHPTpSAuJZIexbYi91N+RJJAhSNMX5tt1zlDRHAWcZ/8e0zBbg1CiWJ3dI8YsVGRXdDIh5KUx1b7SVNwVIqj6oeISXLBHJKZHXXr"
    "nhceKcIKbVZ1UscQTKZGOFnIzilGl/5H64Cjp3/IK1kpsypchhXVR478xb3jlbsgtUaSC1bifszV7kD5XROIYHE3nrt/hI75yABz/naoNxuJIHV6ZUqC"
    "1d6T8mB3U8DfhS65PF0JVjcOv7j+PifCb6nSMb/eaJAYKTOx37cfZTcmQIoFDofypBC6UVGt/GbCr76mpFqjENZ5QTN5nfbH/rfuM00/mBQPbuRdcmEg"
    "ujEIo/BelxPEVOC6tszKkQlEoJfO7qazAvRvksWHQHNQtUFO6n1HmRaK1sq6Ana1c5vSj8Mv7uDLmJNTV8/iGNlLqwj6FjB4rbYIju0HegvoS6z1/ufbMdg=="
)

_COUNTRY_USAGE = _gemini_usage(29, 10, 149, thoughtsTokenCount=110)
GEMINI_COUNTRY = Recording(
    "gemini", "What is the capital of the user country? Call the tool", True,
    _gemini_frames([
        _gemini_chunk([{"functionCall": {"name": "get_country", "args": {}}, "thoughtSignature": COUNTRY_SIGNATURE}],
                      _COUNTRY_USAGE, "SVV8aY6uBqe6qtsPmJbEuAM"),
        _gemini_chunk([{"text": ""}], _COUNTRY_USAGE, "SVV8aY6uBqe6qtsPmJbEuAM", "STOP"),
    ]),
    "§13.4, pydantic/pydantic-ai test_google_streaming_tool_call_thought_signature.yaml, first exchange",
    tool_calls=(("get_country", {}),),
)

GEMINI_MEXICO = Recording(
    # The prompt is ours: the capture's last user turn is the tool's result.
    "gemini", "What is the capital of Mexico?", True,
    _gemini_frames([
        _gemini_chunk([{"text": "The capital of Mexico"}], _gemini_usage(55, 4, 59), "S1V8aZK2NpGKqtsPvPuEqAw"),
        _gemini_chunk([{"text": " is Mexico City."}], _gemini_usage(55, 8, 63), "S1V8aZK2NpGKqtsPvPuEqAw"),
        _gemini_chunk([{"text": ""}], _gemini_usage(165, 8, 173), "S1V8aZK2NpGKqtsPvPuEqAw", "STOP"),
    ]),
    "§13.2, pydantic/pydantic-ai test_google_streaming_tool_call_thought_signature.yaml, second exchange",
    text="The capital of Mexico is Mexico City.",
)

_STRAWBERRY = "There are **3** r's in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y."
GEMINI_STRAWBERRY = Recording(
    # The prompt is ours. The signature is as short as the fixture has it.
    "gemini", "How many r's are in strawberry?", False,
    (json.dumps({
        "candidates": [{
            "content": {"parts": [{
                "text": _STRAWBERRY,
                "thoughtSignature": "EtoFCtcFAb4+9vtfe4MXRxQjw48U1WKrR/7lYsgFkVi/bepqsSPjY0VU7HEzkeCBIfy1fu5t9aUZ4IZ65aWagqbBrV45fc97olcg",
            }], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": _gemini_usage(9, 28, 281, thoughtsTokenCount=244),
        "modelVersion": "gemini-3-pro-preview",
        "responseId": "Un6LacrVMcjUxs0PmJfWoQc",
    }, indent=2).encode() + b"\n",),
    "§13.7, vercel/ai packages/google/src/__fixtures__/google-text.json",
    text=_STRAWBERRY,
)


# --- Ollama --------------------------------------------------------------------
# One compact JSON object and a newline per write (Go's json.Marshal: raw
# non-ASCII); the metrics only on the final line.


def _ollama_lines(lines: list[str]) -> tuple[bytes, ...]:
    return tuple(line.encode() + b"\n" for line in lines)


OLLAMA_SKY = Recording(
    # The prompt is the one Ollama's docs stream it for.
    "ollama", "Why is the sky blue?", True,
    _ollama_lines([
        r'{"model":"llama3.2","created_at":"2025-07-07T20:22:19.184789Z","message":{"role":"assistant","content":"The"},"done":false}',
        r'{"model":"llama3.2","created_at":"2025-07-07T20:22:19.19314Z","message":{"role":"assistant","content":" sky"},"done":false}',
        r'{"model":"llama3.2","created_at":"2025-07-07T20:22:19.2001Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":182242375,"load_duration":41295167,"prompt_eval_count":169,"prompt_eval_duration":24573166,"eval_count":15,"eval_duration":115959084}',
    ]),
    "§14.2, ollama/ollama docs/api/streaming.mdx",
    text="The sky",
)

OLLAMA_WEATHER = Recording(
    # The prompt is ours. Each call arrives whole, on a line of its own.
    "ollama", "What is the weather in Beijing and in Luoyang?", True,
    _ollama_lines([
        r'{"model":"qwen2.5:7b","created_at":"2025-12-02T09:51:18.4437234Z","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_dwjfhc0f","function":{"index":0,"name":"get_current_weather","arguments":{"format":"celsius","location":"北京"}}}]},"done":false}',
        r'{"model":"qwen2.5:7b","created_at":"2025-12-02T09:51:23.9746303Z","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_e8ymdkla","function":{"index":1,"name":"get_history_weather","arguments":{"format":"celsius","location":"洛阳"}}}]},"done":false}',
        r'{"model":"qwen2.5:7b","created_at":"2025-12-02T09:51:24.3847699Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":49235573300,"load_duration":35305229300,"prompt_eval_count":316,"prompt_eval_duration":4145222400,"eval_count":56,"eval_duration":9719530300}',
    ]),
    "§14.3, LnYo-Cly/ai4j APIResponse.md (qwen2.5:7b, two calls)",
    tool_calls=OPENAI_WEATHER.tool_calls,
)

OLLAMA_HELLO = Recording(
    # The prompt is ours. The docs pretty-print this body; the server sends it compact.
    "ollama", "Hello!", False,
    (br'{"model":"llama3.2","created_at":"2023-12-12T14:13:43.416799Z","message":{"role":"assistant","content":"Hello! How are you today?"},"done":true,"done_reason":"stop","total_duration":5191566416,"load_duration":2154458,"prompt_eval_count":26,"prompt_eval_duration":383809000,"eval_count":298,"eval_duration":4799921000}',),
    "§14.6, ollama/ollama docs/api.md",
    text="Hello! How are you today?",
)


RECORDINGS: dict[tuple[str, str, bool], Recording] = {
    (r.provider, r.prompt, r.streamed): r
    for r in (OPENAI_HELLO, OPENAI_JOKE, OPENAI_WEATHER, OPENAI_TWO_WORDS, ANTHROPIC_JOKE, ANTHROPIC_WEATHER,
              GEMINI_COUNTRY, GEMINI_MEXICO, GEMINI_STRAWBERRY, OLLAMA_SKY, OLLAMA_WEATHER, OLLAMA_HELLO)
}
STREAMS: dict[tuple[str, str], tuple[bytes, ...]] = {
    (provider, prompt): r.frames for (provider, prompt, streamed), r in RECORDINGS.items() if streamed
}


def body(provider: str, prompt: str, streamed: bool = True) -> bytes:
    """The exact body bytes a client reads for ``prompt`` (a ``KeyError`` names no recording)."""
    return RECORDINGS[(provider, prompt, streamed)].body
