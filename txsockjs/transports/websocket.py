"""
The websocket transports, on Autobahn's Twisted websocket protocol.

C{/<server>/<session>/websocket} carries SockJS frames; C{/websocket} (raw)
carries each message as one websocket text message with no framing. Each
websocket connection is a session of its own.
"""

from __future__ import annotations

import struct
from typing import Any, List, Optional, Tuple

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.util import encode_truncate
from twisted.internet.interfaces import IPushProducer
from twisted.protocols.policies import ProtocolWrapper
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from ..framing import BrokenJSON, parse_websocket_message
from .._rawsession import RawSession
from ..interfaces import IReceiver
from ..session import RequestInfo, Session, SessionState
from .stall import StallTimer, abort, linger

__all__ = [
    "SockJSWebSocketProtocol",
    "RawWebSocketProtocol",
    "RawSession",
    "make_factory",
    "refuse_or_upgrade",
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
        # SockJS decodes every message as UTF-8 itself (and closes the
        # connection when that fails), so Autobahn's own pass is work done
        # twice. Unmasking is done by _Unmasker (see onFrameBegin), which
        # costs far less per small frame than building Autobahn's native
        # masker.
        factory.setProtocolOptions(utf8validateIncoming=False, applyMask=False)
    if max_message_size is not None:
        limits = {}
        for name in ("maxFramePayloadSize", "maxMessagePayloadSize"):
            current = getattr(factory, name, 0) or 0
            limits[name] = max_message_size if current <= 0 else min(current, max_message_size)
        factory.setProtocolOptions(**limits)
    return factory


class _Unmasker:
    """
    Removes a client frame's mask: the payload XORed with the 4-byte key
    repeated, done as one big-integer XOR (C speed, no per-frame setup).
    """

    __slots__ = ("_key", "_ptr")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: bytes) -> bytes:
        n = len(data)
        if not n:
            return data
        shift = self._ptr & 3
        key = self._key[shift:] + self._key[:shift]
        pad = (key * ((n >> 2) + 1))[:n]
        self._ptr += n
        return (int.from_bytes(data, "little") ^ int.from_bytes(pad, "little")).to_bytes(
            n, "little"
        )


_SMALL_TEXT_HEADERS = [bytes((0x81, n)) for n in range(126)]


def _text_header(length: int) -> bytes:
    """
    The header of an unmasked, final websocket text frame of C{length} bytes.
    """
    if length < 126:
        return _SMALL_TEXT_HEADERS[length]
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


@implementer(IPushProducer)
class _Backpressure:
    """
    Registered with a websocket's TCP connection: when its write buffer is
    full the session's producer is paused, and a connection that stays full
    for the write timeout is aborted (its session ends, its buffer is
    freed).
    """

    __slots__ = ("_protocol", "timer")

    def __init__(self, protocol: Any, timeout: Optional[float], clock: Any) -> None:
        self._protocol = protocol
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
        protocol = self._protocol
        resource = getattr(protocol, "sockjs_resource", None) or getattr(protocol, "_resource", None)
        if resource is not None:
            resource.hub.counters.write_timeouts += 1
        # Autobahn may count the connection as closed already (a close that
        # waits for its buffer to drain): go to the transport itself.
        abort(self._protocol.transport)


