"""
The websocket transports (RFC 6455), on Autobahn's Twisted websocket
protocol.

C{/<server>/<session>/websocket} carries SockJS frames; C{/websocket} (raw)
carries each message as one websocket text message with no framing. Each
websocket connection is a session of its own. What a protocol needs from
its endpoint comes at construction, in a L{WebSocketSeam}; the upgrade
itself is in L{txsockjs._transports._upgrade}.
"""

from __future__ import annotations

from typing import Any, ClassVar, List, Optional, Tuple, Type, cast

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.util import encode_truncate
from autobahn.websocket.types import ConnectionRequest
from twisted.internet.interfaces import IConsumer, IPushProducer
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from .._internals import FAST_PROTOCOL_OPTIONS, AutobahnServerProtocol
from .._framing import BrokenJSON, parse_websocket_message
from .._rawsession import RawSession
from .._sessionframing import IRawReceiver
from .._receiver import IReceiver
from ..session import RequestInfo, Session, SessionState
from ._backpressure import Backpressure
from ._seam import WebSocketSeam
from .stall import linger

__all__ = [
    "SockJSWebSocketProtocol",
    "RawWebSocketProtocol",
    "make_factory",
]


def make_factory(
    template: Optional[WebSocketServerFactory], max_message_size: Optional[int] = None
) -> WebSocketServerFactory:
    """
    The factory whose protocol options our websocket connections use: the
    user's own (compression, ...) or a default one, limited to
    C{max_message_size} bytes per incoming message and frame.

    Autobahn checks both limits as soon as a frame's header is read (a
    compressed message: while it inflates), so a client announcing a huge
    frame is refused before its payload is buffered. A user's factory that
    already has a smaller limit keeps it.
    """
    if template is not None:
        factory = template
    else:
        factory = WebSocketServerFactory()
        factory.setProtocolOptions(**FAST_PROTOCOL_OPTIONS)
    if max_message_size is not None:
        limits = {}
        for name in ("maxFramePayloadSize", "maxMessagePayloadSize"):
            current = getattr(factory, name, 0) or 0
            limits[name] = max_message_size if current <= 0 else min(current, max_message_size)
        factory.setProtocolOptions(**limits)
    return factory


