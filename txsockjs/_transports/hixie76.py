"""
The legacy hixie-76 websocket handshake and framing, which some proxies
(HAProxy among them) still speak and Autobahn does not.

The answer's headers go out before the 8-byte key arrives, as HAProxy
needs; then the 16-byte digest; then text frames C{0x00 <utf-8> 0xFF}.
"""

from __future__ import annotations

import hashlib
import struct
from typing import List, Optional, Type, Union, cast

from twisted.internet.interfaces import IConsumer
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from .._framing import HEARTBEAT, BrokenJSON, parse_websocket_message
from .._sessionframing import IRawReceiver
from ..session import RequestInfo, Session
from ._backpressure import Backpressure
from ._seam import WebSocketSeam
from ._takeover import plain_400, take_over
from .stall import linger

_log = Logger()

__all__ = ["Hixie76Protocol", "upgrade_hixie76", "key_number", "handshake_digest"]

#: hixie-76 has no close codes: a message over the limit is answered with
#: this SockJS frame (on the framed endpoint) and the closing handshake.
TOO_BIG = (1009, "Message too big")


def _frame_end(buffer: bytearray, start: int) -> int:
    """
    Where the text frame in C{buffer} ends (its C{0xFF}), searching from
    C{start}; -1 when it has not arrived yet.
    """
    return buffer.find(b"\xff", start)


def key_number(key: bytes) -> int:
    """
    The number a C{Sec-WebSocket-Key1/2} header encodes: its digits divided
    by its count of spaces.

    @raise ValueError: the key is malformed.
    """
    digits = bytes(c for c in key if 48 <= c <= 57)
    spaces = key.count(b" ")
    if not digits or spaces == 0:
        raise ValueError("malformed hixie-76 key")
    number = int(digits)
    if number % spaces:
        raise ValueError("malformed hixie-76 key")
    number //= spaces
    if number > 0xFFFFFFFF:
        # the digest packs it as a 32-bit unsigned integer
        raise ValueError("malformed hixie-76 key")
    return number


def handshake_digest(key1: bytes, key2: bytes, key3: bytes) -> bytes:
    """
    The 16 bytes that answer a hixie-76 handshake.
    """
    challenge = struct.pack(">II", key_number(key1), key_number(key2)) + key3
    return hashlib.md5(challenge).digest()


