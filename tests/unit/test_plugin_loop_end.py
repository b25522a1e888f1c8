"""The plugin's server loop, as it ends: a task that a late callback started
(a connection accepted just before the stop starts its handler so) runs its
own cleanup, rather than being cancelled before its first step, which skips
its ``finally`` and leaves its socket to the garbage collector's warning."""

from __future__ import annotations

import asyncio

from mockllm.pytest_plugin import end_leftovers


def test_a_task_started_by_a_late_callback_runs_its_finally_before_the_loop_closes():
    loop = asyncio.new_event_loop()
    cleaned: list[str] = []

    async def handler() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append("closed its socket")

    # Two hops, as accept → connection_made → create_task: the task appears
    # while end_leftovers is already looking.
    loop.call_soon(lambda: loop.call_soon(lambda: loop.create_task(handler())))
    try:
        loop.run_until_complete(end_leftovers())
    finally:
        loop.close()
    assert cleaned == ["closed its socket"]
