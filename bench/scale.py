"""What scaling out costs: server CPU per event with ``--state redis`` beside
the in-memory state, the Redis commands each request makes, and events per
second on 1 and 2 workers at saturation, each pair measured side by side in
one run.

    python bench/scale.py            # about 2 minutes; prints the figures, writes bench/results/scale.json
    python bench/scale.py --quick    # a small run (tests/test_bench_scale.py runs it)

It needs redis-server on PATH (Debian's package): it starts its own on a free
loopback port and stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import scenarios  # noqa: E402
from bench.run import Server, client, write_report  # noqa: E402

FULL = {"streams": 200, "repeats": 3, "burst": (4, 8, 16, 32), "burst_seconds": 3.0}
QUICK = {"streams": 10, "repeats": 1, "burst": (2,), "burst_seconds": 0.5}
CLIENT_COMMANDS = {"cmdstat_evalsha", "cmdstat_eval", "cmdstat_script|load", "cmdstat_xread", "cmdstat_ping",
                   "cmdstat_xrange", "cmdstat_hello", "cmdstat_client|setinfo"}
TARGETS = {"CPU per event, --state redis": "<= 1.15x memory", "events per second, 2 workers": ">= 1.6x 1 worker"}


class Redis:
    """A redis-server of the benchmark's own, on a free loopback port."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.command("PING") != "+PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def url(self, group: str) -> str:
        return f"redis://127.0.0.1:{self.port}/0?group={group}"

    def command(self, *words: str) -> str:
        """One command in the inline protocol; its reply as text ('' if it cannot be reached)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
                connection.sendall(" ".join(words).encode() + b"\r\n")
                reply = b""
                while not reply.endswith(b"\r\n") or (reply.startswith(b"$") and reply.count(b"\r\n") < 2):
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                return reply.decode().strip()
        except OSError:
            return ""

    def round_trips(self) -> int:
        """The commands clients sent so far, not counting this one: every call of
        a command only a client sends (scripts, the changes reader's XREAD, PING);
        the commands a script runs inside Redis are counted apart by Redis."""
        calls = 0
        for line in self.command("INFO", "commandstats").splitlines():
            name, _, stats = line.partition(":")
            if name in CLIENT_COMMANDS:
                calls += int(stats.split(",", 1)[0].removeprefix("calls="))
        return calls

    def cpu_seconds(self) -> float:
        return int(Path(f"/proc/{self.process.pid}/schedstat").read_text().split()[0]) / 1e9

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def serve(folder: Path, *extra: str) -> Server:
    """``mockllm serve``; its CPU time is its process tree's (Server), so with
    ``--workers`` it is the workers' and the private redis-server's too."""
    return Server([sys.executable, "-m", "mockllm", "serve", "--port", "0", "--quiet", "--loop", "asyncio",
                 "--scenarios", str(folder), *extra])


def state_cost(folder: Path, redis: Redis, streams: int, repeats: int) -> dict:
    """The same paced load on a server with in-memory state and one with
    ``--state redis``, taking turns; each figure the median over ``repeats``."""
    pair = {"memory": serve(folder), "redis": serve(folder, "--state", redis.url("bench-state"))}
    try:
        runs: dict[str, list[float]] = {name: [] for name in pair}
        redis_cpu, per_request = [], []
        for _ in range(repeats):
            for name, server in pair.items():
                client("paced", server.url, "--streams", "20")  # warm up
                before, redis_before, trips_before = server.cpu_seconds(), redis.cpu_seconds(), redis.round_trips()
                figures = client("paced", server.url, "--streams", str(streams))
                time.sleep(0.2)  # the journal is written behind: let the last batch land
                runs[name].append((server.cpu_seconds() - before) / figures["events"] * 1e6)
                if name == "redis":
                    redis_cpu.append((redis.cpu_seconds() - redis_before) / figures["events"] * 1e6)
                    per_request.append((redis.round_trips() - trips_before) / streams)
        memory, shared = statistics.median(runs["memory"]), statistics.median(runs["redis"])
        return {"streams": streams, "cpu_us_per_event": {"memory": round(memory, 2), "redis": round(shared, 2)},
                "ratio": round(shared / memory, 3), "redis_server_cpu_us_per_event": round(statistics.median(redis_cpu), 2),
                "redis_round_trips_per_request": round(statistics.median(per_request), 3)}
    finally:
        for server in pair.values():
            server.stop()


def worker_scaling(folder: Path, redis: Redis, counts: tuple[int, ...], seconds: float) -> dict:
    """Events per second with no delays on 1 and 2 workers (both on Redis, so
    only the worker count differs), each at the burst size that saturates it."""
    results = {}
    for workers in (1, 2):
        server = serve(folder, "--workers", str(workers), "--state", redis.url(f"bench-workers-{workers}"))
        try:
            client("paced", server.url, "--streams", "20")  # warm up
            best = 0.0
            for streams in counts:
                rate = client("burst", server.url, "--streams", str(streams), "--seconds", str(seconds))[
                    "events_per_second"]
                if rate < best * 1.05:
                    best = max(best, rate)
                    break  # saturated
                best = max(best, rate)
            results[str(workers)] = round(best, 1)
        finally:
            server.stop()
    return {"events_per_second": results, "ratio": round(results["2"] / results["1"], 3)}


def table(report: dict) -> str:
    state, scaling = report["state"], report["workers"]
    return "\n".join([
        f"server CPU per event, {state['streams']} paced streams: memory {state['cpu_us_per_event']['memory']} us, "
        f"--state redis {state['cpu_us_per_event']['redis']} us ({state['ratio']:.2f}x); redis-server itself "
        f"{state['redis_server_cpu_us_per_event']} us per event",
        f"Redis round trips per request: {state['redis_round_trips_per_request']:.2f} (one script before the first byte, "
        f"plus the journal's batched writes; none per token)",
        f"events per second at saturation: 1 worker {scaling['events_per_second']['1']:.0f}, "
        f"2 workers {scaling['events_per_second']['2']:.0f} ({scaling['ratio']:.2f}x)",
        "targets: " + "; ".join(f"{k} {v}" for k, v in TARGETS.items()),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small run (the test suite's smoke test)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scale.json")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    redis = Redis()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = scenarios.write(Path(tmp) / "scenarios")
            report = {"cpus": os.cpu_count(), "sizes": sizes,
                      "state": state_cost(folder, redis, sizes["streams"], sizes["repeats"]),
                      "workers": worker_scaling(folder, redis, sizes["burst"], sizes["burst_seconds"])}
    finally:
        redis.stop()
    write_report(args.out, report, table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
