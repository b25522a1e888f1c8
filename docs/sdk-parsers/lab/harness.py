"""Throwaway lab: a loopback aiohttp server that replays a planned reply, and records requests.

Not part of mockllm; see README.md beside this file."""
import asyncio, json, threading, traceback, logging
logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
from aiohttp import web

PLAN = []      # list of dicts: status, headers, chunks (bytes), action ('drop' | 'stall' | None), delay
REQUESTS = []  # recorded (method, path_qs, headers, body)

async def handle(request):
    body = await request.read()
    REQUESTS.append((request.method, request.path_qs, dict(request.headers), body))
    step = PLAN.pop(0) if len(PLAN) > 1 else PLAN[0]
    resp = web.StreamResponse(status=step.get("status", 200), headers=step.get("headers", {"content-type": "text/event-stream"}))
    await resp.prepare(request)
    for c in step.get("chunks", []):
        await resp.write(c)
        await asyncio.sleep(0.001)
    act = step.get("action")
    if act == "drop":
        request.transport.close()
        return resp
    if act == "stall":
        await asyncio.sleep(step.get("stall", 30))
    try:
        await resp.write_eof()
    except Exception:
        pass
    return resp

def start(port=18765):
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        loop.run_forever()
    threading.Thread(target=run, daemon=True).start()
    import time; time.sleep(0.5)
    return f"http://127.0.0.1:{port}"

def sse(events, event_lines=True, sep=b"\n\n"):
    out = []
    for e in events:
        if isinstance(e, bytes):
            out.append(e); continue
        data = json.dumps(e, separators=(",", ":")).encode()
        head = f"event: {e['type']}\n".encode() if event_lines and "type" in e else b""
        out.append(head + b"data: " + data + sep)
    return out

def run(name, plan, fn):
    PLAN[:] = plan; REQUESTS.clear()
    try:
        r = fn()
        print(f"[{name}] OK -> {r!r}"[:600])
    except BaseException as e:
        print(f"[{name}] RAISE {type(e).__module__}.{type(e).__name__}: {str(e)[:300]!r} cause={type(e.__cause__).__name__ if e.__cause__ else None} attempts={len(REQUESTS)}")
    return REQUESTS[:]
