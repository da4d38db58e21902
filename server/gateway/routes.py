"""The gateway's paths: etcd's ``google.api.http`` annotations (rpc.proto, v3lock.proto,
v3election.proto of 3.5.1), every one ``post`` with ``body: "*"``.

Maintenance.HashKV shares ``/v3/maintenance/hash`` with Hash and grpc-gateway takes the first
registered, so HashKV has no path. The Lease aliases under ``/v3/kv/lease/`` are etcd's own
(``additional_bindings``); ``keepalive`` has none."""

from __future__ import annotations

#: path → (service full name, method name)
PATHS: dict[str, tuple[str, str]] = {}


def _add(service: str, prefix: str, methods: dict[str, str]) -> None:
    for path, method in methods.items():
        PATHS[prefix + path] = (service, method)


_add("etcdserverpb.KV", "/v3/kv/", {
    "range": "Range", "put": "Put", "deleterange": "DeleteRange", "txn": "Txn",
    "compaction": "Compact"})
_add("etcdserverpb.Watch", "/v3/", {"watch": "Watch"})
_add("etcdserverpb.Lease", "/v3/", {
    "lease/grant": "LeaseGrant", "lease/revoke": "LeaseRevoke", "kv/lease/revoke": "LeaseRevoke",
    "lease/keepalive": "LeaseKeepAlive", "lease/timetolive": "LeaseTimeToLive",
    "kv/lease/timetolive": "LeaseTimeToLive", "lease/leases": "LeaseLeases",
    "kv/lease/leases": "LeaseLeases"})
_add("etcdserverpb.Cluster", "/v3/cluster/member/", {
    "add": "MemberAdd", "remove": "MemberRemove", "update": "MemberUpdate", "list": "MemberList",
    "promote": "MemberPromote"})
_add("etcdserverpb.Maintenance", "/v3/maintenance/", {
    "alarm": "Alarm", "status": "Status", "defragment": "Defragment", "hash": "Hash",
    "snapshot": "Snapshot", "transfer-leadership": "MoveLeader", "downgrade": "Downgrade"})
_add("etcdserverpb.Auth", "/v3/auth/", {
    "enable": "AuthEnable", "disable": "AuthDisable", "status": "AuthStatus",
    "authenticate": "Authenticate",
    "user/add": "UserAdd", "user/get": "UserGet", "user/list": "UserList",
    "user/delete": "UserDelete", "user/changepw": "UserChangePassword",
    "user/grant": "UserGrantRole", "user/revoke": "UserRevokeRole",
    "role/add": "RoleAdd", "role/get": "RoleGet", "role/list": "RoleList",
    "role/delete": "RoleDelete", "role/grant": "RoleGrantPermission",
    "role/revoke": "RoleRevokePermission"})
_add("v3lockpb.Lock", "/v3/lock/", {"lock": "Lock", "unlock": "Unlock"})
_add("v3electionpb.Election", "/v3/election/", {
    "campaign": "Campaign", "proclaim": "Proclaim", "leader": "Leader", "observe": "Observe",
    "resign": "Resign"})


def api_path(path: str) -> str | None:
    """The API path a decoded, ``/v3/``-rewritten request path names, as grpc-gateway's mux
    matches it: a ``:verb`` on the last segment must be empty (``/v3/kv/range:`` is Range),
    nothing else is tolerated (no trailing slash)."""
    head, slash, last = path.rpartition("/")
    colon = last.rfind(":")
    if colon == 0:
        return None
    if colon > 0:
        if last[colon + 1:]:
            return None
        path = head + slash + last[:colon]
    return path if path in PATHS else None
