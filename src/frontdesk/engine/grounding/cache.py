"""A small cache of values derived from a pack, keyed by the pack object itself.

Packs are immutable and a tenant's context keeps the same pack object while it is cached, so
identity is both the cheapest key (hashing a whole pack costs tens of microseconds) and the
right one: a pack reloaded from the database is a new object and gets fresh values.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from frontdesk.engine.packs.schema import ContextPack

T = TypeVar("T")


class PackCache(Generic[T]):
    """``get(pack)`` builds ``build(pack)`` once per pack object; the least recently used go."""

    def __init__(self, build: Callable[[ContextPack], T], size: int = 64) -> None:
        self._build = build
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, tuple[weakref.ref[ContextPack], T]] = OrderedDict()

    def get(self, pack: ContextPack) -> T:
        """The value for ``pack``, built on first use."""
        key = id(pack)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0]() is pack:
                self._entries.move_to_end(key)
                return entry[1]
        value = self._build(pack)
        with self._lock:
            self._entries[key] = (weakref.ref(pack), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value
