"""What a running server holds: its settings, and the state every route
shares (the live scenarios, attempt counters, open exchanges, the journal).
Below every route module; the factory (``app.make_app``) builds it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from . import guard
from .faults.chaos import Chaos
from .journal import DEFAULT_SIZE, Journal
from .library import Library, LiveLibrary
from .quota import Budget, Quota, Quotas, client_of
from .recording import Recording
from .scenario import Scenario
from .sessions import Attempts
from .shutdown import Exchanges
from .upstream import Upstream

DEFAULT_MAX_BODY = 10 * 1024 * 1024


@dataclass
class Settings:
    library: Library
    speed: float = 1.0
    seed: int = 0
    max_body: int = DEFAULT_MAX_BODY
    chaos: Chaos = Chaos()
    quota: Quota | None = None  # for every scenario without a quota of its own
    paths: tuple[str, ...] = ()  # where ``library`` came from: what a reload reads
    default: str | None = None
    reload: bool = False
    journal_size: int = DEFAULT_SIZE
    admin_token: str | None = None
    strict: bool = False  # an unknown model is a 404 instead of the default
    mounts: tuple[tuple[str, str], ...] = ()  # (path, format): a front end's own backend routes
    allow_origins: tuple[str, ...] = ()  # pages that may use the control routes (see guard.py)
    allow_hosts: tuple[str, ...] = ()  # Host names the control routes answer beyond loopback
    # Seconds open streams get to finish when the server stops. In process (tests,
    # the pytest plugin) leftovers are ended soon; ``serve`` gives 5 s by default.
    grace: float = 1.0
    upstream: Upstream | None = None  # proxy and record: every API route goes there (proxy.py)
    recording: Recording | None = None  # record: where each exchange is written

    def __post_init__(self) -> None:
        """Refuse what would fail at the first request, and normalize the allowances."""
        if self.admin_token:
            guard.check_token(self.admin_token)
        if not self.grace >= 0:
            raise ValueError(f"the grace period must be 0 seconds or more, got {self.grace}")
        self.allow_origins = tuple(dict.fromkeys(map(guard.origin, self.allow_origins)))
        self.allow_hosts = tuple(dict.fromkeys(map(guard.host_name, self.allow_hosts)))


@dataclass
class State:
    settings: Settings
    scenarios: LiveLibrary
    control_open: bool  # control routes without a token (bound to loopback)
    guard: guard.Guard
    attempts: Attempts = field(default_factory=Attempts)
    exchanges: Exchanges = field(default_factory=Exchanges)
    journal: Journal = field(default_factory=Journal)
    quotas: Quotas = field(init=False)

    def __post_init__(self) -> None:
        self.quotas = Quotas(self.settings.speed)  # the buckets run on the server's clock times --speed

    def charge(self, scenario: Scenario, cost: int, session: str, headers: Mapping[str, str], now: float) -> Budget | None:
        """What a request costing ``cost`` tokens at ``now`` (loop time) leaves of
        its scenario's quota, else the server's; None where neither has one."""
        quota = scenario.quota or self.settings.quota
        if quota is None:
            return None
        return self.quotas.charge(scenario.name, client_of(quota, session, headers), quota, cost, now)

    @property
    def library(self) -> Library:
        return self.scenarios.current


STATE = web.AppKey("state", State)
