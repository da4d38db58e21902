#!/usr/bin/env python3
"""An "empty-answer" etcd v3 gRPC server: the transport ceiling for a grpcio server.

Every etcd method path (KV, Watch, Lease, Cluster, Maintenance, Auth, Lock, Election)
is answered with an empty protobuf message (zero bytes), with no proto classes involved:
handlers use raw bytes (no (de)serializers). Whatever an etcd-compatible grpcio server
does beyond this is the cost of the actual work; this is the rate it cannot exceed.

  python benchmarks/empty_server.py --mode aio  --port 0      # grpc.aio server
  python benchmarks/empty_server.py --mode sync --port 0      # grpc.server + ThreadPoolExecutor

Prints exactly one line once serving, "READY <port>", and nothing else (on stdout).
Stops on SIGTERM/SIGINT. Uses only the stdlib and grpcio, so it runs under any grpcio
version installed in a separate venv.

Server options are those of the etcd API reference §1.7 (receive limit 2 MiB, send unlimited,
keepalive/ping policy matching etcd's).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from concurrent import futures

import grpc

SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", 2 * 1024 * 1024),
    ("grpc.max_send_message_length", -1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.keepalive_time_ms", 7_200_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.so_reuseport", 0),
]

# service -> {method: kind}; kind: uu unary-unary, us unary-stream, ss stream-stream
SERVICES: dict[str, dict[str, str]] = {
    "etcdserverpb.KV": {m: "uu" for m in ("Range", "Put", "DeleteRange", "Txn", "Compact")},
    "etcdserverpb.Watch": {"Watch": "ss"},
    "etcdserverpb.Lease": {
        "LeaseGrant": "uu", "LeaseRevoke": "uu", "LeaseKeepAlive": "ss",
        "LeaseTimeToLive": "uu", "LeaseLeases": "uu",
    },
    "etcdserverpb.Cluster": {
        m: "uu" for m in ("MemberAdd", "MemberRemove", "MemberUpdate", "MemberList", "MemberPromote")
    },
    "etcdserverpb.Maintenance": {
        "Alarm": "uu", "Status": "uu", "Defragment": "uu", "Hash": "uu", "HashKV": "uu",
        "Snapshot": "us", "MoveLeader": "uu", "Downgrade": "uu",
    },
    "etcdserverpb.Auth": {
        m: "uu" for m in (
            "AuthEnable", "AuthDisable", "AuthStatus", "Authenticate", "UserAdd", "UserGet",
            "UserList", "UserDelete", "UserChangePassword", "UserGrantRole", "UserRevokeRole",
            "RoleAdd", "RoleGet", "RoleList", "RoleDelete", "RoleGrantPermission",
            "RoleRevokePermission",
        )
    },
    "v3lockpb.Lock": {"Lock": "uu", "Unlock": "uu"},
    "v3electionpb.Election": {
        "Campaign": "uu", "Proclaim": "uu", "Leader": "uu", "Observe": "us", "Resign": "uu",
    },
    "grpc.health.v1.Health": {"Check": "uu", "Watch": "us"},
}

EMPTY = b""
HEALTH_SERVING = b"\x08\x01"  # HealthCheckResponse{status=SERVING}


# ---------------------------------------------------------------- sync handlers
def s_unary(request, context):
    return EMPTY


def s_health(request, context):
    return HEALTH_SERVING


def s_unary_stream(request, context):
    return iter(())


def s_stream_stream(request_iterator, context):
    for _ in request_iterator:
        yield EMPTY


# ---------------------------------------------------------------- aio handlers
async def a_unary(request, context):
    return EMPTY


async def a_health(request, context):
    return HEALTH_SERVING


async def a_unary_stream(request, context):
    return
    yield  # pragma: no cover  (makes this an async generator)


async def a_stream_stream(request_iterator, context):
    async for _ in request_iterator:
        yield EMPTY


def build_handlers(mode: str) -> dict[str, dict[str, grpc.RpcMethodHandler]]:
    aio = mode == "aio"
    out: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
    for service, methods in SERVICES.items():
        hs = {}
        for name, kind in methods.items():
            if kind == "uu":
                if service == "grpc.health.v1.Health":
                    fn = a_health if aio else s_health
                else:
                    fn = a_unary if aio else s_unary
                hs[name] = grpc.unary_unary_rpc_method_handler(fn)
            elif kind == "us":
                hs[name] = grpc.unary_stream_rpc_method_handler(
                    a_unary_stream if aio else s_unary_stream)
            else:
                hs[name] = grpc.stream_stream_rpc_method_handler(
                    a_stream_stream if aio else s_stream_stream)
        out[service] = hs
    return out


def register(server, handlers, registration: str) -> str:
    """Register handlers; returns the registration style actually used."""
    if registration == "registered" and hasattr(server, "add_registered_method_handlers"):
        for service, hs in handlers.items():
            server.add_registered_method_handlers(service, hs)
            # also as generic so that lookups by full path still work on every version
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, hs),))
        return "registered"
    server.add_generic_rpc_handlers(
        tuple(grpc.method_handlers_generic_handler(s, hs) for s, hs in handlers.items()))
    return "generic"


def ready(port: int) -> None:
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()


def run_sync(args) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers),
                         options=SERVER_OPTIONS)
    register(server, build_handlers("sync"), args.registration)
    port = server.add_insecure_port(f"{args.host}:{args.port}")
    if port == 0:
        raise SystemExit(f"cannot bind {args.host}:{args.port}")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ready(port)
    stop.wait()
    server.stop(0.5).wait()


def run_aio(args) -> None:
    import asyncio

    async def main() -> None:
        server = grpc.aio.server(options=SERVER_OPTIONS)
        register(server, build_handlers("aio"), args.registration)
        port = server.add_insecure_port(f"{args.host}:{args.port}")
        if port == 0:
            raise SystemExit(f"cannot bind {args.host}:{args.port}")
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        ready(port)
        await stop.wait()
        await server.stop(0.5)

    if args.uvloop:
        import uvloop  # optional; not a dependency
        uvloop.install()
    asyncio.run(main())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=("aio", "sync"), default="aio")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port (printed)")
    p.add_argument("--workers", type=int, default=16, help="sync mode: thread pool size")
    p.add_argument("--registration", choices=("registered", "generic"), default="registered",
                   help="registered: add_registered_method_handlers (grpcio >= 1.63) "
                        "plus generic fallback; generic: generic handlers only")
    p.add_argument("--uvloop", action="store_true", help="aio mode: use uvloop if installed")
    args = p.parse_args()
    if args.mode == "aio":
        run_aio(args)
    else:
        run_sync(args)


if __name__ == "__main__":
    main()
