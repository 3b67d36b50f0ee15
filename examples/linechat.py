"""
A LineReceiver chat, served unchanged over raw TCP and over SockJS at once:
telnet users and browser users share one room.

    python examples/linechat.py            [--host 127.0.0.1] [--port 8080] [--tcp-port 8023]
    telnet 127.0.0.1 8023

and, in a page that loads sockjs-client::

    var sock = new SockJS("http://127.0.0.1:8080/chat");
    sock.onmessage = function (e) { console.log(e.data.replace(/\\r\\n$/, "")); };
    sock.send("hello\\r\\n");      // the protocol's delimiter ends each line

The protocol knows nothing of SockJS. Each SockJS message reaches it as one
dataReceived() call, so a browser client ends each message with the
delimiter (CRLF for LineReceiver); each sendLine() reaches the browser as
one message, delimiter included.

--listen takes any endpoint description and may repeat; the sockjs: endpoint
(txsockjs.endpoints) serves the same factory over SockJS:

    python examples/linechat.py --listen tcp:8023 \\
        --listen 'sockjs:tcp:8080:interface=127.0.0.1:prefix=/chat'

With twistd (SockJS only): twistd -n sockjs --handler=linechat.factory
--prefix=/chat, with examples/ on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, List, Set

from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import Factory
from twisted.logger import globalLogBeginner, textFileLogObserver
from twisted.protocols.basic import LineReceiver


class ChatProtocol(LineReceiver):
    """
    One member of the room: every line it sends goes to everybody,
    prefixed with its name.
    """

    MAX_LENGTH = 4096

    def connectionMade(self) -> None:
        self.name = self.factory.new_name()
        self.factory.members.add(self)
        self.sendLine(b"* you are " + self.name)
        self.factory.say(b"* " + self.name + b" joined", but=self)

    def lineReceived(self, line: bytes) -> None:
        if line:
            self.factory.say(b"<" + self.name + b"> " + line)

    def connectionLost(self, reason: object = None) -> None:
        if self in self.factory.members:
            self.factory.members.discard(self)
            self.factory.say(b"* " + self.name + b" left")


class ChatFactory(Factory):
    """
    The room: one factory shared by every way in.
    """

    protocol = ChatProtocol

    def __init__(self) -> None:
        self.members: Set[ChatProtocol] = set()
        self._count = 0

    def new_name(self) -> bytes:
        self._count += 1
        return b"user%d" % self._count

    def say(self, line: bytes, but: object = None) -> None:
        for member in list(self.members):
            if member is not but:
                member.sendLine(line)


#: for twistd sockjs --handler=linechat.factory
factory = ChatFactory()


def listen(reactor, descriptions: List[str], chat: ChatFactory):
    """
    Listen with C{chat} on every endpoint description; fires with the ports.
    """
    from twisted.internet.defer import gatherResults

    return gatherResults(
        [serverFromString(reactor, d).listen(chat) for d in descriptions],
        consumeErrors=True,
    )


def _why(failure: Any) -> str:
    """
    One line for a failure to listen.
    """
    error = failure.value
    if isinstance(error, CannotListenError):
        return (
            f"cannot listen on {error.interface or '*'}:{error.port} ({error.socketError}); "
            "is another server there? Pick other ports with --port and --tcp-port"
        )
    return failure.getErrorMessage()


def start(reactor: Any, descriptions: List[str], chat: ChatFactory) -> defer.Deferred:
    """
    Listen on every description, or on none: when one fails, the ports
    already listening are closed, and the Deferred fails with one line
    saying which description failed and why.
    """
    results = []
    for description in descriptions:
        try:
            results.append(serverFromString(reactor, description).listen(chat))
        except Exception as e:  # a description that does not parse
            results.append(defer.fail(e))

    def check(outcomes: list) -> Any:
        ports = [value for ok, value in outcomes if ok]
        for (ok, value), description in zip(outcomes, descriptions):
            if not ok:
                message = f"{description}: {_why(value)}"
                stopped = defer.gatherResults([defer.maybeDeferred(p.stopListening) for p in ports])
                return stopped.addBoth(lambda _: defer.fail(ValueError(message)))
        return ports

    return defer.DeferredList(results, consumeErrors=True).addCallback(check)


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface of both ports [default: 127.0.0.1]")
    parser.add_argument("--port", type=int, default=8080, help="the SockJS (HTTP) port [default: 8080]")
    parser.add_argument("--tcp-port", type=int, default=8023, help="the raw TCP (telnet) port [default: 8023]")
    parser.add_argument(
        "--listen",
        action="append",
        help="an endpoint description; may repeat; replaces --port and --tcp-port",
    )
    args = parser.parse_args(argv)
    descriptions = args.listen or [
        f"tcp:{args.tcp_port}:interface={args.host}",
        f"sockjs:tcp:{args.port}:interface={args.host}:prefix=/chat",
    ]
    from twisted.internet import reactor

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)], redirectStandardIO=False)
    status = []

    def listening(ports: list) -> None:
        for description, port in zip(descriptions, ports):
            print(f"linechat: {description} listening on {port.getHost()}", flush=True)

        # SIGTERM, Ctrl-C: the SockJS port closes its sessions first
        # (c[1001,"Server shutting down"]), then every port stops.
        def stop() -> defer.Deferred:
            return defer.gatherResults([defer.maybeDeferred(p.stopListening) for p in ports])

        reactor.addSystemEventTrigger("before", "shutdown", stop)

    def failed(failure: Any) -> None:
        print(f"linechat: {failure.getErrorMessage()}", file=sys.stderr, flush=True)
        status.append(1)
        reactor.stop()

    reactor.callWhenRunning(lambda: start(reactor, descriptions, factory).addCallbacks(listening, failed))
    reactor.run()
    sys.exit(status[0] if status else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
