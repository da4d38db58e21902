"""etcd's own wording for what its command line, environment and config file report.

Every text here is what etcd 3.4.23 / 3.5.1 print (Go's ``flag`` package, etcd's ``pkg/flags``,
``embed.Config.Validate``, ``etcdserver.ServerConfig.VerifyBootstrap``), so that a command line that
fails on etcd fails on etcdlite with the same words. Templates use ``str.format`` fields.
"""

from __future__ import annotations

# -- Go's flag package (exit status 2) --------------------------------------------------------
FLAG_NOT_DEFINED = "flag provided but not defined: -{name}"
FLAG_NEEDS_ARGUMENT = "flag needs an argument: -{name}"
FLAG_BAD_SYNTAX = "bad flag syntax: {arg}"
FLAG_INVALID_VALUE = 'invalid value "{value}" for flag -{name}: {error}'
FLAG_INVALID_BOOLEAN = 'invalid boolean value "{value}" for -{name}: {error}'
#: the errors Go's flag package reports for a number or duration it cannot parse
PARSE_ERROR = "parse error"
OUT_OF_RANGE = "value out of range"
#: flags.SelectiveStringValue.Set
SELECTIVE_INVALID = "invalid value"

# -- etcdmain (exit status 1) -----------------------------------------------------------------
NOT_A_VALID_FLAG = "'{arg}' is not a valid flag"
#: pkg/flags.IgnoredFlag: flags of etcd 2 that etcd still accepts and ignores
IGNORED_FLAG = 'flag "-{name}" is no longer supported - ignoring.'
CONFIG_FILE_LOADED = ("loaded server configuration, other configuration command line flags and "
                      "environment variables will be ignored if provided (path {path})")

# -- pkg/flags: the environment ---------------------------------------------------------------
ENV_USED = "recognized and used environment variable {key}={value}"
ENV_UNRECOGNIZED = "unrecognized environment variable {key}={value}"
ENV_INVALID_VALUE = 'invalid value "{value}" for {key}: {error}'
ENV_SHADOWED = ('conflicting environment variable "{key}" is shadowed by corresponding '
                "command-line flag (either unset environment variable or disable flag)")

# -- the config file (sigs.k8s.io/yaml into embed.Config) -------------------------------------
YAML_SYNTAX = "error converting YAML to JSON: {error}"
YAML_TYPE = ("error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {json_type} "
             "into Go struct field configYAML.{key} of type {go_type}")
#: embed.configFromFile: a URL list it cannot parse ends etcd at once
YAML_BAD_URLS = "unexpected error setting up {key}: {error}"

# -- embed.Config.Validate --------------------------------------------------------------------
HEARTBEAT_NOT_POSITIVE = "--heartbeat-interval must be >0 (set to {ms}ms)"
ELECTION_NOT_POSITIVE = "--election-timeout must be >0 (set to {ms}ms)"
ELECTION_TOO_SHORT = ("--election-timeout[{election}ms] should be at least as 5 times as "
                      "--heartbeat-interval[{heartbeat}ms]")
ELECTION_TOO_LONG = "--election-timeout[{election}ms] is too long, and should be set less than {max}ms"
MAX_ELECTION_MS = 50000
UNEXPECTED_CLUSTER_STATE = 'unexpected clusterState "{state}"'
UNKNOWN_COMPACTION_MODE = 'unknown auto-compaction-mode "{mode}"'
CONFLICTING_BOOTSTRAP_FLAGS = ("multiple discovery or bootstrap flags are set. Choose one of "
                               '"initial-cluster", "discovery" or "discovery-srv"')
LOGGER_CAPNSLOG_REMOVED = "--logger=capnslog is removed in v3.5"
UNKNOWN_LOGGER = 'unknown logger option "{logger}"'
UNRECOGNIZED_LOG_LEVEL = 'unrecognized level: "{level}"'
#: etcdserver/quota.go: above this, etcd warns (and still uses the quota)
MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024
QUOTA_ABOVE_MAXIMUM = ("quota exceeds the maximum value (quota-size-bytes {quota}, "
                       "quota-maximum-size-bytes {maximum})")

# -- auth (server/auth/store.go) --------------------------------------------------------------
BCRYPT_MIN_COST, BCRYPT_MAX_COST, BCRYPT_DEFAULT_COST = 4, 31, 10
BCRYPT_INVALID_COST = ("use default bcrypt cost instead of the invalid given cost (min-cost {min}, "
                       "max-cost {max}, default-cost {default}, given-cost {given})")

# -- client TLS (embed.configureClientListeners, transport.TLSInfo) ---------------------------
HTTPS_WITHOUT_CERT = ("TLS key/cert (--cert-file, --key-file) must be provided for client url {url} "
                      "with HTTPS scheme")

# -- bootstrapping the initial cluster (etcdmain, etcdserver.ServerConfig) --------------------
INITIAL_CLUSTER_SETUP = "error setting up initial cluster: {error}"
LOCAL_NAME_NOT_FOUND = 'couldn\'t find local name "{name}" in the initial cluster configuration'
CLUSTER_MISSING_FROM_ADVERTISE = ("--initial-cluster has {missing} but missing from "
                                  "--initial-advertise-peer-urls={advertised} ({error})")
ADVERTISE_MISSING_FROM_CLUSTER = ("--initial-advertise-peer-urls has {missing} but missing from "
                                  "--initial-cluster={cluster}")
ADVERTISE_UNRESOLVED = "failed to resolve {advertised} to match --initial-cluster={cluster} ({error})"
URLS_LEN_DIFFER = "len({a}) != len({b})"
URLS_DIFFER = '"{a}"(resolved from "{a0}") != "{b}"(resolved from "{b0}")'
DUPLICATE_URL = "initial cluster {cluster} has duplicate url"
IDENTICAL_MEMBER_ID = "member exists with identical ID {member}"

# -- types.NewURLs ----------------------------------------------------------------------------
NO_VALID_URLS = "no valid URLs given"
URL_BAD_SCHEME = "URL scheme must be http, https, unix, or unixs: {url}"
URL_NO_PORT = 'URL address does not have the form "host:port": {url}'
URL_HAS_PATH = "URL must not contain a path: {url}"

# -- the HTTP side of the client URL (Go's net/http, etcdhttp) --------------------------------
HTTP_NOT_FOUND = "404 page not found\n"
HTTP_METHOD_NOT_ALLOWED = "Method Not Allowed\n"
HTTP_MOVED = '<a href="{location}">Moved Permanently</a>.\n\n'
# embed/serve.go's accessController, for a gateway call with a client certificate while auth is on
GATEWAY_COMMON_NAME = ("CommonName of client sending a request against gateway will be ignored and "
                       "not used as expected\n")
HEALTH_ALARM = "ALARM {name}"  # NOSPACE, CORRUPT, or UNKNOWN for any other type
HEALTH_RANGE_ERROR = "RANGE ERROR:{error}"
# etcd 3.6's /livez and /readyz checks (etcdhttp/health.go)
CHECK_OK = "[+]{name} ok\n"
CHECK_FAILED = "[-]{name} failed: {error}\n"
CHECK_ALARM_ACTIVE = "alarm activated: {alarm}"
