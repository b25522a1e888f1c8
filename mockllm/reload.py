"""Hot reload: watch the scenario paths and swap in the new library on change.

Polling (every ``INTERVAL`` seconds) needs no dependency and sees edits,
additions and deletions alike. A broken edit is logged as ``file:line:
message`` and the last good library keeps serving; streams in flight are
never touched, since each already holds its compiled script.

    poll ─ snapshot (thread) ─ changed? ─ load_files (thread) ─ use_files (loop)

Files are read and parsed in a thread, so a big reload never stalls a
request; only the swap runs on the loop. Nothing a file holds, nor any bug
below, may end the watcher: each failure is logged and the next change is
tried afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from aiohttp import web

from .errors import ScenarioErrors
from .library import BUILTIN, LiveLibrary, resolve, scenario_files
from .state import STATE

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
    state = app[STATE]
    paths = list(state.settings.paths) or [BUILTIN]
    # Taken at start-up, before any request: an edit from then on is a change.
    task = asyncio.create_task(_poll(state.scenarios, paths, snapshot(paths)))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _poll(scenarios: LiveLibrary, paths: list[str], last: dict[str, tuple[int, int]]) -> None:
    while True:
        await asyncio.sleep(INTERVAL)
        try:
            current = await asyncio.to_thread(snapshot, paths)
            if current == last:
                continue
            last = current  # a failed reload waits for the next change, not the next tick
            await _reload(scenarios)
        except Exception:  # anything at all: the watcher must outlive it
            log.exception("reload failed, still serving the last good scenarios")


async def _reload(scenarios: LiveLibrary) -> None:
    try:
        files = await asyncio.to_thread(scenarios.load_files)
    except ScenarioErrors as exc:
        for problem in exc.problems:
            log.error("reload failed, still serving the last good scenarios: %s", problem)
        for warning in exc.warnings:
            log.warning("%s", warning)
        return
    library = scenarios.use_files(files)
    for warning in files.warnings:
        log.warning("%s", warning)
    log.info("reloaded %d scenarios", len(library.scenarios))
