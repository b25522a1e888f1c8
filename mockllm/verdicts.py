"""Verdicts: how a client behaved, judged from the journal of its session alone. Pure.

    journal entries of one session ─▶ attempts ─▶ chains (a request, then its retries) ─▶ one verdict each

A *retry* is a request that repeats the one before it (the same method, route
and body; for EventSource, the same query) after that one failed: an error
status, no response, a cut, or a client that gave up. Each verdict is
``pass``, ``fail`` or ``n/a`` (nothing in the session to judge), with the
evidence: the entry ids, the times and the wait asked for. The thresholds
(docs/verdicts.md):

- a retry is judged against the wait the server asked for: ``retry-after-ms``,
  else ``retry-after`` (seconds or an HTTP date), else an EventSource
  stream's ``retry:``; an SDK that caps the wait it honours (``CAPS``) is
  not held to a wait above its cap;
- ``backed_off``: every retry waits at least ``FLOOR`` (100 ms); one asked to
  wait waits that long; one not asked waits at least ``GROWTH`` (1.5) times
  the wait before it, when that one was not asked either;
- ``bounded_retries``: at most ``max_retries`` (default 5) retries in a row;
- ``aborted_stall``: the client leaves a stall within ``stall_deadline``
  seconds (default 30) of the silence's start.

Waits are measured at the server, from the end of the failed response to the
arrival of the retry, less ``SLACK`` (10 ms) for the clocks and the network.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .journal import Entry, Outcome

PASS, FAIL, NA = "pass", "fail", "n/a"
NAMES = (
    "honoured_retry_after", "backed_off", "bounded_retries", "no_retry_on_non_retryable",
    "obeyed_should_retry", "aborted_stall", "resumed_with_last_event_id", "noticed_truncation",
)
FLOOR = 0.1  # seconds: a retry sooner than this has not backed off, whatever came before
GROWTH = 1.5  # an unasked wait is at least this many times the unasked wait before it
SLACK = 0.01  # seconds a measured wait may fall short of the one asked for
MAX_RETRIES = 5
STALL_DEADLINE = 30.0  # seconds
NON_RETRYABLE = frozenset({400, 401, 403, 404, 422})

Evidence = dict[str, object]


@dataclass(frozen=True, slots=True)
class Verdict:
    result: str  # PASS | FAIL | NA
    evidence: tuple[Evidence, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"result": self.result, "evidence": list(self.evidence)}


@dataclass(frozen=True, slots=True)
class Cap:
    """The longest ``retry-after`` an SDK honours, read from its source."""

    client: str  # the User-Agent's first word and version: ``OpenAI/Python 3.57.0``
    seconds: float | None  # None: no cap
    beyond: str  # what the SDK does with a longer wait
    source: str

    def covers(self, wait: float) -> bool:
        return self.seconds is None or wait <= self.seconds


# (User-Agent pattern, the cap for a major version) -- first match wins.
# The Stainless SDKs name themselves ``<Class>/<Lang> <version>``: ``AsyncOpenAI/Python 3.57.0``.
CAPS: tuple[tuple[re.Pattern[str], Callable[[int], tuple[float | None, str, str]]], ...] = (
    (re.compile(r"^\w*OpenAI/Python (\d+)\."), lambda major: (
        (120.0, "does not retry", "openai-python 3.x _base_client.py: MAX_RETRY_AFTER_DELAY = 2 * 60, "
                                  "_should_retry refuses a longer wait")
        if major >= 3 else
        (60.0, "waits its own backoff", "openai-python 1.x _calculate_retry_timeout: 0 < retry_after <= 60"))),
    (re.compile(r"^\w*Anthropic\w*/Python (\d+)\."), lambda major: (
        None, "", "anthropic-python _calculate_retry_timeout: any retry_after > 0 (at most 4,294,967 s, "
                  "time.sleep's limit)")),
    (re.compile(r"^\w*OpenAI/JS (\d+)\."), lambda major: (
        60.0, "waits its own backoff", "openai-node client.js retryRequest: timeoutMillis > 60 * 1000 is ignored")),
    (re.compile(r"^\w*Anthropic\w*/JS (\d+)\."), lambda major: (
        None, "", "@anthropic-ai/sdk client.js retryRequest: any wait up to 2 ** 31 - 1 ms")),
)


def cap_for(user_agent: str | None) -> Cap | None:
    """The cap of the SDK that ``user_agent`` names; None for any other client (no cap)."""
    for pattern, cap in CAPS:
        if user_agent and (found := pattern.match(user_agent)):
            seconds, beyond, source = cap(int(found[1]))
            return Cap(" ".join(user_agent.split()[:2]), seconds, beyond, source)
    return None


# -- what a session's entries say -------------------------------------------

@dataclass(frozen=True, slots=True)
class Retry:
    """A retry (``entry``) of the failed ``previous`` attempt."""

    previous: Entry
    entry: Entry
    number: int  # 1 for the first retry of a chain

    @property
    def wait(self) -> float:
        return round(self.entry.time - ended(self.previous), 3)

    def facts(self, **more: object) -> dict[str, object]:
        """The evidence every retry gives: entry ids, attempts and times (Unix seconds)."""
        return {
            "entries": [self.previous.id, self.entry.id],
            "attempts": [self.previous.attempt, self.entry.attempt],
            "times": [round(ended(self.previous), 3), round(self.entry.time, 3)],
            "waited": self.wait, **more,
        }


def ended(entry: Entry) -> float:
    return entry.time + entry.duration


def failed(entry: Entry) -> bool:
    return entry.status is None or entry.status >= 400 or entry.outcome in (
        Outcome.DROPPED, Outcome.CLIENT_DISCONNECTED, Outcome.ERROR)


def identity(entry: Entry) -> str:
    """What a retry repeats: the method, the route and the body (an EventSource
    reconnect's query, less the id it resumes from)."""
    asked = entry.request
    if isinstance(asked, dict) and "query" in asked and "last_event_id" in asked:
        query = asked["query"] if isinstance(asked["query"], dict) else {}
        asked = {k: v for k, v in query.items() if k != "lastEventId"}
    return f"{entry.method} {entry.route} {json.dumps(asked, sort_keys=True, default=str)}"


def chains(entries: Sequence[Entry]) -> list[list[Entry]]:
    """The session's requests, each followed by its retries, in order of arrival."""
    open_chains: dict[str, list[Entry]] = {}
    found: list[list[Entry]] = []
    for entry in sorted(entries, key=lambda e: e.time):
        key = identity(entry)
        chain = open_chains.get(key)
        if chain is not None and failed(chain[-1]):
            chain.append(entry)
        else:
            chain = open_chains[key] = [entry]
            found.append(chain)
    return found


def retries(entries: Sequence[Entry]) -> list[Retry]:
    return [Retry(chain[i - 1], chain[i], i) for chain in chains(entries) for i in range(1, len(chain))]


def asked_wait(entry: Entry) -> float | None:
    """The seconds ``entry``'s response asked the client to wait before retrying."""
    headers = dict(entry.retry_headers)
    for name, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            value = float(headers[name]) / divisor
        except (KeyError, ValueError):
            continue
        if math.isfinite(value):
            return max(value, 0.0)
    if "retry-after" in headers:
        try:
            when = email.utils.parsedate_to_datetime(headers["retry-after"]).timestamp()
        except (TypeError, ValueError):
            return None
        return max(when - ended(entry), 0.0)
    return entry.event_retry


def _seconds(value: float) -> str:
    return f"{value:.3g} s"


# -- the verdicts -----------------------------------------------------------

def judge(
    entries: Iterable[Entry], *, max_retries: int = MAX_RETRIES, stall_deadline: float = STALL_DEADLINE
) -> dict[str, Verdict]:
    """Every verdict on one session's ``entries``."""
    session = sorted(entries, key=lambda e: e.time)
    found = retries(session)
    return {
        "honoured_retry_after": honoured_retry_after(found),
        "backed_off": backed_off(found),
        "bounded_retries": bounded_retries(session, max_retries),
        "no_retry_on_non_retryable": no_retry_on_non_retryable(session, found),
        "obeyed_should_retry": obeyed_should_retry(session, found),
        "aborted_stall": aborted_stall(session, stall_deadline),
        "resumed_with_last_event_id": resumed_with_last_event_id(session),
        "noticed_truncation": noticed_truncation(session),
    }


@dataclass(slots=True)
class _Tally:
    """Findings of one verdict: it fails if any failed, passes if any passed."""

    evidence: list[Evidence] = field(default_factory=list)
    passed: bool = False
    failed: bool = False

    def add(self, result: str, note: str, **facts: object) -> None:
        self.passed |= result == PASS
        self.failed |= result == FAIL
        self.evidence.append({"result": result, "note": note, **facts})

    def verdict(self) -> Verdict:
        result = FAIL if self.failed else PASS if self.passed else NA
        return Verdict(result, tuple(self.evidence))


def honoured_retry_after(found: Sequence[Retry]) -> Verdict:
    tally = _Tally()
    for retry in found:
        asked = asked_wait(retry.previous)
        if asked is None:
            continue
        cap = cap_for(retry.entry.client)
        facts = retry.facts(asked=asked, cap=_cap_json(cap))
        if cap is not None and not cap.covers(asked):
            tally.add(NA, f"#{retry.entry.id} retried #{retry.previous.id} after {_seconds(retry.wait)}; "
                          f"the {_seconds(asked)} asked is above {cap.client}'s {_seconds(cap.seconds or 0)} cap, "
                          f"past which it {cap.beyond}", **facts)
        elif retry.wait + SLACK >= asked:
            tally.add(PASS, f"#{retry.entry.id} waited {_seconds(retry.wait)} after #{retry.previous.id} "
                            f"asked for {_seconds(asked)}", **facts)
        else:
            tally.add(FAIL, f"#{retry.entry.id} came {_seconds(retry.wait)} after #{retry.previous.id}, "
                            f"which asked for {_seconds(asked)}", **facts)
    return tally.verdict()


def backed_off(found: Sequence[Retry]) -> Verdict:
    tally = _Tally()
    before: float | None = None  # the previous unasked wait of the same chain
    for retry in found:
        if retry.number == 1:
            before = None
        asked = asked_wait(retry.previous)
        cap = cap_for(retry.entry.client)
        if asked is not None and cap is not None and not cap.covers(asked):
            asked = None  # the SDK's own backoff applies, by design
        wait = retry.wait
        facts = retry.facts(asked=asked, before=before)
        where = f"#{retry.entry.id} came {_seconds(wait)} after #{retry.previous.id}"
        if wait + SLACK < FLOOR:
            tally.add(FAIL, f"{where}: under {FLOOR * 1000:g} ms", **facts)
        elif asked is not None:
            ok = wait + SLACK >= asked
            tally.add(PASS if ok else FAIL, f"{where}, which asked for {_seconds(asked)}", **facts)
        elif before is not None:
            ok = wait + SLACK >= GROWTH * before
            tally.add(PASS if ok else FAIL, f"{where}; the wait before was {_seconds(before)} "
                                            f"(at least {GROWTH:g}x that is backing off)", **facts)
        else:
            tally.add(PASS, f"{where}: at least {FLOOR * 1000:g} ms", **facts)
        before = wait if asked is None else None
    return tally.verdict()


def bounded_retries(session: Sequence[Entry], limit: int) -> Verdict:
    tally = _Tally()
    for chain in chains(session):
        if not failed(chain[0]):
            continue
        count = len(chain) - 1
        ok = count <= limit
        tally.add(PASS if ok else FAIL,
                  f"#{chain[0].id} failed and was retried {count} time{'' if count == 1 else 's'} "
                  f"({'within' if ok else 'past'} the limit of {limit})",
                  entries=[e.id for e in chain], retries=count, limit=limit)
    return tally.verdict()


def _judge_refusals(
    session: Sequence[Entry], found: Sequence[Retry], refused: Callable[[Entry], str | None]
) -> Verdict:
    """Responses that said not to retry (``refused`` says why, or None): were they retried?"""
    tally = _Tally()
    retried = {retry.previous.id: retry.entry for retry in found}
    for entry in session:
        why = refused(entry)
        if why is None:
            continue
        again = retried.get(entry.id)
        if again is None:
            tally.add(PASS, f"#{entry.id} ({why}) was not retried", entries=[entry.id], status=entry.status)
        else:
            tally.add(FAIL, f"#{entry.id} ({why}) was retried by #{again.id} after "
                            f"{_seconds(again.time - ended(entry))}", entries=[entry.id, again.id], status=entry.status)
    return tally.verdict()


def no_retry_on_non_retryable(session: Sequence[Entry], found: Sequence[Retry]) -> Verdict:
    def refused(entry: Entry) -> str | None:
        # x-should-retry: true is the server's own leave to retry.
        told = dict(entry.retry_headers).get("x-should-retry") == "true"
        return f"HTTP {entry.status}" if entry.status in NON_RETRYABLE and not told else None

    return _judge_refusals(session, found, refused)


def obeyed_should_retry(session: Sequence[Entry], found: Sequence[Retry]) -> Verdict:
    def refused(entry: Entry) -> str | None:
        said = dict(entry.retry_headers).get("x-should-retry")
        return f"HTTP {entry.status}, x-should-retry: false" if said == "false" else None

    return _judge_refusals(session, found, refused)


def aborted_stall(session: Sequence[Entry], deadline: float) -> Verdict:
    tally = _Tally()
    for entry in session:
        stall = entry.stall
        if stall is None:
            continue
        length = "for good" if stall.seconds is None else f"for {_seconds(stall.seconds)}"
        into = round(entry.duration - stall.at, 3)
        facts: dict[str, object] = {"entries": [entry.id], "stall_at": stall.at, "stall_for": stall.seconds,
                                    "ended_at": round(entry.duration, 3), "outcome": entry.outcome.value,
                                    "deadline": deadline}
        where = f"#{entry.id} went silent at {_seconds(stall.at)} {length}"
        if entry.outcome is Outcome.CLIENT_DISCONNECTED and into >= 0:
            ok = into <= deadline
            tally.add(PASS if ok else FAIL, f"{where}; the client left {_seconds(into)} into it "
                                            f"(deadline {_seconds(deadline)})", **facts)
        elif entry.outcome is Outcome.CLIENT_DISCONNECTED:
            tally.add(NA, f"{where}; the client left at {_seconds(entry.duration)}, before it", **facts)
        elif stall.seconds is not None and stall.seconds <= deadline:
            tally.add(NA, f"{where}, within the deadline ({_seconds(deadline)}): nothing to abort", **facts)
        else:
            tally.add(FAIL, f"{where}; the client stayed {_seconds(into)} into it (deadline "
                            f"{_seconds(deadline)}), until the response ended ({entry.outcome.value})", **facts)
    return tally.verdict()


def resumed_with_last_event_id(session: Sequence[Entry]) -> Verdict:
    """Each reconnect after an EventSource stream that delivered ids must send ``Last-Event-ID``."""
    tally = _Tally()
    for chain in _event_streams(session):
        for stream, reconnect in zip(chain, chain[1:]):
            if stream.last_id_sent is None:
                continue
            facts: dict[str, object] = {"entries": [stream.id, reconnect.id], "delivered": stream.last_id_sent,
                                        "sent": reconnect.last_event_id, "outcome": stream.outcome.value}
            where = f"#{reconnect.id} reconnected after #{stream.id} ({stream.outcome.value}, last id {stream.last_id_sent})"
            if reconnect.last_event_id:
                tally.add(PASS, f"{where} with Last-Event-ID {reconnect.last_event_id}", **facts)
            else:
                tally.add(FAIL, f"{where} without Last-Event-ID: the stream starts over", **facts)
    return tally.verdict()


def _event_streams(session: Sequence[Entry]) -> list[list[Entry]]:
    """EventSource requests (GETs) grouped by what they ask for, in order."""
    grouped: dict[str, list[Entry]] = {}
    for entry in session:
        if entry.method == "GET" and isinstance(entry.request, dict) and "last_event_id" in entry.request:
            grouped.setdefault(identity(entry), []).append(entry)
    return list(grouped.values())


def noticed_truncation(session: Sequence[Entry]) -> Verdict:
    """After a cut reply, the next request must not carry the partial text as a finished assistant turn."""
    tally = _Tally()
    posts = [entry for entry in session if entry.method == "POST"]
    for cut, following in zip(posts, posts[1:]):
        partial = (cut.received or "").strip()
        if not partial:
            continue
        facts: dict[str, object] = {"entries": [cut.id, following.id], "received": cut.received,
                                    "assistant_turns": list(following.assistant_texts)}
        where = f"#{cut.id} was cut after {partial[:40]!r}"
        if any(text.strip() == partial for text in following.assistant_texts):
            tally.add(FAIL, f"{where}; #{following.id} sent it back as a finished assistant turn", **facts)
        else:
            tally.add(PASS, f"{where}; #{following.id} did not send it back as a finished turn", **facts)
    return tally.verdict()


def _cap_json(cap: Cap | None) -> dict[str, object] | None:
    if cap is None:
        return None
    return {"client": cap.client, "seconds": cap.seconds, "beyond": cap.beyond or None, "source": cap.source}


def to_json(session: str, verdicts: dict[str, Verdict]) -> dict[str, object]:
    """The body of ``GET /_mockllm/verdicts`` (DESIGN.md)."""
    return {"session": session, "verdicts": {name: verdict.to_json() for name, verdict in verdicts.items()}}
