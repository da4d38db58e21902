"""The etcd node: owns the store, its persistence and the cluster identity.

Everything here runs on one asyncio event loop. Writes are applied to the store at once, then the
caller awaits durability (group commit); reads are served at the durable revision, so no client ever
sees a write that could still be lost.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import json
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, TypeVar

from . import compactor, errors
from .auth import passwords
from .auth.authorize import authorize, authorize_lease_keys
from .auth.caller import INTERNAL, Caller
from .auth.store import AuthInfo, AuthStore
from .auth.tokens import TokenProvider, token_provider
from .clock import Clock
from .cluster import Member, cluster_id, member_id
from .config import Config
from .lease.lessor import Lease, Lessor
from .mvcc import validation, wire_size
from .mvcc.requests import (
    DeleteRangeRequest,
    DeleteRangeResult,
    PutRequest,
    PutResult,
    RangeRequest,
    RangeResult,
    TxnRequest,
    TxnResult,
)
from .mvcc.key_index import Change
from .mvcc.store import Commit, MVCCStore
from .storage.backend import Backend, Batch
from .storage.group_commit import DurabilityError, GroupCommitter
from .storage.histogram import (DB_COMPACTION_MS, DEFRAG_SECONDS, HASH_SECONDS, INDEX_COMPACTION_MS,
                                Observations)
from .watch.session import WatchSession
from .watch.watch_hub import WatchHub

if TYPE_CHECKING:
    from .bbolt.etcd_layout import EtcdState

T = TypeVar("T")


ALARM_NONE, ALARM_NOSPACE, ALARM_CORRUPT = 0, 1, 2
#: etcd's AlarmType names
ALARM_NAMES = {ALARM_NONE: "NONE", ALARM_NOSPACE: "NOSPACE", ALARM_CORRUPT: "CORRUPT"}
ALARM_GET, ALARM_ACTIVATE, ALARM_DEACTIVATE = 0, 1, 2


#: etcd's space quota: the default, and the estimated cost of what a request adds
DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024
KV_OVERHEAD = 256
LEASE_OVERHEAD = 64

#: etcd scans for expired leases every 500 ms and revokes at most 500 per scan.
EXPIRY_INTERVAL = 0.5
EXPIRY_BATCH = 500


@contextmanager
def _collection_paused(freeze: bool = False):
    """No cyclic garbage collection while the history is loaded: every object made then lives
    on, and collections over millions of them cost a third of a restart (1M keys x 2: 6 of 19 s).
    ``freeze``: move everything loaded out of the collector's reach afterwards (a process of its
    own only); otherwise the first collection after the load still walks all of it once."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


class ServerStats:
    """What the node measures for etcd's server, disk and compaction metrics, as plain numbers."""

    __slots__ = ("pending_proposals", "failed_proposals", "expired_leases", "defragmenting",
                 "defrag_seconds", "hash_seconds", "hash_kv_seconds", "index_compaction_ms",
                 "db_compaction_ms", "last_compaction")

    def __init__(self) -> None:
        #: writes applied and waiting to be durable (etcd: proposals not yet applied)
        self.pending_proposals = 0
        #: writes whose durable commit failed
        self.failed_proposals = 0
        self.expired_leases = 0
        self.defragmenting = False
        self.defrag_seconds = Observations(DEFRAG_SECONDS)
        self.hash_seconds = Observations(HASH_SECONDS)
        self.hash_kv_seconds = Observations(HASH_SECONDS)
        #: in-memory compaction, and compaction until durable, in whole milliseconds (as etcd)
        self.index_compaction_ms = Observations(INDEX_COMPACTION_MS)
        self.db_compaction_ms = Observations(DB_COMPACTION_MS)
        #: unix time the last compaction became durable (0: none since start)
        self.last_compaction = 0.0


