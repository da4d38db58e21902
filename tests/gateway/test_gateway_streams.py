"""The gateway's streams, dual-target: watch with several requests in one body (staying open),
keepalive (ending with the body), observe, snapshot (last chunk = sha256 of the file), malformed
first messages, and stream errors in etcd's shape."""

from __future__ import annotations

import base64
import hashlib
import json

from gateway_helpers import b64, error_body, normalized, post, request


def _lines(*requests: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in requests)


def test_watch_several_requests_in_one_body(target):
    body = _lines({"create_request": {"key": b64("a")}},
                  {"create_request": {"key": b64("b"), "watch_id": 7}},
                  {"progress_request": {}},
                  {"cancel_request": {"watch_id": 99}},
                  {"cancel_request": {"watch_id": 7}})
    answer = request(target, "/v3/watch", [body], max_lines=4)
    assert answer.status == 200
    assert answer.header("content-type") == "application/json"
    assert answer.header("grpc-metadata-content-type") == "application/grpc"
    assert answer.header("transfer-encoding") == "chunked"
    results = [normalized(line) for line in answer.results()]
    header = {"cluster_id": "<v>", "member_id": "<v>", "revision": "<v>", "raft_term": "<v>"}
    assert results == [
        {"result": {"header": header, "created": True}},
        {"result": {"header": header, "watch_id": "7", "created": True}},
        {"result": {"header": header, "watch_id": "-1"}},  # progress; unknown cancel: nothing
        {"result": {"header": header, "watch_id": "7", "canceled": True}},
    ]


def test_watch_stays_open_after_the_body_and_delivers_events(target):
    """The body ends after the create (and a malformed line, ignored): events still arrive."""
    body = _lines({"create_request": {"key": b64("a"), "prev_kv": True}}) + b"not json"
    post(target, "/v3/kv/put", {"key": b64("a"), "value": b64("0")})
    import threading
    result = {}

    def watch():
        result["answer"] = request(target, "/v3/watch", [body], max_lines=3)

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        # the watch may not exist yet: keep writing (bounded) until it has seen two events
        for value in range(1, 100):
            post(target, "/v3/kv/put", {"key": b64("a"), "value": b64(str(value))})
            thread.join(0.1)
            if not thread.is_alive():
                break
    finally:
        thread.join(30)
    answer = result["answer"]
    assert answer.status == 200
    lines = answer.results()
    assert lines[0]["result"]["created"] is True
    events = [event for line in lines[1:] for event in line["result"]["events"]]
    assert len(events) >= 2, lines
    assert "type" not in events[0]  # PUT is the zero value
    for event in events:
        value = int(base64.b64decode(event["kv"]["value"]))
        assert int(base64.b64decode(event["prev_kv"]["value"])) == value - 1


def test_watch_with_a_malformed_first_message(target):
    answer = request(target, "/v3/watch", b"xx")
    assert answer.status == 500
    assert answer.body == error_body(2, "invalid character 'x' looking for beginning of value",
                                     target.etcd_version)


def test_keepalive_answers_each_request_and_ends_with_the_body(target):
    lease = post(target, "/v3/lease/grant", {"TTL": 60}).json()["ID"]
    body = _lines({"ID": lease}, {"ID": lease}) + b"xx"
    answer = request(target, "/v3/lease/keepalive", [body])
    assert answer.status == 200 and answer.complete
    assert [line["result"]["ID"] for line in answer.results()] == [lease, lease]
    assert all(line["result"]["TTL"] == "60" for line in answer.results())


def test_keepalive_of_unknown_leases_and_empty_body(target):
    answer = request(target, "/v3/lease/keepalive", _lines({"ID": 1}, {"ID": "2"}))
    assert [normalized(line, {"cluster_id", "member_id", "revision", "raft_term"})
            for line in answer.results()] == [
        {"result": {"header": {"cluster_id": "<v>", "member_id": "<v>", "revision": "<v>",
                               "raft_term": "<v>"}, "ID": "1"}},
        {"result": {"header": {"cluster_id": "<v>", "member_id": "<v>", "revision": "<v>",
                               "raft_term": "<v>"}, "ID": "2"}}]
    empty = request(target, "/v3/lease/keepalive", b"")
    assert (empty.status, empty.body, empty.complete) == (200, b"", True)
    assert empty.header("grpc-metadata-content-type") is None
    bad = request(target, "/v3/lease/keepalive", b"xx")
    assert (bad.status, bad.body) == \
        (500, error_body(2, "invalid character 'x' looking for beginning of value",
                         target.etcd_version))


def test_observe_streams_the_leader(target):
    lease = post(target, "/v3/lease/grant", {"TTL": 60}).json()["ID"]
    campaign = post(target, "/v3/election/campaign",
                    {"name": b64("e"), "lease": lease, "value": b64("v1")})
    assert campaign.status == 200
    leader = campaign.json()["leader"]
    answer = request(target, "/v3/election/observe", b'{"name":"' + b64("e").encode() + b'"}',
                     max_lines=1)
    assert answer.status == 200
    assert answer.header("grpc-metadata-content-type") == "application/grpc"
    first = answer.results()[0]["result"]
    assert first["kv"]["key"] == leader["key"]
    assert first["kv"]["value"] == b64("v1")
    assert first["kv"]["lease"] == lease
    bad = request(target, "/v3/election/observe", b"xx")
    assert (bad.status, bad.body) == \
        (400, error_body(3, "invalid character 'x' looking for beginning of value",
                         target.etcd_version))


def test_snapshot_ends_with_the_sha256_of_the_file(target):
    post(target, "/v3/kv/put", {"key": b64("a"), "value": b64("1")})
    answer = request(target, "/v3/maintenance/snapshot", b"", timeout=60)
    assert answer.status == 200 and answer.complete
    chunks = [line["result"] for line in answer.results()]
    assert all("header" not in chunk for chunk in chunks)
    data = b"".join(base64.b64decode(chunk["blob"]) for chunk in chunks[:-1])
    assert base64.b64decode(chunks[-1]["blob"]) == hashlib.sha256(data).digest()
    assert "remaining_bytes" not in chunks[-1]
    bad = request(target, "/v3/maintenance/snapshot", b"xx")
    assert bad.status == 400


def test_watch_answer_waits_for_the_request_body(target):
    """etcd (Go's HTTP/1 server) sends no answer while the request body is still open: before
    the first write it reads up to 256 KiB of the rest of the body; etcdlite waits the same way."""
    try:
        answer = request(target, "/v3/watch", [_lines({"create_request": {"key": b64("a")}})],
                         keep_open=True, max_lines=1, timeout=3)
    except AssertionError as exc:
        assert str(exc) == "no answer"
        return
    raise AssertionError(f"answered while the body was open: {answer}")
