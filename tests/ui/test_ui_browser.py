"""The browser view in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright. etcd has no such view, so this tests etcdlite alone. A screenshot of each run is kept
in ``test-artifacts/`` (or ``$ETCDLITE_TEST_ARTIFACTS``)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import grpc
import pytest

from etcdlite import EtcdLite
from ui_helpers import set_up_viewer
from etcdlite.proto import (rpc_pb2, rpc_pb2_grpc, v3election_pb2, v3election_pb2_grpc, v3lock_pb2,
                            v3lock_pb2_grpc)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
ARTIFACTS = Path(os.environ.get("ETCDLITE_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "test-artifacts"))
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15000


@pytest.fixture
def browser_page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def _waiter_order(page) -> list[str]:
    return page.locator('.lock[data-name="jobs"] .waiter').evaluate_all(
        "nodes => nodes.map(n => n.dataset.key)")


def test_the_page_shows_the_lock_holder_its_waiters_in_order_the_leader_and_updates_live(browser_page):
    page = browser_page
    with EtcdLite() as server, grpc.insecure_channel(server.endpoint) as channel:
        kv, lease = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel)
        lock, election = v3lock_pb2_grpc.LockStub(channel), v3election_pb2_grpc.ElectionStub(channel)
        for i in range(3):
            kv.Put(rpc_pb2.PutRequest(key=b"/app/config/%d" % i, value=b'{"replicas": %d}' % i))
        ids = [lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=120)).ID for _ in range(4)]
        held = lock.Lock(v3lock_pb2.LockRequest(name=b"jobs", lease=ids[0]))
        waiting = []
        for lease_id in ids[1:3]:  # two contenders, queued in this order
            thread = threading.Thread(target=lock.Lock, args=(
                v3lock_pb2.LockRequest(name=b"jobs", lease=lease_id),), kwargs={"timeout": 60})
            thread.start()
            waiting.append(thread)
            _wait_for_keys(kv, b"jobs/", len(waiting) + 1)
        campaign = election.Campaign(v3election_pb2.CampaignRequest(
            name=b"scheduler", lease=ids[3], value=b"node-a"))
        election.Proclaim(v3election_pb2.ProclaimRequest(leader=campaign.leader, value=b"node-a:8080"))

        page.goto(server.url + "/ui/")
        holder = page.locator('.lock[data-name="jobs"] .holder')
        holder.wait_for()
        first, second, third = (b"jobs/%x" % i for i in ids[:3])
        assert holder.get_attribute("data-key") == first.decode()
        assert _waiter_order(page) == [second.decode(), third.decode()]
        leader = page.locator('.election[data-name="scheduler"]')
        assert leader.locator(".leader").get_attribute("data-key") == "scheduler/%x" % ids[3]
        assert leader.locator(".value").inner_text() == "node-a:8080"
        assert page.locator(f'.lease[data-id="{ids[0]:x}"]').count() == 1
        page.locator('#keys li.folder', has_text="/app/").click()
        page.locator('#keys li.folder', has_text="config/").click()
        page.locator('#keys li[data-key="/app/config/1"]').click()
        page.locator("#key-detail pre.value").wait_for()
        assert '"replicas": 1' in page.locator("#key-detail pre.value").inner_text()

        lock.Unlock(v3lock_pb2.UnlockRequest(key=held.key))  # the next in line takes it
        page.wait_for_function(
            "key => document.querySelector('.lock[data-name=\"jobs\"] .holder')?.dataset.key === key",
            arg=second.decode())
        assert _waiter_order(page) == [third.decode()]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui-locks-elections.png"), full_page=True)
        for lease_id in ids:
            lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=lease_id))
        for thread in waiting:
            thread.join(30)


def test_with_auth_the_page_asks_for_a_login_and_shows_only_what_the_user_may_read(browser_page):
    page = browser_page
    with EtcdLite(bcrypt_cost=4) as server, grpc.insecure_channel(server.endpoint) as channel:
        set_up_viewer(channel, "viewerpw")

        page.goto(server.url + "/ui/")
        page.locator("#login-name").fill("viewer")
        page.locator("#login-password").fill("viewerpw")
        page.locator("#login button").click()
        page.locator('#keys li.folder', has_text="/public/").wait_for()
        assert page.locator('#keys li.folder', has_text="/secret/").count() == 0
        page.locator('#keys li.folder', has_text="/public/").click()
        page.locator('#keys li[data-key="/public/a"]').wait_for()


def _wait_for_keys(kv, prefix: bytes, count: int) -> None:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if kv.Range(rpc_pb2.RangeRequest(key=prefix, range_end=prefix[:-1] + bytes([prefix[-1] + 1]),
                                         count_only=True)).count >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} keys under {prefix!r} did not appear")
