"""``mockllm proxy`` and ``mockllm record``: every API route forwarded to a
real upstream, its answer relayed as it arrives, with faults applied live.

    request ─▶ rule (match, attempts) + X-Mockllm-Faults + chaos ─▶ LiveFaults
            ─▶ head faults (status, slow_headers, …: maybe no upstream call at all)
            ─▶ upstream ─▶ frames (Framing.frames) ─▶ Dialect.understand ─▶ beats
            ─▶ LiveFaults.feed ─▶ player.play_live ─▶ client
                                └▶ the recording's take (record), frame by frame

Rules are scenarios without a reply (``Scenario.rule``); a scenario with a
reply works as a rule too, its reply unused: the upstream answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import random
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Protocol

import aiohttp
from aiohttp import web

from . import pipeline, player, router
from .dialects import DIALECTS, Ask, Call, Dialect, Response, Route, dialect_for
from .errors import RequestError, ScenarioErrors
from .exchange import ARRIVED, DIALECT, EXCHANGE, admitted, asked_by, json_body
from .faults import FAULTS, FaultSpec, chaos
from .faults.live import Ending, LiveFaults
from .guard import is_control
from .library import Library
from .parse import parse_faults
from .scenario import Reply, Scenario
from .script import PADDING_BYTES, Beat, End, Script, framed_as
from .state import STATE
from .upstream import CLIENT, UPSTREAM_ERRORS, QuietWatch, failure, forwarded, is_stream, relayed

log = logging.getLogger("mockllm")

# What answers when no rule matches: attempts are counted and responses seeded under its name.
UNRULED = Scenario(name="upstream", reply=Reply(), rule=True)
MAX_FRAME = 1024 * 1024  # bytes of an unfinished frame held before they go out as they are
FAULTS_HEADER = "X-Mockllm-Faults"


class Take(Protocol):
    """What a recording keeps of one exchange, told as it happens (``recording.py``)."""

    def frame(self, at: float, data: bytes) -> None: ...

    def finish(self, complete: bool) -> None: ...


class Recorder(Protocol):
    def take(self, request: web.Request, dialect: Dialect, ask: Ask | None, status: int,
             headers: tuple[tuple[str, str], ...], at: float) -> Take: ...


RECORDER = web.AppKey("recorder", Recorder)


def add_routes(app: web.Application) -> None:
    """Every format's routes and listings, and any other path but the control plane's, forwarded."""
    for dialect in DIALECTS.values():
        for route in dialect.routes:
            app.router.add_route(route.method, route.path, functools.partial(forward, dialect=dialect, route=route))
    app.router.add_route("*", "/{path:.*}", functools.partial(forward, dialect=None, route=None))


async def forward(request: web.Request, *, dialect: Dialect | None, route: Route | None) -> web.StreamResponse:
    if is_control(request.path):
        raise web.HTTPNotFound()
    dialect = dialect or dialect_for(request.path)
    request[DIALECT] = dialect
    state = request.app[STATE]
    start = request[ARRIVED]
    raw = await request.read()
    asked = Asked(request, dialect, route, await _body(request, route))
    request[EXCHANGE].update(asked_by(request))
    rule = _rule(state.library, asked, request, dialect.name)
    session = request[EXCHANGE]["session"] or ""
    attempt = (await admitted(state.store.admit(session, rule.key, None), dialect)).attempt
    assert attempt is not None, "with no quota to refuse it, every request is admitted"
    specs, odds = _faults(request, rule, attempt, state.settings.chaos)
    labels: tuple[tuple[str, str], ...] = (("X-Mockllm-Attempt", str(attempt)),)
    if rule is not UNRULED:
        labels = (("X-Mockllm-Scenario", rule.name), *labels)
    live = _live(state.settings.seed, dialect, rule, session, attempt, specs, odds, asked) if specs or odds else None
    if live is not None and live.labels:
        labels += ((FAULTS_HEADER, "; ".join(live.labels)),)
    played = player.Played()
    request[EXCHANGE].update(scenario=None if rule is UNRULED else rule.name, attempt=attempt,
                             faults=live.labels if live is not None else (), played=played)
    # With no faults at all, the upstream's answer goes as it is: nothing is drawn, no head is made.
    head = live.head(live.base) if live is not None else None
    try:
        if head is not None and LiveFaults.answers(head):  # a status, a proxy page, a dead or hung connection
            return await player.play(request, head.materialized(), start, played, labels)
        return await _relay(request, raw, dialect, route, asked, live, head, start, played, labels)
    finally:
        request[EXCHANGE].update(played.noted())


def _live(seed: int, dialect: Dialect, rule: Scenario, session: str, attempt: int, specs: list[FaultSpec],
          odds: chaos.Chaos, asked: Asked) -> LiveFaults:
    """The response's faults, drawn from its seeded generator, over the head
    that faults adding events or answering in the format's words work from."""
    rng = pipeline.response_rng(seed, rule, session, attempt)
    specs = specs + _chaos(odds, rng)
    encoder = dialect.encoder(Response(asked() or Ask(model=""), rng, int(time.time()), rule.name,
                                       rng.randbytes(PADDING_BYTES)))
    base = Script(200, dialect.headers(rng, streaming=True, first_token=0.0), (), dialect=dialect, encoder=encoder)
    return LiveFaults(specs, base, rng)


