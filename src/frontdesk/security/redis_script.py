"""One Lua script called on Redis over a single pipelined connection: the rate limiter's hot path.

redis-py's script call costs ≈ 70 µs of CPU per call here (a connection taken from the pool and
given back, its command machinery, a reader task), several times the round trip's own work.
This client writes ``EVALSHA`` (packed by hiredis) on one connection that every request shares,
and answers the oldest waiting call with each reply hiredis parses, in order: Redis answers a
connection's commands in the order they were sent. The calls made in one pass of the event loop
(the requests that reached the limiter together) go out in one write, and one timer watches the
oldest call's deadline: a system call and a timer per call cost more than the call's own work.

Failures are plain ``OSError``s (``ConnectionError``, ``TimeoutError``), which the limiter turns
into its in-memory fallback. A call that times out closes the connection (a late reply would
otherwise answer the next call) and fails every call waiting on it; the next call connects again.
A server that lost its scripts (a restart, ``SCRIPT FLUSH``) answers ``NOSCRIPT``, and the call
is sent once more as ``EVAL`` with the script's text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from typing import Any

import hiredis


def _pack(*parts: str | int) -> bytes:
    """A command in Redis's protocol (RESP)."""
    packed: bytes = hiredis.pack_command(parts)  # type: ignore[arg-type]  # (stub: a 1-tuple)
    return packed


class ScriptError(ConnectionError):
    """Redis answered the script with an error (other than ``NOSCRIPT``)."""


class _Connection(asyncio.Protocol):
    """A connection whose replies answer the calls waiting on it, oldest first.

    The commands of one pass of the event loop go out in one write (a system call each cost
    more than the rest of a call), and one timer watches the oldest call's deadline rather
    than a timer per call: every call waits as long, so the oldest is always the first due.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.reader = hiredis.Reader()
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        """The calls sent and not answered, oldest first, each with its deadline."""
        self.unsent: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self._watch: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        waiting = self.waiting
        while (reply := reader.gets()) is not False:
            if not waiting:  # a reply nobody asked for: the stream is not to be trusted
                self.close()
                return
            future = waiting.popleft()[0]
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.unsent.clear()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        while self.waiting:
            future = self.waiting.popleft()[0]
            if not future.done():
                future.set_exception(ConnectionError("the connection to Redis was lost"))

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is closed already
                self.transport.close()

    def call(self, command: bytes) -> asyncio.Future[Any]:
        """Sends ``command`` with the others of this pass of the event loop; the future gets its
        reply, or fails once it has waited the connection's ``timeout``."""
        if self.transport is None:
            raise ConnectionError("the connection to Redis is closed")
        loop = self.loop
        future = loop.create_future()
        deadline = loop.time() + self.timeout
        self.waiting.append((future, deadline))
        if self._watch is None:
            self._watch = loop.call_at(deadline, self._check_deadline)
        if not self.unsent:
            loop.call_soon(self._write)
        self.unsent.append(command)
        return future

    def _write(self) -> None:
        unsent = self.unsent
        if unsent and self.transport is not None:
            self.transport.write(unsent[0] if len(unsent) == 1 else b"".join(unsent))
        unsent.clear()

    def _check_deadline(self) -> None:
        """Fails the calls if the oldest has waited too long, else watches the oldest again."""
        self._watch = None
        if not self.waiting:
            return
        deadline = self.waiting[0][1]
        if deadline > self.loop.time():
            self._watch = self.loop.call_at(deadline, self._check_deadline)
            return
        future = self.waiting[0][0]
        if not future.done():
            future.set_exception(TimeoutError("Redis did not answer in time"))
        # A late reply would answer the next call: the connection is done with, and closing
        # it fails every call still waiting.
        self.close()


class RedisScript:
    """Calls one Lua script (``await script(keys=[…], args=[…])``) on the Redis at ``host`` and
    ``port`` (or the Unix socket ``path``), database ``db``."""

    def __init__(
        self,
        script: str,
        *,
        host: str = "127.0.0.1",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 0.5,
    ) -> None:
        self.script = script
        self.sha = hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()
        self.host, self.port, self.path, self.db = host, port, path, db
        self.username, self.password = username, password
        self.timeout = timeout
        self._connection: _Connection | None = None
        self._connecting: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, *, keys: list[str], args: list[int]) -> Any:
        connection = self._connection
        if (
            connection is None
            or not connection.open
            or connection.loop is not asyncio.get_running_loop()
        ):
            connection = await self._connect()
        reply = await connection.call(_pack("EVALSHA", self.sha, len(keys), *keys, *args))
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
            reply = await connection.call(_pack("EVAL", self.script, len(keys), *keys, *args))
        if isinstance(reply, hiredis.ReplyError):
            raise ScriptError(str(reply))
        return reply

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        if self._connecting is None or self._loop is not loop:
            # A connection (and its lock) belongs to one event loop.
            self._connecting, self._loop = asyncio.Lock(), loop
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        async with self._connecting:
            connection = self._connection
            if connection is not None and connection.open:
                return connection
            async with asyncio.timeout(self.timeout):
                if self.path is not None:
                    _, connection = await loop.create_unix_connection(
                        lambda: _Connection(loop, self.timeout), self.path
                    )
                else:
                    _, connection = await loop.create_connection(
                        lambda: _Connection(loop, self.timeout), self.host, self.port
                    )
            try:
                if self.password is not None:
                    credentials = (
                        (self.username, self.password) if self.username else (self.password,)
                    )
                    await self._expect_ok(connection, ("AUTH", *credentials))
                if self.db:
                    await self._expect_ok(connection, ("SELECT", self.db))
            except BaseException:
                connection.close()
                raise
            self._connection = connection
            return connection

    async def _expect_ok(self, connection: _Connection, command: tuple[str | int, ...]) -> None:
        reply = await connection.call(_pack(*command))
        if isinstance(reply, hiredis.ReplyError):
            raise ScriptError(f"{command[0]} failed: {reply}")

    async def aclose(self) -> None:
        """Closes the connection (the next call opens another)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
