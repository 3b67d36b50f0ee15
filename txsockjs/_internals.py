"""
Every internal of Autobahn and Twisted that txsockjs relies on, in one place.

Each is used because the public API cannot do the job, or does it at a
measured cost on the websocket hot path: C{bench/internals_cost.py} gives
the server CPU per echoed 32-byte websocket message with each of the three
fast-path ones off in turn (Autobahn 26.11, Twisted 26.10, 7 interleaved
rounds): 9.7 us with all, +35 % with Autobahn's masker, +41 % with its
C{onMessageEnd}, +40 % with C{sendMessage} for every frame, +143 % with
none of them. The others are needed for behaviour, not speed. An
upgrade that moves one must fail C{tests/test_internals.py} loudly (the
canary tests there name the internal and the installed version) rather than
corrupt frames; the supported versions are pinned in C{pyproject.toml}.

Autobahn, all used by L{AutobahnServerProtocol} and nowhere else:
  - C{applyMask=False} makes Autobahn unmask nothing (its C{XorMaskerNull});
    L{AutobahnServerProtocol.onFrameBegin} then sets C{current_frame_masker}
    to an L{Unmasker} built from C{current_frame.mask}. Autobahn builds a
    native masker per incoming frame, most of the cost of a small frame.
    Without it: frames arrive masked (garbage) or unmasked twice.
  - C{onMessageEnd} overridden, reading C{failedByMe}, C{message_data} and
    C{message_is_binary}: Autobahn's own also fires a C{"message"} event (a
    future per message) that nothing listens to. Without it: messages are
    lost or a discarded message is delivered.
  - C{_perMessageCompress} and C{send_queue}: a text frame is written
    straight to the transport when no compression was negotiated and
    nothing waits in Autobahn's queue, skipping the per-message bookkeeping
    and log formatting of C{sendMessage}. Without them: compressed sessions
    get uncompressed frames, or frames go out of order.
  - C{_max_message_size_exceeded}: Autobahn's hook for its size limits; its
    own drops the TCP connection, SockJS wants a 1009 close and a count.
  - C{_closeConnection}: Autobahn's way to end the TCP connection; ours
    lingers for the write timeout instead of closing at once, and does not
    reset a connection whose closing handshake was clean (C{wasClean}), which
    Autobahn as a server does once its close frame is answered.
  - C{sendCloseFrame}: sends any close code (C{sendClose} refuses 1007,
    1009, which an endpoint that received bad data sends).

Twisted:
  - C{HTTPChannel.rawDataReceived} shadowed on the channel instance: bytes
    read with the request (a hixie-76 key) reach the websocket protocol.
  - C{tcp.Connection.protocol} (or a C{ProtocolWrapper}'s
    C{wrappedProtocol}) swapped: later reads go to the websocket protocol
    with no HTTP channel in between.
  - C{HTTPChannel._networkProducer} replaced: the channel must neither
    pause nor keep alive a connection it handed over.
  - C{HTTPChannel._waitingForTransport}: whether a finished streaming
    response is still stuck in a connection the client stopped reading.
  - C{FileDescriptor.producer}: whether a producer is registered (unregister
    one that is not throws).
  - C{TLSMemoryBIOProtocol}'s C{transport} in its instance dict: a TLS
    connection must close with its alert, not be half-closed under it.
  - C{twisted.test.iosim}: the in-memory transport pair and pump of
    L{txsockjs.testing} (shipped with Twisted, not a documented API);
    imported there, so that a server never loads Twisted's test package.
  - C{Request._disconnected}: a request that finishes after its
    connection was lost does not mark that connection idle again
    (L{txsockjs._site.SockJSRequest.finish}).
  - C{twisted.internet.endpoints._serverParsers}: the keywords of an inner
    endpoint in the C{sockjs:} endpoint's help and errors (without it they
    name only txsockjs's own).
  - C{tcp.Connection}'s write state, for try-write-first
    (L{txsockjs._writes}; C{bench/syscalls.py} counts two C{epoll_ctl}
    fewer per HTTP response and per broadcast delivery, and broadcast CPU
    per delivery drops to 0.6x): C{writeSomeData} (the transport's own
    non-blocking send, so errors are classified as Twisted classifies them);
    C{dataBuffer}, C{offset} and C{_tempDataLen} (nothing buffered, so no
    byte can overtake an earlier one); C{_writeDisconnecting},
    C{_writeDisconnected} and C{_aborting} (a half-closed or aborting
    connection keeps Twisted's path: its shutdown comes after the buffer
    drains, an abort drops what is buffered); C{TLS} (set on a connection
    that started TLS: its bytes must go through the TLS layer); C{producer}
    and C{streamingProducer} (a pull producer is asked for more only when
    Twisted's buffer drains). Without them: bytes out of order, or written
    after a close. See L{can_send_now} and L{send_some}.
"""

from __future__ import annotations

import struct
import sys
from typing import Any, Callable, Dict, Optional

