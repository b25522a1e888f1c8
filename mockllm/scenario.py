"""The scenario: a frozen, validated value. ``parse.py`` is the only producer.

All durations are float seconds; nothing past the parser sees another unit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import events

if TYPE_CHECKING:
    from .faults import FaultSpec
    from .faults.chaos import Chaos
    from .patterns import Pattern
    from .quota import Quota

# How a reply ends, in words free of any wire format; each dialect spells
# them its own way (Anthropic ``end_turn``/``max_tokens``/``tool_use``, ...).
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model makes; ``arguments`` is the JSON text it streams."""

    name: str
    arguments: str
    id: str | None = None  # None: a fresh ``call_…`` id per response


@dataclass(frozen=True, slots=True)
class Reply:
    """What the model says: content tokens, then tool calls, then a finish reason."""

    tokens: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"

    @property
    def text(self) -> str:
        return "".join(self.tokens)


@dataclass(frozen=True, slots=True)
class Timing:
    """Delays of a reply, in seconds; ``jitter`` is a uniform +- on every gap.
    ``retry`` is the reconnect delay an EventSource stream announces."""

    first_token: float = 0.0
    per_token: float = 0.0
    jitter: float = 0.0
    retry: float = 1.0

    def at_speed(self, speed: float) -> Timing:
        return Timing(self.first_token / speed, self.per_token / speed, self.jitter / speed, self.retry / speed)


@dataclass(frozen=True, slots=True)
class ToolCallStep:
    """A tool-call delta: with a name it opens call ``index``; without, it adds arguments."""

    index: int
    name: str | None = None
    arguments: str = ""
    id: str | None = None


@dataclass(frozen=True, slots=True)
class UsageStep:
    """The usage chunk; counts left out are computed from the request and the reply."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Close:
    """End the connection abruptly: ``reset`` (RST) or ``close`` (FIN, body unfinished)."""

    mode: str


# A step of a ``steps:`` scenario: an event to send, or a pause, or the end.
Step = (
    events.Start | events.Text | events.Finish | events.Done | events.Error | events.Comment
    | events.Raw | ToolCallStep | UsageStep | Sleep | Close
)


@dataclass(frozen=True, slots=True)
class Attempt:
    """The faults of one attempt at a scenario (see ``Scenario.faults_for``)."""

    faults: tuple[FaultSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Head:
    """A scenario's own status line and headers (``response:``), as a recorded
    exchange replays them: its steps then go out as they are, for any request."""

    status: int = 200
    headers: tuple[tuple[str, str | None], ...] = ()  # over the format's own; None removes one
    delay: float = 0.0  # seconds before the headers


@dataclass(frozen=True, slots=True)
class ScenarioWarning:
    """Something legal that was probably not meant (``per_token: 40``, which
    is 40 seconds). Never fails a load; printed as ``path:line: warning: message``."""

    path: str
    line: int
    message: str  # with the key path in front, as printed
    keypath: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: warning: {self.message}"


@dataclass(frozen=True, slots=True)
class Match:
    """A scenario's ``match`` rules: each given one must hold (``router.matches``)."""

    prompt: Pattern | None = None  # searched in the last user message
    turn: int | None = None  # the number of user messages so far
    has_tool_result: bool | None = None
    tool_result_for: str | None = None  # a tool result of the tool with this name
    tool_offered: str | None = None
    system: Pattern | None = None  # searched in the system prompt
    last_role: str | None = None
    header: tuple[tuple[str, Pattern], ...] = ()  # each header present and matching
    metadata: tuple[tuple[str, Pattern], ...] = ()  # each metadata field present and matching
    user: Pattern | None = None  # the end user's id: metadata ``user`` or ``user_id``
    format: str | None = None  # the wire format the request came in (a ``dialects.DIALECTS`` name)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    reply: Reply  # with ``steps``: what the steps say, for ``stream: false``
    description: str = ""
    match: Match | None = None
    timing: Timing = field(default_factory=Timing)
    seed: int | None = None
    faults: tuple[FaultSpec, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    steps: tuple[Step, ...] | None = None  # the script itself, instead of reply + timing
    chaos: Chaos | None = None  # random faults drawn per response
    quota: Quota | None = None  # rate limits on its clients (else the server's --quota)
    source: str | None = None  # the file it came from, for listings and errors
    line: int = 1
    warnings: tuple[ScenarioWarning, ...] = ()  # for serve and the control route to show
    # A conversation: turn N answers the request that carries N-1 model turns
    # (``router.select``); each is a scenario of the same name with ``turn`` set.
    turns: tuple[Scenario, ...] = ()
    turn: int | None = None
    response: Head | None = None
    # No reply or steps: a rule for ``mockllm proxy``, saying when and how to
    # break the upstream's answer (its match, faults, attempts, chaos).
    rule: bool = False

    @property
    def key(self) -> str:
        """What attempts are counted and responses seeded by: each turn its own."""
        return self.name if self.turn is None else f"{self.name}#turn{self.turn}"

    def at_speed(self, speed: float) -> Scenario:
        """The scenario as it runs at ``--speed``: every delay divided (its
        timing, sleeps, fault durations and ``at:`` offsets) and every rate
        multiplied, once, when a response is planned. Fault labels still say
        what the file says."""
        if speed == 1:
            return self

        def faster(specs: tuple[FaultSpec, ...]) -> tuple[FaultSpec, ...]:
            return tuple(spec.at_speed(speed) for spec in specs)

        steps = self.steps
        if steps is not None:
            steps = tuple(Sleep(step.seconds / speed) if isinstance(step, Sleep) else step for step in steps)
        response = self.response
        if response is not None:
            response = dataclasses.replace(response, delay=response.delay / speed)
        return dataclasses.replace(
            self, timing=self.timing.at_speed(speed), faults=faster(self.faults), response=response,
            attempts=tuple(Attempt(faster(attempt.faults)) for attempt in self.attempts), steps=steps,
            turns=tuple(turn.at_speed(speed) for turn in self.turns),
        )

    def faults_for(self, attempt: int) -> tuple[FaultSpec, ...]:
        """Attempt N (1-based) uses ``attempts[N-1]``, the last entry repeating."""
        if not self.attempts:
            return self.faults
        return self.attempts[min(attempt, len(self.attempts)) - 1].faults
