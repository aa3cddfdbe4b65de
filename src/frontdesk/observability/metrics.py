"""Prometheus metrics, all named ``frontdesk_*``, in one registry per app."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "frontdesk_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "frontdesk_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
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
