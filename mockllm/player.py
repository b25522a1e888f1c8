"""The only code that writes to the network: plays a ``Script`` on a request.

    start ── sleep until start+headers_at ── prepare (status, headers)
          ── for each beat: sleep until start+beat.at ── frame ── write (flushed at once)
          ── sleep until start+end_at ── end: EOF | CLOSE | RESET | HANG

Deadlines are absolute (``start`` is when the request arrived), so a slow write
never pushes later beats back. A client that goes away is noticed even during
a silent wait: the server cancels the handler (``server.py`` sets that policy),
the sleep raises ``CancelledError`` and the stream's work stops there.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import itertools
import operator
import re
import socket
import struct
import sys
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from aiohttp import web

from . import events
from .faults.body import HEARTBEAT
from .faults.live import Ending
from .journal import Outcome, Stall
from .script import Beat, End, Script

DRAIN_LIMIT = 2.0  # seconds to wait for written bytes to be acknowledged before a reset
# After the peer's kernel has the bytes, give the client a moment to read them:
# an RST makes the peer drop what it has received but not yet read.
READ_GRACE = 0.05
YIELD_EVERY = 64  # beats written back to back before other tasks get a turn
HIGH_WATER = 0x10000  # bytes queued in the socket's buffer before a write waits for them to drain


@dataclass(slots=True)
class Played:
    """What actually went out: filled in as the script plays."""

    script: Script | None = None
    outcome: Outcome = Outcome.COMPLETED
    status: int = 0
    written: int = 0  # beats of the script written so far
    bytes: int = 0  # body bytes written (beats and keepalive comments)

    @property
    def tokens(self) -> int:
        return sum(map(_tokens_of, self.script.beats[: self.written])) if self.script else 0

    def noted(self) -> dict[str, object]:
        """What the journal keeps of the response for the verdicts (``journal.Entry``).
        Read once, after the play: nothing here runs per beat."""
        script = self.script
        if script is None:
            return {}
        sent = script.beats[: self.written]
        noted: dict[str, object] = {"last_id_sent": _last_id(sent)}
        if script.respond:
            noted["retry_headers"] = retry_headers(script.headers)
        if sent and (announced := _RETRY.match(sent[0].data)):
            noted["event_retry"] = int(announced[1]) / 1000
        if any(label.startswith("stall") for label in script.faults):
            noted["stall"] = silence(script)
        if self.outcome is Outcome.DROPPED or any(label.startswith("no_done") for label in script.faults):
            noted["received"] = "".join(b.event.text for b in sent if isinstance(b.event, events.Text))
        return noted


_tokens_of = operator.attrgetter("tokens")
_data_of = operator.attrgetter("data")
RETRY_HEADERS = frozenset({"retry-after", "retry-after-ms", "x-should-retry"})
# The lines eventsource.py writes; a scenario's raw bytes may look alike but need not parse.
_RETRY = re.compile(rb"retry: (\d{1,9})\n")
_ID = re.compile(rb"id: (\d{1,18})\n")


def retry_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Those of ``headers`` that tell a client whether and when to retry, as the journal keeps them."""
    return tuple((name.lower(), value) for name, value in headers if name.lower() in RETRY_HEADERS)


def _last_id(beats: tuple[Beat, ...]) -> int | None:
    """The ``id:`` of the last EventSource event among ``beats``, if any."""
    if b"id: " not in b"".join(map(_data_of, beats)):
        return None  # most streams: one search in C rather than a match per beat
    for beat in reversed(beats):
        if found := _ID.match(beat.data):
            return int(found[1])
    return None


def silence(script: Script) -> Stall:
    """The longest silence ``script`` holds, as planned: from the start, the
    headers and each beat that is not a heartbeat, to the next (deadlines are
    absolute, so the plan is what the client saw); a hang never ends."""
    heartbeat = script.dialect.heartbeat if script.dialect is not None else HEARTBEAT
    times = [0.0, *([script.headers_at] if script.respond else [])]
    times += [b.at for b in script.beats if not (b.event is None and b.data == heartbeat)]
    if script.end is End.HANG:
        return Stall(times[-1], None)
    if script.end_at is not None:
        times.append(script.end_at)
    gaps = ((later - earlier, earlier) for earlier, later in zip(times, times[1:], strict=False))
    gap, at = max(gaps, default=(0.0, 0.0))
    return Stall(at, round(gap, 6))


