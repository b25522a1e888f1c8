"""Which scenario answers a request. Pure; first match wins:

1. the ``X-Mockllm-Scenario`` header (unknown name: 404 listing the names)
2. the request's ``model`` equal to a scenario name
3. scenarios' ``match`` rules, in load order (not with ``strict``)
4. the library's default (none: 404 listing the names)
"""

from __future__ import annotations

from .dialects import Ask
from .errors import RequestError
from .library import Library
from .scenario import Scenario


def select(library: Library, ask: Ask, requested: str | None = None, *, strict: bool = False) -> Scenario:
    """The scenario for a request; ``strict`` makes an unknown model a 404, for
    suites that want typos caught rather than answered by the default."""
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
        if scenario.match_prompt is not None and scenario.match_prompt.search(ask.prompt):
            return scenario
    if library.default is not None:
        return library.scenarios[library.default]
    raise not_found(library, f"No scenario matches model {ask.model!r} and no default scenario is set.")


def not_found(library: Library, message: str) -> RequestError:
    known = ", ".join(library.names) or "none"
    return RequestError(404, f"{message} Known scenarios: {known}.", code="scenario_not_found")
