"""Prometheus metrics, all named ``frontdesk_*``, in one registry per app."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class _Latency:
    """One route's latency histogram: a count per bucket (not cumulative), the sum."""

    __slots__ = ("buckets", "created", "sum")

    def __init__(self, size: int) -> None:
        self.buckets = [0] * size
        self.sum = 0.0
        self.created = time.time()


class RequestSeries:
    """The series one request adds to: its route, method and status; its route's latency."""

    __slots__ = ("created", "latency", "requests")

    def __init__(self, latency: _Latency) -> None:
        self.requests = 0
        self.latency = latency
        self.created = time.time()


class RequestMetrics(Collector):
    """``frontdesk_http_requests_total`` (route, method, status) and
    ``frontdesk_http_request_duration_seconds`` (route), exposed as a ``Counter`` and a
    ``Histogram`` would expose them.

    Every request adds to them, so they are plain numbers added to on the event loop's thread
    (the only one serving requests) and read at scrape time: ``prometheus_client``'s own take a
    lock per value and look their labels up on every call, which cost more than the rest of
    the bookkeeping of a request.
    """

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self._bounds = (*sorted(float(b) for b in buckets), float("inf"))
        self._les: tuple[str, ...] = tuple(
            floatToGoString(bound)  # type: ignore[no-untyped-call]
            for bound in self._bounds
        )
        self._series: dict[tuple[str, str, int], RequestSeries] = {}
        self._latency: dict[str, _Latency] = {}

    def series(self, route: str, method: str, status: int) -> RequestSeries:
        """The series of ``route``, ``method`` and ``status`` (kept: look it up once per kind
        of request)."""
        key = (route, method, status)
        found = self._series.get(key)
        if found is None:
            latency = self._latency.get(route)
            if latency is None:
                latency = self._latency[route] = _Latency(len(self._bounds))
            found = self._series[key] = RequestSeries(latency)
        return found

    def observe(self, series: RequestSeries, seconds: float) -> None:
        """Count one request of ``series`` that took ``seconds``."""
        series.requests += 1
        latency = series.latency
        latency.sum += seconds
        latency.buckets[bisect_left(self._bounds, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "frontdesk_http_requests",
            "HTTP requests by route template, method and status.",
            labels=["route", "method", "status"],
        )
        for (route, method, status), series in list(self._series.items()):
            requests.add_metric(
                [route, method, str(status)], series.requests, created=series.created
            )
        yield requests
        name = "frontdesk_http_request_duration_seconds"
        latency = HistogramMetricFamily(
            name, "HTTP request latency by route template.", labels=["route"]
        )
        for route, histogram in list(self._latency.items()):
            total, buckets = 0, []
            for le, count in zip(self._les, histogram.buckets, strict=True):
                total += count
                buckets.append((le, float(total)))
            latency.add_metric([route], buckets, histogram.sum)
            latency.samples.append(Sample(f"{name}_created", {"route": route}, histogram.created))
        yield latency


@dataclass
class Metrics:
    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        r = self.registry
        self.http = RequestMetrics()
        r.register(self.http)
        self.messages = Counter(
            "frontdesk_messages_total",
            "Messages stored, by channel and direction.",
            ["channel", "direction"],
            registry=r,
        )
        self.jobs = Counter(
            "frontdesk_jobs_total",
            "Outbox jobs run, by kind and outcome.",
            ["kind", "outcome"],
            registry=r,
        )
        self.job_latency = Histogram(
            "frontdesk_job_duration_seconds", "Outbox job run time by kind.", ["kind"], registry=r
        )
        self.circuit_open = Gauge(
            "frontdesk_circuit_open",
            "1 while the circuit breaker of a tenant's destination (channel, webhook) is open.",
            ["tenant", "breaker"],
            registry=r,
        )
        self.stream_subscribers = Gauge(
            "frontdesk_stream_subscribers", "Open realtime event streams.", registry=r
        )
