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
from pathlib import Path

from aiohttp import web

from .errors import ScenarioErrors
from .library import BUILTIN, SUFFIXES, builtin_dir

INTERVAL = 0.5
log = logging.getLogger("mockllm")


def snapshot(paths: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Each scenario file under ``paths`` with its modification time and size."""
    seen: dict[str, tuple[int, int]] = {}
    for path in paths:
        root = builtin_dir() if path == BUILTIN else Path(path)
        files = root.rglob("*") if root.is_dir() else [root]
        for file in files:
            if file.suffix in SUFFIXES or file == root:
                with contextlib.suppress(OSError):
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
