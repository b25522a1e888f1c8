"""The in-memory store: one process's counters, buckets and journal, as a
server with no ``--state`` has always kept them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..journal import DEFAULT_SIZE, Entry, Journal
from ..quota import Quotas
from ..sessions import Attempts
from .base import Admission, Apply, Change, Charge


class MemoryStore:
    description = "memory"
    remote = False

    def __init__(self, *, speed: float = 1.0, journal_size: int = DEFAULT_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = Attempts()
        self.quotas = Quotas(speed)  # the buckets run on the server's clock times --speed
        self.journal = Journal(journal_size)
        self._clock = clock
        self._apply: Apply | None = None

    async def start(self, apply: Apply) -> None:
        self._apply = apply

    async def close(self) -> None:
        pass

    async def admit(self, session: str, scenario: str, charge: Charge | None) -> Admission:
        budget = None
        if charge is not None:
            budget = self.quotas.charge(charge.scenario, charge.client, charge.quota, charge.cost, self._clock())
            if budget.refused:
                return Admission(None, budget)
        return Admission(self.attempts.next(session, scenario), budget)

    def record(self, fields: dict[str, Any]) -> Entry:
        return self.journal.record(**fields)

    async def entries(self) -> list[Entry]:
        return self.journal.entries()

    async def reset(self) -> None:
        self.attempts.reset()
        self.journal.clear()
        self.quotas.reset()

    async def change(self, change: Change) -> None:
        assert self._apply is not None, "the store is started with the app"
        await self._apply(change)

    async def problem(self) -> str | None:
        return None
