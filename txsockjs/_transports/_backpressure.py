"""
Flow control of one websocket connection (RFC 6455 or hixie-76): its TCP
write buffer steers its session's producer, and a connection that stays
full for the write timeout is aborted.
"""

from __future__ import annotations

from typing import Optional, Protocol

from twisted.internet.interfaces import IPushProducer, IReactorTime, ITransport
from zope.interface import implementer

from .._counters import EndpointCounters
from ..session import Session
from .stall import StallTimer, abort

__all__ = ["Backpressured", "Backpressure"]


class Backpressured(Protocol):
    """
    A websocket protocol as L{Backpressure} sees it.
    """

    @property
    def session(self) -> Optional[Session]: ...

    @property
    def transport(self) -> Optional[ITransport]: ...


@implementer(IPushProducer)
class Backpressure:
    """
    Registered with a websocket's TCP connection: when its write buffer is
    full the session's producer is paused, and a connection that stays full
    for the write timeout is aborted (its session ends, its buffer is
    freed).

    @ivar timer: the write timeout; also started by a close that may wait
        for a buffer to drain.
    """

    __slots__ = ("_protocol", "_counters", "timer")

    def __init__(
        self,
        protocol: Backpressured,
        timeout: Optional[float],
        clock: IReactorTime,
        counters: EndpointCounters,
    ) -> None:
        self._protocol = protocol
        self._counters = counters
        self.timer = StallTimer(timeout, clock, self._expired)

    def pauseProducing(self) -> None:
        session = self._protocol.session
        if session is not None:
            session.throttle()
        self.timer.start()

    def resumeProducing(self) -> None:
        self.timer.stop()
        session = self._protocol.session
        if session is not None:
            session.unthrottle()

    def stopProducing(self) -> None:
        self.timer.stop()

    def _expired(self) -> None:
        self._counters.write_timeouts += 1
        # Autobahn may count the connection as closed already (a close that
        # waits for its buffer to drain): go to the transport itself.
        abort(self._protocol.transport)
