"""
The xhr-streaming and xhr-polling client transports (treq).

Receiving: one POST at a time to C{xhr_streaming} (frames, one per line, until
the server ends the response) or C{xhr} (one frame per response), a new one as
soon as the last ended, as sockjs-client does. Sending: C{xhr_send} with a
JSON array; one send in flight, what is written meanwhile goes in the next
one, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generator, List, Optional

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from zope.interface import implementer

from ._frames import encode_messages
from ._http import HTTP
from ._interfaces import IClientTransport, IFrameSink

if TYPE_CHECKING:
    from treq.response import _Response

__all__ = ["XHRStreamingTransport", "XHRPollingTransport"]

DROPPED = "Connection dropped by remote peer"


class _FrameLines(Protocol):
    """
    A response body split into frames at line ends.
    """

    def __init__(self, owner: "_XHRTransport") -> None:
        self._owner = owner
        self._buffer = b""

    def dataReceived(self, data: bytes) -> None:
        buffer = self._buffer + data
        *lines, self._buffer = buffer.split(b"\n")
        for line in lines:
            if self._owner._stopping:
                return
            self._owner._sink_frame(line.decode("utf-8", "surrogatepass"))

    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        self._owner._body_done(self, reason)


@implementer(IClientTransport)
class _XHRTransport:
    name = ""
    receive_path = ""

    def __init__(self, session_url: str, http: HTTP, clock: IReactorTime) -> None:
        self._url = session_url
        self._http = http
        self._clock = clock
        self._sink: Optional[IFrameSink] = None
        self._stopping = False
        self._closing = False
        self._reported = False
        self._why = (1006, DROPPED)
        self._poll: Optional[Deferred[_Response]] = None
        self._body: Optional[_FrameLines] = None
        self._outbox: List[str] = []
        self._sending: Optional[Deferred[_Response]] = None
        self._send_call: Optional[IDelayedCall] = None

    def start(self, sink: IFrameSink) -> None:
        self._sink = sink
        self._receive()

    # -- receiving -----------------------------------------------------------

    def _receive(self) -> None:
        if self._stopping:
            self._maybe_done()
            return
        d = self._poll = self._http.request("POST", self._url + "/" + self.receive_path)
        d.addCallbacks(self._response, self._request_failed)

    def _response(self, response: _Response) -> None:
        self._poll = None
        if self._stopping:
            response.deliverBody(_Discard())
            self._maybe_done()
            return
        if response.code != 200:
            response.deliverBody(_Discard())
            self._lose(1006, f"{self.receive_path} answered HTTP {response.code}")
            return
        body = self._body = _FrameLines(self)
        response.deliverBody(body)

    def _request_failed(self, failure: Failure) -> None:
        self._poll = None
        if not self._stopping:
            self._lose(1006, f"{DROPPED} ({failure.getErrorMessage()})")
        else:
            self._maybe_done()

    def _sink_frame(self, frame: str) -> None:
        assert self._sink is not None
        self._sink.frame_received(frame)

    def _body_done(self, body: _FrameLines, reason: Optional[Failure]) -> None:
        if self._body is body:
            self._body = None
        if self._stopping:
            self._maybe_done()
        elif reason is not None and reason.check(ResponseDone):
            # the server ended the response: poll again at once
            self._receive()
        else:
            self._lose(1006, DROPPED)

    # -- sending -------------------------------------------------------------

    def send(self, messages: List[str]) -> None:
        if self._stopping or self._closing:
            return
        self._outbox.extend(messages)
        if self._sending is None and self._send_call is None:
            # what the application writes in this reactor turn goes together
            self._send_call = self._clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._send_call = None
        if self._stopping or self._sending is not None or not self._outbox:
            return
        payload = encode_messages(self._outbox)
        self._outbox = []
        d = self._sending = self._http.request(
            "POST",
            self._url + "/xhr_send",
            payload,
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )
        d.addCallback(self._sent_response)
        d.addCallbacks(self._sent, self._send_failed)

    @defer.inlineCallbacks
    def _sent_response(self, response: _Response) -> Generator[Deferred[bytes], object, None]:
        yield response.content()
        if response.code not in (200, 204):
            raise RuntimeError(f"xhr_send answered HTTP {response.code}")

    def _sent(self, _: object) -> None:
        self._sending = None
        if self._stopping:
            self._maybe_done()
        elif self._outbox:
            self._flush()
        elif self._closing:
            self.abort()

    def _send_failed(self, failure: Failure) -> None:
        self._sending = None
        if self._stopping:
            self._maybe_done()
        elif self._closing:
            self.abort()
        else:
            self._lose(1006, f"Sending error: {failure.getErrorMessage()}")

    # -- ending --------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self._stopping:
            return
        self._closing = True
        if self._sending is not None:
            return
        send_call = self._send_call
        if send_call is None:
            self.abort()
        else:
            # a send is scheduled: go now, then stop
            send_call.cancel()
            self._send_call = None
            self._flush()
            if self._sending is None:
                self.abort()

    def abort(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._outbox = []
        if self._send_call is not None:
            self._send_call.cancel()
            self._send_call = None
        for d in (self._poll, self._sending):
            if d is not None:
                d.cancel()
        body = self._body
        if body is not None and body.transport is not None:
            # a response body's transport is a producer (Protocol says ITransport)
            body.transport.stopProducing()  # type: ignore[attr-defined]
        self._maybe_done()

    def _lose(self, code: int, reason: str) -> None:
        self._why = (code, reason)
        self.abort()

    def _maybe_done(self) -> None:
        if self._reported or self._poll is not None or self._body is not None or self._sending is not None:
            return
        self._reported = True
        assert self._sink is not None
        self._sink.transport_lost(*self._why)


class _Discard(Protocol):
    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        pass


class XHRStreamingTransport(_XHRTransport):
    """
    Frames stream in on one response until the server's response limit.
    """

    name = "xhr-streaming"
    receive_path = "xhr_streaming"


class XHRPollingTransport(_XHRTransport):
    """
    One frame per response.
    """

    name = "xhr-polling"
    receive_path = "xhr"