async def _sleep_until(loop: asyncio.AbstractEventLoop, deadline: float) -> None:
    delay = deadline - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def play(
    request: web.Request, script: Script, start: float, played: Played, labels: tuple[tuple[str, str], ...] = ()
) -> web.StreamResponse:
    """Send ``script`` as the response to ``request``, with the ``labels``
    headers added to its own; record progress in ``played``."""
    loop = asyncio.get_running_loop()
    played.script = script
    response = _HeldHeaders(status=script.status, headers=script.headers + labels)
    if not script.streaming:
        response.content_length = len(script.body)
    with _departure(played):
        await _sleep_until(loop, start + script.headers_at)
        if not script.respond:
            await _end(request, None, script, played)
            return response
        await response.prepare(request)
        played.status = script.status
        # The hot path: a sleep (only when the beat is not yet due) and a write.
        time, write = loop.time, response.write
        frame = script.encoder.frame if script.framed and script.encoder is not None else None
        beats, first = script.beats, 0
        if beats and start + beats[0].at <= time():
            # Due with the headers: aiohttp sends both in one segment, as a
            # real server does (one write, and one read for the client).
            data = beats[0].data if frame is None else frame(0, beats[0].data, beats[0].event)
            await write(data)
            played.written, first = 1, 1
            played.bytes += len(data)
        send = await _chunk_sender(request, response)
        # A body that ends right after its last beat ends with it, in one write.
        last = len(beats) - 1 if script.end is End.EOF and script.end_at is None else -1
        tail: bytes | None = None
        due = 0  # beats written in a row without a sleep
        for index, beat in enumerate(itertools.islice(beats, first, None), first):
            delay = start + beat.at - time()
            if delay > 0:
                await asyncio.sleep(delay)
                due = 0
            elif due == YIELD_EVERY:
                # A long run of beats already due (no delays, or a stream
                # running late) would otherwise hold the loop, and every
                # other client, until it is all written.
                await asyncio.sleep(0)
                due = 0
            else:
                due += 1
            data = beat.data if frame is None else frame(index, beat.data, beat.event)
            if index == last:
                tail = data
                break
            if send is None:
                await write(data)
            elif send(data):
                await request.writer.drain()
            played.written += 1
            played.bytes += len(data)
        if tail is not None:
            await response.write_eof(tail)  # the chunk and the terminator; ``_close``'s own is then none
            played.written += 1
            played.bytes += len(tail)
        await _close(request, response, script, played, start)
    return response


async def play_live(
    request: web.Request, head: Script, writes: AsyncGenerator[Sequence[Beat], None],
    ending: Callable[[], Ending | None], start: float, played: Played, labels: tuple[tuple[str, str], ...] = (),
) -> web.StreamResponse:
    """Send a stream that is still arriving (the proxy's): ``head``'s status and
    headers, then the beats of ``writes`` as they come, then the end that
    ``ending`` tells once ``writes`` is exhausted. Each item of ``writes`` is
    one write: beats that go out together when the first falls due (an
    upstream read's frames, one send for them all, as a bare relay sends
    them). Like ``play``, deadlines are absolute; a beat that arrives after
    its time goes out at once."""
    loop = asyncio.get_running_loop()
    played.script = head
    sent: list[Beat] = []
    response = web.StreamResponse(status=head.status, headers=head.headers + labels)
    try:
        with _departure(played):
            await _sleep_until(loop, start + head.headers_at)
            await response.prepare(request)
            played.status = head.status
            time = loop.time
            send = await _chunk_sender(request, response)
            async for beats in writes:
                delay = start + beats[0].at - time()
                if delay > 0:
                    await asyncio.sleep(delay)
                data = beats[0].data if len(beats) == 1 else b"".join(beat.data for beat in beats)
                if send is None:
                    await response.write(data)
                elif send(data):
                    await request.writer.drain()
                sent.extend(beats)
                played.written += len(beats)
                played.bytes += len(data)
            # The upstream's stream is over; closing this one, and the journal
            # and metrics after it, is work no other stream should wait for.
            # Upstream streams that tick together also end together, so
            # without this turn every stream's last frames queue behind the
            # ends of the streams read before them (bench/run.py --proxy).
            await asyncio.sleep(0)
            played.script = (ending() or Ending()).of(head, tuple(sent))
            await _close(request, response, played.script, played, start)
    finally:
        await writes.aclose()  # its source is released now, not when the generator is collected
        if played.script is head:
            played.script = replace(head, beats=tuple(sent))  # what went out, for the journal
    return response


