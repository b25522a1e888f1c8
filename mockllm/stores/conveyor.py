"""One connection to Redis whose commands go out as they are asked, without
waiting for the answers to those before: Redis answers a connection's
commands in the order they came, so each answer belongs to the oldest
command still waiting. The Redis store sends its admissions this way.

    ask(command) ──(every command asked in one turn of the loop: one write)──▶ Redis
    reader task ◀── answers, in order ── pops the oldest waiting future and sets it

Why not redis-py's pool and pipelines: through a pool a pipeline takes six
turns of the loop and a command three, even on an idle server (measured;
the pool and every socket timeout go through ``asyncio.wait_for``, a task
each), and a burst makes every turn 2-5 ms of other requests' start-ups. An
admission then took 15-25 ms of a fresh worker's loop, past its first
token's deadline. Here it takes four turns: the write, the read, the answer,
the request resuming.

No socket timeout either: the connection waits for answers as long as
someone waits on one. Each command has its own deadline instead; one missed
means the connection is taken for lost: every command waiting on it fails,
and the next one asked connects again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import redis.asyncio as redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError, ResponseError

from .base import StoreUnavailable

UNREACHABLE = (RedisError, OSError, asyncio.TimeoutError)  # what a connection raises when Redis is away


class Conveyor:
    def __init__(self, url: str, *, connect_timeout: float, description: str) -> None:
        self._pool = redis.ConnectionPool.from_url(url, socket_timeout=None, socket_connect_timeout=connect_timeout)
        self._description = description
        self._connection: AbstractConnection | None = None
        self._connecting = asyncio.Lock()
        self._asked: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []  # for the next write
        self._waiting: deque[asyncio.Future[Any]] = deque()  # sent, in the order they went out
        self._tasks: set[asyncio.Task[None]] = set()

    async def ask(self, command: tuple[Any, ...], deadline: float) -> Any:
        """Redis's answer to ``command``: its value, or the ResponseError it
        gave (a script's error, NOSCRIPT). Raises StoreUnavailable when the
        connection is lost, or no answer came within ``deadline`` seconds."""
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        if not self._asked:  # the write runs next turn, once every request of this one has asked
            self._spawn(self._send())
        self._asked.append((command, answer))
        late = loop.call_later(deadline, self._late, answer, deadline)
        try:
            return await answer
        finally:
            late.cancel()

    async def connect(self) -> None:
        """Connect now rather than at the first command (raises StoreUnavailable)."""
        await self._connected()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        asked, self._asked = [answer for _, answer in self._asked], []
        _fail(asked + list(self._waiting), self._unavailable("the server is stopping"))
        self._waiting.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.disconnect()

    async def _send(self) -> None:
        batch, self._asked = self._asked, []
        try:
            connection = await self._connected()
            # Queued before the write, and in one step with it: the answers come in this order.
            self._waiting.extend(answer for _, answer in batch)
            await connection.send_packed_command(connection.pack_commands([c for c, _ in batch]), check_health=False)
        except StoreUnavailable as problem:
            _fail([answer for _, answer in batch], problem)
        except UNREACHABLE as exc:
            self._lost(exc)

    async def _connected(self) -> AbstractConnection:
        async with self._connecting:  # one connection at a time, whoever asks meanwhile
            if self._connection is None:
                connection: AbstractConnection = self._pool.make_connection()  # type: ignore[no-untyped-call]
                try:
                    await connection.connect()  # type: ignore[no-untyped-call]
                except UNREACHABLE as exc:
                    raise self._unavailable(exc) from exc
                self._connection = connection
                self._spawn(self._read(connection))
            return self._connection

    async def _read(self, connection: AbstractConnection) -> None:
        while True:
            try:
                answer: Any = await connection.read_response()
            except ResponseError as refused:  # an answer too: the script's error, or NOSCRIPT
                answer = refused
            except UNREACHABLE as exc:
                if connection is self._connection:
                    self._lost(exc)
                return
            if not self._waiting:  # nothing was asked: the connection is not in a state to trust
                self._lost("an answer no command asked for")
                return
            waiting = self._waiting.popleft()
            if not waiting.done():  # its request may have gone (cancelled)
                waiting.set_result(answer)

    def _late(self, answer: asyncio.Future[Any], deadline: float) -> None:
        if not answer.done():  # still to be sent (connecting), or sent and not answered
            _fail([answer], self._unavailable(f"no answer in {deadline:g} s"))
            self._lost(f"no answer in {deadline:g} s")

    def _lost(self, error: BaseException | str) -> None:
        """The connection is gone or not to be trusted: every command waiting fails, the next connects again."""
        connection, self._connection = self._connection, None
        if connection is not None:
            self._spawn(connection.disconnect(nowait=True))
        waiting, self._waiting = list(self._waiting), deque()
        _fail(waiting, self._unavailable(error))

    def _unavailable(self, error: BaseException | str) -> StoreUnavailable:
        return StoreUnavailable(f"the state store {self._description} is unavailable: "
                                f"{error if isinstance(error, str) else error or type(error).__name__}")

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _fail(answers: list[asyncio.Future[Any]], problem: StoreUnavailable) -> None:
    for answer in answers:
        if not answer.done():
            answer.set_exception(problem)
