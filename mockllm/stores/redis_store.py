"""The Redis store (``--state redis://HOST:PORT/DB``): every worker and replica
that names the same Redis and group shares one set of attempt counters, quota
buckets, one journal and one history of run-time scenario changes.

    admit ──ADMIT (Lua: quota buckets, then the attempt counter), on a connection of its own
            (conveyor.py): one write a turn of the loop, answers in order──▶ one round trip per request
    record ──▶ pending ──writer task, JOURNAL (Lua: ids, XADD MAXLEN)──▶ {group}:journal
    change ──CHANGE (Lua: HSET the latest, XADD)──▶ {group}:changes ──reader task (XREAD)──▶ apply, in stream order

Keys (``{group}`` is ``mockllm`` or ``mockllm:NAME`` from ``?group=NAME``):
``{group}:gen`` the generation a reset bumps; ``{group}:a:{gen}:...`` attempt
counters and ``{group}:q:{gen}:...`` quota buckets, which expire once unused;
``{group}:journal`` a stream capped at ``--journal-size``; ``{group}:scenarios``
the latest change of each name, and ``{group}:changes`` their stream, for the
replicas already running. The scripts build key names, so this is for one
Redis server, not a Redis Cluster.

Scripts run atomically, so two replicas charging one bucket at once each see
the other's charge. The clock is Redis's own (``TIME``): replicas on machines
whose clocks differ still refill a bucket alike. A request whose round trip
fails is not retried: it gets a 503, and a retry of it counts once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as redis
from redis.exceptions import NoScriptError, ResponseError

from ..journal import DEFAULT_SIZE, Entry
from ..quota import WINDOW, Bucket, budget_of
from ..scenario import Scenario
from .base import Admission, Apply, Change, Charge, StoreUnavailable
from .conveyor import UNREACHABLE, Conveyor

log = logging.getLogger("mockllm")

ATTEMPT_TTL = 86_400  # seconds an unused attempt counter is kept (memory keeps the 100,000 newest)
CHANGES_KEPT = 10_000  # entries of the changes stream kept for replicas that fall behind
TIMEOUT = 5.0  # seconds a command may take before the request that waits on it gets a 503
RETRY = 0.5  # seconds between tries to write the journal, or to read changes, while Redis is away
CONNECTIONS = 8  # to Redis, besides the changes reader's and the admissions' own
BLOCK_MS = 10_000  # how long one read of the changes stream waits for news

@dataclass(frozen=True)
class Script:
    """A Lua script, run by its SHA-1 digest (EVALSHA) so each call sends its arguments only."""

    text: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.text.encode()).hexdigest())


# KEYS none (the prefix is ARGV[1]); ARGV: prefix, attempt key, attempt ttl, then for a quota:
# bucket key, rpm ('' none), tpm ('' none), cost, speed, bucket ttl.
# Returns {attempt (-1: refused), refused limit or '', wait or '', requests level or '', tokens level or ''}.
# The arithmetic is quota.step's, line for line: the contract test holds them together.
ADMIT = Script("""
local p = ARGV[1]
local gen = redis.call('GET', p .. ':gen') or '0'
local base = p .. ':' .. gen .. ':'
local out = {-1, '', '', '', ''}
local function fmt(x) return string.format('%.17g', x) end
if ARGV[4] and ARGV[4] ~= '' then
  local key = base .. 'q:' .. ARGV[4]
  local cost = tonumber(ARGV[7])
  local t = redis.call('TIME')
  local clock = (tonumber(t[1]) + tonumber(t[2]) / 1e6) * tonumber(ARGV[8])
  local stored = redis.call('HMGET', key, 'rl', 'ra', 'tl', 'ta')
  local limits = {ARGV[5], ARGV[6]}
  local levels, ats = {}, {}
  for i = 1, 2 do
    if limits[i] ~= '' then
      local cap = tonumber(limits[i])
      local level, at = cap, clock
      if stored[2 * i - 1] then
        level = tonumber(stored[2 * i - 1])
        at = tonumber(stored[2 * i])
        level = math.min(cap, level + math.max(0, clock - at) * cap / WINDOW)
        at = math.max(clock, at)
      end
      levels[i], ats[i] = level, at
    end
  end
  local refused, wait = nil, nil
  if limits[2] ~= '' and cost > tonumber(limits[2]) then
    refused = 'tokens'
  else
    local best_name, best = nil, -1
    local needs = {1, cost}
    local names = {'requests', 'tokens'}
    for i = 1, 2 do
      if limits[i] ~= '' then
        local missing = needs[i] - levels[i]
        local w = 0
        if missing > EPSILON then w = missing / (tonumber(limits[i]) / WINDOW) end
        if w > best then best_name, best = names[i], w end
      end
    end
    if best > 0 then refused, wait = best_name, best end
  end
  if not refused then
    if limits[1] ~= '' then levels[1] = levels[1] - 1 end
    if limits[2] ~= '' then levels[2] = levels[2] - cost end
  end
  for i = 1, 2 do
    if limits[i] ~= '' then
      local names = {{'rl', 'ra'}, {'tl', 'ta'}}
      redis.call('HSET', key, names[i][1], fmt(levels[i]), names[i][2], fmt(ats[i]))
      out[3 + i] = fmt(levels[i])
    end
  end
  redis.call('EXPIRE', key, ARGV[9])
  if refused then
    out[2] = refused
    if wait then out[3] = fmt(wait) end
    return out
  end
