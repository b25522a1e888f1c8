"""What the burst tests share: a burst of requests from a process of its own
(``burst_client.py``), and a stream already playing, read as it arrives,
whose longest gap while the burst lands is what they judge."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp


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
    """A stream read as it arrives: the loop time of each read."""

    arrivals: list[float] = field(default_factory=list)
    playing: asyncio.Event = field(default_factory=asyncio.Event)  # set once 20 reads have come

    async def read(self, url: str, body: dict[str, object]) -> None:
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
            async for _ in response.content.iter_any():
                self.arrivals.append(loop.time())
                if len(self.arrivals) == 20:
                    self.playing.set()

    def longest_gap(self, began: float, ended: float, margin: float) -> float:
        """The longest silence between reads from ``began`` to ``ended``, each widened by ``margin``."""
        during = [t for t in self.arrivals if began - margin <= t <= ended + margin]
        return max(later - earlier for earlier, later in zip(during, during[1:], strict=False))
