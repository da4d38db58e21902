"""etcdlite.admin.v1.Admin: time control for servers started with ``--enable-time-control``.

Not part of etcd's API. Without the flag the service is still registered, so a client gets a clear
FAILED_PRECONDITION instead of a puzzling UNIMPLEMENTED.
"""

from __future__ import annotations

import math

from ..errors import EtcdError
from ..node import Node
from ..auth.caller import Caller
from ..proto import etcdlite_admin_pb2

TIME_CONTROL_DISABLED = ("etcdlite: time control is disabled; start etcdlite with "
                         "--enable-time-control (in process: EtcdLite(time_control=True)) to use "
                         "etcdlite.admin.v1.Admin")


class AdminService:
    def __init__(self, node: Node, time_control: bool) -> None:
        self.node = node
        self.time_control = time_control

    def _check_enabled(self) -> None:
        if not self.time_control or not hasattr(self.node.clock, "advance"):
            raise EtcdError("FAILED_PRECONDITION", TIME_CONTROL_DISABLED)

    async def AdvanceClock(self, request, caller: Caller):
        self._check_enabled()
        seconds = request.seconds
        if not math.isfinite(seconds) or seconds < 0:
            raise EtcdError("INVALID_ARGUMENT", f"etcdlite: seconds must be finite and >= 0, not {seconds}")
        expired = await self.node.advance_clock(seconds)
        return etcdlite_admin_pb2.AdvanceClockResponse(now=self.node.clock.now(), expired_leases=expired)

    async def Now(self, request, caller: Caller):
        self._check_enabled()
        return etcdlite_admin_pb2.NowResponse(now=self.node.clock.now())
