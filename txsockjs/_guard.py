# -*- test-case-name: tests.test_site -*-
"""
The guard of a L{txsockjs.SockJSSite}'s connections: the limits that only
the connection, not a resource, can enforce.

  - the header deadline: the whole request head must arrive within
    C{header_timeout} seconds of its first byte (slow-header attacks);
  - the connection cap: past C{max_connections}, the connection that has
    waited longest for a request is closed to make room (a slow-header
    attacker's connections are all such), and when every connection is
    busy answering, a new one gets a short 503.

L{Connections} keeps the figures and the order of the waiting connections
for one site; a L{Guard} stands in front of each connection's channel.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Callable, Dict, Optional, cast

from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    ITransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper
from twisted.python.failure import Failure
from zope.interface import directlyProvides, providedBy

from . import _writes
from ._answers import ABORT_AFTER, MAX_REFUSING, TIMEOUT, Refused, abort
from ._timers import SharedTimer

__all__ = ["Connections", "Guard"]

_log = Logger()

#: seconds between two log lines about the connection cap
_PRESSURE_LOG_INTERVAL = 10.0


_PRODUCER_METHODS = ("pauseProducing", "resumeProducing", "stopProducing")


class Connections:
    """
    The connections of one site: how many, which wait for a request (the
    cap closes those first, longest waiting first), and what the limits
    did to them so far.

    @ivar count: the connections open now (refused ones aside).
    @ivar evictions: connections closed so far to make room under the cap.
    @ivar refusals: connections answered 503 so far.
    @ivar header_timeouts: connections answered 408 so far (slow headers).
    @ivar refusing: connections being answered 503 now.
    """

    def __init__(
        self,
        clock: IReactorTime,
        max_connections: Optional[int],
        header_timeout: Optional[float],
    ) -> None:
        self.clock = clock
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.count = 0
        self.evictions = 0
        self.refusals = 0
        self.header_timeouts = 0
        self.refusing = 0
        # connections waiting for a request, longest waiting first
        self._idle: Dict[Guard, None] = {}
        self._last_pressure_log: Optional[float] = None

    @property
    def waiting(self) -> int:
        """
        How many connections wait for a request now.
        """
        return len(self._idle)

    def protocol_for(
        self, factory: IProtocolFactory, make_channel: Callable[[], Optional[IProtocol]]
    ) -> Optional[IProtocol]:
        """
        The protocol of a new connection: its channel (from
        C{make_channel}) behind a L{Guard}; a L{Refused} answer when the cap
        is reached and no connection waits; C{None} (closed at once) when
        too many are being refused already.
        """
        cap = self.max_connections
        if cap is not None and self.count >= cap and not self._make_room():
            self.refusals += 1
            self._pressure("every connection is busy: refusing new ones with 503")
            if self.refusing >= MAX_REFUSING:
                return None
            self.refusing += 1
            return Refused(self.clock, self._refused_gone)
        channel = make_channel()
        if channel is None:
            return None
        return Guard(self, factory, channel)

    def _make_room(self) -> bool:
        while self._idle:
            guard = next(iter(self._idle))
            del self._idle[guard]
            if guard.gone:
                continue
            self.evictions += 1
            self.count -= 1
            self._pressure("closing the connections that wait longest for a request")
            guard.evict()
            return True
        return False

    def _pressure(self, what: str) -> None:
        now = self.clock.seconds()
        last = self._last_pressure_log
        if last is None or now - last >= _PRESSURE_LOG_INTERVAL:
            self._last_pressure_log = now
            _log.warn(
                "{connections} connections reached max_connections={cap}: {what} "
                "({evictions} closed, {refusals} refused so far)",
                connections=self.count,
                cap=self.max_connections,
                what=what,
                evictions=self.evictions,
                refusals=self.refusals,
            )

    def _refused_gone(self) -> None:
        self.refusing -= 1

    # -- what the guards say ----------------------------------------------------

    def connected(self, guard: Guard) -> None:
        self.count += 1
        self._idle[guard] = None

    def busy(self, guard: Guard) -> None:
        guard.busy = True
        self._idle.pop(guard, None)

    def waiting_again(self, guard: Guard) -> None:
        if not guard.gone and not guard.evicted:
            guard.busy = False
            self._idle.pop(guard, None)
            self._idle[guard] = None

    def disconnected(self, guard: Guard) -> None:
        self._idle.pop(guard, None)
        if not guard.evicted:
            self.count -= 1


class Guard(ProtocolWrapper):
    """
    Stands between one connection and its HTTP channel (and then the
    websocket protocol that may take it over): it holds the header deadline
    and tells L{Connections} whether the connection is waiting for a
    request (which the cap may close) or busy.

    The channel and a websocket protocol write to the real transport and
    read from it with no call in between: only the header deadline check
    is added to each read while the connection speaks HTTP.
    """

    #: C{False} while the connection waits for a request, receives its
    #: head or its body; C{True} from the complete request until its answer
    #: is finished (for ever once a websocket took the connection over)
    busy = False
    #: the request head is in, its body is coming
    _in_body = False
    gone = False
    evicted = False
    #: the header deadline's timer: kept for the connection's life and
    #: pushed later by each request head (see L{_start_deadline})
    _deadline: Optional[IDelayedCall] = None
    #: a request head is due before the deadline
    _head_due = False
    _abort_call: Optional[IDelayedCall] = None
    _host: Optional[IAddress] = None
    _peer: Optional[IAddress] = None
    _timer: Optional[SharedTimer] = None
    #: zope asks for C{__conform__} whenever the guard is adapted (every
    #: C{request.isSecure()} does): found here, not looked up in vain on the
    #: transport through C{ProtocolWrapper.__getattr__}
    __conform__ = None

    def __init__(
        self, connections: Connections, factory: IProtocolFactory, wrapped: IProtocol
    ) -> None:
        # (ProtocolWrapper.__init__ would register with a WrappingFactory)
        self.factory = factory
        self._connections = connections
        self._wrapped: Optional[IProtocol] = wrapped

    # what twisted.web's websocket take-over sets (transports/websocket.py)
    @property  # type: ignore[override]
    def wrappedProtocol(self) -> Optional[IProtocol]:
        return self._wrapped

    @wrappedProtocol.setter
    def wrappedProtocol(self, protocol: IProtocol) -> None:
        if protocol is self._wrapped:
            return
        # A websocket took the connection over: it is busy for good, and
        # reads go straight to it.
        self._wrapped = protocol
        self._cancel_deadline()
        # the HTTP channel's idle timeout is over (cancelled by the takeover,
        # but a shared timer cancels lazily): no reactor call kept for it
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._connections.busy(self)
        self.dataReceived = _writes.gathering(protocol.dataReceived)  # type: ignore[method-assign, assignment]
        # the channel's calls to its producer are over: a websocket's rare
        # ones reach the transport through ProtocolWrapper.__getattr__, and
        # three bound methods fewer stay alive per websocket (each is work
        # for the garbage collector's full passes, bench/RESULTS.md)
        for name in _PRODUCER_METHODS:
            self.__dict__.pop(name, None)

    # ProtocolWrapper keeps a flag of its own; the transport knows. The
    # channel asks after every header line: a getter in C, no Python frame.
    # (Every transport twisted.web runs over has the flag: its channel
    # reads it unguarded.)
    disconnecting = property(attrgetter("transport.disconnecting"))

    def makeConnection(self, transport: ITransport) -> None:
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        # try-write-first (txsockjs._writes); the host address asked once
        self.write, self.writeSequence = _writes.writers_for(transport)  # type: ignore[method-assign]
        self.dataReceived = _writes.gathering(self.dataReceived)  # type: ignore[method-assign, assignment]
        # the channel resumes its producer (this) after every request:
        # the transport's own methods, not a lookup through __getattr__
        for name in _PRODUCER_METHODS:
            method = getattr(transport, name, None)
            if method is not None:
                setattr(self, name, method)
        self._connections.connected(self)
        self._start_deadline()
        assert self._wrapped is not None
        if hasattr(self._wrapped, "callLater"):
            # twisted.web's idle timeout, without a timer per request
            self._timer = SharedTimer(self._connections.clock)
            self._wrapped.callLater = self._timer.call_later
        # it provides what its transport provides (directlyProvides above)
        self._wrapped.makeConnection(cast(ITransport, self))

    def loseConnection(self) -> None:
        assert self.transport is not None
        self.transport.loseConnection()

    def getHost(self) -> IAddress:
        if self._host is None:
            assert self.transport is not None
            self._host = self.transport.getHost()
        return self._host

    def getPeer(self) -> IAddress:
        # asked by every request; a TCP transport builds a new address each time
        if self._peer is None:
            assert self.transport is not None
            self._peer = self.transport.getPeer()
        return self._peer

    def dataReceived(self, data: bytes) -> None:
        if not self._head_due and not self.busy and not self._in_body:
            # the first byte of a request head
            self._start_deadline()
        assert self._wrapped is not None
        self._wrapped.dataReceived(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.gone = True
        self._cancel_deadline()
        if self._abort_call is not None and self._abort_call.active():
            self._abort_call.cancel()
        self._abort_call = None
        self._connections.disconnected(self)
        wrapped, self._wrapped = self._wrapped, None
        if wrapped is not None:
            wrapped.connectionLost(reason)
        if self._timer is not None:
            self._timer.stop()

    def logPrefix(self) -> str:
        wrapped = self._wrapped
        log_prefix = getattr(wrapped, "logPrefix", None)
        if log_prefix is not None:
            prefix: str = log_prefix()
            return prefix
        return self.__class__.__name__

    # -- what the requests say ------------------------------------------------

    def request_started(self) -> None:
        # (a pipelined request replayed from the channel's buffer)
        if not self._head_due and not self.busy and not self._in_body:
            self._start_deadline()

    def head_received(self) -> None:
        self._head_due = False
        self._in_body = True

    def request_complete(self) -> None:
        self._head_due = False
        self._in_body = False
        self._connections.busy(self)

    def request_done(self) -> None:
        self._in_body = False
        self._connections.waiting_again(self)

    # -- the header deadline ---------------------------------------------------
    #
    # One timer per connection, not one per request: a head that arrived
    # in time only clears C{_head_due} (cancelling would leave a dead entry
    # in the reactor's heap for every request), and the next head pushes
    # the same timer later with C{reset}, which costs the reactor nothing
    # until the timer's old time comes (it then re-files the timer once).
    # A timer that fires with no head due just goes.

    def _start_deadline(self) -> None:
        timeout = self._connections.header_timeout
        if timeout is None or self.gone:
            return
        self._head_due = True
        deadline = self._deadline
        if deadline is not None and deadline.active():
            deadline.reset(timeout)
        else:
            self._deadline = self._connections.clock.callLater(timeout, self._too_slow)

    def _cancel_deadline(self) -> None:
        # for good: the connection is closing or no longer speaks HTTP
        self._head_due = False
        deadline, self._deadline = self._deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _too_slow(self) -> None:
        self._deadline = None
        if not self._head_due:
            return
        self._head_due = False
        transport = self.transport
        if self.gone or transport is None:
            return
        _log.info(
            "Closing {peer}: no complete request head in {timeout} s (408)",
            peer=str(transport.getPeer()),
            timeout=self._connections.header_timeout,
        )
        self._connections.header_timeouts += 1
        transport.write(TIMEOUT)
        transport.loseConnection()
        self._abort_call = self._connections.clock.callLater(ABORT_AFTER, abort, transport)

    def evict(self) -> None:
        """
        Close this connection, which waits for a request, to make room.
        """
        self.evicted = True
        self._cancel_deadline()
        transport = self.transport
        assert transport is not None
        transport.loseConnection()
        self._abort_call = self._connections.clock.callLater(ABORT_AFTER, abort, transport)
