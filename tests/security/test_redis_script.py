"""The rate limiter's Redis client: one script over one pipelined connection."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from frontdesk.security.ratelimit import RateLimiter
from frontdesk.security.redis_script import RedisScript, ScriptError

INCR = "return redis.call('incrby', KEYS[1], ARGV[1])"


def _key() -> str:
    return f"frontdesk:test:script:{uuid.uuid4().hex}"


def _script(url: str, body: str = INCR, *, timeout: float = 2.0) -> RedisScript:
    redis = Redis.from_url(url)
    options = redis.connection_pool.connection_kwargs
    return RedisScript(
        body,
        host=options.get("host", "127.0.0.1"),
        port=int(options.get("port", 6379)),
        db=int(options.get("db", 0)),
        password=options.get("password"),
        timeout=timeout,
    )


async def test_concurrent_calls_each_get_their_own_reply(redis_url: str) -> None:
    script = _script(redis_url)
    keys = [_key() for _ in range(50)]
    redis = Redis.from_url(redis_url)
    try:
        replies = await asyncio.gather(
            *(script(keys=[key], args=[n]) for n, key in enumerate(keys, start=1))
        )
        assert replies == list(range(1, 51))
        assert await redis.mget(keys) == [str(n).encode() for n in range(1, 51)]
    finally:
        await redis.delete(*keys)
        await redis.aclose()
        await script.aclose()


async def test_the_calls_of_one_pass_of_the_event_loop_go_out_in_one_write(
    redis_url: str,
) -> None:
    script = _script(redis_url)
    keys = [_key() for _ in range(20)]
    redis = Redis.from_url(redis_url)
    try:
        assert await script(keys=[keys[0]], args=[1]) == 1  # connected
        connection = script._connection
        assert connection is not None
        assert connection.transport is not None
        transport, writes = connection.transport, []
        write = transport.write

        def counted(data: bytes) -> None:
            writes.append(data)
            write(data)

        transport.write = counted  # type: ignore[method-assign]
        replies = await asyncio.gather(*(script(keys=[key], args=[2]) for key in keys))
        assert replies == [3] + [2] * 19
        assert len(writes) == 1
        assert await script(keys=[keys[1]], args=[1]) == 3  # the next pass: a write of its own
        assert len(writes) == 2
        assert not connection.waiting
    finally:
        await redis.delete(*keys)
        await redis.aclose()
        await script.aclose()


async def test_a_script_the_server_does_not_hold_is_sent_as_text(redis_url: str) -> None:
    # A script of its own (its text is new to the server), as after a restart or SCRIPT FLUSH.
    script = _script(redis_url, f"{INCR} -- {uuid.uuid4().hex}")
    key = _key()
    redis = Redis.from_url(redis_url)
    try:
        assert not (await redis.script_exists(script.sha))[0]
        assert await script(keys=[key], args=[2]) == 2
        assert (await redis.script_exists(script.sha))[0]
        assert await script(keys=[key], args=[3]) == 5
    finally:
        await redis.delete(key)
        await redis.aclose()
        await script.aclose()


async def test_a_dropped_connection_is_opened_again(redis_url: str) -> None:
    script = _script(redis_url)
    key = _key()
    redis = Redis.from_url(redis_url)
    try:
        assert await script(keys=[key], args=[1]) == 1
        connection = script._connection
        assert connection is not None
        connection.close()
        assert await script(keys=[key], args=[1]) == 2
        assert script._connection is not connection
    finally:
        await redis.delete(key)
        await redis.aclose()
        await script.aclose()


async def test_an_error_reply_is_a_script_error(redis_url: str) -> None:
    script = _script(redis_url, "return redis.call('no-such-command')")
    try:
        with pytest.raises(ScriptError):
            await script(keys=[_key()], args=[])
    finally:
        await script.aclose()


async def test_a_server_that_does_not_answer_times_out_and_fails_what_waits() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # reads everything, answers nothing
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    script = RedisScript(INCR, host="127.0.0.1", port=port, timeout=0.05)
    try:
        results = await asyncio.gather(
            script(keys=["a"], args=[1]), script(keys=["b"], args=[1]), return_exceptions=True
        )
        assert all(isinstance(result, OSError) for result in results)
        assert any(isinstance(result, TimeoutError) for result in results)
    finally:
        await script.aclose()
        server.close()
        await server.wait_closed()


async def test_an_unreachable_server_is_an_os_error() -> None:
    script = RedisScript(INCR, host="127.0.0.1", port=1, timeout=0.5)
    with pytest.raises(ConnectionRefusedError):
        await script(keys=["a"], args=[1])


async def test_the_limiter_uses_it_for_a_plain_redis(redis_url: str) -> None:
    limiter = RateLimiter.redis(redis_url)
    try:
        assert isinstance(limiter._script, RedisScript)
    finally:
        await limiter.aclose()


def test_each_event_loop_gets_a_connection_of_its_own(redis_url: str) -> None:
    script = _script(redis_url)
    key = _key()

    async def count() -> int:
        reply: int = await script(keys=[key], args=[1])
        return reply

    async def clean_up() -> None:
        await script.aclose()
        async with Redis.from_url(redis_url) as redis:
            await redis.delete(key)

    assert asyncio.run(count()) == 1
    assert asyncio.run(count()) == 2
    asyncio.run(clean_up())
