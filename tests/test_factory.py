"""
SockJSFactory: a ready Site that owns its application factory's life,
served in memory by L{txsockjs.testing} (started and stopped as a listening
port would).
"""

import warnings

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txsockjs import Options, SockJSFactory
from txsockjs.testing import SockJSTestServer


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


class SockJSFactoryTests(SynchronousTestCase):
    def test_site_serves_prefix_and_owns_the_factory(self):
        app = Recording()
        site = SockJSFactory(app, Options(), prefix="/a/echo", reactor=Clock())
        self.assertEqual(app.events, [])
        server = SockJSTestServer.for_site(site)
        self.assertEqual(app.events, ["start"])
        self.assertEqual(server.request("POST", "/a/echo/0/s/xhr").body, b"o\n")
        self.assertEqual(server.request("POST", "/a/echo/0/s/xhr_send", body=b'["hi"]').code, 204)
        self.assertEqual(server.request("POST", "/a/echo/0/s/xhr").body, b'a["hi"]\n')
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            for path in ("/nothing", "/a", "/a/other"):
                self.assertEqual(server.request("GET", path).code, 404, path)
        session = site.sockjs.sessions.get("s")
        stream = server.open("xhr_streaming", prefix="/a/echo")
        server.stop()
        self.assertEqual(app.events, ["start", "stop"])
        self.assertEqual(session.close_reason, (1001, "Server shutting down"))
        self.assertEqual(stream.close_frame.code, 1001)
        self.assertFalse(stream.connected)
        self.assertEqual(len(site.sockjs.sessions), 0)

    def test_root_prefix(self):
        server = SockJSTestServer.for_site(SockJSFactory(Recording(), prefix="/", reactor=Clock()))
        self.addCleanup(server.stop)
        response = server.request("GET", "/info")
        self.assertEqual(response.code, 200)
        self.assertIn(b'"websocket":true', response.body)
