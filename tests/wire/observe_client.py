"""A stream read from a process of its own, so that what it sees is the
server's timing alone, not the test's loop's turns too (the server shares
that loop). Prints ``playing`` once 20 reads have come, then, once the
server closes, the ``time.monotonic()`` of every read as a JSON list.

    python tests/wire/observe_client.py PORT PATH BODY
"""

from __future__ import annotations

import json
import socket
import sys
import time

from raw_post import json_post  # beside this script


def main() -> None:
    port, path, body = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
    request = json_post(path, body, close=True)
    arrivals: list[float] = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        while sock.recv(65536):
            arrivals.append(time.monotonic())
            if len(arrivals) == 20:
                print("playing", flush=True)
    print(json.dumps(arrivals), flush=True)


if __name__ == "__main__":
    main()
