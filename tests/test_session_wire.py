"""
Sessions on the wire: a SockJS session bridged to a real TCP echo server by
Twisted's own port forwarder (which needs a transport that is an
IPushProducer and a consumer, as TCP is), and the outgoing queue bound
against a client that asks for much and never polls, over real HTTP and
websockets on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any, List

import treq
from autobahn.twisted.websocket import WebSocketClientFactory
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory
from twisted.protocols.portforward import ProxyFactory
from twisted.protocols.wire import Echo
from twisted.trial import unittest
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Site

from txsockjs import Options, SockJSResource

from ._helpers import WAIT, MemoryServerMixin, ServerMixin, TrackingClock, bounded, new_id, sockets_closed
from ._helpers import CountingWSClient as WSClient


class ClosingEcho(Echo):
    """
    An echo server that hangs up on "bye" and says when it lost a client.
    """

    def dataReceived(self, data: bytes) -> None:
        if data == b"bye":
            self.transport.loseConnection()
        else:
            Echo.dataReceived(self, data)

    def connectionMade(self) -> None:
        self.factory.connections.append(self)

    def connectionLost(self, reason: Any = None) -> None:
        self.factory.lost.append(reason)
        waiting, self.factory.waiting = self.factory.waiting, []
        for d in waiting:
            d.callback(None)  # the reason is a Failure: not an error here


class ProxyTests(unittest.TestCase):
    """
    txsockjs serves C{twisted.protocols.portforward.ProxyFactory} unchanged:
    bytes go both ways and a close on either side closes the other.
    """

    timeout = 30

    def setUp(self) -> Any:
        echo = Factory.forProtocol(ClosingEcho)
        echo.connections = []
        echo.lost = []
        echo.waiting = []
        self.echo = echo
        self.echo_port = reactor.listenTCP(0, echo, interface="127.0.0.1")
        self.clock = TrackingClock()
        proxy = ProxyFactory("127.0.0.1", self.echo_port.getHost().port)
        self.resource = SockJSResource(proxy, Options(), self.clock)
        root = Resource()
        root.putChild(b"proxy", self.resource)
        site = Site(root)
        site.noisy = False
        self.port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.clients: List[Any] = []
        self.addCleanup(self._shut_down)

    @defer.inlineCallbacks
    def _shut_down(self) -> Any:
        for client in self.clients:
            client.abort()
        for connection in self.echo.connections:
            connection.transport.abortConnection()
        self.resource.shutdown()
        yield self.port.stopListening()
        yield self.echo_port.stopListening()
        yield self.pool.closeCachedConnections()
        # let the aborted connections go
        yield sockets_closed()
        self.clock.cancel_all()

    def echo_lost(self) -> defer.Deferred:
        if self.echo.lost:
            return defer.succeed(None)
        d: defer.Deferred = defer.Deferred()
        self.echo.waiting.append(d)
        return d.addTimeout(WAIT, reactor)

    @defer.inlineCallbacks
    def ws(self) -> Any:
        port = self.port.getHost().port
        factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}/proxy/000/{new_id()}/websocket")
        factory.protocol = WSClient
        factory.setProtocolOptions(openHandshakeTimeout=WAIT, closeHandshakeTimeout=1)
        client = yield TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        self.clients.append(client)
        yield bounded(client.opened)
        self.assertEqual((yield client.message(1)), "o")
        return client

    @defer.inlineCallbacks
    def test_websocket_both_ways_and_client_closes(self):
        client = yield self.ws()
        # sent at once: kept by the paused session until the proxy connects
        client.send(json.dumps(["hello"]))
        self.assertEqual((yield client.message(2)), 'a["hello"]')
        client.send(json.dumps(["caf\u00e9"]))
        self.assertEqual((yield client.message(3)), 'a["caf\u00e9"]')
        client.sendClose()
        yield self.echo_lost()
        yield client.wait_end()

    @defer.inlineCallbacks
    def test_websocket_echo_server_closes(self):
        client = yield self.ws()
        client.send(json.dumps(["ping"]))
        self.assertEqual((yield client.message(2)), 'a["ping"]')
        client.send(json.dumps(["bye"]))
        self.assertEqual((yield client.message(3)), 'c[3000,"Go away!"]')
        yield client.wait_end()
        self.assertEqual(len(self.echo.lost), 1)

    @defer.inlineCallbacks
    def test_xhr_both_ways_and_echo_server_closes(self):
        base = f"http://127.0.0.1:{self.port.getHost().port}/proxy/000/{new_id()}"

        @defer.inlineCallbacks
        def post(name, body=None):
            response = yield treq.post(f"{base}/{name}", data=body, pool=self.pool, timeout=WAIT)
            return (yield treq.content(response))

        self.assertEqual((yield post("xhr")), b"o\n")
        yield post("xhr_send", json.dumps(["over http"]).encode())
        self.assertEqual((yield post("xhr")), b'a["over http"]\n')
        yield post("xhr_send", json.dumps(["bye"]).encode())
        yield self.echo_lost()
        self.assertEqual((yield post("xhr")), b'c[3000,"Go away!"]\n')


class AmplifyFloodTests(MemoryServerMixin, unittest.TestCase):
    """
    A client that sends many xhr_send to /amplify and never polls: its
    session closes with 1013 once the queue passes its bound, and the
    queue is let go.
    """

    timeout = 60

    @defer.inlineCallbacks
    def test_xhr_send_flood_without_polling(self):
        session_id = new_id()
        base = f"/amplify/000/{session_id}"
        response = yield self.http("POST", base + "/xhr")
        self.assertEqual(response.body, b"o\n")
        session = self.resource("amplify").sessions.get(session_id)
        bound = self.resource("amplify").options.max_queue_size
        sent = 0
        while sent < 1000:
            response = yield self.http("POST", base + "/xhr_send", body=b'["19"]')
            self.assertEqual(response.code, 204)
            sent += 1
            self.assertLessEqual(session._queued, bound)
            if session.disconnecting:
                break
        self.assertEqual(sent, 9, "eight 512 KiB replies fit in the default bound")
        self.assertEqual(session._outbox, [])
        # more of the same changes nothing
        for _ in range(5):
            yield self.http("POST", base + "/xhr_send", body=b'["19"]')
        self.assertEqual(session._outbox, [])
        response = yield self.http("POST", base + "/xhr")
        self.assertEqual(response.body, b'c[1013,"Queue overflow"]\n')

    @defer.inlineCallbacks
    def test_largest_amplify_on_every_polling_and_streaming_transport(self):
        """
        The default bound leaves /amplify's largest reply alone.
        """
        for transport in ("xhr", "xhr_streaming"):
            base = f"/amplify/000/{new_id()}"
            response = yield self.http("POST", base + "/xhr")
            self.assertEqual(response.body, b"o\n")
            for _ in range(3):
                yield self.http("POST", base + "/xhr_send", body=b'["19"]')
            response = yield self.http("POST", base + "/" + transport)
            body = response.body.split(b"\n")
            frame = body[1] if transport == "xhr_streaming" else body[0]
            self.assertEqual(json.loads(frame[1:]), ["x" * 2**19] * 3, transport)


class StalledWebsocketReaderTests(ServerMixin, unittest.TestCase):
    """
    A websocket client that stops reading and keeps asking /amplify for
    512 KiB replies: once its connection is full the replies wait in the
    session, which closes with 1013 past its bound and lets them go.
    """

    timeout = 60

    @defer.inlineCallbacks
    def test_stalled_reader_is_closed_with_1013(self):
        port = self.port_number
        factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}/amplify/000/{new_id()}/websocket")
        factory.protocol = WSClient
        factory.setProtocolOptions(openHandshakeTimeout=WAIT, closeHandshakeTimeout=1)
        client = yield TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        self.clients.append(client)
        yield bounded(client.opened)
        self.assertEqual((yield client.message(1)), "o")
        (session,) = self.resource("amplify").websocket_sessions
        handled: defer.DeferredQueue = defer.DeferredQueue()
        amplify = session.protocol.messageReceived

        def counted(message: str) -> None:
            amplify(message)
            handled.put(message)

        session.protocol.messageReceived = counted
        client.transport.pauseProducing()  # read nothing from now on
        bound = self.resource("amplify").options.max_queue_size
        asked = 0
        while session.close_reason is None and asked < 80:
            client.send('["19"]')
            asked += 1
            # the next request once the server answered this one
            yield bounded(handled.get())
            self.assertLessEqual(session._queued, bound)
        self.assertEqual(session.close_reason, (1013, "Queue overflow"))
        self.assertEqual(session._outbox, [])
