"""Prometheus metrics: each exchange the journal records, counted.

    record_exchange (app.py) ─▶ Metrics.observe(entry, route, format) ─▶ counters, histograms
    GET /metrics ─▶ the exposition text (under the control plane's rule, control.py)

The standard client library is an optional extra (``pip install
'mockllm[metrics]'``); without it ``GET /metrics`` says how to get it. Each
server has a registry of its own, so servers in one process (the tests, the
pytest plugin) never share counts. Nothing is observed per token: one
exchange is one ``observe``, after it has ended.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from .journal import Entry

try:
    import prometheus_client
except ImportError:  # the optional extra is not installed
    prometheus_client = None  # type: ignore[assignment]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
INSTALL = "Metrics need the prometheus client: pip install 'mockllm[metrics]'."
# Seconds: from a token's worth to a long stall.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def available() -> bool:
    return prometheus_client is not None


class Metrics:
    """One server's metrics. ``open_streams`` is read when scraped."""

    def __init__(self, open_streams: Callable[[], int]) -> None:
        assert prometheus_client is not None, "Metrics needs prometheus_client (metrics.available())"
        client = prometheus_client
        self.registry = client.CollectorRegistry(auto_describe=True)
        labels = ("route", "format", "scenario", "status")
        self.requests = client.Counter("mockllm_requests", "API requests, by route pattern, wire format, "
                                       "scenario and status (0: no response)", labels, registry=self.registry)
        self.outcomes = client.Counter("mockllm_outcomes", "How exchanges ended: completed, dropped, "
                                       "client_disconnected, server_shutdown, error", ("outcome",),
                                       registry=self.registry)
        self.faults = client.Counter("mockllm_faults", "Faults served, by kind", ("fault",), registry=self.registry)
        self.retries = client.Counter("mockllm_client_retries", "Requests an SDK marked as a retry "
                                      "(x-stainless-retry-count above 0)", registry=self.registry)
        self.duration = client.Histogram("mockllm_stream_duration_seconds", "From request to the end of the "
                                         "response", buckets=DURATION_BUCKETS, registry=self.registry)
        self.first_byte = client.Histogram("mockllm_time_to_first_byte_seconds", "From request to the first "
                                           "body byte written", buckets=DURATION_BUCKETS, registry=self.registry)
        gauge = client.Gauge("mockllm_open_streams", "Exchanges in progress", registry=self.registry)
        gauge.set_function(open_streams)
        # Each label set's counter, found once: the client's own lookup takes a lock and checks every value.
        self._request_count = functools.lru_cache(maxsize=None)(self.requests.labels)
        self._outcome_count = functools.lru_cache(maxsize=None)(self.outcomes.labels)
        self._fault_count = functools.lru_cache(maxsize=None)(self.faults.labels)

    def observe(self, entry: Entry, route: str, format: str, first_byte: float | None) -> None:
        """One ended exchange; ``first_byte``: seconds after the request, None when no body went out."""
        self._request_count(route, format, entry.scenario or "", str(entry.status or 0)).inc()
        self._outcome_count(entry.outcome.value).inc()
        for label in entry.faults:
            self._fault_count(label.partition("(")[0]).inc()
        if entry.client_retry_count:
            self.retries.inc()
        self.duration.observe(entry.duration)
        if first_byte is not None:
            self.first_byte.observe(first_byte)

    def exposition(self) -> bytes:
        assert prometheus_client is not None
        return bytes(prometheus_client.generate_latest(self.registry))
