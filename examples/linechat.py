"""
A LineReceiver chat, served unchanged over raw TCP and over SockJS at once:
telnet users and browser users share one room.

    python examples/linechat.py
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
from typing import List, Set

from twisted.internet.endpoints import serverFromString
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


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--listen",
        action="append",
        help="an endpoint description; may repeat [default: tcp:8023 and "
        "sockjs:tcp:8080:prefix=/chat, both on 127.0.0.1]",
    )
    args = parser.parse_args(argv)
    descriptions = args.listen or [
        "tcp:8023:interface=127.0.0.1",
        "sockjs:tcp:8080:interface=127.0.0.1:prefix=/chat",
    ]
    from twisted.internet import reactor

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    d = listen(reactor, descriptions, factory)
    d.addErrback(lambda f: (print(f.getErrorMessage()), reactor.stop()))
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