from autobahn.twisted.websocket import WebSocketServerProtocol
from twisted.internet.interfaces import IProtocol, IPushProducer, ITransport
from twisted.protocols.policies import ProtocolWrapper
from twisted.web.http import HTTPChannel
from zope.interface import implementer

__all__ = [
    "FAST_PROTOCOL_OPTIONS",
    "AutobahnServerProtocol",
    "Unmasker",
    "text_frame_header",
    "divert_channel_reads",
    "swap_protocol",
    "release_network_producer",
    "registered_producer",
    "wrapped_transport",
    "is_tls",
    "request_disconnected",
    "channel_waiting_for_transport",
    "server_endpoint_parser",
    "can_send_now",
    "send_some",
]

# -- Autobahn ---------------------------------------------------------------

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
        key = self._key[shift:] + self._key[:shift]
        pad = (key * ((n >> 2) + 1))[:n]
        self._ptr += n
        return (int.from_bytes(data, "little") ^ int.from_bytes(pad, "little")).to_bytes(
            n, "little"
        )


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

    def onFrameBegin(self) -> None:
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


# -- Twisted ----------------------------------------------------------------


def divert_channel_reads(channel: HTTPChannel, protocol: IProtocol) -> None:
    """
    Bytes the channel's parser still holds from the read that carried the
    request go to C{protocol}, not to a next HTTP request.
    """
    channel.rawDataReceived = protocol.dataReceived  # type: ignore[method-assign]


def swap_protocol(transport: Any, protocol: IProtocol) -> None:
    """
    Make C{transport}'s reads go to C{protocol}: a C{ProtocolWrapper}'s
    wrapped protocol (a wrapping Site, TLS), or the connection's own.
    """
    if isinstance(transport, ProtocolWrapper):
        transport.wrappedProtocol = protocol
    elif isinstance(getattr(transport, "protocol", None), ProtocolWrapper):
        transport.protocol.wrappedProtocol = protocol
    else:
        transport.protocol = protocol


@implementer(IPushProducer)
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

    def registerProducer(self, producer: object, streaming: bool) -> None:
        pass

    def unregisterProducer(self) -> None:
        pass


_NO_PRODUCER = _NoProducer()


def release_network_producer(channel: HTTPChannel) -> None:
    """
    The channel forgets the connection it handed over: it can neither pause
    it nor keep it (and its write buffer) alive.
    """
    if hasattr(channel, "_networkProducer"):
        channel._networkProducer = _NO_PRODUCER


def registered_producer(transport: Optional[ITransport]) -> Optional[object]:
    """
    The producer registered with C{transport}, if any.
    """
    return getattr(transport, "producer", None)


def wrapped_transport(transport: object) -> Optional[object]:
    """
    The transport under a wrapping protocol (TLS), or C{None}: read from
    the instance, not through a C{ProtocolWrapper}'s delegation.
    """
    return getattr(transport, "__dict__", {}).get("transport")


def is_tls(transport: object) -> bool:
    """
    Whether C{transport} is TLS, or wraps a TLS connection.
    """
    # Importing twisted.protocols.tls needs pyOpenSSL, which txsockjs does
    # not require: a process that never loaded it has no TLS connection.
    tls = sys.modules.get("twisted.protocols.tls")
    if tls is None:
        return False
    TLSMemoryBIOProtocol = tls.TLSMemoryBIOProtocol
    current: Optional[object] = transport
    while current is not None:
        if isinstance(current, TLSMemoryBIOProtocol):
            return True
        current = wrapped_transport(current)
    return False


def request_disconnected(request: object) -> bool:
    """
    Whether the connection of C{request} was lost.
    """
    return bool(getattr(request, "_disconnected", False))


def channel_waiting_for_transport(channel: object) -> bool:
    """
    Whether C{channel} paused its responses because its connection's write
    buffer is full (the client is not reading).
    """
    return bool(getattr(channel, "_waitingForTransport", False))


def server_endpoint_parser(kind: str) -> Optional[Callable[..., object]]:
    """
    Twisted's own parser of C{kind} server endpoint descriptions (C{tcp},
    C{ssl}, C{unix}), or C{None}.
    """
    from twisted.internet import endpoints

    parsers: Dict[str, Callable[..., object]] = getattr(endpoints, "_serverParsers", {})
    return parsers.get(kind.lower())


def can_send_now(transport: Any) -> bool:
    """
    Whether bytes written to the TCP connection C{transport} may go to its
    socket at once: connected, not closing, nothing in Twisted's buffer, no
    TLS, no pull producer waiting for the buffer to drain.
    """
    return bool(
        transport.connected
        and not transport.disconnecting
        and not transport._tempDataLen
        and transport.offset == len(transport.dataBuffer)
        and not transport._writeDisconnecting
        and not transport._writeDisconnected
        and not transport._aborting
        and not transport.TLS
        and (transport.producer is None or transport.streamingProducer)
    )


def send_some(transport: Any, data: bytes) -> Any:
    """
    Send what the socket of TCP connection C{transport} takes of C{data}
    now: the number of bytes taken, or a C{ConnectionLost} instance.
    """
    return transport.writeSomeData(data)
