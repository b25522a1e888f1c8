"""What every API route shares for one exchange: reading the JSON body,
planning and playing the response, and rendering a refusal.

    request ─▶ json_body ─▶ (the route's dialect parses, the router selects) ─▶ respond ─▶ player
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import math
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import pipeline, player
from .dialects import Ask, Dialect, dialect_for
from .errors import RequestError
from .headers import merge_headers
from .journal import BODY_LIMIT, request_summary
from .quota import Budget
from .scenario import Scenario
from .script import Script, completion_tokens, is_large
from .sessions import session_key
from .state import STATE
from .stores import Admission, StoreUnavailable

# When the request was taken up (loop time; intake.py): every delay of its script counts from here.
ARRIVED = web.RequestKey("arrived", float) if hasattr(web, "RequestKey") else "mockllm.arrived"
# The format of the route that took the request: its refusals are in that format's shape.
DIALECT = web.RequestKey("dialect", Dialect) if hasattr(web, "RequestKey") else "mockllm.dialect"
# What the handler learned, for the journal. RequestKey is aiohttp 3.12+;
# older versions take a plain string key without a warning.
EXCHANGE = web.RequestKey("exchange", dict) if hasattr(web, "RequestKey") else "mockllm.exchange"


async def respond(
    request: web.Request, scenario: Scenario, ask: Ask, dialect: Dialect,
    reshape: pipeline.Reshape | None = None,
    settle: Callable[[Script, Script], Script] | None = None,
) -> web.StreamResponse:
    """Plan the response for ``scenario`` and play it: the part every route shares."""
    request[DIALECT] = dialect
    if scenario.rule:
        raise RequestError(
            500, f"Scenario {scenario.name!r} has no reply or steps: it is a rule for `mockllm proxy`, "
            "whose upstream answers. Give it a reply to serve it.", code="scenario_has_no_reply")
    start = request[ARRIVED] if ARRIVED in request else asyncio.get_running_loop().time()
    state = request.app[STATE]
    asker = asked_by(request)
    session = asker["session"] or ""
    # A request over its quota never reaches the scenario: no attempt, no plan.
    cost = ask.prompt_tokens + (completion_tokens(scenario.reply) if dialect.streams else 0)
    admission = await admitted(state.admit(scenario, cost, session, request.headers), dialect)
    if state.store.remote:
        # A shared store answered a round trip later (and the intake let the request go
        # on, state.py): that was a wait before the start, like the intake's. Counted from
        # the take-up, the first events would be overdue and go out together.
        start = asyncio.get_running_loop().time()
    budget = admission.budget
    if admission.attempt is None:
        assert budget is not None
        request[EXCHANGE].update(scenario=scenario.name, session=session)  # the journal says whose quota
        raise over_quota(dialect, budget)
    attempt = admission.attempt
    plan = functools.partial(
        pipeline.plan,
        scenario,
        ask,
        dialect,
        seed=state.settings.seed,
        session=session,
        attempt=attempt,
        speed=state.settings.speed,
        created=int(time.time()),
        chaos=state.settings.chaos,
        reshape=reshape,
        settle=settle,
        framed=True,
    )
    # A huge reply takes a while to compile: other clients must not wait for it.
    script = await asyncio.to_thread(plan) if is_large(scenario) else plan()
    if budget is not None:
        script = dataclasses.replace(script, headers=merge_headers(
            script.headers, dialect.rate_limit_headers(budget, time.time())))
    labels: tuple[tuple[str, str], ...] = (("X-Mockllm-Scenario", scenario.name), ("X-Mockllm-Attempt", str(attempt)))
    if scenario.turn is not None:
        labels += (("X-Mockllm-Turn", str(scenario.turn)),)
    if script.faults:
        labels += (("X-Mockllm-Faults", "; ".join(script.faults)),)  # labels are one line of ASCII
    played = player.Played()
    request[EXCHANGE].update(
        scenario=scenario.name, attempt=attempt, faults=script.faults, ignored_faults=script.ignored, played=played,
        assistant_texts=tuple(m.text for m in ask.messages if m.role == "assistant"), **asker,
    )
    # The stream plays in a task of its own, so that each of its many wake-ups
    # resumes one coroutine instead of the whole chain of middlewares above.
    # Cancelling the handler (the client left) cancels the task it awaits.
    try:
        return await asyncio.get_running_loop().create_task(player.play(request, script, start, played, labels))
    finally:
        request[EXCHANGE].update(played.noted())  # the task has ended, even when cancelled


async def admitted(asked: Awaitable[Admission], dialect: Dialect) -> Admission:
    """The request's attempt and budget, once the store has ``asked``; the
    format's own 503 when the shared store is away."""
    try:
        return await asked
    except StoreUnavailable as problem:
        usual = dialect.status_error(503)
        raise RequestError(503, f"mockllm cannot answer this request: {problem}. Retry it once the store is back.",
                           type=usual.type, code="state_unavailable", headers=usual.headers) from None