@implementer(IReceiver)
class SockJSWebSocketProtocol(WebSocketServerProtocol):
    """
    A websocket carrying one SockJS session's frames.
    """

    sockjs_resource: Any = None
    sockjs_request: Any = None
    sockjs_session_id: str = ""
    session: Optional[Session] = None
    session_class = Session
    _awaiting_pong = False
    _backpressure: Optional[_Backpressure] = None
    #: the websocket close (code, reason) a close sends instead of just
    #: hanging up: set when the client is refused for what it sent
    _refused: Optional[Tuple[int, str]] = None
    transport_name = "websocket"

    def onConnect(self, request: Any) -> None:
        return None

    def onOpen(self) -> None:
        resource = self.sockjs_resource
        self._backpressure = _Backpressure(
            self, resource.options.websocket_write_timeout, resource.clock
        )
        self.transport.registerProducer(self._backpressure, True)
        self.session = resource.new_session(
            self.sockjs_session_id,
            self.sockjs_request,
            self.transport_name,
            session_class=self.session_class,
            register=False,
        )
        if self.session is not None:
            self.session.attach(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        session = self.session
        if session is None:
            return
        counters = self.sockjs_resource.hub.counters
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

    def onFrameBegin(self) -> None:
        frame = self.current_frame
        if frame.mask is not None and not self.applyMask:
            self.current_frame_masker = _Unmasker(frame.mask)
        WebSocketServerProtocol.onFrameBegin(self)

    def onPong(self, payload: bytes) -> None:
        self._awaiting_pong = False

    def onMessageEnd(self) -> None:
        # Autobahn's own onMessageEnd also fires an observable "message"
        # event (a future per message) that nothing here listens to.
        if not self.failedByMe:
            data = self.message_data
            payload = data[0] if len(data) == 1 else b"".join(data)
            self.onMessage(payload, self.message_is_binary)
        self.message_data = None

    def _max_message_size_exceeded(self, size: int, limit: int, reason: str) -> None:
        # Autobahn's hook for maxFramePayloadSize / maxMessagePayloadSize.
        # Autobahn itself would drop the TCP connection (failByDrop): RFC
        # 6455 7.4.1 answers 1009, and sockjs-client reports the code of a
        # SockJS close frame, not the websocket's, so both go out.
        self.failedByMe = True  # the rest of the message is discarded
        if self.sockjs_resource is not None:
            self.sockjs_resource.hub.counters.message_too_large += 1
        self.message_data = None
        # Reading (and discarding) the rest of a huge frame is work for
        # nothing: the closing handshake timeout ends the connection.
        self.transport.pauseProducing()
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

    def _closeConnection(self, abort: bool = False) -> None:
        # Autobahn's way to end the TCP connection. Not aborted: it lingers
        # (see linger) for at most the write timeout, so that a client that
        # stopped reading is aborted even when what was queued for it fit in
        # the kernel's buffers (the session's queue bound keeps it small).
        backpressure = self._backpressure
        if abort or backpressure is None:
            WebSocketServerProtocol._closeConnection(self, abort)
        else:
            linger(self.transport, backpressure.timer)

    def connectionLost(self, reason: Any = None) -> None:
        if self._backpressure is not None:
            self._backpressure.timer.stop()
        WebSocketServerProtocol.connectionLost(self, reason)
        # Autobahn's protocol sits in reference cycles: without this, the
        # lost connection and its write buffer (megabytes for a reader that
        # stopped reading) would wait for a garbage collection pass.
        self.transport = None

    # IReceiver

    def send_frame(self, frame: bytes) -> None:
        if self.state != WebSocketServerProtocol.STATE_OPEN:
            return
        if self._perMessageCompress is None and not self.send_queue and not self.autoFragmentSize:
            # A server's text frame is a header and the bytes, unmasked:
            # build it here and skip the per-message bookkeeping and log
            # formatting of sendMessage/sendFrame/sendData.
            self.transport.write(_text_header(len(frame)) + frame)
        else:
            self.sendMessage(frame, False)

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
        # data may send (1007, 1009, ...); sendCloseFrame sends any.
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendCloseFrame(code, encode_truncate(reason, 123), isReply=False)
        else:
            self.dropConnection(abort=False)

    def _closing(self) -> None:
        # A close may wait for a buffer the client never drains (a heartbeat
        # close of a reader that stopped reading): it gets the write timeout
        # to finish, then the connection is aborted.
        if self._backpressure is not None and self.state != WebSocketServerProtocol.STATE_OPEN:
            self._backpressure.timer.start()


class RawWebSocketProtocol(SockJSWebSocketProtocol):
    """
    A websocket carrying one session's messages bare: text frames as text,
    binary frames as bytes.
    """

    session_class = RawSession
    transport_name = "raw_websocket"

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        session = self.session
        if session is None:
            return
        counters = self.sockjs_resource.hub.counters
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
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendMessage(data, False)
        return len(data)

    def send_binary(self, data: bytes) -> None:
        """
        Send C{data} as one binary message.
        """
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendMessage(data, True)

    def close_with(self, code: int, reason: str) -> None:
        if code not in _SENDABLE_CODES and not 3000 <= code <= 4999:
            code = 1000
        self._send_close_frame(code, reason)
        self._closing()

    def close(self) -> None:
        self.close_with(*(self._refused or (1000, "")))


#: the close codes of RFC 6455 an endpoint may send in a close frame
_SENDABLE_CODES = frozenset(WebSocketServerProtocol.CLOSE_STATUS_CODES_ALLOWED)

_BAD_UPGRADE = b'Not a valid websocket request: Can "Upgrade" only to "WebSocket".'
_BAD_CONNECTION = b'Not a valid websocket request: "Connection" must be "Upgrade".'


def refuse_or_upgrade(
    request: Any,
    resource: Any,
    protocol_class: type,
    session_id: str,
) -> Any:
    """
    Answer a websocket URL: 405/400 when the request cannot be a websocket,
    otherwise hand the connection to a new websocket protocol.
    """
    if request.method != b"GET":
        resource.hub.counters.handshakes_refused += 1
        request.setResponseCode(405)
        request.setHeader(b"allow", b"GET")
        request.defaultContentType = None
        return b""
    upgrade = (request.getHeader(b"upgrade") or b"").lower()
    if upgrade != b"websocket":
        resource.hub.counters.handshakes_refused += 1
        return _plain_400(request, _BAD_UPGRADE)
    connection = (request.getHeader(b"connection") or b"").lower()
    if b"upgrade" not in [token.strip() for token in connection.split(b",")]:
        resource.hub.counters.handshakes_refused += 1
        return _plain_400(request, _BAD_CONNECTION)
    if request.getHeader(b"sec-websocket-key1") and request.getHeader(b"sec-websocket-key2"):
        from .hixie76 import upgrade_hixie76

        return upgrade_hixie76(
            request, resource, protocol_class, session_id, RequestInfo.from_request(request)
        )
    if request.channel.transport is None:
        return _plain_400(request, b"Not a valid websocket request: no connection to upgrade.")

    protocol = protocol_class()
    protocol.factory = resource.websocket_factory
    protocol.sockjs_resource = resource
    protocol.sockjs_request = RequestInfo.from_request(request)
    protocol.sockjs_session_id = session_id
    _take_over(request, protocol)
    # Autobahn parses the handshake itself: give it the request again.
    head = [request.method + b" " + request.uri + b" HTTP/1.1\r\n"]
    for name, values in request.requestHeaders.getAllRawHeaders():
        head.append(name + b": " + b",".join(values) + b"\r\n")
    head.append(b"\r\n")
    protocol.dataReceived(b"".join(head) + request.content.read())
    return NOT_DONE_YET


def _take_over(request: Any, protocol: Any) -> Any:
    """
    Move the request's connection from the HTTP channel to C{protocol}.
    """
    channel = request.channel
    transport, channel.transport = channel.transport, None
    # Bytes that came in the same read as the request (a hixie-76 client
    # sends its 8-byte key right after the headers) are handed by the
    # channel's line parser to rawDataReceived once this render returns;
    # they belong to the new protocol, not to a next HTTP request.
    channel.rawDataReceived = protocol.dataReceived
    # The HTTP channel's idle timeout would otherwise keep it (and the
    # request) alive for hours, and then fire on a connection it lost.
    channel.setTimeout(None)
    # The channel registered itself as the connection's producer; it must
    # neither be paused by the websocket's writes nor kept alive by them.
    if getattr(transport, "producer", None) is not None:
        transport.unregisterProducer()
    if isinstance(transport, ProtocolWrapper):
        transport.wrappedProtocol = protocol
    elif isinstance(getattr(transport, "protocol", None), ProtocolWrapper):
        transport.protocol.wrappedProtocol = protocol
    else:
        transport.protocol = protocol
    protocol.makeConnection(transport)
    # The HTTP channel paused the connection while it served the request.
    if IPushProducer.providedBy(transport):
        transport.resumeProducing()
    # The channel and the request (a reference cycle, freed only by a
    # garbage collection pass) must not keep the connection, and what is
    # buffered in it, alive once it is lost: an aborted stalled reader's
    # buffer is freed at once.
    request.transport = None
    if hasattr(channel, "_networkProducer"):
        channel._networkProducer = _NO_PRODUCER
    return transport


class _NoProducer:
    """
    Stands for the connection in an HTTP channel that handed it over.
    """

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        pass

    def unregisterProducer(self) -> None:
        pass


_NO_PRODUCER = _NoProducer()


def _plain_400(request: Any, body: bytes) -> bytes:
    request.setResponseCode(400)
    request.setHeader(b"content-type", b"text/plain; charset=UTF-8")
    return body
