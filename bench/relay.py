"""The proxy's floor: a bare aiohttp relay that forwards each request to the
upstream and writes its body on as it arrives, and nothing else (no rules,
no parsing of frames, no faults, journal or metrics). What it adds over
reading the upstream directly is what any aiohttp relay on this machine adds;
``mockllm proxy`` is measured beside it.

    python bench/relay.py UPSTREAM_URL [--loop asyncio|uvloop]

Prints ``relay listening on http://127.0.0.1:PORT`` once ready.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)


def make_app(upstream: str) -> web.Application:
    async def relay(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with request.app[SESSION].post(upstream + request.path, data=body,
                                             headers={"Content-Type": "application/json"}) as answer:
            response = web.StreamResponse(status=answer.status,
                                          headers={"Content-Type": answer.headers["Content-Type"]})
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def session(app: web.Application):
        # As mockllm's proxy does: no cap on connections, reused across requests.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:
            app[SESSION] = client
            yield

    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_post("/{path:.*}", relay)
    return app


async def serve(upstream: str) -> None:
    runner = web.AppRunner(make_app(upstream), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"relay listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("upstream")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(serve(args.upstream))
    else:
        asyncio.run(serve(args.upstream))


if __name__ == "__main__":
    main()
