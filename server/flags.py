"""Every flag of etcd 3.5 (and the 3.4 flags 3.5 dropped), and etcdlite's own: type, default, help
group, and what a single-node etcdlite does with it.

What a flag does here (``Flag.effect``):

* ``USE`` — etcdlite acts on it as etcd does;
* ``NOTICE`` — accepted; it changes nothing on one node, so a value other than the default gets a
  one-line notice saying so;
* ``REFUSE`` — a value other than the harmless one would make etcd do something a single node
  cannot (join a cluster, proxy, serve the v2 API): refused with a one-line reason;
* ``NOT_YET`` — a feature etcdlite does not implement yet (TLS, auth tokens, metrics listener,
  auto-compaction): refused with "not supported yet" rather than silently ignored;
* ``LEGACY`` — etcd 2 flags that etcd itself accepts and ignores with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from . import etcd_messages as msg
from .goflags import GoValueError, parse_bool, parse_duration, parse_int
from .urls import URLError, url_list

USE, NOTICE, REFUSE, NOT_YET, LEGACY = "use", "notice", "refuse", "not yet", "legacy"

#: help sections, in etcd's order, then etcdlite's own
GROUPS = ["Member", "Clustering", "Security", "Auth", "Profiling and Monitoring", "Logging",
          "Experimental distributed tracing", "v2 Proxy (to be deprecated in v3.6)",
          "Experimental feature", "Unsafe feature", "etcdlite"]

#: Go types of etcd's embed.Config fields, for the config file's type errors
_GO_TYPES = {"string": "string", "bool": "bool", "int": "int64", "uint": "uint",
             "duration": "time.Duration", "urls": "string", "strings": "[]string",
             "choice": "string"}


@dataclass
class Flag:
    name: str
    kind: str  # string, bool, int, uint, duration, urls, strings, choice, legacy
    default: Any
    group: str
    help: str
    effect: str = USE
    #: why a NOTICE/REFUSE/NOT_YET flag does not apply (the text after the flag name)
    reason: str = ""
    #: values that need no notice or refusal (default: only the default value)
    harmless: Callable[[Any], bool] | None = None
    choices: tuple[str, ...] = ()
    #: how etcd's help shows the default ('' when None: from ``default``)
    shown_default: str | None = None
    #: the key in etcd's YAML config file (None: not readable from the file)
    yaml_key: str | None = field(default="")
    go_type: str | None = None
    #: not among etcd 3.5.1's flags (3.4 only, or later 3.5 releases)
    not_in_35: bool = False

    def __post_init__(self) -> None:
        if self.yaml_key == "":
            self.yaml_key = self.name

    @property
    def is_bool(self) -> bool:
        return self.kind in ("bool", "legacy")

    def convert(self, raw: str) -> Any:
        """A command-line or environment value, as Go's flag.Value.Set takes it; raises
        GoValueError with Go's error text."""
        if self.kind in ("string", "legacy"):
            return raw
        if self.kind == "bool":
            return parse_bool(raw)
        if self.kind == "int":
            return parse_int(raw, 64)
        if self.kind == "uint":
            return parse_int(raw, 64, unsigned=True)
        if self.kind == "duration":
            return parse_duration(raw)
        if self.kind == "urls":
            if raw == "*" and self.name == "cors":
                return ["*"]
            try:
                return url_list(raw)
            except URLError as exc:
                raise GoValueError(str(exc)) from None
        if self.kind == "strings":
            return sorted({s for s in raw.split(",")}) if self.name != "cipher-suites" \
                else [s for s in raw.split(",") if s]
        if self.kind == "choice":
            if raw not in self.choices:
                raise GoValueError(msg.SELECTIVE_INVALID)
            return raw
        raise AssertionError(self.kind)

    def is_harmless(self, value: Any) -> bool:
        if self.harmless is not None:
            return self.harmless(value)
        return value == self.default

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        value = self.default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ",".join(value)
        if self.kind == "duration":
            from .goflags import format_duration
            return format_duration(value)
        return str(value)

    @property
    def go_type_name(self) -> str:
        return self.go_type or _GO_TYPES.get(self.kind, "string")


def _zero(value: Any) -> bool:
    return not value


_NO_RAFT = "etcdlite has no raft log, snapshots or WAL on one node"
_NO_ELECTION = "a single etcdlite member is always the leader; there are no elections"
_NO_PEERS = "a single etcdlite member has no peers"
_ANY_ORIGIN = "etcdlite answers every origin and host, as etcd's defaults (*) do"
_NO_SELF_CLIENT = ("etcdlite makes no client connections to itself (etcd's gRPC gateway does), so "
                   "it needs no client certificate of its own")
