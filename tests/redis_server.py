"""A real redis-server for the shared-state tests, on a free loopback port,
started and stopped by the tests (scripts/test installs Debian's redis-server)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """``url(group)`` names a fresh group of keys, so tests never share state."""

    def __init__(self, keep_in: str | None = None) -> None:
        """``keep_in``: a folder where it keeps its data across a restart (an append-only file)."""
        self.keep_in = keep_in
        binary = shutil.which("redis-server")
        assert binary, "the shared-state tests need redis-server: apt-get install redis-server (scripts/test does)"
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (again, on the same port: an outage ends)."""
        kept = ["--appendonly", "yes", "--dir", self.keep_in] if self.keep_in else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", *kept,
             "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Stop it (an outage begins)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def url(self, group: str | None = None) -> str:
        return f"redis://127.0.0.1:{self.port}/0?group={group or uuid.uuid4().hex[:12]}"
