"""Hot reload: watch the scenario paths and swap in the new library on change.

Polling (every ``INTERVAL`` seconds) needs no dependency and sees edits,
additions and deletions alike. A broken edit is logged as ``file:line:
message`` and the last good library keeps serving; streams in flight are
never touched, since each already holds its compiled script.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from aiohttp import web

from .errors import ScenarioErrors
from .library import BUILTIN, resolve, scenario_files

INTERVAL = 0.5
log = logging.getLogger("mockllm")


def snapshot(paths: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Each scenario file under ``paths`` with its modification time and size."""
    seen: dict[str, tuple[int, int]] = {}
    for path in paths:
        try:
            files = scenario_files(resolve(path))
        except ScenarioErrors:
            continue  # missing for now: its return is a change like any other
        for file in files:
            with contextlib.suppress(OSError):  # deleted since it was listed
                stat = file.stat()
                seen[str(file)] = (stat.st_mtime_ns, stat.st_size)
    return seen


async def watch(app: web.Application) -> AsyncIterator[None]:
    """An aiohttp cleanup context: the watcher runs while the app does."""
    from .app import STATE

    state = app[STATE]
    task = asyncio.create_task(_poll(state))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _poll(state) -> None:
    paths = list(state.settings.paths) or [BUILTIN]
    last = snapshot(paths)
    while True:
        await asyncio.sleep(INTERVAL)
        current = await asyncio.to_thread(snapshot, paths)
        if current == last:
            continue
        last = current
        try:
            library = state.scenarios.reload()
        except ScenarioErrors as exc:
            for problem in exc.problems:
                log.error("reload failed, still serving the last good scenarios: %s", problem)
            continue
        log.info("reloaded %d scenarios", len(library.scenarios))
