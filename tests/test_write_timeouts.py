"""
The write timeouts, on a L{Clock}: a websocket or a streaming response whose
client stops reading is aborted after C{websocket_write_timeout} /
C{streaming_write_timeout}, and a close that waits for a drain that never
comes is aborted too (issue 8: the heartbeat close held the socket).

Real protocols on in-memory transports: an Autobahn websocket after a real
handshake, and twisted.web's own HTTP channel and requests.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from typing import Any, Tuple

from autobahn.twisted.websocket import WebSocketServerFactory
from twisted.internet.error import ConnectionAborted, ConnectionDone
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import Site

from txsockjs import Options, SockJSResource


class Amplify(Protocol):
    def messageReceived(self, message: str) -> None:
        self.transport.send("x" * int(message))


def _ws_factory() -> WebSocketServerFactory:
    # no handshake timers on the global reactor: this test runs on a Clock
    factory = WebSocketServerFactory()
    factory.setProtocolOptions(openHandshakeTimeout=0, closeHandshakeTimeout=0)
    return factory


class _TCPLike(StringTransport):
    """
    How a TCP connection whose buffer drains at once ends: loseConnection
    sends the FIN (behind what the client did not read), loseWriteConnection
    closes the writing side only, abortConnection resets.
    """

    ended = ""

    def loseConnection(self) -> None:
        self.ended = self.ended or "closed"

    def loseWriteConnection(self) -> None:
        self.ended = self.ended or "half-closed"

    def abortConnection(self) -> None:
        self.ended = "aborted"


class WebsocketWriteTimeoutTests(SynchronousTestCase):
    def connect(
        self, transport: Any = None, **options: Any
    ) -> Tuple[Any, StringTransport, Clock]:
        clock = Clock()
        resource = SockJSResource(
            Factory.forProtocol(Amplify),
            Options(websocket_factory=_ws_factory(), **{"heartbeat_delay": 5.0, **options}),
            clock,
        )
        root = Resource()
        root.putChild(b"a", resource)
        # no idle timer on the global reactor: this test runs on a Clock
        channel = Site(root, timeout=None).buildProtocol(None)
        transport = transport if transport is not None else StringTransport()
        channel.makeConnection(transport)
        key = base64.b64encode(os.urandom(16))
        channel.dataReceived(
            b"GET /a/000/sid/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.assertIn(b"101 Switching Protocols", transport.value())
        self.assertTrue(transport.value().endswith(b"\x81\x01o"))
        protocol = transport.protocol
        self.assertEqual(len(resource.websocket_sessions), 1)
        self.resource = resource
        return protocol, transport, clock

    def test_stalled_reader_aborted(self):
        protocol, transport, clock = self.connect(websocket_write_timeout=3)
        transport.producer.pauseProducing()  # the connection's buffer is full
        clock.advance(2.9)
        self.assertFalse(transport.disconnected)
        clock.advance(0.2)
        self.assertTrue(transport.disconnected, "aborted")

    def test_draining_reader_kept(self):
        protocol, transport, clock = self.connect(websocket_write_timeout=3, heartbeat_delay=60)
        for _ in range(5):
            transport.producer.pauseProducing()
            clock.advance(2)
            transport.producer.resumeProducing()
        clock.advance(10)
        self.assertFalse(transport.disconnected)

    def test_heartbeat_close_does_not_wait_for_ever(self):
        # the buffer never reached the pause mark, but the client reads
        # nothing: the heartbeat closes the session, and the close (which
        # waits for the buffer to drain) is aborted after the write timeout
        protocol, transport, clock = self.connect(websocket_write_timeout=4)
        clock.advance(5)  # ping
        clock.advance(5)  # no pong: close
        self.assertIn(b'c[3000,"No response from heartbeat"]', transport.value())
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.disconnected)
        clock.advance(4)
        self.assertTrue(transport.disconnected, "aborted")

    def test_close_lingers_until_the_client_hangs_up(self):
        # The session closes while the connection is full. Its buffer may
        # then drain into the kernel's (the queue bound keeps it small), so
        # a close that ended there would leave the end unseen behind what
        # the client does not read: only the writing side is closed, and a
        # client that does not hang up within the write timeout is aborted.
        protocol, transport, clock = self.connect(
            websocket_write_timeout=3, heartbeat_delay=60, transport=_TCPLike()
        )
        transport.producer.pauseProducing()
        protocol.session.close()
        clock.advance(0)
        self.assertTrue(transport.value().endswith(b'c[3000,"Go away!"]'))
        self.assertIsNone(transport.producer, "the close does not wait on the producer")
        self.assertEqual(transport.ended, "half-closed")
        clock.advance(2.9)
        self.assertEqual(transport.ended, "half-closed")
        clock.advance(0.2)
        self.assertEqual(transport.ended, "aborted")

    def test_close_of_a_reading_client(self):
        # a client that reads the end hangs up: nothing is aborted
        protocol, transport, clock = self.connect(
            websocket_write_timeout=3, heartbeat_delay=60, transport=_TCPLike()
        )
        protocol.session.close()
        clock.advance(0)
        self.assertEqual(transport.ended, "half-closed")
        protocol.connectionLost(Failure(ConnectionDone()))
        clock.advance(10)
        self.assertEqual(transport.ended, "half-closed")

    def test_no_timeout(self):
        protocol, transport, clock = self.connect(websocket_write_timeout=None, heartbeat_delay=7200)
        transport.producer.pauseProducing()
        clock.advance(3600)
        self.assertFalse(transport.disconnected)


class StreamingWriteTimeoutTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()

    def open(self, transport_name: str, limit: int = 1 << 20) -> Tuple[Any, StringTransport]:
        resource = SockJSResource(
            Factory.forProtocol(Amplify),
            Options(streaming_write_timeout=2, response_limit=limit),
            self.clock,
        )
        self.resource = resource
        root = Resource()
        root.putChild(b"a", resource)
        # no idle timer on the global reactor: this test runs on a Clock
        channel = Site(root, timeout=None).buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        method = b"POST" if transport_name == "xhr_streaming" else b"GET"
        query = b"?c=cb" if transport_name == "htmlfile" else b""
        channel.dataReceived(
            method + b" /a/000/sid/" + transport_name.encode() + query
            + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        )
        self.assertIn(b"200 OK", transport.value())
        self.assertEqual(len(resource.sessions), 1)
        # the HTTP channel, which the TCP transport pauses when it is full
        self.assertIsInstance(transport.producer, HTTPChannel)
        return transport.producer, transport

    def send(self, message: str) -> None:
        session = self.resource.sessions.get("sid")
        session.deliver([message])
        self.clock.advance(0)

    def test_stalled_reader_aborted(self):
        for name in ("xhr_streaming", "eventsource", "htmlfile"):
            channel, transport = self.open(name)
            self.send("1000")
            channel.pauseProducing()  # what the TCP transport does when full
            self.clock.advance(1.9)
            self.assertFalse(transport.disconnected, name)
            self.clock.advance(0.2)
            self.assertTrue(transport.disconnected, name)
            channel.connectionLost(Failure(ConnectionAborted()))
            session = self.resource.sessions.get("sid")
            self.assertIsNone(session.receiver if session else None, name)
            self.clock.advance(10)
            self.assertEqual(len(self.resource.sessions), 0, name)

    def test_draining_reader_kept(self):
        channel, transport = self.open("xhr_streaming")
        for _ in range(5):
            channel.pauseProducing()
            self.clock.advance(1.5)
            channel.resumeProducing()
        self.clock.advance(10)
        self.assertFalse(transport.disconnected)

    def fill_on_write(self, channel: Any, transport: StringTransport, mark: int) -> None:
        """
        Make C{transport} pause C{channel} once more than C{mark} bytes are
        buffered in it, inside the write, as a TCP transport does.
        """
        write, write_sequence = transport.write, transport.writeSequence

        def fill() -> None:
            if len(transport.value()) > mark and not channel._waitingForTransport:
                channel.pauseProducing()

        def filling(data: bytes) -> None:
            write(data)
            fill()

        def filling_sequence(data: Any) -> None:
            write_sequence(data)
            fill()

        transport.write = filling  # type: ignore[method-assign]
        transport.writeSequence = filling_sequence  # type: ignore[method-assign]

    def test_ended_response_never_read(self):
        # the response ends (response limit) while the client reads nothing:
        # its connection is aborted all the same. The write that ends it is
        # the one that fills the connection (while the connection is full,
        # messages wait in the session since the outgoing queue bound: a
        # response cannot end by frames written into a full connection).
        channel, transport = self.open("xhr_streaming", limit=4096)
        self.fill_on_write(channel, transport, len(transport.value()) + 1000)
        self.send("5000")  # past the limit: the response ends
        self.assertTrue(channel._waitingForTransport)
        self.assertTrue(transport.value().endswith(b"0\r\n\r\n"))
        self.clock.advance(1.9)
        self.assertFalse(transport.disconnected)
        self.clock.advance(0.2)
        self.assertTrue(transport.disconnected)

    def test_ended_response_read(self):
        channel, transport = self.open("xhr_streaming", limit=4096)
        self.fill_on_write(channel, transport, len(transport.value()) + 1000)
        self.send("5000")
        self.assertTrue(transport.value().endswith(b"0\r\n\r\n"))
        channel.resumeProducing()  # the client read it after all
        self.clock.advance(10)
        self.assertFalse(transport.disconnected)

    def test_full_connection_keeps_messages_in_session(self):
        # while the connection is full, what the application writes waits in
        # the session (bounded by max_queue_size), and the stalled reader is
        # still aborted after the write timeout
        channel, transport = self.open("xhr_streaming", limit=4096)
        channel.pauseProducing()
        before = len(transport.value())
        self.send("5000")
        self.assertEqual(len(transport.value()), before)
        self.clock.advance(2.1)
        self.assertTrue(transport.disconnected)


class NoOpenSSLTests(SynchronousTestCase):
    """
    txsockjs does not require pyOpenSSL: closing a connection must not need it
    (a plain install crashed on every websocket close, importing
    twisted.protocols.tls to ask whether the connection was TLS).
    """

    def test_linger_without_openssl(self) -> None:
        script = (
            "import sys\n"
            "sys.modules['OpenSSL'] = None\n"  # any import of it fails
            "from twisted.internet.task import Clock\n"
            "from twisted.internet.testing import StringTransport\n"
            "from txsockjs._transports.stall import StallTimer, linger\n"
            "class TCPLike(StringTransport):\n"
            "    half_closed = False\n"
            "    def loseWriteConnection(self):\n"
            "        self.half_closed = True\n"
            "transport = TCPLike()\n"
            "linger(transport, StallTimer(1.0, Clock(), lambda: None))\n"
            "assert transport.half_closed, 'not closed'\n"
            "assert 'twisted.protocols.tls' not in sys.modules\n"
            "print('closed')\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        )
        self.assertEqual((done.returncode, done.stdout.strip()), (0, "closed"), done.stderr)
