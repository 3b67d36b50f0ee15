"""
What the options do, over a real port: origins, JSESSIONID callables,
disabled transports, a user's Autobahn factory (permessage-deflate) and the
websocket write timeout.
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
from twisted.internet.task import deferLater
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import TestCase
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Site

from txsockjs import Options, SockJSResource


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


class ServerMixin:
    def serve(self, factory, options):
        root = Resource()
        self.resource = SockJSResource(factory, options)
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


class OriginTests(ServerMixin, TestCase):
    @defer.inlineCallbacks
    def test_origins_patterns_are_enforced(self):
        self.serve(Factory.forProtocol(Echo), Options(origins=("good.example:*",)))
        ok = yield self.request("GET", "/info", headers={"Origin": "http://good.example:8000"})
        self.assertEqual(ok.code, 200)
        body = json.loads((yield ok.text()))
        self.assertEqual(body["origins"], ["good.example:*"])
        bad = yield self.request("GET", "/info", headers={"Origin": "http://evil.example"})
        self.assertEqual(bad.code, 403)
        yield bad.content()
        bad = yield self.request("POST", "/0/a/xhr", headers={"Origin": "http://evil.example"})
        self.assertEqual(bad.code, 403)
        yield bad.content()
        self.assertEqual(len(self.resource.sessions), 0, "a refused request opens no session")
        greeting = yield self.request("GET", "/", headers={"Origin": "http://evil.example"})
        self.assertEqual(greeting.code, 200)
        yield greeting.content()

    @defer.inlineCallbacks
    def test_check_origin_callable_decides(self):
        seen = []

        def check(request):
            seen.append(request.getHeader(b"origin"))
            return request.getHeader(b"origin") == b"http://ok"

        self.serve(Factory.forProtocol(Echo), Options(check_origin=check))
        r = yield self.request("POST", "/0/a/xhr", headers={"Origin": "http://ok"})
        self.assertEqual((yield r.content()), b"o\n")
        r = yield self.request("POST", "/0/b/xhr", headers={"Origin": "http://no"})
        self.assertEqual(r.code, 403)
        yield r.content()
        self.assertEqual(seen, [b"http://ok", b"http://no"])


class CookieAndTransportTests(ServerMixin, TestCase):
    @defer.inlineCallbacks
    def test_jsessionid_callable_sets_its_own_cookie(self):
        def sticky(request):
            request.addCookie(b"route", b"node7", path=b"/")

        self.serve(Factory.forProtocol(Echo), Options(jsessionid=sticky))
        info = yield self.request("GET", "/info")
        self.assertTrue(json.loads((yield info.text()))["cookie_needed"])
        r = yield self.request("POST", "/0/a/xhr")
        yield r.content()
        self.assertEqual(r.headers.getRawHeaders(b"set-cookie"), [b"route=node7; Path=/"])

    @defer.inlineCallbacks
    def test_disabled_transports_are_404(self):
        self.serve(
            Factory.forProtocol(Echo),
            Options(disabled_transports=frozenset({"htmlfile", "xhr_streaming"})),
        )
        for method, path in [("GET", "/0/a/htmlfile?c=x"), ("POST", "/0/a/xhr_streaming")]:
            r = yield self.request(method, path)
            self.assertEqual(r.code, 404, path)
            yield r.content()
        r = yield self.request("POST", "/0/a/xhr")
        self.assertEqual((yield r.content()), b"o\n")


class WebsocketOptionTests(ServerMixin, TestCase):
    @defer.inlineCallbacks
    def test_user_factory_with_permessage_deflate(self):
        server_factory = WebSocketServerFactory()

        def accept(offers):
            for offer in offers:
                if isinstance(offer, PerMessageDeflateOffer):
                    return PerMessageDeflateOfferAccept(offer)

        server_factory.setProtocolOptions(perMessageCompressionAccept=accept)
        self.serve(Factory.forProtocol(Echo), Options(websocket_factory=server_factory))
        factory, connected = websocket_client(
            self.port, "/s/0/a/websocket", offers=[PerMessageDeflateOffer()]
        )
        client = yield connected
        yield factory.opened
        self.assertIsNotNone(client._perMessageCompress, "deflate was negotiated")
        yield factory.waiting
        self.assertEqual(factory.messages, ["o"])
        factory.waiting = defer.Deferred()
        client.sendMessage(json.dumps(["squeeze " * 100]).encode())
        yield factory.waiting
        self.assertEqual(factory.messages[1], "a" + json.dumps(["squeeze " * 100]))
        client.sendClose()
        yield factory.closed

    @defer.inlineCallbacks
    def test_write_timeout_drops_a_websocket_that_does_not_read(self):
        factory = Factory.forProtocol(Flood)
        factory.lost = defer.Deferred()
        # Flood queues 16 MiB in one turn: above the default queue bound,
        # which is not what this test is about.
        self.serve(factory, Options(websocket_write_timeout=0.3, max_queue_size=32 * 1024 * 1024))
        client_factory, connected = websocket_client(self.port, "/s/0/a/websocket")
        client = yield connected
        yield client_factory.opened
        client.transport.pauseProducing()  # read nothing from now on
        timeout = reactor.callLater(5, factory.lost.cancel)
        yield factory.lost
        timeout.cancel()
        self.assertEqual(self.resource.open_sessions(), [])
        client.transport.abortConnection()
        yield client_factory.closed


class Silent(Client):
    """
    A client that never answers pings.
    """

    def onPing(self, payload):
        self.factory.pings = getattr(self.factory, "pings", 0) + 1


class Answering(Client):
    def onPing(self, payload):
        self.factory.pings = getattr(self.factory, "pings", 0) + 1
        Client.onPing(self, payload)


class WebsocketHeartbeatTests(ServerMixin, TestCase):
    @defer.inlineCallbacks
    def connect(self, protocol):
        self.serve(Factory.forProtocol(Echo), Options(heartbeat_delay=0.1))
        factory, connected = websocket_client(self.port, "/s/0/a/websocket")
        factory.protocol = protocol
        client = yield connected
        yield factory.waiting  # "o"
        return factory, client

    @defer.inlineCallbacks
    def test_client_answering_pings_stays_connected(self):
        factory, client = yield self.connect(Answering)
        yield deferLater(reactor, 0.75, lambda: None)
        self.assertGreaterEqual(factory.pings, 4)
        self.assertEqual(factory.messages, ["o"], "heartbeats are pings, not h frames")
        self.assertEqual(len(self.resource.open_sessions()), 1)
        client.sendClose()
        yield factory.closed

    @defer.inlineCallbacks
    def test_client_not_answering_is_closed_with_3000(self):
        factory, client = yield self.connect(Silent)
        factory.waiting = defer.Deferred()
        timeout = reactor.callLater(5, factory.waiting.cancel)
        yield factory.waiting
        timeout.cancel()
        self.assertEqual(factory.messages, ["o", 'c[3000,"No response from heartbeat"]'])
        yield factory.closed
        self.assertEqual(self.resource.open_sessions(), [])
