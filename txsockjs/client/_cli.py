"""
C{python -m txsockjs.client URL [--transport NAME]}: poke a SockJS server.

Prints C{open TRANSPORT}, sends each line of standard input as one message,
prints each message received on a line of its own, and C{close CODE REASON}
when the session ends. Exit status: 0 after a normal close (1000, 3000-4999,
or standard input ended), 1 when no transport could connect or the session
was lost.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType
from typing import Dict, List, Optional

from twisted.internet import defer, stdio, task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IHalfCloseableProtocol,
    IReactorFromThreads,
    IReactorTCP,
    IReactorTime,
)
from twisted.internet.protocol import Protocol
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from ._connect import TRANSPORTS
from ._endpoint import SockJSClientEndpoint
from ._errors import SockJSCloseDone
from ._session import ClientSession

__all__ = ["main", "parse_args"]


class _IReactor(IReactorTCP, IReactorTime, IReactorFromThreads):
    """
    What the command uses of the reactor C{task.react} runs it with.
    """


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m txsockjs.client",
        description="Connect to a SockJS endpoint; stdin lines are sent, messages are printed.",
    )
    parser.add_argument("url", help="the endpoint's base URL, e.g. http://127.0.0.1:8081/echo")
    parser.add_argument(
        "--transport",
        action="append",
        choices=TRANSPORTS,
        help="a transport to try (repeat for several, in order); default: all, websocket first",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to connect (default 10)")
    parser.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=None,
        help="close when the server is silent this long (default: never)",
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=0.5,
        help="seconds to keep printing answers after stdin ends (default 0.5)",
    )
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="an extra HTTP header (repeatable)",
    )
    return parser.parse_args(argv)


@implementer(IHalfCloseableProtocol)
class _Terminal(LineReceiver):
    """
    Standard input and output: lines in become messages out.
    """

    delimiter = b"\n"
    MAX_LENGTH = 16 * 1024 * 1024

    def __init__(self, session: ClientSession, linger: float, clock: IReactorTime) -> None:
        self.session = session
        self.linger = linger
        self.clock = clock
        self.done: Deferred[None] = Deferred()

    def lineReceived(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        try:
            self.session.send(line.decode("utf-8", "replace"))
        except Exception:
            pass  # closed already: the close line tells why

    def show(self, text: str) -> None:
        if self.transport is not None:
            self.transport.write(text.encode("utf-8", "backslashreplace") + b"\n")

    def readConnectionLost(self) -> None:
        # stdin ended: what was sent is delivered first, answers may follow
        self.clock.callLater(self.linger, self.session.close, 1000, "Normal closure")

    def writeConnectionLost(self) -> None:
        self.session.close()

    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        if not self.done.called:
            self.done.callback(None)


class _Printer(Protocol):
    """
    The application protocol on the SockJS session: prints messages.
    """

    def __init__(self) -> None:
        self.terminal: Optional[_Terminal] = None
        self.buffer: List[str] = []

    def messageReceived(self, message: str) -> None:
        if self.terminal is None:
            self.buffer.append(message)
        else:
            self.terminal.show(message)


async def _run(reactor: _IReactor, args: argparse.Namespace) -> None:
    headers: Dict[str, str] = {}
    for header in args.header:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    try:
        endpoint = SockJSClientEndpoint(
            reactor,
            args.url,
            args.transport,
            timeout=args.timeout,
            heartbeat_timeout=args.heartbeat_timeout,
            headers=headers,
        )
    except ValueError as e:
        sys.stderr.write(f"txsockjs.client: {e}\n")
        raise SystemExit(2)
    try:
        session = await endpoint.open_session()
    except Exception as e:
        sys.stderr.write(f"txsockjs.client: cannot connect: {e}\n")
        raise SystemExit(1)
    printer = _Printer()
    session.attach(printer)
    terminal = _Terminal(session, args.linger, reactor)
    io = stdio.StandardIO(terminal, reactor=reactor)
    terminal.show(f"open {session.transport_name}")
    printer.terminal = terminal
    for message in printer.buffer:
        terminal.show(message)
    # Ctrl-C closes the session properly (a second one stops at once)
    previous = signal.getsignal(signal.SIGINT)

    def interrupted(signum: int, frame: Optional[FrameType]) -> None:
        signal.signal(signal.SIGINT, previous)
        reactor.callFromThread(session.close, 1000, "Normal closure")

    signal.signal(signal.SIGINT, interrupted)
    ending = await session.closed
    terminal.show(f"close {ending.code} {ending.reason}")
    io.loseConnection()
    # give the last lines a moment to reach a slow reader
    await defer.DeferredList([terminal.done], fireOnOneCallback=True).addTimeout(5, reactor).addErrback(
        lambda f: None
    )
    raise SystemExit(0 if isinstance(ending, SockJSCloseDone) else 1)


def main(argv: Optional[List[str]] = None) -> None:
    """
    Run the command line client (exits the process).
    """
    args = parse_args(argv)
    task.react(lambda reactor: defer.ensureDeferred(_run(reactor, args)))
