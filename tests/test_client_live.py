"""
The SockJS client against txsockjs (examples/test_server.py, a subprocess on
127.0.0.1) over every client transport, and a real websocket failure that
makes the client fall back.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.protocol import Factory
from twisted.protocols.policies import WrappingFactory
from twisted.trial import unittest
from twisted.web.resource import Resource
from twisted.web.server import Site

from txsockjs import Options, SockJSResource
from txsockjs.client import SockJSClientEndpoint

from ._client_support import LiveClientTests, Recorder, stop_shared_servers
from .test_tap import wait_until


def tearDownModule() -> None:
    stop_shared_servers()


class WebsocketTests(LiveClientTests, unittest.TestCase):
    transport = "websocket"


class XHRStreamingTests(LiveClientTests, unittest.TestCase):
    transport = "xhr-streaming"


class XHRPollingTests(LiveClientTests, unittest.TestCase):
    transport = "xhr-polling"


class JSON(Resource):
    isLeaf = True

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.body = json.dumps(value).encode()

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"application/json; charset=UTF-8")
        return self.body


class BlockedWebsocketTests(unittest.TestCase):
    """
    A proxy that blocks websockets though the server offers them: /info
    says yes, the websocket URL fails, and the client falls back.
    """

    timeout = 60

    @defer.inlineCallbacks
    def test_fall_back(self):
        from twisted.protocols.wire import Echo

        sockjs = SockJSResource(Factory.forProtocol(Echo), Options(websocket=False), reactor)

        class Lying(Resource):
            def getChild(self, name: bytes, request: Any) -> Any:
                if name == b"info":
                    return JSON({"websocket": True, "cookie_needed": False, "origins": ["*:*"], "entropy": 1})
                request.prepath.pop()
                request.postpath.insert(0, name)
                return sockjs

        root = Resource()
        root.putChild(b"echo", Lying())
        # WrappingFactory keeps the server's connections, to drop them all at the end
        wrapping = WrappingFactory(Site(root))
        port = reactor.listenTCP(0, wrapping, interface="127.0.0.1")

        @defer.inlineCallbacks
        def stop():
            sockjs.shutdown()
            yield port.stopListening()
            for protocol in list(wrapping.protocols):
                protocol.transport.abortConnection()
            yield wait_until(lambda: not wrapping.protocols)

        self.addCleanup(stop)
        url = f"http://127.0.0.1:{port.getHost().port}/echo"
        endpoint = SockJSClientEndpoint(reactor, url, ["websocket", "xhr-streaming"], timeout=10)
        client = yield endpoint.connect(Factory.forProtocol(Recorder))
        self.assertEqual(client.transport.transport_name, "xhr-streaming")
        self.assertTrue(client.transport.info.websocket)
        client.transport.write(b"fell back")
        self.assertEqual((yield client.next()), b"fell back")
        client.transport.loseConnection()
        yield client.lost
