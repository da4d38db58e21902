"""A watch stream whose client sends and never reads holds bounded server memory: the server stops
reading its requests while REQUEST_BACKLOG answers wait (etcd stops reading too), and serves them
all once the client reads."""

from __future__ import annotations

import threading
import time

import grpc

from etcdlite import EtcdLite
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
from etcdlite.watch.session import REQUEST_BACKLOG

REQUESTS = 20_000


def _queued(server) -> tuple[int, int]:
    hub = server.node.watch_hub
    streams = list(hub._streams)
    return hub.watcher_count(), max((s.outbox.qsize() for s in streams), default=0)


def test_an_unread_stream_flooded_with_creates_stays_under_the_backlog_then_gets_every_answer():
    def requests():
        for i in range(REQUESTS):
            yield rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"k%d" % i))

    # without BDP probing the client's receive window stays at 64 KiB, so unread answers fill it
    options = [("grpc.http2.bdp_probe", 0)]
    with EtcdLite() as server, grpc.insecure_channel(server.endpoint, options) as channel:
        responses = rpc_pb2_grpc.WatchStub(channel).Watch(requests())
        started = threading.Event()
        threading.Thread(target=lambda: (started.set(), responses.initial_metadata()), daemon=True).start()
        started.wait(5)
        deadline, last = time.monotonic() + 10, None
        while time.monotonic() < deadline:  # until the server stops taking requests
            time.sleep(0.5)
            now = _queued(server)
            if now == last:
                break
            last = now
        watchers, queued = last
        assert queued <= REQUEST_BACKLOG
        # what the transport holds (the client's 64 KiB window, the server's write buffer) plus
        # the backlog: far from all of them
        assert watchers <= 4 * REQUEST_BACKLOG, watchers
        # whether the client is held back too depends on the kernel: loopback receive buffers
        # autotune up to tcp_rmem's maximum (32 MiB on CI), more than all the requests together
        created = 0
        for response in responses:
            created += response.created
            if created == REQUESTS:
                break
        assert created == REQUESTS
        responses.cancel()
