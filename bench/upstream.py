"""The proxy benchmark's upstream: a bare aiohttp server streaming Chat
Completions chunks whose every content token is the time it was sent, in
``time.monotonic_ns()``. CLOCK_MONOTONIC is one clock for every process on
the machine, so the client subtracts it from the time it read the chunk: the
delay of that event, whether it came straight from here or through the proxy.

    python bench/upstream.py [--loop asyncio|uvloop] [--tokens N]

Each stream is ``scenarios.TOKENS`` (or ``--tokens``) stamped chunks
``scenarios.GAP`` apart (the first one gap after the request), then the
finish chunk and ``[DONE]``.
Prints ``upstream listening on http://127.0.0.1:PORT`` once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import scenarios  # noqa: E402

CHUNK = b'{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench","choices":[{"index":0,'
STAMPED = (b"data: " + CHUNK + b'"delta":{"content":"', b'"},"finish_reason":null}]}\n\n')
FINISH = b"data: " + CHUNK + b'"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


async def stream(request: web.Request, tokens: int) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    start = loop.time()
    await request.read()
    response = web.StreamResponse(headers=HEADERS)
    await response.prepare(request)
    head, tail = STAMPED
    for i in range(1, tokens + 1):
        delay = start + i * scenarios.GAP - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await response.write(head + str(time.monotonic_ns()).encode() + tail)
    await response.write(FINISH)
    await response.write_eof()
    return response


async def serve(tokens: int) -> None:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", functools.partial(stream, tokens=tokens))
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"upstream listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--tokens", type=int, default=scenarios.TOKENS, help="stamped chunks per stream")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(serve(args.tokens))
    else:
        asyncio.run(serve(args.tokens))


if __name__ == "__main__":
    main()
