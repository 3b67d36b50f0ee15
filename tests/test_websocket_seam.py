"""
The websocket transports get what they need from their endpoint at
construction (L{WebSocketSeam}); websocket sessions live in their own
L{WebSocketSessions}, apart from the registry by id.
"""

from __future__ import annotations

from typing import List, Optional

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial import unittest
from twisted.web.http_headers import Headers
from zope.interface.verify import verifyObject

from txsockjs import Options, SockJSResource
from txsockjs.session import RequestInfo, Session, SessionState
from txsockjs._transports._seam import IWebSocketSessions, WebSocketSeam, WebSocketSessions
from txsockjs._transports.websocket import RawSession, RawWebSocketProtocol, SockJSWebSocketProtocol

_ADDRESS = IPv4Address("TCP", "127.0.0.1", 1)
_INFO = RequestInfo(b"GET", b"/", b"/", Headers(), _ADDRESS, _ADDRESS, {}, False)
_HANDSHAKE = (
    b"GET /echo/0/s/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


class Echo(Protocol):
    def messageReceived(self, message: str) -> None:
        self.transport.send(message)  # type: ignore[union-attr]


class Refusing(Factory):
    def buildProtocol(self, addr: IAddress) -> Optional[Protocol]:
        return None


class WebSocketSessionsTests(unittest.SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.resource = SockJSResource(Factory.forProtocol(Echo), Options(), self.clock)

    def test_interface(self) -> None:
        self.assertTrue(verifyObject(IWebSocketSessions, self.resource.websocket_sessions))

    def test_open_is_untimed_and_apart_from_the_registry(self) -> None:
        sessions = self.resource.websocket_sessions
        session = sessions.open("a", _INFO, "raw_websocket", RawSession)
        self.assertIsInstance(session, RawSession)
        self.assertEqual((session.session_id, session.transport_name), ("a", "raw_websocket"))
        self.assertEqual(list(sessions), [session])
        self.assertIsNone(self.resource.sessions.get("a"))
        # no disconnect delay: nothing waits on the clock for it
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_http_sessions_are_registered_by_id(self) -> None:
        session = self.resource.new_session("b", _INFO, "xhr")
        self.assertIs(self.resource.sessions.get("b"), session)
        self.assertEqual(len(self.resource.websocket_sessions), 0)

    def test_refusing_factory_closes(self) -> None:
        hub = self.resource.hub
        sessions = WebSocketSessions(Refusing(), hub)
        session = sessions.open("c", _INFO, "websocket", Session)
        self.assertIn(session.state, (SessionState.CLOSING, SessionState.CLOSED))
        self.assertEqual(session.close_reason, (3000, "Go away!"))

    def test_forgotten_when_the_connection_ends(self) -> None:
        protocol = SockJSWebSocketProtocol(self.resource._websocket, "d", _INFO)
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(_HANDSHAKE)
        self.assertEqual([s.session_id for s in self.resource.websocket_sessions], ["d"])
        protocol.dropConnection(abort=True)
        protocol.connectionLost()
        self.clock.advance(0)
        self.assertEqual(len(self.resource.websocket_sessions), 0)


class SeamTests(unittest.SynchronousTestCase):
    """
    A protocol works from a seam alone: no resource behind it.
    """

    def test_protocol_from_a_seam(self) -> None:
        opened: List[str] = []

        class Sessions:
            def __init__(self) -> None:
                self.inner = WebSocketSessions(Factory.forProtocol(Echo), resource.hub)

            def open(self, session_id: str, info: RequestInfo, transport_name: str, session_class: type) -> Session:
                opened.append(transport_name)
                return self.inner.open(session_id, info, transport_name, session_class)

        clock = Clock()
        resource = SockJSResource(Factory.forProtocol(Echo), Options(), clock)
        counters = resource.hub.counters
        seam = WebSocketSeam(
            sessions=Sessions(),  # type: ignore[arg-type]
            factory=resource.websocket_factory,
            clock=clock,
            counters=counters,
            write_timeout=None,
            max_message_size=None,
        )
        protocol = RawWebSocketProtocol(seam, "", _INFO)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(_HANDSHAKE)
        self.assertEqual(opened, ["raw_websocket"])
        self.assertIs(protocol.factory, resource.websocket_factory)
        # a masked text frame "hi"
        key = b"\x01\x02\x03\x04"
        protocol.dataReceived(b"\x81\x82" + key + bytes([ord("h") ^ 1, ord("i") ^ 2]))
        clock.advance(0)
        self.assertTrue(transport.value().endswith(b"\x81\x02hi"))
        self.assertEqual(counters.messages_in, 1)
        self.assertFalse(hasattr(protocol, "sockjs_resource"))
        protocol.dropConnection(abort=True)
        protocol.connectionLost()
        clock.advance(60)
