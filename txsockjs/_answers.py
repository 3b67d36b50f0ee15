# -*- test-case-name: tests.test_site -*-
"""
The answers a L{txsockjs.SockJSSite}'s connections get without a request
being served: 413 (body too large), 408 (header deadline), 503 (every
connection busy), each followed by the end of the connection.
"""

from __future__ import annotations

from typing import Callable, Optional

from twisted.internet.interfaces import IDelayedCall, IReactorTime, ISSLTransport, ITransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

__all__ = [
    "Refused",
    "close_after",
    "abort",
    "TOO_LARGE",
    "TIMEOUT",
    "LINGER",
    "ABORT_AFTER",
    "MAX_REFUSING",
]

#: seconds a refused body (413) or connection (503) is read and thrown away
#: after the answer, so that the client reads the answer rather than a reset
LINGER = 2.0

#: seconds a connection closed for its header deadline has to go
ABORT_AFTER = 5.0

#: connections being refused with 503 at once, past which they are closed
#: without an answer (each holds a file descriptor while it lingers)
MAX_REFUSING = 32


def _answer(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"Content-Type: text/plain; charset=UTF-8\r\n"
        b"Content-Length: %d\r\n"
        b"Connection: close\r\n"
        b"Retry-After: 5\r\n\r\n" % len(body)
    ) + body


TOO_LARGE = _answer(b"413 Content Too Large", b"Request body too large.\n")
TIMEOUT = _answer(b"408 Request Timeout", b"Request headers took too long.\n")
BUSY = _answer(b"503 Service Unavailable", b"Too many connections.\n")


def close_after(
    transport: ITransport, answer: bytes, clock: IReactorTime, linger: float
) -> IDelayedCall:
    """
    Write C{answer}, end our side of the connection and drop it after
    C{linger} seconds at the latest; returns that call.
    """
    transport.write(answer)
    half_close = getattr(transport, "loseWriteConnection", None)
    if half_close is not None and not ISSLTransport.providedBy(transport):
        # The client reads the answer to the end, then closes; closing at
        # once while its request is still coming would reset the
        # connection and lose the answer.
        half_close()
    else:
        transport.loseConnection()
    return clock.callLater(linger, abort, transport)


def abort(transport: ITransport) -> None:
    """
    Drop C{transport} now, whatever is left to send.
    """
    abort_now = getattr(transport, "abortConnection", None)
    if abort_now is not None:
        abort_now()
    else:
        transport.loseConnection()


class Refused(Protocol):
    """
    A connection past the cap while every other is busy: a short 503, then
    closed.
    """

    def __init__(self, clock: IReactorTime, gone: Callable[[], None]) -> None:
        self._clock = clock
        self._gone = gone
        self._call: Optional[IDelayedCall] = None

    def connectionMade(self) -> None:
        assert self.transport is not None
        self._call = close_after(self.transport, BUSY, self._clock, LINGER)

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self._gone()
