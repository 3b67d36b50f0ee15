"""
What every HTTP receiving transport shares: one response that carries frames
until it has carried enough, and tells its session when the client leaves.
"""

from __future__ import annotations

from typing import Optional

from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel
from twisted.web.iweb import IRequest
from zope.interface import implementer

from .. import _internals
from .._framing import HEARTBEAT
from .._receiver import IReceiver
from .._reactor import default_reactor
from ..session import Session
from .stall import StallTimer, abort

__all__ = ["HTTPReceiver", "PollingReceiver", "StreamingReceiver"]


@implementer(IReceiver)
class HTTPReceiver:
    """
    A receiver writing frames to one HTTP response.

    Subclasses say how a frame is wrapped (L{wrap}) and what goes first
    (L{prelude}).
    """

    __slots__ = ("request", "session", "done")

    content_type = b"application/javascript; charset=UTF-8"

    def __init__(self, request: IRequest, session: Session) -> None:
        self.request = request
        self.session = session
        self.done = False

    def start(self) -> None:
        """
        Send the headers and the prelude, then attach to the session.
        """
        request = self.request
        request.responseHeaders.setRawHeaders(b"content-type", [self.content_type])
        self.begin()
        self.session.attach(self)
        if not self.done:
            # Only a response that stays open can be abandoned by its client.
            # (twisted.web's Request has notifyFinish; IRequest leaves it out.)
            request.notifyFinish().addErrback(self._lost)  # type: ignore[attr-defined]

    def begin(self) -> None:
        """
        Called before the receiver attaches; streaming receivers write their
        prelude here.
        """

    def wrap(self, frame: bytes) -> bytes:
        raise NotImplementedError()

    def send_frame(self, frame: bytes) -> None:
        raise NotImplementedError()

    def close(self) -> None:
        if not self.done:
            self.done = True
            self.session.detach(self)
            self.request.finish()

    def heartbeat(self) -> None:
        self.send_frame(HEARTBEAT)

    def _lost(self, reason: Failure) -> None:
        if not self.done:
            self.done = True
            self.session.receiver_lost(self)


class PollingReceiver(HTTPReceiver):
    """
    Carries one frame, then ends the response.
    """

    __slots__ = ()

    def send_frame(self, frame: bytes) -> None:
        if self.done:
            return
        self.done = True
        self.session.detach(self)
        body = self.wrap(frame)
        request = self.request
        request.responseHeaders.setRawHeaders(b"content-length", [b"%d" % len(body)])
        request.write(body)
        request.finish()


class StreamingReceiver(HTTPReceiver):
    """
    Carries frames until C{limit} bytes of them were written.

    A client that stops reading while frames keep coming fills the
    connection's buffer: after C{write_timeout} seconds of that (C{None}:
    never) the connection is aborted, which frees the buffer and interrupts
    the session.
    """

    __slots__ = ("limit", "sent", "_stall", "_channel")

    prelude = b""

    def __init__(
        self,
        request: IRequest,
        session: Session,
        limit: int,
        write_timeout: Optional[float] = None,
        clock: Optional[IReactorTime] = None,
    ) -> None:
        HTTPReceiver.__init__(self, request, session)
        self.limit = limit
        self.sent = 0
        if clock is None:
            clock = default_reactor()
        self._stall = StallTimer(write_timeout, clock, self._stalled)
        # the request forgets its channel once it is done; the timer must not
        self._channel: Optional[HTTPChannel] = getattr(request, "channel", None)

    def begin(self) -> None:
        # registerProducer/unregisterProducer: twisted.web's Request, not IRequest
        self.request.registerProducer(self, True)  # type: ignore[attr-defined]
        self.request.write(self.first_bytes())

    def first_bytes(self) -> bytes:
        """
        What the response starts with, before any frame.
        """
        return self.prelude

    # IPushProducer: the HTTP connection tells when it is full or drained.

    def pauseProducing(self) -> None:
        self._stall.start()
        self.session.throttle()

    def resumeProducing(self) -> None:
        self._stall.stop()
        self.session.unthrottle()

    def stopProducing(self) -> None:
        self._stall.stop()

    def close(self) -> None:
        if not self.done:
            # A timer that runs (the client is not reading) keeps running:
            # the response's end may never be read either.
            self.request.unregisterProducer()  # type: ignore[attr-defined]
        HTTPReceiver.close(self)

    def _lost(self, reason: Failure) -> None:
        self._stall.stop()
        self._channel = None
        HTTPReceiver._lost(self, reason)

    def _stalled(self) -> None:
        channel, self._channel = self._channel, None
        if channel is None:
            return
        if self.done and not _internals.channel_waiting_for_transport(channel):
            # Ended, and the connection drained since: nothing is stuck.
            return
        self.session.count_write_timeout()
        abort(channel.transport)

    def send_frame(self, frame: bytes) -> None:
        if self.done:
            return
        data = self.wrap(frame)
        self.request.write(data)
        self.sent += len(data)
        if self.sent >= self.limit:
            self.close()