_BBOLT = "etcdlite stores data in LMDB, not bbolt"
_NO_V2 = "etcdlite serves only the v3 API"

_M, _C, _S, _A, _P, _L = GROUPS[0], GROUPS[1], GROUPS[2], GROUPS[3], GROUPS[4], GROUPS[5]
_T, _X2, _E, _U, _OWN = GROUPS[6], GROUPS[7], GROUPS[8], GROUPS[9], GROUPS[10]

_KEEPALIVE_NOTE = "etcdlite's gRPC keepalive settings are etcd's defaults (5s, 2h, 20s)"

FLAGS: list[Flag] = [
    # -- Member --------------------------------------------------------------------------------
    Flag("name", "string", "default", _M, "Human-readable name for this member."),
    Flag("data-dir", "string", "", _M, "Path to the data directory ('' with --memory: in memory).",
         shown_default="${name}.etcdlite"),
    Flag("wal-dir", "string", "", _M, "Path to the dedicated wal directory.", NOTICE,
         "etcdlite keeps its write-ahead log inside --data-dir (etcdlite.wal)"),
    Flag("snapshot-count", "uint", 100000, _M,
         "Number of committed transactions to trigger a snapshot to disk.", NOTICE, _NO_RAFT,
         go_type="uint64"),
    Flag("heartbeat-interval", "uint", 100, _M, "Time (in milliseconds) of a heartbeat interval.",
         NOTICE, _NO_ELECTION),
    Flag("election-timeout", "uint", 1000, _M, "Time (in milliseconds) for an election to timeout.",
         NOTICE, _NO_ELECTION),
    Flag("initial-election-tick-advance", "bool", True, _M,
         "Whether to fast-forward initial election ticks on boot for faster election.", NOTICE,
         _NO_ELECTION),
    Flag("listen-peer-urls", "urls", ["http://localhost:2380"], _M,
         "List of URLs to listen on for peer traffic.", NOTICE,
         _NO_PEERS + ", so no peer port is opened", harmless=lambda v: True),
    Flag("listen-client-urls", "urls", ["http://127.0.0.1:2379"], _M,
         "List of URLs to listen on for client traffic."),
    Flag("listen-client-http-urls", "urls", [], _M,
         "List of URLs to listen on for http only client traffic. Enabling this flag removes "
         "http services from --listen-client-urls.", not_in_35=True),
    Flag("max-snapshots", "uint", 5, _M, "Maximum number of snapshot files to retain (0 is unlimited).",
         NOTICE, _NO_RAFT),
    Flag("max-wals", "uint", 5, _M, "Maximum number of wal files to retain (0 is unlimited).",
         NOTICE, _NO_RAFT),
    Flag("quota-backend-bytes", "int", 0, _M,
         "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota; "
         "etcdlite: negative = no quota)."),
    Flag("backend-bbolt-freelist-type", "string", "map", _M,
         "BackendFreelistType specifies the type of freelist that boltdb backend uses.", NOTICE, _BBOLT),
    Flag("backend-batch-interval", "duration", 0.0, _M,
         "BackendBatchInterval is the maximum time before commit the backend transaction.", NOTICE,
         "etcdlite commits every write group at once (group commit)", shown_default=""),
    Flag("backend-batch-limit", "int", 0, _M,
         "BackendBatchLimit is the maximum operations before commit the backend transaction.",
         NOTICE, "etcdlite commits every write group at once (group commit)", go_type="int"),
    Flag("max-txn-ops", "uint", 128, _M, "Maximum number of operations permitted in a transaction."),
    Flag("max-request-bytes", "uint", 1572864, _M,
         "Maximum client request size in bytes the server will accept."),
    Flag("grpc-keepalive-min-time", "duration", 5.0, _M,
         "Minimum duration interval that a client should wait before pinging server.", NOTICE,
         _KEEPALIVE_NOTE),
    Flag("grpc-keepalive-interval", "duration", 7200.0, _M,
         "Frequency duration of server-to-client ping to check if a connection is alive.", NOTICE,
         _KEEPALIVE_NOTE),
    Flag("grpc-keepalive-timeout", "duration", 20.0, _M,
         "Additional duration of wait before closing a non-responsive connection.", NOTICE,
         _KEEPALIVE_NOTE),
    Flag("max-concurrent-streams", "uint", 4294967295, _M,
         "Maximum concurrent streams that each client can open at a time (etcd 3.4).", NOTICE,
         "etcdlite does not limit streams per client", go_type="uint32", not_in_35=True),
    Flag("socket-reuse-port", "bool", False, _M, "Enable to set socket option SO_REUSEPORT on listeners.",
         NOTICE, "etcdlite sets no socket options"),
    Flag("socket-reuse-address", "bool", False, _M,
         "Enable to set socket option SO_REUSEADDR on listeners.", NOTICE,
         "etcdlite sets no socket options"),
    # -- Clustering ----------------------------------------------------------------------------
    Flag("initial-advertise-peer-urls", "urls", ["http://localhost:2380"], _C,
         "List of this member's peer URLs to advertise to the rest of the cluster "
         "(with --initial-cluster and --initial-cluster-token: the member ID, as in etcd)."),
    Flag("initial-cluster", "string", "default=http://localhost:2380", _C,
         "Initial cluster configuration for bootstrapping (etcdlite: this one member only)."),
    Flag("initial-cluster-state", "choice", "new", _C, "Initial cluster state ('new' or 'existing').",
         REFUSE, "'existing' joins a running cluster through its peers; a single etcdlite member "
                 "cannot join one (use 'new')", choices=("new", "existing")),
    Flag("initial-cluster-token", "string", "etcd-cluster", _C,
         "Initial cluster token for the etcd cluster during bootstrap."),
    Flag("advertise-client-urls", "urls", [], _C,
         "List of this member's client URLs to advertise to the public.",
         shown_default="the listen URLs"),
    Flag("discovery", "string", "", _C, "Discovery URL used to bootstrap the cluster.", REFUSE,
         "bootstrapping through a discovery service needs a cluster; etcdlite is a single member"),
    Flag("discovery-fallback", "choice", "proxy", _C,
         "Expected behavior ('exit' or 'proxy') when discovery services fails.", NOTICE,
         "etcdlite uses no discovery", choices=("proxy", "exit")),
    Flag("discovery-proxy", "string", "", _C, "HTTP proxy to use for traffic to discovery service.",
         NOTICE, "etcdlite uses no discovery"),
    Flag("discovery-srv", "string", "", _C, "DNS srv domain used to bootstrap the cluster.", REFUSE,
         "DNS discovery of peers needs a cluster; etcdlite is a single member"),
    Flag("discovery-srv-name", "string", "", _C, "Suffix to the dns srv name queried when bootstrapping.",
         NOTICE, "etcdlite uses no discovery"),
    Flag("strict-reconfig-check", "bool", True, _C,
         "Reject reconfiguration requests that would cause quorum loss.", NOTICE, _NO_PEERS),
    Flag("pre-vote", "bool", True, _C, "Enable to run an additional Raft election phase.", NOTICE,
         _NO_ELECTION),
    Flag("auto-compaction-retention", "string", "0", _C,
         "Auto compaction retention length. 0 means disable auto compaction.", USE),
    Flag("auto-compaction-mode", "string", "periodic", _C,
         "Interpret 'auto-compaction-retention' one of: periodic|revision.", USE),
    Flag("enable-v2", "bool", False, _C, "Accept etcd V2 client requests.", REFUSE, _NO_V2,
         harmless=_zero),
    Flag("v2-deprecation", "string", "not-yet", _C, "Phase of v2store deprecation.", NOTICE,
         "etcdlite has no v2 store"),
    # -- Security ------------------------------------------------------------------------------
    Flag("cert-file", "string", "", _S, "Path to the client server TLS cert file."),
    Flag("key-file", "string", "", _S, "Path to the client server TLS key file."),
    Flag("client-cert-auth", "bool", False, _S, "Enable client cert authentication."),
    Flag("client-crl-file", "string", "", _S, "Path to the client certificate revocation list file.",
         NOT_YET, "certificate revocation lists", harmless=_zero),
    Flag("client-cert-allowed-hostname", "string", "", _S,
         "Allowed TLS hostname for client cert authentication.", NOT_YET,
         "restricting client certificates to a hostname", harmless=_zero),
    Flag("trusted-ca-file", "string", "", _S, "Path to the client server TLS trusted CA cert file."),
    Flag("auto-tls", "bool", False, _S, "Client TLS using generated certificates."),
    *[Flag(name, "string", "", _S, text, NOTICE, _NO_SELF_CLIENT, harmless=_zero)
      for name, text in [
          ("client-cert-file", "Path to an explicit peer client TLS cert file otherwise cert file "
                               "will be used when client auth is required."),
          ("client-key-file", "Path to an explicit peer client TLS key file otherwise key file "
                              "will be used when client auth is required."),
      ]],
    *[Flag(name, kind, default, _S, text, NOTICE, _NO_PEERS + ", so there is no peer TLS",
           harmless=_zero)
      for name, kind, default, text in [
          ("peer-cert-file", "string", "", "Path to the peer server TLS cert file."),
          ("peer-key-file", "string", "", "Path to the peer server TLS key file."),
          ("peer-client-cert-auth", "bool", False, "Enable peer client cert authentication."),
          ("peer-trusted-ca-file", "string", "", "Path to the peer server TLS trusted CA file."),
          ("peer-cert-allowed-cn", "string", "", "Required CN for client certs connecting to the peer endpoint."),
          ("peer-cert-allowed-hostname", "string", "", "Allowed TLS hostname for inter peer authentication."),
          ("peer-auto-tls", "bool", False, "Peer TLS using self-generated certificates."),
          ("peer-crl-file", "string", "", "Path to the peer certificate revocation list file."),
          ("peer-client-cert-file", "string", "", "Path to an explicit peer client TLS cert file."),
          ("peer-client-key-file", "string", "", "Path to an explicit peer client TLS key file."),
          ("experimental-peer-skip-client-san-verification", "bool", False,
           "Skip verification of SAN field in client certificate for peer connections."),
      ]],
    Flag("self-signed-cert-validity", "uint", 1, _S,
         "The validity period of the client and peer certificates, unit is year."),
    Flag("cipher-suites", "strings", [], _S,
         "Comma-separated list of supported TLS cipher suites between client/server and peers "
         "(empty will be auto-populated by Go; etcdlite: only gRPC core's own TLS 1.2 suites).",
         shown_default=""),
    Flag("tls-min-version", "string", "TLS1.2", _S,
         "Minimum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3 "
         "(etcd 3.5.8+; etcdlite: only TLS1.2).", not_in_35=True),
    Flag("tls-max-version", "string", "", _S,
         "Maximum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3 (empty defers to "
         "Go) (etcd 3.5.8+; etcdlite: only empty or TLS1.3).", not_in_35=True),
    Flag("cors", "urls", ["*"], _S, "Comma-separated whitelist of origins for CORS.", NOTICE, _ANY_ORIGIN,
         harmless=lambda v: v in (["*"], [])),
    Flag("host-whitelist", "strings", ["*"], _S,
         "Acceptable hostnames from HTTP client requests, if server is not secure.", NOTICE, _ANY_ORIGIN,
         harmless=lambda v: v in (["*"], [""], [])),
    # -- Auth ----------------------------------------------------------------------------------
    Flag("auth-token", "string", "simple", _A,
         "Specify a v3 authentication token type and its options ('simple' or 'jwt')."),
    Flag("bcrypt-cost", "uint", 10, _A,
         "Specify bcrypt algorithm cost factor for auth password hashing."),
    Flag("auth-token-ttl", "uint", 300, _A, "The lifetime in seconds of the auth token."),
    # -- Profiling and Monitoring --------------------------------------------------------------
    Flag("enable-pprof", "bool", False, _P, "Enable runtime profiling data via HTTP server.", NOTICE,
         "etcdlite has no Go runtime to profile (/debug/pprof is not served)"),
    Flag("metrics", "string", "basic", _P, "Set level of detail for exported metrics.", NOTICE,
         "etcdlite exports the basic metrics only", harmless=lambda v: v == "basic"),
    Flag("listen-metrics-urls", "urls", [], _P,
         "List of URLs to listen on for the metrics and health endpoints."),
    Flag("enable-grpc-gateway", "bool", True, _P, "Enable GRPC gateway."),
    # -- Logging -------------------------------------------------------------------------------
    Flag("logger", "string", "zap", _L, "Currently only supports 'zap' for structured logging "
         "(etcd 3.4's 'capnslog' is accepted).", USE),
    Flag("log-outputs", "strings", ["default"], _L,
         "'stderr' (= 'default'), 'stdout' or file paths, comma separated.", USE),
    Flag("log-output", "strings", ["default"], _L, "etcd 3.4's name of --log-outputs.", USE,
         not_in_35=True),
    Flag("log-level", "string", "info", _L,
         "Configures log level. Only supports debug, info, warn, error, panic, or fatal.", USE),
    Flag("debug", "bool", False, _L, "etcd 3.4: same as --log-level=debug.", USE, not_in_35=True),
    Flag("log-package-levels", "string", "", _L, "etcd 3.4: log level per package.", NOTICE,
         "etcdlite has one log level (--log-level)", not_in_35=True),
    Flag("enable-log-rotation", "bool", False, _L, "Enable log rotation of a single log-outputs file target.",
         NOTICE, "etcdlite does not rotate logs"),
    Flag("log-rotation-config-json", "string",
         '{"maxsize": 100, "maxage": 0, "maxbackups": 0, "localtime": false, "compress": false}', _L,
         "Configures log rotation if enabled with a JSON logger config.", NOTICE,
         "etcdlite does not rotate logs"),
    # -- Experimental distributed tracing ------------------------------------------------------
    Flag("experimental-enable-distributed-tracing", "bool", False, _T,
         "Enable experimental distributed tracing.", NOTICE, "etcdlite does no distributed tracing"),
    Flag("experimental-distributed-tracing-address", "string", "localhost:4317", _T,
         "Distributed tracing collector address.", NOTICE, "etcdlite does no distributed tracing"),
    Flag("experimental-distributed-tracing-service-name", "string", "etcd", _T,
         "Distributed tracing service name.", NOTICE, "etcdlite does no distributed tracing"),
    Flag("experimental-distributed-tracing-instance-id", "string", "", _T,
         "Distributed tracing instance ID.", NOTICE, "etcdlite does no distributed tracing"),
    # -- v2 proxy ------------------------------------------------------------------------------
    Flag("proxy", "choice", "off", _X2, "Proxy mode setting ('off', 'readonly' or 'on').", REFUSE,
         "etcdlite is a server, not a v2 proxy", choices=("off", "readonly", "on")),
    *[Flag(name, "uint", default, _X2, text, NOTICE, "etcdlite is not a v2 proxy")
      for name, default, text in [
          ("proxy-failure-wait", 5000, "Time (in milliseconds) an endpoint will be held in a failed state."),
          ("proxy-refresh-interval", 30000, "Time (in milliseconds) of the endpoints refresh interval."),
          ("proxy-dial-timeout", 1000, "Time (in milliseconds) for a dial to timeout."),
          ("proxy-write-timeout", 5000, "Time (in milliseconds) for a write to timeout."),
          ("proxy-read-timeout", 0, "Time (in milliseconds) for a read to timeout."),
      ]],
    # -- Experimental feature ------------------------------------------------------------------
    Flag("experimental-initial-corrupt-check", "bool", False, _E,
         "Enable to check data corruption before serving any client/peer traffic.", NOTICE,
         "etcdlite always checks every stored record's checksum before serving, and there are no "
         "other members to compare hashes with"),
    Flag("experimental-corrupt-check-time", "duration", 0.0, _E,
         "Duration of time between cluster corruption check passes.", NOTICE,
         "there are no other members to compare hashes with"),
    Flag("experimental-enable-v2v3", "string", "", _E,
         "Serve v2 requests through the v3 backend under a given prefix.", REFUSE, _NO_V2),
    Flag("experimental-enable-lease-checkpoint", "bool", False, _E,
         "Enable leader to send regular checkpoints to other members.", NOTICE,
         "a single member never changes leader, so lease TTLs never reset"),
    Flag("experimental-enable-lease-checkpoint-persist", "bool", False, _E,
         "Enable persisting remainingTTL (etcd 3.4.23).", NOTICE,
         "a single member never changes leader, so lease TTLs never reset", not_in_35=True),
    Flag("experimental-compaction-batch-limit", "int", 1000, _E,
         "Sets the maximum revisions deleted in each compaction batch.", NOTICE,
         "etcdlite compacts in one step", go_type="int"),
    Flag("experimental-watch-progress-notify-interval", "duration", 600.0, _E,
         "Duration of periodical watch progress notification."),
    Flag("experimental-warning-apply-duration", "duration", 0.1, _E,
         "Warning is generated if requests take more than this duration.", NOTICE,
         "etcdlite logs no slow-apply warnings"),
    Flag("experimental-txn-mode-write-with-shared-buffer", "bool", True, _E,
         "Enable the write transaction to use a shared buffer in its readonly check operations.",
         NOTICE, _BBOLT),
    Flag("experimental-bootstrap-defrag-threshold-megabytes", "uint", 0, _E,
         "Enable the defrag during etcd server bootstrap.", NOTICE,
         "etcdlite defragments only on the Defragment call", shown_default=""),
    Flag("experimental-memory-mlock", "bool", False, _E,
         "Enable to enforce etcd pages (in particular bbolt) to stay in RAM.", NOTICE, _BBOLT),
    Flag("experimental-backend-bbolt-freelist-type", "string", "", _E,
         "etcd 3.4's name of --backend-bbolt-freelist-type.", NOTICE, _BBOLT, not_in_35=True),
    Flag("experimental-downgrade-check-time", "duration", 5.0, _E,
         "Duration of time between two downgrade status checks.", NOTICE,
         "etcdlite does not downgrade"),
    # -- Unsafe feature ------------------------------------------------------------------------
    Flag("force-new-cluster", "bool", False, _U, "Force to create a new one-member cluster.", NOTICE,
         "etcdlite always is a one-member cluster"),
    Flag("unsafe-no-fsync", "bool", False, _U, "Disables fsync, unsafe, will cause data loss.", NOTICE,
         "etcdlite always commits with fsync (or runs with --memory)"),
    # -- etcdlite ------------------------------------------------------------------------------
    Flag("config-file", "string", "", _OWN,
         "Path to the server configuration file (etcd's YAML keys). Note that if a configuration "
         "file is provided, other command line flags and environment variables will be ignored.",
         yaml_key=None),
    Flag("memory", "bool", False, _OWN, "Keep all data in memory (no --data-dir)."),
    Flag("enable-time-control", "bool", False, _OWN,
         "For tests: run on a manual clock, moved only by the admin call "
         "etcdlite.admin.v1.Admin/AdvanceClock."),
    Flag("enable-ui", "bool", True, _OWN,
         "Serve the read-only browser view of keys, leases, locks, elections and watchers at "
         "/ui/ on the client URLs."),
    Flag("client-port-front", "choice", "thread", _OWN,
         "Who accepts on a client URL that serves HTTP too ('thread': a thread of the server's, "
         "which hands gRPC connections to grpc core; 'process': a process of its own, which "
         "forwards them).", choices=("thread", "process")),
    Flag("initial-snapshot", "string", "", _OWN,
         "For tests: start from an etcdlite snapshot file (refused unless the data dir is empty)."),
    Flag("version", "bool", False, _OWN, "Print the version and exit.", yaml_key=None),
]

