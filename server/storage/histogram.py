"""Plain-number histograms for measurements the core takes (commit and fsync times, lease TTLs, ...).

The core only counts here; :mod:`etcdlite.metrics` turns the counts into Prometheus histograms at
scrape time. The bucket layouts are etcd's (``prometheus.ExponentialBuckets(start, factor, count)``),
one per kind of measurement, so the exposed ``le`` bounds are the ones etcd's dashboards expect.
"""

from __future__ import annotations

from bisect import bisect_left


def exponential_bounds(start: float, factor: float, count: int) -> tuple[float, ...]:
    """Go's ExponentialBuckets: ``start``, then each bound ``factor`` times the previous one."""
    bounds = []
    for _ in range(count):
        bounds.append(start)
        start *= factor
    return tuple(bounds)


#: backend commit and WAL fsync durations, seconds (1 ms .. 8.192 s)
DISK_SECONDS = exponential_bounds(0.001, 2, 14)
#: defragmentation, seconds (100 ms .. 409.6 s)
DEFRAG_SECONDS = exponential_bounds(0.1, 2, 13)
#: Hash and HashKV, seconds (10 ms .. 163.84 s)
HASH_SECONDS = exponential_bounds(0.01, 2, 15)
#: the in-memory index compaction, whole milliseconds (0.5 .. 4096)
INDEX_COMPACTION_MS = exponential_bounds(0.5, 2, 14)
#: a compaction until it is on disk, whole milliseconds (100 .. 819200)
DB_COMPACTION_MS = exponential_bounds(100, 2, 14)
#: granted lease TTLs, seconds (1 s .. about 97 days)
LEASE_TTL_SECONDS = exponential_bounds(1, 2, 24)


class Observations:
    """Counts of observed values per bucket (``counts[i]``: values in (bounds[i-1], bounds[i]];
    the last entry: above every bound) and their sum. Written by one thread, read by any."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
