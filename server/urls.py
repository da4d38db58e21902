"""etcd's URL rules (``types.NewURLs``): scheme http/https/unix/unixs, a host:port, no path."""

from __future__ import annotations

from urllib.parse import urlsplit

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
        raise URLError(f"URL scheme must be http, https, unix, or unixs: {url}")
    if port is None or parts.hostname is None:
        raise URLError(f'URL address does not have the form "host:port": {url}')
    if parts.path:
        raise URLError(f"URL must not contain a path: {url}")
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
