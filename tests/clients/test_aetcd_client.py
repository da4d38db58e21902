"""aetcd (an asyncio etcd client from PyPI) against both servers: KV, leases, watches and its lock."""

from __future__ import annotations

import asyncio

import pytest

aetcd = pytest.importorskip("aetcd")


def _run(target, scenario):
    async def main():
        host, port = target.endpoint.rsplit(":", 1)
        client = aetcd.Client(host=host, port=int(port))
        await client.connect()
        try:
            return await asyncio.wait_for(scenario(client), 20)
        finally:
            await client.close()

    return asyncio.run(main())


def test_aetcd_put_get_and_prefix(target):
    async def scenario(client):
        put = await client.put(b"app/a", b"1")
        await client.put(b"app/b", b"2")
        got = await client.get(b"app/a")
        listing = await client.get_prefix(b"app/")
        return put.header.revision, (got.value, got.version, got.create_revision), [kv.key for kv in listing]

    assert _run(target, scenario) == (2, (b"1", 1, 2), [b"app/a", b"app/b"])


def test_aetcd_lease_attaches_keys_and_revoke_deletes_them(target):
    async def scenario(client):
        lease = await client.lease(30)
        await client.put(b"session/x", b"v", lease=lease)
        info = await client.get_lease_info(lease.id)
        keys = sorted(info.keys)
        await lease.revoke()
        return info.grantedTTL, keys, await client.get(b"session/x")

    assert _run(target, scenario) == (30, [b"session/x"], None)


def test_aetcd_watch_prefix_sees_puts_and_deletes_in_order(target):
    async def scenario(client):
        events = []
        watch = await client.watch_prefix(b"cfg/")

        async def collect():
            async for event in watch:
                events.append((str(event.kind).rsplit(".", 1)[-1].upper(), event.kv.key, event.kv.value, event.kv.mod_revision))
                if len(events) == 3:
                    return

        collector = asyncio.ensure_future(collect())
        await asyncio.sleep(0.2)
        await client.put(b"cfg/a", b"1")
        await client.put(b"other", b"x")
        await client.put(b"cfg/a", b"2")
        await client.delete(b"cfg/a")
        await asyncio.wait_for(collector, 10)
        await watch.cancel()
        return events

    assert _run(target, scenario) == [
        ("PUT", b"cfg/a", b"1", 2), ("PUT", b"cfg/a", b"2", 4), ("DELETE", b"cfg/a", b"", 5)]


def test_aetcd_lock_is_mutually_exclusive(target):
    async def scenario(client):
        order = []

        async def worker(name: str):
            lock = client.lock(b"job", ttl=10)
            await lock.acquire()
            order.append((name, "in"))
            await asyncio.sleep(0.05)
            order.append((name, "out"))
            await lock.release()

        await asyncio.gather(*(worker(str(i)) for i in range(3)))
        return order

    order = _run(target, scenario)
    assert len(order) == 6
    for i in range(0, 6, 2):
        assert order[i][0] == order[i + 1][0] and (order[i][1], order[i + 1][1]) == ("in", "out")
