"""
What the options do: origins, JSESSIONID callables, disabled transports, a
user's Autobahn factory (permessage-deflate) and websocket heartbeats in
memory with L{txsockjs.testing} and a L{Clock}; the websocket write timeout
over a real port (it needs a socket whose buffers fill as the reactor runs).
"""

from __future__ import annotations

import json

import treq
from autobahn.twisted.websocket import (
    WebSocketClientFactory,
    WebSocketClientProtocol,
    WebSocketServerFactory,
)
from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Site

from txsockjs import Options, SockJSResource
from txsockjs.testing import Frame, SockJSTestServer

from ._helpers import bounded, open_sockets, socket_closed


class Echo(Protocol):
    def messageReceived(self, message):
        self.transport.send(message)


class Flood(Protocol):
    """
    Writes far more than any socket buffer holds, then waits.
    """

    lost = None

    def connectionMade(self):
        chunk = "z" * 65536
        for _ in range(256):
            self.transport.send(chunk)

    def connectionLost(self, reason=None):
        if self.factory.lost is not None and not self.factory.lost.called:
            self.factory.lost.callback(None)


class MemoryMixin:
    """
    The endpoint at C{/s} of a L{SockJSTestServer}; C{request} answers at
    once (nothing waits in memory).
    """

    def serve(self, factory, options):
        self.clock = Clock()
        root = Resource()
        self.resource = SockJSResource(factory, options, self.clock)
        self.addCleanup(self.resource.shutdown)
        root.putChild(b"s", self.resource)
        self.server = SockJSTestServer(root, self.clock)

    def request(self, method, path, headers=None):
        response = self.server.request(method, "/s" + path, headers)
        self.assertTrue(response.finished, response)
        return response


class ServerMixin:
    def serve(self, factory, options, clock=None):
        root = Resource()
        self.resource = SockJSResource(factory, options, clock)
        self.addCleanup(self.resource.shutdown)
        root.putChild(b"s", self.resource)
        port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.base = "http://127.0.0.1:%d/s" % (port.getHost().port,)
        self.port = port.getHost().port
        pool = HTTPConnectionPool(reactor, persistent=False)
        self.addCleanup(pool.closeCachedConnections)
        self.pool = pool

    def request(self, method, path, **kw):
        return treq.request(method, self.base + path, pool=self.pool, **kw)


class Client(WebSocketClientProtocol):
    def onOpen(self):
        self.factory.opened.callback(self)

    def onMessage(self, payload, isBinary):
        self.factory.messages.append(payload.decode("utf-8"))
        waiting, self.factory.waiting = self.factory.waiting, None
        if waiting is not None:
            waiting.callback(None)

    def onClose(self, wasClean, code, reason):
        if not self.factory.closed.called:
            self.factory.closed.callback(code)


def websocket_client(port, path, offers=None):
    factory = WebSocketClientFactory("ws://127.0.0.1:%d%s" % (port, path))
    factory.protocol = Client
    factory.opened = defer.Deferred()
    factory.closed = defer.Deferred()
    factory.messages = []
    factory.waiting = defer.Deferred()  # the first message
    if offers:
        factory.setProtocolOptions(
            perMessageCompressionOffers=offers,
            perMessageCompressionAccept=lambda response: PerMessageDeflateResponseAccept(response),
        )
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    return factory, endpoint.connect(factory)


def PerMessageDeflateResponseAccept(response):
    from autobahn.websocket.compress import PerMessageDeflateResponseAccept as Accept

    return Accept(response)


class OriginTests(MemoryMixin, SynchronousTestCase):
    def test_origins_patterns_are_enforced(self):
        self.serve(Factory.forProtocol(Echo), Options(origins=("good.example:*",)))
        ok = self.request("GET", "/info", headers={"Origin": "http://good.example:8000"})
        self.assertEqual(ok.code, 200)
        body = json.loads(ok.body)
        self.assertEqual(body["origins"], ["good.example:*"])
        bad = self.request("GET", "/info", headers={"Origin": "http://evil.example"})
        self.assertEqual(bad.code, 403)
        bad = self.request("POST", "/0/a/xhr", headers={"Origin": "http://evil.example"})
        self.assertEqual(bad.code, 403)
        self.assertEqual(len(self.resource.sessions), 0, "a refused request opens no session")
        greeting = self.request("GET", "/", headers={"Origin": "http://evil.example"})
        self.assertEqual(greeting.code, 200)

    def test_check_origin_callable_decides(self):
        seen = []

        def check(request):
            seen.append(request.getHeader(b"origin"))
            return request.getHeader(b"origin") == b"http://ok"

        self.serve(Factory.forProtocol(Echo), Options(check_origin=check))
        r = self.request("POST", "/0/a/xhr", headers={"Origin": "http://ok"})
        self.assertEqual(r.body, b"o\n")
        r = self.request("POST", "/0/b/xhr", headers={"Origin": "http://no"})
        self.assertEqual(r.code, 403)
        self.assertEqual(seen, [b"http://ok", b"http://no"])


