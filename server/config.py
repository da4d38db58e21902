"""Server configuration, with etcd's flag names and defaults where they apply."""

from __future__ import annotations

from dataclasses import dataclass, field

from .mvcc.store import DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TXN_OPS

DEFAULT_DATA_DIR = "default.etcdlite"
DEFAULT_CLIENT_URL = "http://127.0.0.1:2379"
DEFAULT_PEER_URL = "http://localhost:2380"
DEFAULT_CLUSTER_TOKEN = "etcd-cluster"


@dataclass
class Config:
    name: str = "default"
    #: None keeps everything in memory; otherwise the LMDB data directory.
    data_dir: str | None = None
    listen_client_urls: list[str] = field(default_factory=lambda: [DEFAULT_CLIENT_URL])
    #: etcd 3.5's --listen-client-http-urls: HTTP (gateway, /health, ...) on URLs of its own, and
    #: the client URLs serve gRPC only; empty: HTTP and gRPC share every client URL
    listen_client_http_urls: list[str] = field(default_factory=list)
    #: etcd's --listen-metrics-urls: /metrics and the health endpoints on more URLs
    listen_metrics_urls: list[str] = field(default_factory=list)
    #: etcd's --enable-grpc-gateway: the JSON gateway on the client URLs' HTTP side
    enable_grpc_gateway: bool = True
    #: etcdlite's --enable-ui: the read-only browser view at /ui/ on the client URLs
    enable_ui: bool = True
    #: who accepts on a client URL that also serves HTTP: "thread" (a thread of this process that
    #: hands gRPC connections to grpc core, etcdlite.http.handover, forwarding only where it
    #: cannot) or "process" (a process of its own that forwards them, etcdlite.http.front_process)
    client_port_front: str = "thread"
    #: None: advertise the listen URLs (with the port actually bound).
    advertise_client_urls: list[str] | None = None
    initial_advertise_peer_urls: list[str] = field(default_factory=lambda: [DEFAULT_PEER_URL])
    initial_cluster_token: str = DEFAULT_CLUSTER_TOKEN
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_txn_ops: int = DEFAULT_MAX_TXN_OPS
    log_level: str = "info"
    #: etcd's --experimental-watch-progress-notify-interval (seconds)
    watch_progress_notify_interval: float = 600.0
    #: run on a manual clock and serve etcdlite.admin.v1.Admin's AdvanceClock/Now (tests only)
    #: etcd's --quota-backend-bytes: 0 = etcd's default (2 GiB), negative = no quota
    quota_backend_bytes: int = 0
    time_control: bool = False
    #: an etcdlite snapshot file (server/snapshot.py) to load into the empty keyspace at start
    initial_snapshot: str | None = None

    #: etcd's --auto-compaction-mode and --auto-compaction-retention ("0": off; an hour count or a
    #: Go duration for periodic mode, a revision count for revision mode)
    auto_compaction_mode: str = "periodic"
    auto_compaction_retention: str = "0"

    # -- auth: etcd's --auth-token ("simple" or "jwt,pub-key=...,priv-key=...,sign-method=...,ttl=..."),
    #    --auth-token-ttl (seconds, simple tokens) and --bcrypt-cost
    auth_token: str = "simple"
    auth_token_ttl: int = 300
    bcrypt_cost: int = 10

    # -- TLS on the client URLs (https:// listen URLs): etcd's --cert-file, --key-file,
    #    --trusted-ca-file, --client-cert-auth, --auto-tls, --tls-min-version, --tls-max-version,
    #    --cipher-suites (etcd 3.5.8+'s version flags: None = their defaults), and
    #    --self-signed-cert-validity (years) for --auto-tls
    cert_file: str | None = None
    key_file: str | None = None
    trusted_ca_file: str | None = None
    client_cert_auth: bool = False
    auto_tls: bool = False
    tls_min_version: str | None = None
    tls_max_version: str | None = None
    cipher_suites: list[str] = field(default_factory=list)
    self_signed_cert_validity: int = 1
