import time
from tests.factories import make_tenant, start_chat, make_secret_key


async def test_t(client, runtime, backend):
    for wp in (True, False):
        t = time.perf_counter()
        for _ in range(10):
            tenant = await make_tenant(runtime, with_pack=wp)
        t1 = time.perf_counter()
        for _ in range(10):
            await start_chat(client, tenant)
        t2 = time.perf_counter()
        for _ in range(10):
            await make_secret_key(runtime, tenant)
        t3 = time.perf_counter()
        print(backend, wp, "tenant", (t1 - t) / 10, "chat", (t2 - t1) / 10, "sk", (t3 - t2) / 10)
