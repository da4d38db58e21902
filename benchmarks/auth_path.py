#!/usr/bin/env python3
"""CPU cost of auth on etcdlite's request path, in process, without the transport.

On a shared machine the end-to-end comparison (``auth_cost.py``) is only as good as the machine is
quiet; this one is not disturbed by other processes: it times, in CPU seconds of this process
(``time.process_time``), the KV handlers a gRPC call runs — the adapter's ``caller_of`` on the
call's metadata, ``KVService.Put`` / ``Range`` / ``Txn`` (etcdload's: one compare, one put;
identify → authorize → apply → group commit → response) — with auth off and on, in alternating
batches, and keeps the fastest batch of each (the one least disturbed). Auth is set up as
``auth_cost.py`` does (user ``bench``, 3 roles, 61 permissions, keys inside the READWRITE prefix
``k``), directly on the node's auth store.

What it leaves out is the same on both sides except one header: grpcio's C core parsing the
``token`` metadata, which ``auth_cost.py`` measures with the empty-answer server (``empty-aio`` vs
``empty-aio+token``). ``--registered`` times each call as grpcio runs it instead: the request's
bytes decoded by the registered deserializer, the gRPC adapter (``caller_of`` included) and the
call counting around the handler, the response encoded; what is left beyond that is grpcio's own.

  python benchmarks/auth_path.py [--calls 20000] [--rounds 7] [--lmdb] [--registered]
                                 [--profile put|range|txn]
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from auth_cost import BENCH_USER, permissions  # noqa: E402

from etcdlite import EtcdLite  # noqa: E402
from etcdlite.api.kv_service import KVService  # noqa: E402
from etcdlite.api.registration import add_service, caller_of  # noqa: E402
from etcdlite.api.services import etcd_services  # noqa: E402
from etcdlite.auth.permissions import KeyPermission  # noqa: E402
from etcdlite.proto import rpc_pb2  # noqa: E402


class FakeContext:
    """What ``caller_of`` reads of a grpc.aio call."""

    def __init__(self, metadata: tuple) -> None:
        self._metadata = metadata

    def invocation_metadata(self):
        return self._metadata


class _CapturedHandlers:
    """What ``add_service`` registers, kept instead of served."""

    def __init__(self) -> None:
        self.methods: dict[str, dict] = {}

    def add_generic_rpc_handlers(self, handlers) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict) -> None:
        self.methods[service] = handlers


def _registered_kv(node) -> dict:
    """The KV methods as grpcio would call them: ``(request bytes, context) -> response bytes``."""
    captured = _CapturedHandlers()
    for handlers, descriptor in etcd_services(node):
        add_service(captured, handlers, descriptor)
    invokers = {}
    for name, handler in captured.methods["etcdserverpb.KV"].items():
        def bind(handler=handler):
            decode, behave, encode = (handler.request_deserializer, handler.unary_unary,
                                      handler.response_serializer)

            async def invoke(data: bytes, ctx: FakeContext) -> bytes:
                return encode(await behave(decode(data), ctx))
            return invoke
        invokers[name] = bind()
    return invokers


def set_up_auth(node) -> str:
    store = node.auth
    store.user_add("root", b"unused-hash")
    store.role_add("root")
    store.user_grant_role("root", "root")
    store.user_add(BENCH_USER, b"unused-hash")
    for role, perms in permissions().items():
        store.role_add(role)
        for p in perms:
            store.role_grant_permission(role, KeyPermission(p.permType, p.key, p.range_end))
        store.user_grant_role(BENCH_USER, role)
    store.auth_enable()
    return node.tokens.assign(BENCH_USER, store.revision, 1)


def _txn(put: rpc_pb2.PutRequest) -> rpc_pb2.TxnRequest:
    """etcdload's Txn: mod revision > 0, the same put on either branch."""
    compare = rpc_pb2.Compare(result=rpc_pb2.Compare.GREATER, target=rpc_pb2.Compare.MOD,
                              key=put.key, mod_revision=0)
    op = rpc_pb2.RequestOp(request_put=put)
    return rpc_pb2.TxnRequest(compare=[compare], success=[op], failure=[op])


