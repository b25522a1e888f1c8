"""The floor: a bare aiohttp server that writes the same pre-encoded chunks at
the same deadlines as mockllm, and nothing else (no parsing, routing, compiling,
faults or journal). Every mockllm figure is also given as a ratio to it.

    python bench/floor.py SCENARIO_DIR [--loop asyncio|uvloop]

Prints ``floor listening on http://127.0.0.1:PORT`` once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mockllm import pipeline  # noqa: E402
from mockllm.dialects import Ask  # noqa: E402
from mockllm.dialects.openai_chat import DIALECT as openai_chat  # noqa: E402
from mockllm.library import load_library  # noqa: E402
from mockllm.script import End  # noqa: E402


def prepare(folder: str) -> dict[str, tuple[tuple[float, bytes], ...] | None]:
    """Each scenario's beats as (offset, bytes), compiled once; None for a stall."""
    plays = {}
    for scenario in load_library([folder]).scenarios.values():
        script = pipeline.plan(scenario, Ask(model=scenario.name, stream=True), openai_chat, created=1)
        plays[scenario.name] = (tuple((b.at, b.data) for b in script.beats), script.end is End.HANG)
    return plays


def make_app(plays) -> web.Application:
    async def stream(request: web.Request) -> web.StreamResponse:
        start = asyncio.get_running_loop().time()
        body = await request.json()
        beats, hang = plays[body["model"]]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        for at, data in beats:
            delay = start + at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await response.write(data)
        if hang:
            await asyncio.Event().wait()
        await response.write_eof()
        return response

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "tasks": len(asyncio.all_tasks())})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", stream)
    app.router.add_get("/_mockllm/health", health)
    return app


async def serve(folder: str) -> None:
    runner = web.AppRunner(make_app(prepare(folder)), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"floor listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(serve(args.folder))
    else:
        asyncio.run(serve(args.folder))


if __name__ == "__main__":
    main()
