"""
What every HTTP receiving transport shares: one response that carries frames
until it has carried enough, and tells its session when the client leaves.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from ..framing import HEARTBEAT
from ..interfaces import IReceiver

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

    def __init__(self, request: Any, session: Any) -> None:
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
            request.notifyFinish().addErrback(self._lost)

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

    def _lost(self, reason: Any) -> None:
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
    """

    __slots__ = ("limit", "sent")

    prelude = b""

    def __init__(self, request: Any, session: Any, limit: int) -> None:
        HTTPReceiver.__init__(self, request, session)
        self.limit = limit
        self.sent = 0

    def begin(self) -> None:
        self.request.registerProducer(self, True)
        self.request.write(self.first_bytes())

    def first_bytes(self) -> bytes:
        """
        What the response starts with, before any frame.
        """
        return self.prelude

    # IPushProducer: the HTTP connection tells when it is full or drained.

    def pauseProducing(self) -> None:
        self.session.throttle()

    def resumeProducing(self) -> None:
        self.session.unthrottle()

    def stopProducing(self) -> None:
        pass

    def close(self) -> None:
        if not self.done:
            self.request.unregisterProducer()
        HTTPReceiver.close(self)

    def send_frame(self, frame: bytes) -> None:
        if self.done:
            return
        data = self.wrap(frame)
        self.request.write(data)
        self.sent += len(data)
        if self.sent >= self.limit:
            self.close()
