"""How a job handler tells the runner what went wrong, so it retries, waits or gives up."""

from __future__ import annotations

from frontdesk.errors import FrontDeskError


class DeliveryFailed(FrontDeskError):
    """A transient failure (a 5xx, a timeout, a refused connection): retried with backoff.

    ``retry_after`` (seconds), when the provider named one, is the earliest retry; it counts
    toward the circuit breaker of the job's tenant and channel."""

    status = 502
    title = "Delivery failed"
    type_slug = "delivery-failed"

    def __init__(self, detail: str, *, retry_after: float | None = None, code: str | None = None):
        super().__init__(detail)
        self.retry_after = retry_after
        self.code = code


class RetryLater(DeliveryFailed):
    """The provider asked us to slow down (HTTP 429, a throughput or pair-rate error): the job
    waits at least ``retry_after`` and does not count as a provider failure."""


class PermanentFailure(DeliveryFailed):
    """A job that cannot succeed on retry (invalid token, undeliverable, malformed payload):
    dead-lettered at once."""

    status = 422
    title = "Delivery refused"
    type_slug = "delivery-refused"