end
local akey = base .. 'a:' .. ARGV[2]
out[1] = redis.call('INCR', akey)
redis.call('EXPIRE', akey, ARGV[3])
return out
""".replace("WINDOW", repr(WINDOW)).replace("EPSILON", "1e-9"))

# ARGV: prefix, journal size, then one JSON entry each. Gives each its id.
JOURNAL = Script("""
local p = ARGV[1]
for i = 3, #ARGV do
  local id = redis.call('INCR', p .. ':journal:id')
  redis.call('XADD', p .. ':journal', 'MAXLEN', ARGV[2], '*', 'id', id, 'entry', ARGV[i])
end
return #ARGV - 2
""")

# ARGV: prefix, name, text ('' with ARGV[4] == '0': remove), present ('1' add, '0' remove), kept.
# A scenario keeps its place in the match order when replaced (library.LiveLibrary does so too).
CHANGE = Script("""
local p = ARGV[1]
local latest = redis.call('HGET', p .. ':scenarios', ARGV[2])
local order
if latest then
  local was = cjson.decode(latest)
  if was.present and ARGV[4] == '1' then order = was.order end
end
if not order then order = redis.call('INCR', p .. ':order') end
local present = ARGV[4] == '1'
redis.call('HSET', p .. ':scenarios', ARGV[2], cjson.encode({present = present, text = ARGV[3], order = order}))
return redis.call('XADD', p .. ':changes', 'MAXLEN', '~', ARGV[5], '*',
                  'name', ARGV[2], 'present', ARGV[4], 'text', ARGV[3], 'order', order)
""")

# ARGV: prefix. Every name's latest change, and the changes stream's last id, at one instant.
SNAPSHOT = Script("""
local p = ARGV[1]
local last = redis.call('XREVRANGE', p .. ':changes', '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then id = last[1][1] end
return {id, redis.call('HGETALL', p .. ':scenarios')}
""")

RESET = Script("""
redis.call('INCR', ARGV[1] .. ':gen')
redis.call('DEL', ARGV[1] .. ':journal')
return 1
""")

SCRIPTS = (ADMIT, JOURNAL, CHANGE, SNAPSHOT, RESET)


def parse_url(url: str) -> tuple[str, str, str]:
    """``redis://HOST:PORT/DB?group=NAME`` as (URL for the client, key
    prefix, a description without the password); ValueError if it is not one."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or not url.lower().startswith(f"{parts.scheme}://"):
        raise ValueError(f"expected redis://HOST:PORT/DB, rediss://... or unix:///PATH, got {url!r}")
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    groups = [value for key, value in query if key == "group"]
    if groups and not all(c.isalnum() or c in "-_." for c in groups[-1]):
        raise ValueError(f"group: letters, digits, '-', '_' and '.' only, got {groups[-1]!r}")
    prefix = "mockllm" + (f":{groups[-1]}" if groups and groups[-1] else "")
    rest = urllib.parse.urlencode([(key, value) for key, value in query if key != "group"])
    # Not urlunsplit: it writes unix:///PATH as unix:/PATH, which redis-py (8.2 on) refuses.
    client_url = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{rest}" if rest else "")
    shown = url if "@" not in parts.netloc else url.replace(parts.netloc, parts.netloc.rpartition("@")[2], 1)
    return client_url, prefix, shown


