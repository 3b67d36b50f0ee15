"""
What the sessions of one endpoint share: the clock, their settings, one
heartbeat timer and one call per reactor turn that does what they put off.
"""

from __future__ import annotations

import codecs
from typing import Any, Callable, Dict, List, Optional, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall

from ._counters import EndpointCounters
from .options import DEFAULT_MAX_QUEUE_SIZE

__all__ = ["SessionHub", "HubMember"]


class HubMember(Protocol):
    """
    What the hub asks of a session. Each call is guarded by the session
    itself: what fails in it closes that session alone, and the hub goes on
    with the others.
    """

    def send_queued(self) -> None:
        """
        Send what was queued during this turn.
        """

    def deliver_kept(self) -> None:
        """
        Hand the protocol the messages kept while it had paused the session.
        """

    def tell_lost(self) -> None:
        """
        Give the protocol the C{connectionLost} it is owed.
        """

    def heartbeat(self) -> None:
        """
        Keep the session's receiver alive.
        """


class SessionHub:
    """
    What the sessions of one endpoint share: the clock, their settings, one
    heartbeat timer for all of them and one pending call that, once per
    reactor turn, sends what they queued, hands a resumed session the
    messages it buffered and tells protocols that their connection is lost.

    A session written to many times in one turn sends one frame, and no
    session needs a timer of its own.

    @ivar on_forget: called with a session once it is over and gone (its
        endpoint's registry lets go of it).
    @ivar counters: what this endpoint's sessions did (read by
        C{txsockjs.metrics}).
    """

    def __init__(
        self,
        clock: IReactorTime,
        heartbeat_delay: float = 25.0,
        disconnect_delay: float = 5.0,
        encoding: str = "utf-8",
        # (Any: the session's own class, which imports this module)
        on_forget: Optional[Callable[[Any], None]] = None,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
    ) -> None:
        self.clock = clock
        self.heartbeat_delay = heartbeat_delay
        self.disconnect_delay = disconnect_delay
        self.encoding = encoding
        self.errors = "surrogatepass" if codecs.lookup(encoding).name == "utf-8" else "strict"
        self.on_forget = on_forget
        self.max_queue_size = max_queue_size
        #: past this many queued characters a session pauses its producer
        self.high_water = max_queue_size // 2
        self.counters = EndpointCounters()
        self._dirty: List[HubMember] = []
        self._readers: List[HubMember] = []
        self._lost: List[HubMember] = []
        self._flush_call: Optional[IDelayedCall] = None
        self._beating: Dict[HubMember, None] = {}
        self._heartbeat: Optional[LoopingCall] = None

    def _next_turn(self) -> None:
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self._flush)

    def schedule_flush(self, session: HubMember) -> None:
        """
        Let C{session} send what it queues during this turn, at its end,
        as one frame.
        """
        self._dirty.append(session)
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self._flush)

    def schedule_read(self, session: HubMember) -> None:
        """
        Hand C{session}'s buffered incoming messages to its protocol in the
        next turn (it was resumed).
        """
        self._readers.append(session)
        self._next_turn()

    def schedule_lost(self, session: HubMember) -> None:
        """
        Tell C{session}'s protocol that its connection is lost in the next
        turn, as a TCP transport does: never inside the call that closed it.
        """
        self._lost.append(session)
        self._next_turn()

    def _flush(self) -> None:
        self._flush_call = None
        dirty, self._dirty = self._dirty, []
        for session in dirty:
            session.send_queued()
        if self._readers:
            readers, self._readers = self._readers, []
            for session in readers:
                session.deliver_kept()
        if self._lost:
            lost, self._lost = self._lost, []
            for session in lost:
                session.tell_lost()

    def run_pending(self) -> None:
        """
        Do now what waits for the next turn (for a shutdown, which must
        leave no timer behind): bounded, since what runs may queue more.
        """
        for _ in range(8):
            call = self._flush_call
            if call is None:
                return
            if call.active():
                call.cancel()
            self._flush()
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None

    def start_beating(self, session: HubMember) -> None:
        """
        Include C{session} in the heartbeats (it is open).
        """
        self._beating[session] = None
        if self._heartbeat is None:
            heartbeat = self._heartbeat = LoopingCall(self._beat)
            heartbeat.clock = self.clock
            heartbeat.start(self.heartbeat_delay, now=False)

    def stop_beating(self, session: HubMember) -> None:
        """
        Leave C{session} out of the heartbeats; the timer stops with the
        last session.
        """
        self._beating.pop(session, None)
        if not self._beating and self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None

    def _beat(self) -> None:
        for session in list(self._beating):
            session.heartbeat()