async def json_body(request: web.Request) -> object:
    """The decoded JSON body; 400 for bytes that are not UTF-8 JSON, 413 past the cap."""
    raw = await request.read()
    try:
        body = _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        _note_request(request, request_summary(raw))
        raise RequestError(400, "The request body is not valid UTF-8.") from None
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting too deep to decode
        _note_request(request, request_summary(raw))
        reason = exc if isinstance(exc, ValueError) else "nested too deeply"
        raise RequestError(
            400,
            f"We could not parse the JSON body of your request ({reason}). "
            "The API expects a JSON object as the request body.",
        ) from None
    # A lone surrogate (``"\\ud800"``) decodes, but no UTF-8 can carry it: echoed
    # into a stream, an error or the journal it would break the response. Only a
    # body with a surrogate escape can hold one, so others pay one byte search.
    if _SURROGATE_ESCAPE.search(raw) and (lone := _lone_surrogate(body)) is not None:
        _note_request(request, request_summary(raw))
        raise RequestError(
            400,
            f"We could not parse the JSON body of your request (lone surrogate {lone!r} is not a character). "
            "The API expects a JSON object as the request body.",
        )
    # A small body is kept as decoded here (bytes bound its characters); no second decode.
    _note_request(request, body if len(raw) <= BODY_LIMIT else request_summary(raw))
    return body


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: object) -> str | None:
    """The first lone surrogate in a decoded body, if any: an escaped pair
    decodes to one character, so any surrogate left stands alone. Iterative:
    the body may be nested as deep as the decoder allows."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item)  # keys
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and (found := _SURROGATE.search(item)):
            return found.group()
    return None


def _note_request(request: web.Request, summary: object) -> None:
    """Keep what the journal shows of the body, and of the client (for the verdicts)."""
    if EXCHANGE in request:
        request[EXCHANGE].update(request=summary, **asked_by(request))


def asked_by(request: web.Request) -> dict[str, str | None]:
    """Who asked, as the journal keeps it for the verdicts: the session (also
    of a request refused before any scenario answers it), the User-Agent that
    names an SDK, and the id an EventSource reconnect resumes from."""
    headers = request.headers
    return {
        "session": session_key(headers.get("X-Mockllm-Session"), request.query.get("session"), request.remote),
        "client": headers.get("User-Agent", "")[:USER_AGENT_LIMIT] or None,
        "last_event_id": headers.get("Last-Event-ID") or request.query.get("lastEventId"),
    }


USER_AGENT_LIMIT = 200  # characters of a User-Agent kept: enough to name an SDK and its version


def _not_json(constant: str) -> object:
    """Python's decoder accepts NaN and Infinity; JSON, and the real API, do not."""
    raise ValueError(f"{constant} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_not_json)  # made once: json.loads with options makes one per call


def error_response(error: RequestError, dialect: Dialect) -> web.Response:
    return web.Response(
        status=error.status,
        body=dialect.error_body(error),
        headers={"Content-Type": dialect.error_content_type, **error.headers},
    )


def over_quota(dialect: Dialect, budget: Budget) -> RequestError:
    """The format's own 429, telling what is left and, for a request that
    fits once the bucket refills, the real wait in whole seconds."""
    usual = dialect.status_error(429)
    headers = {**usual.headers, **dict(dialect.rate_limit_headers(budget, time.time()))}
    if budget.retry_after is None:
        headers.pop("retry-after", None)
    else:
        headers["retry-after"] = str(math.ceil(budget.retry_after))
    return RequestError(429, budget.message, type=usual.type, code=usual.code, headers=headers)


def dialect_of(request: web.Request) -> Dialect:
    """The format a refusal of ``request`` is in: its route's, or for a
    request no route took, the format whose routes its path is nearest."""
    return request.get(DIALECT) or dialect_for(request.path)