@implementer(IRawReceiver)
class Hixie76Protocol(Protocol):
    """
    One hixie-76 websocket carrying a SockJS session (framed, or raw).

    @ivar session: the connection's session, from the handshake until the
        connection is lost.
    """

    def __init__(
        self,
        seam: WebSocketSeam,
        session_id: str,
        info: RequestInfo,
        session_class: Type[Session],
        raw: bool,
        key1: bytes,
        key2: bytes,
    ) -> None:
        self._seam = seam
        self._counters = seam.counters
        self._session_id = session_id
        self._info = info
        self._session_class = session_class
        self._raw = raw
        self._keys = (key1, key2)
        # Frames are cut from the front of one bytearray (cheap in
        # CPython) and only bytes not searched yet are searched for a
        # frame's end: linear in what arrives, however it is split.
        self._buffer = bytearray()
        self._scanned = 1
        self._limit = seam.max_message_size
        self._open = False
        self._closed = False
        self._backpressure = Backpressure(self, seam.write_timeout, seam.clock, seam.counters)
        self.session: Optional[Session] = None

    def connectionMade(self) -> None:
        cast(IConsumer, self.transport).registerProducer(self._backpressure, True)

    def dataReceived(self, data: bytes) -> None:
        if self._closed:
            return
        buffer = self._buffer
        buffer += data
        if not self._open:
            if len(buffer) < 8:
                return
            key3 = bytes(buffer[:8])
            del buffer[:8]
            try:
                digest = handshake_digest(self._keys[0], self._keys[1], key3)
            except ValueError:
                self._closed = True
                self._hang_up()
                return
            self._write(digest)
            self._open = True
            self._start_session()
        self._read_frames()

    def _start_session(self) -> None:
        self.session = self._seam.sessions.open(
            self._session_id,
            self._info,
            "raw_websocket" if self._raw else "websocket",
            self._session_class,
        )
        self.session.attach(self)

    def _read_frames(self) -> None:
        buffer = self._buffer
        limit = self._limit
        while buffer and not self._closed:
            kind = buffer[0]
            if kind == 0x00:
                end = _frame_end(buffer, self._scanned)
                if end < 0:
                    self._scanned = len(buffer)
                    if limit is not None and len(buffer) - 1 > limit:
                        self._too_big()
                    return
                self._scanned = 1
                if limit is not None and end - 1 > limit:
                    self._too_big()
                    return
                payload = bytes(buffer[1:end])
                del buffer[: end + 1]
                self._message(payload)
            elif kind == 0xFF:
                if len(buffer) < 2:
                    return
                # closing handshake: answer it and hang up
                self.close()
                return
            else:
                self._closed = True
                self._buffer = bytearray()
                self._hang_up()
                return

    def _too_big(self) -> None:
        self._counters.message_too_large += 1
        session = self.session
        if session is not None:
            session.close(*TOO_BIG)
        self.close()

    def _message(self, payload: bytes) -> None:
        session = self.session
        if session is None:
            return
        counters = self._counters
        counters.bytes_in += len(payload)
        messages: List[str]
        try:
            if self._raw:
                messages = [payload.decode("utf-8")]
            else:
                messages = parse_websocket_message(payload)
        except (BrokenJSON, UnicodeDecodeError) as e:
            if isinstance(e, BrokenJSON):
                counters.broken_json += 1
            else:
                counters.bad_input += 1
            self._closed = True
            self._buffer = bytearray()
            self._hang_up()
            return
        if messages:
            counters.messages_in += len(messages)
            session.deliver(messages)

    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        self._closed = True
        self._buffer = bytearray()
        self._backpressure.timer.stop()
        self.transport = None  # frees its buffer now, not at the next gc pass
        session, self.session = self.session, None
        if session is not None:
            session.receiver_lost(self)

    # IReceiver, and what a raw session asks of its receiver

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None:
            transport.write(data)

    def send_frame(self, frame: bytes) -> None:
        if not self._closed:
            self._write(b"\x00" + frame + b"\xff")

    def heartbeat(self) -> None:
        # hixie-76 has no ping: a SockJS heartbeat frame (nothing on raw)
        if not self._raw:
            self.send_frame(HEARTBEAT)

    def send_text(self, message: str) -> int:
        data = message.encode("utf-8", "surrogatepass")
        self.send_frame(data)
        return len(data)

    def send_binary(self, data: bytes) -> None:
        # hixie-76 has no binary frames: a binary message cannot go out
        _log.info("hixie-76 websocket: dropped a binary message (no binary frames)")

    def close_with(self, code: int, reason: str) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._buffer = bytearray()
            self._write(b"\xff\x00")
            # a client that reads nothing cannot hold the close open
            self._hang_up()

    def _hang_up(self) -> None:
        """
        End the connection once what is buffered went out; a client that
        does not hang up within the write timeout is aborted.
        """
        linger(self.transport, self._backpressure.timer)


def upgrade_hixie76(
    request: IRequest,
    seam: WebSocketSeam,
    session_id: str,
    info: RequestInfo,
    session_class: Type[Session],
    raw: bool,
) -> Union[bytes, int]:
    """
    Answer a hixie-76 upgrade: write the 101 headers at once, then let
    L{Hixie76Protocol} wait for the key and carry a session of
    C{session_class} (bare messages when C{raw}).
    """
    key1 = request.getHeader(b"sec-websocket-key1") or b""
    key2 = request.getHeader(b"sec-websocket-key2") or b""
    try:
        key_number(key1)
        key_number(key2)
    except ValueError:
        return plain_400(request, b"Not a valid websocket request: malformed hixie-76 keys.")
    if request.channel.transport is None:  # type: ignore[attr-defined]
        request.setResponseCode(400)
        return b""
    scheme = b"wss" if request.isSecure() else b"ws"
    host = request.getHeader(b"host") or b""
    origin = request.getHeader(b"origin") or b"null"
    head = b"".join(
        [
            b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n",
            b"Upgrade: WebSocket\r\n",
            b"Connection: Upgrade\r\n",
            b"Sec-WebSocket-Origin: " + origin + b"\r\n",
            b"Sec-WebSocket-Location: " + scheme + b"://" + host + request.uri + b"\r\n",
            b"\r\n",
        ]
    )
    protocol = Hixie76Protocol(seam, session_id, info, session_class, raw, key1, key2)
    transport = take_over(request, protocol)
    transport.write(head)
    body = request.content.read()
    if body:
        protocol.dataReceived(body)
    return NOT_DONE_YET
