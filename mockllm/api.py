"""The API routes of every format in the table (``dialects.DIALECTS``): each
dialect's routes parse, select and respond alike; its listings answer GETs.

    POST <route>  ─▶ Dialect.parse ─▶ router.select ─▶ respond (plan, play)
    GET  <listing> ─▶ the scenarios as the format lists models
"""

from __future__ import annotations

import functools
from collections.abc import Collection

from aiohttp import web

from . import router
from .dialects import DIALECTS, Call, Dialect, Listing, Route
from .exchange import DIALECT, json_body, respond
from .state import STATE


def add_routes(app: web.Application, taken: Collection[tuple[str, str]] = ()) -> None:
    """Every dialect's routes and listings, but those a mount already serves
    (``taken``: method and path pairs): a front end's own route wins."""
    for dialect in DIALECTS.values():
        for route in dialect.routes:
            if (route.method, route.path) not in taken:
                app.router.add_route(route.method, route.path, functools.partial(answer, dialect=dialect, route=route))
    by_path: dict[str, list[tuple[Dialect, Listing]]] = {}
    for dialect in DIALECTS.values():
        for listing in dialect.listings:
            by_path.setdefault(listing.path, []).append((dialect, listing))
    for path, listings in by_path.items():
        if ("GET", path) not in taken:
            # Those that ask for a header are tried first; one without answers the rest.
            listings.sort(key=lambda pair: pair[1].header is None)
            app.router.add_get(path, functools.partial(listed, listings=tuple(listings)))


async def answer(request: web.Request, *, dialect: Dialect, route: Route) -> web.StreamResponse:
    request[DIALECT] = dialect
    state = request.app[STATE]
    call = Call(route, dict(request.match_info), request.query, request.headers)
    ask = dialect.parse(await json_body(request), call)
    scenario = router.select(
        state.library, ask, request.headers.get("X-Mockllm-Scenario"), strict=state.settings.strict,
        headers=request.headers, format=dialect.name,
    )
    return await respond(request, scenario, ask, dialect)


async def listed(request: web.Request, *, listings: tuple[tuple[Dialect, Listing], ...]) -> web.Response:
    dialect, listing = next(
        ((d, lst) for d, lst in listings if lst.header is None or lst.header in request.headers), listings[-1]
    )
    request[DIALECT] = dialect
    return web.json_response(listing.render(tuple(request.app[STATE].library.scenarios.values())))
