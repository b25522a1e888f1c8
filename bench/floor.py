"""The floor: a bare aiohttp server that writes the same bytes as mockllm (the
same response headers, the same pre-encoded chunks) at the same deadlines, and
nothing else (no parsing, routing, compiling, faults or journal). Every mockllm
figure is also given as a ratio to it.

    python bench/floor.py SCENARIO_DIR [--loop asyncio|uvloop] [--workers N]

Prints ``floor listening on http://127.0.0.1:PORT`` once ready. With
``--workers N`` it is N processes, each binding the port with SO_REUSEPORT so
that the kernel spreads the connections: the floor beside ``mockllm serve
--workers N``. This process is the first of them and stops the others.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mockllm import pipeline  # noqa: E402
from mockllm.app import EXPOSE_HEADERS  # noqa: E402
from mockllm.dialects import Ask  # noqa: E402
from mockllm.dialects.openai_chat import DIALECT as openai_chat  # noqa: E402
from mockllm.library import load_library  # noqa: E402
from mockllm.script import End  # noqa: E402

Play = tuple[tuple[tuple[str, str], ...], tuple[tuple[float, bytes], ...], bool]


def prepare(folder: str) -> dict[str, Play]:
    """Each scenario's headers, beats as (offset, bytes) and whether it hangs, compiled once."""
    plays = {}
    for scenario in load_library([folder]).scenarios.values():
        script = pipeline.plan(scenario, Ask(model=scenario.name, stream=True), openai_chat, created=1)
        # The headers mockllm sends: the format's, its labels and the CORS grant.
        headers = (*script.headers, ("X-Mockllm-Scenario", scenario.name), ("X-Mockllm-Attempt", "1"),
                   ("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", EXPOSE_HEADERS))
        plays[scenario.name] = (headers, tuple((b.at, b.data) for b in script.beats), script.end is End.HANG)
    return plays


def make_app(plays: dict[str, Play]) -> web.Application:
    async def stream(request: web.Request) -> web.StreamResponse:
        start = asyncio.get_running_loop().time()
        body = await request.json()
        headers, beats, hang = plays[body["model"]]
        response = web.StreamResponse(headers=headers)
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


async def serve(folder: str, loop_name: str, workers: int, port: int = 0) -> None:
    runner = web.AppRunner(make_app(prepare(folder)), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_port=workers > 1 or port != 0)
    await site.start()
    port = runner.addresses[0][1]
    others = [_worker(folder, loop_name, port) for _ in range(workers - 1)]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        print(f"floor listening on http://127.0.0.1:{port}", flush=True)
        await stop.wait()
    finally:
        for other in others:
            other.terminate()
        for other in others:
            other.wait(timeout=10)
        await runner.cleanup()


def _worker(folder: str, loop_name: str, port: int) -> subprocess.Popen[str]:
    """Another floor process on ``port``, once it listens."""
    worker = subprocess.Popen([sys.executable, __file__, folder, "--loop", loop_name, "--port", str(port)],
                              stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None
    if "listening on" not in worker.stdout.readline():
        worker.kill()
        raise RuntimeError("a floor worker did not start")
    return worker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)  # a worker's: the first one's port
    args = parser.parse_args()
    serving = serve(args.folder, args.loop, args.workers, args.port)
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(serving)
    else:
        asyncio.run(serving)


if __name__ == "__main__":
    main()
