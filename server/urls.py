"""etcd's URL rules (``types.NewURLs``): scheme http/https/unix/unixs, a host:port, no path."""

from __future__ import annotations

from urllib.parse import urlsplit

from . import etcd_messages as msg

_SCHEMES = ("http", "https", "unix", "unixs")


class URLError(ValueError):
    pass


def split_url(url: str) -> tuple[str, str, int]:
    """Return (scheme, host, port) of an etcd URL or raise URLError."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise URLError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in _SCHEMES:
        raise URLError(msg.URL_BAD_SCHEME.format(url=url))
    if port is None or parts.hostname is None:
        raise URLError(msg.URL_NO_PORT.format(url=url))
    if parts.path:
        raise URLError(msg.URL_HAS_PATH.format(url=url))
    return parts.scheme, parts.hostname, port


def valid_urls(urls: list[str]) -> bool:
    if not urls:
        return False
    try:
        for url in urls:
            split_url(url)
    except URLError:
        return False
    return True


def url_list(value: str) -> list[str]:
    """A comma-separated URL flag value as etcd's ``flags.UniqueURLs`` keeps it: each URL checked
    (``types.NewURLs``), duplicates dropped, sorted; ``""`` is the empty list."""
    if value == "":
        return []
    urls = []
    for url in value.split(","):
        url = url.strip()
        scheme, _, _ = split_url(url)
        urls.append(scheme + url[len(scheme):])
    return sorted(set(urls))
