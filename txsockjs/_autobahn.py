"""
Autobahn's server protocol as txsockjs uses it: the Autobahn internals it
relies on (listed, with why and what breaks without each, in
L{txsockjs._internals}) behind named hooks, so that the websocket
transports touch none of them.
"""

from __future__ import annotations

import re
import struct
from typing import Any, Callable, Dict, List, Optional, Sequence
from urllib.parse import parse_qs

from autobahn.twisted.websocket import WebSocketServerProtocol
from autobahn.websocket import protocol as _autobahn_protocol
from autobahn.websocket.utf8validator import Utf8Validator

__all__ = [
    "FAST_PROTOCOL_OPTIONS",
    "AutobahnServerProtocol",
    "Unmasker",
    "text_frame_header",
    "url_to_origin",
    "is_same_origin",
]

#: The protocol options of the default websocket factory. SockJS decodes
#: every message as UTF-8 itself (and closes the connection when that
#: fails), so Autobahn's own pass is work done twice; C{applyMask=False}
#: leaves unmasking to L{Unmasker}.
FAST_PROTOCOL_OPTIONS: Dict[str, Any] = {"utf8validateIncoming": False, "applyMask": False}


class Unmasker:
    """
    Removes a client frame's mask: the payload XORed with the 4-byte key
    repeated, done as one big-integer XOR (C speed, no per-frame setup).
    Stands where Autobahn expects its masker (C{pointer}, C{reset},
    C{process}).
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
        self._ptr += n
        return unmask(data, self._key[shift:] + self._key[:shift])


def unmask(data: bytes, key: bytes) -> bytes:
    """
    C{data} XORed with the 4-byte C{key} repeated: one big-integer XOR.
    """
    n = len(data)
    pad = (key * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(pad, "little")).to_bytes(n, "little")


_SMALL_TEXT_HEADERS = [bytes((0x81, n)) for n in range(126)]


def text_frame_header(length: int) -> bytes:
    """
    The header of an unmasked, final websocket text frame of C{length} bytes.
    """
    if length < 126:
        return _SMALL_TEXT_HEADERS[length]
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


#: the protocol options Autobahn copies from its factory to each connection
_OPTION_NAMES = tuple(WebSocketServerProtocol.CONFIG_ATTRS)

#: a C{Sec-WebSocket-Key} as Autobahn takes it: 16 bytes in base64
_WEBSOCKET_KEY = re.compile(r"[A-Za-z0-9+/]{22}==\Z")

_STATE_OPEN = WebSocketServerProtocol.STATE_OPEN

#: Autobahn's reading of an C{Origin} header, and its check of one
url_to_origin: Callable[[str], Any] = _autobahn_protocol._url_to_origin
is_same_origin: Callable[..., bool] = _autobahn_protocol._is_same_origin


class AutobahnServerProtocol(WebSocketServerProtocol):
    """
    Autobahn's server protocol with every Autobahn internal txsockjs uses
    behind named hooks: the transports subclass it and touch none.

    Subclasses implement L{message_too_big} and may implement
    L{end_connection}.
    """

    # protocol options, set on the instance by the factory
    applyMask: bool
    autoFragmentSize: int
    versions: Sequence[int]
    maxConnections: int
    trustXForwardedFor: int
    allowedOriginsPatterns: Sequence[Any]
    maxFramePayloadSize: int
    maxMessagePayloadSize: int
    utf8validateIncoming: bool
    logFrames: bool
    logOctets: bool

    #: (Autobahn's own copy of the options formats them for a debug log)
    CONFIG_ATTRS: List[str] = []
    #: the handshake is answered in the call that makes the connection
    openHandshakeTimeout = 0

    def connectionMade(self) -> None:
        factory = self.factory
        for name in _OPTION_NAMES:
            if not hasattr(self, name):  # (as Autobahn: set on the protocol wins)
                setattr(self, name, getattr(factory, name))
        WebSocketServerProtocol.connectionMade(self)
        if not self.utf8validateIncoming:
            # Autobahn makes one for every connection; with no validation
            # it is never used, and it would stay (with its CFFI state) as
            # objects the garbage collector walks (onFrameBegin makes one
            # again if validation is turned on later)
            self.utf8validator = None  # type: ignore[assignment]

    def open_on_parsed_handshake(self, uri: str, headers: Dict[str, str]) -> bool:
        """
        Open the connection on an RFC 6455 opening handshake (a C{GET} in
        HTTP/1.1, upgrade headers checked) that twisted.web already parsed,
        as Autobahn would: C{headers} maps lower-case names to values, as
        Autobahn's parser gives them. Autobahn's C{succeedHandshake} writes
        the answer and negotiates permessage-deflate. Not done here: the
        C{onConnect} call (the SockJS protocols accept every handshake that
        reaches them) and C{http_request_data} (the raw request).

        @return: C{False}, with nothing done, for a handshake Autobahn may
            refuse or treat specially (another version, subprotocols, a
            bad key or origin, options such as C{maxConnections}): it is
            then Autobahn's own to parse.
        """
        if (
            self.state != WebSocketServerProtocol.STATE_CONNECTING
            or uri[:1] != "/"
            or ";" in uri
            or headers.get("sec-websocket-version") != "13"
            or 13 not in self.versions
            or "sec-websocket-protocol" in headers
            or self.maxConnections > 0
            or self.trustXForwardedFor
        ):
            return False
        key = headers.get("sec-websocket-key", "").strip()
        host = headers.get("host")
        if host is None or _WEBSOCKET_KEY.match(key) is None:
            return False
        host = host.strip()
        factory = self.factory
        if ":" in host and not host.endswith("]"):
            name, port = host.rsplit(":", 1)
            if factory.externalPort or not port.strip().isdecimal():
                return False
            host = name
        origin = headers.get("origin")
        if origin is None:
            origin = ""
        else:
            origin = origin.strip()
            try:
                origin_tuple = url_to_origin(origin)
            except ValueError:
                return False
            if not (origin_tuple == "null" and factory.allowNullOrigin) and not is_same_origin(
                origin_tuple,
                "https" if factory.isSecure else "http",
                factory.externalPort or factory.port,
                self.allowedOriginsPatterns,
            ):
                return False
        extensions = headers.get("sec-websocket-extensions")
        path, _, query = uri.partition("?")
        self.http_status_line = "GET " + uri + " HTTP/1.1"
        self.http_headers = headers
        self.http_request_uri = uri
        self.http_request_path = path
        self.http_request_params = parse_qs(query) if query else {}
        self.http_request_host = host
        self.websocket_version = 13
        self.websocket_protocols = []
        self.websocket_origin = origin
        self.websocket_extensions = (
            [] if extensions is None else self._parseExtensionsHeader(extensions)  # type: ignore[no-untyped-call]
        )
        self._wskey = key
        self.succeedHandshake(None)
        return True

    #: whether whole frames may be read by L{_read_whole_frames}: decided
    #: at the first read of the open connection (None: not yet)
    _whole_frames: Optional[bool] = None

    def dataReceived(self, data: bytes) -> None:
        # (Autobahn's Twisted adapter formats a debug line, qualified names
        # and colours, about 1 us, on every read before calling
        # _dataReceived, whether debug logging is on or not: 3.7 % of the
        # server's CPU in an echo of small messages.)
        if (
            self.state == _STATE_OPEN
            and self.current_frame is None
            and not self.data
            and self._whole_frames is not False
            and not self.inside_message
            and not self.failedByMe
            and self.autoPingTimeoutCall is None
        ):
            if self._whole_frames is None:
                self._whole_frames = self._may_read_whole_frames()
            if self._whole_frames:
                data = self._read_whole_frames(data)
                if not data:
                    return
        self._dataReceived(data)

    def _may_read_whole_frames(self) -> bool:
        # Only what Autobahn's reader would do nothing more with: no
        # compression, no frame or octet logging, no timing.
        return (
            self._perMessageCompress is None
            and not self.logFrames
            and not self.logOctets
            and not self.trackedTimings
        )

    def _read_whole_frames(self, data: bytes) -> bytes:
        """
        Deliver the complete, final, masked text and binary frames of up to
        64 KiB at the start of C{data} (what a client sends nearly always),
        each unmasked and passed to C{onMessage}; return the rest, from the
        first frame that is anything else (a control frame, a fragment, a
        frame cut by the read, a length Autobahn would refuse, a limit
        passed, invalid UTF-8 when it is checked) for Autobahn's own reader,
        whose state is untouched. Autobahn's frame reader is pure Python
        and about half of the server's CPU in an echo of small messages.
        """
        end = len(data)
        at = 0
        frame_limit = self.maxFramePayloadSize
        message_limit = self.maxMessagePayloadSize
        validate = self.utf8validateIncoming
        while end - at >= 6:
            first = data[at]
            if first != 0x81 and first != 0x82:
                break
            length = data[at + 1] ^ 0x80  # the mask bit must be set
            if length < 126:
                start = at + 6
            elif length == 126:
                if end - at < 8:
                    break
                length = (data[at + 2] << 8) | data[at + 3]
                if length < 126:
                    break  # not the shortest encoding: Autobahn's to refuse
                start = at + 8
            else:
                break  # unmasked, or a 64-bit length
            stop = start + length
            if stop > end or 0 < frame_limit < length or 0 < message_limit < length:
                break
            # (unmask() inlined: a call per frame costs 4 % of an echo of
            # small messages, bench/run.py, 5 rounds)
            key = data[start - 4 : start]
            pad = (key * ((length >> 2) + 1))[:length]
            payload = (
                int.from_bytes(data[start:stop], "little") ^ int.from_bytes(pad, "little")
            ).to_bytes(length, "little")
            binary = first == 0x82
            if validate and not binary:
                try:
                    payload.decode("utf-8")
                except UnicodeDecodeError:
                    break
            at = stop
            self.onMessage(payload, binary)
            if self.state != _STATE_OPEN or self.failedByMe:
                break
        return data[at:] if at else data

    def onFrameBegin(self) -> None:
        if self.utf8validator is None and self.utf8validateIncoming:
            self.utf8validator = Utf8Validator()
        frame = self.current_frame
        if frame.mask is not None and not self.applyMask:
            # (annotated str by Autobahn: it is the frame's 4 mask bytes)
            self.current_frame_masker = Unmasker(frame.mask)  # type: ignore[arg-type]
        WebSocketServerProtocol.onFrameBegin(self)

    def onMessageEnd(self) -> None:
        if not self.failedByMe:
            data = self.message_data
            payload = data[0] if len(data) == 1 else b"".join(data)
            self.onMessage(payload, self.message_is_binary)
        self.message_data = None  # type: ignore[assignment]

    def _max_message_size_exceeded(self, size: int, limit: int, reason: str) -> None:
        self.failedByMe = True  # the rest of the message is discarded
        self.message_data = None  # type: ignore[assignment]
        self.message_too_big()

    def message_too_big(self) -> None:
        """
        An incoming message or frame went over C{maxMessagePayloadSize} or
        C{maxFramePayloadSize}; the rest of it is discarded.
        """
        raise NotImplementedError()

    def _closeConnection(self, abort: bool = False) -> None:
        # Autobahn, as a server, aborts (a TCP reset) once the client answered
        # its close frame: the handshake was clean, so end gracefully as for
        # any other clean close; an abort after a failure (wasClean false:
        # a timeout, a protocol error) stays an abort.
        if abort and self.wasClean:
            abort = False
        if abort or not self.end_connection():
            WebSocketServerProtocol._closeConnection(self, abort)

    def end_connection(self) -> bool:
        """
        Autobahn ends the TCP connection (not an abort): C{True} when this
        was done here, C{False} to let Autobahn close it.
        """
        return False

    def write_text_frame(self, frame: bytes) -> None:
        """
        Send C{frame} as one text message of an open connection: straight to
        the transport when nothing Autobahn keeps (compression, a send
        queue, fragmentation) is involved.
        """
        if self.state != WebSocketServerProtocol.STATE_OPEN:
            return
        if self._perMessageCompress is None and not self.send_queue and not self.autoFragmentSize:
            # (open: the transport is there)
            self.transport.write(text_frame_header(len(frame)) + frame)  # type: ignore[union-attr]
        else:
            self.sendMessage(frame, False)  # type: ignore[no-untyped-call]

    def send_close_frame(self, code: int, reason: bytes) -> None:
        """
        Send a close frame with any C{code}, the closing handshake begins.
        """
        self.sendCloseFrame(code, reason, isReply=False)
