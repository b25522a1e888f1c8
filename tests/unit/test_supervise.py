"""workers.supervise with workers that are plain functions in forked
processes: what the supervisor does when one cannot start."""

from __future__ import annotations

import os
import signal

import pytest

from mockllm import workers


def listens_until_stopped(pids_file):
    def worker(sock, ready) -> int:
        with open(pids_file, "a") as pids:
            pids.write(f"{os.getpid()}\n")
        ready(["listening"])
        signal.pause()  # until the supervisor's SIGTERM ends it
        return 0
    return worker


def fails_at_start(sock, ready) -> int:
    raise RuntimeError("the store cannot be opened")


@pytest.mark.timeout(30)  # without the rule, the supervisor restarts it forever
def test_a_worker_that_fails_before_it_listens_stops_the_start_with_status_1():
    printed: list[list[str]] = []
    assert workers.supervise(2, workers.reserve("127.0.0.1", 0), fails_at_start, printed.append) == 1
    assert printed == []


@pytest.mark.timeout(30)
def test_the_workers_already_listening_are_stopped_with_it(tmp_path):
    pids_file = tmp_path / "pids"
    first = listens_until_stopped(pids_file)

    def worker(sock, ready) -> int:
        return (first if not pids_file.exists() else fails_at_start)(sock, ready)

    printed: list[list[str]] = []
    assert workers.supervise(2, workers.reserve("127.0.0.1", 0), worker, printed.append) == 1
    assert printed == []
    [pid] = map(int, pids_file.read_text().split())
    with pytest.raises(ProcessLookupError):  # reaped before supervise returned, not a zombie
        os.kill(pid, 0)
