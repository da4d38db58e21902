"""The single member's identity, derived as etcd derives it.

member ID = first 8 bytes (big-endian) of SHA-1(sorted peer URLs joined + cluster token);
cluster ID = first 8 bytes of SHA-1 over the sorted member IDs as 8-byte big-endian integers.
With etcd's defaults this gives etcd's well-known IDs, so tools print what they would for a default
single-node etcd.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass


def member_id(peer_urls: list[str], cluster_token: str) -> int:
    data = "".join(sorted(peer_urls)).encode() + cluster_token.encode()
    return struct.unpack(">Q", hashlib.sha1(data).digest()[:8])[0]


def cluster_id(member_ids: list[int]) -> int:
    data = b"".join(struct.pack(">Q", m) for m in sorted(member_ids))
    return struct.unpack(">Q", hashlib.sha1(data).digest()[:8])[0]


@dataclass
class Member:
    id: int
    name: str
    peer_urls: list[str]
    client_urls: list[str]
    is_learner: bool = False


DEFAULT_NAME = "default"
DEFAULT_PEER_URL = "http://localhost:2380"
#: etcd's default --initial-cluster: DefaultName=DefaultInitialAdvertisePeerURLs
DEFAULT_INITIAL_CLUSTER = f"{DEFAULT_NAME}={DEFAULT_PEER_URL}"


class BootstrapError(ValueError):
    """The initial cluster does not describe this member as etcd requires (etcd's wording)."""


@dataclass
class Bootstrap:
    """This member as etcd bootstraps it from --name, --initial-advertise-peer-urls,
    --initial-cluster and --initial-cluster-token."""

    name: str
    #: this member's peer URLs from --initial-cluster, sorted (what MemberList shows)
    peer_urls: list[str]
    member_id: int
    cluster_id: int
    #: every member --initial-cluster names: name -> sorted peer URLs
    members: dict[str, list[str]]


def parse_initial_cluster(value: str) -> dict[str, list[str]]:
    """etcd's ``types.NewURLsMap``: ``name=url,name=url,...``; a name may repeat (several URLs)."""
    from . import etcd_messages as msg
    from .urls import URLError, split_url
    raw: dict[str, list[str]] = {}
    for item in value.split(","):
        if not item:
            continue
        name, _, url = item.partition("=")
        raw.setdefault(name, []).append(url)
    members = {}
    for name, urls in raw.items():
        cleaned = []
        for url in urls:
            url = url.strip()
            try:
                scheme, _, _ = split_url(url)
            except URLError as exc:
                raise BootstrapError(msg.INITIAL_CLUSTER_SETUP.format(error=exc)) from None
            cleaned.append(scheme + url[len(scheme):])
        members[name] = sorted(cleaned)
    return members


def _urls_map_string(members: dict[str, list[str]]) -> str:
    return ",".join(sorted(f"{name}={url}" for name, urls in members.items() for url in urls))


def _resolve(url: str) -> str:
    """etcd's netutil.resolveURL: a DNS host name becomes its first address (localhost and IPs
    stay as they are)."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme in ("unix", "unixs") or host == "localhost":
        return url
    try:
        ipaddress.ip_address(host)
        return url
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, parts.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise BootstrapError(f'failed to resolve "{url}" ({exc})') from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    address = infos[0][4][0]
    netloc = f"[{address}]:{parts.port}" if ":" in address else f"{address}:{parts.port}"
    return f"{parts.scheme}://{netloc}"


def _urls_equal(advertised: list[str], cluster: list[str]) -> str | None:
    """etcd's netutil.URLStringsEqual: None if equal (after resolving host names), else the
    reason as etcd words it."""
    from . import etcd_messages as msg
    from .goflags import go_quote_list
    if len(advertised) != len(cluster):
        return msg.URLS_LEN_DIFFER.format(a=go_quote_list(advertised), b=go_quote_list(cluster))
    a, b = sorted(advertised), sorted(cluster)
    if a == b:
        return None
    try:
        resolved_a = sorted(_resolve(u) for u in a)
        resolved_b = sorted(_resolve(u) for u in b)
    except BootstrapError as exc:
        return str(exc)
    for ra, a0, rb, b0 in zip(resolved_a, a, resolved_b, b):
        if ra != rb:
            return msg.URLS_DIFFER.format(a=ra, a0=a0, b=rb, b0=b0)
    return None


def bootstrap(name: str, advertise_peer_urls: list[str], initial_cluster: str,
              cluster_token: str) -> Bootstrap:
    """This member's identity as etcd 3.5 derives it for a new cluster, with etcd's checks
    (``UpdateDefaultClusterFromName``, ``NewURLsMap``, ``VerifyBootstrap``) and its errors."""
    from . import etcd_messages as msg
    advertised = sorted(advertise_peer_urls)
    if name != DEFAULT_NAME and initial_cluster == DEFAULT_INITIAL_CLUSTER:
        # etcd: "--name abc" alone makes the initial cluster abc=<advertised peer URLs>
        initial_cluster = ",".join(f"{name}={url}" for url in advertised)
    members = parse_initial_cluster(initial_cluster)
    if name not in members:
        raise BootstrapError(msg.LOCAL_NAME_NOT_FOUND.format(name=name))
    local = members[name]
    reason = _urls_equal(advertised, local)
    if reason is not None:
        missing = sorted(f"{name}={url}" for url in set(local) - set(advertised))
        if missing:
            raise BootstrapError(msg.CLUSTER_MISSING_FROM_ADVERTISE.format(
                missing=",".join(missing), advertised=",".join(advertised), error=reason))
        extra = sorted(set(advertised) - set(local))
        own = _urls_map_string({name: advertised})
        if extra:
            raise BootstrapError(msg.ADVERTISE_MISSING_FROM_CLUSTER.format(
                missing=",".join(extra), cluster=own))
        raise BootstrapError(msg.ADVERTISE_UNRESOLVED.format(
            advertised=",".join(advertised), cluster=own, error=reason))
    every_url = [url for urls in members.values() for url in urls]
    if len(every_url) != len(set(every_url)):
        raise BootstrapError(msg.DUPLICATE_URL.format(cluster=_urls_map_string(members)))
    ids = {member: member_id(urls, cluster_token) for member, urls in members.items()}
    return Bootstrap(name=name, peer_urls=local, member_id=ids[name],
                     cluster_id=cluster_id(list(ids.values())), members=members)
