# -*- test-case-name: tests.test_bus -*-
"""
Rooms: named groups of sessions that a message reaches in every process.

Each L{Rooms} holds B{one} bus subscription, to the channel named by its
C{namespace}, made when it is created: a room's messages travel on that one
channel with the room's name inside the payload, and each process hands each
message to its own members of that room with L{txsockjs.broadcast}, the frame
encoded once.

Why one subscription made up front, and not one per room made at the first
local join: a subscription to a broker completes later (a Redis C{SUBSCRIBE}
round trip), so a room subscribed at the first join misses whatever the other
processes publish in between, although the session already got its open
frame. With the subscription made at start (and the health check answering
503 until the bus says it is live, see L{txsockjs.health.Health}), nothing
published after a session joined is missed for timing. The price: every
process receives every room's messages of the namespace and drops those of
rooms it has no member in (a dictionary look-up each).

The payload (version 1), a C{str}::

    1:<length of the room name, decimal, in code points>:<room><message>

e.g. C{1:5:lobbyhello} is C{hello} for room C{lobby}. A payload of another
version or malformed is logged and dropped.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from .broadcast import broadcast
from .bus import IMessageBus, ISubscription, MemoryBus
from .session import Session, SessionState

__all__ = ["Rooms", "encode_room_message", "decode_room_message"]

_log = Logger()

WIRE_VERSION = "1"


def encode_room_message(room: str, message: str) -> str:
    """
    The bus payload that carries C{message} for C{room} (version 1).
    """
    return f"{WIRE_VERSION}:{len(room)}:{room}{message}"


def decode_room_message(payload: str) -> Tuple[str, str]:
    """
    C{(room, message)} from a payload of L{encode_room_message}.

    @raise ValueError: another version, or malformed.
    """
    version, sep, rest = payload.partition(":")
    if version != WIRE_VERSION or not sep:
        raise ValueError(f"unknown room payload version {version[:10]!r}")
    size, sep, rest = rest.partition(":")
    if not sep or not size.isdigit() or int(size) > len(rest):
        raise ValueError("malformed room payload")
    n = int(size)
    return rest[:n], rest[n:]


class Rooms:
    """
    The rooms of one application in this process, over C{bus}::

        rooms = Rooms(bus)                         # when the factory is made
        rooms.join("lobby", self.transport)        # in connectionMade
        rooms.publish("lobby", "hello")            # everyone, every process
        rooms.leave_all(self.transport)            # in connectionLost

    Make it when the process starts (with the factory), not per session: it
    subscribes at once, and the health check waits for the bus to be live.
    Members are sessions (anything with C{send_encoded} and C{state}, as
    L{txsockjs.Session}); a member that closed is dropped at the next message
    even if nobody called C{leave}.

    @ivar bus: the L{IMessageBus} the rooms travel on.
    @ivar channel: the one bus channel of these rooms (the C{namespace}).
    @ivar ready: C{True} once the subscription is live (messages published
        by any process from then on arrive).
    """

    def __init__(self, bus: Optional[IMessageBus] = None, namespace: str = "rooms") -> None:
        self.bus: IMessageBus = bus if bus is not None else MemoryBus()
        self.channel = namespace
        self.ready = False
        self._rooms: Dict[str, Dict[Session, None]] = {}  # room -> ordered set of members
        self._joined: Dict[Session, Set[str]] = {}
        self._subscription: Optional[ISubscription] = None
        self._waiters: List[Deferred[None]] = []
        self._closed = False
        d = self.bus.subscribe(self.channel, self._received)
        d.addCallback(self._subscribed)
        d.addErrback(lambda f: _log.failure("Rooms {channel!r}: subscribing failed", f, channel=self.channel))

    def _subscribed(self, subscription: ISubscription) -> Deferred[None]:
        if self._closed:
            return self.bus.unsubscribe(subscription)
        self._subscription = subscription
        when_ready = getattr(self.bus, "when_ready", None)
        d = defer.maybeDeferred(when_ready) if when_ready is not None else defer.succeed(None)
        return d.addCallback(self._live)

    def _live(self, _: object) -> None:
        if self._closed:
            return
        self.ready = True
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)

    def when_ready(self) -> Deferred[None]:
        """
        Fires once the subscription is live (at once if it is).
        """
        if self.ready:
            return defer.succeed(None)
        d: Deferred[None] = Deferred()
        self._waiters.append(d)
        return d

    def join(self, room: str, session: Session) -> Deferred[None]:
        """
        Add C{session} to C{room}. Fires once the room's messages from any
        process reach it: at once when the subscription is live (it is made
        when the L{Rooms} is, so it normally is).
        """
        self._rooms.setdefault(room, {})[session] = None
        self._joined.setdefault(session, set()).add(room)
        return self.when_ready()

    def leave(self, room: str, session: Session) -> None:
        """
        Take C{session} out of C{room}.
        """
        rooms = self._joined.get(session)
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._joined[session]
        members = self._rooms.get(room)
        if members is None:
            return
        members.pop(session, None)
        if not members:
            del self._rooms[room]

    def leave_all(self, session: Session) -> None:
        """
        Take C{session} out of every room (call it from C{connectionLost}).
        """
        for room in list(self._joined.get(session, ())):
            self.leave(room, session)

    def members(self, room: str) -> List[Session]:
        """
        This process's open members of C{room}.
        """
        return [s for s in self._rooms.get(room, ()) if s.state is SessionState.OPEN]

    def rooms_of(self, session: Session) -> Set[str]:
        return set(self._joined.get(session, ()))

    def publish(self, room: str, message: str) -> Deferred[bool]:
        """
        Send C{message} to every member of C{room} in every process; see
        L{IMessageBus.publish} for what the Deferred says.
        """
        if type(message) is not str or type(room) is not str:
            raise TypeError("room names and SockJS messages are str")
        return self.bus.publish(self.channel, encode_room_message(room, message))

    def send_local(self, room: str, message: str) -> None:
        """
        Send C{message} to this process's members of C{room} only.
        """
        self._deliver(room, message)

    def close(self) -> Deferred[None]:
        """
        Drop the subscription (the members stay; nothing reaches them from
        the bus any more).
        """
        self._closed = True
        self.ready = False
        subscription, self._subscription = self._subscription, None
        if subscription is None:
            return defer.succeed(None)
        return self.bus.unsubscribe(subscription)

    def _received(self, payload: str) -> None:
        try:
            room, message = decode_room_message(payload)
        except ValueError as e:
            _log.warn("Rooms {channel!r}: dropped a message: {e}", channel=self.channel, e=e)
            return
        self._deliver(room, message)

    def _deliver(self, room: str, message: str) -> None:
        members = self._rooms.get(room)
        if members is None:
            return
        closed = [s for s in members if s.state is SessionState.CLOSED]
        for session in closed:
            self.leave(room, session)
        members = self._rooms.get(room)
        if members:
            broadcast(list(members), message)
