"""What a running server holds: its settings, and the state every route
shares (the live scenarios, open exchanges, and the store of what sibling
servers share: attempt counters, quotas, the journal; see ``stores``).
Below every route module; the factory (``app.make_app``) builds it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from . import guard, metrics, stores
from .faults.chaos import Chaos
from .intake import Intake
from .journal import DEFAULT_SIZE
from .library import Library, LiveLibrary
from .metrics import Metrics
from .quota import Quota, client_of
from .recording import Recording
from .scenario import Scenario
from .shutdown import Exchanges
from .stores import Admission, Charge, Store, open_store
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
    metrics: bool = True  # GET /metrics, when the prometheus client is installed
    state: str | None = None  # --state: the store siblings share (stores.STORES); None: this process's memory

    def __post_init__(self) -> None:
        """Refuse what would fail at the first request, and normalize the allowances."""
        if self.admin_token:
            guard.check_token(self.admin_token)
        if not self.grace >= 0:
            raise ValueError(f"the grace period must be 0 seconds or more, got {self.grace}")
        self.allow_origins = tuple(dict.fromkeys(map(guard.origin, self.allow_origins)))
        self.allow_hosts = tuple(dict.fromkeys(map(guard.host_name, self.allow_hosts)))
        if self.state is not None:
            stores.check(self.state)


@dataclass
class State:
    settings: Settings
    scenarios: LiveLibrary
    control_open: bool  # control routes without a token (bound to loopback)
    guard: guard.Guard
    exchanges: Exchanges = field(default_factory=Exchanges)
    intake: Intake = field(default_factory=Intake)
    store: Store = field(init=False)
    metrics: Metrics | None = field(init=False)  # None: the optional extra is not installed, or turned off

    def __post_init__(self) -> None:
        settings = self.settings
        self.store = open_store(settings.state, speed=settings.speed, journal_size=settings.journal_size)
        exchanges = self.exchanges
        self.metrics = Metrics(lambda: len(exchanges)) if settings.metrics and metrics.available() else None

    async def admit(self, scenario: Scenario, cost: int, session: str, headers: Mapping[str, str]) -> Admission:
        """Charge a request costing ``cost`` tokens to its scenario's quota,
        else the server's (if either has one), and count its attempt unless
        the quota refuses it. Raises stores.StoreUnavailable."""
        quota = scenario.quota or self.settings.quota
        charge = None if quota is None else Charge(scenario.name, client_of(quota, session, headers), quota, cost)
        admission = await self.store.admit(session, scenario.key, charge)
        if self.store.remote:  # answered with a batch: its start-ups go on a few per turn, as they began
            await self.intake.turn(resumed=True)
        return admission

    @property
    def library(self) -> Library:
        return self.scenarios.current


STATE = web.AppKey("state", State)
