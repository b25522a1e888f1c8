"""What the burst tests share: a burst of requests from a process of its own
(``burst_client.py``), and a stream already playing, read as it arrives in
another (``observe_client.py``), whose longest gap while the burst lands is
what they judge."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path


async def burst_client(port: int, count: int, model: str) -> asyncio.subprocess.Process:
    """``count`` connections opened and idle, from their own process; a line on its stdin sends them all."""
    burst = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("burst_client.py")), str(port), str(count), model,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    assert burst.stdin is not None and burst.stdout is not None
    assert (await burst.stdout.readline()).strip() == b"ready"
    return burst


@dataclass
class Observed:
    """A stream read as it arrives, by a client in its own process
    (``observe_client.py``): the time of each read. ``time.monotonic()``
    there is the loop's clock here (asyncio's ``loop.time()``)."""

    arrivals: list[float] = field(default_factory=list)
    playing: asyncio.Event = field(default_factory=asyncio.Event)  # set once 20 reads have come

    async def read(self, url: str, body: dict[str, object]) -> None:
        parts = urllib.parse.urlsplit(url)
        reader = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).with_name("observe_client.py")), str(parts.port), parts.path,
            json.dumps(body), stdout=asyncio.subprocess.PIPE,
        )
        assert reader.stdout is not None
        assert (await reader.stdout.readline()).strip() == b"playing"
        self.playing.set()
        self.arrivals = json.loads(await reader.stdout.readline())
        assert await reader.wait() == 0

    def longest_gap(self, began: float, ended: float, margin: float) -> float:
        """The longest silence between reads from ``began`` to ``ended``, each widened by ``margin``."""
        during = [t for t in self.arrivals if began - margin <= t <= ended + margin]
        return max(later - earlier for earlier, later in zip(during, during[1:], strict=False))
