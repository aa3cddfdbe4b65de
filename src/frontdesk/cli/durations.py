"""Durations typed on the command line: ``0``, ``90s``, ``30m``, ``24h``, ``7d``."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
PATTERN = re.compile(r"^(\d{1,6})([smhd]?)$")


def parse_duration(text: str) -> timedelta:
    match = PATTERN.match(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a duration (e.g. 0, 30m, 24h, 7d)")
    amount, unit = match.groups()
    return timedelta(seconds=int(amount) * UNITS[unit or "s"])
