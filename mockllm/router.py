"""Which scenario answers a request. Pure; first match wins:

1. the ``X-Mockllm-Scenario`` header (unknown name: 404 listing the names)
2. the request's ``model`` equal to a scenario name
3. scenarios' ``match`` rules, in load order (not with ``strict``)
4. the library's default (none: 404 listing the names)

A conversation (a scenario with ``turns``) then answers with the turn the
request has reached: turn N for a request that carries N-1 model turns.
"""

from __future__ import annotations

from collections.abc import Mapping

from .dialects import Ask
from .errors import RequestError
from .library import Library
from .scenario import Match, Scenario


def select(
    library: Library, ask: Ask, requested: str | None = None, *, strict: bool = False,
    headers: Mapping[str, str] | None = None, format: str = "",
) -> Scenario:
    """The scenario (or conversation turn) for a request in ``format``;
    ``strict`` makes an unknown model a 404, for suites that want typos
    caught rather than answered by the default."""
    return turn_of(_scenario(library, ask, requested, strict, headers or {}, format), ask)


def _scenario(
    library: Library, ask: Ask, requested: str | None, strict: bool, headers: Mapping[str, str], format: str
) -> Scenario:
    if requested is not None:
        scenario = library.get(requested)
        if scenario is None:
            raise not_found(library, f"No scenario named {requested!r}.")
        return scenario
    scenario = library.get(ask.model)
    if scenario is not None:
        return scenario
    if strict:
        raise not_found(library, f"No scenario named {ask.model!r} (the server is strict about models).")
    for scenario in library.scenarios.values():
        if scenario.match is not None and matches(scenario.match, ask, headers, format):
            return scenario
    if library.default is not None:
        return library.scenarios[library.default]
    raise not_found(library, f"No scenario matches model {ask.model!r} and no default scenario is set.")


def matches(match: Match, ask: Ask, headers: Mapping[str, str], format: str = "") -> bool:
    """Whether a request that came in ``format`` meets every rule ``match`` gives."""
    messages = ask.messages
    results = [m.result_of for m in messages if m.role == "tool"]
    metadata = dict(ask.metadata)
    user = metadata.get("user", metadata.get("user_id"))
    return (
        (match.prompt is None or match.prompt.search(ask.prompt))
        and (match.turn is None or match.turn == sum(m.role == "user" for m in messages))
        and (match.has_tool_result is None or match.has_tool_result == bool(results))
        and (match.tool_result_for is None or match.tool_result_for in results)
        and (match.tool_offered is None or match.tool_offered in ask.tools)
        and (match.system is None or match.system.search(system_prompt(ask)))
        and (match.last_role is None or bool(messages) and messages[-1].role == match.last_role)
        and all(name in headers and pattern.search(headers[name]) for name, pattern in match.header)
        and all(key in metadata and pattern.search(metadata[key]) for key, pattern in match.metadata)
        and (match.user is None or user is not None and match.user.search(user))
        and (match.format is None or match.format == format)
    )


def system_prompt(ask: Ask) -> str:
    return "\n".join(m.text for m in ask.messages if m.role == "system")


def turn_of(scenario: Scenario, ask: Ask) -> Scenario:
    """A conversation's turn for this request; any other scenario as it is."""
    if not scenario.turns:
        return scenario
    reached = 1 + sum(m.role == "assistant" for m in ask.messages)
    if reached <= len(scenario.turns):
        return scenario.turns[reached - 1]
    raise RequestError(
        404,
        f"Conversation {scenario.name!r} has {len(scenario.turns)} turn(s), but this request carries "
        f"{reached - 1} model turn(s), so it asks for turn {reached}. Add a turn, or start a new conversation.",
        code="turn_not_found",
    )


def not_found(library: Library, message: str) -> RequestError:
    known = ", ".join(library.names) or "none"
    return RequestError(404, f"{message} Known scenarios: {known}.", code="scenario_not_found")