#: etcd's etcdmain ``ignored`` list: flags of etcd 2, accepted and ignored with a warning
LEGACY_FLAGS = ["cluster-active-size", "cluster-remove-delay", "cluster-sync-interval", "config",
                "force", "max-result-buffer", "max-retry-attempts", "peer-heartbeat-interval",
                "peer-election-timeout", "retry-interval", "snapshot", "v", "vv"]
FLAGS += [Flag(name, "legacy", "", "", "", LEGACY, yaml_key=None) for name in LEGACY_FLAGS]

BY_NAME: dict[str, Flag] = {f.name: f for f in FLAGS}
assert len(BY_NAME) == len(FLAGS)

#: the nested ``client-transport-security`` / ``peer-transport-security`` keys of the config file
#: (etcd's embed.securityConfig JSON tags) -> flag name
TRANSPORT_SECURITY_KEYS = {
    "client-transport-security": {"cert-file": "cert-file", "key-file": "key-file",
                                  "client-cert-file": "client-cert-file",
                                  "client-key-file": "client-key-file",
                                  "client-cert-auth": "client-cert-auth",
                                  "trusted-ca-file": "trusted-ca-file", "auto-tls": "auto-tls",
                                  "crl-file": "client-crl-file",
                                  "allowed-hostname": "client-cert-allowed-hostname"},
    "peer-transport-security": {"cert-file": "peer-cert-file", "key-file": "peer-key-file",
                                "client-cert-file": "peer-client-cert-file",
                                "client-key-file": "peer-client-key-file",
                                "client-cert-auth": "peer-client-cert-auth",
                                "trusted-ca-file": "peer-trusted-ca-file", "auto-tls": "peer-auto-tls",
                                "crl-file": "peer-crl-file", "allowed-cn": "peer-cert-allowed-cn",
                                "allowed-hostname": "peer-cert-allowed-hostname"},
}

# These flags exist in the config file only under a transport-security key: at the top level
# etcd does not know them (and ignores them), so neither does etcdlite.
for _nested in TRANSPORT_SECURITY_KEYS.values():
    for _name in _nested.values():
        BY_NAME[_name].yaml_key = None

#: config file keys (etcd's embed.Config / configProxy JSON tags) -> flag
BY_YAML_KEY: dict[str, Flag] = {f.yaml_key: f for f in FLAGS if f.yaml_key}