class Asked:
    """The request as its format reads it, for the rules, the faults and the
    recording: parsed the first time one of them asks (a proxy with no rule
    to match and no fault parses nothing); None for a listing and for a body
    the format refuses (the upstream answers it in its own words)."""

    def __init__(self, request: web.Request, dialect: Dialect, route: Route | None, body: object) -> None:
        self.request, self.dialect, self.route, self.body = request, dialect, route, body
        self.ask: Ask | None = None
        self.read = route is None or body is _REFUSED

    def __call__(self) -> Ask | None:
        if not self.read:
            self.read = True
            request, route = self.request, self.route
            assert route is not None, "a listing is never parsed"
            try:
                self.ask = self.dialect.parse(self.body, Call(route, dict(request.match_info), request.query,
                                                              request.headers))
            except RequestError:
                pass
        return self.ask


_REFUSED = object()  # a body that is not JSON: no format reads it


async def _body(request: web.Request, route: Route | None) -> object:
    """The decoded body of an API request, which the journal keeps; ``_REFUSED`` for one that is not JSON."""
    if route is None:
        return _REFUSED
    try:
        return await json_body(request)
    except RequestError:
        return _REFUSED


def _rule(library: Library, asked: Asked, request: web.Request, format: str) -> Scenario:
    """The rule for a request: named by ``X-Mockllm-Scenario``, or the first whose ``match`` holds."""
    named = request.headers.get("X-Mockllm-Scenario")
    if named is not None:
        scenario = library.get(named)
        if scenario is None:
            raise router.not_found(library, f"No proxy rule named {named!r}.")
        return scenario
    for scenario in library.scenarios.values():
        if scenario.match is not None and (ask := asked()) is not None \
                and router.matches(scenario.match, ask, request.headers, format):
            return router.turn_of(scenario, ask)
    return UNRULED


def _faults(request: web.Request, rule: Scenario, attempt: int, odds: chaos.Chaos) -> tuple[list[FaultSpec], chaos.Chaos]:
    """The attempt's written faults, the rule's then the request header's, and the odds of chaos."""
    specs = list(rule.faults_for(attempt))
    written = request.headers.get(FAULTS_HEADER)
    if RECORDER in request.app:  # a recording is of the upstream as it is
        written = None
    if written:
        try:
            specs += parse_faults(written, FAULTS_HEADER)
        except ScenarioErrors as error:
            raise RequestError(400, f"{FAULTS_HEADER}: {error.problems[0].message}", param=FAULTS_HEADER) from None
    return specs, odds + rule.chaos


def _chaos(odds: chaos.Chaos, rng: random.Random) -> list[FaultSpec]:
    """The faults chaos draws for this response, if it has odds."""
    chaos_seed = rng.getrandbits(64)  # drawn always, so chaos never shifts other draws
    return chaos.draw(odds, chaos.LIVE_TOKENS, FAULTS, random.Random(chaos_seed)) if odds else []


