"""
The write timeout every receiver shares: a connection whose peer stops
reading is aborted, not kept (with everything buffered for it) for ever.
"""

from __future__ import annotations

from typing import Callable, Optional

from twisted.internet.interfaces import IDelayedCall, IReactorTime, ITransport

from .. import _internals

__all__ = ["StallTimer", "abort", "linger"]


class StallTimer:
    """
    Fires C{expired} once C{timeout} seconds passed since L{start} without a
    L{stop}.

    Started when a connection's write buffer fills (C{pauseProducing}) or
    when it is closed with writes that may still be pending; stopped when it
    drains or is lost. With C{timeout} C{None} it never starts.
    """

    __slots__ = ("_timeout", "_clock", "_expired", "_call")

    def __init__(
        self,
        timeout: Optional[float],
        clock: IReactorTime,
        expired: Callable[[], object],
    ) -> None:
        self._timeout = timeout
        self._clock = clock
        self._expired = expired
        self._call: Optional[IDelayedCall] = None

    @property
    def running(self) -> bool:
        """
        Whether the timer was started and has neither fired nor stopped.
        """
        return self._call is not None

    def start(self) -> None:
        """
        Start counting, unless already counting (the first start counts).
        """
        if self._timeout is not None and self._call is None:
            self._call = self._clock.callLater(self._timeout, self._fire)

    def stop(self) -> None:
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()

    def _fire(self) -> None:
        self._call = None
        self._expired()


def abort(transport: Optional[ITransport]) -> None:
    """
    Drop C{transport} at once, with whatever is buffered for it (the peer
    does not read it); a transport that cannot abort is closed.
    """
    if transport is None:
        return
    method = getattr(transport, "abortConnection", None)
    if method is None:
        transport.loseConnection()
    else:
        method()


def linger(transport: Optional[ITransport], timer: StallTimer) -> None:
    """
    Close C{transport} once what is buffered for it was written, and give
    its peer C{timer}'s timeout to read it and hang up; a peer that does not
    (it stopped reading) is aborted when C{timer} fires.

    The connection's producer is unregistered first: a TCP transport whose
    paused producer is still registered would never finish the close once
    its buffer drains. Where the transport can half-close, only its writing
    side is closed: its buffer draining into the kernel proves nothing (a
    client that reads nothing never sees the end either), the peer hanging
    up does. The caller stops C{timer} when the connection is lost.
    """
    if transport is None:
        return
    if _internals.registered_producer(transport) is not None:
        # a transport with a producer is a consumer (IConsumer) too
        transport.unregisterProducer()  # type: ignore[attr-defined]
    timer.start()
    half_close = getattr(transport, "loseWriteConnection", None)
    # TLS must close with its own alert, which only loseConnection sends
    # (a wrapper's loseWriteConnection would reach the TCP transport under it)
    if half_close is not None and not _internals.is_tls(transport):
        half_close()
    else:
        transport.loseConnection()
