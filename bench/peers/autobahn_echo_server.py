"""Plain Autobahn-on-Twisted websocket server: the limit line of the txsockjs benchmark.

No SockJS framing. ws://127.0.0.1:PORT/echo echoes every message, ws://127.0.0.1:PORT/broadcast sends every
message to every open connection (frame built once with prepareMessage), GET /info answers a small JSON body
like a SockJS /info. Epoll reactor, Autobahn's default protocol options, logging off.

Usage: python autobahn_echo_server.py --port PORT
"""
import argparse
import json
import random
import signal

from twisted.internet import epollreactor

epollreactor.install()

from autobahn.twisted.resource import WebSocketResource  # noqa: E402
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol  # noqa: E402
from twisted.internet import reactor  # noqa: E402
from twisted.web.resource import Resource  # noqa: E402
from twisted.web.server import Site  # noqa: E402


class EchoProtocol(WebSocketServerProtocol):
    def onMessage(self, payload, isBinary):
        self.sendMessage(payload, isBinary)


class BroadcastProtocol(WebSocketServerProtocol):
    def onOpen(self):
        self.factory.members.add(self)

    def onMessage(self, payload, isBinary):
        prepared = self.factory.prepareMessage(payload, isBinary)
        for member in self.factory.members:
            member.sendPreparedMessage(prepared)

    def onClose(self, wasClean, code, reason):
        self.factory.members.discard(self)


class Info(Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"application/json; charset=UTF-8")
        request.setHeader(b"cache-control", b"no-store, no-cache, no-transform, must-revalidate, max-age=0")
        request.setHeader(b"access-control-allow-origin", b"*")
        body = {"websocket": True, "cookie_needed": False, "origins": ["*:*"],
                "entropy": random.randint(0, 2**32 - 1)}
        return json.dumps(body).encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    echo = WebSocketServerFactory("ws://127.0.0.1:%d" % args.port)
    echo.protocol = EchoProtocol
    bcast = WebSocketServerFactory("ws://127.0.0.1:%d" % args.port)
    bcast.protocol = BroadcastProtocol
    bcast.members = set()

    root = Resource()
    root.putChild(b"echo", WebSocketResource(echo))
    root.putChild(b"broadcast", WebSocketResource(bcast))
    root.putChild(b"info", Info())
    site = Site(root)
    site.noisy = False
    site.log = lambda request: None  # no access log
    reactor.listenTCP(args.port, site, interface="127.0.0.1")
    signal.signal(signal.SIGTERM, lambda *a: reactor.callFromThread(reactor.stop))
    print("listening on 127.0.0.1:%d" % args.port, flush=True)
    reactor.run(installSignalHandlers=False)


if __name__ == "__main__":
    main()
