"""The Vercel AI SDK (``ai`` with ``@ai-sdk/google``) on the Gemini dialect:
``google(model)`` through ``streamText`` and ``generateText``.

Every clean built-in scenario must reach the app exactly, with the tools the
scenarios call offered as an app would offer them; then what the SDK makes of
a few faults (docs/formats/gemini.md has the table).
"""

from __future__ import annotations

import pytest

from .node_clients import LIBRARY, as_scripted, as_seen, kept, run_node, tokens

SCRIPT = "ai-sdk-google.mjs"
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts]
TOOLS = sorted({call.name for s in CLEAN for call in s.reply.tool_calls})
# The SDK's names for the finish reasons Gemini sends (STOP with a call is tool-calls).
NO_RETRIES = {"maxRetries": 0}

# (scenario, the text it keeps, finishReason, the last part's kind, what
# iterating the stream throws, the classes of its error parts). The raw
# error object of error_event is no SSE field: eventsource-parser drops it and
# the reply ends "interrupted", with no error at all.
FAULT_TABLE = [
    ("malformed-json", "all but token 4", "stop", "finish", None, ("JSONParseError",)),
    ("drop-close", "first 5", None, "text-delta", "APICallError", ()),
    ("error-event", "first 4", "interrupted", "finish", None, ()),
    ("no-finish", "all", "interrupted", "finish", None, ()),
    ("rate-limited", "first 0", None, "error", None, ("APICallError",)),
    ("stall-forever", "first 3", None, "abort", None, ()),
]



@pytest.mark.parametrize("stream", [True, False], ids=["streamText", "generateText"])
async def test_every_clean_builtin_reaches_the_app_exactly(builtin, stream):
    specs = [{"model": s.name, "stream": stream, "tools": TOOLS} for s in CLEAN]
    results = await run_node(SCRIPT, builtin, specs)

    seen = {s.name: as_seen(r) for s, r in zip(CLEAN, results)}
    assert seen == {s.name: as_scripted(s) for s in CLEAN}
    assert all(r["requests"] == 1 for r in results)
    if stream:
        assert [r["error_parts"] for r in results] == [[]] * len(CLEAN)


async def test_faults_reach_the_app_as_the_table_says(builtin):
    names = [row[0] for row in FAULT_TABLE]
    specs = [{"model": n, "stream": True, "options": NO_RETRIES, "abort_after_ms": 1000} for n in names]
    results = await run_node(SCRIPT, builtin, specs)
    seen = [
        (n, kept(tokens(n), r["text"]), r["finish_reason"], r["parts"][-1], r["error"] and r["error"]["class"],
         tuple(part["class"] for part in r["error_parts"]))
        for n, r in zip(names, results)
    ]
    assert seen == FAULT_TABLE
