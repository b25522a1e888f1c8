"""Where a server keeps what its siblings must share (``base.Store``): the
table of stores, by the scheme of ``--state``.

    (no --state), memory://       memory.MemoryStore       this process only, as always
    redis://, rediss://, unix://  redis_store.RedisStore   every worker and replica on that Redis

The Redis store needs the optional extra: ``pip install 'mockllm-server[redis]'``.
"""

from __future__ import annotations

import importlib.util
import urllib.parse
from collections.abc import Callable

from ..journal import DEFAULT_SIZE
from .base import Admission, Change, Charge, Store, StoreUnavailable
from .memory import MemoryStore

__all__ = ["Admission", "Change", "Charge", "MemoryStore", "STORES", "Store", "StoreUnavailable", "check", "open_store"]

INSTALL = "--state redis://... needs the redis client: pip install 'mockllm-server[redis]'"


def _memory(url: str, *, speed: float, journal_size: int) -> Store:
    return MemoryStore(speed=speed, journal_size=journal_size)


def _redis(url: str, *, speed: float, journal_size: int) -> Store:
    from .redis_store import RedisStore  # the optional extra: imported only when asked for

    return RedisStore(url, speed=speed, journal_size=journal_size)


# The scheme of a --state URL, and what opens that store.
STORES: dict[str, Callable[..., Store]] = {"memory": _memory, "redis": _redis, "rediss": _redis, "unix": _redis}


def check(url: str) -> None:
    """Refuse a ``--state`` URL that could never be opened (ValueError says why)."""
    opener = STORES.get(urllib.parse.urlsplit(url).scheme)
    if opener is None:
        raise ValueError(f"--state: expected redis://HOST:PORT/DB (or rediss://, unix:///PATH), got {url!r}")
    if opener is _redis:
        if importlib.util.find_spec("redis") is None:
            raise ValueError(INSTALL)
        from .redis_store import parse_url

        try:
            parse_url(url)
        except ValueError as exc:
            raise ValueError(f"--state: {exc}") from None


def open_store(url: str | None, *, speed: float = 1.0, journal_size: int = DEFAULT_SIZE) -> Store:
    """The store ``--state`` names (None: this process's memory); ValueError
    says what is wrong with the URL, or what to install."""
    url = url or "memory://"
    check(url)
    return STORES[urllib.parse.urlsplit(url).scheme](url, speed=speed, journal_size=journal_size)