class CookieAndTransportTests(MemoryMixin, SynchronousTestCase):
    def test_jsessionid_callable_sets_its_own_cookie(self):
        def sticky(request):
            request.addCookie(b"route", b"node7", path=b"/")

        self.serve(Factory.forProtocol(Echo), Options(jsessionid=sticky))
        info = self.request("GET", "/info")
        self.assertTrue(json.loads(info.body)["cookie_needed"])
        r = self.request("POST", "/0/a/xhr")
        self.assertEqual(r.headers["set-cookie"], ["route=node7; Path=/"])

    def test_disabled_transports_are_404(self):
        self.serve(
            Factory.forProtocol(Echo),
            Options(disabled_transports=frozenset({"htmlfile", "xhr_streaming"})),
        )
        for method, path in [("GET", "/0/a/htmlfile?c=x"), ("POST", "/0/a/xhr_streaming")]:
            r = self.request(method, path)
            self.assertEqual(r.code, 404, path)
        r = self.request("POST", "/0/a/xhr")
        self.assertEqual(r.body, b"o\n")


class WebsocketOptionTests(MemoryMixin, SynchronousTestCase):
    def test_user_factory_with_permessage_deflate(self):
        server_factory = WebSocketServerFactory()

        def accept(offers):
            for offer in offers:
                if isinstance(offer, PerMessageDeflateOffer):
                    return PerMessageDeflateOfferAccept(offer)

        server_factory.setProtocolOptions(perMessageCompressionAccept=accept)
        self.serve(Factory.forProtocol(Echo), Options(websocket_factory=server_factory))
        client = self.server.open(
            "websocket",
            prefix="/s",
            websocket_options={
                "perMessageCompressionOffers": [PerMessageDeflateOffer()],
                "perMessageCompressionAccept": PerMessageDeflateResponseAccept,
            },
        )
        self.assertIsNotNone(client.websocket._perMessageCompress, "deflate was negotiated")
        self.assertEqual(client.frames, [Frame("o")])
        client.send("squeeze " * 100)
        self.assertEqual(client.frames[1], Frame("a", ("squeeze " * 100,)))
        client.close()
        self.assertFalse(client.connected)


class WebsocketWriteTimeoutTests(ServerMixin, TestCase):
    """
    On a real socket: the kernel's buffers fill as the reactor runs, and
    the connection stays full. The session's timers (the write timeout's
    among them) run on a L{Clock}: the test lets the timeout pass.
    """

    @defer.inlineCallbacks
    def test_write_timeout_drops_a_websocket_that_does_not_read(self):
        factory = Factory.forProtocol(Flood)
        factory.lost = defer.Deferred()
        clock = Clock()
        # Flood queues 16 MiB in one turn: above the default queue bound,
        # which is not what this test is about; the kernel's buffers hold
        # far less, so the connection stays full once the client stops
        # reading.
        options = Options(websocket_write_timeout=7, max_queue_size=32 * 1024 * 1024)
        self.serve(factory, options, clock)
        client_factory, connected = websocket_client(self.port, "/s/0/a/websocket")
        client = yield connected
        yield client_factory.opened
        client.transport.pauseProducing()  # read nothing from now on
        clock.advance(0)  # the session writes what Flood sent: the socket fills
        (server_side,) = [s for s in open_sockets() if s.getHost().port == self.port]
        dropped = socket_closed(server_side)
        clock.advance(6.9)
        self.assertFalse(dropped.called, "dropped before the timeout")
        self.assertEqual(len(self.resource.open_sessions()), 1)
        clock.advance(0.1)
        yield bounded(dropped)
        clock.advance(0)  # the session hears of it
        yield bounded(factory.lost)
        self.assertEqual(self.resource.open_sessions(), [])
        client.transport.abortConnection()
        yield bounded(client_factory.closed)


class WebsocketHeartbeatTests(MemoryMixin, SynchronousTestCase):
    def connect(self, answer_pings):
        self.serve(Factory.forProtocol(Echo), Options(heartbeat_delay=0.1))
        client = self.server.open("websocket", prefix="/s")
        client.answer_pings(answer_pings)
        self.assertEqual(client.frames, [Frame("o")])
        return client

    def test_client_answering_pings_stays_connected(self):
        client = self.connect(True)
        self.server.advance(0.75)
        self.assertGreaterEqual(client.pings, 4)
        self.assertEqual(client.frames, [Frame("o")], "heartbeats are pings, not h frames")
        self.assertEqual(len(self.resource.open_sessions()), 1)
        client.close()
        self.assertFalse(client.connected)

    def test_client_not_answering_is_closed_with_3000(self):
        client = self.connect(False)
        self.server.advance(0.75)
        self.assertEqual(
            client.frames, [Frame("o"), Frame("c", code=3000, reason="No response from heartbeat")]
        )
        self.assertFalse(client.connected)
        self.assertEqual(self.resource.open_sessions(), [])
