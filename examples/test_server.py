"""
The standard SockJS test endpoints, for conformance suites, real clients and
benchmarks.

    python examples/test_server.py --port 8081

serves on 127.0.0.1:8081:

    /echo                     echo every message (response_limit 4096)
    /close                    close every new session with 3000 "Go away!"
    /disabled_websocket_echo  echo, websockets off
    /cookie_needed_echo       echo, JSESSIONID cookie on
    /amplify                  message "N" answers 2**N "x" (N clamped to 1..19)
    /broadcast                every message goes to every open session
    /_stats                   JSON: open connections and sessions per endpoint
                              (for the hostile-client tests; not SockJS)
    /metrics                  Prometheus metrics (when prometheus_client is
                              installed; --no-metrics turns them off)

Every endpoint also serves the raw websocket (/echo/websocket, ...); the
echo endpoints answer a binary message with a binary one, the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import Any, Dict

try:
    import txsockjs  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, __file__.rsplit("/examples/", 1)[0])

from twisted.internet.protocol import Factory, Protocol
from twisted.web.resource import Resource

from txsockjs import Options, SockJSResource, SockJSSite, broadcast


class Echo(Protocol):
    def messageReceived(self, message: str) -> None:
        self.transport.send(message)

    def binaryReceived(self, data: bytes) -> None:
        # only the raw websocket carries binary messages
        self.transport.write_binary(data)


class Close(Protocol):
    def connectionMade(self) -> None:
        self.transport.close(3000, "Go away!")


class Amplify(Protocol):
    def messageReceived(self, message: str) -> None:
        try:
            n = int(message)
        except ValueError:
            n = 1
        self.transport.send("x" * 2 ** min(max(n, 1), 19))


class Broadcast(Protocol):
    def messageReceived(self, message: str) -> None:
        broadcast(self.factory.resource.open_sessions(), message)


class QuietSite(SockJSSite):
    """
    A Site that writes no access log (as sockjs-node does by default).
    """

    def log(self, request: Any) -> None:
        pass


def make_root(base: Options | None = None, reactor: Any = None) -> Resource:
    """
    A resource tree with every test endpoint; C{base} carries options shared
    by all of them (heartbeat delay, sockjs_url, ...).
    """
    if base is None:
        base = Options(raw_websocket=True)
    endpoints: Dict[bytes, tuple] = {
        b"echo": (Echo, replace(base, response_limit=4096)),
        b"close": (Close, base),
        b"disabled_websocket_echo": (Echo, replace(base, websocket=False)),
        b"cookie_needed_echo": (Echo, replace(base, jsessionid=True)),
        b"amplify": (Amplify, base),
        b"broadcast": (Broadcast, base),
    }
    root = Resource()
    resources = {}
    for name, (protocol, options) in endpoints.items():
        factory = Factory.forProtocol(protocol)
        factory.resource = SockJSResource(factory, options, reactor)
        root.putChild(name, factory.resource)
        resources[name.decode()] = factory.resource
    root.putChild(b"_stats", _Stats(resources))
    #: the endpoints by the label their metrics get
    root.endpoints = {"/" + name: r for name, r in resources.items()}  # type: ignore[attr-defined]
    return root


class _Stats(Resource):
    """
    How many sessions each endpoint holds and how many connections the site
    has: what the hostile-client tests check is back to zero.
    """

    isLeaf = True

    def __init__(self, resources: Dict[str, SockJSResource]) -> None:
        Resource.__init__(self)
        self.resources = resources

    def render_GET(self, request: Any) -> bytes:
        site = request.channel.site
        stats = {
            "sessions": {
                name: len(r.sessions) + len(r.websocket_sessions)
                for name, r in self.resources.items()
            },
            "connections": getattr(site, "connections", None),
            "evictions": getattr(site, "evictions", None),
            "refusals": getattr(site, "refusals", None),
        }
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(stats).encode()


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--backlog",
        type=int,
        default=511,
        help="listen backlog (default 511, as Node's; Twisted's own is 50, which "
        "drops connections when thousands reconnect at once)",
    )
    parser.add_argument("--heartbeat-delay", type=float, default=25.0)
    parser.add_argument("--disconnect-delay", type=float, default=5.0)
    parser.add_argument("--sockjs-url", default=Options.sockjs_url)
    parser.add_argument("--verbose", action="store_true", help="log to stdout")
    # HTTP limits (0 turns one off; default: Options' own)
    parser.add_argument("--max-body-size", type=int, default=None)
    parser.add_argument("--header-timeout", type=float, default=None)
    parser.add_argument("--idle-timeout", type=float, default=None)
    parser.add_argument("--max-connections", type=int, default=None)
    parser.add_argument("--max-sessions", type=int, default=None)
    parser.add_argument(
        "--write-timeout",
        type=float,
        default=None,
        help="websocket and streaming write timeout in seconds (0: none)",
    )
    parser.add_argument(
        "--max-message-size",
        type=int,
        default=None,
        help="largest incoming websocket message in bytes (0: no limit)",
    )
    parser.add_argument(
        "--response-limit",
        type=int,
        default=None,
        help="streaming response limit of every endpoint but /echo (4096)",
    )
    parser.add_argument(
        "--max-queue-size",
        type=int,
        default=None,
        help="characters one session may hold for its client (default: Options' own)",
    )
    parser.add_argument("--no-metrics", action="store_true", help="do not serve /metrics")
    args = parser.parse_args(argv)

    from twisted.internet import reactor
    from twisted.internet.error import CannotListenError

    if args.verbose:
        from twisted.python import log

        log.startLogging(sys.stdout)
    http_limits: Dict[str, Any] = {
        name: (value or None)
        for name in (
            "max_body_size",
            "header_timeout",
            "idle_timeout",
            "max_connections",
            "max_sessions",
        )
        for value in [getattr(args, name)]
        if value is not None
    }
    limits: Dict[str, Any] = dict(http_limits)
    if args.write_timeout is not None:
        limits["websocket_write_timeout"] = args.write_timeout or None
        limits["streaming_write_timeout"] = args.write_timeout or None
    if args.max_message_size is not None:
        limits["max_message_size"] = args.max_message_size or None
    if args.max_queue_size is not None:
        limits["max_queue_size"] = args.max_queue_size
    if args.response_limit is not None:
        limits["response_limit"] = args.response_limit
    if not args.no_metrics:
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            print("test_server: no prometheus_client, no /metrics", file=sys.stderr)
        else:
            limits["metrics_path"] = "/metrics"
    base = Options(
        raw_websocket=True,
        heartbeat_delay=args.heartbeat_delay,
        disconnect_delay=args.disconnect_delay,
        sockjs_url=args.sockjs_url,
        **limits,
    )
    root = make_root(base, reactor)
    site = (SockJSSite if args.verbose else QuietSite)(root, base, reactor=reactor)
    site.endpoints.update(root.endpoints)
    site.noisy = False
    try:
        port = reactor.listenTCP(args.port, site, interface=args.host, backlog=args.backlog)
    except CannotListenError as e:
        sys.exit(
            f"test_server: cannot listen on {args.host}:{args.port} ({e.socketError}); "
            "is another server there? Pick another port with --port"
        )
    # Ctrl-C, SIGTERM: every session gets c[1001,"Server shutting down"]
    # while the port still listens (as twistd sockjs does)
    from txsockjs.health import close_sessions

    endpoints = [r for r in root.children.values() if isinstance(r, SockJSResource)]

    reactor.addSystemEventTrigger(
        "before", "shutdown", close_sessions, endpoints, reactor, 3.0
    )
    # once running: Ctrl-C and SIGTERM are handled from here on
    reactor.callWhenRunning(print, f"txsockjs test server on http://{args.host}:{port.getHost().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
