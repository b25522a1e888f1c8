"""A burst of requests from a process of its own: ``COUNT`` connections
opened and idle, then on a line on stdin, one request on each, all at once.
Prints ``ready`` once connected, then the seconds from the first send until
the last response's first bytes arrived.

    python tests/wire/burst_client.py PORT COUNT MODEL
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import time

from raw_post import json_post  # beside this script


def main() -> None:
    port, count, model = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    body = json.dumps({"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = json_post("/v1/chat/completions", body)
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    print("ready", flush=True)
    sys.stdin.readline()
    began = time.perf_counter()
    for sock in sockets:
        sock.sendall(request)
    waiting = selectors.DefaultSelector()
    for sock in sockets:
        waiting.register(sock, selectors.EVENT_READ)
    while waiting.get_map():
        for key, _ in waiting.select(timeout=30):
            key.fileobj.recv(65536)  # type: ignore[union-attr]
            waiting.unregister(key.fileobj)
    print(time.perf_counter() - began, flush=True)
    for sock in sockets:
        sock.close()


if __name__ == "__main__":
    main()
