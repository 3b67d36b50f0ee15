"""
Several channels over one SockJS connection, with the websocket-multiplex
client (https://github.com/sockjs/websocket-multiplex).

    python examples/multiplex.py            # then open http://127.0.0.1:8080/

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

import sys
import time

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import LoopingCall
from twisted.protocols.wire import Echo
from twisted.web.resource import Resource
from twisted.web.static import Data

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
<script src="https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js"></script>
<script src="https://cdn.jsdelivr.net/npm/websocket-multiplex@0.1.0/multiplex_client.js"></script>
</head><body>
<form id="f"><input id="text" value="hello, world"> <button>send to echo and shout</button></form>
<pre id="log"></pre>
<script>
var log = function (line) {
  document.getElementById('log').textContent += line + '\\n';
};
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


def main() -> None:
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.web.server import Site

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    root = Resource()
    root.putChild(b"", Data(PAGE, "text/html; charset=utf-8"))
    root.putChild(b"multiplex", SockJSResource(factory))
    reactor.listenTCP(8080, Site(root), interface="127.0.0.1")
    reactor.run()


if __name__ == "__main__":
    main()
