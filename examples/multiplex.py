"""
Several channels over one SockJS connection, with the websocket-multiplex
client (https://github.com/sockjs/websocket-multiplex).

    python examples/multiplex.py            # then open http://127.0.0.1:8080/
    python examples/multiplex.py --port 9000 --host 0.0.0.0

The page loads sockjs-client and websocket-multiplex from this server:
the npm copies in tests/e2e/node_modules (bash scripts/demo.sh or
scripts/install-test-deps.sh installs them) when there are some, otherwise
redirects to the CDN; it says so when they cannot be loaded.

or, with twistd (examples/ on PYTHONPATH):

    twistd -n sockjs --handler=multiplex.factory --prefix=/multiplex

Channels:
  - "echo": twisted.protocols.wire.Echo, unchanged;
  - "shout": answers each message in capitals (a text protocol: it defines
    messageReceived, so it gets str);
  - "ticker": says the time every second until the client unsubscribes.
A channel the server does not know ("nope" in the page) is refused: the
client's channel gets a close event.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

try:
    import txsockjs  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import LoopingCall
from twisted.protocols.wire import Echo
from twisted.web.resource import Resource
from twisted.web.static import Data, File
from twisted.web.util import Redirect

from txsockjs import SockJSResource
from txsockjs.multiplex import MultiplexFactory


class Shout(Protocol):
    def messageReceived(self, message: str) -> None:
        self.transport.send(message.upper())


class Ticker(Protocol):
    def connectionMade(self) -> None:
        self.clock = LoopingCall(self.tick)
        self.clock.start(1.0)

    def tick(self) -> None:
        self.transport.write(time.strftime("%H:%M:%S").encode())

    def connectionLost(self, reason: object = None) -> None:
        if self.clock.running:
            self.clock.stop()


factory = MultiplexFactory(
    {
        "echo": Factory.forProtocol(Echo),
        "shout": Factory.forProtocol(Shout),
        "ticker": Factory.forProtocol(Ticker),
    }
)

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>txsockjs multiplex</title>
<script src="/sockjs.min.js"></script>
<script src="/multiplex_client.js"></script>
</head><body>
<form id="f"><input id="text" value="hello, world"> <button>send to echo and shout</button></form>
<pre id="log"></pre>
<script>
var log = function (line) {
  document.getElementById('log').textContent += line + '\\n';
};
if (typeof SockJS === 'undefined' || typeof WebSocketMultiplex === 'undefined') {
  log('Cannot start: sockjs-client or websocket-multiplex did not load. This server has no local copy ' +
      '(npm ci in tests/e2e, or bash scripts/demo.sh, installs one), so it sent the browser to the CDN, ' +
      'which could not be reached (no internet?).');
  throw new Error('scripts missing');
}
var mux = new WebSocketMultiplex(new SockJS('/multiplex'));
['echo', 'shout', 'ticker', 'nope'].forEach(function (name) {
  var channel = mux.channel(name);
  channel.onopen = function () { log('[' + name + '] open'); };
  channel.onmessage = function (e) { log('[' + name + '] ' + e.data); };
  channel.onclose = function () { log('[' + name + '] closed'); };
  window[name] = channel;
});
setTimeout(function () { ticker.close(); }, 5500);
document.getElementById('f').onsubmit = function (e) {
  e.preventDefault();
  var text = document.getElementById('text').value;
  echo.send(text);
  shout.send(text);
};
</script></body></html>
"""


HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(os.path.dirname(HERE), "tests", "e2e", "node_modules")
#: path under node_modules, and the CDN copy of the same version
SCRIPTS = {
    b"sockjs.min.js": (
        "sockjs-client/dist/sockjs.min.js",
        "https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js",
    ),
    b"multiplex_client.js": (
        "websocket-multiplex/multiplex_client.js",
        "https://cdn.jsdelivr.net/npm/websocket-multiplex@0.1.0/multiplex_client.js",
    ),
}


def make_root(node_modules: str = NODE_MODULES) -> Resource:
    """
    The page at /, its scripts (local npm copies, or redirects to the CDN)
    and the SockJS endpoint at /multiplex.
    """
    root = Resource()
    root.putChild(b"", Data(PAGE, "text/html; charset=utf-8"))
    for name, (local, cdn) in SCRIPTS.items():
        path = os.path.join(node_modules, local)
        if os.path.exists(path):
            root.putChild(name, File(path, defaultType="application/javascript"))
        else:
            root.putChild(name, Redirect(cdn.encode()))
    root.putChild(b"multiplex", SockJSResource(factory))
    return root


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="[default: 8080; 0 for any free port]")
    parser.add_argument("--host", default="127.0.0.1", help="interface [default: 127.0.0.1]")
    args = parser.parse_args(argv)

    from twisted.internet import reactor
    from twisted.internet.error import CannotListenError
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.web.server import Site

    from txsockjs.health import close_sessions

    root = make_root()
    try:
        port = reactor.listenTCP(args.port, Site(root), interface=args.host)
    except CannotListenError as e:
        sys.exit(
            f"multiplex: cannot listen on {args.host}:{args.port} ({e.socketError}); "
            "is another server there? Pick another port with --port"
        )
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)], redirectStandardIO=False)
    # Ctrl-C, SIGTERM: close the sessions (c[1001,...]) while the port listens
    reactor.addSystemEventTrigger(
        "before", "shutdown", close_sessions, [root.children[b"multiplex"]], reactor, 3.0
    )
    address = port.getHost()
    # once running: Ctrl-C and SIGTERM are handled from here on
    reactor.callWhenRunning(print, f"multiplex demo on http://{address.host}:{address.port}/", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