class RedisStore:
    remote = True

    def __init__(self, url: str, *, speed: float = 1.0, journal_size: int = DEFAULT_SIZE) -> None:
        client_url, self._prefix, self.description = parse_url(url)
        self._speed = speed
        self._journal_size = journal_size
        # The journal, the control routes and the scripts' loading: a few connections do.
        pool = redis.BlockingConnectionPool.from_url(client_url, max_connections=CONNECTIONS, timeout=TIMEOUT,
                                                     socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        self._client = redis.Redis.from_pool(pool)  # owns it: closing the client closes its connections
        # The changes reader blocks for seconds at a time: a connection of its own, with no timeout shorter than that.
        self._reader = redis.Redis.from_url(client_url, socket_timeout=BLOCK_MS / 1000 + TIMEOUT,
                                            socket_connect_timeout=TIMEOUT)
        # Admissions: on a connection of their own, each sent as it is asked (conveyor.py).
        self._admissions = Conveyor(client_url, connect_timeout=TIMEOUT, description=self.description)
        # Entries as JSON, encoded as each exchange ends: encoded in the writer's batch, the 50
        # exchanges a burst ends at once would hold the loop 5-10 ms. Kept while Redis is away, the newest.
        self._pending: deque[str] = deque(maxlen=journal_size)
        self._wake = asyncio.Event()
        self._flushed = asyncio.Condition()
        self._applied: str | None = None  # the id of the last change applied here (None: none read yet)
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._apply: Apply | None = None
        self._local_ids = 0
        self._parsed: dict[str, Scenario] = {}  # changes made here, by stream id: parsed already

    # -- the seam --------------------------------------------------------------
    async def start(self, apply: Apply) -> None:
        self._apply = apply
        try:
            await self._ready()
            await self._catch_up()
        except StoreUnavailable as exc:  # a replica may start before its Redis: it answers 503s until then
            log.warning("%s; requests get a 503 until it is back", exc)
        self._tasks = [asyncio.create_task(loop()) for loop in (self._write_journal, self._read_changes)]

    async def close(self) -> None:
        self._closing = True  # redis-py may turn a cancelled read into a connection error: the loops must not retry
        # redis-py lets a command finish before a cancellation lands; a blocked read of the
        # changes would hold close() for BLOCK_MS. Closing its socket ends it at once.
        await self._reader.connection_pool.disconnect(inuse_connections=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._admissions.close()
        if self._pending:
            try:
                await asyncio.wait_for(self._write(list(self._pending)), TIMEOUT)
            except UNREACHABLE as exc:
                log.warning("state: %d journal entries not written to %s: %s", len(self._pending), self.description, exc)
        await self._client.aclose()
        await self._reader.aclose()

    async def admit(self, session: str, scenario: str, charge: Charge | None) -> Admission:
        self._ensure_caught_up()
        args: list[Any] = [self._prefix, _key(session, scenario), ATTEMPT_TTL]
        if charge is not None:
            q = charge.quota
            args += [_key(charge.scenario, charge.client, f"{q.rpm}/{q.tpm}/{q.per}"),
                     "" if q.rpm is None else q.rpm, "" if q.tpm is None else q.tpm, charge.cost,
                     repr(self._speed), math.ceil(WINDOW / self._speed) + 60]
        command = ("EVALSHA", ADMIT.sha, 0, *args)
        answer = await self._admissions.ask(command, 2 * TIMEOUT)
        if isinstance(answer, NoScriptError):  # a Redis restarted or flushed since start: nothing ran
            await self._call(self._client.script_load(ADMIT.text))
            answer = await self._admissions.ask(command, 2 * TIMEOUT)
        if isinstance(answer, ResponseError):
            raise StoreUnavailable(f"the state store {self.description} refused a script: {answer}")
        attempt, refused, wait, requests, tokens = answer
        budget = None
        if charge is not None:
            budget = budget_of(_bucket(charge.quota.rpm, requests), _bucket(charge.quota.tpm, tokens),
                               refused.decode() or None, float(wait) if wait else None, charge.cost, self._speed)
        return Admission(None if attempt < 0 else attempt, budget)

    def record(self, fields: dict[str, Any]) -> Entry:
        self._local_ids += 1  # this server's own numbering, for its log; the journal's ids are Redis's
        entry = Entry(id=self._local_ids, **fields)
        self._pending.append(json.dumps(entry.to_json()))
        self._wake.set()
        return entry

    async def entries(self) -> list[Entry]:
        await self._settled()  # this server's own exchanges are in, as the memory store's would be
        found = await self._call(self._client.xrange(f"{self._prefix}:journal"))
        return [Entry.from_json(json.loads(fields[b"entry"]) | {"id": int(fields[b"id"])}) for _, fields in found]

    async def reset(self) -> None:
        await self._settled()  # what ended before the reset is forgotten with the rest
        await self._call(self._script(RESET, [self._prefix]))

    async def change(self, change: Change) -> None:
        self._ensure_caught_up()
        present = change.text is not None
        args = [self._prefix, change.name, change.text or "", "1" if present else "0", CHANGES_KEPT]
        made = (await self._call(self._script(CHANGE, args))).decode()
        if change.scenario is not None:
            self._parsed[made] = change.scenario  # the reader applies it without a second parse
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: self._has_applied(made)), TIMEOUT)
            except asyncio.TimeoutError:
                raise StoreUnavailable(f"the change was stored in {self.description}, "
                                       "but this server has not read it back yet") from None

    async def problem(self) -> str | None:
        try:
            self._ensure_caught_up()
            await self._call(self._client.ping())
        except StoreUnavailable as exc:
            return str(exc)
        return None

    # -- behind the seam -------------------------------------------------------
    def _has_applied(self, made: str) -> bool:
        return self._applied is not None and _stream_order(self._applied) >= _stream_order(made)

    def _ensure_caught_up(self) -> None:
        """Scenarios added at run time may decide what answers: none is served before they are in."""
        if self._applied is None:
            raise StoreUnavailable(f"the state store {self.description} has not been reached yet")

    async def _ready(self) -> None:
        """Before the server listens: every script loaded, and the connections a
        burst uses open. A fresh worker's first requests otherwise paid for
        both (a handshake's round trip, a NOSCRIPT's two more) while the rest
        of its first burst queued behind them."""
        loads = [self._client.script_load(script.text) for script in SCRIPTS]
        await self._call(asyncio.gather(*loads, self._reader.ping(), self._admissions.connect()))

    async def _catch_up(self) -> None:
        """Apply the latest change of every name, in match order, and note where the stream stood."""
        assert self._apply is not None
        last, latest = await self._call(self._script(SNAPSHOT, [self._prefix]))
        changes = [json.loads(value) | {"name": name.decode()} for name, value in _pairs(latest)]
        for change in sorted(changes, key=lambda c: c["order"]):
            await self._apply(Change(change["name"], change["text"] if change["present"] else None))
        self._applied = last.decode()

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except UNREACHABLE as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, error: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"the state store {self.description} is unavailable: {error or type(error).__name__}")

    async def _write(self, entries: list[str]) -> None:
        await self._script(JOURNAL, [self._prefix, self._journal_size, *entries])

    async def _script(self, script: Script, args: list[Any]) -> Any:
        """Run ``script`` by its digest; a Redis that has not seen it (restarted, or new) is sent it first."""
        try:
            return await self._client.evalsha(script.sha, 0, *args)
        except NoScriptError:
            await self._client.script_load(script.text)
            return await self._client.evalsha(script.sha, 0, *args)

    async def _write_journal(self) -> None:
        """Write what is pending, in order, and keep it through an outage."""
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = list(self._pending)
                try:
                    await self._write(batch)
                except UNREACHABLE as exc:
                    if self._closing:
                        return  # close() writes what is left
                    log.warning("state: journal not written to %s (%s); trying again", self.description, exc)
                    await asyncio.sleep(RETRY)
                    continue
                for _ in batch:
                    self._pending.popleft()
            async with self._flushed:
                self._flushed.notify_all()

    async def _settled(self) -> None:
        """Once the journal entries pending now are written (or the store is found away)."""
        if not self._pending:
            return
        async with self._flushed:
            try:
                await asyncio.wait_for(self._flushed.wait_for(lambda: not self._pending), TIMEOUT)
            except asyncio.TimeoutError:
                raise StoreUnavailable(f"the state store {self.description} is not taking journal entries") from None

    async def _read_changes(self) -> None:
        """Apply every change in the order the stream holds them, this server's own included."""
        assert self._apply is not None
        stream = f"{self._prefix}:changes"
        while self._applied is None and not self._closing:
            try:
                await self._catch_up()
            except StoreUnavailable:
                await asyncio.sleep(RETRY)
        while not self._closing:
            try:
                found: Any = await self._reader.xread({stream: self._applied or "0-0"}, block=BLOCK_MS)
            except UNREACHABLE as exc:
                if self._closing:
                    return
                log.warning("state: cannot read scenario changes from %s (%s); trying again", self.description, exc)
                await asyncio.sleep(RETRY)
                continue
            for _, messages in found:
                for message_id, fields in messages:
                    made = message_id.decode()
                    name, text = fields[b"name"].decode(), fields[b"text"].decode()
                    present = fields[b"present"] == b"1"
                    try:
                        await self._apply(Change(name, text if present else None, self._parsed.pop(made, None)))
                    except Exception:  # a change another version could read but this one cannot
                        log.exception("state: scenario change %s (%s) not applied", made, name)
                    self._applied = made
                    async with self._changed:
                        self._changed.notify_all()


def _key(*parts: str) -> bytes:
    """Parts of a key, kept apart by a byte no name holds; a header's stray
    bytes (decoded as surrogates) go back to the bytes they were."""
    return b"\x00".join(part.encode("utf-8", "surrogateescape") for part in parts)


def _bucket(limit: int | None, level: bytes) -> Bucket | None:
    return None if limit is None else Bucket(limit, float(level), 0.0)


def _pairs(flat: list[bytes]) -> list[tuple[bytes, bytes]]:
    return list(zip(flat[::2], flat[1::2]))


def _stream_order(message_id: str) -> tuple[int, int]:
    millis, _, sequence = message_id.partition("-")
    return int(millis), int(sequence or 0)
