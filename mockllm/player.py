"""The only code that writes to the network: plays a ``Script`` on a request.

    start ── sleep until start+headers_at ── prepare (status, headers)
          ── for each beat: sleep until start+beat.at ── write (flushed at once)
          ── end: EOF | CLOSE | RESET | HANG

Deadlines are absolute (``start`` is when the request arrived), so a slow write
never pushes later beats back. A client that goes away is noticed even during
a silent wait: the server cancels the handler (``server.py`` sets that policy),
the sleep raises ``CancelledError`` and the stream's work stops there.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

from aiohttp import web

from .script import End, Script


class Outcome(enum.Enum):
    COMPLETED = "completed"
    DROPPED = "dropped"  # a fault cut the connection
    CLIENT_DISCONNECTED = "client_disconnected"
    ERROR = "error"


@dataclass(slots=True)
class Played:
    """What actually went out: filled in as the script plays."""

    outcome: Outcome = Outcome.COMPLETED
    status: int = 0
    tokens: int = 0
    bytes: int = 0


async def _sleep_until(loop: asyncio.AbstractEventLoop, deadline: float) -> None:
    delay = deadline - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def play(request: web.Request, script: Script, start: float, played: Played) -> web.StreamResponse:
    """Send ``script`` as the response to ``request``; record progress in ``played``."""
    loop = asyncio.get_running_loop()
    response = web.StreamResponse(status=script.status, headers=script.headers)
    if not script.streaming:
        response.content_length = len(script.body)
    try:
        await _sleep_until(loop, start + script.headers_at)
        await response.prepare(request)
        played.status = script.status
        for beat in script.beats:
            await _sleep_until(loop, start + beat.at)
            await response.write(beat.data)
            played.tokens += beat.tokens
            played.bytes += len(beat.data)
        if script.end_at is not None:
            await _sleep_until(loop, start + script.end_at)
        if script.end is End.EOF:
            await response.write_eof()
        else:
            raise NotImplementedError(f"ending {script.end}")
    except asyncio.CancelledError:
        played.outcome = Outcome.CLIENT_DISCONNECTED
        raise
    except ConnectionResetError:
        played.outcome = Outcome.CLIENT_DISCONNECTED
    return response
