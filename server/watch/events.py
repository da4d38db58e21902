"""What watchers receive: events and the responses a stream sends, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..mvcc.kv import KeyValue

PUT, DELETE = 0, 1
#: WatchCreateRequest.FilterType
FILTER_NOPUT, FILTER_NODELETE = 0, 1


@dataclass(slots=True)
class Event:
    type: int
    kv: KeyValue
    prev_kv: KeyValue | None = None


@dataclass(slots=True)
class WatchResponse:
    """One message of a Watch stream. ``revision`` goes into the header (0: header without one)."""

    watch_id: int
    revision: int
    events: list[Event] = field(default_factory=list)
    created: bool = False
    canceled: bool = False
    compact_revision: int = 0
    cancel_reason: str = ""
    #: the watcher asked for large event responses to be split (WatchCreateRequest.fragment)
    fragmentable: bool = False
