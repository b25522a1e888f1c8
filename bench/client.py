"""The load generator: a separate process that drives a server over loopback
with raw sockets (no HTTP library, so its own overhead stays small) and prints
what it measured as one JSON object.

    python bench/client.py paced URL --streams 200
    python bench/client.py burst URL --streams 8 --seconds 5
    python bench/client.py stall URL --streams 5000       (holds them until stdin closes)
    python bench/client.py soak  URL --streams 20000 --concurrency 500
    python bench/client.py format URL --streams 200 --path /v1/messages --body '{...}' --frame-end nl
    python bench/client.py stamped URL --streams 100   (bench/upstream.py's streams, direct or proxied)
    python bench/client.py sequential URL --streams 400   (the same, one request after another)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import statistics
import sys
import time
from urllib.parse import urlsplit

EVENT_END = b"\n\n"


def request_bytes(host: str, model: str, path: str = "/v1/chat/completions", body: str | None = None) -> bytes:
    if body is None:
        body = json.dumps({"model": model, "stream": True, "messages": [{"role": "user", "content": "bench"}]})
    data = body.encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode() + data


class Stream:
    """One streaming request; ``arrivals`` holds the loop time each event ended at."""

    def __init__(self, host: str, port: int, payload: bytes, frame_end: bytes = EVENT_END) -> None:
        self.host, self.port, self.payload, self.frame_end = host, port, payload, frame_end
        self.sent = 0.0
        self.arrivals: list[float] = []
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, stop_after: int | None = None, first_event: asyncio.Event | None = None) -> None:
        loop = asyncio.get_running_loop()
        reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.sent = loop.time()
        self.writer.write(self.payload)
        carry = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                now = loop.time()
                window = carry + data
                ends = self._ends(window) - self._ends(carry)
                carry = window[-3:]
                self.arrivals.extend([now] * ends)
                if first_event is not None and self.arrivals:
                    first_event.set()
                    first_event = None
                if stop_after is not None and len(self.arrivals) >= stop_after:
                    return  # walk away mid-stream
        finally:
            self.close()

    def _ends(self, data: bytes) -> int:
        return data.count(self.frame_end)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class Stamped:
    """One stream of bench/upstream.py's, whose every token is the
    ``time.monotonic_ns()`` it was sent at: the delay of each on arrival,
    and when the first byte and first event came after the request began."""

    STAMP = re.compile(rb'"content":"(\d+)"')

    def __init__(self, host: str, port: int, payload: bytes) -> None:
        self.host, self.port, self.payload = host, port, payload
        self.delays: list[int] = []  # nanoseconds, one per stamped event
        self.arrived: list[int] = []  # when each arrived (time.monotonic_ns)
        self.first_byte = self.first_event = 0  # nanoseconds after the request began
        self.first_arrival = 0  # time.monotonic_ns of the first event

    async def run(self) -> None:
        began = time.monotonic_ns()  # the connection is part of the request's start
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(self.payload)
        held = b""
        try:
            while data := await reader.read(65536):
                now = time.monotonic_ns()
                self.first_byte = self.first_byte or now - began
                complete, _, held = (held + data).rpartition(EVENT_END)
                stamps = self.STAMP.findall(complete)
                if stamps and not self.delays:
                    self.first_event, self.first_arrival = now - began, now
                self.delays.extend(now - int(stamp) for stamp in stamps)
                self.arrived.extend([now] * len(stamps))
        finally:
            writer.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def paced(host: str, port: int, streams: int, gap: float) -> dict:
    """Concurrent paced streams: the error of every inter-token gap the client sees."""
    payload = request_bytes(host, "bench-paced")
    runs = [Stream(host, port, payload) for _ in range(streams)]
    await asyncio.gather(*(s.run() for s in runs))
    errors, gaps, first = [], [], []
    for s in runs:
        tokens = s.arrivals[1:-2]  # drop the opening chunk, the finish chunk and [DONE]
        first.append(tokens[0] - s.sent)
        for a, b in zip(tokens, tokens[1:]):
            gaps.append(b - a)
            errors.append(abs(b - a - gap))
    return {
        "streams": streams,
        "events": sum(len(s.arrivals) for s in runs),
        "gap_error_ms": {k: round(v * 1000, 3) for k, v in
                         {"p50": percentile(errors, 0.5), "p99": percentile(errors, 0.99), "max": max(errors)}.items()},
        "median_gap_ms": round(statistics.median(gaps) * 1000, 3),
        "ttft_ms": {"p50": round(percentile(first, 0.5) * 1000, 3), "p99": round(percentile(first, 0.99) * 1000, 3)},
    }


async def stamped(host: str, port: int, streams: int, spread: float = 0.0) -> dict:
    """Concurrent streams of stamped events: each event's delay from its send,
    and each stream's first byte and first event after its request began, in
    milliseconds. ``spread``: seconds over which the streams start, evenly
    (0: all at once, so every stream's events fall due at the same instants)."""
    payload = request_bytes(host, "bench-stamped")
    runs = [Stamped(host, port, payload) for _ in range(streams)]

    async def later(index: int, s: Stamped) -> None:
        await asyncio.sleep(spread * index / streams)
        await s.run()

    await asyncio.gather(*(later(i, s) for i, s in enumerate(runs)))
    delays = [d for s in runs for d in s.delays]

    def ms(values: list[int], *, most: bool = False) -> dict:
        shown = {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99)}
        if most:
            shown["max"] = max(values)
        return {k: round(v / 1e6, 3) for k, v in shown.items()}

    # Once every stream has had its first event, none is starting: what a relay
    # adds from then on is its cost per event, apart from its cost per request.
    steady_from = max(s.first_arrival for s in runs)
    steady = [d for s in runs for d, at in zip(s.delays, s.arrived) if at > steady_from]
    return {"streams": streams, "events": len(delays), "delay_ms": ms(delays, most=True),
            "steady_delay_ms": ms(steady or [0], most=True), "steady_events": len(steady),
            "first_event_ms": ms([s.first_event for s in runs]), "first_byte_ms": ms([s.first_byte for s in runs])}


