"""``serve --workers N``: N server processes on one port, and the supervisor
that starts them, restarts one that dies, and stops them all.

    supervisor ── reserves the port (SO_REUSEPORT) ── fork ×N ──▶ worker: its own listening socket on that port
               ◀── a pipe each: "ready" and the lines to print ──┘
    SIGTERM ──▶ supervisor ──▶ SIGTERM to every worker ──▶ each stops as one server does (--grace)

With ``SO_REUSEPORT`` (Linux, the BSDs, macOS) the kernel spreads new
connections over the workers' sockets. Without it, the supervisor listens
itself and the workers accept from the one inherited socket, which balances
less evenly but works. Workers are forked after the scenarios are loaded and
checked, so they share that work and its memory until they write to it.

Their state must be shared, or attempt counters, quotas and the journal would
differ from worker to worker: ``--workers`` > 1 needs ``--state``, or starts a
private ``redis-server`` (``LocalRedis``) that lives and dies with it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("mockllm")

REUSE_PORT = hasattr(socket, "SO_REUSEPORT")
RESTART_PAUSE = 1.0  # seconds before a worker that died is started again (no tight crash loop)
NO_STATE = ("--workers {n} needs a shared store: --state redis://HOST:PORT/DB, or redis-server on PATH for a "
            "private one (apt-get install redis-server)")

# Runs one worker until it is stopped: (the socket it listens on, or None to bind the port
# itself with SO_REUSEPORT; a callback with the lines to print once it listens). Returns its exit status.
Worker = Callable[[socket.socket | None, Callable[[list[str]], None]], int]


@dataclass
class Place:
    """Where the workers listen: the port, held by the supervisor's socket."""

    host: str
    port: int
    sock: socket.socket
    shared: bool  # True: the workers accept from ``sock`` itself (no SO_REUSEPORT)


def reserve(host: str, port: int) -> Place:
    """Bind ``host:port`` (0: a free port). With SO_REUSEPORT the socket only
    holds the port for the workers' own sockets; without, it is the one they share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if REUSE_PORT:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if not REUSE_PORT:
        sock.listen(1024)
    sock.set_inheritable(True)
    return Place(host, sock.getsockname()[1], sock, shared=not REUSE_PORT)


def supervise(count: int, place: Place, worker: Worker, print_lines: Callable[[list[str]], None]) -> int:
    """Run ``count`` workers until SIGTERM or SIGINT, restarting any that dies
    meanwhile; print the first worker's lines once every worker listens.
    A worker that ends before it first listens stops the start: 1, as a
    single server that cannot start (restarting it would fail the same way, forever)."""
    children: dict[int, int] = {}  # pid -> worker number
    stopping = failed = False

    def stop(number: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if number == signal.SIGTERM:  # Ctrl-C's SIGINT reached the workers already: they share the terminal
            for pid in children:
                _signal(pid, signal.SIGTERM)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        lines = None
        for index in range(count):
            pid, told = _fork(index, place, worker)
            children[pid] = index
            if told is None and not stopping:
                log.error("worker %d ended before it listened; stopping", index)
                stopping = failed = True
                for started in children:
                    _signal(started, signal.SIGTERM)
                break
            lines = lines or told
        if lines is not None and not stopping:
            print_lines(lines)
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            if pid not in children:
                continue  # not a worker (the private redis-server is the CLI's to wait for)
            index = children.pop(pid)
            if stopping:
                continue
            log.warning("worker %d (pid %d) ended (%s); starting it again", index, pid, _how(status))
            time.sleep(RESTART_PAUSE)
            if not stopping:
                new, _ = _fork(index, place, worker)
                children[new] = index
        return 1 if failed else 0
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        place.sock.close()


def _fork(index: int, place: Place, worker: Worker) -> tuple[int, list[str] | None]:
    """Start worker ``index``; its pid, and the lines it sent once it listened (None: it failed first)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        os.close(read)
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL)
        if not place.shared:
            place.sock.close()  # the worker binds its own socket; the port stays the supervisor's to hold
        status = 1
        try:
            def ready(lines: list[str]) -> None:
                os.write(write, json.dumps(lines).encode() + b"\n")
                os.close(write)

            status = worker(place.sock if place.shared else None, ready)
        except BaseException:  # noqa: BLE001 - a worker must never fall back into the supervisor's code
            log.exception("worker %d failed", index)
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        told = pipe.readline()
    return pid, json.loads(told) if told else None


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


class LocalRedis:
    """A private redis-server for ``--workers`` without ``--state``: on a Unix
    socket in a folder of its own (no port to clash, no one else can reach
    it), nothing written to disk, stopped with the workers."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server")
        self.folder = tempfile.mkdtemp(prefix="mockllm-state-")
        self.path = os.path.join(self.folder, "redis.sock")
        self.process = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", self.path, "--unixsocketperm", "700", "--save", "",
             "--appendonly", "no", "--dir", self.folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,  # Ctrl-C is the workers'
        )
        deadline = time.monotonic() + 10
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the private redis-server did not start")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(self.path)
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
