"""What makes a stream fit for the browser's ``EventSource``. Pure.

    retry: 1000            announced first: the browser's reconnect delay
    id: 1                  every event carries its position in the reply
    data: {...}

A reconnect sends ``Last-Event-ID: N``; the stream then resumes right after
event N, each remaining event keeping its gap to the one before it, so a
drop loses and repeats nothing. Once the last event has been delivered there
is nothing to resume: the answer is 204, which stops the browser reconnecting.

Every stream must reach that 204 however its faults strike:

- a resume with nothing left is a 204 whatever the faults (``settled``);
- a resumed script is marked ``resumed``, so a fault waiting for more tokens
  than are left does not cut it again (``Trigger.locate``);
- an error event a fault adds carries the reply's last id (``_ErrorsEnd``):
  the provider's error ends the stream, and the reconnect it causes is told
  there is nothing left rather than given the rest of the answer.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

from . import events
from .dialects import Encoder
from .script import Beat, End, Script

HEADERS = (("Cache-Control", "no-cache"),)


def numbered(script: Script, *, retry: float, last_event_id: int | None = None) -> Script:
    """``script`` with ids and a ``retry:`` line, resumed after ``last_event_id``."""
    script = script.materialized()
    beats: list[Beat | None] = []  # None: an event delivered before the reconnect
    number = 0
    resume_from = 0.0
    for beat in script.beats:
        if beat.event is None or isinstance(beat.event, (events.Comment, events.Raw)):
            beats.append(beat)  # not an event of the reply: no id of its own
            continue
        number += 1
        if last_event_id is not None and number <= last_event_id:
            resume_from = beat.at
            beats.append(None)  # delivered before the reconnect
            continue
        beats.append(beat._replace(data=b"id: %d\n" % number + beat.data))
    kept = _after_resume_point(beats)
    if last_event_id is not None and last_event_id >= number:
        return finished(script)
    shift = -resume_from
    kept = [b._replace(at=max(0.0, b.at + shift)) for b in kept]
    announce = Beat(0.0, b"retry: %d\n\n" % round(retry * 1000))
    end_at = None if script.end_at is None else max(0.0, script.end_at + shift)
    return dataclasses.replace(
        script, headers=_with_headers(script.headers), beats=(announce, *kept), end_at=end_at,
        encoder=_ErrorsEnd(script.encoder, number) if script.encoder is not None else None,
        resumed=bool(last_event_id),
    )


class _ErrorsEnd:
    """The dialect's encoder, but an error event (one a fault adds) carries the
    reply's last id: after the provider's error nothing is left to resume."""

    def __init__(self, encoder: Encoder, last_id: int) -> None:
        self._encoder = encoder
        self._id_line = b"id: %d\n" % last_id

    def frame(self, index: int, body: bytes, event: events.Event | None) -> bytes:
        return self._encoder.frame(index, body, event)

    def encode(self, event: events.Event, index: int = 0) -> bytes:
        data = self._encoder.encode(event, index)
        return self._id_line + data if isinstance(event, events.Error) else data

    def complete(self, stream: Sequence[events.Event]) -> bytes:
        return self._encoder.complete(stream)


def _with_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """``headers`` plus those of ``HEADERS`` the format did not already send."""
    present = {name.lower() for name, _ in headers}
    return headers + tuple((name, value) for name, value in HEADERS if name.lower() not in present)


def _after_resume_point(beats: Sequence[Beat | None]) -> list[Beat]:
    """Drop what came before the last already-delivered event."""
    last_skipped = max((i for i, b in enumerate(beats) if b is None), default=-1)
    return [b for b in beats[last_skipped + 1 :] if b is not None]


def finished(script: Script) -> Script:
    """204 No Content: the stream is over, and EventSource must not come back."""
    # Ends cleanly even when the reply itself ends in a cut (a ``close`` step):
    # there is nothing left to cut, and the journal must not call a 204 dropped.
    return dataclasses.replace(
        script, status=204, headers=HEADERS, beats=(), streaming=False, end=End.EOF, end_at=None,
        headers_at=0.0, keepalive=None,
    )


def last_event_id(header: str | None) -> int | None:
    """The ``Last-Event-ID`` a reconnect sends; anything but a count is ignored.

    Only ASCII digits count: ``str.isdigit`` also accepts ``²``, which ``int``
    refuses. A count too long for ``int`` is past every reply's end anyway.
    """
    text = (header or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    text = text.lstrip("0") or "0"
    return int(text) if len(text) <= _DIGITS else sys.maxsize


_DIGITS = len(str(sys.maxsize)) - 1  # counts this long convert exactly; longer ones are past any reply


def settled(script: Script, unfaulted: Script) -> Script:
    """After the faults, for a resume: ``script`` as the faults left it,
    ``unfaulted`` as numbering left it. Nothing left to send is a 204 whatever
    the faults: a drop or a status there would make the browser come back, or
    report an error, for a reply it already has in full."""
    if unfaulted.status == 204:
        return unfaulted
    return nothing_left_is_finished(script)


def nothing_left_is_finished(script: Script) -> Script:
    """After the faults: a resumed stream with no event left to send is over.

    A fault can remove what numbering left to resume (``no_done`` takes the
    final ``[DONE]``); answering 200 with only ``retry:`` would make the
    browser reconnect forever, so it is a 204 instead.
    """
    if not script.respond or script.status != 200 or not script.streaming or script.end is not End.EOF:
        return script  # a fault answers otherwise: a status, a cut, a stall
    if any(not beat.data.startswith(b"retry:") for beat in script.beats):
        return script
    return finished(script)

