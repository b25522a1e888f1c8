"""The one way to start a server: the CLI, the pytest plugin and the tests all
use ``start``, so they all run with the same policies.

``handler_cancellation=True`` is set here on purpose: aiohttp's test server
cancels a handler when its client disconnects, but ``AppRunner`` does not by
default. Without it a stalled stream whose client left would keep its task
alive, and tests would prove what production does not do.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web, web_app
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from .app import make_app
from .state import STATE, Settings

# Seconds aiohttp gives handlers that are not API exchanges (the control routes,
# the sandbox's files) when it stops; open streams had Settings.grace before that.
SHUTDOWN_TIMEOUT = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
FULL_COLLECTIONS_EVERY = 100  # the collector's third threshold (Python's default: 10)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve beyond this machine


class MalformedRequests(logging.Filter):
    """aiohttp logs each request it cannot parse with a full traceback; for a
    mock that clients probe with odd bytes, one warning line says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
            # aiohttp's message: the problem, then the offending bytes and a caret under them.
            lines = [line.strip() for line in str(error.message).splitlines() if line.strip(" ^")]
            reason = " ".join(lines[:2]) or str(error.code)
            record.msg, record.args = "refused a malformed HTTP request from %s: %s", (peer, reason)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


MALFORMED_REQUESTS = MalformedRequests()


@dataclass
class RunningServer:
    runner: web.AppRunner
    host: str
    port: int
    control_open: bool = True
    handlers: set[RequestHandler] = field(default_factory=set)  # the open connections' (``_track_handlers``)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI SDK client."""
        return self.url + "/v1"

    async def close(self) -> None:
        """Stop accepting, give open streams ``Settings.grace`` seconds, end the rest."""
        await self.runner.cleanup()
        # aiohttp shuts down the connections it had when the stop began and then
        # forgets them all: one accepted meanwhile is left idle, with its socket
        # open for the garbage collector. Every handler is closed here.
        for handler in list(self.handlers):
            handler.force_close()
        forget_middleware_chains()

    def hurry(self) -> None:
        """End a ``close`` under way without waiting out the grace period."""
        self.runner.app[STATE].exchanges.hurry()


def forget_middleware_chains() -> None:
    """aiohttp keeps every app's built middleware chains in one process-wide
    cache of 1024 entries, so a stopped server's app, with its whole library,
    stays alive until a thousand others push it out: a suite that starts a
    server per test grew to 1.8M objects, and its full collections took 1.5 s.
    The cache is rebuilt on the next request of any app still serving."""
    cache = getattr(web_app, "_cached_build_middleware", None)  # private to aiohttp
    if cache is not None:
        cache.cache_clear()


async def start(settings: Settings, host: str = "127.0.0.1", port: int = 0, *,
                sock: socket.socket | None = None, reuse_port: bool = False) -> RunningServer:
    """Start serving on ``host:port`` (0: a free port) and return once listening.
    A worker of ``serve --workers`` (workers.py) binds with ``reuse_port``, or
    accepts from ``sock``, the socket its supervisor listens on."""
    # A token, once configured, is always required; without one the routes
    # are open on loopback only.
    control_open = is_loopback(host) and not settings.admin_token
    server_log = logging.getLogger("aiohttp.server")
    if MALFORMED_REQUESTS not in server_log.filters:
        server_log.addFilter(MALFORMED_REQUESTS)
    runner = web.AppRunner(
        make_app(settings, control_open=control_open, host=host),
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        access_log=None,  # the app logs one line per exchange, with its outcome
    )
    await runner.setup()
    running = RunningServer(runner, host, 0, control_open)
    _track_handlers(runner, running.handlers)
    site: web.BaseSite = (web.SockSite(runner, sock) if sock is not None
                          else web.TCPSite(runner, host, port, reuse_port=reuse_port or None))
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    running.port = runner.addresses[0][1]
    return running


def _track_handlers(runner: web.AppRunner, handlers: set[RequestHandler]) -> None:
    """Keep the handler of every open connection in ``handlers``."""
    server = runner.server
    assert server is not None, "the runner is set up"
    made, lost = server.connection_made, server.connection_lost

    def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
        handlers.add(handler)
        made(handler, transport)

    def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
        handlers.discard(handler)
        lost(handler, exc)

    server.connection_made = connection_made  # type: ignore[method-assign]
    server.connection_lost = connection_lost  # type: ignore[method-assign]


async def serve_forever(
    settings: Settings, host: str, port: int, on_ready: Callable[[RunningServer], None], *,
    sock: socket.socket | None = None, reuse_port: bool = False,
) -> None:
    """Serve until SIGTERM (``docker stop``, Kubernetes) or SIGINT (Ctrl-C), then
    stop as ``close`` does: open streams get ``settings.grace`` seconds, or
    less if a second signal comes."""
    server = await start(settings, host, port, sock=sock, reuse_port=reuse_port)
    # What start-up made (modules, the library, aiohttp's tables: some 40,000
    # objects) lives as long as the process. Frozen, the cyclic collector no
    # longer walks it (reference counting still frees it), so a full
    # collection stops holding every stream for 10-30 ms (bench/run.py
    # --proxy). Only here: ``start`` also serves the pytest plugin, in the
    # user's own process.
    gc.freeze()
    # A full collection walks every open stream, holding them all (50 ms at
    # 500 streams), to free the few cycles that outlived two younger
    # collections: some three objects per stream. It runs a tenth as often,
    # once per 100 middle collections rather than 10; they wait longer.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTIONS_EVERY)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled = []
    for number in STOP_SIGNALS:
        try:
            loop.add_signal_handler(number, stop.set)
            handled.append(number)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C still raises KeyboardInterrupt
            pass
    try:
        on_ready(server)
        await stop.wait()
        for number in handled:
            loop.add_signal_handler(number, server.hurry)  # a second signal: end the streams now
    finally:
        try:
            await server.close()
        finally:
            for number in handled:
                loop.remove_signal_handler(number)
