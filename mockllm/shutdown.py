"""Stopping with a grace period: the API exchanges in progress, waited for,
then ended by the server itself.

    stop ─▶ sites closed (aiohttp: no new connection) ─▶ on_shutdown: drain
         ─▶ wait up to ``grace`` s for open exchanges (a second signal: no longer)
         ─▶ cancel the rest ─▶ aiohttp's cleanup

An exchange is cancelled the way a departing client cancels it (its task is
cancelled), so the player and the journal need nothing new; ``ending`` tells
them that this time the server did it.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

CANCEL_LIMIT = 5.0  # seconds for cancelled exchanges to record themselves


class Exchanges:
    """The API exchanges in progress on one server."""

    def __init__(self) -> None:
        self._open: dict[int, web.Request] = {}  # by id: a request is a mutable mapping, unhashable
        self._idle = asyncio.Event()
        self._idle.set()
        self._hurry = asyncio.Event()
        self.ending = False  # past the grace period: what ends now, the server ended

    def __len__(self) -> int:
        return len(self._open)

    def begin(self, request: web.Request) -> None:
        self._open[id(request)] = request
        self._idle.clear()

    def end(self, request: web.Request) -> None:
        self._open.pop(id(request), None)
        if not self._open:
            self._idle.set()

    def hurry(self) -> None:
        """Cut the grace period short (a second Ctrl-C or SIGTERM)."""
        self._hurry.set()

    async def drain(self, grace: float) -> int:
        """Wait up to ``grace`` seconds for every open exchange to end (less if
        hurried), then end the rest; return how many the server ended."""
        waits = [asyncio.ensure_future(self._idle.wait()), asyncio.ensure_future(self._hurry.wait())]
        try:
            await asyncio.wait(waits, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        left = list(self._open.values())
        if not left:
            return 0
        self.ending = True
        for request in left:
            request.task.cancel()  # aiohttp's documented way to end a long-running request
        try:
            await asyncio.wait_for(self._idle.wait(), CANCEL_LIMIT)
        except asyncio.TimeoutError:
            pass  # a handler that ignores cancellation: aiohttp's own shutdown deals with it
        return len(left)
