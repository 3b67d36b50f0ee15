# -*- test-case-name: tests.test_rooms -*-
"""
Rooms: named groups of sessions that a message reaches in every process.

Each process keeps its own members of each room and subscribes to the room's
bus channel while it has any; a message published to a room goes through the
bus (so every process gets it once) and each process hands it to its local
members with L{txsockjs.broadcast}, the frame encoded once.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set

from twisted.internet import defer

from .broadcast import broadcast
from .bus import IMessageBus, ISubscription, MemoryBus
from .session import SessionState

__all__ = ["Rooms"]


class _Room:
    __slots__ = ("members", "subscription", "subscribing")

    def __init__(self) -> None:
        self.members: Dict[Any, None] = {}  # ordered set
        self.subscription: Optional[ISubscription] = None
        self.subscribing: Optional[defer.Deferred] = None


class Rooms:
    """
    The rooms of one application in this process, over C{bus}::

        rooms = Rooms(bus)
        rooms.join("lobby", self.transport)        # in connectionMade
        rooms.publish("lobby", "hello")            # everyone, every process
        rooms.leave_all(self.transport)            # in connectionLost

    Members are sessions (anything with C{send_encoded} and C{state}, as
    L{txsockjs.Session}); a member that closed is dropped at the next message
    even if nobody called C{leave}.

    @ivar bus: the L{IMessageBus} the rooms travel on.
    """

    def __init__(self, bus: Optional[IMessageBus] = None, namespace: str = "room:") -> None:
        self.bus: IMessageBus = bus if bus is not None else MemoryBus()
        self._namespace = namespace
        self._rooms: Dict[str, _Room] = {}
        self._joined: Dict[Any, Set[str]] = {}

    def join(self, room: str, session: Any) -> defer.Deferred:
        """
        Add C{session} to C{room}. Fires once the room's messages from any
        process reach it (at once if this process was in the room already).
        """
        state = self._rooms.get(room)
        if state is None:
            state = self._rooms[room] = _Room()
        state.members[session] = None
        self._joined.setdefault(session, set()).add(room)
        if state.subscription is not None:
            return defer.succeed(None)
        pending = state.subscribing
        if pending is None:
            pending = state.subscribing = self.bus.subscribe(
                self._namespace + room, lambda message: self._deliver(room, message)
            )
            pending.addCallback(self._subscribed, room, state)
            if state.subscription is not None:
                return defer.succeed(None)  # it subscribed at once
        waiter: defer.Deferred = defer.Deferred()
        pending.addBoth(lambda r: (waiter.callback(None), r)[1])
        return waiter

    def _subscribed(self, subscription: ISubscription, room: str, state: _Room) -> ISubscription:
        state.subscribing = None
        if self._rooms.get(room) is not state:
            # everyone left while it was being made
            self.bus.unsubscribe(subscription)
        else:
            state.subscription = subscription
        return subscription

    def leave(self, room: str, session: Any) -> None:
        """
        Take C{session} out of C{room}; the last one out unsubscribes.
        """
        rooms = self._joined.get(session)
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._joined[session]
        state = self._rooms.get(room)
        if state is None:
            return
        state.members.pop(session, None)
        if not state.members:
            del self._rooms[room]
            if state.subscription is not None:
                self.bus.unsubscribe(state.subscription)

    def leave_all(self, session: Any) -> None:
        """
        Take C{session} out of every room (call it from C{connectionLost}).
        """
        for room in list(self._joined.get(session, ())):
            self.leave(room, session)

    def members(self, room: str) -> List[Any]:
        """
        This process's open members of C{room}.
        """
        state = self._rooms.get(room)
        if state is None:
            return []
        return [s for s in state.members if s.state is SessionState.OPEN]

    def rooms_of(self, session: Any) -> Set[str]:
        return set(self._joined.get(session, ()))

    def publish(self, room: str, message: str) -> defer.Deferred:
        """
        Send C{message} to every member of C{room} in every process; see
        L{IMessageBus.publish} for what the Deferred says.
        """
        if type(message) is not str:
            raise TypeError("SockJS messages are str")
        return self.bus.publish(self._namespace + room, message)

    def send_local(self, room: str, message: str) -> None:
        """
        Send C{message} to this process's members of C{room} only.
        """
        self._deliver(room, message)

    def _deliver(self, room: str, message: str) -> None:
        state = self._rooms.get(room)
        if state is None:
            return
        closed = [s for s in state.members if s.state is SessionState.CLOSED]
        for session in closed:
            self.leave(room, session)
        broadcast(list(state.members), message)
