"""The sandbox page at ``/``: static HTML, CSS and JavaScript shipped in the
package, with no build step and nothing fetched from beyond the server.

``GET /_mockllm/formats`` tells the page which wire formats it can stream:
every format in ``dialects.DIALECTS`` with routes of its own that streams,
with the request its official client sends (``Dialect.example``) holding
``{model}`` and ``{prompt}`` for the page to fill in.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .dialects import DIALECTS, Dialect
from .dialects.base import NDJSON

STATIC = Path(__file__).parent / "static"
MODEL = "{model}"
PROMPT = "{prompt}"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/_mockllm/formats", formats)
    app.router.add_static("/static/", STATIC, append_version=False)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def formats(request: web.Request) -> web.Response:
    return web.json_response(format_list(), headers={"Cache-Control": "no-cache"})


def format_list() -> list[dict[str, object]]:
    """The streaming formats of the table, in its order, each with its example request."""
    return [describe(dialect) for dialect in DIALECTS.values() if dialect.routes and dialect.streams]


def describe(dialect: Dialect) -> dict[str, object]:
    example = dialect.example(MODEL, PROMPT, stream=True)
    return {
        "name": dialect.name,
        "title": dialect.title,
        "framing": "ndjson" if dialect.framing is NDJSON else "sse",
        "path": example.path,
        "headers": dict(example.call.headers),
        "body": example.body,
    }
