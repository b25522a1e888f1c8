"""Taking requests up a few at a time, so that a burst of new requests does
not hold up the streams already playing.

Starting a stream (parsing, routing, planning, the headers) costs a few
hundred microseconds, all before its first ``await`` gives the loop back.
asyncio runs every callback that is ready before it looks at its timers, so
a burst of 200 requests read in one turn of the loop is 50 ms of start-ups
in a row, and every stream whose next event falls due meanwhile writes it
late, then the one after it at once: two events in one read, where the
client expected 20 ms between them. Here a turn takes up new requests for at
most ``BUDGET`` seconds; the rest wait in line, in arrival order, while the
timers run and the streams write what is due:

    turn 1   take up r1 r2 ... r20 ─ budget spent ─ r21..r200 queue
             timers: due events written
    turn 2   r21..r40 (as many as turn 1 fitted) ─ timers ─ ...

A request's deadlines count from when it is taken up (``exchange.ARRIVED``),
so its own timing is whole; the wait shows as a longer time to first byte,
as it would on a real server this busy. One server's requests only: a turn
is this loop's, and nothing here is shared.

A shared store (``--state``) answers admissions a round trip later, a batch
at a time (stores/redis_store.py): the rest of every start-up in the batch
(planning, the headers, the first writes) would run in one turn, 20-30 ms
for the 80 requests a slow first round trip gathers. So a request resumes
through the intake too (``turn(resumed=True)``), ahead of those not yet
taken up, whose clocks have not started.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

BUDGET = 0.002  # seconds of start-ups in one turn of the loop: a tenth of a 20 ms token gap


class Intake:
    def __init__(self, budget: float = BUDGET) -> None:
        self.budget = budget
        self._began: float | None = None  # when this turn took up its first request
        self._last: float | None = None  # when this turn took up its latest request
        self._cost = 0.0  # seconds one start-up takes, a moving average of the gaps between them
        self._line: deque[asyncio.Future[None]] = deque()
        self._resumed: deque[asyncio.Future[None]] = deque()  # started already: they go first

    async def turn(self, *, resumed: bool = False) -> None:
        """Return once the request may start (or, ``resumed``, go on after
        waiting on the store): at once when the loop has room."""
        ahead = self._resumed if resumed else self._resumed or self._line
        if ahead or not self._room():
            ticket = asyncio.get_running_loop().create_future()
            (self._resumed if resumed else self._line).append(ticket)
            await ticket  # cancelled (the client left): ``_next_turn`` skips it
        self._started()

    def _room(self) -> bool:
        now = time.perf_counter()
        if self._began is None:
            self._began = now
            asyncio.get_running_loop().call_soon(self._next_turn)  # runs first in the next turn
        return now - self._began <= self.budget

    def _started(self) -> None:
        now = time.perf_counter()
        if self._last is not None:  # the request before started this turn: the gap is its start-up
            self._cost += (min(now - self._last, self.budget) - self._cost) / 8
        self._last = now

    def _next_turn(self) -> None:
        """A new turn: let go on, in order, as many in line as fit its budget."""
        self._began = self._last = None
        fit = max(1, int(self.budget / self._cost)) if self._cost else 1
        for line in (self._resumed, self._line):
            while line and fit:
                ticket = line.popleft()
                if not ticket.done():
                    ticket.set_result(None)  # it runs next turn, before this is called again
                    fit -= 1
        if self._resumed or self._line:
            asyncio.get_running_loop().call_soon(self._next_turn)
