"""The state-store seam: what a server must share with its siblings (other
workers, other replicas) so that they answer as one server would.

    request ──Store.admit(session, scenario, charge)──▶ Admission(attempt, budget)   one round trip
    exchange ended ──Store.record(entry)──▶ the journal (written behind, never awaited)
    control routes ──entries / reset / change──▶ the store

Conversations need nothing here: a turn is read off the request (the model
turns it carries back), so any replica answers the same turn; only its
attempt counter is shared, like every scenario's.

Implementations are listed in ``stores.STORES``; a contract test runs each
through the same sequence (tests/unit/test_stores.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..journal import Entry
from ..quota import Budget, Quota
from ..scenario import Scenario


@dataclass(frozen=True, slots=True)
class Charge:
    """What a request costs against a quota: ``cost`` tokens, in the bucket of
    (``scenario``, ``client``) under ``quota``."""

    scenario: str
    client: str
    quota: Quota
    cost: int


@dataclass(frozen=True, slots=True)
class Admission:
    """A request's attempt number (None: the quota refused it, and nothing was
    counted) and its budget (None: no quota applies)."""

    attempt: int | None
    budget: Budget | None


@dataclass(frozen=True, slots=True)
class Change:
    """A run-time change to the scenarios, applied by every server that shares
    the store, in one order: ``text`` is the scenario's YAML (None: remove
    ``name``). ``scenario`` is the parsed text where the change was made, so
    the server it was made on need not parse it again; it never leaves it."""

    name: str
    text: str | None
    scenario: Scenario | None = None


# Applies a change to this server's scenarios (library.LiveLibrary, by way of the app).
Apply = Callable[[Change], Any]


class StoreUnavailable(Exception):
    """The shared store cannot be reached: the request that needs it is
    answered with a 503 in its format's shape (exchange.py)."""


class Store(Protocol):
    """Where attempt counters, quota buckets, the journal (and so the verdicts)
    and run-time scenario changes live."""

    # How messages name it: ``memory``, or the store's URL without its password.
    description: str
    # Whether ``admit`` answers a round trip later, a batch at a time: the
    # request then goes on through the intake again (intake.py).
    remote: bool

    async def start(self, apply: Apply) -> None:
        """Connect, and apply every change made so far, then each new one as it comes."""

    async def close(self) -> None:
        """Write what is still pending, and disconnect."""

    async def admit(self, session: str, scenario: str, charge: Charge | None) -> Admission:
        """Charge the quota, if any; if it admits, count the attempt of
        ``session`` at ``scenario``. Raises StoreUnavailable."""

    def record(self, fields: dict[str, Any]) -> Entry:
        """Journal one exchange (``Entry``'s fields but its id). Never blocks:
        a shared store writes it behind, and keeps it until it can."""

    async def entries(self) -> list[Entry]:
        """The journal, oldest first. Raises StoreUnavailable."""

    async def reset(self) -> None:
        """Forget attempt counts, quota buckets and the journal. Raises StoreUnavailable."""

    async def change(self, change: Change) -> None:
        """Apply ``change`` on every server sharing the store; returns once it
        is applied on this one. Raises StoreUnavailable."""

    async def problem(self) -> str | None:
        """Why the store cannot be used now, or None when it can."""
