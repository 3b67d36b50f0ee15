"""
SockJSFactory: a ready Site that owns its application factory's life.
"""

import warnings

import treq
from twisted.internet import defer, reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import TestCase
from twisted.web.client import HTTPConnectionPool

from txsockjs import Options, SockJSFactory


class Echo(Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


class Recording(Factory):
    protocol = Echo

    def __init__(self):
        self.events = []

    def startFactory(self):
        self.events.append("start")

    def stopFactory(self):
        self.events.append("stop")


class SockJSFactoryTests(TestCase):
    @defer.inlineCallbacks
    def test_site_serves_prefix_and_owns_the_factory(self):
        app = Recording()
        site = SockJSFactory(app, Options(), prefix="/a/echo")
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.assertEqual(app.events, ["start"])
        pool = HTTPConnectionPool(reactor, persistent=False)
        base = "http://127.0.0.1:%d" % port.getHost().port
        r = yield treq.post(base + "/a/echo/0/s/xhr", pool=pool)
        self.assertEqual((yield r.content()), b"o\n")
        r = yield treq.post(base + "/a/echo/0/s/xhr_send", b'["hi"]', pool=pool)
        self.assertEqual(r.code, 204)
        yield r.content()
        r = yield treq.post(base + "/a/echo/0/s/xhr", pool=pool)
        self.assertEqual((yield r.content()), b'a["hi"]\n')
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            for path in ("/nothing", "/a", "/a/other"):
                r = yield treq.get(base + path, pool=pool)
                self.assertEqual(r.code, 404, path)
                yield r.content()
        session = site.sockjs.sessions.get("s")
        yield port.stopListening()
        self.assertEqual(app.events, ["start", "stop"])
        self.assertEqual(session.close_reason, (1001, "Server shutting down"))
        self.assertEqual(len(site.sockjs.sessions), 0)

    @defer.inlineCallbacks
    def test_root_prefix(self):
        site = SockJSFactory(Recording(), prefix="/")
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        pool = HTTPConnectionPool(reactor, persistent=False)
        r = yield treq.get("http://127.0.0.1:%d/info" % port.getHost().port, pool=pool)
        self.assertEqual(r.code, 200)
        self.assertIn(b'"websocket":true', (yield r.content()))