class _HeldHeaders(web.StreamResponse):
    """A response whose headers wait for its first body write and go out with
    it, in one segment. aiohttp's ``StreamResponse`` sends them on ``prepare``;
    this is its ``Response``'s way (aiohttp 3.12+; earlier ones still send them
    on ``prepare``). The player writes at once after ``prepare`` either way:
    the first beat when it is due, or nothing, which sends the headers alone."""

    _send_headers_immediately = False


@contextlib.contextmanager
def _departure(played: Played) -> Iterator[None]:
    """A client that went away, noted: the handler's cancellation goes on, a reset write ends the play."""
    try:
        yield
    except asyncio.CancelledError:
        played.outcome = Outcome.CLIENT_DISCONNECTED
        raise
    except ConnectionResetError:
        played.outcome = Outcome.CLIENT_DISCONNECTED


async def _close(request: web.Request, response: web.StreamResponse, script: Script, played: Played,
                 start: float) -> None:
    """Wait for the script's end, then end the connection as it says."""
    if script.end_at is not None:
        await _sleep_until(asyncio.get_running_loop(), start + script.end_at)
    await _end(request, response, script, played)


async def _chunk_sender(request: web.Request, response: web.StreamResponse) -> Callable[[bytes], bool] | None:
    """A write of one body chunk straight to the socket, framed as HTTP/1.1
    chunked encoding, for a response aiohttp sends chunked; None otherwise
    (the player then uses ``response.write``).

    The bytes are those aiohttp would write; going direct saves its several
    Python calls per write, a good part of what a token costs. It returns
    True when the socket's buffer is past the high-water mark: the caller
    then waits for it to drain, as aiohttp's own write does.
    """
    await response.write(b"")  # sends the headers if aiohttp still holds them (none to write otherwise)
    writer, transport = request.writer, request.transport
    if not getattr(writer, "chunked", False) or transport is None:
        return None

    def send(data: bytes) -> bool:
        if transport.is_closing():
            raise ConnectionResetError("the client went away")
        transport.write(b"%x\r\n%s\r\n" % (len(data), data))
        return transport.get_write_buffer_size() > HIGH_WATER

    return send


async def _end(request: web.Request, response: web.StreamResponse | None, script: Script, played: Played) -> None:
    if script.end is End.EOF:
        if response is not None:
            await response.write_eof()
    elif script.end is End.HANG:
        await _hang(response, script.keepalive, played)
    elif script.end is End.CLOSE:
        # FIN without the chunked terminator: the client reads a premature end.
        if request.transport is not None:  # None: the client has already gone
            request.transport.close()
        played.outcome = Outcome.DROPPED
    elif script.end is End.RESET:
        await reset(request)
        played.outcome = Outcome.DROPPED


async def _hang(response: web.StreamResponse | None, keepalive: tuple[float, bytes] | None, played: Played) -> None:
    """Stay open until the client leaves (the handler is then cancelled),
    writing the keepalive bytes at their interval if there are any."""
    if response is None or keepalive is None:
        await asyncio.Event().wait()
        return
    interval, data = keepalive
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    while True:
        deadline += interval
        await _sleep_until(loop, deadline)
        await response.write(data)
        played.bytes += len(data)


async def reset(request: web.Request) -> None:
    """Abort the connection with an RST once everything written has arrived.

    An RST discards bytes still queued in the kernel, so without the wait a
    client would lose the last tokens before the cut, some of the time.
    """
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_LIMIT
    while (transport.get_write_buffer_size() or _unacknowledged(sock)) and loop.time() < deadline:
        await asyncio.sleep(0.001)
    await asyncio.sleep(READ_GRACE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _unacknowledged(sock: socket.socket) -> int:
    """Bytes in the socket's send queue not yet acknowledged by the peer (Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    import fcntl
    import termios

    queued = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, queued)
    return queued[0]
