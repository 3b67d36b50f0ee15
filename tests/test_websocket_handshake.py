"""
The websocket opening handshake answered from twisted.web's parsed request
(L{txsockjs._internals.AutobahnServerProtocol.open_on_parsed_handshake})
answers byte for byte what Autobahn's own handshake parser answers, and
leaves to Autobahn every handshake it might refuse or treat specially.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Dict, List, Optional, Tuple

import autobahn
from autobahn.twisted.websocket import WebSocketServerFactory
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial import unittest
from twisted.web.server import Site

from txsockjs import Options, SockJSResource, _internals
from txsockjs._transports import _upgrade

_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CHROME_OFFER = "permessage-deflate; client_max_window_bits"
_HEADERS = _upgrade._handshake_headers
_OPEN_FAST = _internals.AutobahnServerProtocol.open_on_parsed_handshake


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]


def _accept_deflate(offers: List[Any]) -> Optional[PerMessageDeflateOfferAccept]:
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


def _request(path: str = "/000/abc/websocket", version: bytes = b"HTTP/1.1", **headers: str) -> bytes:
    fields = {
        "Host": "127.0.0.1:8080",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": _KEY,
        "Sec-WebSocket-Version": "13",
    }
    for name, value in headers.items():
        name = name.replace("_", "-")
        if value == "":
            fields.pop(name, None)
        else:
            fields[name] = value
    head = b"GET " + path.encode() + b" " + version + b"\r\n"
    for name, value in fields.items():
        head += name.encode() + b": " + value.encode("iso-8859-1") + b"\r\n"
    return head + b"\r\n"


class _Recording(StringTransport):
    """
    A connection that, as a TCP one, lets a protocol unregister no producer.
    """

    def __init__(self) -> None:
        StringTransport.__init__(self, peerAddress=IPv4Address("TCP", "127.0.0.1", 5555))
        self.protocol: Any = None

    def unregisterProducer(self) -> None:
        self.producer = None


class HandshakeEquivalenceTests(unittest.SynchronousTestCase):
    """
    Every request goes once through the fast path and once, forced, through
    Autobahn's own parser (the request given again as bytes): the server
    writes the same bytes.
    """

    def answer(
        self,
        request: bytes,
        autobahn_parses: bool,
        factory: Optional[WebSocketServerFactory] = None,
        then: bytes = b"",
    ) -> Tuple[bytes, bool]:
        """
        What the server writes for C{request} (and C{then}, sent in the same
        read), and whether the fast path opened the connection.
        """
        fast: List[bool] = []

        def headers(request: Any) -> Optional[Dict[str, str]]:
            return None if autobahn_parses else _HEADERS(request)

        def recording(protocol: Any, uri: str, headers: Dict[str, str]) -> bool:
            fast.append(_OPEN_FAST(protocol, uri, headers))
            return fast[-1]

        self.patch(_upgrade, "_handshake_headers", headers)
        self.patch(_internals.AutobahnServerProtocol, "open_on_parsed_handshake", recording)
        options = Options(websocket_factory=factory) if factory is not None else Options()
        clock = Clock()
        resource = SockJSResource(Factory.forProtocol(Echo), options, clock)
        site = Site(resource, reactor=clock)
        channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5555))
        transport = _Recording()
        transport.protocol = channel
        channel.makeConnection(transport)
        channel.dataReceived(request + then)
        answer = transport.value()
        # (nothing left behind on the real reactor)
        transport.protocol.connectionLost(Failure(ConnectionDone()))
        return answer, fast == [True]

    def assertSameAnswer(
        self, request: bytes, opens: Optional[bool], factory: Optional[WebSocketServerFactory] = None, then: bytes = b""
    ) -> bytes:
        fast, opened = self.answer(request, False, factory, then)
        slow, _ = self.answer(request, True, factory, then)
        self.assertEqual(fast, slow)
        if opens is not None:
            self.assertEqual(opened, opens, fast)
        return fast

    def test_accept_key(self) -> None:
        answer = self.assertSameAnswer(_request(), opens=True)
        accept = base64.b64encode(hashlib.sha1(_KEY.encode() + _GUID).digest())
        self.assertEqual(
            answer,
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Server: AutobahnPython/" + autobahn.__version__.encode() + b"\r\n"
            b"Upgrade: WebSocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            b"\x81\x01o",
        )

    def test_browser_headers(self) -> None:
        self.assertSameAnswer(
            _request(
                "/000/abc/websocket?t=1&x=%20y",
                Origin="https://app.example:8443",
                Sec_WebSocket_Extensions=_CHROME_OFFER,
                User_Agent="Mozilla/5.0 (X11; Linux x86_64) \xe9",
                Cookie="JSESSIONID=dummy; a=b",
                Connection="keep-alive, Upgrade",
                Upgrade="WebSocket",
            ),
            opens=True,
        )

    def test_hosts(self) -> None:
        for host in ("example.com", "[::1]", "[::1]:80", "  example.com:80  ", "a:1:2"):
            self.assertSameAnswer(_request(Host=host), opens=True, then=b"")
        for host in ("example.com:http", "example.com:+80"):
            self.assertSameAnswer(_request(Host=host), opens=False)

    def test_origins(self) -> None:
        # the fast path opens exactly what Autobahn opens
        for origin in ("null", "file://", "http://a.example", "HTTPS://A.example:1", "x://y"):
            answer, _ = self.answer(_request(Origin=origin), True)
            self.assertSameAnswer(_request(Origin=origin), opens=b" 101 " in answer[:13])

    def test_permessage_deflate_through_a_user_factory(self) -> None:
        factory = WebSocketServerFactory()
        factory.setProtocolOptions(perMessageCompressionAccept=_accept_deflate)
        answer = self.assertSameAnswer(
            _request(Sec_WebSocket_Extensions=_CHROME_OFFER), opens=True, factory=factory
        )
        self.assertIn(b"\r\nSec-WebSocket-Extensions: permessage-deflate", answer)

    def test_user_factory_server_name_and_headers(self) -> None:
        factory = WebSocketServerFactory(server="mine/1.0", headers={"X-One": "1", "X-Two": ["a", "b"]})
        answer = self.assertSameAnswer(_request(), opens=True, factory=factory)
        self.assertIn(b"\r\nServer: mine/1.0\r\nUpgrade:", answer)
        self.assertIn(b"\r\nX-Two: a\r\nX-Two: b\r\n", answer)

    def test_user_factory_origins(self) -> None:
        factory = WebSocketServerFactory()
        factory.setProtocolOptions(allowedOrigins=["https://good.example:*"])
        self.assertSameAnswer(_request(Origin="https://good.example:443"), opens=True, factory=factory)
        self.assertSameAnswer(_request(Origin="https://evil.example"), opens=False, factory=factory)

    def test_user_factory_options_autobahn_handles(self) -> None:
        for options in ({"maxConnections": 10}, {"trustXForwardedFor": 1}, {"versions": [8]}):
            factory = WebSocketServerFactory()
            factory.setProtocolOptions(**options)
            self.assertSameAnswer(_request(X_Forwarded_For="10.0.0.1"), opens=False, factory=factory)
        factory = WebSocketServerFactory(externalPort=8080)
        self.assertSameAnswer(_request(), opens=False, factory=factory)

    def test_frames_in_the_same_read(self) -> None:
        # a masked text frame '"hi"' right behind the request
        key = b"\x01\x02\x03\x04"
        payload = b'"hi"'
        frame = b"\x81\x84" + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        answer = self.assertSameAnswer(_request(), opens=True, then=frame)
        self.assertTrue(answer.endswith(b'\x81\x01o\x81\x07a["hi"]'), answer)

    def test_what_autobahn_refuses(self) -> None:
        refused = [
            _request(Sec_WebSocket_Key="short=="),
            _request(Sec_WebSocket_Key="dGhlIHNhbXBsZSBub25jZQ=!"),
            _request(Sec_WebSocket_Key=""),
            _request(Sec_WebSocket_Version="14"),
            _request(Sec_WebSocket_Version=""),
            _request(Sec_WebSocket_Protocol="chat, chat"),
            _request(Origin="http://"),
            _request(Origin="http://host:99999"),
            _request(Host=""),
            _request(Sec_WebSocket_Extensions="permessage-deflate; client_max_window_bits=99"),
            _request(X_Odd="a\x01b"),
            _request(X_Odd="a\x7fb"),
            _request("/000/abc/websocket#fragment"),
            _request(**{"Bad Name": "x"}),
        ]
        for request in refused:
            # (a bad permessage-deflate offer is refused by Autobahn's own
            # code on the fast path too)
            answer = self.assertSameAnswer(request, opens=None)
            self.assertNotIn(b"\x81\x01o", answer, request)

    def test_http_10_as_ever(self) -> None:
        # (the request was always given to Autobahn as HTTP/1.1)
        self.assertSameAnswer(_request(version=b"HTTP/1.0"), opens=True)

    def test_left_to_autobahn(self) -> None:
        # Autobahn takes these: a subprotocol (none chosen), hybi-8, a path
        # its URL parser reads its own way
        for request in (
            _request(Sec_WebSocket_Protocol="chat"),
            _request(Sec_WebSocket_Version="8"),
            _request("/000/abc/websocket?a=1;b=2"),
        ):
            answer = self.assertSameAnswer(request, opens=False)
            self.assertIn(b" 101 ", answer[:13])

    def test_repeated_headers_joined(self) -> None:
        request = _request().replace(b"\r\n\r\n", b"\r\nX-A: 1\r\nX-A: 2\r\n\r\n")
        self.assertSameAnswer(request, opens=True)
        twice = _request().replace(
            b"\r\n\r\n", b"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        self.assertSameAnswer(twice, opens=False)