@implementer(IReceiver)
class SockJSWebSocketProtocol(AutobahnServerProtocol):
    """
    A websocket carrying one SockJS session's frames.

    @ivar session: the connection's session, from its opening handshake
        until the connection is lost.
    """

    #: the kind of session a connection opens, and its transport's name
    session_class: ClassVar[Type[Session]] = Session
    transport_name: ClassVar[str] = "websocket"

    def __init__(self, seam: WebSocketSeam, session_id: str, info: RequestInfo) -> None:
        AutobahnServerProtocol.__init__(self)
        self.factory = seam.factory
        self._seam = seam
        self._counters = seam.counters
        self._session_id = session_id
        self._info = info
        self.session: Optional[Session] = None
        self._awaiting_pong = False
        self._backpressure: Optional[Backpressure] = None
        #: the websocket close (code, reason) a close sends instead of just
        #: hanging up: set when the client is refused for what it sent
        self._refused: Optional[Tuple[int, str]] = None

    def onConnect(self, request: ConnectionRequest) -> None:
        return None

    def onOpen(self) -> None:
        seam = self._seam
        self._backpressure = Backpressure(self, seam.write_timeout, seam.clock, self._counters)
        cast(IConsumer, self.transport).registerProducer(self._backpressure, True)
        self.session = seam.sessions.open(
            self._session_id, self._info, self.transport_name, self.session_class
        )
        self.session.attach(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        session = self.session
        if session is None:
            return
        counters = self._counters
        counters.bytes_in += len(payload)
        try:
            messages = parse_websocket_message(payload)
        except BrokenJSON:
            counters.broken_json += 1
            # SockJS asks for the connection to end at once on broken JSON.
            self.dropConnection(abort=False)
            return
        if messages:
            counters.messages_in += len(messages)
            session.deliver(messages)

    def onPong(self, payload: bytes) -> None:
        self._awaiting_pong = False

    def message_too_big(self) -> None:
        # Autobahn itself would drop the TCP connection (failByDrop): RFC
        # 6455 7.4.1 answers 1009, and sockjs-client reports the code of a
        # SockJS close frame, not the websocket's, so both go out.
        self._counters.message_too_large += 1
        # Reading (and discarding) the rest of a huge frame is work for
        # nothing: the closing handshake timeout ends the connection.
        cast(IPushProducer, self.transport).pauseProducing()
        self._refuse(1009, "Message too big")

    def _refuse(self, code: int, reason: str) -> None:
        """
        End the session for the client's fault: C{c[code,reason]} (SockJS)
        then a websocket close frame with C{code}.
        """
        self._refused = (code, reason)
        session = self.session
        if session is not None and session.state is not SessionState.CLOSED:
            session.close(code, reason)
        else:
            self.close()

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        if self._backpressure is not None:
            self._backpressure.timer.stop()
        session, self.session = self.session, None
        if session is not None:
            session.receiver_lost(self, clean=wasClean)

    def end_connection(self) -> bool:
        # Not aborted: it lingers (see linger) for at most the write
        # timeout, so that a client that stopped reading is aborted even
        # when what was queued for it fit in the kernel's buffers (the
        # session's queue bound keeps it small).
        backpressure = self._backpressure
        if backpressure is None:
            return False
        linger(self.transport, backpressure.timer)
        return True

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._backpressure is not None:
            self._backpressure.timer.stop()
        WebSocketServerProtocol.connectionLost(self, reason)
        # Autobahn's protocol sits in reference cycles: without this, the
        # lost connection and its write buffer (megabytes for a reader that
        # stopped reading) would wait for a garbage collection pass.
        self.transport = None

    # IReceiver

    #: one SockJS frame as one text message, written straight to the
    #: transport where it can be (the method itself: no call in between)
    send_frame = AutobahnServerProtocol.write_text_frame

    def heartbeat(self) -> None:
        """
        A websocket ping each heartbeat; a client that did not answer the
        previous one is gone, and the session closes.
        """
        if self._awaiting_pong:
            session = self.session
            if session is not None:
                session.close(3000, "No response from heartbeat")
            return
        self._awaiting_pong = True
        self.sendPing()

    def close(self) -> None:
        if self._refused is not None:
            self._send_close_frame(*self._refused)
        else:
            # The close frame went out as a SockJS frame; end the connection
            # right after it (sockjs-client takes the code from the frame).
            self.dropConnection(abort=False)
        self._closing()

    def _send_close_frame(self, code: int, reason: str) -> None:
        # sendClose refuses the codes only an endpoint that received bad
        # data may send (1007, 1009, ...); send_close_frame sends any.
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.send_close_frame(code, encode_truncate(reason, 123))
        else:
            self.dropConnection(abort=False)

    def _closing(self) -> None:
        # A close may wait for a buffer the client never drains (a heartbeat
        # close of a reader that stopped reading): it gets the write timeout
        # to finish, then the connection is aborted.
        if self._backpressure is not None and self.state != WebSocketServerProtocol.STATE_OPEN:
            self._backpressure.timer.start()


@implementer(IRawReceiver)
class RawWebSocketProtocol(SockJSWebSocketProtocol):
    """
    A websocket carrying one session's messages bare: text frames as text,
    binary frames as bytes.
    """

    session_class = RawSession
    transport_name = "raw_websocket"
    session: Optional[RawSession]

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        session = self.session
        if session is None:
            return
        counters = self._counters
        counters.messages_in += 1
        counters.bytes_in += len(payload)
        if isBinary:
            session.deliver([payload])
            return
        try:
            message = payload.decode("utf-8")
        except UnicodeDecodeError:
            counters.bad_input += 1
            # RFC 6455 7.4.1: 1007, data inconsistent with the message type
            self._refuse(1007, "Invalid UTF-8")
            return
        session.deliver([message])

    def send_text(self, message: str) -> int:
        """
        Send C{message} as one text message; the bytes it took.
        """
        data = message.encode("utf-8", "surrogatepass")
        # (the frame Autobahn's sendMessage would build, without its
        # per-message bookkeeping; its own when compression or a queue is on)
        self.write_text_frame(data)
        return len(data)

    def send_binary(self, data: bytes) -> None:
        """
        Send C{data} as one binary message.
        """
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendMessage(data, True)  # type: ignore[no-untyped-call]

    def close_with(self, code: int, reason: str) -> None:
        if code not in _SENDABLE_CODES and not 3000 <= code <= 4999:
            code = 1000
        self._send_close_frame(code, reason)
        self._closing()

    def close(self) -> None:
        self.close_with(*(self._refused or (1000, "")))


#: the close codes of RFC 6455 an endpoint may send in a close frame
_SENDABLE_CODES = frozenset(WebSocketServerProtocol.CLOSE_STATUS_CODES_ALLOWED)
