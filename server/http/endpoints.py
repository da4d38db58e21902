"""etcd's side endpoints on the client URL: ``/version``, ``/health``, ``/metrics``, and etcd 3.6's
``/livez`` and ``/readyz`` (handy for probes; 3.5 has no such paths)."""

from __future__ import annotations

import gzip
import json

from .. import ETCD_VERSION
from .. import etcd_messages as msg
from ..auth.caller import INTERNAL
from ..mvcc.requests import RangeRequest
from ..node import ALARM_CORRUPT, ALARM_NAMES, ALARM_NOSPACE, Node
from .message import HttpRequest, HttpResponse, text

#: the cluster version etcd 3.5 reports (major.minor.0)
CLUSTER_VERSION = ".".join(ETCD_VERSION.split(".")[:2]) + ".0"
_NOSNIFF = ("x-content-type-options", "nosniff")


def method_not_allowed() -> HttpResponse:
    """Go's ``http.Error(w, "Method Not Allowed", 405)`` after ``Allow: GET``."""
    return text(405, msg.HTTP_METHOD_NOT_ALLOWED, headers=[("allow", "GET"), _NOSNIFF])


def not_found() -> HttpResponse:
    return text(404, msg.HTTP_NOT_FOUND, headers=[_NOSNIFF])


def version(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return method_not_allowed()
    body = json.dumps({"etcdserver": ETCD_VERSION, "etcdcluster": CLUSTER_VERSION},
                      separators=(",", ":"))
    return HttpResponse(200, [("content-type", "application/json")], body.encode())


def _read_error(node: Node, serializable: bool) -> str | None:
    """What etcd's health read (a keys-only Range of one key, with root's rights) fails with."""
    try:
        node.range(INTERNAL, RangeRequest(key=b"health", keys_only=True, limit=1,
                                          serializable=serializable))
    except Exception as exc:  # whatever a read fails with makes the server unhealthy
        return getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return None


def health(request: HttpRequest, node: Node) -> HttpResponse:
    """etcd 3.5's ``/health``: alarms (``?exclude=NAME`` skips one), then a read
    (``?serializable=true`` reads locally; a single node always has a leader)."""
    if request.method != "GET":
        return method_not_allowed()
    query = request.query
    excluded = {name for name in query.get("exclude", []) if name}
    serializable = query.get("serializable", [""])[0] == "true"
    healthy, reason = True, ""
    for _, alarm in sorted(node.alarms):
        if ALARM_NAMES.get(alarm, "") in excluded:
            continue
        healthy, reason = False, msg.HEALTH_ALARM.format(name=_KNOWN_ALARMS.get(alarm, "UNKNOWN"))
        break
    if healthy:
        error = _read_error(node, serializable)
        if error is not None:
            healthy, reason = False, msg.HEALTH_RANGE_ERROR.format(error=error)
    body = json.dumps({"health": "true" if healthy else "false", "reason": reason},
                      separators=(",", ":"))
    if healthy:
        return text(200, body)
    return text(503, body + "\n", headers=[_NOSNIFF])  # http.Error adds the newline


#: the alarms /health names; any other type is "ALARM UNKNOWN"
_KNOWN_ALARMS = {a: ALARM_NAMES[a] for a in (ALARM_NOSPACE, ALARM_CORRUPT)}


def _probe_checks(node: Node, kind: str) -> list[tuple[str, object]]:
    """etcd 3.6's checks of ``/livez`` and ``/readyz`` (in etcd's registration order)."""
    serializable = ("serializable_read", lambda: _read_error(node, True))
    if kind == "livez":
        return [serializable]

    def corruption() -> str | None:
        if any(alarm == ALARM_CORRUPT for _, alarm in node.alarms):
            return msg.CHECK_ALARM_ACTIVE.format(alarm=ALARM_NAMES[ALARM_CORRUPT])
        return None

    return [("data_corruption", corruption), serializable,
            ("linearizable_read", lambda: _read_error(node, False)),
            ("non_learner", lambda: None)]  # a single node is never a learner


def probe(request: HttpRequest, node: Node, kind: str, check: str | None) -> HttpResponse:
    """``/livez``, ``/readyz`` and their per-check paths (``/readyz/serializable_read``):
    ``ok`` or 503 with every check's line; ``?verbose`` lists the checks on success too,
    ``?exclude=NAME`` skips one."""
    if request.method != "GET":
        return method_not_allowed()
    checks = _probe_checks(node, kind)
    if check is not None:
        checks = [(name, run) for name, run in checks if name == check]
        if not checks:
            return not_found()
    else:
        excluded = set(request.query.get("exclude", []))
        checks = [(name, run) for name, run in checks if name not in excluded]
    lines, failed = [], False
    for name, run in checks:
        error = run()
        if error is None:
            lines.append(msg.CHECK_OK.format(name=name))
        else:
            failed = True
            lines.append(msg.CHECK_FAILED.format(name=name, error=error))
    if failed:
        return text(503, "".join(lines) + "\n", headers=[_NOSNIFF])
    verbose = "verbose" in request.query
    return text(200, ("".join(lines) if verbose else "") + "ok\n", headers=[_NOSNIFF])


def metrics(request: HttpRequest, node: Node) -> HttpResponse:
    """Prometheus text, for any method, gzip-compressed when the scraper accepts it (as etcd's
    promhttp handler does)."""
    from ..metrics import render_metrics  # prometheus_client is imported on the first scrape

    body, content_type = render_metrics(node)
    headers = [("content-type", content_type)]
    if "gzip" in (request.header("accept-encoding") or ""):
        body = gzip.compress(body, compresslevel=1)
        headers.append(("content-encoding", "gzip"))
    return HttpResponse(200, headers, body)
