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

Autobahn, all used by L{AutobahnServerProtocol} (in
L{txsockjs._autobahn}) and nowhere else:
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
  - C{_dataReceived}: what Autobahn's Twisted C{dataReceived} calls after
    formatting a debug log line on every read, logged or not (3.7 % of the
    CPU of an echo of small messages, C{bench/profile.py}); ours calls it
    straight. Without it: no frame is read at all.
  - The whole-frame reader (L{AutobahnServerProtocol._read_whole_frames}):
    complete, final, masked text and binary frames of up to 64 KiB at the
    start of a read are unmasked and handed to C{onMessage} without
    Autobahn's reader (pure Python, half the CPU of an echo; the echo at
    100 connections costs x0.50 with it, C{bench/RESULTS.md}). It reads
    Autobahn's state to know its reader is between frames and messages
    (C{state}, C{current_frame}, C{data}, C{inside_message}, C{failedByMe},
    C{autoPingTimeoutCall}) and may be skipped (C{_perMessageCompress},
    C{logFrames}, C{logOctets}, C{trackedTimings}), and honours its limits
    (C{maxFramePayloadSize}, C{maxMessagePayloadSize},
    C{utf8validateIncoming}); anything else goes to Autobahn's reader.
    Autobahn's C{trafficStats} do not count what it reads. Without it:
    frames read twice or dropped; C{tests/test_internals.py} compares it
    with Autobahn's reader on generated frames cut at random places.
  - C{utf8validator}: the validator Autobahn makes for every connection is
    dropped when C{utf8validateIncoming} is off (it would stay, with its
    CFFI state, as objects the garbage collector walks) and made again in
    C{onFrameBegin} if validation is turned on later. Without it: a
    crash on the first frame, or an unneeded object per connection.
  - C{_max_message_size_exceeded}: Autobahn's hook for its size limits; its
    own drops the TCP connection, SockJS wants a 1009 close and a count.
  - C{_closeConnection}: Autobahn's way to end the TCP connection; ours
    lingers for the write timeout instead of closing at once, and does not
    reset a connection whose closing handshake was clean (C{wasClean}), which
    Autobahn as a server does once its close frame is answered.
  - C{sendCloseFrame}: sends any close code (C{sendClose} refuses 1007,
    1009, which an endpoint that received bad data sends).
  - C{CONFIG_ATTRS} emptied on the class: Autobahn's C{_connectionMade}
    copies these options from the factory and formats them all with
    C{pprint} for a debug log, on every connection (a quarter of an open);
    L{AutobahnServerProtocol.connectionMade} copies them without the log,
    and C{openHandshakeTimeout} is 0 (the handshake is answered in the
    same call, a timer per open for nothing). Without it: options of the
    user's factory are ignored, or opens cost the C{pformat} again.
  - The opening handshake answered from twisted.web's parsed request
    (L{AutobahnServerProtocol.open_on_parsed_handshake}): it sets what
    C{processHandshake} records (C{websocket_version}, C{_wskey},
    C{websocket_extensions} from C{_parseExtensionsHeader},
    C{websocket_protocols}, C{websocket_origin}, C{http_headers}, ...),
    checks the origin with the module's C{_url_to_origin} and
    C{_is_same_origin}, then calls C{succeedHandshake(None)}, which writes
    the 101 answer and negotiates permessage-deflate as Autobahn always
    does. Without it: handshakes fail, or compression is not negotiated.

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
  - C{server.Request.process} done by L{txsockjs._site.SockJSRequest.process}
    in its own words, to give the C{Date} header from a value cached for the
    second (Twisted formats it anew for every request, 3 % of a C{GET
    /info}): the same C{Server} and C{Date} headers, C{prepath} and
    C{postpath}, Twisted's own C{process} for the path C{*}, and a
    resource's encoder through C{resource._IEncodingResource} and the
    request's C{_encoder} (L{use_encoder}). Without it: answers lose a
    header, routing breaks, or gzip-encoding resources answer unencoded.
  - The C{callLater} of the protocol C{HTTPFactory.buildProtocol} makes
    (set there, for tests, as C{TimeoutMixin} allows): the channel's idle
    timeout and its abort call go through it, so that the connection's
    guard can give it a L{txsockjs._timers.SharedTimer}. Without it: a
    timer and a cancel per request again (slower, nothing wrong).
  - C{Headers._rawHeaders}, the dict of a C{Headers} by canonical name:
    fixed response headers (C{Server}, C{Date}, C{Cache-Control},
    C{Content-Type} of C{/info} and of every session request) are set in
    it directly (L{set_prepared}), their names spelled and their values
    checked once by C{Headers} itself (L{txsockjs._headers.prepared}):
    C{setRawHeaders} canonicalises and sanitises on every call, three
    Python calls per header. Without it: headers missing or doubled.
    L{txsockjs.RequestInfo} also reads it, to keep a session's request
    headers as one tuple of bytes (no dict and list per header for the
    garbage collector to walk). Without it: sessions see no headers.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Dict, Optional, Tuple

from twisted.internet.interfaces import IProtocol, IPushProducer, ITransport
from twisted.protocols.policies import ProtocolWrapper
from twisted.web.http import HTTPChannel
from twisted.web.resource import _IEncodingResource
from zope.interface import implementer

# (the Autobahn internals are used in there, behind named hooks)
from ._autobahn import (
    FAST_PROTOCOL_OPTIONS,
    AutobahnServerProtocol,
    Unmasker,
    is_same_origin,
    text_frame_header,
    url_to_origin,
)

__all__ = [
    "FAST_PROTOCOL_OPTIONS",
    "AutobahnServerProtocol",
    "Unmasker",
    "text_frame_header",
    "url_to_origin",
    "is_same_origin",
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
    "use_encoder",
    "set_prepared",
]


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


def use_encoder(request: Any, resource: object) -> None:
    """
    Encode the answer of C{request} as C{resource} asks, if it is an
    encoding resource (twisted.web's C{EncodingResourceWrapper}).
    """
    if _IEncodingResource.providedBy(resource):
        encoder = resource.getEncoder(request)
        if encoder is not None:
            request._encoder = encoder


def set_prepared(request: Any, *headers: Tuple[bytes, bytes]) -> None:
    """
    Set response headers of C{request} whose names are spelled as
    C{Headers} spells them and whose values need no sanitising
    (L{txsockjs._headers.prepared}), replacing any value set before.
    """
    raw = request.responseHeaders._rawHeaders
    for name, value in headers:
        raw[name] = [value]
