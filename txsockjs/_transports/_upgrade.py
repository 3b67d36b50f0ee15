"""
Answering a websocket URL: refuse what cannot be a websocket (405, 400),
otherwise hand the connection to a new websocket protocol, RFC 6455 or
hixie-76.
"""

from __future__ import annotations

from typing import Type, Union

from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET

from ..session import RequestInfo
from ._seam import WebSocketSeam
from ._takeover import plain_400, take_over
from .hixie76 import upgrade_hixie76
from .websocket import RawWebSocketProtocol, SockJSWebSocketProtocol

__all__ = ["refuse_or_upgrade"]

_BAD_UPGRADE = b'Not a valid websocket request: Can "Upgrade" only to "WebSocket".'
_BAD_CONNECTION = b'Not a valid websocket request: "Connection" must be "Upgrade".'


def refuse_or_upgrade(
    request: IRequest,
    seam: WebSocketSeam,
    protocol_class: Type[SockJSWebSocketProtocol],
    session_id: str,
) -> Union[bytes, int]:
    """
    Answer a websocket URL: 405/400 when the request cannot be a websocket,
    otherwise hand the connection to a new C{protocol_class} (or its
    hixie-76 counterpart) and answer C{NOT_DONE_YET}.
    """
    if request.method != b"GET":
        seam.counters.handshakes_refused += 1
        request.setResponseCode(405)
        request.setHeader(b"allow", b"GET")
        request.defaultContentType = None  # type: ignore[attr-defined]
        return b""
    upgrade = (request.getHeader(b"upgrade") or b"").lower()
    if upgrade != b"websocket":
        seam.counters.handshakes_refused += 1
        return plain_400(request, _BAD_UPGRADE)
    connection = (request.getHeader(b"connection") or b"").lower()
    if b"upgrade" not in [token.strip() for token in connection.split(b",")]:
        seam.counters.handshakes_refused += 1
        return plain_400(request, _BAD_CONNECTION)
    info = RequestInfo.from_request(request)
    if request.getHeader(b"sec-websocket-key1") and request.getHeader(b"sec-websocket-key2"):
        return upgrade_hixie76(
            request,
            seam,
            session_id,
            info,
            protocol_class.session_class,
            raw=issubclass(protocol_class, RawWebSocketProtocol),
        )
    if request.channel.transport is None:  # type: ignore[attr-defined]
        return plain_400(request, b"Not a valid websocket request: no connection to upgrade.")
    protocol = protocol_class(seam, session_id, info)
    take_over(request, protocol)
    # Autobahn parses the handshake itself: give it the request again.
    head = [request.method + b" " + request.uri + b" HTTP/1.1\r\n"]
    for name, values in request.requestHeaders.getAllRawHeaders():
        head.append(name + b": " + b",".join(values) + b"\r\n")
    head.append(b"\r\n")
    protocol.dataReceived(b"".join(head) + request.content.read())
    return NOT_DONE_YET