async def sequential(host: str, port: int, requests: int) -> dict:
    """bench/upstream.py's streams one after another, each read to its end:
    what a relay spends per request, with no other stream to share the loop."""
    payload = request_bytes(host, "bench-stamped")
    events = 0
    for _ in range(requests):
        s = Stamped(host, port, payload)
        await s.run()
        events += len(s.delays)
    return {"requests": requests, "events": events}


async def one_format(host: str, port: int, streams: int, path: str, body: str, frame_end: bytes) -> dict:
    """Concurrent paced streams of one wire format: the frames they received."""
    payload = request_bytes(host, "", path, body)
    runs = [Stream(host, port, payload, frame_end) for _ in range(streams)]
    await asyncio.gather(*(s.run() for s in runs))
    return {"streams": streams, "frames": sum(len(s.arrivals) for s in runs)}


async def burst(host: str, port: int, streams: int, seconds: float) -> dict:
    """Zero-delay streams back to back on ``streams`` connections: events per second."""
    payload = request_bytes(host, "bench-burst")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    counts = [0] * streams

    async def worker(i: int) -> None:
        while loop.time() < deadline:
            s = Stream(host, port, payload)
            await s.run()
            counts[i] += len(s.arrivals)

    start = loop.time()
    await asyncio.gather(*(worker(i) for i in range(streams)))
    elapsed = loop.time() - start
    return {"streams": streams, "events": sum(counts), "seconds": round(elapsed, 3),
            "events_per_second": round(sum(counts) / elapsed, 1)}


async def stall(host: str, port: int, streams: int) -> dict:
    """Open ``streams`` streams that stall after their first event; hold them
    until standard input closes, so the caller can measure the server."""
    payload = request_bytes(host, "bench-stall")
    opened = []
    tasks = []
    for batch in range(0, streams, 250):
        events = []
        for _ in range(min(250, streams - batch)):
            s, first = Stream(host, port, payload), asyncio.Event()
            tasks.append(asyncio.create_task(s.run(first_event=first)))
            opened.append(s)
            events.append(first)
        await asyncio.gather(*(e.wait() for e in events))
    print(json.dumps({"streams": len(opened), "ready": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for s in opened:
        s.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"streams": len(opened)}


async def soak(host: str, port: int, streams: int, concurrency: int) -> dict:
    """Many short streams, every other one abandoned after a few events."""
    payload = request_bytes(host, "bench-soak")
    gate = asyncio.Semaphore(concurrency)
    done = {"completed": 0, "abandoned": 0}

    async def one(i: int) -> None:
        async with gate:
            abandon = i % 2 == 1
            await Stream(host, port, payload).run(stop_after=5 if abandon else None)
            done["abandoned" if abandon else "completed"] += 1

    await asyncio.gather(*(one(i) for i in range(streams)))
    return done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("paced", "burst", "stall", "soak", "format", "stamped",
                                                     "sequential"))
    parser.add_argument("url")
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--gap", type=float, default=0.020)
    parser.add_argument("--spread", type=float, default=0.0, help="stamped: seconds the streams' starts spread over")
    parser.add_argument("--path", default="/v1/chat/completions")
    parser.add_argument("--body")
    parser.add_argument("--frame-end", choices=("sse", "crlf", "nl"), default="sse",
                        help="SSE events (LF LF, or CRLF CRLF as Gemini ends them) or NDJSON lines")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    address = urlsplit(args.url)
    host, port = address.hostname, address.port
    if args.mode == "paced":
        result = asyncio.run(paced(host, port, args.streams, args.gap))
    elif args.mode == "stamped":
        result = asyncio.run(stamped(host, port, args.streams, args.spread))
    elif args.mode == "sequential":
        result = asyncio.run(sequential(host, port, args.streams))
    elif args.mode == "burst":
        result = asyncio.run(burst(host, port, args.streams, args.seconds))
    elif args.mode == "format":
        frame_end = {"sse": EVENT_END, "crlf": b"\r\n\r\n", "nl": b"\n"}[args.frame_end]
        result = asyncio.run(one_format(host, port, args.streams, args.path, args.body, frame_end))
    elif args.mode == "stall":
        result = asyncio.run(stall(host, port, args.streams))
    else:
        result = asyncio.run(soak(host, port, args.streams, args.concurrency))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
