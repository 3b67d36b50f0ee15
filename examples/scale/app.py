"""
The handlers every backend of examples/scale serves with C{twistd sockjs}:

    twistd -n sockjs --mount /echo=app.Echo --mount /broadcast=app.broadcast \\
        --broker=redis://127.0.0.1:6379/0 --health=/health --drain-timeout=3

C{/broadcast} sends every message to every session of every backend:
C{broadcast} takes a C{bus} argument, so C{twistd sockjs} calls it with the
bus of C{--broker}; every session joins one room on that bus. The L{Rooms}
is made here, when the process starts, so that its one bus subscription is
live (health 200) before any session arrives.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.protocol import Factory, Protocol

from txsockjs.bus import IMessageBus
from txsockjs.rooms import Rooms


class Echo(Protocol):
    def messageReceived(self, message: str) -> None:
        self.transport.send(message)


class _Member(Protocol):
    """
    One session of C{/broadcast}: in the room while it is open.
    """

    rooms: Rooms

    def connectionMade(self) -> None:
        self.rooms.join("all", self.transport)

    def messageReceived(self, message: str) -> None:
        self.rooms.publish("all", message)

    def connectionLost(self, reason: Any = None) -> None:
        self.rooms.leave_all(self.transport)


def broadcast(bus: IMessageBus) -> Factory:
    """
    The /broadcast factory over C{bus}.
    """

    class Member(_Member):
        rooms = Rooms(bus)

    return Factory.forProtocol(Member)
