"""Auto-compaction's schedule (etcd's v3compactor rules) on a manual clock, and its options."""

from __future__ import annotations

import asyncio

import pytest

from etcdlite.clock import ManualClock
from etcdlite.compactor import PERIODIC, REVISION, Compactor, Retention, RetentionError, parse_retention
from etcdlite.errors import COMPACTED, CORRUPT


@pytest.mark.parametrize("mode, value, amount", [
    ("periodic", "0", 0), ("periodic", "1", 3600), ("periodic", "+2", 7200),
    ("periodic", "30m", 1800), ("periodic", "1h30m", 5400), ("periodic", "500ms", 0.5),
    ("revision", "1000", 1000), ("revision", "1h", 3600 * 10**9),  # etcd counts nanoseconds
    ("", "5", 0),  # no mode: etcd leaves the retention at zero
])
def test_retention_reads_as_etcd_reads_it(mode, value, amount):
    assert parse_retention(mode, value) == Retention(mode, amount)


@pytest.mark.parametrize("value, error", [
    ("bogus", 'time: invalid duration "bogus"'),
    ("-5", 'time: missing unit in duration "-5"'),
    ("5x", 'time: unknown unit "x" in duration "5x"'),
])
def test_a_bad_retention_gets_etcds_error(value, error):
    with pytest.raises(RetentionError) as caught:
        parse_retention("periodic", value)
    assert str(caught.value) == f"error parsing CompactionRetention: {error}"


class Harness:
    """A compactor on a manual clock with a revision the test moves and compactions recorded."""

    def __init__(self, retention: Retention) -> None:
        self.clock = ManualClock(0.0)
        self.revision = 1
        self.calls: list[tuple[float, int]] = []
        #: errors the next compactions raise, in order
        self.failures: list[Exception] = []
        self.compactor = Compactor(retention, self.clock, lambda: self.revision, self._compact)

    async def _compact(self, revision: int) -> None:
        self.calls.append((round(self.clock.now(), 6), revision))
        if self.failures:
            raise self.failures.pop(0)

    async def step(self, seconds: float, steps: int, writes_per_step: int = 1) -> None:
        """Each step: the writes, then the clock moves on and the compactor has its turn."""
        for _ in range(steps):
            self.revision += writes_per_step
            self.clock.advance(seconds)
            for _ in range(5):
                await asyncio.sleep(0)


def _run(retention: Retention, scenario) -> Harness:
    async def main() -> Harness:
        harness = Harness(retention)
        task = asyncio.get_running_loop().create_task(harness.compactor.run())
        await asyncio.sleep(0)
        try:
            await scenario(harness)
        finally:
            task.cancel()
        return harness
    return asyncio.run(main())


def test_periodic_compacts_first_after_one_period_then_every_period_at_the_revision_of_a_period_ago():
    async def scenario(h: Harness) -> None:
        await h.step(0.1, 35)  # 3.5 s of a 1 s retention, one write per 0.1 s tick

    h = _run(Retention(PERIODIC, 1.0), scenario)
    # sampled every 0.1 s (revision 1 + 10 t), the last 11 kept: at t=1.0 the oldest is t=0's;
    # at t=2.0 it is t=0.9's (etcd's window spans 1.1 s at the moment it compacts)
    assert h.calls == [(1.0, 1), (2.0, 10), (3.0, 20)]


def test_periodic_over_an_hour_compacts_hourly_at_the_revision_of_the_whole_retention_ago():
    async def scenario(h: Harness) -> None:
        await h.step(360.0, 50)  # 5 h of a 2 h retention: ticks every 6 min (1 h / 10)

    h = _run(Retention(PERIODIC, 7200.0), scenario)
    # first after 2 h; then every hour, each at the oldest of the last 21 samples (2 h 6 min ago)
    assert h.calls == [(7200.0, 1), (10800.0, 10), (14400.0, 20), (18000.0, 30)]


def test_revision_mode_compacts_every_five_minutes_keeping_the_retention():
    async def scenario(h: Harness) -> None:
        await h.step(300.0, 4, writes_per_step=40)

    h = _run(Retention(REVISION, 100), scenario)
    # revisions 41, 81, 121, 161 at the ticks: nothing while current - 100 <= 0
    assert h.calls == [(900.0, 21), (1200.0, 61)]


def test_revision_mode_does_not_compact_the_same_revision_twice():
    async def scenario(h: Harness) -> None:
        h.revision = 150
        await h.step(300.0, 3, writes_per_step=0)

    h = _run(Retention(REVISION, 100), scenario)
    assert h.calls == [(300.0, 50)]


def test_a_failed_periodic_compaction_is_retried_at_the_next_tick_and_compacted_counts_as_done():
    async def scenario(h: Harness) -> None:
        h.failures = [CORRUPT(), COMPACTED()]
        await h.step(0.1, 25)

    h = _run(Retention(PERIODIC, 1.0), scenario)
    # 1.0 fails (corrupt); 1.1 answers "compacted", a success; the next one a period later
    assert h.calls == [(1.0, 1), (1.1, 1), (2.1, 11)]
    assert h.compactor.compacted == [1, 11]