async def measure(args) -> dict:
    keys = [f"k{i}".encode().ljust(8, b"_") for i in range(1000)]
    puts = [rpc_pb2.PutRequest(key=k, value=b"v" * 8) for k in keys]
    ranges = [rpc_pb2.RangeRequest(key=k) for k in keys]
    txns = [_txn(put) for put in puts]
    rnd = random.Random(1)
    order = [rnd.randrange(len(keys)) for _ in range(args.calls)]
    data_dir = tempfile.mkdtemp(prefix="authpath-") if args.lmdb else ""
    async with EtcdLite(data_dir=data_dir or None) as etcd:
        node = etcd.node
        kv = KVService(node)
        token = set_up_auth(node)
        for req in puts:  # prefill, as etcdload -prefill does
            await kv.Put(req, caller_of(FakeContext((("token", token),))))
        contexts = {False: FakeContext(()), True: FakeContext((("token", token),))}
        if args.registered:
            invokers = _registered_kv(node)
            calls = {op: ([r.SerializeToString() for r in reqs], invokers[name])
                     for op, reqs, name in (("put", puts, "Put"), ("range", ranges, "Range"),
                                            ("txn", txns, "Txn"))}
        else:
            def direct(handler):
                return lambda request, ctx: handler(request, caller_of(ctx))
            calls = {"put": (puts, direct(kv.Put)), "range": (ranges, direct(kv.Range)),
                     "txn": (txns, direct(kv.Txn))}

        async def batch(op: str, auth: bool) -> float:
            if auth:
                node.auth.auth_enable()
            else:
                node.auth.auth_disable()
            ctx = contexts[auth]
            reqs, call = calls[op]
            t0 = time.process_time()
            for i in order:
                await call(reqs[i], ctx)
            return (time.process_time() - t0) / len(order) * 1e6

        result: dict = {"calls_per_batch": args.calls, "rounds": args.rounds,
                        "data_dir": "lmdb" if data_dir else "memory",
                        "path": "registered" if args.registered else "handlers", "us_per_call": {}}
        for op in args.ops.split(","):
            samples = {False: [], True: []}
            for rnd_i in range(args.rounds):
                for auth in ((False, True) if rnd_i % 2 == 0 else (True, False)):
                    samples[auth].append(await batch(op, auth))
            off, on = min(samples[False]), min(samples[True])
            result["us_per_call"][op] = {"off": round(off, 2), "on": round(on, 2),
                                         "delta": round(on - off, 2),
                                         "ratio": round(on / off, 4),
                                         "off_all": [round(x, 1) for x in samples[False]],
                                         "on_all": [round(x, 1) for x in samples[True]]}
        if args.profile:
            node.auth.auth_enable()
            ctx = contexts[True]
            reqs, call = calls[args.profile]
            prof = cProfile.Profile()
            prof.enable()
            for i in order:
                await call(reqs[i], ctx)
            prof.disable()
            stats = pstats.Stats(prof, stream=sys.stderr)
            stats.sort_stats("tottime").print_stats(25)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 1)[1])
    p.add_argument("--calls", type=int, default=20000, help="calls per batch")
    p.add_argument("--rounds", type=int, default=7, help="batches per side (fastest kept)")
    p.add_argument("--ops", default="put,range,txn")
    p.add_argument("--lmdb", action="store_true", help="LMDB data dir instead of memory")
    p.add_argument("--registered", action="store_true",
                   help="call the methods as registered with grpcio (bytes in, bytes out)")
    p.add_argument("--profile", choices=("put", "range", "txn"), help="cProfile one auth-on batch")
    args = p.parse_args()
    result = asyncio.run(measure(args))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
