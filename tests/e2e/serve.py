"""
The end-to-end tests' web server, run as a subprocess:

    python tests/e2e/serve.py --port 0                 static files only
    python tests/e2e/serve.py --port 0 --endpoints     static files and, beside
                                                       them, every endpoint of
                                                       examples/test_server.py

Static files: /harness.html (pages/), /harness.js, /sockjs.min.js and
/multiplex_client.js (sockjs-client and websocket-multiplex as installed by
npm in this folder). With --endpoints, /multiplex serves websocket-multiplex
channels too: "echo", "upper" (answers in upper case) and "my chat" (echo). The first mode is the other
origin of the cross-origin tests (and the sockjs_url the test server's iframe
page loads); the second serves the harness page from the endpoints' own origin.
Prints "listening on http://HOST:PORT" once it listens.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SOCKJS_MIN = os.path.join(HERE, "node_modules", "sockjs-client", "dist", "sockjs.min.js")
MULTIPLEX_CLIENT = os.path.join(HERE, "node_modules", "websocket-multiplex", "multiplex_client.js")

from twisted.web.pages import notFound  # noqa: E402
from twisted.web.resource import Resource  # noqa: E402
from twisted.web.server import Site  # noqa: E402
from twisted.web.static import File  # noqa: E402


def load_test_server() -> Any:
    """
    examples/test_server.py as a module (examples/ is no package).
    """
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    path = os.path.join(REPO, "examples", "test_server.py")
    spec = importlib.util.spec_from_file_location("txsockjs_e2e_test_server", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module



class Folder(Resource):
    """
    Children, and a plain 404 for anything else.
    """

    def getChild(self, path: bytes, request: Any) -> Resource:
        return notFound()


class NoCacheFile(File):
    """
    A static file the browser must not cache between test runs.
    """

    def render_GET(self, request: Any) -> Any:
        request.setHeader(b"cache-control", b"no-store")
        return super().render_GET(request)


def add_static(root: Resource) -> None:
    if not os.path.exists(SOCKJS_MIN):
        raise SystemExit(f"{SOCKJS_MIN} is missing: run scripts/install-test-deps.sh")
    root.putChild(b"sockjs.min.js", NoCacheFile(SOCKJS_MIN, defaultType="application/javascript"))
    root.putChild(
        b"harness.js", NoCacheFile(os.path.join(HERE, "harness.js"), defaultType="application/javascript")
    )
    if os.path.exists(MULTIPLEX_CLIENT):
        root.putChild(
            b"multiplex_client.js", NoCacheFile(MULTIPLEX_CLIENT, defaultType="application/javascript")
        )
    pages = os.path.join(HERE, "pages")
    for name in sorted(os.listdir(pages)):
        root.putChild(name.encode(), NoCacheFile(os.path.join(pages, name)))


def add_multiplex(root: Resource, test_server: Any, options: Any, reactor: Any) -> None:
    from twisted.internet.protocol import Factory, Protocol

    from txsockjs import SockJSResource
    from txsockjs.multiplex import MultiplexFactory

    class Upper(Protocol):
        def messageReceived(self, message: str) -> None:
            self.transport.send(message.upper())

    channels = {
        "echo": Factory.forProtocol(test_server.Echo),
        "upper": Factory.forProtocol(Upper),
        "my chat": Factory.forProtocol(test_server.Echo),
    }
    root.putChild(b"multiplex", SockJSResource(MultiplexFactory(channels, reactor), options, reactor))


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--endpoints", action="store_true", help="mount the test server's endpoints too")
    parser.add_argument("--heartbeat-delay", type=float, default=25.0)
    parser.add_argument("--disconnect-delay", type=float, default=5.0)
    args = parser.parse_args(argv)

    from twisted.internet import reactor

    if args.endpoints:
        test_server = load_test_server()
        from txsockjs import Options

        # Bind first: the iframe page must load sockjs-client from this very
        # origin, whose port is known only once listening.
        site = Site(Folder())
        port = reactor.listenTCP(args.port, site, interface=args.host)
        here = f"http://{args.host}:{port.getHost().port}"
        base = Options(
            raw_websocket=True,
            heartbeat_delay=args.heartbeat_delay,
            disconnect_delay=args.disconnect_delay,
            sockjs_url=here + "/sockjs.min.js",
        )
        site.resource = test_server.make_root(base, reactor)
        add_multiplex(site.resource, test_server, base, reactor)
    else:
        site = Site(Folder())
        port = reactor.listenTCP(args.port, site, interface=args.host)
        here = f"http://{args.host}:{port.getHost().port}"
    add_static(site.resource)
    site.noisy = False
    site.log = lambda request: None  # no access log
    print(f"listening on {here}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