async def _relay(
    request: web.Request, raw: bytes, dialect: Dialect, route: Route | None, asked: Asked, live: LiveFaults | None,
    head: Script | None, start: float, played: player.Played, labels: tuple[tuple[str, str], ...],
) -> web.StreamResponse:
    """Call the upstream and play its answer through the faults (``head``: the
    head they made; None with no faults), as it arrives."""
    upstream = request.app[STATE].settings.upstream
    assert upstream is not None, "the proxy's routes exist only with an upstream"
    url = upstream.target(request.path, request.query_string)
    client = request.app[CLIENT]
    loop = asyncio.get_running_loop()
    try:
        answer = await client.request(request.method, url, headers=forwarded(request.headers), data=raw or None,
                                      allow_redirects=False)
    except UPSTREAM_ERRORS as error:
        raise failure(error, url) from None
    async with answer:
        request[EXCHANGE]["upstream_status"] = answer.status
        streamed = is_stream(answer.headers)
        # The proxy's own labels win over any an upstream mockllm sent.
        own = {name.lower() for name, _ in labels}
        headers = tuple((name, value) for name, value in relayed(answer.headers.items()) if name.lower() not in own)
        recorder = request.app.get(RECORDER) if route is not None else None  # API routes only, not listings
        take = recorder.take(request, dialect, asked(), answer.status, headers, loop.time() - start) if recorder else None
        if not streamed and live is not None and live.streamed:
            request[EXCHANGE]["ignored_faults"] = tuple(spec.describe() for spec in live.streamed)
        if head is None:
            head = Script(answer.status, headers, (), streaming=streamed, dialect=dialect)
        else:
            head = dataclasses.replace(head, status=answer.status, headers=headers, streaming=streamed)
        relay = _Relay(answer, dialect, streamed, live if streamed else None, head.headers_at, start, take,
                       upstream.read_timeout)
        return await player.play_live(request, head, relay.writes(), relay.ending, start, played, labels)


class _Relay:
    """The upstream's body as beats: cut into frames, understood, through the faults.

    A stream with no fault on its frames (most proxied streams) skips the
    stages: each read's frames go out as they came, in one write, as a bare
    relay writes them. They are still understood, one by one as they pass:
    the journal counts their tokens, and work spread over the stream keeps
    no other stream waiting at its end."""

    def __init__(self, answer: aiohttp.ClientResponse, dialect: Dialect, streamed: bool, live: LiveFaults | None,
                 shift: float, start: float, take: Take | None, quiet_after: float) -> None:
        self.answer, self.dialect, self.streamed, self.start, self.take = answer, dialect, streamed, start, take
        self.shift, self.quiet_after = shift, quiet_after
        self.live = live if live is not None and live.stages else None  # None: nothing acts on the frames
        self.cut: Ending | None = None  # how the stream ended when the upstream broke it

    def ending(self) -> Ending | None:
        if self.cut is not None:
            return self.cut
        return self.live.ending if self.live is not None else Ending()

    async def writes(self) -> AsyncGenerator[Sequence[Beat], None]:
        """The beats to send, grouped as they may go out together (``player.play_live``)."""
        loop = asyncio.get_running_loop()
        framing, understand, live, take, shift = self.dialect.framing, self.dialect.understand, self.live, self.take, self.shift
        pending = b""
        complete = False
        try:
            with QuietWatch(self.answer, self.quiet_after) as quiet:
                async for chunk in self.answer.content.iter_any():
                    now = quiet.heard = loop.time()
                    at = now - self.start
                    if take is not None:
                        take.frame(at, chunk)
                    if not self.streamed:
                        yield (Beat(at + shift, chunk),)
                        continue
                    frames, pending = framing.frames(pending + chunk)
                    if len(pending) > MAX_FRAME:  # not the format's frames at all: pass them on as they are
                        frames, pending = [*frames, pending], b""
                    if live is None:
                        if frames:
                            yield [framed_as(at + shift, frame, understand(frame)) for frame in frames]
                        continue
                    for frame in frames:
                        for beat in live.feed(framed_as(at + shift, frame, understand(frame))):
                            yield (beat,)  # a fault's beats each go as their own write: ``fragment`` cuts them so
                        if live.finished:
                            return  # a fault ended the stream: the upstream's answer is closed unread
            complete = True
        except UPSTREAM_ERRORS as error:
            # The upstream broke its stream: the client sees it break the same way.
            log.warning("%s %s: the upstream's stream broke: %s", "proxy", self.answer.url.path, error)
            self.cut = Ending(End.RESET)
        finally:
            if take is not None:
                take.finish(complete)
        if self.cut is not None:
            return
        at = loop.time() - self.start + shift
        # The last frame may lack its end (a CR-only stream's held ``\r``).
        last = framed_as(at, pending, understand(pending)) if pending else None
        if live is None:
            if last is not None:
                yield (last,)
            return
        out = live.feed(last) if last is not None else []
        if not live.finished:
            out += live.close()
        for beat in out:
            yield (beat,)
