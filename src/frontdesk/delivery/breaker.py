"""A circuit breaker per tenant and destination (a channel, a webhook endpoint), in memory.

After ``threshold`` consecutive transient failures the circuit opens: jobs for that destination
are postponed without an attempt (so a provider that is down does not burn every job's retries)
until the cool-down ends. Then one job is let through as a probe (half-open): success closes the
circuit, failure opens it again for twice as long (up to ``max_cooldown``). A "slow down" answer
(``RetryLater``) neither opens nor closes it.

The state is per process: each instance learns on its own that a destination is down, which
costs at most ``threshold`` attempts per instance.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Gauge

BreakerKey = tuple[uuid.UUID, str]
PROBE_WAIT = 2.0
"""While a probe is out, other jobs of its destination wait this long (seconds) and look again."""


@dataclass
class _Circuit:
    failures: int = 0
    trips: int = 0
    open_until: float = 0.0
    probing_until: float = 0.0


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown: float = 30.0,
        max_cooldown: float = 600.0,
        gauge: Gauge | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self._gauge = gauge
        self._clock = clock
        self._circuits: dict[BreakerKey, _Circuit] = {}

    def state(self, key: BreakerKey) -> str:
        """``closed``, ``open`` or ``half-open`` (the cool-down is over: the next job probes)."""
        circuit = self._circuits.get(key)
        if circuit is None or circuit.trips == 0:
            return "closed"
        return "open" if circuit.open_until > self._clock() else "half-open"

    def admit(self, key: BreakerKey) -> float | None:
        """None to let a job through now, or how many seconds it should wait."""
        circuit = self._circuits.get(key)
        if circuit is None or circuit.trips == 0:
            return None
        now = self._clock()
        if circuit.open_until > now:
            return circuit.open_until - now
        if circuit.probing_until > now:
            return PROBE_WAIT
        # Half-open: this job is the probe; a probe that never reports expires.
        circuit.probing_until = now + max(self.cooldown, 60.0)
        return None

    def succeeded(self, key: BreakerKey) -> None:
        circuit = self._circuits.pop(key, None)
        if circuit is not None and circuit.trips and self._gauge is not None:
            self._gauge.labels(str(key[0]), key[1]).set(0)

    def failed(self, key: BreakerKey) -> None:
        circuit = self._circuits.setdefault(key, _Circuit())
        circuit.failures += 1
        probing = circuit.trips > 0
        if probing or circuit.failures >= self.threshold:
            wait = min(self.max_cooldown, self.cooldown * 2 ** min(circuit.trips, 16))
            circuit.trips += 1
            circuit.open_until = self._clock() + wait
            circuit.probing_until = 0.0
            if self._gauge is not None:
                self._gauge.labels(str(key[0]), key[1]).set(1)

    def released(self, key: BreakerKey) -> None:
        """The probe neither succeeded nor failed (asked to slow down): another may probe."""
        circuit = self._circuits.get(key)
        if circuit is not None:
            circuit.probing_until = 0.0