class Node:
    def __init__(self, config: Config, backend: Backend, client_urls: list[str],
                 clock: Clock | None = None, freeze_history: bool = False) -> None:
        self.config = config
        self.backend = backend
        self.clock = clock or Clock()
        self.member_id = member_id(config.initial_advertise_peer_urls, config.initial_cluster_token)
        self.cluster_id = cluster_id([self.member_id])
        self.stats = ServerStats()
        self.lessor = Lessor(self.clock, self.member_id)
        self.store = MVCCStore(max_txn_ops=config.max_txn_ops,
                               max_request_bytes=config.max_request_bytes,
                               lease_exists=self.lessor.__contains__)
        with _collection_paused(freeze=freeze_history):
            state = backend.load()
            self.store.restore(state.changes, state.compact_revision, state.histories)
        self.lessor.restore(state.leases)
        self.auth = AuthStore.from_state(json.loads(state.auth)) if state.auth else AuthStore()
        self.tokens: TokenProvider = token_provider(config.auth_token, config.auth_token_ttl,
                                                    self.clock.now)
        self.retention = compactor.parse_retention(config.auto_compaction_mode,
                                                   config.auto_compaction_retention)
        self.compactor: compactor.Compactor | None = None
        self.lessor.on_commit(Commit(self.store.current_revision, [
            change for change in self.store.latest_changes() if change.lease]))
        boots = state.meta.get("boots", 0) + 1
        # A fresh etcd is at term 2 after electing itself; every restart is one more election.
        self.raft_term = 1 + boots
        self.raft_index = state.meta.get("raft_index", 0) + 1
        self.alarms: set[tuple[int, int]] = {
            (m, a) for name, value in state.meta.items() if name.startswith("alarm:")
            for m, a in [_parse_alarm(name)] if value}
        self.durable_revision = self.store.current_revision
        self.member = Member(self.member_id, config.name, list(config.initial_advertise_peer_urls),
                             list(client_urls))

        self.watch_hub = WatchHub(self.store, lambda: self.durable_revision, self.clock,
                                  config.watch_progress_notify_interval)
        self.committer = GroupCommitter(backend, self._on_durable, self._on_disk_failure)
        self._commit_lazily = False  # the write being applied may share a later sync
        #: told when the disk refused a write: every later write fails, so the server stops
        self.disk_failed: list[Callable[[BaseException], None]] = []
        self.store.add_listener(self.lessor.on_commit)
        self.store.add_listener(self.watch_hub.on_commit)
        self.store.add_listener(self._on_commit)  # persists; may report durability at once
        backend.write(Batch(self.store.current_revision,
                            meta={"boots": boots, "raft_index": self.raft_index}))
        self._expiry_task: asyncio.Task | None = None
        self._compactor_task: asyncio.Task | None = None
        self._progress_task: asyncio.Task | None = None
        self._expiry_wakeup: asyncio.Event | None = None
        #: called after a reset or restore replaced the state (store, lessor, watch hub)
        self.state_replaced: list[Callable[[], None]] = []
        #: revoked leases whose deletes are not durable yet, with the revision of those deletes:
        #: until then readers still see the keys, so they still see the lease (TTL 0), as in etcd,
        #: where a lease leaves at the revision that deletes its keys
        self._revoking: dict[int, tuple[int, Lease]] = {}

    def start(self) -> None:
        """Start background work (lease expiry) on the running event loop."""
        loop = asyncio.get_running_loop()
        self._expiry_wakeup = asyncio.Event()
        self._wake_from_clock = lambda: loop.call_soon_threadsafe(self._expiry_wakeup.set)
        self.clock.subscribe(self._wake_from_clock)
        self._expiry_task = loop.create_task(self._expiry_loop())
        self._progress_task = loop.create_task(self.watch_hub.run_progress_ticker())
        self._start_compactor()

    def _start_compactor(self) -> None:
        started = compactor.start(self.retention, self.clock, lambda: self.store.current_revision,
                                  lambda revision: self.compact(INTERNAL, revision))
        self.compactor, self._compactor_task = started if started else (None, None)

    def _stop_compactor(self) -> None:
        if self._compactor_task is not None:
            self._compactor_task.cancel()
            self.compactor = self._compactor_task = None

    # -- persistence plumbing ---------------------------------------------------------------

    def _on_commit(self, commit: Commit) -> None:
        self.committer.submit(Batch(commit.revision, commit.changes, commit.compacted,
                                    commit.compact_revision, {"raft_index": self.raft_index + 1}),
                              lazy=self._commit_lazily)

    def _on_disk_failure(self, exc: BaseException) -> None:
        for callback in list(self.disk_failed):
            callback(exc)

    def _on_durable(self, revision: int) -> None:
        if revision > self.durable_revision:
            self.durable_revision = revision
        if self._revoking:
            for lease_id in [i for i, (r, _) in self._revoking.items() if r <= revision]:
                del self._revoking[lease_id]
        self.watch_hub.on_durable(revision)

    async def _durable(self, proposals: int = 1, urge: bool = True) -> None:
        """Wait until the writes just applied are durable; they count as pending proposals
        meanwhile, and as failed ones if the disk refuses them. ``urge=False``: the caller has no
        hurry (see ``_write``'s ``can_wait``)."""
        stats = self.stats
        stats.pending_proposals += proposals
        try:
            await self.committer.wait(urge)
        except DurabilityError:
            stats.failed_proposals += proposals
            raise
        finally:
            stats.pending_proposals -= proposals

    def _applied(self) -> None:
        """Count one applied write request (etcd: one raft entry)."""
        self.raft_index += 1

    def _reaches_quota(self, cost: int) -> bool:
        """Whether adding ``cost`` would take the backend to the space quota."""
        quota = self.config.quota_backend_bytes or DEFAULT_QUOTA_BYTES
        return quota >= 0 and self.committer.backend_size + cost >= quota

    def _check_quota(self, cost: int) -> None:
        """etcd's quota check, made before anything else: a request that would take the backend to
        the quota raises the NOSPACE alarm (persisted like any alarm) and is refused."""
        if not self._reaches_quota(cost):
            return
        self._set_alarm((self.member_id, ALARM_NOSPACE), True)
        raise errors.NO_SPACE

    def _set_alarm(self, entry: tuple[int, int], active: bool) -> bool:
        """Raise or clear an alarm and persist the change; return whether anything changed."""
        if (entry in self.alarms) == active:
            return False
        if active:
            self.alarms.add(entry)
        else:
            self.alarms.discard(entry)
        self._applied()
        self.committer.submit(Batch(self.store.current_revision, meta={
            _alarm_name(*entry): int(active), "raft_index": self.raft_index}))
        return True

    def _check_writable(self, puts: bool) -> None:
        """etcd's alarm appliers: CORRUPT refuses every write, NOSPACE every write that puts (a
        stage of the request path, after validation and before authorization)."""
        if any(a == ALARM_CORRUPT for _, a in self.alarms):
            raise errors.CORRUPT
        if puts and any(a == ALARM_NOSPACE for _, a in self.alarms):
            raise errors.NO_SPACE

    # -- the request path ---------------------------------------------------------------------
    #
    # Every request passes the same stages, in etcd's order (v3rpc, then etcdserver, then the
    # applier chain): quota → validate → identify → request size → alarm gate → authorize →
    # apply → durable. Reads: validate → identify → authorize → serve at the durable revision.
    # The quota comes first because etcd's quota servers wrap the handlers that validate; the
    # alarm gate comes before authorization because etcd's capped/corrupt appliers wrap its auth
    # applier.

    def identify(self, caller: Caller) -> AuthInfo | None:
        """Who ``caller`` is (etcd's AuthInfoFromCtx): the user of its token (one that is not, or
        no longer, valid is refused), else, with auth enabled and --client-cert-auth, the CN of its
        verified client certificate, else nobody."""
        if caller.internal:
            return None
        token = caller.token
        if token is not None:
            # also with auth disabled, as 3.5.1 and 3.4.23 do (3.5.10+ ignore tokens then); simple
            # tokens are all void once auth is disabled
            info = self.tokens.info(token, self.auth.revision)
            if info is None:
                raise errors.AUTH_INVALID_TOKEN
            return info
        if self.auth.enabled and self.config.client_cert_auth:
            name = caller.common_name
            if name:
                return AuthInfo(name, self.auth.revision)
        return None

    def _authorize(self, caller: Caller, info: AuthInfo | None, request: object) -> None:
        if self.auth.enabled and not caller.internal:
            authorize(self.auth, info, request, self._lease_keys)

    def _lease_keys(self, lease_id: int) -> list[bytes]:
        lease = self.lessor.get(lease_id)
        return sorted(lease.keys) if lease is not None else []

    async def _write(self, caller: Caller, request: object, validate: Callable[[], None],
                     request_size: int, puts: bool, apply: Callable[[], T], quota: int = 0,
                     can_wait: Callable[[T], bool] | None = None) -> T:
        """Run one KV write through the stages; ``quota`` is the space it may add (0: none).
        ``can_wait(result)``: whether the caller will wait for something else after this write
        anyway (a lock waiter), so that the write may share a later sync (group commit's lazy
        writes)."""
        if quota:
            self._check_quota(quota)
        validate()
        info = self.identify(caller)
        self.store.check_request_size(request_size)
        self._check_writable(puts)
        self._authorize(caller, info, request)
        if can_wait is None:
            result = apply()
            urge = True
        else:
            self._commit_lazily = True
            revision = self.store.current_revision
            try:
                result = apply()
            finally:
                self._commit_lazily = False
            # a write that changed nothing waits for earlier writes, and does not hold them back
            urge = self.store.current_revision == revision or not can_wait(result)
        self._applied()
        await self._durable(urge=urge)
        return result

    # -- KV ---------------------------------------------------------------------------------

    def range(self, caller: Caller, req: RangeRequest) -> RangeResult:
        validation.check_range(req)
        self._authorize(caller, self.identify(caller), req)
        return self.store.range(req, self.durable_revision)

    async def put(self, caller: Caller, req: PutRequest, request_size: int | None = None) -> PutResult:
        if request_size is None:
            request_size = wire_size.put_size(req)
        return await self._write(
            caller, req, lambda: validation.check_put(req), request_size, True,
            lambda: self.store.put(req, request_size, checked=True), KV_OVERHEAD + request_size)

    async def delete_range(self, caller: Caller, req: DeleteRangeRequest,
                           request_size: int | None = None) -> DeleteRangeResult:
        if request_size is None:
            request_size = wire_size.delete_size(req)
        return await self._write(
            caller, req, lambda: validation.check_delete(req), request_size, False,
            lambda: self.store.delete_range(req, request_size, checked=True))

    async def txn(self, caller: Caller, req: TxnRequest, request_size: int | None = None,
                  can_wait: Callable[[TxnResult], bool] | None = None) -> TxnResult:
        """``request_size``: the encoded size, known for requests from the wire; measured here for
        requests the server builds itself (locks, elections), which etcd size-checks as well.
        ``can_wait``: see ``_write``."""
        if validation.is_read_only(req):
            validation.check_txn(req, self.store.max_txn_ops)
            self._authorize(caller, self.identify(caller), req)
            return self.store.txn(req, 0, self.durable_revision, checked=True)
        if request_size is None:
            request_size = wire_size.txn_size(req)
        # the cost is only worked out near the quota: far from it no txn of this size reaches it
        cost = _txn_cost(req) if self._reaches_quota(request_size * _TXN_COST_PER_BYTE) else 0
        return await self._write(
            caller, req, lambda: validation.check_txn(req, self.store.max_txn_ops), request_size,
            _has_direct_put(req), lambda: self.store.txn(req, request_size, checked=True),
            cost, can_wait)

    async def compact(self, caller: Caller, revision: int) -> int:
        self.identify(caller)  # etcd checks the token; compaction needs no permission
        self._check_writable(puts=False)
        # Compaction never runs ahead of the disk: readers stay at or above the compact revision.
        # Writes applied while we waited are not durable yet, so "current" is the durable revision.
        await self.committer.wait()
        started = time.perf_counter()
        current = self.store.compact(revision, self.durable_revision)
        stats = self.stats
        stats.index_compaction_ms.observe(_whole_ms(time.perf_counter() - started))
        self._applied()
        await self._durable()
        stats.db_compaction_ms.observe(_whole_ms(time.perf_counter() - started))
        stats.last_compaction = time.time()
        return current

    # -- Watch ------------------------------------------------------------------------------

    def open_watch(self, caller: Caller) -> WatchSession:
        """A watch stream whose creates are authorized with ``caller``'s credentials."""
        return WatchSession(self.watch_hub,
                            lambda key, range_end: self._check_watch(caller, key, range_end))

    def _check_watch(self, caller: Caller, key: bytes, range_end: bytes) -> None:
        """etcd's isWatchPermitted, on the range as its watch server normalised it: an empty key
        is "\\0", and a from-key range_end "\\0" becomes empty, so it is checked as one key."""
        if self.auth.enabled and not caller.internal:
            info = self.identify(caller)
            self.auth.check_read(info, key or b"\0", b"" if range_end == b"\0" else range_end)

    def watch_internal(self, key: bytes, range_end: bytes,
                       callback: Callable[[int, list[Change]], None]) -> Callable[[], None]:
        """An in-process watch for the recipes (no permission check: they have read the range
        with the caller's credentials first); returns the function that ends it, bound to the
        state it was made on, so a reset in between cannot misdirect it."""
        hub = self.watch_hub
        watch = hub.watch_internal(key, range_end, callback)
        return lambda: hub.cancel_internal(watch)

    # -- Lease ------------------------------------------------------------------------------

    async def lease_grant(self, caller: Caller, lease_id: int, ttl: int) -> Lease:
        self._check_quota(LEASE_OVERHEAD)
        self.identify(caller)
        self._check_writable(puts=True)
        lease = self.lessor.grant(lease_id, ttl)
        self._applied()
        self.committer.submit(Batch(self.store.current_revision, leases={lease.id: lease.ttl},
                                    meta={"raft_index": self.raft_index}))
        if self._expiry_wakeup is not None:
            self._expiry_wakeup.set()
        await self._durable()
        return lease

    async def lease_revoke(self, caller: Caller, lease_id: int) -> int:
        """Revoke a lease, deleting its keys in one revision; return the revision after it."""
        info = self.identify(caller)
        self._check_writable(puts=False)
        if self.auth.enabled and not caller.internal:
            authorize_lease_keys(self.auth, info, lease_id, self._lease_keys)
        lease = self.lessor.get(lease_id)
        if lease is None:
            raise errors.LEASE_NOT_FOUND
        self._revoke(lease)
        await self._durable()
        return self.store.current_revision

    def _revoke(self, lease: Lease) -> None:
        self.store.delete_keys(sorted(lease.keys))
        self.lessor.remove(lease.id)
        self._revoking[lease.id] = (self.store.current_revision, lease)
        self._applied()
        self.committer.submit(Batch(self.store.current_revision, leases={lease.id: None},
                                    meta={"raft_index": self.raft_index}))

    async def lease_keep_alive(self, caller: Caller, lease_id: int) -> int:
        """Renew; the granted TTL, or 0 for an unknown lease. An expired lease is revoked first.
        etcd renews without looking at credentials.

        Like etcd's LeaseRenew (which first waits until what is committed is applied), it answers
        from durable state only: a revoke still on its way to the disk is not reported yet."""
        await self.committer.wait()
        lease = self.lessor.get(lease_id)
        if lease is not None and lease.deadline <= self.clock.now():
            self._revoke(lease)
            await self._durable()
            return 0
        return self.lessor.renew(lease_id)

    async def lease_time_to_live(self, caller: Caller, lease_id: int,
                                 keys: bool) -> tuple[int, int, list[bytes]] | None:
        """(remaining, granted TTL, attached keys), or None for an unknown lease. With auth on, a
        caller asking for the keys must be a user with read permission on every one of them (the
        check etcd 3.5.9 and 3.4.26 added; 3.5.1 and 3.4.23 list them to anyone)."""
        if keys and self.auth.enabled and not caller.internal:
            info = self.identify(caller)
            if info is None:
                raise errors.AUTH_USER_EMPTY
            for key in self._lease_keys(lease_id):
                self.auth.check_read(info, key)
        await self.committer.wait()  # from durable state, as LeaseRenew
        revoking = self._revoking.get(lease_id)
        if revoking is not None and revoking[0] > self.durable_revision:
            lease = revoking[1]
            return 0, lease.ttl, sorted(lease.keys)
        return self.lessor.time_to_live(lease_id)

    def lease_ids(self) -> list[int]:
        """Every lease readers can see (a revoked one until its deletes are durable)."""
        ids = [lease.id for lease in self.lessor.leases_by_expiry()]
        return ids + [i for i, (r, _) in self._revoking.items() if r > self.durable_revision]

    async def expire_leases(self) -> int:
        """Revoke leases whose deadline passed (at most one scan's worth); return how many."""
        expired = self.lessor.expired(EXPIRY_BATCH)
        revoked = 0
        for lease in expired:
            if self.lessor.get(lease.id) is lease:
                self._revoke(lease)
                revoked += 1
        if expired:
            await self._durable(revoked)
            self.stats.expired_leases += revoked
        return len(expired)

    async def _expiry_loop(self) -> None:
        wakeup = self._expiry_wakeup
        while True:
            deadline = self.lessor.next_deadline()
            timeout = EXPIRY_INTERVAL
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - self.clock.now()))
            try:
                await asyncio.wait_for(wakeup.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            wakeup.clear()
            try:
                while await self.expire_leases() == EXPIRY_BATCH:
                    await asyncio.sleep(0)
            except errors.EtcdError:
                await asyncio.sleep(EXPIRY_INTERVAL)  # writes refused (alarm): retry later

    # -- Auth -------------------------------------------------------------------------------

    def check_admin(self, caller: Caller) -> None:
        """The admin-only calls outside the Auth service (Maintenance Hash, HashKV, Defragment,
        Snapshot; member changes): the caller must have the root role while auth is enabled."""
        info = self.identify(caller)
        if not caller.internal:
            self.auth.check_admin(info)

    async def auth_request(self, caller: Caller, apply: Callable[[AuthStore, AuthInfo | None], T],
                           admin: Callable[[AuthInfo | None], bool] | bool = True) -> T:
        """One Auth service request: identify → admin check → apply → persist → durable.

        ``admin``: whether the root role is needed; a function of the caller's identity for
        UserGet and RoleGet, which a user may also make about itself and its own roles."""
        info = self.identify(caller)
        needed = admin(info) if callable(admin) else admin
        if needed and not caller.internal:
            self.auth.check_admin(info)
        auth = self.auth
        before = (auth.revision, auth.enabled)
        result = apply(auth, info)
        self._applied()
        if (auth.revision, auth.enabled) != before:
            if not auth.enabled:
                self.tokens.disable()
            self._persist_auth()
        await self._durable()
        return result

    def _persist_auth(self) -> None:
        self.committer.submit(Batch(self.store.current_revision,
                                    auth=json.dumps(self.auth.state()).encode(),
                                    meta={"raft_index": self.raft_index}))

    def invalidate_tokens(self, username: str) -> None:
        self.tokens.invalidate_user(username)

    async def hash_password(self, password: str) -> bytes:
        """bcrypt at --bcrypt-cost, in a worker thread: it takes tens of milliseconds by design."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, passwords.hash_password, password,
                                          self.config.bcrypt_cost)

    async def authenticate(self, name: str, password: str) -> str:
        """Check a password (off the event loop) and hand out a token (etcd's Authenticate)."""
        hashed, _ = self.auth.password_hash(name)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, passwords.check_password, password, hashed):
            raise errors.AUTH_FAILED
        self.auth.check_authenticate(name)  # the user may have gone while the hash was checked
        self._applied()
        token = self.tokens.assign(name, self.auth.revision, self.raft_index)
        await self._durable()
        return token

    # -- Maintenance ------------------------------------------------------------------------

    def db_size(self) -> tuple[int, int]:
        return self.backend.size()

    def hash(self) -> int:
        started = time.perf_counter()
        crc = self.store.hash()
        self.stats.hash_seconds.observe(time.perf_counter() - started)
        return crc

    def hash_kv(self, revision: int) -> tuple[int, int, int]:
        started = time.perf_counter()
        result = self.store.hash_kv(revision, self.durable_revision)
        self.stats.hash_kv_seconds.observe(time.perf_counter() - started)
        return result

    async def backup_state(self, caller: Caller) -> "EtcdState":
        """Everything etcd's Maintenance/Snapshot sends, at the durable revision, as the plain
        description :mod:`etcdlite.bbolt.etcd_layout` encodes: history since the last compaction,
        leases, this member, alarms, users and roles. The caller needs the root role."""
        from .bbolt.etcd_layout import EtcdState, Lease as SnapshotLease, Member as SnapshotMember

        self.check_admin(caller)
        await self.committer.wait()
        durable = self.durable_revision
        changes = self.store.history()  # in revision order: cut, do not filter (1M changes: ~80 ms)
        del changes[bisect.bisect_right(changes, durable, key=lambda change: change.main):]
        member = self.member
        return EtcdState(
            changes=changes, compact_revision=self.store.compact_revision,
            consistent_index=self.raft_index, term=self.raft_term,
            conf_state_voters=[self.member_id],
            # etcd stores a lease's remaining time only with lease checkpointing (off by default):
            # a restored lease starts its full TTL again
            leases=[SnapshotLease(lease.id, lease.ttl) for lease in
                    sorted(self.lessor.leases_by_expiry(), key=lambda lease: lease.id)],
            members=[SnapshotMember(member.id, member.name, list(member.peer_urls),
                                    list(member.client_urls), member.is_learner)],
            alarms=sorted(self.alarms), auth=self.auth.state())

    async def defragment(self) -> None:
        stats = self.stats
        stats.defragmenting = True
        started = time.perf_counter()
        try:
            await self.committer.run_exclusive(self.backend.defragment)
        finally:
            stats.defragmenting = False
        stats.defrag_seconds.observe(time.perf_counter() - started)

    async def alarm(self, action: int, member: int, alarm: int) -> list[tuple[int, int]]:
        if action == ALARM_GET:
            return sorted(a for a in self.alarms if alarm == ALARM_NONE or a[1] == alarm)
        entry = (member, alarm)
        if action == ALARM_ACTIVATE:
            if alarm == ALARM_NONE:
                return []
            if self._set_alarm(entry, True):
                await self._durable()
            return [entry]  # etcd answers with the alarm, also when it was already active
        if action == ALARM_DEACTIVATE:
            if not self._set_alarm(entry, False):
                return []
            await self._durable()
            return [entry]
        return []

    async def close(self) -> None:
        self._stop_compactor()
        if self._progress_task is not None:
            self._progress_task.cancel()
            self._progress_task = None
        if self._expiry_task is not None:
            self.clock.unsubscribe(self._wake_from_clock)
            self._expiry_task.cancel()
            try:
                await self._expiry_task
            except asyncio.CancelledError:
                pass
            self._expiry_task = None
        await self.committer.close()
        self.backend.close()

    # -- test support: manual time, reset, snapshot and restore ---------------------------------

    async def expire_due_leases(self) -> int:
        """Revoke every lease whose deadline has passed (all scans' worth); return how many."""
        total = 0
        while True:
            count = await self.expire_leases()
            total += count
            if count < EXPIRY_BATCH:
                return total

    async def advance_clock(self, seconds: float) -> int:
        """Move a manual clock forward by ``seconds``; return once every lease that expired by then
        is revoked (its keys deleted, so lock waiters and campaigners behind it are woken), with how
        many were revoked. The real clock cannot be moved: TypeError."""
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError("this server runs on the real clock; only a manual clock can be advanced")
        advance(seconds)
        return await self.expire_due_leases()

    async def reset(self) -> None:
        """Empty the keyspace as if the server had just started on an empty data dir: no keys, no
        history (revision 1, compact revision -1), no leases, no watchers, no alarms, no users or
        roles (auth disabled, tokens void), raft term 2, raft index 1. Identity, configuration and
        clock stay.

        Only state is replaced here. Calls still in progress on the old state (watch streams, lock
        and campaign waiters) belong to the gRPC layer, which ends them first; in-process waiters on
        the old state are never woken.
        """
        from .snapshot import Snapshot

        await self._replace_state(Snapshot(1, -1))

    async def snapshot(self):
        """The whole keyspace as a :class:`etcdlite.snapshot.Snapshot`: the history since compaction,
        the revision and compact revision, and every lease with its TTL and the time it has left."""
        from .snapshot import LeaseState, Snapshot

        await self.committer.wait()
        now = self.clock.now()
        return Snapshot(self.store.current_revision, self.store.compact_revision, self.store.history(),
                        sorted((LeaseState(lease.id, lease.ttl, max(0.0, lease.deadline - now))
                                for lease in self.lessor.leases_by_expiry()), key=lambda lease: lease.id))

    async def restore(self, snapshot) -> None:
        """Replace the whole state with ``snapshot`` (as :meth:`reset` does, then load it): keys,
        history, revisions, leases and (from etcd's snapshots) users and roles as saved; each
        lease's countdown restarts from the time it had left. Attached keys follow from the keys'
        lease fields."""
        snapshot.validate()
        await self._replace_state(snapshot)

    async def _replace_state(self, snapshot) -> None:
        await self.committer.wait()
        # Persist the wipe first. It must reach the backend before the new state's changes do: a
        # batch writes its changes before its deletions, and the new history reuses the old one's
        # revisions (storage keys).
        old = self.store
        self.committer.submit(Batch(
            old.current_revision, compacted=old.history(), compact_revision=-1,
            leases={lease.id: None for lease in self.lessor.leases_by_expiry()},
            meta={"boots": 1, "raft_index": 1, **{_alarm_name(m, a): 0 for m, a in self.alarms}}))

        lessor = Lessor(self.clock, self.member_id, self.lessor.counts)
        store = MVCCStore(max_txn_ops=old.max_txn_ops, max_request_bytes=old.max_request_bytes,
                          lease_exists=lessor.__contains__, counts=old.counts)
        store.restore(snapshot.changes, snapshot.compact_revision)
        store.current_revision = max(store.current_revision, snapshot.revision)
        for saved in snapshot.leases:
            lessor.restore_lease(saved.id, saved.ttl, saved.remaining)
        lessor.on_commit(Commit(store.current_revision, [
            change for change in store.latest_changes() if change.lease]))
        hub = WatchHub(store, lambda: self.durable_revision, self.clock, self.watch_hub.progress_interval,
                       self.watch_hub.counts)
        store.add_listener(lessor.on_commit)
        store.add_listener(hub.on_commit)
        store.add_listener(self._on_commit)
        self.store, self.lessor, self.watch_hub = store, lessor, hub
        self._revoking = {}
        self.auth = AuthStore.from_state(snapshot.auth) if snapshot.auth else AuthStore()
        self.tokens.disable()
        self.durable_revision = store.current_revision
        self.raft_term, self.raft_index = 2, 1
        self.alarms = set()
        if self._progress_task is not None:
            self._progress_task.cancel()
            self._progress_task = asyncio.get_running_loop().create_task(hub.run_progress_ticker())
        if self._expiry_wakeup is not None:
            self._expiry_wakeup.set()
        if self._compactor_task is not None:  # its samples belong to the old history
            self._stop_compactor()
            self._start_compactor()
        for callback in list(self.state_replaced):
            callback()
        await self.committer.wait()
        # Then the new state in full, including anything written since the swap (a write merged
        # into the wipe's batch may have been deleted with it; writing it again is harmless).
        self.committer.submit(Batch(
            self.store.current_revision, changes=self.store.history(),
            compact_revision=self.store.compact_revision,
            leases={lease.id: lease.ttl for lease in self.lessor.leases_by_expiry()},
            auth=json.dumps(self.auth.state()).encode(), meta={"raft_index": self.raft_index}))
        await self.committer.wait()


def _whole_ms(seconds: float) -> int:
    return int(seconds * 1000)


#: ``_txn_cost`` per byte of the encoded txn, at most: a direct put is KV_OVERHEAD plus its own size,
#: and takes at least 4 bytes more than its size in the txn (two tags, two lengths)
_TXN_COST_PER_BYTE = 1 + KV_OVERHEAD // 4


def _txn_cost(req: TxnRequest) -> int:
    """etcd's quota cost of a txn: the heavier branch's direct puts."""
    def branch(ops) -> int:
        return sum(KV_OVERHEAD + wire_size.put_size(op) for op in ops if isinstance(op, PutRequest))
    return max(branch(req.success), branch(req.failure))


def _has_direct_put(req: TxnRequest) -> bool:
    return any(isinstance(op, PutRequest) for op in req.success) or \
        any(isinstance(op, PutRequest) for op in req.failure)


def _alarm_name(member: int, alarm: int) -> str:
    return f"alarm:{member}:{alarm}"


def _parse_alarm(name: str) -> tuple[int, int]:
    _, member, alarm = name.split(":")
    return int(member), int(alarm)
