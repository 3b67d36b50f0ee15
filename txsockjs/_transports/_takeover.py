"""
Taking a connection over from the HTTP channel that served its upgrade
request (or refusing to), for the websocket protocols (RFC 6455 and
hixie-76).
"""

from __future__ import annotations

from twisted.internet.interfaces import IProtocol, IPushProducer, ITransport
from twisted.web.iweb import IRequest

from .. import _internals

__all__ = ["take_over", "plain_400"]


def take_over(request: IRequest, protocol: IProtocol) -> ITransport:
    """
    Move the request's connection from the HTTP channel to C{protocol};
    the connection's transport.
    """
    channel = request.channel  # type: ignore[attr-defined]
    transport: ITransport = channel.transport
    channel.transport = None
    # Bytes that came in the same read as the request (a hixie-76 client
    # sends its 8-byte key right after the headers) are handed by the
    # channel's line parser to rawDataReceived once this render returns;
    # they belong to the new protocol, not to a next HTTP request.
    _internals.divert_channel_reads(channel, protocol)
    # The HTTP channel's idle timeout would otherwise keep it (and the
    # request) alive for hours, and then fire on a connection it lost.
    channel.setTimeout(None)
    # The channel registered itself as the connection's producer; it must
    # neither be paused by the websocket's writes nor kept alive by them.
    if _internals.registered_producer(transport) is not None:
        transport.unregisterProducer()  # type: ignore[attr-defined]
    _internals.swap_protocol(transport, protocol)
    protocol.makeConnection(transport)
    # The HTTP channel paused the connection while it served the request.
    if IPushProducer.providedBy(transport):
        transport.resumeProducing()
    # The channel and the request (a reference cycle, freed only by a
    # garbage collection pass) must not keep the connection, and what is
    # buffered in it, alive once it is lost: an aborted stalled reader's
    # buffer is freed at once.
    request.transport = None  # type: ignore[attr-defined]
    _internals.release_network_producer(channel)
    return transport


def plain_400(request: IRequest, body: bytes) -> bytes:
    """
    Refuse an upgrade request: C{400} with C{body} as plain text.
    """
    request.setResponseCode(400)
    request.setHeader(b"content-type", b"text/plain; charset=UTF-8")
    return body
